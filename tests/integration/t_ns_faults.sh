# t_ns_faults: the tunnel when agents and the gateway fail, in network
# namespaces (netns.sh), with the topology of t_ns_anyproxy:
#
#   user 10.231.1.2 --- 10.231.1.1 pub 10.231.3.1 --- 10.231.3.2 lan
#                                                    servers 10.231.2.2
#
# The gateway (YAML: a hashed token for group "lab", balance round_robin,
# HTTP and SOCKS5 listeners on pub's address via the group) and agents in
# lan (YAML: group lab, backoff 200ms..2s).
#   1. an agent killed (SIGKILL) during a 200 MB download (nginx,
#      limit_rate): curl fails (non-zero exit, body short of 200 MB, an
#      error message); while no agent is up a request gets a clear 503;
#      the agent restarted, requests succeed again (1 MiB checked);
#   2. two agents in the group: both carry requests (each one's access
#      log has some of 10 SOCKS requests); one killed, 20 requests right
#      after (plain HTTP, CONNECT, SOCKS5) all succeed, at the other;
#   3. the gateway restarted (SIGTERM: it must exit promptly, its pooled
#      keep-alive streams must not hold the links, a silent connection in
#      its handshake must not leak), down for a while so the agents'
#      backoff reaches its cap; after the restart both agents are back
#      within the cap plus slack and requests succeed.
source "$(dirname "$0")/netns.sh"

PUB=10.231.1.1
SRV=10.231.2.2
CAP_MS=2000   # the agents' backoff max
SLACK_MS=2000 # dial, TLS, registration (ASan builds included)
ns_new user pub lan
ns_link user 10.231.1.2/24 pub "$PUB/24"
ns_link pub 10.231.3.1/24 lan 10.231.3.2/24
ns_addr lan "$SRV/32"
ns_route lan default via 10.231.3.1

NGINX_SERVER_EXTRA="listen $SRV:80; location /slow/ { limit_rate 20m; }" \
    in_ns lan start_nginx 80
mkdir -p "$T/www-80/slow"
truncate -s 200M "$T/www-80/slow/200m"
assert_tcp_unreachable user "$SRV" 80

tunnel_secrets
cat >"$T/gateway.yaml" <<EOF
log: {level: debug}
gateway:
  listen: 0.0.0.0:8443
  cert: $T/gw.crt
  key: $T/gw.key
  balance: round_robin
  tokens:
    - token_hash: "$(openssl passwd -6 "$TOKEN")"
      groups: [lab]
egresses:
  - {name: lab, type: tunnel, group: lab}
listeners:
  - {type: http, listen: "$PUB:3128", via: lab, open: true}
  - {type: socks, listen: "$PUB:1080", via: lab, open: true}
EOF
for id in a1 a2; do
    cat >"$T/$id.yaml" <<EOF
log: {level: debug}
agent:
  server: tls://$PUB:8443
  token_file: $T/token
  fingerprint: "$FP"
  id: $id
  group: lab
  backoff: {min: 200ms, max: ${CAP_MS}ms}
EOF
    "$FERRY_BIN" check -c "$T/$id.yaml" >/dev/null
done
"$FERRY_BIN" check -c "$T/gateway.yaml" >/dev/null

start_gateway() {
    FERRY_PORTS="8443 3128 1080" in_ns pub start_ferry -c "$T/gateway.yaml"
    GW_PID=$FERRY_PID GW_ERR=$FERRY_ERR
}
declare -A AG_PID=() AG_ERR=()
start_agent() { # ID
    FERRY_PORTS=" " in_ns lan start_ferry -c "$T/$1.yaml"
    AG_PID[$1]=$FERRY_PID AG_ERR[$1]=$FERRY_ERR
}
agent_up() { # ID: registered at the current gateway
    grep -qE "gateway: agent $1 \(group lab\) link 0 from .* up" "$GW_ERR"
}
# ok_requests N: N sequential requests, plain HTTP, CONNECT and SOCKS5 in
# turn; every one must return the page.
ok_requests() {
    local i page args
    for ((i = 1; i <= $1; i++)); do
        case $((i % 3)) in
        0) args=(-x "http://$PUB:3128") ;;
        1) args=(-p -x "http://$PUB:3128") ;;
        2) args=(-x "socks5h://$PUB:1080") ;;
        esac
        page=$(in_ns user curl -sS --max-time 10 "${args[@]}" \
            "http://$SRV/" 2>"$T/req.err") ||
            fail "request $i of $1 (curl ${args[*]}) failed: $(cat "$T/req.err")"
        assert_eq "$NGINX_TOKEN" "$page" "request $i of $1 (${args[*]})"
    done
}
served() { # ID: tunnel streams the agent served since its log's mark
    access_lines "${AG_ERR[$1]}" |
        grep -cE "listener=tunnel:gateway .*target=$SRV:80 result=ok" || true
}

start_gateway
start_agent a1
wait_until 15 "agent a1 registered" agent_up a1
ok_requests 3

say "1. the agent is killed during a 200 MB download"
# (ip netns exec itself, not in_ns: a function in the background would
# run the ERR trap in its subshell when curl fails, as it must.)
ip netns exec "${NS[user]}" curl -sS --max-time 60 -x "http://$PUB:3128" \
    -o "$T/dl.bin" "http://$SRV/slow/200m" 2>"$T/dl.err" &
