#!/usr/bin/env bash
# bench/run.sh - ferry against its peers, side by side, on loopback.
#
# Builds ferry (Release) and ferrybench, then runs six groups of
# measurements, each with its own server and its own table:
#
#   tcp   CONNECT / SOCKS5 tunnels (and HAProxy tcp relays) to the ferrybench
#         server: throughput, RTT, connection rate, idle memory;
#   http  small responses through HTTP forward proxies (wrk against nginx);
#   post  100 MB POST bodies through HTTP forward proxies (ferrybench post
#         to the ferrybench httpsink);
#   udp   SOCKS5 UDP ASSOCIATE datagram rate (ferrybench udp to udpecho);
#   tunnel ferry gateway + agent (TLS, WebSocket over TLS) against ssh -R
#         and ssh -D: throughput, RTT idle and under load, 1,000
#         concurrent stream opens, idle memory per stream;
#   tproxy intercepted TCP throughput in network namespaces: a client whose
#         default route is a router, intercepted there by ferry (tproxy or
#         redirect listener, agent) into a TLS tunnel to a gateway, or by
#         redsocks into dante, on to the ferrybench server in a target
#         namespace.
#
# Within a group every target runs ONE AT A TIME: the ferry variant that a
# peer is compared with runs right before that peer (ferry, peer, ferry,
# peer, ... R times).  Prints one table per group of medians and ferry/peer
# ratios and writes them to bench/results/latest.md (raw lines:
# bench/results/latest.log).  See bench/README.md for what each number means.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(dirname "$BENCH_DIR")
ALL_GROUPS="tcp http post udp tunnel tproxy"
TCP_PEERS="haproxy-splice haproxy-copy squid tinyproxy dante microsocks"
TUNNEL_VARIANTS="ferry-tls ferry-wss"
TPROXY_VARIANTS="ferry-tproxy ferry-plain" # paired with the redsocks run

usage() {
    cat <<'EOF'
usage: bench/run.sh [options]
  --quick            smoke run: small sizes, short windows, 1 repetition
                     (unless --reps is given)
  --only LIST        comma list of groups and/or targets.
                     groups: tcp, http, post, udp, tunnel, tproxy
                     (default: all);
                     targets: ferry (every ferry variant), ferry-connect,
                     ferry-socks5, ferry-tls, ferry-wss, ferry-tproxy,
                     ferry-plain, ferry-redirect, haproxy (every HAProxy
                     variant),
                     haproxy-splice, haproxy-copy, haproxy-http, squid,
                     tinyproxy, dante, microsocks, ssh (both), ssh-R,
                     ssh-D, redsocks (the redsocks+dante chain).
                     Targets alone select the tcp group (as before groups
                     existed), and the tunnel and tproxy groups for their
                     own targets; with groups they narrow those groups.
  --reps N           repetitions of each ferry/peer pair (default 3)
  --ferry PATH       use this ferry binary instead of building one
  --rev REV          build ferry from git revision REV (git archive) instead
                     of the working tree
  --build-dir DIR    where ferry and ferrybench are built
                     (default bench/.build)
  --workers N        pass --workers N to ferry
  --port-base N      loopback ports N..N+62 (default 24000)
  --bytes SIZE       tcp, tunnel, tproxy: single-stream download size
                     (default 2G)
  --conns K          tcp: idle connections for the RSS metric (default 5000)
  --streams K        tunnel: concurrent opens and idle streams (1000;
                     200..4000)
  --http-conns N     http: wrk connections (default 50)
  --max-minutes M    stop starting new repetitions after M minutes (30);
                     every selected group still gets one repetition
  --tcp-cc NAME      run everything (ferry and peers alike) with this TCP
                     congestion control (net.ipv4.tcp_congestion_control,
                     put back at the end); default: the host's, which
                     the report names
  --no-install       never call apt-get
  --dry-run          print the groups and the order of runs, then exit
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
TCP_CC=""    # --tcp-cc
HOST_CC=""   # the setting to put back, when TCP_CC changed it
INSTALL=1
DRY=0
MULTI_SECONDS=3
RTT_COUNT=20000
RATE_SECONDS=5
SETTLE=1
# http: wrk, 50 connections on 2 threads; a warm-up run, then the measured one
HTTP_SECONDS=5
HTTP_WARMUP=1
HTTP_CONNS=50
HTTP_THREADS=2
# post: POST_COUNT posts of POST_BYTES per run (median)
POST_BYTES=100000000
POST_COUNT=5
# udp: datagrams of UDP_SIZE payload bytes, UDP_WINDOW in flight
UDP_SECONDS=5
UDP_WINDOW=32
UDP_SIZE=64
# tunnel: STREAMS concurrent opens and idle streams; RTT under load with
# LOADED_STREAMS bulk downloads for LOADED_SECONDS
STREAMS=1000
OPENS_WINDOW=100
LOADED_STREAMS=8
LOADED_SECONDS=3

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
        --streams) STREAMS=${2:?}; shift ;;
        --http-conns) HTTP_CONNS=${2:?}; shift ;;
        --max-minutes) MAX_MINUTES=${2:?}; shift ;;
        --tcp-cc) TCP_CC=${2:?}; shift ;;
        --no-install) INSTALL=0 ;;
        --dry-run) DRY=1 ;;
        -h | --help) usage ;;
        *) echo "run.sh: unknown option $1" >&2; usage ;;
        esac
        shift
    done
    if ((QUICK)); then
        REPS=${REPS:-1} BYTES=512M MULTI_SECONDS=1 RTT_COUNT=5000
        RATE_SECONDS=2 CONNS=1000
        HTTP_SECONDS=2 POST_COUNT=1 UDP_SECONDS=2 LOADED_SECONDS=1
    fi
    REPS=${REPS:-3}
    [[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive number"
    [[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "--conns wants a positive number"
    # ferry takes at most 4096 streams per link (max_streams)
    if ! [[ $STREAMS =~ ^[1-9][0-9]*$ ]] || ((STREAMS < 2 * OPENS_WINDOW ||
        STREAMS > 4000)); then
        die "--streams wants $((2 * OPENS_WINDOW))..4000"
    fi
    [[ $MAX_MINUTES =~ ^[0-9]+$ ]] || die "--max-minutes wants a number"
    if [[ -n $TCP_CC ]] && [[ " $(sysctl -n \
        net.ipv4.tcp_available_congestion_control) " != *" $TCP_CC "* ]]; then
        die "--tcp-cc $TCP_CC: not in net.ipv4.tcp_available_congestion_control"
    fi
    if ! [[ $HTTP_CONNS =~ ^[1-9][0-9]*$ ]] ||
        ((HTTP_CONNS < HTTP_THREADS || HTTP_CONNS > 3000)); then
        die "--http-conns wants $HTTP_THREADS..3000"
    fi
    if ! [[ $PORT_BASE =~ ^[0-9]+$ ]] ||
        ((PORT_BASE <= 1024 || PORT_BASE >= 32700)); then
        die "--port-base wants 1025..32699"
    fi
}

# ------------------------------------------------------------ groups

# G is the group being run or reported; most functions below read it.
G=""
declare -A SEL=()       # group -> its selected targets, in table order
declare -A REPS_DONE=()
GROUPS_SEL=""

group_targets() {
    case $1 in
    tcp) echo "ferry-connect ferry-socks5 $TCP_PEERS" ;;
    http) echo "ferry squid tinyproxy haproxy-http" ;;
    post) echo "ferry squid tinyproxy" ;;
    udp) echo "ferry dante" ;;
    tunnel) echo "$TUNNEL_VARIANTS ssh-R ssh-D" ;;
    tproxy) echo "$TPROXY_VARIANTS ferry-redirect redsocks" ;;
    esac
}

group_peers() {
    case $1 in
    tcp) echo "$TCP_PEERS" ;;
    http) echo "squid tinyproxy haproxy-http" ;;
    post) echo "squid tinyproxy" ;;
    udp) echo "dante" ;;
    tunnel) echo "ssh-R ssh-D" ;;
    tproxy) echo "redsocks" ;;
    esac
}

group_keys() {
    case $1 in
    tcp) echo "single cpu multi rtt50 rtt99 rate idle" ;;
    http) echo "rps p50 p99" ;;
    post) echo "post" ;;
    udp) echo "pps loss" ;;
    tunnel)
        echo "single cpu multi rtt50 rtt99 lrtt50 lrtt99 opens opensw idle" ;;
    tproxy) echo "single cpu multi" ;;
    esac
}

# What a name given to --only stands for in group $1.
expand_name() {
    case $2 in
    ferry)
        case $1 in
        tcp) echo "ferry-connect ferry-socks5" ;;
        tunnel) echo "$TUNNEL_VARIANTS" ;;
        tproxy) echo "$TPROXY_VARIANTS ferry-redirect" ;;
        *) echo ferry ;;
        esac
        ;;
    ssh) echo "ssh-R ssh-D" ;;
    haproxy)
        case $1 in
        tcp) echo "haproxy-splice haproxy-copy" ;;
        http) echo haproxy-http ;;
        esac
        ;;
    *) echo "$2" ;;
    esac
}

