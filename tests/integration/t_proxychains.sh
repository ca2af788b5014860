# t_proxychains: unmodified programs (curl, nc) run under proxychains4
# (strict_chain, proxy_dns) through ferry: SOCKS5 with a password, HTTP
# CONNECT, and a two-hop chain ferry(socks5) -> ferry(http) -> target.
# With proxy_dns the name is resolved by ferry (via dnsmasq), never locally.
source "$(dirname "$0")/lib.sh"
need_tools proxychains4 nc

start_dnsmasq
read -r WEB S_P H_P < <(free_ports 3 | xargs)
start_nginx "$WEB"
start_py echo echo
ECHO=$PY_PORT
SECRET="pc-$RANDOM$RANDOM"

start_ferry --dns "127.0.0.1:$DNS_PORT" \
    -L "socks5://alice:$SECRET@127.0.0.1:$S_P" -L "http://127.0.0.1:$H_P"

# pc_conf NAME PROXY-LINE...: a proxychains config.
pc_conf() {
    local f=$T/$1.conf
    shift
    {
        echo strict_chain
        echo proxy_dns
        echo remote_dns_subnet 224
        echo tcp_read_time_out 8000
        echo tcp_connect_time_out 5000
        echo "[ProxyList]"
        printf '%s\n' "$@"
    } >"$f"
    echo "$f"
}
pc() { # CONF CMD...
    local conf=$1
    shift
    timeout -k 5 30 proxychains4 -q -f "$conf" "$@"
}

SOCKS_CONF=$(pc_conf socks "socks5 127.0.0.1 $S_P alice $SECRET")
HTTP_CONF=$(pc_conf http "http 127.0.0.1 $H_P")
CHAIN_CONF=$(pc_conf chain "socks5 127.0.0.1 $S_P alice $SECRET" \
    "http 127.0.0.1 $H_P")
BADPW_CONF=$(pc_conf badpw "socks5 127.0.0.1 $S_P alice wrong$SECRET")

say "curl under proxychains, socks5 with a password"
page=$(pc "$SOCKS_CONF" curl -sS --max-time 10 "http://ok.ferry.test:$WEB/") ||
    fail "proxychains4 (socks5) curl http://ok.ferry.test:$WEB/ failed"
assert_eq "$NGINX_TOKEN" "$page" "page via proxychains socks5"
# proxy_dns: ferry got the name, not an address.
line=$(wait_access_line "$FERRY_ERR" "proto=socks5 .*target=ok\.ferry\.test:$WEB ")
check_access_line "$line" user=alice result=ok
# nginx saw the connection come from ferry on loopback.
page=$(pc "$SOCKS_CONF" curl -sS --max-time 10 "http://ok.ferry.test:$WEB/host")
assert_contains "$page" "host=ok.ferry.test" "nginx /host"

say "nc under proxychains"
out=$(printf 'hello through proxychains\n' |
    pc "$SOCKS_CONF" nc -N -w 10 ok.ferry.test "$ECHO") ||
    fail "proxychains4 nc ok.ferry.test $ECHO failed"
assert_eq "hello through proxychains" "$out" "echo via nc under proxychains"

say "curl under proxychains, http CONNECT"
page=$(pc "$HTTP_CONF" curl -sS --max-time 10 "http://ok.ferry.test:$WEB/") ||
    fail "proxychains4 (http) curl failed"
assert_eq "$NGINX_TOKEN" "$page" "page via proxychains http"
line=$(wait_access_line "$FERRY_ERR" "proto=http .*target=ok\.ferry\.test:$WEB ")
check_access_line "$line" result=ok

say "two-hop chain: socks5 -> http -> target"
curl_sha=$(pc "$CHAIN_CONF" curl -sS --max-time 10 "http://ok.ferry.test:$WEB/big" |
    sha256sum | cut -d' ' -f1)
want_sha=$(sha256sum <"$T/www-$WEB/big" | cut -d' ' -f1)
assert_eq "$want_sha" "$curl_sha" "sha256 of /big through the two-hop chain"
# Hop 1: the socks listener connected to the http listener's port.
line=$(wait_access_line "$FERRY_ERR" "proto=socks5 .*target=127\.0\.0\.1:$H_P ")
check_access_line "$line" result=ok user=alice
down=$(log_field "$line" down)
((down > 1048576)) || fail "hop 1 down=$down, less than the 1 MiB body"

say "wrong password: the program fails"
rc=0
pc "$BADPW_CONF" curl -sS --max-time 10 "http://ok.ferry.test:$WEB/" \
    >"$T/badpw.out" 2>&1 || rc=$?
((rc != 0)) || fail "curl under proxychains with a wrong password succeeded"
grep -qF "$NGINX_TOKEN" "$T/badpw.out" && fail "page came through with a wrong password"
wait_access_line "$FERRY_ERR" "proto=socks5 .*result=auth" >/dev/null

assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
