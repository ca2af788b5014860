# t_tunnel_relay: a proxy connection whose egress is a tunnel stream is
# handed to the stream's link once the proxy's answer is written (the link
# then relays the client's socket itself).  Through the gateway's mixed
# listener (HTTP CONNECT, SOCKS5, SOCKS4), exiting at an agent:
#   - half-close both ways, with a server that sends 3 MB as soon as it
#     is connected (whether some of it is already in the socketpair at
#     the handoff is up to timing here; unit/tunnel/test_link.c makes
#     sure of that case), over TLS and over a plain link (tcp://), where
#     the links splice payloads instead of copying them;
#   - the access line, now written by the link: result, byte counts, end;
#   - a client that sent bytes right behind its request (relayed by the
#     session instead), the idle timeout, and the gateway's shutdown with
#     such connections open (end=shutdown, no leak under ASan).
source "$(dirname "$0")/lib.sh"

start_halfclose_servers
start_py echo echo
ECHO=$PY_PORT
read -r GW MP GW2 MP2 < <(free_ports 4 | xargs)

tunnel_secrets
# gateway_yaml PORT MIXED_PORT [TLS_KEYS]: a gateway whose mixed listener
# exits at group lab.
gateway_yaml() {
    cat <<EOF
log: {level: debug}
timeouts: {idle: 2s, shutdown: 1s}
gateway:
  listen: 127.0.0.1:$1
${3:-}
  tokens:
    - token_hash: "$(openssl passwd -6 "$TOKEN")"
      groups: [lab]
egresses:
  - {name: lab, type: tunnel, group: lab}
listeners:
  - {type: mixed, listen: "127.0.0.1:$2", via: lab}
EOF
}
# agent_yaml ID SERVER [TLS_KEY]: an agent of group lab.
agent_yaml() {
    cat <<EOF
log: {level: debug}
agent:
  server: $2
  token_file: $T/token
  id: $1
  group: lab
${3:-}
EOF
}
gateway_yaml "$GW" "$MP" "  cert: $T/gw.crt
  key: $T/gw.key" >"$T/gateway.yaml"
gateway_yaml "$GW2" "$MP2" >"$T/gateway-plain.yaml"
agent_yaml a1 "tls://127.0.0.1:$GW" "  fingerprint: \"$FP\"" >"$T/agent.yaml"
agent_yaml a2 "tcp://127.0.0.1:$GW2" >"$T/agent-plain.yaml"
FERRY_PORTS="$GW $MP" start_ferry -c "$T/gateway.yaml"
GW_PID=$FERRY_PID GW_ERR=$FERRY_ERR
FERRY_PORTS="$GW2 $MP2" start_ferry -c "$T/gateway-plain.yaml"
GW2_ERR=$FERRY_ERR
FERRY_PORTS=" " start_ferry -c "$T/agent.yaml"
FERRY_PORTS=" " start_ferry -c "$T/agent-plain.yaml"
wait_until 15 "agent a1 registered" \
    grep -qE "gateway: agent a1 \(group lab\) link [0-9]+ from .* up" "$GW_ERR"
wait_until 15 "agent a2 registered" \
    grep -qE "gateway: agent a2 \(group lab\) link [0-9]+ from .* up" "$GW2_ERR"

# halfclose_through WHAT MIXED_PORT GATEWAY_LOG
halfclose_through() {
    local what=$1 mp=$2 log=$3 taken proto port line up down want
    say "half-close both ways through the tunnel ($what)," \
        "the link relaying the client"
    py - "$mp" "$CF" "$SF" "$SF_LOG" <<'PY'
import sys
import ftlib

P, CF, SF = map(int, sys.argv[1:4])
for kind in ("http", "socks5", "socks4"):
    ftlib.halfclose_client_first(kind, P, CF)
    ftlib.halfclose_server_first(kind, P, SF, sys.argv[4])
PY
    taken=$(grep -c "the link relays its opener's socket" "$log") || true
    ((taken >= 6)) ||
        fail "the $what gateway's link took over $taken of 6 connections"

    say "the access lines, written by the link ($what)"
    for proto in http socks5 socks4; do
        for port in "$CF" "$SF"; do
            line=$(wait_access_line "$log" \
                "proto=$proto .*target=127\.0\.0\.1:$port ")
            check_access_line "$line" result=ok end=eof
            up=$(log_field "$line" up)
            down=$(log_field "$line" down)
            # client-first: the server's "GOT <n> <sha256>" line first
            want=$((3000000 + (port == CF ? 77 : 0)))
            ((up == 2500000)) ||
                fail "$what, $proto to $port: up=$up, expected 2500000"
            ((down == want)) ||
                fail "$what, $proto to $port: down=$down, expected $want"
        done
    done
}
halfclose_through TLS "$MP" "$GW_ERR"
halfclose_through plain "$MP2" "$GW2_ERR"

