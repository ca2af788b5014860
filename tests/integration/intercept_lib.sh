# intercept_lib.sh: network namespaces for t_tproxy and t_redirect
# (sourced instead of lib.sh, which it sources).
#
# Four namespaces, named after the test's PID, removed on exit:
#
#   client --vc/vrc-- router --vrp/vp-- public --vpt/vt-- target
#   10.79.1.2   10.79.1.1  10.79.3.1  10.79.3.2  10.79.2.1  10.79.2.2
#   fd79:1::2   fd79:1::1  fd79:3::1  fd79:3::2  fd79:2::1  fd79:2::2
#
# The client's default route is the router.  The router runs ferry as an
# agent with an interception listener; its tunnel goes to a ferry gateway
# (--exit) in public.  Nothing forwards (ip_forward is 0 everywhere) and
# the router has no route to the target: a request reaches the target
# only through the tunnel, exiting at public (10.79.2.1, fd79:2::1).
# The target runs nginx (/ip answers the peer's address) on port 80, UDP
# echo servers on port 7 and dnsmasq on port 53.
#
# Needs root; exits 77 (skipped) when namespaces cannot be made.

if ((EUID != 0)) || ! command -v ip >/dev/null ||
    ! ip netns add "ferry-probe$$" 2>/dev/null; then
    echo "needs root: creates network namespaces"
    exit 77
fi
ip netns del "ferry-probe$$"

source "$(dirname "$0")/lib.sh"
need_tools ip nft nginx dnsmasq

NS_C=fit$$c NS_R=fit$$r NS_P=fit$$p NS_T=fit$$t
_NSES=("$NS_C" "$NS_R" "$NS_P" "$NS_T")
GW_IP4=10.79.2.1 GW_IP6=fd79:2::1 TGT4=10.79.2.2 TGT6=fd79:2::2
TPC=$IT_DIR/tp_udp_client.py

_ns_delete() {
    local n
    for n in "${_NSES[@]}"; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$n" 2>/dev/null
    done
}
# Our processes first (lib.sh's SIGTERM, leak reports), then anything
# left in the namespaces, then the namespaces; lib.sh's _cleanup ends.
_ns_exit() {
    local rc=$?
    trap - ERR
    set +e
    _kill_all
    _ns_delete
    (exit "$rc")
    _cleanup
}
trap _ns_exit EXIT
# If this shell is killed outright, the namespaces still go.
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
    shift; for n; do ip netns pids "$n" | xargs -r kill -KILL
    ip netns del "$n"; done' ns-watchdog "$$" "${_NSES[@]}" \
    </dev/null >/dev/null 2>&1 &

