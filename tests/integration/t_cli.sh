# t_cli: the command line.  --help / --version; `ferry check` on a good
# and on bad configs (exit code, "FILE:LINE:COL: reason"); --access-log to
# a file and off; the default run (no arguments: mixed proxy on
# 127.0.0.1:7890 printing export lines); SIGTERM during a transfer (the
# transfer completes, new connections are refused, exit 0); SIGINT.
source "$(dirname "$0")/lib.sh"

# --- --help, --version ----------------------------------------------------
out=$(timeout 10 "$FERRY_BIN" --help 2>&1) || fail "ferry --help exited $?"
assert_match "$out" '[Uu]sage' "ferry --help"
for opt in -c -L --dns --workers --log-level --access-log check; do
    assert_contains "$out" "$opt" "ferry --help mentions $opt"
done
version=$(sed -nE 's/^project\(ferry VERSION ([0-9.]+).*/\1/p' "$FERRY_SRC/CMakeLists.txt")
[[ -n $version ]] || fail "cannot read the project version from CMakeLists.txt"
out=$(timeout 10 "$FERRY_BIN" --version 2>&1) || fail "ferry --version exited $?"
assert_contains "$out" "ferry" "ferry --version"
assert_contains "$out" "$version" "ferry --version"
rc=0
timeout 10 "$FERRY_BIN" --no-such-option >"$T/badopt.out" 2>&1 || rc=$?
((rc != 0 && rc != 124)) || fail "ferry --no-such-option exited $rc (expected a usage error)"
rc=0
timeout 10 "$FERRY_BIN" -L "gopher://127.0.0.1:1" >"$T/badurl.out" 2>&1 || rc=$?
((rc != 0 && rc != 124)) || fail "ferry -L gopher://... exited $rc (expected an error)"
assert_contains "$(cat "$T/badurl.out")" "gopher" "error for a bad listener URL"

# --- ferry check ------------------------------------------------------------
cat >"$T/good.yaml" <<'EOF'
# a complete, valid configuration
workers: 2
log:
  level: info
  access: stderr
timeouts:
  connect: 500ms
  handshake: 10s
  idle: 5m
  dns: 2s
  shutdown: 1h
dns:
  servers: [127.0.0.1:5353, "[::1]:53"]
listeners:
  - name: main
    type: mixed
    listen: 127.0.0.1:17890
  - name: s
    type: socks
    listen: "[::1]:11080"
    users:
      - name: alice
        password: secret
  - type: http
    listen: :13128
EOF
out=$(timeout 10 "$FERRY_BIN" check -c "$T/good.yaml" 2>&1) ||
    fail "ferry check on a valid config exited $?: $out"

# bad NAME LINE COL(or '') WORD: ferry check must exit non-zero and say
# "FILE:LINE:COL: ..." mentioning WORD.  The config comes on stdin.
bad() {
    local name=$1 line=$2 col=$3 word=$4 f=$T/$1.yaml rc=0 out
    cat >"$f"
    out=$(timeout 10 "$FERRY_BIN" check -c "$f" 2>&1) || rc=$?
    ((rc != 0 && rc != 124)) || fail "ferry check $name: exit $rc, expected an error; output: $out"
    local re="^$f:$line:${col:-[0-9]+}: .+"
    grep -qE -- "$re" <<<"$out" ||
        fail "ferry check $name: expected a line matching /$re/, got: $out"
    grep -qiF -- "$word" <<<"$out" ||
        fail "ferry check $name: message should mention '$word', got: $out"
    say "check $name: $(head -n 1 <<<"$out")"
}
bad unknown-key 3 1 bogus <<'EOF'
workers: 1
log: {level: info}
bogus: 1
EOF
bad unknown-nested-key 5 5 colour <<'EOF'
listeners:
  - name: a
    type: http
    listen: 127.0.0.1:3128
    colour: red
EOF
bad bad-type 3 '' ftp <<'EOF'
listeners:
  - name: a
    type: ftp
    listen: 127.0.0.1:3128
EOF
bad bad-duration 3 '' connect <<'EOF'
workers: 1
timeouts:
  connect: 10 parsecs
EOF
bad bad-level 2 '' level <<'EOF'
log:
  level: loud
EOF
bad bad-listen 4 '' listen <<'EOF'
listeners:
  - name: a
    type: socks
    listen: 127.0.0.1:99999
EOF
bad not-a-number 1 '' workers <<'EOF'
workers: many
EOF
bad yaml-syntax 3 '' '' <<'EOF'
listeners:
  - name: a
   type: http
