# t_yamux_interop: ferry's tunnel multiplexer against hashicorp/yamux, the
# Go library the wire format follows (Debian's golang-go and
# golang-github-hashicorp-yamux-dev; the peer, tests/interop/yamuxpeer, is
# built offline in GOPATH mode).  Both of ferry's roles:
#   A. the Go peer is an agent (yamux client) dialling `ferry gateway`;
#   B. the Go peer is a gateway (yamux server) that `ferry agent` dials.
# In each: streams opened by ferry (curl and python through ferry's
# listeners; the Go peer is their exit) and by Go (ferry is the exit);
# open-reply result codes both ways; 64 MiB each way on one stream in each
# direction of opening (window updates far beyond the 256 KiB initial
# window, counted on the wire by the peer's tap); concurrent streams;
# half-close both ways; ping both ways (B: a short ferry timeout survives
# only because Go answers ferry's pings); GoAway from Go (no new stream on
# that link, the stream in flight finishes) and from ferry when it drains
# on SIGTERM (Go's OpenStream says ErrRemoteGoAway, the held stream still
# works, ferry exits 0).
source "$(dirname "$0")/lib.sh"

BIG=$((64 << 20)) # bytes each way of the large transfers
YAMUX_SRC=/usr/share/gocode/src/github.com/hashicorp/yamux
need_tools go
[[ -f $YAMUX_SRC/session.go ]] ||
    fail "missing $YAMUX_SRC (golang-github-hashicorp-yamux-dev; run scripts/install-test-deps.sh)"

say "building the Go peer (GOPATH mode, offline)"
PEER=$T/yamuxpeer
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$T/gocache GOENV=off \
    GOFLAGS= GOPROXY=off timeout -k 5 120 go build -o "$PEER" \
    "$FERRY_SRC/tests/interop/yamuxpeer/main.go" 2>"$T/go-build.log" ||
    fail "go build failed: $(cat "$T/go-build.log")"
rm -rf "$T/gocache"

# ---- the Go peer: commands in through a FIFO, results and events out ----

declare -A PEER_FD=()
# start_peer NAME ARGS...: run the peer; it reads commands from the FIFO
# $T/NAME.in (held open here) and writes results and events to
# $T/NAME.out.
start_peer() {
    local name=$1 fd
    shift
    mkfifo "$T/$name.in"
    exec {fd}<>"$T/$name.in"
    PEER_FD[$name]=$fd
    spawn "$name" bash -c 'f=$1; shift; exec "$@" <"$f"' _ \
        "$T/$name.in" "$PEER" "$@"
}

# peer NAME SECONDS CMD ARGS...: run one command, print its result line.
peer() {
    local name=$1 secs=$2 tag=c${EPOCHREALTIME/./}$RANDOM
    shift 2
    printf '%s %s\n' "$tag" "$*" >&"${PEER_FD[$name]}"
    wait_until "$secs" "$name: result of '$*'" grep -qs "^$tag " "$T/$name.out"
    sed -n "s/^$tag //p" "$T/$name.out" | head -n 1
}
# peer_ok NAME SECONDS CMD ARGS...: the same; the result may not be an
# error.
peer_ok() {
    local r
    r=$(peer "$@")
    assert_not_contains "$r" "error=" "$1: result of '${*:3}'"
    printf '%s\n' "$r"
}
# peer_start NAME CMD ARGS...: send a command, print its tag (for
# peer_wait); for commands that run alongside others.
peer_start() {
    local name=$1 tag=c${EPOCHREALTIME/./}$RANDOM
    shift
    printf '%s %s\n' "$tag" "$*" >&"${PEER_FD[$name]}"
    printf '%s\n' "$tag"
}
peer_wait() { # NAME TAG SECONDS
    wait_until "$3" "$1: result of command $2" grep -qs "^$2 " "$T/$1.out"
    sed -n "s/^$2 //p" "$T/$1.out" | head -n 1
}
# wait_event NAME SECONDS ERE: wait for an "event" line of the peer.
wait_event() {
    wait_until "$2" "$1: an event matching /$3/" \
        grep -qsE "^event $3" "$T/$1.out"
}
events() { grep -E "^event $2" "$T/$1.out" || true; } # NAME ERE
field() { log_field "$1" "$2"; }                        # LINE KEY

