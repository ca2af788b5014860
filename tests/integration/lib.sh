# lib.sh: the harness every tests/integration/t_*.sh sources.
#
# Where it sits: ctest runs each t_*.sh as `bash t_x.sh` with FERRY_BIN,
# FERRY_BUILD and FERRY_SRC set.  A test sources this file, starts what it
# needs (ferry, dnsmasq, nginx, python servers from ftlib.py), drives real
# clients through ferry, asserts outcomes and calls `finish`.
#
# What it gives:
#   - strict mode, a per-test temp dir $T, an EXIT trap that prints the
#     logs when the test failed, kills every process the test started
#     (each runs in its own process group) and removes $T;
#   - free_port / free_ports, wait_until (every wait is bounded);
#   - start_ferry, start_dnsmasq, start_nginx, start_https_server,
#     start_sshd, start_squid, make_cert, start_udp_echo, start_py (a
#     server from ftlib.py that prints "PORT n");
#   - IT_NETNS: set for a call (IT_NETNS=ns start_ferry ...), spawn runs
#     in that network namespace and tcp_listening / udp_bound look there
#     (netns.sh builds on it);
#   - skip (exit 77, which ctest counts as skipped where the test says so),
#     fail, soft_fail, assert_eq, assert_ne, assert_contains, assert_not_contains,
#     assert_match, assert_file_contains;
#   - access-log helpers: wait_access_line, log_field, assert_no_secret.
#
# Only loopback addresses are used (netns.sh tests: their own namespaces).
# Set FERRY_IT_KEEP=1 to keep $T.

set -Eeuo pipefail
shopt -s inherit_errexit

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
: "${FERRY_SRC:=$(cd "$IT_DIR/../.." && pwd)}"
if [[ -z ${FERRY_BIN:-} && -n ${FERRY_BUILD:-} ]]; then
    FERRY_BIN=$FERRY_BUILD/ferry
fi
export IT_DIR FERRY_SRC
export PYTHONPATH=$IT_DIR${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1 # keep the source tree clean
export LC_ALL=C
# No proxy from the environment may leak into a client we run.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy \
      no_proxy NO_PROXY ftp_proxy FTP_PROXY
# Sanitizer builds: reports go to ferry's stderr, where ferry_healthy and
# stop_ferry look for them; leaks are reported when ferry exits.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

_PIDS=()       # every background process we started (= its process group)
_PNAMES=()     # a name for each, for messages
_FERRY_PIDS=() # the ferry instances among them
_FERRY_N=0
_FINISHED=0
_CLEANUP_HOOKS=() # functions _cleanup calls after killing the processes

say() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }

fail() {
    printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
    exit 1
}

# skip MSG: the test cannot run here (exit 77, SKIP_RETURN_CODE in
# tests/CMakeLists.txt for the tests that use it).
skip() {
    printf '[%s] SKIP: %s\n' "$TEST_NAME" "$*" >&2
    exit 77
}

# soft_fail MSG: record a failure and go on; finish fails the test.  For
# independent checks where one run should report every failure.
_SOFT_FAILS=()
soft_fail() {
    printf '[%s] FAIL (continuing): %s\n' "$TEST_NAME" "$*" >&2
    _SOFT_FAILS+=("$*")
}

_on_err() {
    local rc=$1 line=$2 cmd=$3 i where=""
    # Name the failing line of the test script itself (and the helper's
    # line when the command ran inside a lib.sh function).
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [[ ${BASH_SOURCE[i]} == "$0" ]]; then
            where="$(basename "$0") line ${BASH_LINENO[i - 1]}"
            break
        fi
    done
    [[ -n $where ]] || where="$(basename "$0") line $line"
    if [[ ${BASH_SOURCE[1]:-} != "$0" ]]; then
        where+=" (in ${FUNCNAME[1]:-?}, $(basename "${BASH_SOURCE[1]:-?}") line $line)"
    fi
    printf '[%s] FAIL: command exited %s at %s: %s\n' \
        "$TEST_NAME" "$rc" "$where" "$cmd" >&2
}
trap '_on_err $? $LINENO "$BASH_COMMAND"' ERR

