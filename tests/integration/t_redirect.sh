# t_redirect: interception by REDIRECT (nat, TCP, IPv4 and IPv6) in
# network namespaces (intercept_lib.sh draws them): the client's plain
# curl through a router running ferry as an agent with a redirect
# listener reaches a target only the gateway can reach, and the target
# sees the gateway.  Host mode (nat output) intercepts the router's own
# curl but not ferry's link.  Controls: no ferry, no answer; a
# connection to ferry's own port is refused, not looped; ferry's open
# files come back.  Needs root (else exit 77).
source "$(dirname "$0")/intercept_lib.sh"

# The rules, by ferry tproxy-rules: nat redirect for the client's side
# (vrc) and the router's own traffic, except ferry's (mark 0x1f3).
redirect_rules() { # PORT
    in_ns "$NS_R" "$FERRY_BIN" tproxy-rules --apply --mode redirect --lan \
        --iface vrc --host --port "$1" >"$T/rules.out" 2>&1 ||
        fail "tproxy-rules --apply: $(cat "$T/rules.out")"
}

PORT=12346
ns_topology
ns_servers
redirect_rules $PORT

blocked_before_ferry
start_intercepting "redirect://[::]:$PORT" $PORT
client_tcp redirect
host_tcp redirect 4

say "a connection to ferry's own port is refused, not looped"
assert_eq FAILED "$(get_ip "$NS_C" "http://10.79.1.1:$PORT")" "client to ferry"
assert_eq FAILED "$(get_ip "$NS_R" "http://127.0.0.1:$PORT")" "router to ferry"
wait_until 5 "the refusals" bash -c "[[ \$(grep -c 'to ferry itself' '$AG_ERR') -ge 2 ]]"
assert_eq 2 "$(access_lines "$AG_ERR" | grep -c 'proto=redirect .*result=denied')" \
    "refused connections in the access log"
no_loop "$AG_ERR" 6

say "ferry's open files come back"
fd_settle "$AG_PID" "$FD0" 5
finish