# check_blast WHAT RESULT SERVER-LINE: the peer's blast result against
# what the blast server reported for the same transfer.
check_blast() {
    local what=$1 r=$2 s=$3
    assert_eq "$BIG" "$(field "$r" recv)" "$what: bytes Go received"
    assert_eq "$BIG" "$(field "$s" recv)" "$what: bytes the server received"
    assert_eq "$(field "$r" sent_sha)" "$(field "$s" recv_sha)" \
        "$what: sha256 Go -> server"
    assert_eq "$(field "$s" sent_sha)" "$(field "$r" recv_sha)" \
        "$what: sha256 server -> Go"
}
# blast_line N: the Nth DONE line of the blast server.
blast_done() { (($(grep -c '^DONE ' "$T/blast.out" || true) >= $1)); }
blast_line() {
    wait_until 30 "the blast server's report $1" blast_done "$1"
    grep '^DONE ' "$T/blast.out" | sed -n "$1p"
}
BLASTS=0

# ---- python clients through ferry's listeners ---------------------------

# py_blast SOCKS-PORT: BIG bytes each way through ferry's SOCKS5 listener
# to the blast server; checks both sha256s against the server's report.
py_blast() {
    local r s
    r=$(PY_TIMEOUT=150 py - "$1" "$BLAST" "$BIG" <<'PY'
import socket, struct, sys, threading, time
import ftlib

P, BLAST, N = map(int, sys.argv[1:4])
s = ftlib.open_socks5_tunnel(P, "127.0.0.1", BLAST)
s.settimeout(120)
s.sendall(struct.pack(">Q", N))
res = {}


def sender():
    res["sent_sha"] = ftlib.send_stream(s, 1, N, chunk=1 << 20)
    s.shutdown(socket.SHUT_WR)


t = time.monotonic()
th = threading.Thread(target=sender)
th.start()
n, sha = ftlib.recv_hash(s)
th.join(120)
print(f"recv={n} recv_sha={sha} sent_sha={res.get('sent_sha')} "
      f"secs={time.monotonic() - t:.2f}")
PY
    ) || fail "the python blast client through port $1 failed"
    BLASTS=$((BLASTS + 1))
    s=$(blast_line "$BLASTS")
    say "  python: $r"
    assert_eq "$BIG" "$(field "$r" recv)" "python blast: bytes received"
    assert_eq "$BIG" "$(field "$s" recv)" "python blast: server received"
    assert_eq "$(field "$r" sent_sha)" "$(field "$s" recv_sha)" \
        "python blast: sha256 client -> server"
    assert_eq "$(field "$s" sent_sha)" "$(field "$r" recv_sha)" \
        "python blast: sha256 server -> client"
}

# py_halfclose SOCKS-PORT: send, shutdown(SHUT_WR) through ferry's
# listener, still get the whole answer (the Go exit passes ferry's FIN on
# to the target and relays back what comes after).
py_halfclose() {
    py - "$1" "$HC" "$HC_DOWN" <<'PY' || fail "half-close through port $1"
import hashlib, socket, sys
import ftlib
from ftlib import expect_eq

P, HC, DOWN = map(int, sys.argv[1:4])
UP = 700_000
s = ftlib.open_socks5_tunnel(P, "127.0.0.1", HC)
s.settimeout(20)
sha = ftlib.send_stream(s, 5, UP)
s.shutdown(socket.SHUT_WR)
data = ftlib.recv_until_eof(s)
line, rest = data.split(b"\n", 1)
expect_eq(f"GOT {UP} {sha}", line.decode(), "what the server read to EOF")
expect_eq(DOWN, len(rest), "bytes after our shutdown(SHUT_WR)")
expect_eq(ftlib.stream_sha(2, DOWN), hashlib.sha256(rest).hexdigest(),
          "sha256 after our shutdown(SHUT_WR)")
PY
}

