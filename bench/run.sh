#!/usr/bin/env bash
# bench/run.sh - ferry against its peers, side by side, on loopback.
#
# Builds ferry (Release) and ferrybench, starts the ferrybench server, then
# runs every target ONE AT A TIME: the ferry variant that a peer is compared
# with runs right before that peer (ferry, peer, ferry, peer, ... R times).
# Prints one table of medians and ferry/peer ratios and writes it to
# bench/results/latest.md (raw lines: bench/results/latest.log).
# See bench/README.md for what each number means.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(dirname "$BENCH_DIR")
PEERS="haproxy-splice haproxy-copy squid tinyproxy dante microsocks"
ALL_TARGETS="ferry-connect ferry-socks5 $PEERS"
KEYS="single multi rtt50 rtt99 rate idle"

usage() {
    cat <<'EOF'
usage: bench/run.sh [options]
  --quick            smoke run: small sizes, short windows, 1 repetition
                     (unless --reps is given)
  --only LIST        comma list of targets: ferry (both variants),
                     ferry-connect, ferry-socks5, haproxy (both variants),
                     haproxy-splice, haproxy-copy, squid, tinyproxy, dante,
                     microsocks
  --reps N           repetitions of each ferry/peer pair (default 3)
  --ferry PATH       use this ferry binary instead of building one
  --rev REV          build ferry from git revision REV (git archive) instead
                     of the working tree
  --build-dir DIR    where ferry and ferrybench are built
                     (default bench/.build)
  --workers N        pass --workers N to ferry
  --port-base N      loopback ports N..N+50 (default 24000)
  --bytes SIZE       single-stream download size (default 2G)
  --conns K          idle connections for the RSS metric (default 5000)
  --max-minutes M    stop starting new repetitions after M minutes (30)
  --no-install       never call apt-get
EOF
    exit 2
}

die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# ------------------------------------------------------------ options

REPS=""
QUICK=0
ONLY=""
FERRY_BIN=""
FERRY_FROM=""
REV=""
BUILD_DIR="$BENCH_DIR/.build"
WORKERS=""
PORT_BASE=24000
BYTES=2G
CONNS=5000
MAX_MINUTES=30
INSTALL=1
MULTI_SECONDS=3
RTT_COUNT=20000
RATE_SECONDS=5
SETTLE=1