select_targets() {
    local item g t n groups="" names="" want known
    for item in ${ONLY//,/ }; do
        if [[ " $ALL_GROUPS " == *" $item "* ]]; then
            groups+=" $item"
        else
            names+=" $item"
        fi
    done
    if [[ -z $ONLY ]]; then
        groups=$ALL_GROUPS
    elif [[ -z $groups ]]; then
        # targets alone: the tcp group, as before the other groups
        # existed, and the tunnel and tproxy groups for their own targets
        groups=tcp
        for n in $names; do
            case $n in
            ssh | ssh-R | ssh-D | ferry-tls | ferry-wss) groups+=" tunnel" ;;
            ferry-tproxy | ferry-plain | ferry-redirect | redsocks)
                groups+=" tproxy" ;;
            esac
        done
    fi
    for n in $names; do
        known=0
        for g in $ALL_GROUPS; do
            for t in $(expand_name "$g" "$n"); do
                [[ " $(group_targets "$g") " == *" $t "* ]] && known=1
            done
        done
        ((known)) || die "unknown target '$n'"
    done
    for g in $ALL_GROUPS; do
        [[ " $groups " == *" $g "* ]] || continue
        want=""
        for n in $names; do want+=" $(expand_name "$g" "$n")"; done
        SEL[$g]=""
        for t in $(group_targets "$g"); do
            if [[ -z $names || " $want " == *" $t "* ]]; then
                SEL[$g]+="$t "
            fi
        done
        SEL[$g]=${SEL[$g]% }
        if [[ -n ${SEL[$g]} ]]; then
            GROUPS_SEL+=" $g"
        elif [[ -n $ONLY && " ${ONLY//,/ } " == *" $g "* ]]; then
            say "group $g: none of the named targets takes part; skipped"
        fi
    done
    GROUPS_SEL=${GROUPS_SEL# }
    [[ -n $GROUPS_SEL ]] || die "nothing selected: the targets named take" \
        "part in none of the groups named"
}

# Is target $1 selected in group $G?
selected() { [[ " ${SEL[$G]:-} " == *" $1 "* ]]; }

# ... in any group?
any_selected() {
    local g
    for g in $GROUPS_SEL; do
        [[ " ${SEL[$g]} " == *" $1 "* ]] && return 0
    done
    return 1
}

ferry_selected() {
    local v
    for v in ferry ferry-connect ferry-socks5 $TUNNEL_VARIANTS \
        $TPROXY_VARIANTS ferry-redirect; do
        any_selected "$v" && return 0
    done
    return 1
}

is_ferry() { [[ $1 == ferry || $1 == ferry-* ]]; }

# The ferry targets a peer of group $G is compared with: one, except in
# the tunnel group, where each ssh run pairs with a TLS and a WSS run.
# In the tproxy group ferry-tproxy and ferry-plain run right before
# redsocks; ferry-redirect runs right after it and is paired with that
# run (see record).
variants_of() {
    case $G:$1 in
    tcp:dante | tcp:microsocks) echo ferry-socks5 ;;
    tcp:*) echo ferry-connect ;;
    tunnel:*) echo "$TUNNEL_VARIANTS" ;;
    tproxy:*) echo "$TPROXY_VARIANTS" ;;
    *) echo ferry ;;
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
    if ferry_selected && [[ -z $FERRY_BIN ]]; then
        if ((INSTALL)) && [[ -x $SRC_DIR/scripts/install-deps.sh ]]; then
            "$SRC_DIR/scripts/install-deps.sh"
        else
            pkgs+=(cmake make pkg-config libc-ares-dev libcyaml-dev
                libyaml-dev libssl-dev node-llhttp libcmocka-dev)
        fi
    fi
    if [[ " $GROUPS_SEL " == *" http "* ]]; then
        pkgs+=(wrk)
        # any nginx flavour will do; Debian's smallest is nginx-light
        command -v nginx >/dev/null || pkgs+=(nginx-light)
    fi
    any_selected haproxy-splice || any_selected haproxy-copy ||
        any_selected haproxy-http && pkgs+=(haproxy)
    any_selected squid && pkgs+=(squid)
    any_selected tinyproxy && pkgs+=(tinyproxy)
    any_selected dante && pkgs+=(dante-server)
    any_selected microsocks && pkgs+=(microsocks)
    any_selected ferry-tls || any_selected ferry-wss && pkgs+=(openssl)
    any_selected ssh-R || any_selected ssh-D &&
        pkgs+=(openssh-server openssh-client)
    if [[ " $GROUPS_SEL " == *" tproxy "* ]]; then
        pkgs+=(iproute2 nftables)
        any_selected ferry-tproxy || any_selected ferry-redirect &&
            pkgs+=(openssl)
        any_selected redsocks && pkgs+=(redsocks dante-server)
    fi
    install_missing "${pkgs[@]}"
}

build() {
    mkdir -p "$BUILD_DIR"
    FB="$BUILD_DIR/ferrybench"
    cc -std=c17 -O2 -Wall -Wextra -pthread -o "$FB" \
        "$BENCH_DIR/ferrybench.c" || die "ferrybench does not build"
    ferry_selected || return 0
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

# Every port sits at a fixed offset from --port-base.  "ferry" is the
# http listener (+1) except in the udp group, where it is the socks one.
# In the tunnel group ferry-tls and ferry-wss are the gateway's socks5
# listener; "gateway" is where its agent connects.  The tproxy group's
# ports are in its network namespaces, not on this host's loopback, so
# they may repeat loopback offsets; "tp-gateway" is its gateway's.
port_of() {
    case $1 in
    server) echo $((PORT_BASE)) ;;
    ferry-connect) echo $((PORT_BASE + 1)) ;;
    ferry-socks5) echo $((PORT_BASE + 2)) ;;
    gateway) echo $((PORT_BASE + 3)) ;;
    ferry-tls | ferry-wss) echo $((PORT_BASE + 4)) ;;
    sshd) echo $((PORT_BASE + 5)) ;;
    ssh-R) echo $((PORT_BASE + 6)) ;;
    ssh-D) echo $((PORT_BASE + 7)) ;;
    ferry) [[ $G == udp ]] && echo $((PORT_BASE + 2)) ||
        echo $((PORT_BASE + 1)) ;;
    ferry-tproxy) echo $((PORT_BASE + 3)) ;;  # these five: in namespaces
    ferry-plain) echo $((PORT_BASE + 7)) ;;
    ferry-redirect) echo $((PORT_BASE + 4)) ;;
    redsocks) echo $((PORT_BASE + 5)) ;;
    tp-gateway) echo $((PORT_BASE + 6)) ;;
    haproxy-splice | haproxy-copy) echo $((PORT_BASE + 10)) ;;
    haproxy-http) echo $((PORT_BASE + 11)) ;;
    squid) echo $((PORT_BASE + 20)) ;;
    tinyproxy) echo $((PORT_BASE + 30)) ;;
    dante) echo $((PORT_BASE + 40)) ;;
    microsocks) echo $((PORT_BASE + 50)) ;;
    nginx) echo $((PORT_BASE + 60)) ;;
    httpsink) echo $((PORT_BASE + 61)) ;;
    udpecho) echo $((PORT_BASE + 62)) ;;
    esac
}

# How a ferrybench client reaches the target (--via).
via_of() {
    local p
    [[ $1 == direct || $G == tproxy ]] && { echo direct; return; }
    p=$(port_of "$1")
    case $G:$1 in
    tcp:ferry-connect | tcp:squid | tcp:tinyproxy)
        echo "connect://127.0.0.1:$p" ;;
    tcp:ferry-socks5 | tcp:dante | tcp:microsocks)
        echo "socks5://127.0.0.1:$p" ;;
    tcp:haproxy-*) echo "relay://127.0.0.1:$p" ;;
    tunnel:ssh-R) echo "relay://127.0.0.1:$p" ;;
    tunnel:*) echo "socks5://127.0.0.1:$p" ;;
    post:*) echo "http://127.0.0.1:$p" ;;
    udp:*) echo "socks5://127.0.0.1:$p" ;;
    esac
}

check_ports_free() {
    local n p
    for n in server ferry-connect ferry-socks5 gateway ferry-tls sshd ssh-R \
        ssh-D haproxy-copy haproxy-http squid tinyproxy dante microsocks \
        nginx httpsink; do
        p=$(port_of "$n")
        if "$FB" wait --target "127.0.0.1:$p" --timeout 0 2>/dev/null; then
            die "127.0.0.1:$p is in use (try --port-base)"
        fi
    done
}