EOF
rc=0
out=$(timeout 10 "$FERRY_BIN" check -c "$T/does-not-exist.yaml" 2>&1) || rc=$?
((rc != 0 && rc != 124)) || fail "ferry check on a missing file exited $rc"
assert_contains "$out" "does-not-exist.yaml" "error for a missing config"
# Running (not checking) a bad config fails the same way, before listening.
rc=0
out=$(timeout 10 "$FERRY_BIN" -c "$T/bad-type.yaml" 2>&1) || rc=$?
((rc != 0 && rc != 124)) || fail "ferry -c bad-type.yaml exited $rc"
assert_contains "$out" "$T/bad-type.yaml:3:" "ferry -c with a bad config"

# --- --access-log PATH and off ------------------------------------------------
start_dnsmasq
start_py echo echo
ECHO=$PY_PORT
read -r P1 P2 < <(free_ports 2 | xargs)
start_ferry -L "http://127.0.0.1:$P1" --dns "127.0.0.1:$DNS_PORT" \
    --access-log "$T/access.log" --log-level error
A_PID=$FERRY_PID A_ERR=$FERRY_ERR
py - "$P1" "$ECHO" <<'PY'
import sys, ftlib
s = ftlib.open_http_tunnel(int(sys.argv[1]), "ok.ferry.test", int(sys.argv[2]))
s.sendall(b"x" * 1000)
ftlib.recv_exact(s, 1000)
s.close()
PY
line=$(wait_access_line "$T/access.log" "target=ok\.ferry\.test:$ECHO ")
check_access_line "$line" proto=http result=ok up=1000 down=1000
[[ -z $(access_lines "$A_ERR") ]] || fail "--access-log FILE still logged to stderr"
stop_ferry "$A_PID" "$A_ERR"

start_ferry -L "http://127.0.0.1:$P2" --dns "127.0.0.1:$DNS_PORT" --access-log off
py - "$P2" "$ECHO" <<'PY'
import sys, ftlib
s = ftlib.open_http_tunnel(int(sys.argv[1]), "127.0.0.1", int(sys.argv[2]))
s.close()
PY
sleep 0.5
[[ -z $(access_lines "$FERRY_ERR")$(access_lines "$FERRY_OUT") ]] ||
    fail "--access-log off still logged: $(access_lines "$FERRY_ERR")"
stop_ferry "$FERRY_PID" "$FERRY_ERR"

# --- the default run: no arguments ----------------------------------------------
if tcp_listening 7890; then
    fail "port 7890 is busy ($(ss -Hltnp 'sport = :7890')); the default-run test needs it free"
