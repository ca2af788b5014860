# t_ssh_reverse: the stock-OpenSSH recipe of docs/tunnel.md ("a restricted
# machine uses another machine's internet", way b): ferry's forward proxy
# on A's loopback, `ssh -N -R` from A to B's sshd, and a client on "B"
# using B's loopback port as its proxy.  A and B are both this host here
# (loopback only); the test proves the recipe's commands work as written.
source "$(dirname "$0")/lib.sh"
need_tools ssh ssh-keygen /usr/sbin/sshd

read -r SSHD_P WEB A_P B_P < <(free_ports 4 | xargs)
start_nginx "$WEB"
start_ferry -L "mixed://127.0.0.1:$A_P"

start_sshd "$SSHD_P" remote
printf '[127.0.0.1]:%s %s\n' "$SSHD_P" "$(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"

say "A: ssh -N -R 127.0.0.1:$B_P:127.0.0.1:$A_P B"
spawn ssh-R ssh -F /dev/null -i "$T/id" -o IdentitiesOnly=yes \
    -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes -o ExitOnForwardFailure=yes -N \
    -R "127.0.0.1:$B_P:127.0.0.1:$A_P" -p "$SSHD_P" -l "$(id -un)" 127.0.0.1
wait_until 15 "the reverse forward on $B_P" tcp_listening "$B_P"

say "B: tools use http_proxy / ALL_PROXY on B's loopback"
page=$(http_proxy=http://127.0.0.1:$B_P curl -sS --max-time 10 "http://127.0.0.1:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "curl with http_proxy through ssh -R"
page=$(ALL_PROXY=socks5h://127.0.0.1:$B_P curl -sS --max-time 10 "http://localhost:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "curl with ALL_PROXY=socks5h through ssh -R"
curl -sS --max-time 20 -p -x "http://127.0.0.1:$B_P" -o "$T/big.out" "http://127.0.0.1:$WEB/big"
cmp -s "$T/big.out" "$T/www-$WEB/big" || fail "1 MiB through CONNECT over ssh -R differs"
wait_access_line "$FERRY_ERR" "target=127\.0\.0\.1:$WEB .*result=ok" >/dev/null
finish