parse_args() {
    while (($#)); do
        case $1 in
        --quick) QUICK=1 ;;
        --only) ONLY=${2:?}; shift ;;
        --reps) REPS=${2:?}; shift ;;
        --ferry) FERRY_BIN=${2:?}; shift ;;
        --rev) REV=${2:?}; shift ;;
        --build-dir) BUILD_DIR=${2:?}; shift ;;
        --workers) WORKERS=${2:?}; shift ;;
        --port-base) PORT_BASE=${2:?}; shift ;;
        --bytes) BYTES=${2:?}; shift ;;
        --conns) CONNS=${2:?}; shift ;;
        --max-minutes) MAX_MINUTES=${2:?}; shift ;;
        --no-install) INSTALL=0 ;;
        -h | --help) usage ;;
        *) echo "run.sh: unknown option $1" >&2; usage ;;
        esac
        shift
    done
    if ((QUICK)); then
        REPS=${REPS:-1} BYTES=512M MULTI_SECONDS=1 RTT_COUNT=5000
        RATE_SECONDS=2 CONNS=1000
    fi
    REPS=${REPS:-3}
    [[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive number"
    [[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "--conns wants a positive number"
    if ! [[ $PORT_BASE =~ ^[0-9]+$ ]] ||
        ((PORT_BASE <= 1024 || PORT_BASE >= 32700)); then
        die "--port-base wants 1025..32699"
    fi
}

# "ferry" and "haproxy" stand for both of their variants.
select_targets() {
    local t want=" ${ONLY//,/ } "
    SELECTED=""
    if [[ -z $ONLY ]]; then
        SELECTED=$ALL_TARGETS
        return
    fi
    want=${want// ferry / ferry-connect ferry-socks5 }
    want=${want// haproxy / haproxy-splice haproxy-copy }
    for t in $want; do
        [[ " $ALL_TARGETS " == *" $t "* ]] || die "unknown target '$t'"
    done
    for t in $ALL_TARGETS; do
        [[ $want == *" $t "* ]] && SELECTED+="$t "
    done
    SELECTED=${SELECTED% }
}

selected() { [[ " $SELECTED " == *" $1 "* ]]; }

variant_of() {
    case $1 in
    dante | microsocks) echo ferry-socks5 ;;
    *) echo ferry-connect ;;
    esac
}

# ------------------------------------------------------------ setup

install_missing() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    ((INSTALL)) || die "missing packages: ${missing[*]} (and --no-install)"
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
        >/dev/null
}

# ferry's own build dependencies come from scripts/install-deps.sh.
install_deps() {
    local pkgs=(gcc libc6-dev coreutils procps util-linux)
    if { selected ferry-connect || selected ferry-socks5; } &&
        [[ -z $FERRY_BIN ]]; then
        if ((INSTALL)) && [[ -x $SRC_DIR/scripts/install-deps.sh ]]; then
            "$SRC_DIR/scripts/install-deps.sh"
        else
            pkgs+=(cmake make pkg-config libc-ares-dev libcyaml-dev
                libyaml-dev libssl-dev node-llhttp libcmocka-dev)
        fi
    fi
    selected haproxy-splice || selected haproxy-copy && pkgs+=(haproxy)
    selected squid && pkgs+=(squid)
    selected tinyproxy && pkgs+=(tinyproxy)
    selected dante && pkgs+=(dante-server)
    selected microsocks && pkgs+=(microsocks)
    install_missing "${pkgs[@]}"
}

build() {
    mkdir -p "$BUILD_DIR"
    FB="$BUILD_DIR/ferrybench"
    cc -std=c17 -O2 -Wall -Wextra -pthread -o "$FB" \
        "$BENCH_DIR/ferrybench.c" || die "ferrybench does not build"
    if ! selected ferry-connect && ! selected ferry-socks5; then
        return
    fi
    if [[ -n $FERRY_BIN ]]; then
        [[ -x $FERRY_BIN ]] || die "$FERRY_BIN is not executable"
        FERRY_FROM="binary $FERRY_BIN"
        return
    fi
    local src=$SRC_DIR out="$BUILD_DIR/ferry-rel"
    if [[ -n $REV ]]; then
        src="$BUILD_DIR/rev-src"
        out="$BUILD_DIR/ferry-rev"
        rm -rf "$src" "$out"
        mkdir -p "$src"
        git -C "$SRC_DIR" archive "$REV" | tar -x -C "$src" ||
            die "cannot export revision $REV"
    fi
    say "building ferry${REV:+ $REV} (Release) in $out"
    if ! { cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$out" -j2 --target ferry; } \
        >"$BUILD_DIR/ferry-build.log" 2>&1; then
        tail -n 20 "$BUILD_DIR/ferry-build.log" >&2
        die "ferry does not build (log: $BUILD_DIR/ferry-build.log;" \
            "--only without ferry runs the peers alone)"
    fi
    FERRY_BIN="$out/ferry"
    FERRY_FROM="built from git $(git -C "$SRC_DIR" rev-parse --short \
        "${REV:-HEAD}" 2>/dev/null || echo "(no commit)")"
    if [[ -z $REV && -n $(git -C "$SRC_DIR" status --porcelain \
        2>/dev/null) ]]; then
        FERRY_FROM+=" with uncommitted changes"
    fi
}

port_of() {
    case $1 in
    server) echo $((PORT_BASE)) ;;
    ferry-connect) echo $((PORT_BASE + 1)) ;;
    ferry-socks5) echo $((PORT_BASE + 2)) ;;
    haproxy-splice | haproxy-copy) echo $((PORT_BASE + 10)) ;;
    squid) echo $((PORT_BASE + 20)) ;;
    tinyproxy) echo $((PORT_BASE + 30)) ;;
    dante) echo $((PORT_BASE + 40)) ;;
    microsocks) echo $((PORT_BASE + 50)) ;;
    esac
}