fi
start_nginx "$(free_port)"
WEB=$(sed -nE 's/.*listen 127\.0\.0\.1:([0-9]+).*/\1/p' "$T"/nginx-*/nginx.conf)
mkdir -p "$T/home"
(cd "$T/home" && HOME=$T/home start_ferry)
DEF_PID=$(pgrep -n -f "^$FERRY_BIN\$" || true)
[[ -n $DEF_PID ]] || fail "cannot find the default-run ferry"
wait_until 5 "export lines on ferry's stdout" grep -q 'ALL_PROXY=' "$T/ferry4.out"
out=$(cat "$T/ferry4.out")
assert_contains "$out" "export " "default run stdout"
assert_contains "$out" "http_proxy=http://127.0.0.1:7890" "default run stdout"
assert_contains "$out" "https_proxy=http://127.0.0.1:7890" "default run stdout"
assert_contains "$out" "ALL_PROXY=socks5h://127.0.0.1:7890" "default run stdout"
# The printed line works as shell.
(
    unset http_proxy https_proxy ALL_PROXY
    eval "$(grep -m1 '^export ' "$T/ferry4.out")"
    [[ $http_proxy == http://127.0.0.1:7890 && $ALL_PROXY == socks5h://127.0.0.1:7890 ]]
) || fail "the export line does not set http_proxy/ALL_PROXY: $(grep -m1 '^export ' "$T/ferry4.out")"
page=$(curl -sS --max-time 10 -p -x http://127.0.0.1:7890 "http://127.0.0.1:$WEB/") ||
    fail "curl -p -x http://127.0.0.1:7890 failed"
assert_eq "$NGINX_TOKEN" "$page" "page through the default http proxy"
page=$(curl -sS --max-time 10 -x socks5h://127.0.0.1:7890 "http://[::1]:$WEB/") ||
    fail "curl -x socks5h://127.0.0.1:7890 failed"
assert_eq "$NGINX_TOKEN" "$page" "page through the default socks proxy"
page=$(curl -sS --max-time 10 --socks4 127.0.0.1:7890 "http://127.0.0.1:$WEB/") ||
    fail "curl --socks4 127.0.0.1:7890 failed"
assert_eq "$NGINX_TOKEN" "$page" "page through the default socks4 proxy"
wait_access_line "$T/ferry4.err" "target=127\.0\.0\.1:$WEB .*result=ok" >/dev/null
stop_ferry "$DEF_PID" "$T/ferry4.err"

# --- SIGTERM during a transfer ----------------------------------------------------
start_py paced paced --bytes 6000000 --pace 3
PACED=$PY_PORT
P3=$(free_port)
cat >"$T/term.yaml" <<EOF
timeouts:
  shutdown: 15s
dns:
  servers: [127.0.0.1:$DNS_PORT]
listeners:
  - name: t
    type: mixed
    listen: 127.0.0.1:$P3
EOF
start_ferry -c "$T/term.yaml"
TERM_PID=$FERRY_PID TERM_ERR=$FERRY_ERR
PY_TIMEOUT=40 py - "$P3" "$PACED" "$TERM_PID" "$T/paced.out" <<'PY'
import os, signal, socket, sys, threading, time
import ftlib
from ftlib import expect, expect_eq

P, PACED, PID, LOG = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tunnels = [ftlib.open_tunnel(k, P, "127.0.0.1", PACED) for k in ("http", "socks5")]
res = {}


def reader(i, s):
    s.settimeout(20)
    res[i] = ftlib.recv_hash(s)


ths = [threading.Thread(target=reader, args=(i, s)) for i, s in enumerate(tunnels)]
for th in ths:
    th.start()
time.sleep(1.0)
os.kill(PID, signal.SIGTERM)
t_term = time.monotonic()
time.sleep(0.5)
# New connections are refused once ferry stops accepting.
try:
    c = socket.create_connection(("127.0.0.1", P), timeout=2)
    try:
        c.sendall(b"\x05\x01\x00")
        c.settimeout(2)
        got = c.recv(10)
    except (ConnectionResetError, socket.timeout):
        got = b"(reset or silent)"
    raise AssertionError(f"a new connection was accepted after SIGTERM "
                         f"(reply {got!r})")
except ConnectionRefusedError:
    pass
for th in ths:
    th.join(20)
want = ftlib.stream_sha(3, 6000000)
for i in range(2):
    expect(i in res, f"transfer {i} did not finish")
    expect_eq((6000000, want), res[i], f"transfer {i} after SIGTERM")
print(f"ok: both transfers completed {time.monotonic() - t_term:.1f}s after SIGTERM")
PY
rc=$(exit_status "$TERM_PID" 20) || fail "ferry still running 20s after SIGTERM with finished transfers"
assert_eq 0 "$rc" "ferry's exit status after SIGTERM"
_no_sanitizer_report "$TERM_ERR"

# SIGTERM with a relay that stays open: ferry exits (0) by timeouts.shutdown.
P4=$(free_port)
sed -e "s/shutdown: 15s/shutdown: 1s/" -e "s/:$P3/:$P4/" "$T/term.yaml" >"$T/term2.yaml"
start_ferry -c "$T/term2.yaml"
py - "$P4" "$ECHO" "$FERRY_PID" <<'PY'
import os, signal, sys, time
import ftlib
P, ECHO, PID = map(int, sys.argv[1:4])
s = ftlib.open_tunnel("socks5", P, "127.0.0.1", ECHO)   # left open
os.kill(PID, signal.SIGTERM)
t = time.monotonic()
s.settimeout(10)
try:
    ftlib.recv_until_eof(s)
except ConnectionResetError:
    pass
secs = time.monotonic() - t
ftlib.expect(0.5 < secs < 6, f"open relay closed {secs:.1f}s after SIGTERM "
             "(timeouts.shutdown is 1s)")
print(f"ok: open relay closed {secs:.1f}s after SIGTERM")
PY
rc=$(exit_status "$FERRY_PID" 10) || fail "ferry still running 10s after SIGTERM (shutdown: 1s)"
assert_eq 0 "$rc" "exit status after SIGTERM with an open relay"
_no_sanitizer_report "$FERRY_ERR"

# SIGINT on an idle ferry: exit 0, promptly.
P5=$(free_port)
start_ferry -L "mixed://127.0.0.1:$P5" --dns "127.0.0.1:$DNS_PORT"
kill -INT "$FERRY_PID"
rc=$(exit_status "$FERRY_PID" 10) || fail "ferry still running 10s after SIGINT"
assert_eq 0 "$rc" "exit status after SIGINT"
tcp_listening "$P5" && fail "port $P5 still listening after ferry exited"
_no_sanitizer_report "$FERRY_ERR"
finish