T=$(mktemp -d "/tmp/ferry-it.$TEST_NAME.XXXXXX")
export T

_dump_logs() {
    local f
    local -A seen=()
    # ferry's own output first, then everything else the test started.
    for f in "$T"/ferry*.err "$T"/ferry*.out "$T"/*.err "$T"/*.out \
        "$T"/*.log "$T"/*/error.log; do
        [[ -f $f && -s $f && -z ${seen[$f]:-} ]] || continue
        seen[$f]=1
        printf -- '----- %s (last 40 lines) -----\n' "${f#"$T"/}" >&2
        tail -n 40 "$f" >&2 || true
    done
}

_kill_all() {
    local i pid deadline
    for ((i = ${#_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${_PIDS[i]}
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + 5))
    for pid in "${_PIDS[@]}"; do
        while _alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
        if _alive "$pid"; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        # Process-group members that outlived the leader (sshd children,
        # nginx workers) get the same treatment.
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
}

_cleanup() {
    local rc=$?
    trap - ERR
    set +e
    if ((rc != 0 && rc != 77)); then
        _dump_logs
        if [[ ${FERRY_IT_KEEP:-0} != 1 ]]; then
            say "(FERRY_IT_KEEP=1 keeps the temp dir and its logs)"
        fi
    fi
    _kill_all
    local h
    for h in "${_CLEANUP_HOOKS[@]}"; do "$h"; done
    if ((rc == 0 && _FINISHED == 0)); then
        printf '[%s] FAIL: test exited 0 without calling finish\n' \
            "$TEST_NAME" >&2
        rc=1
    fi
    if [[ ${FERRY_IT_KEEP:-0} == 1 ]]; then
        say "kept $T"
    else
        rm -rf "$T"
    fi
    if ((rc == 0)); then
        say "PASS"
    elif ((rc == 77)); then
        say "SKIPPED"
    else
        say "FAILED (exit $rc)"
    fi
    exit "$rc"
}
trap _cleanup EXIT
trap 'exit 143' TERM HUP
trap 'exit 130' INT

# A watchdog outlives this shell if it is killed outright (SIGKILL, e.g. a
# ctest timeout): it then kills every process group spawn started, every
# process in the network namespaces listed in $T/.netns (netns.sh) and
# those namespaces, and removes $T.  On a normal exit _cleanup has done
# that already.
setsid bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    if [[ -f $2/.pgids ]]; then
        while read -r g; do kill -KILL -- "-$g" 2>/dev/null; done <"$2/.pgids"
    fi
    if [[ -f $2/.netns ]]; then
        while read -r n; do
            ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
            ip netns del "$n" 2>/dev/null
        done <"$2/.netns"
    fi
    [[ $3 == 1 ]] || rm -rf "$2"
' ferry-it-watchdog "$$" "$T" "${FERRY_IT_KEEP:-0}" </dev/null >/dev/null 2>&1 &

# --- tools -------------------------------------------------------------------

# need_tools CMD...: fail (never skip) when a tool the test uses is missing.
need_tools() {
    local t missing=()
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || [[ -x $t ]] || missing+=("$t")
    done
    if ((${#missing[@]})); then
        fail "missing tools: ${missing[*]} (run scripts/install-test-deps.sh)"
    fi
}
need_tools python3 curl ss timeout setsid openssl
[[ -n ${FERRY_BIN:-} ]] || fail "FERRY_BIN is not set (run through ctest, or export FERRY_BIN=/path/to/ferry)"
[[ -x $FERRY_BIN ]] || fail "FERRY_BIN=$FERRY_BIN is not an executable (build ferry first)"

# py ARGS...: python3 with a hard time limit (PY_TIMEOUT seconds, default 60).
py() { timeout -k 5 "${PY_TIMEOUT:-60}" python3 "$@"; }

# --- assertions --------------------------------------------------------------

assert_eq() { # EXPECTED ACTUAL [WHAT]
    [[ $1 == "$2" ]] || fail "${3:-value}: expected '$1', got '$2'"
}
assert_ne() { # UNEXPECTED ACTUAL [WHAT]
    [[ $1 != "$2" ]] || fail "${3:-value}: expected anything but '$1'"
}
assert_contains() { # HAYSTACK NEEDLE [WHAT]
    [[ $1 == *"$2"* ]] ||
        fail "${3:-output}: expected to contain '$2', got: $(printf '%q' "$1")"
}
assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
    [[ $1 != *"$2"* ]] ||
        fail "${3:-output}: must not contain '$2', got: $(printf '%q' "$1")"
}
assert_match() { # STRING ERE [WHAT]
    [[ $1 =~ $2 ]] ||
        fail "${3:-value}: expected to match /$2/, got: $(printf '%q' "$1")"
}
assert_file_contains() { # FILE NEEDLE [WHAT]
    grep -qF -- "$2" "$1" ||
        fail "${3:-$1}: expected to contain '$2'; it has: $(tail -n 20 "$1")"
}

# --- waiting -----------------------------------------------------------------

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 50 ms; fail after
# SECONDS with DESCRIPTION.
wait_until() {
    local limit=$1 what=$2
    shift 2
    local now start=${EPOCHREALTIME/./}
    local end=$((start + limit * 1000000))
    while :; do
        if "$@"; then return 0; fi
        now=${EPOCHREALTIME/./}
        ((now < end)) || fail "timed out after ${limit}s waiting for: $what"
        sleep 0.05
    done
}

# now_ms: wall-clock milliseconds.
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

_alive() { # PID: running (not a zombie, not reaped)
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}
alive() { _alive "$@"; }

# _in_netns CMD...: CMD in the network namespace $IT_NETNS when it is set.
_in_netns() {
    if [[ -n ${IT_NETNS:-} ]]; then
        ip netns exec "$IT_NETNS" "$@"
    else
        "$@"
    fi
}

tcp_listening() { # PORT [ADDR]
    local out
    out=$(_in_netns ss -Hltn "sport = :$1" 2>/dev/null) || return 1
    [[ -n $out ]] || return 1
    [[ -z ${2:-} ]] || [[ $out == *"$2:$1"* ]]
}
udp_bound() { # PORT
    [[ -n $(_in_netns ss -Hlun "sport = :$1" 2>/dev/null) ]]
}

# free_ports N: print N distinct unused loopback ports, one a line (free
# for TCP on 127.0.0.1 and ::1 and UDP on 127.0.0.1, below the ephemeral
# range; see ftlib.pick_ports).
free_ports() {
    python3 -c 'import sys, ftlib; print(*ftlib.pick_ports(int(sys.argv[1])), sep="\n")' "$1"
}
free_port() { free_ports 1; }

# --- processes ---------------------------------------------------------------

# spawn NAME CMD...: start CMD in the background in its own process group
# (in the network namespace $IT_NETNS when it is set: `ip netns exec`
# execs, so the PID is CMD's), stdout/stderr to $T/NAME.out / $T/NAME.err.
# Sets SPAWNED_PID.
spawn() {
    local name=$1 ns=()
    shift
    [[ -z ${IT_NETNS:-} ]] || ns=(ip netns exec "$IT_NETNS")
    setsid "${ns[@]}" env --default-signal=INT,QUIT "$@" \
        >"$T/$name.out" 2>"$T/$name.err" </dev/null &
    SPAWNED_PID=$!
    echo "$SPAWNED_PID" >>"$T/.pgids"
    _PIDS+=("$SPAWNED_PID")
    _PNAMES+=("$name")
}

# wait_exit PID SECONDS: wait (bounded) for our child PID to exit and set
# EXIT_RC to its exit status (128+N for a signal).  Returns 1 when it is
# still running after SECONDS.  Not in a $(...) subshell: only this shell
# can collect its children's status.
wait_exit() {
    local pid=$1 limit=$2
    local deadline=$((SECONDS + limit))
    while _alive "$pid"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
    EXIT_RC=0
    wait "$pid" 2>/dev/null || EXIT_RC=$?
    return 0
}

# --- ferry -------------------------------------------------------------------

_ports_from_args() {
    local a prev="" url ports=() any=0 p
    for a in "$@"; do
        case $prev in
        -L)
            any=1
            url=${a%/}
            ports+=("${url##*:}")
            ;;
        -c)
            any=1
            while read -r p; do ports+=("$p"); done < <(
                sed -nE 's/^[[:space:]-]*listen:[[:space:]]*"?([^"#[:space:]]*)"?.*/\1/p' "$a" |
                    sed -E 's/.*:([0-9]+)$/\1/')
            ;;
        esac
        prev=$a
    done
    ((any)) || ports=(7890)
    echo "${ports[*]}"
}

# start_ferry ARGS...: run $FERRY_BIN ARGS in the background.  Waits until
# every listener port (from -L URLs, `listen:` lines of -c FILE, 7890 with
# neither; or $FERRY_PORTS) accepts, failing with ferry's log otherwise.
# Sets FERRY_PID, FERRY_OUT, FERRY_ERR (stdout/stderr files).
start_ferry() {
    local ports p name
    ports=${FERRY_PORTS:-$(_ports_from_args "$@")}
    _FERRY_N=$((_FERRY_N + 1))
    name=ferry$_FERRY_N
    spawn "$name" "$FERRY_BIN" "$@"
    FERRY_PID=$SPAWNED_PID
    FERRY_OUT=$T/$name.out
    FERRY_ERR=$T/$name.err
    _FERRY_PIDS+=("$FERRY_PID")
    local deadline=$((SECONDS + 15))
    for p in $ports; do
        while ! tcp_listening "$p"; do
            if ! _alive "$FERRY_PID"; then
                wait_exit "$FERRY_PID" 1 || true
                fail "ferry ($*) exited with status ${EXIT_RC:-?} before listening on $p; stderr: $(cat "$FERRY_ERR")"
            fi
            ((SECONDS < deadline)) ||
                fail "ferry ($*) did not listen on port $p within 15s; stderr: $(cat "$FERRY_ERR")"
            sleep 0.05
        done
    done
    _alive "$FERRY_PID" ||
        fail "ferry ($*) died right after start; stderr: $(cat "$FERRY_ERR")"
    say "ferry pid $FERRY_PID listening on $ports"
}

# ferry_healthy [PID [ERRFILE]]: ferry still runs and reported no
# sanitizer error.
ferry_healthy() {
    local pid=${1:-$FERRY_PID} err=${2:-$FERRY_ERR}
    _alive "$pid" || fail "ferry (pid $pid) is no longer running; stderr: $(tail -n 40 "$err")"
    _no_sanitizer_report "$err"
}

_no_sanitizer_report() {
    if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$1"; then
        fail "sanitizer report in $1: $(grep -m1 -A30 -E 'Sanitizer|runtime error:' "$1")"
    fi
}

# stop_ferry PID ERRFILE [SECONDS]: SIGTERM, expect exit 0 within SECONDS
# (default 15) and no sanitizer report (leaks are reported at exit).
stop_ferry() {
    local pid=$1 err=$2 limit=${3:-15}
    _alive "$pid" || fail "ferry (pid $pid) died before the end of the test; stderr: $(tail -n 40 "$err")"
    kill -TERM "$pid"
    wait_exit "$pid" "$limit" ||
        fail "ferry (pid $pid) still running ${limit}s after SIGTERM"
    _no_sanitizer_report "$err"
    local rc=$EXIT_RC
    [[ $rc == 0 ]] || fail "ferry (pid $pid) exited with status $rc on SIGTERM (expected 0); stderr: $(tail -n 20 "$err")"
}

# finish: every ferry this test started must still be running; each is
# stopped with SIGTERM and must exit 0 cleanly; no soft_fail may have
# happened.  Call at the end of a test.
finish() {
    local i pid m
    for pid in "${_FERRY_PIDS[@]}"; do
        for i in "${!_PIDS[@]}"; do
            [[ ${_PIDS[i]} == "$pid" ]] || continue
            if _alive "$pid"; then
                stop_ferry "$pid" "$T/${_PNAMES[i]}.err"
            fi
        done
    done
    _FINISHED=1
    if ((${#_SOFT_FAILS[@]})); then
        for m in "${_SOFT_FAILS[@]}"; do
            printf '[%s]   failed: %s\n' "$TEST_NAME" "$m" >&2
        done
        fail "${#_SOFT_FAILS[@]} check(s) failed (listed above)"
    fi
}

# --- access log --------------------------------------------------------------

# mark_log FILE: from now on access_lines / wait_access_line look only at
# lines FILE gets after this point (so an older line cannot satisfy a wait).
declare -A _LOG_MARK=()
mark_log() { _LOG_MARK[$1]=$(wc -l <"$1"); }

# access_lines FILE: the access-log lines in FILE (after its mark).
access_lines() {
    tail -n "+$((${_LOG_MARK[$1]:-0} + 1))" "$1" |
        grep -E '(^|[[:space:]])access client=' || true
}

# wait_access_line FILE ERE [SECONDS]: wait for an access-log line matching
# ERE (extended regex over the whole line) after FILE's mark; print the
# last such line.
wait_access_line() {
    local file=$1 re=$2 limit=${3:-10} line
    local deadline=$((SECONDS + limit + 1))
    while :; do
        line=$(access_lines "$file" | grep -E -- "$re" | tail -n 1) || true
        if [[ -n $line ]]; then
            printf '%s\n' "$line"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            fail "no access-log line matching /$re/ in $file within ${limit}s; access lines: $(access_lines "$file")"
        fi
        sleep 0.05
    done
}

# log_field LINE KEY: the value of KEY=VALUE in an access-log line.
log_field() {
    local v
    v=$(printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1)
    printf '%s' "$v"
}

# check_access_line LINE KEY=ERE...: each field must match its anchored ERE.
check_access_line() {
    local line=$1 kv key re val
    shift
    for kv in "$@"; do
        key=${kv%%=*}
        re=${kv#*=}
        val=$(log_field "$line" "$key")
        [[ $val =~ ^($re)$ ]] ||
            fail "access log field $key: expected /^($re)$/, got '$val' in: $line"
    done
}

# assert_no_secret SECRET FILE...: SECRET appears in none of FILE.
assert_no_secret() {
    local secret=$1 f
    shift
    for f in "$@"; do
        [[ -f $f ]] || continue
        if grep -qF -- "$secret" "$f"; then
            fail "a password leaked into $f: $(grep -F -- "$secret" "$f" | head -n 3)"
        fi
    done
}

# --- helpers: DNS, HTTP(S) servers, python servers ---------------------------

# start_dnsmasq [EXTRA-ARGS...]: a resolver on 127.0.0.1:$DNS_PORT that
# answers only for ferry.test (NXDOMAIN for unknown names there):
#   ok.ferry.test -> 127.0.0.1, v6.ferry.test -> ::1,
#   dual.ferry.test -> 127.0.0.1 and ::1.
start_dnsmasq() {
    need_tools dnsmasq
    DNS_PORT=$(free_port)
    spawn dnsmasq dnsmasq -k --conf-file=/dev/null --pid-file= \
        --user="$(id -un)" --group="$(id -gn)" \
        --no-resolv --no-hosts --no-poll --bind-interfaces \
        --listen-address=127.0.0.1 --port="$DNS_PORT" --log-queries \
        --log-facility=- --local=/ferry.test/ \
        --address=/ok.ferry.test/127.0.0.1 --address=/v6.ferry.test/::1 \
        --address=/dual.ferry.test/127.0.0.1 --address=/dual.ferry.test/::1 \
        "$@"
    DNSMASQ_PID=$SPAWNED_PID
    wait_until 10 "dnsmasq on udp port $DNS_PORT" udp_bound "$DNS_PORT"
    _alive "$DNSMASQ_PID" || fail "dnsmasq died: $(cat "$T/dnsmasq.err")"
}

# make_cert NAME [SAN...]: a self-signed certificate $T/NAME.crt/.key for
# ok.ferry.test, localhost, 127.0.0.1 and ::1, and each SAN given
# (DNS:name or IP:address).
make_cert() {
    local name=$1 san="" a
    shift
    for a in "$@"; do san+=",$a"; done
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 2 -subj "/CN=ok.ferry.test" \
        -addext "subjectAltName=DNS:ok.ferry.test,DNS:dual.ferry.test,DNS:v6.ferry.test,DNS:localhost,IP:127.0.0.1,IP:::1$san" \
        -keyout "$T/$name.key" -out "$T/$name.crt" \
        >"$T/openssl-$name.log" 2>&1 ||
        fail "openssl req failed: $(cat "$T/openssl-$name.log")"
}

# tunnel_secrets: a gateway certificate ($T/gw.crt and .key, make_cert),
# FP its SHA-256 pin (openssl's "... Fingerprint=..." line, which ferry
# takes as is), and a fresh TOKEN, also written to $T/token.
tunnel_secrets() {
    make_cert gw
    FP=$(openssl x509 -in "$T/gw.crt" -noout -fingerprint -sha256)
    TOKEN="tok-$RANDOM-$RANDOM-$RANDOM"
    printf '%s\n' "$TOKEN" >"$T/token"
}

# start_halfclose_servers: ftlib's halfclose servers for
# ftlib.halfclose_client_first (port CF, pacing its 3,000,000-byte answer
# over 1.5 s) and ftlib.halfclose_server_first (port SF, its stdout in
# SF_LOG).
start_halfclose_servers() {
    start_py hc-client-first halfclose --mode client-first \
        --bytes 3000000 --pace 1.5
    CF=$PY_PORT
    start_py hc-server-first halfclose --mode server-first --bytes 3000000
    SF=$PY_PORT
    SF_LOG=$T/hc-server-first.out
}

# start_sshd PORT FORWARDING [ADDR]: an sshd on ADDR:PORT (default
# 127.0.0.1) with its own host key ($T/host_key) and a client key ($T/id)
# it accepts, no PAM, no strict modes; FORWARDING is its
# AllowTcpForwarding (no, remote, ...).
start_sshd() {
    local port=$1 fwd=$2 addr=${3:-127.0.0.1}
    need_tools ssh-keygen /usr/sbin/sshd
    mkdir -p /run/sshd
    # shellcheck source=../../scripts/lib/sshd.sh
    source "$FERRY_SRC/scripts/lib/sshd.sh"
    sshd_setup "$T" "$port" "$addr" "$fwd" "LogLevel VERBOSE" ||
        fail "sshd -t rejected the config: $(cat "$T/sshd-t.err")"
    spawn sshd /usr/sbin/sshd -D -e -f "$T/sshd_config"
    wait_until 10 "sshd on port $port" tcp_listening "$port"
}

# start_squid NAME CONF: a squid (-N, no cache) with the directives CONF
# (http_port lines, acls, http_access ...) and its own service name, pid
# file and logs: $T/NAME-access.log (native format), $T/NAME-cache.log.
# As root, squid runs as "proxy", which must reach $T (chmod 711).  Waits
# for the port of every http_port line.  Sets SQUID_PID.
start_squid() {
    need_tools squid
    local name=$1 conf=$2 d=$T/$1 svc="ferryit$$$1" p
    mkdir -p "$d"
    : >"$T/$name-cache.log"
    : >"$T/$name-access.log"
    local as_user=""
    if ((EUID == 0)); then
        as_user="cache_effective_user proxy"
        chmod 711 "$T"
        chown -R proxy: "$d" "$T/$name-cache.log" "$T/$name-access.log"
    fi
    cat >"$d/squid.conf" <<EOF
$conf
$as_user
pid_filename $d/squid.pid
cache_log $T/$name-cache.log
access_log stdio:$T/$name-access.log squid
cache deny all
cache_mem 8 MB
coredump_dir $d
visible_hostname ferry-it
shutdown_lifetime 1 second
EOF
    squid -k parse -f "$d/squid.conf" >"$T/$name-parse.log" 2>&1 ||
        fail "squid.conf does not parse: $(tail -n 5 "$T/$name-parse.log")"
    # -n: a service name of our own, so the shared-memory segments squid
    # creates even without workers do not meet another squid's.
    spawn "$name" squid -N -n "$svc" -f "$d/squid.conf"
    SQUID_PID=$SPAWNED_PID
    for p in $(sed -nE 's/^http_port ([^ ]*:)?([0-9]+).*/\2/p' \
        "$d/squid.conf"); do
        wait_until 20 "squid on port $p" tcp_listening "$p"
    done
    # The segments are open in squid; their names are not needed again.
    rm -f /dev/shm/"$svc"-*
    _alive "$SQUID_PID" ||
        fail "squid died: $(tail -n 20 "$T/$name-cache.log")"
}

# start_nginx PORT [CERT-NAME]: nginx on 127.0.0.1:PORT and [::1]:PORT
# (TLS with $T/CERT-NAME.crt when given).  Serves $T/www-PORT/:
# index.html holds the token in $NGINX_TOKEN; /big is 1 MiB of random.
# NGINX_SERVER_EXTRA, when set, is added to the server block (more
# listen lines, locations).
start_nginx() {
    need_tools nginx
    local port=$1 cert=${2:-} dir=$T/nginx-$1 ssl="" tls_conf=""
    mkdir -p "$dir/tmp" "$T/www-$port"
    NGINX_TOKEN="ferry-it-page-$port-$RANDOM$RANDOM"
    printf '%s\n' "$NGINX_TOKEN" >"$T/www-$port/index.html"
    head -c 1048576 /dev/urandom >"$T/www-$port/big"
    if [[ -n $cert ]]; then
        ssl=" ssl"
        tls_conf="ssl_certificate $T/$cert.crt; ssl_certificate_key $T/$cert.key;"
    fi
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
$( ((EUID == 0)) && echo "user root;")
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 512; }
http {
    access_log $dir/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type text/plain;
    keepalive_timeout 5s;
    server {
        listen 127.0.0.1:$port$ssl;
        listen [::1]:$port$ssl;
        $tls_conf
        root $T/www-$port;
        location = /host { return 200 "host=\$host remote=\$remote_addr\n"; }
        ${NGINX_SERVER_EXTRA:-}
    }
}
EOF
    spawn "nginx-$port" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    wait_until 10 "nginx on port $port" tcp_listening "$port"
    _alive "$SPAWNED_PID" || fail "nginx died: $(cat "$dir/error.log")"
}

# start_https_server PORT: make_cert "https" and start nginx with TLS.
start_https_server() {
    make_cert https
    CERT=$T/https.crt
    start_nginx "$1" https
}

# start_py NAME ARGS...: run `python3 ftlib.py ARGS` in the background; it
# prints "PORT n" when it listens.  Sets PY_PORT and PY_PID.
start_py() {
    local name=$1
    shift
    spawn "$name" python3 -u "$IT_DIR/ftlib.py" "$@"
    PY_PID=$SPAWNED_PID
    wait_until 10 "$name to print its port" grep -qs '^PORT ' "$T/$name.out"
    PY_PORT=$(sed -n 's/^PORT //p' "$T/$name.out" | head -n 1)
    _alive "$PY_PID" || fail "$name died: $(cat "$T/$name.err")"
}

UDPC=$IT_DIR/socks_udp_client.py # the SOCKS5 UDP client, for tests

# start_udp_echo NAME HOST [PORT]: socks_udp_client.py's UDP echo server
# on HOST (port chosen by the kernel unless given); it logs "GOT SRC LEN"
# per datagram to $T/NAME.out.  Sets UDP_PORT.
start_udp_echo() {
    spawn "$1" python3 -u "$UDPC" echo-server \
        --host "$2" --port "${3:-0}"
    wait_until 10 "$1 to print its port" grep -qs '^PORT ' "$T/$1.out"
    UDP_PORT=$(sed -n 's/^PORT //p' "$T/$1.out" | head -n 1)
    _alive "$SPAWNED_PID" || fail "$1 died: $(cat "$T/$1.err")"
}

# curl_code [-w FORMAT] ARGS...: what curl's -w FORMAT (default
# %{http_code}) prints for a request, whether curl fails or not; the body
# is dropped and curl's stderr goes to $T/curl.err.
curl_code() {
    local fmt='%{http_code}'
    if [[ ${1:-} == -w ]]; then
        fmt=$2
        shift 2
    fi
    curl -sS -o /dev/null --max-time 10 -w "$fmt" "$@" 2>>"$T/curl.err" || true
}