via_of() {
    local p
    p=$(port_of "$1")
    case $1 in
    ferry-connect | squid | tinyproxy) echo "connect://127.0.0.1:$p" ;;
    ferry-socks5 | dante | microsocks) echo "socks5://127.0.0.1:$p" ;;
    haproxy-*) echo "relay://127.0.0.1:$p" ;;
    esac
}

check_ports_free() {
    local n p
    for n in server ferry-connect ferry-socks5 haproxy-copy squid tinyproxy \
        dante microsocks; do
        p=$(port_of "$n")
        if "$FB" wait --target "127.0.0.1:$p" --timeout 0 2>/dev/null; then
            die "127.0.0.1:$p is in use (try --port-base)"
        fi
    done
}

write_configs() {
    local srv log="$WORK/peer"
    srv="127.0.0.1:$(port_of server)"
    mkdir -m 777 "$log"
    local hap="global
  maxconn 7000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s"
    printf '%s\n  option splice-auto\n%s\n' "$hap" "listen relay
  bind 127.0.0.1:$(port_of haproxy-splice)
  server s1 $srv" >"$WORK/haproxy-splice.cfg"
    printf '%s\n%s\n' "$hap" "listen relay
  bind 127.0.0.1:$(port_of haproxy-copy)
  server s1 $srv" >"$WORK/haproxy-copy.cfg"
    cat >"$WORK/squid.conf" <<EOF
http_port 127.0.0.1:$(port_of squid)
acl localnet src 127.0.0.0/8
http_access allow localnet
http_access deny all
cache deny all
access_log none
cache_log $log/squid-cache.log
pid_filename $log/squid.pid
max_filedescriptors 16384
shutdown_lifetime 1 seconds
pinger_enable off
EOF
    cat >"$WORK/tinyproxy.conf" <<EOF
Port $(port_of tinyproxy)
Listen 127.0.0.1
MaxClients $((CONNS + 100))
Allow 127.0.0.1
LogLevel Critical
PidFile "$log/tinyproxy.pid"
EOF
    cat >"$WORK/danted.conf" <<EOF
logoutput: $log/danted.log
internal: 127.0.0.1 port = $(port_of dante)
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
EOF
}

# ------------------------------------------------------------ processes

TPID=""
SPID=""
CPID=""
WORK=""

# A process that exists and is not a zombie.
alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && ${st%% *} != Z ]]
}

tree_pids() {
    local c
    echo "$1"
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        tree_pids "$c"
    done
}

# Stop a process and everything it forked; TERM, then KILL after 10 s.
stop_tree() {
    local pids p i left=0
    mapfile -t pids < <(tree_pids "$1")
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        left=0
        for p in "${pids[@]}"; do
            alive "$p" && left=1
        done
        ((left)) || break
        sleep 0.1
    done
    if ((left)); then
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    wait "$1" 2>/dev/null || true
}

start_server() {
    "$FB" server --listen "127.0.0.1:$(port_of server)" --threads 2 \
        2>"$WORK/server.log" &
    SPID=$!
    "$FB" wait --target "127.0.0.1:$(port_of server)" --timeout 10 ||
        die "ferrybench server did not start: $(cat "$WORK/server.log")"
}