in_ns() { # NS CMD...
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

_link() { # NS1 IF1 NS2 IF2: a veth pair
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}
_addr() { # NS IF V4/24 V6/64
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$1" addr add "$4" dev "$2" nodad
}

ns_topology() {
    local n
    for n in "${_NSES[@]}"; do
        ip netns add "$n"
        ip -n "$n" link set lo up
        in_ns "$n" sysctl -qw net.ipv4.ip_forward=0 \
            net.ipv6.conf.all.forwarding=0
    done
    _link "$NS_C" vc "$NS_R" vrc
    _link "$NS_R" vrp "$NS_P" vp
    _link "$NS_P" vpt "$NS_T" vt
    _addr "$NS_C" vc 10.79.1.2/24 fd79:1::2/64
    _addr "$NS_R" vrc 10.79.1.1/24 fd79:1::1/64
    _addr "$NS_R" vrp 10.79.3.1/24 fd79:3::1/64
    _addr "$NS_P" vp 10.79.3.2/24 fd79:3::2/64
    _addr "$NS_P" vpt 10.79.2.1/24 fd79:2::1/64
    _addr "$NS_T" vt 10.79.2.2/24 fd79:2::2/64
    ip -n "$NS_C" route add default via 10.79.1.1
    ip -n "$NS_C" -6 route add default via fd79:1::1
    ip -n "$NS_T" route add default via 10.79.2.1
    ip -n "$NS_T" -6 route add default via fd79:2::1
    # The router's own programs (host mode) get a route to the target;
    # public does not forward, so it leads nowhere without ferry.
    ip -n "$NS_R" route add 10.79.2.0/24 via 10.79.3.2
    ip -n "$NS_R" -6 route add fd79:2::/64 via fd79:3::2
}

ns_tcp_listening() { # NS PORT
    [[ -n $(in_ns "$1" ss -Hltn "sport = :$2" 2>/dev/null) ]]
}

_ns_ferry_up() { # NS PORT
    ferry_healthy
    ns_tcp_listening "$1" "$2"
}

# ns_ferry NS PORTS ARGS...: like start_ferry, inside NS; waits for
# each of PORTS (space separated) to listen there.
ns_ferry() {
    local ns=$1 ports=$2 p
    shift 2
    _FERRY_N=$((_FERRY_N + 1))
    spawn "ferry$_FERRY_N" ip netns exec "$ns" "$FERRY_BIN" "$@"
    FERRY_PID=$SPAWNED_PID
    FERRY_ERR=$T/ferry$_FERRY_N.err
    _FERRY_PIDS+=("$FERRY_PID")
    for p in $ports; do
        wait_until 15 "ferry ($1) listening on $p in $ns" \
            _ns_ferry_up "$ns" "$p"
    done
    ferry_healthy
}

# ns_servers: nginx, UDP echo (v4 and v6) and dnsmasq in the target.
ns_servers() {
    local d=$T/nginx
    mkdir -p "$d/tmp" "$d/www"
    echo "ferry-it-target" >"$d/www/index.html"
    cat >"$d/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    default_type text/plain;
    keepalive_timeout 5s;
    server {
        listen 80;
        listen [::]:80;
        root $d/www;
        location = /ip { return 200 "\$remote_addr\n"; }
    }
}
EOF
    NGINX_LOG=$d/access.log
    spawn nginx ip netns exec "$NS_T" nginx -p "$d" -c "$d/nginx.conf" \
        -e "$d/error.log"
    spawn echo4 ip netns exec "$NS_T" python3 -u "$UDPC" echo-server \
        --host "$TGT4" --port 7
    spawn echo6 ip netns exec "$NS_T" python3 -u "$UDPC" echo-server \
        --host "$TGT6" --port 7
    spawn dnsmasq ip netns exec "$NS_T" dnsmasq -k --conf-file=/dev/null \
        --pid-file= --user=root --group="$(id -gn)" --no-resolv \
        --no-hosts --no-poll --bind-interfaces --listen-address="$TGT4" \
        --port=53 --log-queries --log-facility=- --local=/ferry.test/ \
        --address=/ok.ferry.test/10.79.2.2
    wait_until 10 "nginx in the target" ns_tcp_listening "$NS_T" 80
    wait_until 10 "echo4" grep -qs '^PORT' "$T/echo4.out"
    wait_until 10 "echo6" grep -qs '^PORT' "$T/echo6.out"
    wait_until 10 "dnsmasq in the target" bash -c \
        "[[ -n \$(ip netns exec $NS_T ss -Hlun 'sport = :53') ]]"
}

# ns_gateway_agent LISTENER-URL PORT: the gateway in public, the agent
# in the router with one listener.  Sets GW_PID GW_ERR AG_PID AG_ERR.
ns_gateway_agent() {
    make_cert gw
    local fp token="tok-$RANDOM-$RANDOM"
    fp=$(openssl x509 -in "$T/gw.crt" -noout -fingerprint -sha256 |
        sed 's/.*=//')
    ns_ferry "$NS_P" 8443 gateway --bind 10.79.3.2:8443 \
        --cert "$T/gw.crt" --key "$T/gw.key" --token "$token" --exit \
        --log-level debug
    GW_PID=$FERRY_PID GW_ERR=$FERRY_ERR
    ns_ferry "$NS_R" "$2" agent --id r1 --server tls://10.79.3.2:8443 \
        --token "$token" --fingerprint "$fp" -L "$1" --log-level debug
    AG_PID=$FERRY_PID AG_ERR=$FERRY_ERR
    wait_until 15 "the agent's link up" \
        grep -qE "gateway: agent r1 .* up" "$GW_ERR"
}

# fd_count PID: its open files but pipes: each worker keeps up to 64
# spare splice pipes (pipepool) by design, so those are not counted.
fd_count() {
    local f n=0
    for f in /proc/"$1"/fd/*; do
        [[ $(readlink "$f") == pipe:* ]] || n=$((n + 1))
    done
    echo "$n"
}
fd_list() { # PID: what its open files are
    local f
    for f in /proc/"$1"/fd/*; do
        printf '%s -> %s\n' "${f##*/}" "$(readlink "$f")"
    done
}
# fd_settle PID N SECONDS: PID gets back to N open files within SECONDS.
fd_settle() {
    local end=$((SECONDS + $3))
    while [[ $(fd_count "$1") != "$2" ]]; do
        ((SECONDS < end)) && { sleep 0.1; continue; }
        fail "open files of $1: $(fd_count "$1"), expected $2 as before the traffic; before: $(cat "$T/fd0.txt"); now: $(fd_list "$1")"
    done
}

