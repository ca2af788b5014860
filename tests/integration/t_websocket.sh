# t_websocket: a WebSocket echo (python3-websockets) through ferry, by
# CONNECT and by an HTTP Upgrade sent as an absolute-URI request; a raw
# client (t_websocket_client.py) masks its frames by hand and checks text,
# UTF-8, empty, boundary-sized and 200 KB binary messages, pipelined and
# fragmented messages, ping/pong and the closing handshake; then the access
# log.  Listeners: http, mixed, and http with users.
source "$(dirname "$0")/lib.sh"

# The origin needs Debian's python3 with python3-websockets (a python3
# earlier on PATH, e.g. pyenv's, does not see Debian's packages).
DPY=/usr/bin/python3
[[ -x $DPY ]] && "$DPY" -c 'import websockets' 2>/dev/null ||
    fail "python3-websockets is missing for $DPY (run scripts/install-test-deps.sh)"
say "websockets $("$DPY" -c 'import websockets; print(websockets.__version__)')"

spawn ws "$DPY" -u "$IT_DIR/t_websocket_server.py"
WS_PID=$SPAWNED_PID
wait_until 10 "the WebSocket origin to print its port" grep -qs '^PORT ' "$T/ws.out"
WS=$(sed -n 's/^PORT //p' "$T/ws.out")
alive "$WS_PID" || fail "WebSocket origin died: $(cat "$T/ws.err")"

read -r P M A < <(free_ports 3 | xargs)
SECRET="ws-pw-$RANDOM$RANDOM"
cat >"$T/ferry.yaml" <<EOF
workers: 2
timeouts:
  connect: 5s
listeners:
  - name: plain
    type: http
    listen: 127.0.0.1:$P
  - name: both
    type: mixed
    listen: 127.0.0.1:$M
  - name: guarded
    type: http
    listen: 127.0.0.1:$A
    users:
      - name: wsuser
        password: $SECRET
EOF
start_ferry -c "$T/ferry.yaml"
LOG=$FERRY_ERR

client() { # MODE PROXY-PORT [USER PASS]
    py "$IT_DIR/t_websocket_client.py" "$1" "$2" "$WS" "${@:3}"
}

for listener in "plain $P" "both $M"; do
    read -r name port <<<"$listener"
    say "WebSocket by CONNECT via listener $name"
    mark_log "$LOG"
    out=$(client connect "$port") || soft_fail "WebSocket inside CONNECT via $name failed"
    say "$out"
    line=$(wait_access_line "$LOG" "listener=$name .*target=127\.0\.0\.1:$WS ")
    check_access_line "$line" proto=http result=ok
    up=$(log_field "$line" up)
    down=$(log_field "$line" down)
    # 2 x (200 KB + 128 KB + small) each way, plus framing
    ((up > 2 * 200 * 1024 && down > 2 * 200 * 1024)) ||
        soft_fail "CONNECT access log up=$up down=$down: the echoes are bigger"

    say "WebSocket by HTTP Upgrade (absolute URI) via listener $name"
    mark_log "$LOG"
    out=$(client upgrade "$port") || soft_fail "WebSocket by HTTP Upgrade via $name failed"
    say "$out"
    line=$(wait_access_line "$LOG" "listener=$name .*target=127\.0\.0\.1:$WS .*status=101")
    check_access_line "$line" proto=http result=ok method=GET status=101
done

say "WebSocket with proxy credentials (CONNECT and Upgrade)"
mark_log "$LOG"
out=$(client connect "$A" wsuser "$SECRET") || soft_fail "authenticated CONNECT WebSocket failed"
out=$(client upgrade "$A" wsuser "$SECRET") || soft_fail "authenticated Upgrade WebSocket failed"
line=$(wait_access_line "$LOG" "listener=guarded .*status=101")
check_access_line "$line" user=wsuser result=ok
# without credentials: 407, no handshake reaches the origin
n_before=$(grep -c '^CONN ' "$T/ws.err" || true)
py - "$A" "$WS" <<'PY' || soft_fail "an Upgrade without credentials was not refused with 407"
import sys
from t_websocket_client import Stream, fail
import socket
proxy, ws = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", proxy), timeout=10)
st = Stream(s)
s.sendall((f"GET http://127.0.0.1:{ws}/ HTTP/1.1\r\nHost: 127.0.0.1:{ws}\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
status, headers, line = st.head("the answer")
if status != 407:
    fail(f"answered {line!r}")
PY
sleep 0.2
n_after=$(grep -c '^CONN ' "$T/ws.err" || true)
assert_eq "$n_before" "$n_after" "handshakes the origin saw for an unauthenticated Upgrade"

# The origin saw our Via on the forwarded handshakes, none inside CONNECT.
grep -q '^CONN path=/upgrade?x=1 via=1.1 ferry$' "$T/ws.err" ||
    soft_fail "the forwarded handshake did not carry 'Via: 1.1 ferry': $(cat "$T/ws.err")"
grep -q '^CONN path=/tunnel via=-$' "$T/ws.err" ||
    soft_fail "the tunnelled handshake was altered: $(cat "$T/ws.err")"
assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