launch() {
    local log="$WORK/peer/$1.out"
    local fargs=(-L "http://127.0.0.1:$(port_of ferry-connect)"
        -L "socks5://127.0.0.1:$(port_of ferry-socks5)"
        --access-log off --log-level warn)
    [[ -n $WORKERS ]] && fargs+=(--workers "$WORKERS")
    case $1 in
    ferry-*) "$FERRY_BIN" "${fargs[@]}" >"$log" 2>&1 & ;;
    haproxy-*) haproxy -db -f "$WORK/$1.cfg" >"$log" 2>&1 & ;;
    squid) squid -N -f "$WORK/squid.conf" >"$log" 2>&1 & ;;
    tinyproxy) tinyproxy -d -c "$WORK/tinyproxy.conf" >"$log" 2>&1 & ;;
    dante) danted -f "$WORK/danted.conf" >"$log" 2>&1 & ;;
    microsocks)
        microsocks -i 127.0.0.1 -p "$(port_of microsocks)" >"$log" 2>&1 &
        ;;
    esac
    TPID=$!
}

start_target() {
    launch "$1"
    if ! "$FB" wait --via "$(via_of "$1")" --timeout 20 2>/dev/null ||
        ! alive "$TPID"; then
        say "$1 did not start:"
        tail -n 5 "$WORK/peer/$1.out" >&2 || true
        stop_target
        return 1
    fi
}

stop_target() {
    [[ -n $TPID ]] || return 0
    stop_tree "$TPID"
    TPID=""
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    set +e
    [[ -n $CPID ]] && kill "$CPID" 2>/dev/null
    stop_target
    [[ -n $SPID ]] && stop_tree "$SPID"
    [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
}

# ------------------------------------------------------------ measuring

PIN_CPU=$(($(nproc) - 1))
ALL_CPUS="0-$(($(nproc) - 1))"

# The threads of the process trees rooted at $2..., one "tid" a line.
tree_tids() {
    local root p t
    for root in "$@"; do
        for p in $(tree_pids "$root"); do
            for t in /proc/"$p"/task/*; do
                [[ -e $t ]] && echo "${t##*/}"
            done
        done
    done
    return 0
}

# Pin every thread of the given process trees to PIN_CPU, keeping each
# thread's mask in $WORK/affinity for unpin_trees.
pin_trees() {
    local t
    : >"$WORK/affinity"
    for t in $(tree_tids "$@"); do
        echo "$t $(taskset -p "$t" 2>/dev/null | awk '{ print $NF }')" \
            >>"$WORK/affinity"
        taskset -p -c "$PIN_CPU" "$t" >/dev/null 2>&1 || true
    done
}

# Give the saved masks back; threads born while pinned get all CPUs.
unpin_trees() {
    local t m
    local -A seen=()
    while read -r t m; do
        seen[$t]=1
        if [[ -n $m ]]; then
            taskset -p "$m" "$t" >/dev/null 2>&1 || true
        fi
    done <"$WORK/affinity"
    for t in $(tree_tids "$@"); do
        if [[ -z ${seen[$t]:-} ]]; then
            taskset -p -c "$ALL_CPUS" "$t" >/dev/null 2>&1 || true
        fi
    done
}

CLIENT_TIMEOUT=120

# One ferrybench client run; its metric lines go to $WORK/run.out.  A run
# that fails leaves its lines renamed (failed_metric=) so nothing is taken.
# The client runs in the background so that a signal stops the script at
# once (bash runs traps only between foreground commands).
bench() {
    local out rc=0 pre=()
    [[ -n ${PIN:-} ]] && pre=(taskset -c "$PIN")
    timeout -k 5 $((CLIENT_TIMEOUT + 15)) "${pre[@]}" "$FB" "$@" \
        --target "127.0.0.1:$(port_of server)" \
        --timeout "$CLIENT_TIMEOUT" >"$WORK/one.out" 2>>"$WORK/client.err" &
    CPID=$!
    wait "$CPID" || rc=$?
    CPID=""
    out=$(cat "$WORK/one.out")
    if ((rc)); then
        say "  ferrybench $1 failed (exit $rc): $(tail -n 1 "$WORK/client.err")"
        out=${out//metric=/failed_metric=}
    fi
    [[ -z $out ]] || echo "$out" >>"$WORK/run.out"
}

metric_name() {
    case $1 in
    single) echo single_mbps ;;
    multi) echo multi_mbps ;;
    rtt50) echo rtt_p50_us ;;
    rtt99) echo rtt_p99_us ;;
    rate) echo conn_rate ;;
    idle) echo idle_kib_per_conn ;;
    esac
}