write_configs() {
    local srv log="$WORK/peer" ngx="$WORK/nginx"
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
    cat >"$WORK/haproxy-http.cfg" <<EOF
global
  maxconn 7000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
listen web
  bind 127.0.0.1:$(port_of haproxy-http)
  server s1 127.0.0.1:$(port_of nginx)
EOF
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
    # The socks rule has no "command:", so it passes every command,
    # udpassociate and udpreply included (the echo server is on loopback).
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
    mkdir -p "$ngx/www" "$ngx/tmp"
    # 100 bytes: 99 letters and a newline
    printf '%099d\n' 0 | tr 0 f >"$ngx/www/small.txt"
    chmod -R a+rX "$ngx"
    cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  client_body_temp_path $ngx/tmp;
  default_type text/plain;
  server {
    listen 127.0.0.1:$(port_of nginx);
    root $ngx/www;
  }
}
EOF
    # wrk: args = absolute URI, Host (none for origin-form targets);
    # done() prints the result and every error counter as metric lines.
    cat >"$WORK/ferrybench.lua" <<'EOF'
function init(args)
   if args[1] and args[1] ~= "" then wrk.path = args[1] end
   if args[2] and args[2] ~= "" then wrk.headers["Host"] = args[2] end
end
function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format("metric=http_rps value=%.1f requests=%d" ..
      " seconds=%.3f status_errors=%d connect_errors=%d read_errors=%d" ..
      " write_errors=%d timeouts=%d\n", summary.requests / secs,
      summary.requests, secs, e.status, e.connect, e.read, e.write,
      e.timeout))
   io.write(string.format("metric=http_p50_us value=%.1f\n",
      latency:percentile(50)))
   io.write(string.format("metric=http_p99_us value=%.1f\n",
      latency:percentile(99)))
end
EOF
}

# The tunnel group's keys and configurations, in $WORK/tunnel: a
# self-signed certificate for the gateway (the agent pins its
# fingerprint), a token, and an sshd of our own (host key, authorized key,
# known_hosts).  Crypto is OpenSSH's compiled-in default on both sides:
# the sshd_config sets none, and ssh runs with -F /dev/null (neither
# ~/.ssh/config nor /etc/ssh/ssh_config is read).
SSH_OPTS=()
SSH_ALGOS=""
MADE_RUN_SSHD=0

tunnel_configs() {
    local d="$WORK/tunnel" user
    mkdir -p "$d"
    if selected ferry-tls || selected ferry-wss; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -days 2 -subj /CN=ferry-bench \
            -addext "subjectAltName=IP:127.0.0.1" -keyout "$d/gw.key" \
            -out "$d/gw.crt" >"$d/openssl.log" 2>&1 ||
            die "openssl req failed: $(cat "$d/openssl.log")"
        openssl x509 -in "$d/gw.crt" -noout -fingerprint -sha256 |
            sed 's/.*=//' >"$d/fingerprint"
        echo "bench-$RANDOM$RANDOM$RANDOM" >"$d/token"
        chmod 600 "$d/token" "$d/gw.key"
    fi
    selected ssh-R || selected ssh-D || return 0
    # sshd wants its privilege separation directory; a system sshd uses
    # the same one, so it stays unless this script made it.
    if [[ ! -d /run/sshd ]]; then
        mkdir -p /run/sshd && MADE_RUN_SSHD=1
    fi
    user=$(id -un)
    # shellcheck source=../scripts/lib/sshd.sh
    source "$SRC_DIR/scripts/lib/sshd.sh"
    sshd_setup "$d" "$(port_of sshd)" 127.0.0.1 yes "AllowUsers $user" ||
        die "sshd -t rejected its configuration: $(cat "$d/sshd-t.err")"
    printf '[127.0.0.1]:%s %s\n' "$(port_of sshd)" \
        "$(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
    SSH_OPTS=(-F /dev/null -i "$d/id" -o IdentitiesOnly=yes
        -o UserKnownHostsFile="$d/known_hosts" -o StrictHostKeyChecking=yes
        -o BatchMode=yes -o ExitOnForwardFailure=yes
        -p "$(port_of sshd)" -l "$user")
}

# What a default ssh negotiates with this sshd, from `ssh -v` of a session
# that runs `true` (once per run, with the first sshd started).
ssh_probe() {
    local log="$WORK/tunnel/ssh-probe.log"
    timeout 20 ssh -v "${SSH_OPTS[@]}" 127.0.0.1 true </dev/null \
        >"$log" 2>&1 || true
    # debug1: kex: server->client cipher: C MAC: M compression: Z
    SSH_ALGOS=$(awk '
        /kex: algorithm:/ { kex = $NF }
        /kex: host key algorithm:/ { hk = $NF }
        /kex: server->client cipher:/ { c = $5; mac = $7; z = $9 }
        END {
            if (c == "") { print "unknown (ssh -v showed no kex)"; exit }
            if (mac == "<implicit>") mac = "implicit (AEAD)"
            printf "kex %s, host key %s, cipher %s, MAC %s, compression %s\n",
                kex, hk, c, mac, z }' "$log")
}

# ------------------------------------------------------------ processes

TPID=""
TPID2=""
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

# The server a group's traffic goes to, one at a time (SPID).
start_server() {
    local log="$WORK/server-$G.log" port
    case $G in
    tcp | tunnel)
        port=$(port_of server)
        "$FB" server --listen "127.0.0.1:$port" --threads 2 2>"$log" &
        ;;
    http)
        port=$(port_of nginx)
        nginx -c "$WORK/nginx.conf" -p "$WORK/nginx/" >"$log" 2>&1 &
        ;;
    post)
        port=$(port_of httpsink)
        "$FB" httpsink --listen "127.0.0.1:$port" --threads 2 2>"$log" &
        ;;
    udp)
        "$FB" udpecho --listen "127.0.0.1:$(port_of udpecho)" 2>"$log" &
        ;;
    tproxy)
        tp_topology
        tp_configs
        port=$(port_of server)
        ip netns exec "$TP_T" "$FB" server --listen "$TP_TGT:$port" \
            --threads 2 2>"$log" &
        ;;
    esac
    SPID=$!
    if [[ $G == tproxy ]]; then
        ip netns exec "$TP_T" "$FB" wait --target "$TP_TGT:$port" \
            --timeout 10 || die "the $G server did not start: $(cat "$log")"
    elif [[ -n ${port:-} ]]; then
        "$FB" wait --target "127.0.0.1:$port" --timeout 10 ||
            die "the $G server did not start: $(cat "$log")"
    else
        sleep 0.2
    fi
    alive "$SPID" || die "the $G server did not start: $(cat "$log")"
}

stop_server() {
    if [[ -n $SPID ]]; then
        stop_tree "$SPID"
        SPID=""
    fi
    ((${#TP_NSES[@]} == 0)) || tp_teardown
}

launch() {
    local log="$WORK/peer/$G-$1.out"
    local fargs=(-L "http://127.0.0.1:$(port_of ferry-connect)"
        -L "socks5://127.0.0.1:$(port_of ferry-socks5)"
        --access-log off --log-level warn)
    [[ -n $WORKERS ]] && fargs+=(--workers "$WORKERS")
    case $1 in
    ferry*) "$FERRY_BIN" "${fargs[@]}" >"$log" 2>&1 & ;;
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
    local ports p
    if [[ $G == tproxy ]]; then
        if ! tp_rules_on "$1"; then
            say "$1: the interception rules failed:" \
                "$(cat "$WORK/tp/rules.out" 2>/dev/null)"
            tp_rules_off "$1"
            return 1
        fi
        tp_launch "$1"
        if ! tp_ready "$1"; then
            say "$1 did not start (or nothing gets through it):"
            tail -n 5 "$WORK/peer/$G-$1.out" >&2 || true
            stop_target "$1"
            return 1
        fi
        return 0
    fi
    [[ $G == tunnel ]] && { start_tunnel "$1"; return; }
    launch "$1"
    ports=$(port_of "$1")
    is_ferry "$1" && ports="$(port_of ferry-connect) $(port_of ferry-socks5)"
    for p in $ports; do
        if ! "$FB" wait --target "127.0.0.1:$p" --timeout 20 \
            2>/dev/null || ! alive "$TPID"; then
            say "$1 did not start:"
            tail -n 5 "$WORK/peer/$G-$1.out" >&2 || true
            stop_target "$1"
            return 1
        fi
    done
}

# A tunnel is two processes: TPID listens (ferry gateway, sshd), TPID2
# dials it and is the other end (ferry agent, ssh).  The tunnel is up when
# a connection through it reaches the server.
start_tunnel() {
    local t=$1 d="$WORK/tunnel" log="$WORK/peer/$G-$1" url fwd p srv
    local fargs=(--access-log off --log-level warn)
    [[ -n $WORKERS ]] && fargs+=(--workers "$WORKERS")
    case $t in
    ferry-*)
        "$FERRY_BIN" gateway --bind "127.0.0.1:$(port_of gateway)" \
            --cert "$d/gw.crt" --key "$d/gw.key" --token-file "$d/token" \
            -L "socks5://127.0.0.1:$(port_of "$t")" "${fargs[@]}" \
            >"$log.out" 2>&1 &
        TPID=$!
        p=$(port_of gateway)
        ;;
    ssh-*)
        /usr/sbin/sshd -D -e -f "$d/sshd_config" >"$log.out" 2>&1 &
        TPID=$!
        p=$(port_of sshd)
        ;;
    esac
    if "$FB" wait --target "127.0.0.1:$p" --timeout 20 2>/dev/null &&
        alive "$TPID"; then
        case $t in
        ferry-tls) url="tls://127.0.0.1:$p" ;;
        ferry-wss) url="wss://127.0.0.1:$p/ferry" ;;
        ssh-R) srv="127.0.0.1:$(port_of server)"
            fwd=(-R "127.0.0.1:$(port_of ssh-R):$srv") ;;
        ssh-D) fwd=(-D "127.0.0.1:$(port_of ssh-D)") ;;
        esac
        if is_ferry "$t"; then
            "$FERRY_BIN" agent --server "$url" --token-file "$d/token" \
                --fingerprint "$(cat "$d/fingerprint")" --id bench \
                "${fargs[@]}" >"$log-agent.out" 2>&1 &
        else
            [[ -n $SSH_ALGOS ]] || ssh_probe
            ssh "${SSH_OPTS[@]}" -N "${fwd[@]}" 127.0.0.1 \
                </dev/null >"$log-ssh.out" 2>&1 &
        fi
        TPID2=$!
        if "$FB" wait --target "127.0.0.1:$(port_of server)" \
            --via "$(via_of "$t")" --timeout 20 2>/dev/null &&
            alive "$TPID" && alive "$TPID2"; then
            return 0
        fi
    fi
    say "$t did not start:"
    tail -n 5 "$log"*.out >&2 || true
    stop_target "$t"
    return 1
}