DL=$!
dl_size() { stat -c %s "$T/dl.bin" 2>/dev/null || echo 0; }
wait_until 15 "5 MB of the download" eval '(($(dl_size) > 5 << 20))'
kill -KILL "${AG_PID[a1]}"
wait_until 15 "curl to end after the agent died" eval '! alive "$DL"'
rc=0
wait "$DL" || rc=$?
size=$(dl_size)
say "curl exit $rc after $size bytes: $(cat "$T/dl.err")"
((rc != 0)) || fail "curl exited 0 although the agent died mid-transfer"
((size < 200 << 20)) || fail "the download is complete ($size bytes)"
assert_match "$(cat "$T/dl.err")" "curl: \([0-9]+\) .+" "curl's error"
wait_access_line "$GW_ERR" \
    "target=$SRV:80 .*result=upstream_error .*status=200 end=origin_closed_mid_body" \
    >/dev/null
wait_until 10 "the gateway to see the link down" \
    grep -q "agent a1 (group lab) link 0 from .* down" "$GW_ERR"
code=$(in_ns user curl -s --max-time 10 -o "$T/503.body" -w '%{http_code}' \
    -x "http://$PUB:3128" "http://$SRV/") || true
assert_eq 503 "$code" "status while no agent is up"
assert_contains "$(cat "$T/503.body")" "No tunnel" "503 body"
start_agent a1
wait_until 15 "agent a1 back" eval \
    '(($(grep -c "gateway: agent a1 (group lab) .* up" "$GW_ERR") == 2))'
ok_requests 6
in_ns user curl -sS --max-time 20 -x "http://$PUB:3128" -o "$T/big.bin" \
    "http://$SRV/big"
cmp -s "$T/big.bin" "$T/www-80/big" || fail "1 MiB after the restart differs"

say "2. two agents in group lab: both used; one killed, the rest carry on"
start_agent a2
wait_until 15 "agent a2 registered" agent_up a2
mark_log "${AG_ERR[a1]}"
mark_log "${AG_ERR[a2]}"
for i in $(seq 1 10); do
    in_ns user curl -sS --max-time 10 -o /dev/null \
        -x "socks5h://$PUB:1080" "http://$SRV/"
done
wait_until 5 "10 streams served" eval \
    '(($(served a1) + $(served a2) == 10))'
n1=$(served a1) n2=$(served a2)
say "round robin: a1 served $n1, a2 served $n2 of 10"
((n1 > 0 && n2 > 0)) || fail "both agents must serve (a1 $n1, a2 $n2)"
mark_log "${AG_ERR[a1]}"
kill -KILL "${AG_PID[a2]}"
ok_requests 20
n1=$(served a1)
say "after a2 died: a1 served $n1 tunnel streams of 20 requests"
((n1 > 0)) || fail "a1 served nothing after a2 died"
start_agent a2
wait_until 15 "agent a2 back" eval \
    '(($(grep -c "gateway: agent a2 (group lab) .* up" "$GW_ERR") == 2))'

say "3. the gateway restarts; the agents are back within the backoff cap"
# A visitor that connects and never says a word (a port scanner): the
# gateway stopping must end its handshake (with ASan: nothing leaks).
in_ns user spawn scanner python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8443), timeout=5)
time.sleep(60)' "$PUB"
visitor_in() {
    [[ -n $(ip netns exec "${NS[pub]}" ss -Htn state established \
        "( sport = :8443 and dst 10.231.1.2 )") ]]
}
wait_until 10 "the silent visitor's connection" visitor_in
t0=$(now_ms)
stop_ferry "$GW_PID" "$GW_ERR" 3
say "the gateway stopped in $(($(now_ms) - t0)) ms"
mark_log "${AG_ERR[a1]}"
mark_log "${AG_ERR[a2]}"
sleep 5 # the agents redial and back off: 200ms, 200ms, then up to the cap
t0=$(now_ms)
start_gateway
wait_until $(((CAP_MS + SLACK_MS) / 1000 + 1)) \
    "both agents back within ${CAP_MS}ms + ${SLACK_MS}ms" \
    eval 'agent_up a1 && agent_up a2'
back_ms=$(($(now_ms) - t0))
say "both agents back $back_ms ms after the gateway started"
((back_ms <= CAP_MS + SLACK_MS)) ||
    fail "the agents took $back_ms ms (cap ${CAP_MS} ms + ${SLACK_MS} ms)"
for id in a1 a2; do
    delays=$(tail -n "+$((${_LOG_MARK[${AG_ERR[$id]}]} + 1))" \
        "${AG_ERR[$id]}" | sed -nE 's/.*retrying in ([0-9]+) ms$/\1/p')
    say "$id redial delays (ms): $(echo $delays)"
    [[ -n $delays ]] || fail "$id logged no redial"
    for d in $delays; do
        ((d <= CAP_MS)) || fail "$id waited $d ms, above the cap $CAP_MS"
    done
done
ok_requests 6

assert_no_secret "$TOKEN" "$T"/*.err "$T"/*.out
finish