# Value of one metric from the last run, or "fail".
value_of() {
    local v
    v=$(awk -v m="metric=$(metric_name "$1")" \
        '$1 == m { sub(/^value=/, "", $2); print $2; exit }' \
        "$WORK/run.out")
    echo "${v:-fail}"
}

measure() {
    local t=$1 via=$2 pid=${3:-}
    : >"$WORK/run.out"
    if [[ -n $pid ]]; then
        bench idle --via "$via" --pid "$pid" --conns "$CONNS" \
            --settle "$SETTLE"
    fi
    # RTT runs with client, proxy and server on one CPU: see README.md.
    pin_trees "$SPID" ${pid:+"$pid"}
    PIN=$PIN_CPU bench rtt --via "$via" --count "$RTT_COUNT"
    unpin_trees "$SPID" ${pid:+"$pid"}
    bench rate --via "$via" --seconds "$RATE_SECONDS" --concurrency 32
    bench single --via "$via" --bytes "$BYTES"
    bench multi --via "$via" --streams 8 --seconds "$MULTI_SECONDS"
    sed "s/^/target=$t rep=$REP /" "$WORK/run.out" >>"$WORK/raw.log"
}

declare -A LAST
LAST_TARGET=""

# Keep this run's values; a peer run right after its ferry variant also
# gives one "ferry peer" line per metric for the ratios.
record() {
    local t=$1 k v procs
    mkdir -p "$WORK/v/$t" "$WORK/p/$t"
    for k in $KEYS; do
        [[ $t == direct && $k == idle ]] && continue
        v=$(value_of "$k")
        echo "$v" >>"$WORK/v/$t/$k"
        if [[ $t != ferry-* && $t != direct &&
            $LAST_TARGET == "$(variant_of "$t")" ]]; then
            echo "${LAST[$k]} $v" >>"$WORK/p/$t/$k"
        fi
        LAST[$k]=$v
    done
    procs=$(awk '$1 == "metric=idle_kib_per_conn" {
        for (i = 2; i <= NF; i++) if ($i ~ /^procs_after=/) {
            sub(/^procs_after=/, "", $i); print $i } }' "$WORK/run.out")
    [[ -n $procs ]] && echo "$procs" >"$WORK/v/$t/procs"
    LAST_TARGET=$t
}

run_target() {
    local t=$1
    say "rep $REP/$REPS: $t"
    if [[ $t == direct ]]; then
        measure direct direct
    elif start_target "$t"; then
        measure "$t" "$(via_of "$t")" "$TPID"
        stop_target
    else
        : >"$WORK/run.out"
    fi
    record "$t"
    sleep 0.5
}

# One repetition: direct, then each selected peer right after its ferry
# variant; a ferry variant with no selected peer runs alone.
schedule() {
    local p v order="direct"
    for p in $PEERS; do
        selected "$p" || continue
        v=$(variant_of "$p")
        selected "$v" && order+=" $v"
        order+=" $p"
    done
    for v in ferry-connect ferry-socks5; do
        selected "$v" && [[ " $order " != *" $v "* ]] && order+=" $v"
    done
    echo "$order"
}

# ------------------------------------------------------------ report

median() {
    grep -E '^-?[0-9.]+(e[-+]?[0-9]+)?$' | sort -g | awk '
        { a[NR] = $1 }
        END {
            if (NR == 0) print "fail"
            else if (NR % 2) print a[(NR + 1) / 2]
            else print (a[NR / 2] + a[NR / 2 + 1]) / 2
        }'
}

