# t_halfclose: half-close is propagated, never turned into a close, both
# ways, through HTTP CONNECT and SOCKS5 (and SOCKS4 on the mixed port):
#   client-first: the client sends, shuts down its write side; the server
#     reads to EOF, then keeps sending for ~1.5 s; the client gets it all.
#   server-first: the server sends and shuts down its write side; the
#     client reads to EOF, then keeps sending; the server gets it all.
source "$(dirname "$0")/lib.sh"

start_halfclose_servers
P=$(free_port)
start_dnsmasq
start_ferry -L "mixed://127.0.0.1:$P" --dns "127.0.0.1:$DNS_PORT"

py - "$P" "$CF" "$SF" "$SF_LOG" <<'PY'
import sys
import ftlib

P, CF, SF = map(int, sys.argv[1:4])
for kind in ("http", "socks5", "socks4"):
    ftlib.halfclose_client_first(kind, P, CF)
    ftlib.halfclose_server_first(kind, P, SF, sys.argv[4])
PY

for proto in http socks5 socks4; do
    n=$(access_lines "$FERRY_ERR" | grep "proto=$proto " | grep -c "result=ok") || true
    assert_eq 2 "$n" "access-log lines with proto=$proto result=ok"
done
line=$(wait_access_line "$FERRY_ERR" "proto=socks5 .*target=127\.0\.0\.1:$SF ")
up=$(log_field "$line" up)
down=$(log_field "$line" down)
# Relayed bytes (a count that includes the SOCKS handshake is tolerated).
((up >= 2500000 && up <= 2500000 + 1024)) || fail "access log up=$up, expected 2500000"
((down >= 3000000 && down <= 3000000 + 1024)) || fail "access log down=$down, expected 3000000"
ferry_healthy
finish
