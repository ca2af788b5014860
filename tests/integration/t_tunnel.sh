# t_tunnel: agent and gateway on loopback.  The gateway's HTTP, SOCKS5 and
# forward listeners exit at the agent (reverse); the agent's listener exits at the
# gateway (forward, gateway --exit); TLS with a pinned fingerprint and with
# a CA file, WebSocket over TLS, UDP through SOCKS5 UDP ASSOCIATE (echo,
# DNS), a wrong token refused, the agent killed (clear 503, then back),
# secrets never logged.
source "$(dirname "$0")/lib.sh"

read -r WEB GW HP SP AP FWP < <(free_ports 6 | xargs)
start_nginx "$WEB"
make_cert gw
FP=$(openssl x509 -in "$T/gw.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
TOKEN="tok-$RANDOM-$RANDOM-$RANDOM"

FERRY_PORTS="$GW $HP $SP $FWP" start_ferry gateway --bind "127.0.0.1:$GW" \
    --cert "$T/gw.crt" --key "$T/gw.key" --token "$TOKEN" --exit \
    --log-level debug -L "http://127.0.0.1:$HP" -L "socks5://127.0.0.1:$SP" \
    -L "forward://127.0.0.1:$FWP/localhost:$WEB"
GW_PID=$FERRY_PID GW_ERR=$FERRY_ERR

start_agent() { # ID ARGS...
    local id=$1
    shift
    FERRY_PORTS=${AGENT_PORTS:- } start_ferry agent --id "$id" \
        --token "$TOKEN" --log-level debug "$@"
}
wait_up() { # ID
    wait_until 15 "agent $1 registered" \
        grep -qE "gateway: agent $1 \(group [^)]*\) link [0-9]+ from .* up" "$GW_ERR"
}

AGENT_PORTS=$AP start_agent a1 --server "tls://127.0.0.1:$GW" \
    --fingerprint "$FP" -L "http://127.0.0.1:$AP"
A1_PID=$FERRY_PID A1_ERR=$FERRY_ERR
wait_up a1

say "reverse: the gateway's listeners exit at the agent"
page=$(curl -sS --max-time 10 -x "http://127.0.0.1:$HP" "http://127.0.0.1:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the gateway's http listener"
page=$(curl -sS --max-time 10 --socks5-hostname "127.0.0.1:$SP" "http://localhost:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the gateway's socks5 listener"
curl -sS --max-time 20 -p -x "http://127.0.0.1:$HP" -o "$T/big.out" "http://127.0.0.1:$WEB/big"
assert_eq "$(sha256sum <"$T/www-$WEB/big")" "$(sha256sum <"$T/big.out")" "1 MiB through CONNECT in the tunnel"
wait_access_line "$A1_ERR" "listener=tunnel:gateway proto=tunnel-tcp .*target=127\.0\.0\.1:$WEB result=ok" >/dev/null
page=$(curl -sS --max-time 10 "http://127.0.0.1:$FWP/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the gateway's forward listener"
wait_access_line "$A1_ERR" "listener=tunnel:gateway proto=tunnel-tcp .*target=localhost:$WEB result=ok" >/dev/null

say "forward: the agent's listener exits at the gateway"
page=$(curl -sS --max-time 10 -x "http://127.0.0.1:$AP" "http://127.0.0.1:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the agent's listener"
wait_access_line "$GW_ERR" "listener=tunnel:a1 proto=tunnel-tcp .*result=ok" >/dev/null

say "several requests at once share the link"
pids=()
for i in $(seq 1 20); do
    curl -sS --max-time 20 -x "http://127.0.0.1:$HP" -o "$T/par.$i" "http://127.0.0.1:$WEB/big" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel download failed"; done
for i in $(seq 1 20); do
    cmp -s "$T/par.$i" "$T/www-$WEB/big" || fail "parallel download $i differs"
done

say "UDP: SOCKS5 UDP ASSOCIATE at the gateway, datagrams exit at the agent"
start_udp_echo udpecho 127.0.0.1
start_dnsmasq
py "$UDPC" check --proxy "127.0.0.1:$SP" "echo:127.0.0.1:$UDP_PORT" \
    "echo:127.0.0.1:$UDP_PORT" "echo:localhost:$UDP_PORT" \
    "dns:127.0.0.1:$DNS_PORT:ok.ferry.test=127.0.0.1" >"$T/udpc.out" 2>&1 ||
    fail "UDP through the tunnel: $(tail -n 5 "$T/udpc.out")"
assert_eq 3 "$(grep -c '^GOT 127.0.0.1:' "$T/udpecho.out")" \
    "datagrams at the echo server, from the agent's side"
wait_access_line "$A1_ERR" "listener=tunnel:gateway proto=tunnel-udp .*target=localhost:$UDP_PORT result=ok" >/dev/null

say "a wrong token is refused"
start_agent bad --server "tls://127.0.0.1:$GW" --fingerprint "$FP" \
    --token "not-the-token"
wait_until 10 "the refusal" grep -q "agent bad (group default) .* refused: status 1" "$GW_ERR"
kill -TERM "$FERRY_PID"

say "a wrong fingerprint is refused by the agent"
BADFP=$(printf '%064d' 0)
start_agent badfp --server "tls://127.0.0.1:$GW" --fingerprint "$BADFP"
wait_until 10 "the agent's TLS failure" grep -qiE "link 0 to .*(certificate|verify)" "$FERRY_ERR"
kill -TERM "$FERRY_PID"

say "the agent dies: clear 503; it returns: served again"
kill -KILL "$A1_PID"
wait_until 40 "the link to be gone" grep -q "agent a1 (group default) .* down" "$GW_ERR"
code=$(curl -s --max-time 10 -o "$T/503.body" -w '%{http_code}' -x "http://127.0.0.1:$HP" "http://127.0.0.1:$WEB/") || true
assert_eq 503 "$code" "status without an agent"
assert_contains "$(cat "$T/503.body")" "No tunnel" "503 body"

say "WebSocket over TLS, CA-verified, replaces the agent"
start_agent a1 --server "wss://localhost:$GW/ferry" --ca "$T/gw.crt"
A1_ERR=$FERRY_ERR
wait_until 15 "the WebSocket agent" bash -c "grep -c 'gateway: agent a1 .* up' '$GW_ERR' | grep -q 2"
page=$(curl -sS --max-time 10 -x "http://127.0.0.1:$HP" "http://127.0.0.1:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the WebSocket link"
curl -sS --max-time 20 -x "http://127.0.0.1:$HP" -o "$T/big2.out" "http://127.0.0.1:$WEB/big"
cmp -s "$T/big2.out" "$T/www-$WEB/big" || fail "1 MiB over WebSocket differs"

say "a draining gateway does not wait for its idle pooled tunnel streams"
# The GET above left its upstream (a tunnel stream) in the gateway's
# pool; shutdown waits up to timeouts.shutdown (10 s) for live links.
stop_ferry "$GW_PID" "$GW_ERR" 5

assert_no_secret "$TOKEN" "$T"/*.err "$T"/*.out
finish
