# t_tproxy: transparent interception (TPROXY, TCP and UDP, IPv4 and IPv6)
# in network namespaces (intercept_lib.sh draws them).  A client whose
# default route is a router running ferry as an agent with a tproxy
# listener reaches a target only the gateway (in public) can reach:
# plain curl, UDP echo and DNS work and the target sees the gateway.
# The router's own programs are intercepted too (host mode, output
# chain) while ferry's own link is not (SO_MARK 0x1f3).  Controls: no
# ferry, no answer; a connection to ferry's own port is refused, not
# looped; ferry's open files come back.  Needs root (else exit 77).
source "$(dirname "$0")/intercept_lib.sh"

# The interception rules in the router, written by ferry tproxy-rules:
# traffic from the client's side (vrc) and the router's own (host mode,
# output chain), except ferry's (mark 0x1f3), replies and local
# destinations; DNS too.  --remove at the end must restore the ruleset.
tproxy_rules() { # PORT
    in_ns "$NS_R" "$FERRY_BIN" tproxy-rules --apply --lan --iface vrc \
        --host --dns --port "$1" >"$T/rules.out" 2>&1 ||
        fail "tproxy-rules --apply: $(cat "$T/rules.out")"
}

PORT=12345
ns_topology
ns_servers
tproxy_rules $PORT

blocked_before_ferry
start_intercepting "tproxy://[::]:$PORT" $PORT
client_tcp tproxy

say "DNS from the client to the target's address, answered via the tunnel"
out=$(ns_py "$NS_C" "$TPC" dns "$TGT4" ok.ferry.test "$TGT4") ||
    fail "DNS through the tunnel: $out"
wait_until 5 "dnsmasq to log the query from the gateway" \
    grep -q "query\[A\] ok.ferry.test from $GW_IP4" "$T/dnsmasq.err"
DNS_T0=$SECONDS

host_tcp tproxy 5

say "a connection to ferry's own port is refused, not looped"
assert_eq FAILED "$(get_ip "$NS_C" "http://10.79.1.1:$PORT")" "client to ferry"
assert_eq FAILED "$(get_ip "$NS_R" "http://127.0.0.1:$PORT")" "router to ferry"
ns_py "$NS_C" "$TPC" send 10.79.1.1 $PORT
wait_until 5 "the refusals" bash -c "[[ \$(grep -c 'to ferry itself' '$AG_ERR') -ge 3 ]]"
no_loop "$AG_ERR" 8

say "ferry's open files come back (TCP at once, the DNS flow after 10 s)"
wait_access_line "$AG_ERR" "proto=tproxy-udp .*target=10\.79\.2\.2:53 result=ok .*end=idle" 15 >/dev/null
((SECONDS - DNS_T0 >= 8)) || fail "the DNS flow ended after $((SECONDS - DNS_T0)) s, before its idle time"
fd_settle "$AG_PID" "$FD0" 5

say "UDP echo, IPv4 and IPv6: two datagrams, replies from the target"
for dst in "$TGT4" "$TGT6"; do
    out=$(ns_py "$NS_C" "$TPC" echo "$dst" 7) || fail "UDP to $dst: $out"
    assert_match "$out" '^OK [0-9]+$' "UDP echo to $dst"
done
assert_eq 2 "$(grep -c "^GOT $GW_IP4:" "$T/echo4.out")" "v4 datagrams from the gateway"
assert_eq 2 "$(grep -c "^GOT $GW_IP6:" "$T/echo6.out")" "v6 datagrams from the gateway"
assert_eq 1 "$(grep '^GOT' "$T/echo4.out" | cut -d' ' -f2 | sort -u | wc -l)" \
    "the gateway's source ports for one flow"
out=$(ns_py "$NS_R" "$TPC" echo "$TGT4" 7) || fail "host-mode UDP: $out"
assert_eq 4 "$(grep -c "^GOT $GW_IP4:" "$T/echo4.out")" "host-mode datagrams"
no_loop "$AG_ERR" 8

say "the gateway drains at once: its exit UDP streams are reset, the flows end"
# UDP streams never end by themselves; a drain resets them rather than
# waiting for timeouts.shutdown (10 s).
stop_ferry "$GW_PID" "$GW_ERR" 5
wait_until 5 "the agent's flows to end" bash -c \
    "[[ \$(grep -cE 'proto=tproxy-udp .*:7 result=ok up=28 down=28 .*end=eof' '$AG_ERR') -eq 3 ]]"
ferry_healthy "$AG_PID" "$AG_ERR"
finish
