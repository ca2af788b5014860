# t_forward: port forwarding (listener type forward).  ssh through a
# forward listener (the server speaks first: nothing waits for the
# client's bytes), HTTP with a 1 MiB body, the YAML form with a name
# target, a refused target (the client sees its connection end, the
# access log says why), and the listener on a non-loopback address
# without users needing no open: true.
source "$(dirname "$0")/lib.sh"
need_tools ssh ssh-keygen /usr/sbin/sshd

read -r WEB SSHD_P F1 F2 F3 DEAD < <(free_ports 6 | xargs)
start_nginx "$WEB"
start_sshd "$SSHD_P" no
printf '[127.0.0.1]:%s %s\n' "$F1" "$(cut -d' ' -f1,2 "$T/host_key.pub")" \
    >"$T/known_hosts"

cat >"$T/ferry.yaml" <<YAML
listeners:
  - {name: ssh, type: forward, listen: '127.0.0.1:$F1',
     target: '127.0.0.1:$SSHD_P'}
  - {name: web, type: forward, listen: '0.0.0.0:$F2',
     target: 'localhost:$WEB'}
YAML
FERRY_PORTS="$F1 $F2 $F3" start_ferry -c "$T/ferry.yaml" \
    -L "forward://127.0.0.1:$F3/127.0.0.1:$DEAD"

say "ssh through the forward listener (the server speaks first)"
out=$(timeout -k 5 30 ssh -F /dev/null -i "$T/id" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 \
    -o LogLevel=ERROR -p "$F1" -l "$(id -un)" 127.0.0.1 echo hello) ||
    fail "ssh through the forward listener failed"
assert_eq hello "$out" "ssh echo through the forward listener"
wait_access_line "$FERRY_ERR" "listener=ssh proto=forward .*target=127\.0\.0\.1:$SSHD_P result=ok" >/dev/null

say "HTTP through a forward listener on 0.0.0.0 to a name"
page=$(curl -sS --max-time 10 "http://127.0.0.1:$F2/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the forward listener"
curl -sS --max-time 20 -o "$T/big.out" "http://127.0.0.1:$F2/big"
cmp -s "$T/big.out" "$T/www-$WEB/big" || fail "1 MiB through forward differs"
wait_access_line "$FERRY_ERR" "listener=web proto=forward .*target=localhost:$WEB result=ok" >/dev/null

say "a refused target: the connection ends, the log says refused"
rc=0
out=$(curl -sS --max-time 10 "http://127.0.0.1:$F3/" 2>&1) || rc=$?
assert_ne 0 "$rc" "curl through a forward to a closed port"
line=$(wait_access_line "$FERRY_ERR" "proto=forward .*target=127\.0\.0\.1:$DEAD ")
assert_contains "$line" "result=refused" "access line for the closed port"
ferry_healthy
finish