# ferry runs with --log-level warn: anything beyond its start-up banner is
# a warning or an error, kept for the report.
check_ferry_log() {
    local f extra
    for f in "$WORK/peer/$G-$1.out" "$WORK/peer/$G-$1-agent.out"; do
        [[ -s $f ]] || continue
        extra=$(grep -v -e '^ferry: .* proxy ' -e '^  export ' \
            -e '^ferry: [a-z]* listener .* (interception rules: ' "$f" ||
            true)
        [[ -n $extra ]] || continue
        say "  ferry logged $(wc -l <<<"$extra") line(s):" \
            "$(head -n 1 <<<"$extra")"
        # shellcheck disable=SC2001  # every line of a multi-line value
        sed "s/^/target=$1 rep=$REP ferry-log| /" <<<"$extra" \
            >>"$WORK/raw.log"
        # shellcheck disable=SC2001
        sed "s/^/rep $REP: /" <<<"$extra" >>"$WORK/$G/ferrylog"
    done
}

# The dialling side first (ferry agent, ssh), then the listening side.
stop_target() {
    [[ $G == tproxy && -n ${1:-} ]] && tp_rules_off "$1"
    if [[ -n $TPID2 ]]; then
        stop_tree "$TPID2"
        TPID2=""
    fi
    [[ -n $TPID ]] || return 0
    # the agent before its gateway, or it warns that the link is down
    if [[ $G == tproxy && -s $WORK/tp/agent.pid ]]; then
        stop_tree "$(cat "$WORK/tp/agent.pid")"
        rm -f "$WORK/tp/agent.pid"
    fi
    stop_tree "$TPID"
    TPID=""
    is_ferry "${1:-}" && check_ferry_log "$1"
    return 0
}

# The pids whose process trees make the target, comma-separated.
target_pids() {
    echo "$TPID${TPID2:+,$TPID2}"
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    set +e
    [[ -n $CPID ]] && kill "$CPID" 2>/dev/null
    stop_target
    stop_server
    [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
    ((MADE_RUN_SSHD)) && rmdir /run/sshd 2>/dev/null
    [[ -n $HOST_CC ]] &&
        sysctl -qw net.ipv4.tcp_congestion_control="$HOST_CC"
    return 0
}

# --tcp-cc: for this run, before any socket or namespace exists (a new
# network namespace starts with the host's setting).
set_tcp_cc() {
    [[ -n $TCP_CC ]] || return 0
    ((EUID == 0)) || die "--tcp-cc needs root"
    HOST_CC=$(sysctl -n net.ipv4.tcp_congestion_control)
    sysctl -qw net.ipv4.tcp_congestion_control="$TCP_CC" ||
        die "cannot set net.ipv4.tcp_congestion_control=$TCP_CC"
    say "TCP congestion control for this run: $TCP_CC (was $HOST_CC)"
}


# ------------------------------------------------------------ tproxy group
#
# Four network namespaces, named after this script's pid, made by
# tp_topology when the group starts and removed by tp_teardown when it
# ends (and by cleanup, and by a watchdog if this shell is killed):
#
#   client --vc/vrc-- router --vrp/vp-- public --vpt/vt-- target
#   10.81.1.2  10.81.1.1  10.81.3.1  10.81.3.2  10.81.2.1  10.81.2.2
#
# The client's default route is the router, the target's is public.
# Nothing forwards (ip_forward 0) except during the direct runs, so a
# connection from the client reaches the target only when the router
# intercepts it: ferry's agent (tproxy or redirect listener) into the
# TLS tunnel to ferry's gateway in public, or redsocks into dante in
# public.  The exits (gateway, dante) connect from 10.81.2.1.

TP_C="" TP_R="" TP_P="" TP_T=""
TP_TGT=10.81.2.2
TP_GW=10.81.3.2
TP_NSES=()

tp_names() {
    TP_C=fbtp$$c TP_R=fbtp$$r TP_P=fbtp$$p TP_T=fbtp$$t
    TP_NSES=("$TP_C" "$TP_R" "$TP_P" "$TP_T")
}

tp_link() { # NS1 IF1 NS2 IF2: a veth pair
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

tp_topology() {
    local n
    tp_names
    for n in "${TP_NSES[@]}"; do
        ip netns add "$n" || die "cannot create network namespace $n"
        ip -n "$n" link set lo up
        ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=0
    done
    # If this shell is killed outright, the namespaces still go.
    # shellcheck disable=SC2016  # the inner bash expands them
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
        shift; for n; do ip netns pids "$n" | xargs -r kill -KILL
        ip netns del "$n"; done' tp-watchdog "$$" "${TP_NSES[@]}" \
        </dev/null >/dev/null 2>&1 &
    tp_link "$TP_C" vc "$TP_R" vrc
    tp_link "$TP_R" vrp "$TP_P" vp
    tp_link "$TP_P" vpt "$TP_T" vt
    ip -n "$TP_C" addr add 10.81.1.2/24 dev vc
    ip -n "$TP_R" addr add 10.81.1.1/24 dev vrc
    ip -n "$TP_R" addr add 10.81.3.1/24 dev vrp
    ip -n "$TP_P" addr add "$TP_GW/24" dev vp
    ip -n "$TP_P" addr add 10.81.2.1/24 dev vpt
    ip -n "$TP_T" addr add "$TP_TGT/24" dev vt
    ip -n "$TP_C" route add default via 10.81.1.1
    ip -n "$TP_T" route add default via 10.81.2.1
    # used only when forwarding is on (direct runs)
    ip -n "$TP_R" route add 10.81.2.0/24 via "$TP_GW"
    ip -n "$TP_P" route add 10.81.1.0/24 via 10.81.3.1
}

tp_teardown() {
    local n
    for n in "${TP_NSES[@]}"; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$n" 2>/dev/null
    done
    TP_NSES=()
}

tp_listening() { # NS PORT
    [[ -n $(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null) ]]
}

# The configurations: the gateway's certificate, dante in public and
# redsocks in the router.
tp_configs() {
    local d="$WORK/tp" log="$WORK/peer"
    mkdir -p "$d"
    if any_selected ferry-tproxy || any_selected ferry-redirect; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -days 2 -subj /CN=ferry-bench -keyout "$d/gw.key" \
            -out "$d/gw.crt" >"$d/openssl.log" 2>&1 ||
            die "openssl req failed: $(cat "$d/openssl.log")"
        TP_FP=$(openssl x509 -in "$d/gw.crt" -noout -fingerprint -sha256 |
            sed 's/.*=//')
    fi
    TP_TOKEN="bench-$RANDOM$RANDOM$RANDOM"
    cat >"$d/danted.conf" <<EOF
logoutput: $log/tproxy-danted.log
internal: $TP_GW port = $(port_of dante)
external: 10.81.2.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 10.81.3.0/24 to: 0.0.0.0/0 }
socks pass { from: 10.81.3.0/24 to: 0.0.0.0/0 }
EOF
    cat >"$d/redsocks.conf" <<EOF
base {
  log_debug = off;
  log_info = off;
  log = stderr;
  daemon = off;
  redirector = iptables;
}
redsocks {
  local_ip = 0.0.0.0;
  local_port = $(port_of redsocks);
  ip = $TP_GW;
  port = $(port_of dante);
  type = socks5;
}
EOF
}

# The router's interception rules for target $1; tp_rules_off undoes them.
# ferry-tproxy and ferry-plain: ferry tproxy-rules (nft tproxy + policy
# routing);
# ferry-redirect and redsocks: the same hand-written nft redirect rule
# (what `ferry tproxy-rules --mode redirect --lan --iface vrc` writes,
# less its exclusions); direct: forwarding on, no interception.
tp_rules_on() {
    case $1 in
    direct)
        ip netns exec "$TP_R" sysctl -qw net.ipv4.ip_forward=1
        ip netns exec "$TP_P" sysctl -qw net.ipv4.ip_forward=1
        ;;
    ferry-tproxy | ferry-plain)
        ip netns exec "$TP_R" "$FERRY_BIN" tproxy-rules --apply --lan \
            --iface vrc --ipv4-only --port "$(port_of "$1")" \
            >"$WORK/tp/rules.out" 2>&1
        ;;
    ferry-redirect | redsocks)
        ip netns exec "$TP_R" nft -f - <<EOF