# py_paced_start SOCKS-PORT OUT: a download from the paced server through
# ferry's listener, in the background; "n sha" goes to OUT.  Sets
# PACED_PID.
py_paced_start() {
    py - "$1" "$PACED" >"$2" 2>&1 <<'PY' &
import sys
import ftlib

P, PACED = map(int, sys.argv[1:3])
s = ftlib.open_socks5_tunnel(P, "127.0.0.1", PACED)
s.settimeout(20)
n, sha = ftlib.recv_hash(s)
s.close()
print(n, sha)
PY
    PACED_PID=$!
}
py_paced_check() { # OUT
    local rc=0
    wait "$PACED_PID" || rc=$?
    assert_eq 0 "$rc" "the paced download ($(cat "$1"))"
    assert_eq "$PACED_BYTES $PACED_SHA" "$(cat "$1")" \
        "the paced download (bytes, sha256)"
}

# ---- the targets ---------------------------------------------------------

read -r WEB GW HP SP GGW CLOSED DENY AH AS < <(free_ports 9 | xargs)
start_nginx "$WEB"
start_py echo echo
ECHO=$PY_PORT
start_py blast blast
BLAST=$PY_PORT
HC_DOWN=400000 # > the 256 KiB window: it must flow after Go's FIN
start_py hc halfclose --mode client-first --bytes "$HC_DOWN"
HC=$PY_PORT
PACED_BYTES=1500000
start_py paced paced --bytes "$PACED_BYTES" --pace 2.5
PACED=$PY_PORT
read -r HC_SHA PACED_SHA < <(python3 -c '
import sys, ftlib
print(ftlib.stream_sha(2, int(sys.argv[1])), ftlib.stream_sha(3, int(sys.argv[2])))
' "$HC_DOWN" "$PACED_BYTES")
TOKEN="tok-$RANDOM-$RANDOM"

# The reply codes ferry gives a Go opener, and the ones Go gives ferry.
go_opens() { # NAME WHAT: ferry is the exit
    local r
    r=$(peer_ok "$1" 10 open 127.0.0.1 "$ECHO" hello-through-ferry)
    assert_eq 0 "$(field "$r" reply)" "$2: open to the echo server"
    assert_eq hello-through-ferry "$(field "$r" echo)" "$2: echoed line"
    assert_eq 0 "$(field "$r" after)" "$2: bytes after the echo"
    assert_eq "<nil>" "$(field "$r" eof_err)" "$2: clean EOF after our FIN"
    r=$(peer_ok "$1" 10 open 127.0.0.1 "$CLOSED")
    assert_eq 3 "$(field "$r" reply)" "$2: open to a closed port (refused)"
    # ATYP 5 does not exist: "address type not supported" (9).
    r=$(peer_ok "$1" 10 rawopen 01010500000000005000)
    assert_eq 9 "$(field "$r" reply)" "$2: open with ATYP 5"
    # Kind 7 does not exist: "bad request" (8).
    r=$(peer_ok "$1" 10 rawopen 0107017f000001005000)
    assert_eq 8 "$(field "$r" reply)" "$2: open of kind 7"
}

go_halfclose() { # NAME WHAT
    local r
    r=$(peer_ok "$1" 30 halfclose 127.0.0.1 "$HC" 1000000)
    say "  $r"
    assert_eq 1000000 "$(field "$r" got)" "$2: bytes the target read to EOF"
    assert_eq "$(field "$r" sent_sha)" "$(field "$r" got_sha)" \
        "$2: sha256 of what the target read before Go's FIN"
    assert_eq "$HC_DOWN" "$(field "$r" down)" "$2: bytes after Go's FIN"
    assert_eq "$HC_SHA" "$(field "$r" down_sha)" "$2: sha256 after Go's FIN"
}

# Several streams at once, opened from both ends: 6 curl downloads
# through ferry's listeners (HTTP-PORT SOCKS-PORT) and 4 Go blasts of
# 4 MiB.
concurrent() { # NAME HTTP-PORT SOCKS-PORT
    local i tags=() pids=() r s
    for i in 1 2 3 4; do
        tags+=("$(peer_start "$1" blast 127.0.0.1 "$BLAST" 4194304)")
    done
    for i in 1 2 3; do
        curl -sS --max-time 30 -x "http://127.0.0.1:$2" \
            -o "$T/par-h$i" "http://127.0.0.1:$WEB/big" &
        pids+=($!)
        curl -sS --max-time 30 --socks5-hostname "127.0.0.1:$3" \
            -o "$T/par-s$i" "http://localhost:$WEB/big" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || fail "a parallel curl failed"; done
    for i in 1 2 3; do
        cmp -s "$T/par-h$i" "$T/www-$WEB/big" || fail "parallel http $i differs"
        cmp -s "$T/par-s$i" "$T/www-$WEB/big" || fail "parallel socks $i differs"
    done
    for i in "${tags[@]}"; do
        r=$(peer_wait "$1" "$i" 60)
        assert_not_contains "$r" "error=" "concurrent Go blast"
        assert_eq 4194304 "$(field "$r" recv)" "concurrent Go blast: received"
        BLASTS=$((BLASTS + 1))
    done
    # Each server report matches one of the peer's results.
    for ((i = BLASTS - 3; i <= BLASTS; i++)); do
        s=$(blast_line "$i")
        grep -q "sent_sha=$(field "$s" recv_sha) " "$T/$1.out" ||
            fail "concurrent blast $i: the server's sha matches no Go send"
        grep -q "recv_sha=$(field "$s" sent_sha) " "$T/$1.out" ||
            fail "concurrent blast $i: Go received no matching sha"
    done
}

# =========================================================================
say "A. Go agent (yamux client) -> ferry gateway (yamux server)"
FERRY_PORTS="$GW $HP $SP" start_ferry gateway --bind "127.0.0.1:$GW" \
    --token "$TOKEN" --exit --log-level debug \
    -L "http://127.0.0.1:$HP" -L "socks5://127.0.0.1:$SP"
GW_PID=$FERRY_PID GW_ERR=$FERRY_ERR
start_peer go1 -agent "127.0.0.1:$GW" -token "$TOKEN" -id go1
wait_event go1 10 "up session=1 role=agent"
wait_until 10 "the gateway to register go1" \
    grep -qE "gateway: agent go1 \(group default\) link 0 .* up" "$GW_ERR"

say "A1: streams ferry opens, the Go agent is the exit"
page=$(curl -sS --max-time 10 -x "http://127.0.0.1:$HP" "http://127.0.0.1:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the gateway's http listener"
page=$(curl -sS --max-time 10 --socks5-hostname "127.0.0.1:$SP" "http://localhost:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the gateway's socks5 listener"
wait_event go1 5 "open session=1 id=[0-9]+ kind=1 target=localhost:$WEB "
while read -r line; do # the gateway is the yamux server: even ids
    id=$(field "$line" id)
    ((id % 2 == 0)) || fail "ferry gateway opened odd stream id $id: $line"
done < <(events go1 "open ")
code=$(curl -s --max-time 10 -o "$T/refused.body" -w '%{http_code}' \
    -x "http://127.0.0.1:$HP" "http://127.0.0.1:$CLOSED/") || true
assert_eq 502 "$code" "a closed port behind the Go exit"
assert_contains "$(cat "$T/refused.body")" "Connection refused" "502 body"
wait_event go1 5 "reply session=1 id=[0-9]+ code=3"

say "A2: streams Go opens, ferry gateway (--exit) is the exit"
go_opens go1 "gateway exit"
wait_access_line "$GW_ERR" "listener=tunnel:go1 .*target=127\.0\.0\.1:$CLOSED result=refused" >/dev/null

say "A3: $BIG bytes each way, opened by Go and opened by ferry"
r=$(peer_ok go1 120 blast 127.0.0.1 "$BLAST" "$BIG")
say "  go: $r"
BLASTS=$((BLASTS + 1))
check_blast "Go-opened blast" "$r" "$(blast_line "$BLASTS")"
py_blast "$SP"
st=$(peer_ok go1 5 stats)
say "  tap: $st"
# Go sent 2 x BIG on two streams: ferry must have granted all of it
# beyond the initial windows; and Go granted ferry the same.
wu=$(field "$st" wu_bytes)
((wu >= 2 * BIG - (1 << 20))) ||
    fail "ferry's window updates add up to $wu, expected >= $((2 * BIG))"
wuo=$(field "$st" wu_out_bytes)
((wuo >= 2 * BIG - (1 << 20))) ||
    fail "Go's window updates add up to $wuo, expected >= $((2 * BIG))"

say "A4: concurrent streams both ways"
concurrent go1 "$HP" "$SP"

say "A5: half-close both ways"
go_halfclose go1 "Go FIN through the gateway"
py_halfclose "$SP"

say "A6: ping"
r=$(peer_ok go1 10 ping)
assert_match "$r" "^rtt_us=[0-9]+$" "Go's ping to the gateway"
(($(field "$(peer_ok go1 5 stats)" ping_in) >= 1)) ||
    fail "ferry gateway never pinged"

say "A7: GoAway from Go: no new stream on its link; the one in flight ends"
py_paced_start "$SP" "$T/paced-a.res"
wait_event go1 10 "open session=1 id=[0-9]+ kind=1 target=127\.0\.0\.1:$PACED "
sid=$(field "$(events go1 "open .*target=127\.0\.0\.1:$PACED ")" id)
syn0=$(field "$(peer_ok go1 5 stats)" syn_in)
assert_eq sent "$(peer_ok go1 5 goaway)" "Go's GoAway"
assert_eq "" "$(events go1 "done session=1 id=$sid ")" \
    "the paced stream must still run at the GoAway"
# CONNECT: a plain GET could reuse an idle upstream connection on an
# existing stream, and that is allowed.
code=$(curl -s --max-time 10 -p -o /dev/null -w '%{http_connect}' \
    -x "http://127.0.0.1:$HP" "http://127.0.0.1:$WEB/") || true
assert_eq 503 "$code" "CONNECT while the only agent has sent GoAway"
py_paced_check "$T/paced-a.res"
assert_eq "$syn0" "$(field "$(peer_ok go1 5 stats)" syn_in)" \
    "streams ferry opened to go1 after its GoAway"
# Go closes the session once its last stream ends: the last may be an
# idle upstream connection the http listener pooled (A1, A4), which
# nginx's 5 s keepalive timeout ends.
wait_event go1 10 "closed session=1"
wait_until 10 "the gateway to drop go1" \
    grep -qE "gateway: agent go1 .* down" "$GW_ERR"
start_peer go2 -agent "127.0.0.1:$GW" -token "$TOKEN" -id go2
wait_event go2 10 "up session=1"
wait_until 10 "the gateway to register go2" \
    grep -qE "gateway: agent go2 .* up" "$GW_ERR"
page=$(curl -sS --max-time 10 --socks5 "127.0.0.1:$SP" "http://127.0.0.1:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the new agent"
wait_event go2 5 "open session=1 id=[0-9]+ kind=1 target=127\.0\.0\.1:$WEB "

say "A8: ferry gateway drains (SIGTERM): GoAway to Go; the held stream ends"
hold=$(peer_start go2 hold 127.0.0.1 "$ECHO")
assert_match "$(peer_wait go2 "$hold" 10)" "^reply=0 id=" "the held stream"
kill -TERM "$GW_PID"
wait_event go2 10 "goaway-in session=1 code=0"
assert_eq "err=remote-goaway" "$(peer go2 5 tryopen)" "OpenStream after GoAway"
r=$(peer_ok go2 10 release "$hold")
assert_eq "echo=still-here after_eof=0" "$r" "the held stream after GoAway"
wait_exit "$GW_PID" 10 || fail "the gateway still runs after its last stream"
assert_eq 0 "$EXIT_RC" "the gateway's exit status"
wait_event go2 5 "closed session=1"
_no_sanitizer_report "$GW_ERR"

# =========================================================================
say "B. ferry agent (yamux client) -> Go gateway (yamux server)"
start_peer gw -gateway "127.0.0.1:$GGW" -token "$TOKEN"
wait_until 10 "the Go gateway to listen" tcp_listening "$GGW"
cat >"$T/agent.yaml" <<EOF
agent:
  server: tcp://127.0.0.1:$GGW
  token: $TOKEN
  id: fa1
  ping: 250ms
  timeout: 2s
egresses:
  - name: gw
    type: tunnel
listeners:
  - type: http
    listen: 127.0.0.1:$AH
    via: gw
  - type: socks
    listen: 127.0.0.1:$AS
    via: gw
rules:
  - action: deny
    ports: [$DENY]
  - action: allow
EOF
start_ferry -c "$T/agent.yaml" --log-level debug
AG_PID=$FERRY_PID AG_ERR=$FERRY_ERR
wait_event gw 10 "hello id=fa1 group=default link=0 token=true"
wait_event gw 10 "up session=1 role=gateway id=fa1 link=0"

say "B1: streams ferry opens, the Go gateway is the exit"
page=$(curl -sS --max-time 10 -x "http://127.0.0.1:$AH" "http://127.0.0.1:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the agent's http listener"
page=$(curl -sS --max-time 10 --socks5-hostname "127.0.0.1:$AS" "http://localhost:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET through the agent's socks5 listener"
wait_event gw 5 "open session=1 id=[0-9]+ kind=1 target=localhost:$WEB "
while read -r line; do # the agent is the yamux client: odd ids
    id=$(field "$line" id)
    ((id % 2 == 1)) || fail "ferry agent opened even stream id $id: $line"
done < <(events gw "open ")

say "B2: streams Go opens, ferry agent is the exit"
go_opens gw "agent exit"
r=$(peer_ok gw 10 open 127.0.0.1 "$DENY")
assert_eq 1 "$(field "$r" reply)" "open to a port the agent's rules deny"

say "B3: $BIG bytes each way, opened by Go and opened by ferry"
r=$(peer_ok gw 120 blast 127.0.0.1 "$BLAST" "$BIG")
say "  go: $r"
BLASTS=$((BLASTS + 1))
check_blast "Go-opened blast (agent exit)" "$r" "$(blast_line "$BLASTS")"
py_blast "$AS"
st=$(peer_ok gw 5 stats)
say "  tap: $st"
wu=$(field "$st" wu_bytes)
((wu >= 2 * BIG - (1 << 20))) ||
    fail "ferry agent's window updates add up to $wu, expected >= $((2 * BIG))"
wuo=$(field "$st" wu_out_bytes)
((wuo >= 2 * BIG - (1 << 20))) ||
    fail "Go's window updates add up to $wuo, expected >= $((2 * BIG))"

say "B4: concurrent streams both ways"
concurrent gw "$AH" "$AS"

say "B5: half-close both ways"
go_halfclose gw "Go FIN through the agent"
py_halfclose "$AS"

say "B6: ping: Go's answered; ferry's (every 250 ms, timeout 2 s) too"
r=$(peer_ok gw 10 ping)
assert_match "$r" "^rtt_us=[0-9]+$" "Go's ping to the agent"
st=$(peer_ok gw 5 stats)
p0=$(field "$st" ping_in) o0=$(field "$st" ping_out)
sleep 5 # 2.5 timeouts of an idle link: only Go's pongs keep it up
st=$(peer_ok gw 5 stats)
p1=$(field "$st" ping_in)
((p1 - p0 >= 10)) || fail "ferry agent sent $((p1 - p0)) pings in 5 s"
# Go has no keepalive of its own: not one ping from Go while idle.
assert_eq "$o0" "$(field "$st" ping_out)" "pings Go sent while idle"
assert_contains "$st" "closed=false" "the Go session after 5 s idle"
assert_not_contains "$(cat "$AG_ERR")" "retrying" "ferry agent log"
assert_eq "" "$(events gw "up session=2")" "a second link"

say "B7: GoAway from Go: ferry redials; new streams go to the new link"
py_paced_start "$AS" "$T/paced-b.res"
wait_event gw 10 "open session=1 id=[0-9]+ kind=1 target=127\.0\.0\.1:$PACED "
sid=$(field "$(events gw "open .*target=127\.0\.0\.1:$PACED ")" id)
syn0=$(field "$(peer_ok gw 5 stats 1)" syn_in)
assert_eq sent "$(peer_ok gw 5 goaway)" "Go's GoAway"
assert_eq "" "$(events gw "done session=1 id=$sid ")" \
    "the paced stream must still run at the GoAway"
wait_event gw 10 "up session=2 role=gateway id=fa1 link=0"
page=$(curl -sS --max-time 10 --socks5 "127.0.0.1:$AS" "http://127.0.0.1:$WEB/")
assert_eq "$NGINX_TOKEN" "$page" "GET after the GoAway"
wait_event gw 5 "open session=2 id=[0-9]+ kind=1 target=127\.0\.0\.1:$WEB "
py_paced_check "$T/paced-b.res"
assert_eq "$syn0" "$(field "$(peer_ok gw 5 stats 1)" syn_in)" \
    "streams ferry opened on the old link after its GoAway"
wait_event gw 10 "closed session=1"

say "B8: ferry agent drains (SIGTERM): GoAway to Go; the held stream ends"
hold=$(peer_start gw hold 127.0.0.1 "$ECHO")
assert_match "$(peer_wait gw "$hold" 10)" "^reply=0 id=" "the held stream"
kill -TERM "$AG_PID"
wait_event gw 10 "goaway-in session=2 code=0"
assert_eq "err=remote-goaway" "$(peer gw 5 tryopen)" "OpenStream after GoAway"
r=$(peer_ok gw 10 release "$hold")
assert_eq "echo=still-here after_eof=0" "$r" "the held stream after GoAway"
wait_exit "$AG_PID" 10 || fail "the agent still runs after its last stream"
assert_eq 0 "$EXIT_RC" "the agent's exit status"
wait_event gw 5 "closed session=2"
_no_sanitizer_report "$AG_ERR"
# What hashicorp/yamux logged.  One complaint is benign: a window update
# that crossed Go's FIN on the wire arrives for a stream Go forgot when
# both sides had sent FIN ("frame for missing stream ... Type:1"); Go's
# own Read sends window updates after a FIN just the same.
complaints=$(grep -hE '\[(ERR|WARN)\] yamux:|^event (fatal|bad-|error)' \
    "$T"/go1.err "$T"/go2.err "$T"/gw.err "$T"/go1.out "$T"/go2.out \
    "$T"/gw.out | grep -vE 'frame for missing stream: Vsn:0 Type:1 ' || true)
assert_eq "" "$complaints" "complaints of the Go peers"
assert_no_secret "$TOKEN" "$T"/ferry*.err "$T"/ferry*.out
finish
