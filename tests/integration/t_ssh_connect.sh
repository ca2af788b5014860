# t_ssh_connect: OpenSSH through ferry with ProxyCommand: `nc -X connect`
# (HTTP CONNECT), `nc -X 5` (SOCKS5) and socat with proxy auth, to an sshd
# the test starts on loopback (own host key, own authorized key).  The
# host key is pinned in known_hosts, so a wrong endpoint cannot pass.
source "$(dirname "$0")/lib.sh"
need_tools ssh ssh-keygen /usr/sbin/sshd nc socat sha256sum

start_dnsmasq
read -r SSHD_P H_P S_P A_P < <(free_ports 4 | xargs)
SECRET="ssh-$RANDOM$RANDOM"
start_ferry --dns "127.0.0.1:$DNS_PORT" -L "http://127.0.0.1:$H_P" \
    -L "socks://127.0.0.1:$S_P" -L "http://alice:$SECRET@127.0.0.1:$A_P"

start_sshd "$SSHD_P" no
# Pin the host key under the name the client will use.
printf '[ok.ferry.test]:%s %s\n[127.0.0.1]:%s %s\n' \
    "$SSHD_P" "$(cut -d' ' -f1,2 "$T/host_key.pub")" \
    "$SSHD_P" "$(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"

# ssh_via PROXYCOMMAND HOST CMD...
ssh_via() {
    local proxy=$1 host=$2
    shift 2
    timeout -k 5 30 ssh -F /dev/null -i "$T/id" -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 \
        -o ServerAliveInterval=5 -o LogLevel=ERROR \
        -o ProxyCommand="$proxy" -p "$SSHD_P" -l "$(id -un)" "$host" "$@"
}

say "ssh over CONNECT (nc -X connect)"
out=$(ssh_via "nc -X connect -x 127.0.0.1:$H_P %h %p" ok.ferry.test echo hello) ||
    fail "ssh through CONNECT failed (exit $?)"
assert_eq "hello" "$out" "ssh echo hello through CONNECT"
line=$(wait_access_line "$FERRY_ERR" "proto=http .*target=ok\.ferry\.test:$SSHD_P ")
check_access_line "$line" result=ok

say "bulk both ways over CONNECT"
head -c 8000000 /dev/urandom >"$T/blob"
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
got=$(ssh_via "nc -X connect -x 127.0.0.1:$H_P %h %p" ok.ferry.test \
    'sha256sum | cut -d" " -f1' <"$T/blob") || fail "ssh upload failed"
assert_eq "$want" "$got" "sha256 of 8 MB sent up through ssh"
got=$(ssh_via "nc -X connect -x 127.0.0.1:$H_P %h %p" 127.0.0.1 \
    "cat '$T/blob'" | sha256sum | cut -d' ' -f1) || fail "ssh download failed"
assert_eq "$want" "$got" "sha256 of 8 MB received through ssh"

say "ssh over SOCKS5 (nc -X 5)"
out=$(ssh_via "nc -X 5 -x 127.0.0.1:$S_P %h %p" ok.ferry.test echo hello-socks) ||
    fail "ssh through SOCKS5 failed"
assert_eq "hello-socks" "$out" "ssh echo through SOCKS5"
line=$(wait_access_line "$FERRY_ERR" "proto=socks5 .*target=ok\.ferry\.test:$SSHD_P ")
check_access_line "$line" result=ok

say "ssh over CONNECT with proxy auth (socat)"
out=$(ssh_via "socat - PROXY:127.0.0.1:%h:%p,proxyport=$A_P,proxyauth=alice:$SECRET" \
    ok.ferry.test echo hello-auth) || fail "ssh through CONNECT with auth failed"
assert_eq "hello-auth" "$out" "ssh echo through CONNECT with auth"
line=$(wait_access_line "$FERRY_ERR" "user=alice .*target=ok\.ferry\.test:$SSHD_P ")
check_access_line "$line" result=ok proto=http

# Wrong password: ssh fails, never reaches sshd's banner.
rc=0
ssh_via "socat - PROXY:127.0.0.1:%h:%p,proxyport=$A_P,proxyauth=alice:bad" \
    ok.ferry.test echo nope >"$T/badauth.out" 2>&1 || rc=$?
((rc != 0)) || fail "ssh with a wrong proxy password succeeded"
wait_access_line "$FERRY_ERR" "proto=http .*result=auth" >/dev/null

assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