table ip ferry_bench {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "vrc" ip daddr != 10.81.1.1 meta l4proto tcp redirect to :$(port_of "$1")
  }
}
EOF
        ;;
    esac
}

tp_rules_off() {
    case $1 in
    direct)
        ip netns exec "$TP_R" sysctl -qw net.ipv4.ip_forward=0
        ip netns exec "$TP_P" sysctl -qw net.ipv4.ip_forward=0
        ;;
    ferry-tproxy | ferry-plain)
        ip netns exec "$TP_R" "$FERRY_BIN" tproxy-rules --remove \
            >>"$WORK/tp/rules.out" 2>&1
        ;;
    ferry-redirect | redsocks)
        ip netns exec "$TP_R" nft delete table ip ferry_bench 2>/dev/null
        ;;
    esac
    return 0
}

# Start target $1 of the tproxy group (a subshell holding both of its
# processes, TPID): gateway + agent, or dante + redsocks.  ferry-plain is
# ferry-tproxy over a link without TLS (tcp://, gateway --plaintext).
tp_launch() {
    local log="$WORK/peer/$G-$1.out" d="$WORK/tp" gw
    local fargs=(--access-log off --log-level warn) gwtls agtls listen
    [[ -n $WORKERS ]] && fargs+=(--workers "$WORKERS")
    gw=$(port_of tp-gateway)
    gwtls=(--cert "$d/gw.crt" --key "$d/gw.key")
    agtls=(--server "tls://$TP_GW:$gw" --fingerprint "${TP_FP:-}")
    listen="${1#ferry-}://0.0.0.0:$(port_of "$1")"
    if [[ $1 == ferry-plain ]]; then
        gwtls=(--plaintext)
        agtls=(--server "tcp://$TP_GW:$gw")
        listen="tproxy://0.0.0.0:$(port_of "$1")"
    fi
    : >"$log"
    case $1 in
    ferry-*)
        (
            ip netns exec "$TP_P" "$FERRY_BIN" gateway --bind "$TP_GW:$gw" \
                "${gwtls[@]}" --token "$TP_TOKEN" --exit "${fargs[@]}" &
            for ((i = 0; i < 100; i++)); do
                tp_listening "$TP_P" "$gw" && break
                sleep 0.1
            done
            ip netns exec "$TP_R" "$FERRY_BIN" agent --id bench \
                "${agtls[@]}" --token "$TP_TOKEN" -L "$listen" \
                "${fargs[@]}" &
            echo $! >"$d/agent.pid"
            wait
        ) >>"$log" 2>&1 &
        ;;
    redsocks)
        (
            ip netns exec "$TP_P" danted -f "$d/danted.conf" &
            ip netns exec "$TP_R" redsocks -c "$d/redsocks.conf" &
            wait
        ) >>"$log" 2>&1 &
        ;;
    esac
    TPID=$!
}

# Wait until a connection from the client reaches the server through
# target $1 (a 10-ping rtt run), at most 20 s.
tp_ready() {
    local i
    for ((i = 0; i < 100; i++)); do
        alive "$TPID" || return 1
        if ip netns exec "$TP_C" timeout -k 1 5 "$FB" rtt --count 10 \
            --target "$TP_TGT:$(port_of server)" --via direct --timeout 3 \
            >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    return 1
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

# Run "$@" (a client) in the background under timeout, stdout to
# $WORK/one.out, so that a signal stops the script at once (bash runs traps
# only between foreground commands).  Returns its exit status.
run_client() {
    local rc=0 limit=$1
    shift
    timeout -k 5 "$limit" "$@" >"$WORK/one.out" 2>>"$WORK/client.err" &
    CPID=$!
    wait "$CPID" || rc=$?
    CPID=""
    return "$rc"
}

# One ferrybench client run against the group's server; its metric lines
# go to $WORK/run.out.  A run that fails leaves its lines renamed
# (failed_metric=) so nothing is taken.
bench() {
    local out rc=0 pre=() target
    [[ -n ${PIN:-} ]] && pre=(taskset -c "$PIN")
    case $G in
    tcp | tunnel) target=127.0.0.1:$(port_of server) ;;
    post) target=127.0.0.1:$(port_of httpsink) ;;
    udp) target=127.0.0.1:$(port_of udpecho) ;;
    tproxy) target=$TP_TGT:$(port_of server)
        pre+=(ip netns exec "$TP_C") ;;
    esac
    run_client $((CLIENT_TIMEOUT + 15)) "${pre[@]}" "$FB" "$@" \
        --target "$target" --timeout "$CLIENT_TIMEOUT" || rc=$?
    out=$(cat "$WORK/one.out")
    if ((rc)); then
        say "  ferrybench $1 failed (exit $rc): $(tail -n 1 "$WORK/client.err")"
        out=${out//metric=/failed_metric=}
        [[ -n $out ]] || out="failed_metric=$1 exit=$rc"
        echo "$T_NOW rep $REP: ferrybench $1 exit $rc:" \
            "$(tail -n 1 "$WORK/client.err")" >>"$WORK/$G/invalid"
    fi
    [[ -z $out ]] || echo "$out" >>"$WORK/run.out"
}

metric_name() {
    case $1 in
    single) echo single_mbps ;;
    cpu) echo single_cpu_s_per_gb ;;
    multi) echo multi_mbps ;;
    rtt50) echo rtt_p50_us ;;
    rtt99) echo rtt_p99_us ;;
    lrtt50) echo loaded_rtt_p50_us ;;
    lrtt99) echo loaded_rtt_p99_us ;;
    opens) echo opens_ms ;;
    opensw) echo opens_window_ms ;;
    rate) echo conn_rate ;;
    idle) echo idle_kib_per_conn ;;
    rps) echo http_rps ;;
    p50) echo http_p50_us ;;
    p99) echo http_p99_us ;;
    post) echo post_mbps ;;
    pps) echo udp_pps ;;
    loss) echo udp_loss_pct ;;
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

measure_tcp() {
    local t=$1 via=$2 pid=${3:-}
    if [[ -n $pid ]]; then
        bench idle --via "$via" --pid "$pid" --conns "$CONNS" \
            --settle "$SETTLE"
    fi
    pinned_rtt "$via" "$pid"
    bench rate --via "$via" --seconds "$RATE_SECONDS" --concurrency 32
    bench single --via "$via" --bytes "$BYTES" ${pid:+--pid "$pid"}
    bench multi --via "$via" --streams 8 --seconds "$MULTI_SECONDS"
}

# RTT runs with client, proxy and server on one CPU: see README.md.  $2:
# the proxy's pids, comma-separated (none for direct).
pinned_rtt() {
    local via=$1 pids=()
    IFS=, read -ra pids <<<"${2:-}"
    pin_trees "$SPID" "${pids[@]}"
    PIN=$PIN_CPU bench rtt --via "$via" --count "$RTT_COUNT"
    unpin_trees "$SPID" "${pids[@]}"
}

# Idle memory first, on fresh processes (as in tcp); then the opens (all
# at once, then at most OPENS_WINDOW in flight), the idle RTT (pinned),
# the RTT under load (not pinned: the bulk streams need both CPUs), and
# throughput.
measure_tunnel() {
    local t=$1 via=$2 plist=${3:-}
    if [[ -n $plist ]]; then
        bench idle --via "$via" --pid "$plist" --conns "$STREAMS" \
            --settle "$SETTLE"
    fi
    bench opens --via "$via" --conns "$STREAMS"
    bench opens --via "$via" --conns "$STREAMS" --concurrency "$OPENS_WINDOW"
    pinned_rtt "$via" "$plist"
    bench loaded --via "$via" --streams "$LOADED_STREAMS" \
        --seconds "$LOADED_SECONDS"
    bench single --via "$via" --bytes "$BYTES" ${plist:+--pid "$plist"}
    bench multi --via "$via" --streams 8 --seconds "$MULTI_SECONDS"
}