# get_ip NS URL [CURL-ARGS...]: the body of GET URL/ip (the address the
# target saw), or "FAILED"; bounded.
get_ip() {
    local ns=$1 url=$2
    shift 2
    in_ns "$ns" curl -sS --connect-timeout 3 -m 8 "$@" "$url/ip" \
        2>>"$T/curl.err" || echo FAILED
}

# no_loop FILE MAX: at most MAX access lines in FILE; the agent's link
# was never re-made (one "up" at the gateway); both ferry still run.
no_loop() {
    local n
    n=$(access_lines "$1" | wc -l)
    ((n <= $2)) || fail "$n access lines (at most $2 expected): a loop? $(access_lines "$1" | tail -n 5)"
    assert_eq 1 "$(grep -cE 'gateway: agent r1 .* up' "$GW_ERR")" \
        "links the agent made"
    ferry_healthy "$AG_PID" "$AG_ERR"
    ferry_healthy "$GW_PID" "$GW_ERR"
}

ns_py() { # NS ARGS...: python3 inside NS, bounded
    local ns=$1
    shift
    timeout -k 5 20 ip netns exec "$ns" python3 "$@"
}

# --- the steps both interception tests take ---------------------------------

# blocked_before_ferry: neither the client nor the router reaches the
# target while ferry is not there (the test proves interception, not
# routing).
blocked_before_ferry() {
    say "without ferry nothing reaches the target (client, router)"
    assert_eq FAILED "$(get_ip "$NS_C" "http://$TGT4" --connect-timeout 2)" \
        "client's GET before ferry"
    assert_eq FAILED "$(get_ip "$NS_R" "http://$TGT4" --connect-timeout 2)" \
        "router's own GET before ferry"
}

# start_intercepting URL PORT: gateway and agent (listener URL); FD0 is
# the agent's open-file count before any traffic.  The agent dials the
# gateway through the output chain: were its socket not marked, the dial
# would be intercepted and the link never up.
start_intercepting() {
    ns_gateway_agent "$1" "$2"
    FD0=$(fd_count "$AG_PID")
    fd_list "$AG_PID" >"$T/fd0.txt"
    mark_log "$AG_ERR"
    mark_log "$GW_ERR"
}

# client_tcp PROTO: plain curl from the client, IPv4 and IPv6, reaches the
# target through the tunnel; the target sees the gateway, never the
# client; both ferry log it (PROTO: the agent's proto= word).
client_tcp() {
    say "TCP from the client, IPv4 and IPv6: the target sees the gateway"
    assert_eq "$GW_IP4" "$(get_ip "$NS_C" "http://$TGT4" -4)" "v4 peer at target"
    assert_eq "$GW_IP6" "$(get_ip "$NS_C" "http://[$TGT6]" -6)" "v6 peer at target"
    wait_access_line "$AG_ERR" "client=10\.79\.1\.2:[0-9]+ .*proto=$1 .*target=10\.79\.2\.2:80 result=ok" >/dev/null
    wait_access_line "$AG_ERR" "client=\[fd79:1::2\]:[0-9]+ .*proto=$1 .*target=\[fd79:2::2\]:80 result=ok" >/dev/null
    wait_access_line "$GW_ERR" "listener=tunnel:r1 proto=tunnel-tcp .*target=10\.79\.2\.2:80 result=ok" >/dev/null
    wait_access_line "$GW_ERR" "listener=tunnel:r1 proto=tunnel-tcp .*target=\[fd79:2::2\]:80 result=ok" >/dev/null
    assert_file_contains "$NGINX_LOG" "$GW_IP4 - - " "nginx access log (v4)"
    assert_file_contains "$NGINX_LOG" "$GW_IP6 - - " "nginx access log (v6)"
    if grep -qE '^(10\.79\.1\.|fd79:1::)' "$NGINX_LOG"; then
        fail "the target saw the client: $(cat "$NGINX_LOG")"
    fi
}

# host_tcp PROTO MAX: the router's own curl is intercepted (output chain);
# at most MAX access lines so far (no loop).
host_tcp() {
    say "host mode: the router's own curl is intercepted, ferry's link is not"
    assert_eq "$GW_IP4" "$(get_ip "$NS_R" "http://$TGT4" -4)" "host mode v4"
    assert_eq "$GW_IP6" "$(get_ip "$NS_R" "http://[$TGT6]" -6)" "host mode v6"
    wait_access_line "$AG_ERR" "client=10\.79\.3\.1:[0-9]+ .*proto=$1 .*target=10\.79\.2\.2:80 result=ok" >/dev/null
    wait_access_line "$AG_ERR" "client=\[fd79:3::1\]:[0-9]+ .*proto=$1 .*target=\[fd79:2::2\]:80 result=ok" >/dev/null
    no_loop "$AG_ERR" "$2"
}
