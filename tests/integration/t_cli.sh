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
grep -qiE 'gopher|scheme' "$T/badurl.out" ||
    fail "error for -L gopher://... should name the URL or scheme: $(cat "$T/badurl.out")"

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

# bad NAME LINE COLS WORDS: ferry check must exit non-zero and say
# "FILE:LINE:COL: reason" where COL matches COLS (an ERE: the column of the
# offending key or of its value), the output mentioning one of WORDS (an
# ERE, any case).  The config comes on stdin.  A wrong message is a
# soft_fail, so that one run reports all of them.
bad() {
    local name=$1 line=$2 col=$3 word=$4 f=$T/$1.yaml rc=0 out
    cat >"$f"
    out=$(timeout 10 "$FERRY_BIN" check -c "$f" 2>&1) || rc=$?
    say "check $name: exit $rc: $(head -n 1 <<<"$out")"
    if ((rc == 0 || rc == 124)); then
        soft_fail "ferry check $name: exit $rc, expected an error; output: $out"
        return
    fi
    # (a "ferry: " program-name prefix is tolerated)
    local re="^(ferry: )?$f:$line:($col): .+"
    if ! grep -qE -- "$re" <<<"$out"; then
        soft_fail "ferry check $name: expected a line matching /$re/, got: $out"
    elif ! grep -qiE -- "$word" <<<"$out"; then
        soft_fail "ferry check $name: message should mention /$word/, got: $out"
    fi
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
bad bad-type 3 '5|11' 'ftp|type' <<'EOF'
listeners:
  - name: a
    type: ftp
    listen: 127.0.0.1:3128
EOF
bad bad-duration 3 '3|12' 'connect|parsecs|duration' <<'EOF'
workers: 1
timeouts:
  connect: 10 parsecs
EOF
bad bad-level 2 '3|10' 'loud|level' <<'EOF'
log:
  level: loud
EOF
bad bad-listen 4 '5|13' '99999|listen|port' <<'EOF'
listeners:
  - name: a
    type: socks
    listen: 127.0.0.1:99999
EOF
bad not-a-number 3 '3|15' 'many|cache_size|integer|number' <<'EOF'
workers: 2
dns:
  cache_size: many
EOF
bad yaml-syntax 3 '[0-9]+' '.' <<'EOF'
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
read -r P1 P2 P0 < <(free_ports 3 | xargs)
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
check_access_line "$line" proto=http result=ok "up=[0-9]+" "down=[0-9]+"
up=$(log_field "$line" up)
down=$(log_field "$line" down)
((up >= 1000 && up <= 2024 && down >= 1000 && down <= 2024)) ||
    fail "access log up=$up down=$down, expected 1000 each"
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

start_ferry -L "socks://127.0.0.1:$P0" --dns "127.0.0.1:$DNS_PORT" --access-log stdout
py - "$P0" "$ECHO" <<'PY'
import sys, ftlib
s = ftlib.open_tunnel("socks5", int(sys.argv[1]), "127.0.0.1", int(sys.argv[2]))
s.close()
PY
line=$(wait_access_line "$FERRY_OUT" "proto=socks5 .*target=127\.0\.0\.1:$ECHO ")
check_access_line "$line" result=ok
[[ -z $(access_lines "$FERRY_ERR") ]] || fail "--access-log stdout still logged to stderr"
stop_ferry "$FERRY_PID" "$FERRY_ERR"

# --- the default run: no arguments ----------------------------------------------
if tcp_listening 7890; then
    fail "port 7890 is busy ($(ss -Hltnp 'sport = :7890')); the default-run test needs it free"
fi
WEB=$(free_port)
start_nginx "$WEB"
mkdir -p "$T/home"
cd "$T/home" # nothing here for ferry to pick up
HOME=$T/home start_ferry
cd "$T"
DEF_PID=$FERRY_PID DEF_OUT=$FERRY_OUT DEF_ERR=$FERRY_ERR
wait_until 5 "export lines on ferry's stdout" grep -q 'ALL_PROXY=' "$DEF_OUT"
out=$(cat "$DEF_OUT")
assert_contains "$out" "export " "default run stdout"
assert_contains "$out" "http_proxy=http://127.0.0.1:7890" "default run stdout"
assert_contains "$out" "https_proxy=http://127.0.0.1:7890" "default run stdout"
assert_contains "$out" "ALL_PROXY=socks5h://127.0.0.1:7890" "default run stdout"
# The printed export lines work as shell.
(
    unset http_proxy https_proxy ALL_PROXY
    eval "$(grep -E '^[[:space:]]*export ' "$DEF_OUT")"
    [[ $http_proxy == http://127.0.0.1:7890 && $ALL_PROXY == socks5h://127.0.0.1:7890 ]]
) || fail "the export lines do not set http_proxy/ALL_PROXY: $(cat "$DEF_OUT")"
page=$(curl -sS --max-time 10 -p -x http://127.0.0.1:7890 "http://127.0.0.1:$WEB/") ||
    fail "curl -p -x http://127.0.0.1:7890 failed"
assert_eq "$NGINX_TOKEN" "$page" "page through the default http proxy"
page=$(curl -sS --max-time 10 -x socks5h://127.0.0.1:7890 "http://[::1]:$WEB/") ||
    fail "curl -x socks5h://127.0.0.1:7890 failed"
assert_eq "$NGINX_TOKEN" "$page" "page through the default socks proxy"
page=$(curl -sS --max-time 10 --socks4 127.0.0.1:7890 "http://127.0.0.1:$WEB/") ||
    fail "curl --socks4 127.0.0.1:7890 failed"
assert_eq "$NGINX_TOKEN" "$page" "page through the default socks4 proxy"
wait_access_line "$DEF_ERR" "target=127\.0\.0\.1:$WEB .*result=ok" >/dev/null
stop_ferry "$DEF_PID" "$DEF_ERR"

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
tunnels = [ftlib.open_tunnel(k, P, "127.0.0.1", PACED, server_first=True)
           for k in ("http", "socks5")]
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
wait_exit "$TERM_PID" 20 || fail "ferry still running 20s after SIGTERM with finished transfers"
assert_eq 0 "$EXIT_RC" "ferry's exit status after SIGTERM"
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
wait_exit "$FERRY_PID" 10 || fail "ferry still running 10s after SIGTERM (shutdown: 1s)"
assert_eq 0 "$EXIT_RC" "exit status after SIGTERM with an open relay"
_no_sanitizer_report "$FERRY_ERR"

# SIGINT on an idle ferry: exit 0, promptly.
P5=$(free_port)
start_ferry -L "mixed://127.0.0.1:$P5" --dns "127.0.0.1:$DNS_PORT"
kill -INT "$FERRY_PID"
wait_exit "$FERRY_PID" 10 || fail "ferry still running 10s after SIGINT"
assert_eq 0 "$EXIT_RC" "exit status after SIGINT"
tcp_listening "$P5" && fail "port $P5 still listening after ferry exited"
_no_sanitizer_report "$FERRY_ERR"
finish