# wrk's error counters from a metric=http_rps line: "" when the run is
# valid, else what was wrong.  Every counter must be 0, with one
# exception: tinyproxy closes the connection after every response without
# a "Connection: close" header, and wrk counts each such EOF as a read
# error; for tinyproxy read errors are fine up to one per response.
wrk_invalid() {
    awk -v t="$2" '$1 == "metric=http_rps" {
        for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        bad = ""
        if (f["requests"] == 0) bad = bad " no requests"
        n = split("status_errors connect_errors write_errors timeouts", k, " ")
        if (t != "tinyproxy") k[++n] = "read_errors"
        for (i = 1; i <= n; i++)
            if (f[k[i]] > 0) bad = bad " " k[i] "=" f[k[i]]
        if (t == "tinyproxy" && f["read_errors"] > f["requests"])
            bad = bad " read_errors=" f["read_errors"] ">requests"
        print (bad == "" ? "ok" : substr(bad, 2)); found = 1; exit }
        END { if (!found) print "no result line" }' "$1"
}

measure_http() {
    local t=$1 url args=() rc=0 bad ngx
    ngx="127.0.0.1:$(port_of nginx)"
    case $t in
    direct) url="http://$ngx/small.txt" ;;
    haproxy-http) url="http://127.0.0.1:$(port_of haproxy-http)/small.txt" ;;
    *) url="http://127.0.0.1:$(port_of "$t")/"
        args=("http://$ngx/small.txt" "$ngx") ;;
    esac
    local wrk=(wrk -t "$HTTP_THREADS" -c "$HTTP_CONNS" --timeout 2s
        --latency -s "$WORK/ferrybench.lua")
    run_client $((HTTP_WARMUP + 30)) "${wrk[@]}" -d "${HTTP_WARMUP}s" \
        "$url" "${args[@]}" || true
    run_client $((HTTP_SECONDS + 30)) "${wrk[@]}" -d "${HTTP_SECONDS}s" \
        "$url" "${args[@]}" || rc=$?
    grep -v '^metric=' "$WORK/one.out" |
        sed "s/^/target=$t rep=$REP wrk| /" >>"$WORK/raw.log"
    bad=$(wrk_invalid "$WORK/one.out" "$t")
    ((rc == 0)) || bad="wrk exit $rc${bad:+; $bad}"
    if [[ $bad == ok ]]; then
        grep '^metric=' "$WORK/one.out" >>"$WORK/run.out" || true
    else
        say "  wrk via $t not valid: $bad"
        echo "$T_NOW rep $REP: $bad" >>"$WORK/$G/invalid"
        grep '^metric=' "$WORK/one.out" |
            sed 's/^metric=/failed_metric=/' >>"$WORK/run.out" || true
    fi
}

measure() {
    local t=$1 pid=${2:-}
    : >"$WORK/run.out"
    case $G in
    tcp) measure_tcp "$t" "$(via_of "$t")" "$pid" ;;
    http) measure_http "$t" ;;
    post) bench post --via "$(via_of "$t")" --bytes "$POST_BYTES" \
        --count "$POST_COUNT" ;;
    udp) bench udp --via "$(via_of "$t")" --seconds "$UDP_SECONDS" \
        --window "$UDP_WINDOW" --size "$UDP_SIZE" ;;
    tunnel) measure_tunnel "$t" "$(via_of "$t")" "$pid" ;;
    tproxy)
        bench single --via direct --bytes "$BYTES" ${pid:+--pid "$pid"}
        bench multi --via direct --streams 8 --seconds "$MULTI_SECONDS"
        ;;
    esac
    sed "s/^/group=$G target=$t rep=$REP /" "$WORK/run.out" >>"$WORK/raw.log"
}

declare -A LAST      # "target key" -> that target's last value
SINCE=""            # ferry variants run since the last peer or direct run
LAST_TARGET=""      # the target run before this one

# Keep this run's values.  A peer run also gives, for each of its ferry
# variants that ran since the previous peer run (right before it), one
# "ferry peer" line per metric for the ratios, in p/VARIANT/PEER/KEY.
# tproxy: ferry-redirect runs right after redsocks and is paired with
# that run (p/ferry-redirect/redsocks).
record() {
    local t=$1 k v w procs d="$WORK/$G"
    mkdir -p "$d/v/$t"
    for k in $(group_keys "$G"); do
        [[ $t == direct && ($k == idle || $k == cpu) ]] && continue
        v=$(value_of "$k")
        echo "$v" >>"$d/v/$t/$k"
        LAST[$t $k]=$v
        if [[ $G == tproxy && $t == ferry-redirect &&
            $LAST_TARGET == redsocks ]]; then
            mkdir -p "$d/p/$t/redsocks"
            echo "$v ${LAST[redsocks $k]}" >>"$d/p/$t/redsocks/$k"
        fi
        is_ferry "$t" && continue
        [[ $t == direct ]] && continue
        for w in $(variants_of "$t"); do
            [[ " $SINCE " == *" $w "* ]] || continue
            mkdir -p "$d/p/$w/$t"
            echo "${LAST[$w $k]} $v" >>"$d/p/$w/$t/$k"
        done
    done
    procs=$(awk '$1 == "metric=idle_kib_per_conn" {
        for (i = 2; i <= NF; i++) if ($i ~ /^procs_after=/) {
            sub(/^procs_after=/, "", $i); print $i } }' "$WORK/run.out")
    [[ -n $procs ]] && echo "$procs" >"$d/v/$t/procs"
    if is_ferry "$t"; then
        SINCE+=" $t"
    else
        SINCE=""
    fi
    LAST_TARGET=$t
}

run_target() {
    local t=$1
    T_NOW=$t
    say "$G rep $REP/$REPS: $t"
    if [[ $t == direct && $G == tproxy ]]; then
        tp_rules_on direct
        measure direct
        tp_rules_off direct
    elif [[ $t == direct ]]; then
        measure direct
    elif start_target "$t"; then
        measure "$t" "$(target_pids)"
        stop_target "$t"
    else
        : >"$WORK/run.out"
        echo "$t rep $REP: did not start" >>"$WORK/$G/invalid"
    fi
    record "$t"
    sleep 0.5
}

# One repetition: direct, then each selected peer right after its ferry
# variant(s); a ferry variant with no selected peer runs alone.
schedule() {
    local p v order="direct"
    for p in $(group_peers "$G"); do
        selected "$p" || continue
        for v in $(variants_of "$p"); do
            selected "$v" && order+=" $v"
        done
        order+=" $p"
    done
    for v in ferry ferry-connect ferry-socks5 $TUNNEL_VARIANTS \
        $TPROXY_VARIANTS ferry-redirect; do
        selected "$v" && [[ " $order " != *" $v "* ]] && order+=" $v"
    done
    echo "$order"
}

run_group() {
    local order t
    mkdir -p "$WORK/$G"
    : >"$WORK/$G/invalid"
    LAST=()
    SINCE=""
    LAST_TARGET=""
    start_server
    order=$(schedule)
    say "group $G: targets ${SEL[$G]}; order per repetition: $order"
    for ((REP = 1; REP <= REPS; REP++)); do
        if ((REP > 1 && SECONDS > MAX_MINUTES * 60)); then
            say "time budget of $MAX_MINUTES min used: group $G stops" \
                "after $((REP - 1)) repetitions"
            break
        fi
        for t in $order; do
            run_target "$t"
        done
    done
    REPS_DONE[$G]=$((REP - 1))
    stop_server
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

# How a metric's ratio is formed: "plain" ferry/peer, "added" (latency
# over the direct path), or "none".
ratio_kind() {
    case $G:$1 in
    tcp:rtt* | tunnel:rtt* | tunnel:lrtt*) echo added ;;
    udp:loss) echo none ;;
    *) echo plain ;;
    esac
}

# Ratio per "ferry peer" line: plain ferry/peer, except latency in the tcp
# and tunnel groups, which
# compares the latency each one adds to the direct path (its median over
# all repetitions; one direct run is too noisy a baseline).
ratios() {
    local d=fail kind
    kind=$(ratio_kind "$1")
    if [[ $kind == added && -s $WORK/$G/v/direct/$1 ]]; then
        d=$(median <"$WORK/$G/v/direct/$1")
    fi
    awk -v kind="$kind" -v d="$d" '
        $1 == "fail" || $2 == "fail" { next }
        kind == "added" {
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
        if (f == "%ms") { f = "%.2f"; v = v / 1000 }
        printf f, v }'
}

row_label() {
    case $G:$1 in
    tunnel:rtt50) echo "RTT p50 us, idle (lower is better)" ;;
    tunnel:rtt99) echo "RTT p99 us, idle (lower is better)" ;;
    tunnel:idle) echo "idle KiB/stream (lower is better)" ;;
    *:single) echo "single-stream MB/s (higher is better)" ;;
    *:cpu) echo "single-stream CPU-s/GB (lower is better)" ;;
    *:multi) echo "8-stream MB/s (higher is better)" ;;
    *:rtt50) echo "RTT p50 us (lower is better)" ;;
    *:rtt99) echo "RTT p99 us (lower is better)" ;;
    *:lrtt50) echo "RTT p50 us, 8 bulk streams (lower is better)" ;;
    *:lrtt99) echo "RTT p99 us, 8 bulk streams (lower is better)" ;;
    *:opens) echo "$STREAMS concurrent opens ms (lower is better)" ;;
    *:opensw) echo "$STREAMS opens, $OPENS_WINDOW in flight ms (lower is" \
        "better)" ;;
    *:rate) echo "conn/s (higher is better)" ;;
    *:idle) echo "idle KiB/conn (lower is better)" ;;
    *:rps) echo "requests/s (higher is better)" ;;
    *:p50) echo "latency p50 ms (lower is better)" ;;
    *:p99) echo "latency p99 ms (lower is better)" ;;
    *:post) echo "POST MB/s (higher is better)" ;;
    *:pps) echo "echoed datagrams/s (higher is better)" ;;
    *:loss) echo "loss % (lower is better)" ;;
    esac
}