# Ratio per "ferry peer" line: plain ferry/peer, except latency, which
# compares the latency each one adds to the direct path (its median over
# all repetitions; one direct run is too noisy a baseline).
ratios() {
    local d=fail
    if [[ $1 == rtt* && -s $WORK/v/direct/$1 ]]; then
        d=$(median <"$WORK/v/direct/$1")
    fi
    awk -v k="$1" -v d="$d" '
        $1 == "fail" || $2 == "fail" { next }
        k ~ /^rtt/ {
            if (d == "fail" || $2 - d <= 0) next
            a = $1 - d
            printf "%.6f\n", (a > 0 ? a : 0) / ($2 - d); next
        }
        $2 > 0 { printf "%.6f\n", $1 / $2 }' "$2"
}

# printf format $2 for value $1; "%r" formats a ratio (3 decimals below 0.1).
fmt() {
    local v=$1 f=$2
    [[ $v == fail || $v == - ]] && { echo "$v"; return; }
    awk -v v="$v" -v f="$f" 'BEGIN {
        if (f == "%r") f = (v < 0.1 ? "%.3f" : "%.2f")
        printf f, v }'
}

row_label() {
    case $1 in
    single) echo "single-stream MB/s (higher is better)" ;;
    multi) echo "8-stream MB/s (higher is better)" ;;
    rtt50) echo "RTT p50 us (lower is better)" ;;
    rtt99) echo "RTT p99 us (lower is better)" ;;
    rate) echo "conn/s (higher is better)" ;;
    idle) echo "idle KiB/conn (lower is better)" ;;
    esac
}

col_name() {
    case $1 in
    ferry-connect) echo ferry-CONNECT ;;
    ferry-socks5) echo ferry-SOCKS5 ;;
    *) echo "$1" ;;
    esac
}

cell() {
    local f
    [[ -s $WORK/v/$1/$2 ]] || { echo -; return; }
    case $2 in
    idle) f="%.2f" ;;
    rtt*) f="%.1f" ;;
    *) f="%.0f" ;;
    esac
    fmt "$(median <"$WORK/v/$1/$2")" "$f"
}

# n/a: no pair gave a ratio (a run failed, or the peer added no latency).
ratio_cell() {
    local r
    [[ -s $WORK/p/$1/$2 ]] || { echo -; return; }
    r=$(fmt "$(ratios "$2" "$WORK/p/$1/$2" | median)" %r)
    [[ $r == fail ]] && r=n/a
    if [[ $1 == haproxy-* && $2 == rate ]]; then
        r="($r)"
    fi
    echo "$r"
}

table() {
    local t k line cols=(direct) rcols=()
    for t in $SELECTED; do cols+=("$t"); done
    for t in $PEERS; do
        selected "$t" && selected "$(variant_of "$t")" && rcols+=("$t")
    done
    line="| metric |"
    for t in "${cols[@]}"; do line+=" $(col_name "$t") |"; done
    for t in "${rcols[@]}"; do line+=" ferry/$t |"; done
    echo "$line"
    line="| --- |"
    for t in "${cols[@]}" "${rcols[@]}"; do line+=" ---: |"; done
    echo "$line"
    for k in $KEYS; do
        line="| $(row_label "$k") |"
        for t in "${cols[@]}"; do line+=" $(cell "$t" "$k") |"; done
        for t in "${rcols[@]}"; do line+=" $(ratio_cell "$t" "$k") |"; done
        echo "$line"
    done
}

cpu_busy_pct() {
    local a b
    read -ra a </proc/stat
    sleep 1
    read -ra b </proc/stat
    awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ")
        for (i = 2; i <= n; i++) tot += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%.0f", (tot > 0 ? 100 * (tot - idle) / tot : 0) }'
}