say "bytes sent right behind the SOCKS5 request arrive first"
py - "$MP" "$ECHO" <<'PY'
import socket, struct, sys
import ftlib

P, ECHO = map(int, sys.argv[1:3])
s = ftlib.connect("127.0.0.1", P)
s.sendall(b"\x05\x01\x00" + ftlib.s5_request(1, "127.0.0.1", ECHO) +
          b"early bytes")
ftlib.expect_eq(b"\x05\x00", ftlib.recv_exact(s, 2, "method"), "method")
rep = ftlib.s5_read_reply(s)
ftlib.expect_eq(0, rep[0], "SOCKS5 REP")
s.sendall(b", then more")
want = b"early bytes, then more"
ftlib.expect_eq(want, ftlib.recv_exact(s, len(want)), "the echo")
s.shutdown(socket.SHUT_WR)
ftlib.expect_eq(b"", ftlib.recv_until_eof(s), "after the echo")
print("ok: pipelined SOCKS5 request")
PY
line=$(wait_access_line "$GW_ERR" "proto=socks5 .*target=127\.0\.0\.1:$ECHO ")
check_access_line "$line" result=ok end=eof up=22 down=22

say "an idle relayed connection ends after timeouts.idle (2 s)"
mark_log "$GW_ERR"
py - "$MP" "$ECHO" <<'PY'
import sys, time
import ftlib

P, ECHO = map(int, sys.argv[1:3])
s = ftlib.open_tunnel("socks5", P, "127.0.0.1", ECHO)
s.sendall(b"ping")
ftlib.expect_eq(b"ping", ftlib.recv_exact(s, 4), "the echo")
t = time.monotonic()
s.settimeout(10)
ftlib.expect_eq(b"", ftlib.recv_until_eof(s), "after the idle timeout")
secs = time.monotonic() - t
ftlib.expect(1.5 < secs < 6, f"closed after {secs:.1f}s of silence")
print(f"ok: closed after {secs:.1f}s idle")
PY
line=$(wait_access_line "$GW_ERR" "proto=socks5 .*target=127\.0\.0\.1:$ECHO ")
check_access_line "$line" result=ok end=idle up=4 down=4

say "the gateway stops with relayed connections open"
mark_log "$GW_ERR"
cat >"$T/holder.py" <<'PY'
import sys
import ftlib

P, ECHO = map(int, sys.argv[1:3])
s = ftlib.open_tunnel("socks5", P, "127.0.0.1", ECHO)
s.sendall(b"hold")
ftlib.expect_eq(b"hold", ftlib.recv_exact(s, 4), "the echo")
print("HOLDING", flush=True)
s.settimeout(30)
try:
    print("END", repr(ftlib.recv_until_eof(s)), flush=True)
except ConnectionResetError:
    print("END reset", flush=True)
PY
spawn holder python3 -u "$T/holder.py" "$MP" "$ECHO"
wait_until 10 "the connection to be open" grep -qs '^HOLDING' "$T/holder.out"
stop_ferry "$GW_PID" "$GW_ERR" 10
wait_until 10 "the client to see the end" grep -qs '^END' "$T/holder.out"
line=$(wait_access_line "$GW_ERR" "proto=socks5 .*target=127\.0\.0\.1:$ECHO ")
check_access_line "$line" result=ok end=shutdown up=4 down=4
finish