col_name() {
    case $G:$1 in
    http:direct) echo "nginx direct" ;;
    tcp:ferry-connect) echo ferry-CONNECT ;;
    tcp:ferry-socks5) echo ferry-SOCKS5 ;;
    tproxy:direct) echo "direct (routed)" ;;
    tproxy:redsocks) echo "redsocks+dante" ;;
    *) echo "$1" ;;
    esac
}

cell() {
    local f
    [[ -s $WORK/$G/v/$1/$2 ]] || { echo -; return; }
    case $2 in
    idle | cpu) f="%.2f" ;;
    rtt*) f="%.1f" ;;
    p50 | p99) f="%ms" ;;
    loss) f="%.3f" ;;
    *) f="%.0f" ;;
    esac
    fmt "$(median <"$WORK/$G/v/$1/$2")" "$f"
}

# Unlike work, in parentheses: HAProxy's conn/s (no proxy handshake),
# everything of haproxy-http (a fixed backend, origin-form requests) and
# ssh -R's opens (a forwarded port: no SOCKS5 handshake).
unlike() {
    [[ $G == tcp && $1 == haproxy-* && $2 == rate ]] ||
        [[ $G == http && $1 == haproxy-http ]] ||
        [[ $G == tunnel && $1 == ssh-R && $2 == opens* ]]
}

# The median ratio of the pairs of ferry variant $1 and peer $2 for metric
# $3, or fail.
ratio_value() {
    local f="$WORK/$G/p/$1/$2/$3"
    [[ -s $f ]] || { echo fail; return; }
    ratios "$3" "$f" | median
}

# n/a: no pair gave a ratio (a run failed, or the peer added no latency).
ratio_cell() {
    local r
    [[ -s $WORK/$G/p/$1/$2/$3 ]] || { echo -; return; }
    [[ $(ratio_kind "$3") == none ]] && { echo -; return; }
    r=$(fmt "$(ratio_value "$1" "$2" "$3")" %r)
    [[ $r == fail ]] && r=n/a
    unlike "$2" "$3" && r="($r)"
    echo "$r"
}

# "VARIANT/PEER" pairs with a ratio column, in table order.
ratio_pairs() {
    local p v
    for p in $(group_peers "$G"); do
        selected "$p" || continue
        for v in $(variants_of "$p"); do
            selected "$v" && echo "$v/$p"
        done
    done
    if [[ $G == tproxy ]] && selected redsocks && selected ferry-redirect
    then
        echo ferry-redirect/redsocks
    fi
    return 0
}

# A ratio column's heading: ferry/PEER, or VARIANT/PEER in the tunnel and
# tproxy groups, where every peer has two ferry variants.
ratio_name() {
    [[ $G == tunnel || $G == tproxy ]] && { echo "$1"; return; }
    echo "ferry/${1#*/}"
}

table() {
    local t k line cols=(direct) rcols=()
    for t in ${SEL[$G]}; do cols+=("$t"); done
    mapfile -t rcols < <(ratio_pairs)
    line="| metric |"
    for t in "${cols[@]}"; do line+=" $(col_name "$t") |"; done
    for t in "${rcols[@]}"; do line+=" $(ratio_name "$t") |"; done
    echo "$line"
    line="| --- |"
    for t in "${cols[@]}" "${rcols[@]}"; do line+=" ---: |"; done
    echo "$line"
    for k in $(group_keys "$G"); do
        line="| $(row_label "$k") |"
        for t in "${cols[@]}"; do line+=" $(cell "$t" "$k") |"; done
        for t in "${rcols[@]}"; do
            line+=" $(ratio_cell "${t%/*}" "${t#*/}" "$k") |"
        done
        echo "$line"
    done
}

# "- target ferry/PEER METRIC >= X: now R (met | NOT met)" for ferry
# variant $1 and peer $2.
target_line() {
    local v=$1 peer=$2 k=$3 want=$4 what=$5 r verdict name
    selected "$peer" && selected "$v" || return 0
    name=$(ratio_name "$v/$peer")
    r=$(ratio_value "$v" "$peer" "$k")
    if [[ $r == fail ]]; then
        echo "- target $name $what >= $want: no valid pair"
        return
    fi
    verdict=$(awk -v r="$r" -v w="$want" 'BEGIN {
        print (r + 0 >= w + 0 ? "met" : "NOT met") }')
    echo "- target $name $what >= $want: now $(fmt "$r" %r)" \
        "($verdict)"
}

# "- target VARIANT METRIC <= X: now V (met | NOT met)": a bound on the
# median of ferry variant $1's own figures.
bound_line() {
    local v=$1 k=$2 want=$3 what=$4 f="$WORK/$G/v/$1/$2" m verdict
    selected "$v" || return 0
    m=fail
    [[ -s $f ]] && m=$(median <"$f")
    if [[ $m == fail ]]; then
        echo "- target $v $what <= $want: no valid run"
        return
    fi
    verdict=$(awk -v m="$m" -v w="$want" 'BEGIN {
        print (m + 0 <= w + 0 ? "met" : "NOT met") }')
    echo "- target $v $what <= $want: now $(cell "$v" "$k") ($verdict)"
}

targets() {
    local v
    case $G in
    http)
        target_line ferry squid rps 3 "requests/s"
        target_line ferry haproxy-http rps 0.8 "requests/s"
        ;;
    post) target_line ferry squid post 1.0 "POST MB/s" ;;
    tunnel)
        for v in $TUNNEL_VARIANTS; do
            target_line "$v" ssh-R single 2 "single-stream MB/s"
        done
        for v in $TUNNEL_VARIANTS; do
            bound_line "$v" lrtt99 5000 "RTT p99 us with 8 bulk streams"
        done
        for v in $TUNNEL_VARIANTS; do
            bound_line "$v" idle 2 "idle KiB/stream"
        done
        ;;
    tproxy)
        for v in $TPROXY_VARIANTS ferry-redirect; do
            target_line "$v" redsocks single 1.5 "single-stream MB/s"
        done
        ;;
    esac
    return 0
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
    for t in $(for g in $GROUPS_SEL; do echo "${SEL[$g]}"; done); do
        case $t in
        haproxy-*) echo "- $(haproxy -v | head -n 1)" ;;
        squid) echo "- $(squid -v | head -n 1)" ;;
        tinyproxy) echo "- $(tinyproxy -v 2>&1 | head -n 1)" ;;
        dante) echo "- $(danted -v 2>&1 | awk '{ sub(/\.$/, "", $2);
            print $1, $2; exit }')" ;;
        microsocks) echo "- microsocks $(dpkg-query -W -f '${Version}' \
            microsocks 2>/dev/null)" ;;
        ferry-tls | ferry-wss) echo "- $(openssl version) (ferry's TLS" \
            "library)" ;;
        ssh-R | ssh-D) echo "- $(ssh -V 2>&1 | head -n 1)" ;;
        redsocks) echo "- redsocks $(dpkg-query -W -f '${Version}' \
            redsocks 2>/dev/null) + $(danted -v 2>&1 | awk '{
            sub(/\.$/, "", $2); print $1, $2; exit }')" ;;
        esac
    done
    if [[ " $GROUPS_SEL " == *" http "* ]]; then
        echo "- $(nginx -v 2>&1 | head -n 1 | sed 's/^nginx version: //')" \
            "(origin), $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')" \
            "(client)"
    fi
}

procs_note() {
    local t n
    for t in ${SEL[$G]}; do
        [[ -s $WORK/$G/v/$t/procs ]] || continue
        n=$(cat "$WORK/$G/v/$t/procs")
        ((n > 1)) && echo "- $t: idle RSS summed over $n processes"
    done
    return 0
}

# Runs that gave no value, and what ferry logged at warn level.
problems_note() {
    local n
    if [[ -s $WORK/$G/invalid ]]; then
        echo "- runs not counted ($(wc -l <"$WORK/$G/invalid")):"
        sed 's/^/  - /' "$WORK/$G/invalid" | head -n 20
    fi
    if [[ -s $WORK/$G/ferrylog ]]; then
        n=$(wc -l <"$WORK/$G/ferrylog")
        echo "- ferry logged $n line(s) at --log-level warn (first 10;" \
            "all in latest.log):"
        head -n 10 "$WORK/$G/ferrylog" | sed 's/^/  - /'
    fi
    return 0
}