peer_versions() {
    local t
    if [[ -n $FERRY_BIN ]]; then
        echo "- $("$FERRY_BIN" --version 2>&1 | head -n 1), $FERRY_FROM"
    fi
    for t in $SELECTED; do
        case $t in
        haproxy-splice | haproxy-copy) echo "- $(haproxy -v | head -n 1)" ;;
        squid) echo "- $(squid -v | head -n 1)" ;;
        tinyproxy) echo "- $(tinyproxy -v 2>&1 | head -n 1)" ;;
        dante) echo "- $(danted -v 2>&1 | awk '{ sub(/\.$/, "", $2);
            print $1, $2; exit }')" ;;
        microsocks) echo "- microsocks $(dpkg-query -W -f '${Version}' \
            microsocks 2>/dev/null)" ;;
        esac
    done
}

procs_note() {
    local t n
    for t in $SELECTED; do
        [[ -s $WORK/v/$t/procs ]] || continue
        n=$(cat "$WORK/v/$t/procs")
        ((n > 1)) && echo "- $t: idle RSS summed over $n processes"
    done
    return 0
}

report() {
    local md="$BENCH_DIR/results/latest.md"
    {
        echo "# ferry benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "$(uname -sr), $(nproc) CPUs; reps=$REPS quick=$QUICK" \
            "bytes=$BYTES conns=$CONNS rtt_count=$RTT_COUNT" \
            "rate_seconds=$RATE_SECONDS multi_seconds=$MULTI_SECONDS;" \
            "CPU busy before the run: $BUSY%;" \
            "took $((SECONDS / 60)) min $((SECONDS % 60)) s."
        echo
        peer_versions | awk '!seen[$0]++'
        echo
        table
        echo
        echo "Cells are medians over all runs of a column (ferry runs once" \
            "before each of its peers in every repetition).  Ratio columns" \
            "are medians of per-pair ratios, each ferry run paired with the" \
            "peer run right after it (CONNECT for haproxy/squid/tinyproxy," \
            "SOCKS5 for dante/microsocks).  Throughput and conn/s:" \
            "ferry/peer, >1 means ferry is faster.  RTT: latency ferry adds" \
            "to the direct path (median direct figure) over latency the peer" \
            "adds, <1 means ferry adds less; n/a when the peer was not" \
            "slower than direct.  Idle KiB/conn: ferry/peer, <1 means ferry" \
            "uses less memory.  Ratios in parentheses compare unlike work:" \
            "HAProxy relays a fixed backend and skips the proxy handshake."
        procs_note
    } >"$md"
    echo
    cat "$md"
    echo
    cp "$WORK/raw.log" "$BENCH_DIR/results/latest.log"
    say "table written to $md, raw lines in $BENCH_DIR/results/latest.log"
}

# ------------------------------------------------------------ main

main() {
    parse_args "$@"
    select_targets
    ((EUID == 0)) || say "not root: installing and dante may fail"
    install_deps
    build
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    (($(ulimit -n) >= 2 * CONNS + 500)) ||
        die "open files limit $(ulimit -n) is too low for --conns $CONNS"
    ((CONNS <= 6000)) || ! selected haproxy-splice ||
        die "haproxy runs with maxconn 7000: use --conns 6000 or less"
    WORK=$(mktemp -d /tmp/ferry-bench.XXXXXX)
    chmod 755 "$WORK"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$BENCH_DIR/results"
    : >"$WORK/raw.log"
    check_ports_free
    write_configs
    BUSY=$(cpu_busy_pct)
    ((BUSY < 15)) || say "warning: the CPUs are already ${BUSY}% busy;" \
        "numbers will be noisy"
    start_server
    local order t
    order=$(schedule)
    say "targets: $SELECTED; order per repetition: $order"
    for ((REP = 1; REP <= REPS; REP++)); do
        if ((SECONDS > MAX_MINUTES * 60)); then
            say "time budget of $MAX_MINUTES min used: stopping after" \
                "$((REP - 1)) repetitions"
            REPS=$((REP - 1))
            break
        fi
        for t in $order; do
            run_target "$t"
        done
    done
    report
}

main "$@"; exit
