# t_ns_anyproxy: a LAN exposed through a public gateway, in network
# namespaces (netns.sh).
#
#   user 10.231.1.2 --- 10.231.1.1 pub 10.231.3.1 --- 10.231.3.2 lan
#                                                    servers 10.231.2.2
#
# The gateway runs in pub, its HTTP and SOCKS5 listeners on pub's public
# address; the agent runs in lan and dials the gateway (lan has a default
# route to pub); pub and user have no route to the LAN's servers (nginx
# and a UDP echo on 10.231.2.2).  First the negative control: neither
# user nor pub can reach them.  Then curl from user through the gateway's
# HTTP listener (plain and CONNECT, 1 MiB checked) and its SOCKS5
# listener (an address, and a name the agent resolves inside the LAN:
# "localhost" there is the LAN's own loopback), nginx sees the requests
# coming from inside the LAN, the agent's access log has them; small
# requests are not held back 40 ms each (Nagle against delayed ACKs on the
# link: the median of 7 stays under 30 ms); and UDP through SOCKS5 UDP
# ASSOCIATE at the gateway to the LAN's echo server.  Last, a second
# gateway without TLS on pub's public address: refused unless --plaintext
# says so; with it, an agent dialling tcp:// carries CONNECT (1 MiB
# checked), and both say that the link is unencrypted.
source "$(dirname "$0")/netns.sh"

PUB=10.231.1.1
SRV=10.231.2.2
ns_new user pub lan
ns_link user 10.231.1.2/24 pub "$PUB/24"
ns_link pub 10.231.3.1/24 lan 10.231.3.2/24
ns_addr lan "$SRV/32"
ns_route lan default via 10.231.3.1

say "the LAN: nginx and a UDP echo on $SRV"
NGINX_SERVER_EXTRA="listen $SRV:80;" in_ns lan start_nginx 80
in_ns lan start_udp_echo udpecho "$SRV" 7000

say "negative control: nothing outside the LAN reaches $SRV"
assert_no_route pub "$SRV"
assert_no_route user "$SRV"
assert_tcp_unreachable pub "$SRV" 80
assert_tcp_unreachable user "$SRV" 80
# (lan's uplink address is pub's neighbour, as a router's outside address
# is; nothing of the LAN listens there.)
assert_tcp_unreachable pub 10.231.3.2 80

tunnel_secrets

FERRY_PORTS="8443 3128 1080" in_ns pub start_ferry gateway \
    --bind 0.0.0.0:8443 --cert "$T/gw.crt" --key "$T/gw.key" \
    --token-file "$T/token" --log-level debug --open \
    -L "http://$PUB:3128" -L "socks5://$PUB:1080"
GW_ERR=$FERRY_ERR
FERRY_PORTS=" " in_ns lan start_ferry agent --server "tls://$PUB:8443" \
    --token-file "$T/token" --fingerprint "$FP" --id lan1 --log-level debug
AG_ERR=$FERRY_ERR
wait_until 15 "agent lan1 registered from the LAN's uplink" grep -qE \
    "gateway: agent lan1 \(group default\) link 0 from 10\.231\.3\.2:[0-9]+ up" \
    "$GW_ERR"

say "HTTP proxy at the gateway -> the LAN"
page=$(in_ns user curl -sS --max-time 10 -x "http://$PUB:3128" "http://$SRV/")
assert_eq "$NGINX_TOKEN" "$page" "GET $SRV through the gateway's http listener"
host=$(in_ns user curl -sS --max-time 10 -x "http://$PUB:3128" \
    "http://$SRV/host")
assert_match "$host" "remote=(10\.231\.2\.2|127\.0\.0\.1)$" \
    "nginx sees the request from inside the LAN"
in_ns user curl -sS --max-time 20 -p -x "http://$PUB:3128" -o "$T/big.bin" \
    "http://$SRV/big"
cmp -s "$T/big.bin" "$T/www-80/big" || fail "1 MiB through CONNECT differs"
wait_access_line "$AG_ERR" \
    "listener=tunnel:gateway proto=tunnel-tcp .*target=10\.231\.2\.2:80 result=ok" \
    >/dev/null

