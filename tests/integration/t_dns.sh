# t_dns: ferry's resolver.  A name with several addresses is tried address
# after address until one connects (whichever family comes first, one of
# the two names below starts with a refused address); the resolver given
# with --dns is the one asked; an answer is reused for its TTL instead of
# being asked again.
source "$(dirname "$0")/lib.sh"

# v4bad: 127.0.0.2 (nothing listens there) and ::1; dual: 127.0.0.1 and ::1.
start_dnsmasq --local-ttl=60 \
    --address=/v4bad.ferry.test/127.0.0.2 --address=/v4bad.ferry.test/::1 \
    --address=/cached.ferry.test/127.0.0.1
start_py echo6 echo --host ::1
ECHO6=$PY_PORT
start_py echo4 echo --host 127.0.0.1
ECHO4=$PY_PORT
P=$(free_port)
start_ferry --workers 1 --dns "127.0.0.1:$DNS_PORT" -L "socks5://127.0.0.1:$P"

# echo_via NAME PORT: one SOCKS5 CONNECT to NAME:PORT and an echo.
echo_via() {
    py - "$P" "$1" "$2" <<'PY'
import sys, ftlib
proxy, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = ftlib.open_socks5_tunnel(proxy, host, port)
s.sendall(b"hello " + host.encode())
ftlib.expect_eq(b"hello " + host.encode(),
                ftlib.recv_exact(s, 6 + len(host)), "echo")
s.close()
PY
}

say "v4bad.ferry.test: 127.0.0.2 refuses, ::1 answers"
echo_via v4bad.ferry.test "$ECHO6"
check_access_line "$(wait_access_line "$FERRY_ERR" 'target=v4bad\.ferry\.test')" \
    "result=ok"

say "dual.ferry.test: ::1 refuses on the IPv4 server's port, 127.0.0.1 answers"
echo_via dual.ferry.test "$ECHO4"
check_access_line "$(wait_access_line "$FERRY_ERR" 'target=dual\.ferry\.test')" \
    "result=ok"

say "the answer is cached for its TTL (one worker: one cache)"
echo_via cached.ferry.test "$ECHO4"
echo_via cached.ferry.test "$ECHO4"
echo_via cached.ferry.test "$ECHO4"
asked=$(grep -c 'query\[A\] cached\.ferry\.test' "$T/dnsmasq.err" || true)
assert_eq 1 "$asked" "A queries for cached.ferry.test after three requests"

say "the resolver is the one given with --dns"
assert_file_contains "$T/dnsmasq.err" "query[A] v4bad.ferry.test"
assert_file_contains "$T/dnsmasq.err" "query[AAAA] dual.ferry.test"

finish