section_tcp() {
    echo "## TCP tunnels and relays"
    echo
    echo "reps=${REPS_DONE[tcp]} bytes=$BYTES conns=$CONNS" \
        "rtt_count=$RTT_COUNT rate_seconds=$RATE_SECONDS" \
        "multi_seconds=$MULTI_SECONDS"
    echo
    table
    echo
    echo "Throughput and conn/s: ferry/peer, >1 means ferry is faster." \
        "RTT: latency ferry adds to the direct path (median direct figure)" \
        "over latency the peer adds, <1 means ferry adds less; n/a when the" \
        "peer was not slower than direct.  Idle KiB/conn: ferry/peer, <1" \
        "means ferry uses less memory.  Pairs: CONNECT for" \
        "haproxy/squid/tinyproxy, SOCKS5 for dante/microsocks.  Ratios in" \
        "parentheses compare unlike work: HAProxy relays a fixed backend" \
        "and skips the proxy handshake."
}

section_http() {
    echo "## HTTP forwarding: small responses"
    echo
    echo "reps=${REPS_DONE[http]}; wrk -t$HTTP_THREADS -c$HTTP_CONNS" \
        "-d${HTTP_SECONDS}s (after a ${HTTP_WARMUP}s warm-up) for a" \
        "100-byte file from nginx (1 worker); absolute-URI requests to" \
        "ferry, squid and tinyproxy, origin-form to nginx and HAProxy."
    echo
    table
    echo
    echo "Requests/s: ferry/peer, >1 means ferry is faster.  Latency" \
        "(wrk, $HTTP_CONNS connections, so mostly queueing): ferry/peer," \
        "<1 means ferry answers sooner.  haproxy-http in parentheses:" \
        "unlike work, HAProxy in http mode relays origin-form requests to" \
        "one fixed backend (http-reuse always) and resolves no target per" \
        "request.  tinyproxy closes the connection after each response," \
        "so wrk reconnects for every request through it."
    echo
    targets
}

section_post() {
    echo "## HTTP forwarding: 100 MB POST"
    echo
    echo "reps=${REPS_DONE[post]}; each run posts $POST_BYTES bytes" \
        "$POST_COUNT time(s), each on a new connection, to the ferrybench" \
        "httpsink (reads and discards the Content-Length body, answers" \
        "200); a cell is the median over runs of each run's median."
    echo
    table
    echo
    echo "MB = 10^6 bytes, from the first byte of the request to the end" \
        "of the response head.  ferry/peer, >1 means ferry is faster."
    echo
    targets
}

section_tproxy() {
    echo "## Intercepted TCP (transparent proxying)"
    echo
    echo "reps=${REPS_DONE[tproxy]} bytes=$BYTES" \
        "multi_seconds=$MULTI_SECONDS; network namespaces client -> router" \
        "-> public -> target (veth); the client runs ferrybench with no" \
        "proxy setting (--via direct) to the target's address and the" \
        "router intercepts it.  ferry-tproxy: nft tproxy rules" \
        "(ferry tproxy-rules) to ferry agent's tproxy listener, TLS tunnel" \
        "to ferry gateway --exit in public.  ferry-plain: the same over a" \
        "link without TLS (tcp://, gateway --plaintext), whose payloads" \
        "are spliced.  ferry-redirect: nft redirect" \
        "to the agent's redirect listener, TLS tunnel.  redsocks+dante:" \
        "the same nft redirect to redsocks (type socks5) in the router," \
        "plain SOCKS5 (no TLS) to danted in public.  direct (routed): no" \
        "interception, the router and public forward."
    echo
    table
    echo
    echo "MB/s: ferry/peer, >1 means ferry is faster.  ferry-tproxy's and" \
        "ferry-redirect's chains encrypt (TLS 1.3 between router and" \
        "public); ferry-plain's and redsocks+dante's do not." \
        "ferry-tproxy and ferry-plain run right before redsocks and" \
        "ferry-redirect right after it; each is paired with that run."
    echo
    targets
}

section_udp() {
    echo "## SOCKS5 UDP ASSOCIATE"
    echo
    echo "reps=${REPS_DONE[udp]}; ferrybench udp: $UDP_SIZE-byte payloads" \
        "to a UDP echo server, $UDP_WINDOW datagrams in flight," \
        "${UDP_SECONDS}s after 0.5 s of warm-up; a datagram not echoed" \
        "within 200 ms counts as lost."
    echo
    table
    echo
    echo "Echoed datagrams/s: ferry/peer, >1 means ferry relays more." \
        "direct: the same client without a proxy (no SOCKS5 header)."
}

section_tunnel() {
    echo "## Through the tunnel: ferry gateway + agent against ssh"
    echo
    echo "reps=${REPS_DONE[tunnel]} bytes=$BYTES streams=$STREAMS" \
        "rtt_count=$RTT_COUNT loaded=${LOADED_STREAMS}x" \
        "${LOADED_SECONDS}s multi_seconds=$MULTI_SECONDS.  ferry-tls and" \
        "ferry-wss: the client enters at the gateway's SOCKS5 listener," \
        "the stream exits at the agent (tls:// or wss://, one link)." \
        "ssh-R: the client connects to the port sshd forwards with" \
        "\`ssh -R\`, the stream exits at ssh; ssh-D: the client enters at" \
        "ssh's SOCKS5 port (\`ssh -D\`), the stream exits at sshd." \
        "ssh: ${SSH_ALGOS:-not run}."
    echo
    table
    echo
    echo "Throughput: ferry/peer, >1 means ferry is faster.  RTT (idle:" \
        "pinned to one CPU; with 8 bulk streams: not pinned): latency" \
        "ferry adds to the direct path over latency the peer adds, <1" \
        "means ferry adds less.  Opens (all $STREAMS at once, each with" \
        "its handshake and a 1-byte echo) and idle KiB/stream (RSS of both" \
        "tunnel processes and their children): ferry/peer, <1 means" \
        "ferry is better.  ssh-R's opens in parentheses: unlike work, its" \
        "client makes no SOCKS5 handshake."
    echo
    targets
}

report() {
    local md="$BENCH_DIR/results/latest.md"
    {
        echo "# ferry benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "$(uname -sr), $(nproc) CPUs; groups: $GROUPS_SEL;" \
            "TCP congestion control: $(sysctl -n \
                net.ipv4.tcp_congestion_control)${TCP_CC:+ (--tcp-cc)};" \
            "quick=$QUICK; CPU busy before the run: $BUSY%;" \
            "took $((SECONDS / 60)) min $((SECONDS % 60)) s."
        echo
        peer_versions | awk '!seen[$0]++'
        for G in $GROUPS_SEL; do
            echo
            case $G in
            tcp) section_tcp ;;
            http) section_http ;;
            post) section_post ;;
            udp) section_udp ;;
            tunnel) section_tunnel ;;
            tproxy) section_tproxy ;;
            esac
            echo
            echo "Cells are medians over all runs of a column (ferry runs" \
                "once before each of its peers in every repetition)." \
                "Ratio columns are medians of per-pair ratios, each ferry" \
                "run paired with the peer run right after it."
            procs_note
            problems_note
        done
    } >"$md"
    echo
    cat "$md"
    echo
    cp "$WORK/raw.log" "$BENCH_DIR/results/latest.log"
    say "tables written to $md, raw lines in $BENCH_DIR/results/latest.log"
}

# ------------------------------------------------------------ main

main() {
    parse_args "$@"
    select_targets
    if ((DRY)); then
        for G in $GROUPS_SEL; do
            echo "$G: $REPS x ($(schedule))"
        done
        exit 0
    fi
    ((EUID == 0)) || say "not root: installing and dante may fail"
    if [[ " $GROUPS_SEL " == *" tproxy "* ]] && ((EUID != 0)); then
        die "the tproxy group needs root (network namespaces)"
    fi
    install_deps
    build
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if [[ " $GROUPS_SEL " == *" tcp "* ]]; then
        (($(ulimit -n) >= 2 * CONNS + 500)) ||
            die "open files limit $(ulimit -n) is too low for --conns $CONNS"
        G=tcp
        ((CONNS <= 6000)) || ! selected haproxy-splice ||
            die "haproxy runs with maxconn 7000: use --conns 6000 or less"
    fi
    WORK=$(mktemp -d /tmp/ferry-bench.XXXXXX)
    chmod 755 "$WORK"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    set_tcp_cc
    mkdir -p "$BENCH_DIR/results"
    : >"$WORK/raw.log"
    check_ports_free
    write_configs
    if [[ " $GROUPS_SEL " == *" tunnel "* ]]; then
        G=tunnel
        (($(ulimit -n) >= 2 * STREAMS + 500)) || die "open files limit" \
            "$(ulimit -n) is too low for --streams $STREAMS"
        tunnel_configs
    fi
    BUSY=$(cpu_busy_pct)
    ((BUSY < 15)) || say "warning: the CPUs are already ${BUSY}% busy;" \
        "numbers will be noisy"
    for G in $GROUPS_SEL; do
        run_group
    done
    report
}

main "$@"; exit