say "SOCKS5 at the gateway -> the LAN (names resolved in the LAN)"
page=$(in_ns user curl -sS --max-time 10 -x "socks5://$PUB:1080" \
    "http://$SRV/")
assert_eq "$NGINX_TOKEN" "$page" "GET $SRV through the gateway's socks5 listener"
page=$(in_ns user env ALL_PROXY="socks5h://$PUB:1080" \
    curl -sS --max-time 10 "http://localhost/")
assert_eq "$NGINX_TOKEN" "$page" "GET localhost (the LAN's) with ALL_PROXY=socks5h"
wait_access_line "$AG_ERR" \
    "listener=tunnel:gateway proto=tunnel-tcp .*target=localhost:80 result=ok" \
    >/dev/null

say "small requests are not held back (Nagle and delayed ACKs: 40 ms each)"
times=()
for i in 1 2 3 4 5 6 7; do
    times+=("$(in_ns user curl -sS --max-time 10 -o /dev/null \
        -w '%{time_total}' -x "socks5h://$PUB:1080" "http://$SRV/")")
done
median_ms=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 4p |
    awk '{printf "%d", $1 * 1000}')
say "SOCKS5 request times (s): ${times[*]}; median ${median_ms} ms"
((median_ms < 30)) ||
    soft_fail "median SOCKS5 request through the tunnel took ${median_ms} ms"

say "UDP: SOCKS5 UDP ASSOCIATE at the gateway -> the LAN's echo server"
# (The relay at the gateway must send the datagrams out through the agent:
# pub itself has no route to $SRV.)
if in_ns user timeout -k 5 30 python3 "$IT_DIR/socks_udp_client.py" check \
    --proxy "$PUB:1080" "echo:$SRV:7000" "echo:$SRV:7000" \
    >"$T/udpc.out" 2>&1; then
    got=$(grep -c '^GOT ' "$T/udpecho.out" || true)
    assert_eq 2 "$got" "datagrams the LAN's echo server got"
    assert_file_contains "$T/udpecho.out" "GOT 10.231.2.2:" \
        "the echo server's log (datagrams from inside the LAN)"
else
    soft_fail "UDP ASSOCIATE through the tunnel: $(tail -n 1 "$T/udpc.out")"
fi

say "a gateway without TLS on a public address only with --plaintext"
if in_ns pub timeout -k 1 5 "$FERRY_BIN" gateway --bind 0.0.0.0:8080 \
    --token-file "$T/token" >"$T/no-plaintext.log" 2>&1; then
    fail "a gateway without TLS started on 0.0.0.0 without --plaintext"
fi
assert_file_contains "$T/no-plaintext.log" \
    "--cert and --key are needed on a non-loopback --bind (or --plaintext)" \
    "the refusal"
FERRY_PORTS="8080 3129" in_ns pub start_ferry gateway --plaintext \
    --bind 0.0.0.0:8080 --token-file "$T/token" --open \
    -L "http://$PUB:3129"
assert_file_contains "$FERRY_ERR" "gateway: plaintext: agents' tokens" \
    "the plaintext gateway's warning"
GW2_ERR=$FERRY_ERR
FERRY_PORTS=" " in_ns lan start_ferry agent --server "tcp://$PUB:8080" \
    --token-file "$T/token" --id lan2
wait_until 10 "the plaintext agent's warning" grep -qF \
    "agent: no TLS to $PUB: the token" "$FERRY_ERR"
wait_until 15 "agent lan2 registered over the plaintext link" grep -qE \
    "agent lan2 \(group default\) link 0 from 10\.231\.3\.2:[0-9]+ up" \
    "$GW2_ERR"
in_ns user curl -sS --max-time 20 -p -x "http://$PUB:3129" \
    -o "$T/big-plain.bin" "http://$SRV/big"
cmp -s "$T/big-plain.bin" "$T/www-80/big" ||
    fail "1 MiB through CONNECT over the plaintext link differs"

assert_no_secret "$TOKEN" "$T"/*.err "$T"/*.out
finish
