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

say "without ferry nothing reaches the target (client, router)"
assert_eq FAILED "$(get_ip "$NS_C" "http://$TGT4" --connect-timeout 2)" \
    "client's GET before ferry"
assert_eq FAILED "$(get_ip "$NS_R" "http://$TGT4" --connect-timeout 2)" \
    "router's own GET before ferry"

# The agent dials the gateway through the nat output chain: were its
# socket not marked, the dial would be redirected to ferry itself.
ns_gateway_agent "redirect://[::]:$PORT" $PORT
FD0=$(fd_count "$AG_PID")
fd_list "$AG_PID" >"$T/fd0.txt"
mark_log "$AG_ERR"

say "TCP from the client, IPv4 and IPv6: the target sees the gateway"
assert_eq "$GW_IP4" "$(get_ip "$NS_C" "http://$TGT4" -4)" "v4 peer at target"
assert_eq "$GW_IP6" "$(get_ip "$NS_C" "http://[$TGT6]" -6)" "v6 peer at target"
wait_access_line "$AG_ERR" "client=10\.79\.1\.2:[0-9]+ .*proto=redirect .*target=10\.79\.2\.2:80 result=ok" >/dev/null
wait_access_line "$AG_ERR" "client=\[fd79:1::2\]:[0-9]+ .*proto=redirect .*target=\[fd79:2::2\]:80 result=ok" >/dev/null
wait_access_line "$GW_ERR" "listener=tunnel:r1 proto=tunnel-tcp .*target=10\.79\.2\.2:80 result=ok" >/dev/null
wait_access_line "$GW_ERR" "listener=tunnel:r1 proto=tunnel-tcp .*target=\[fd79:2::2\]:80 result=ok" >/dev/null
assert_file_contains "$NGINX_LOG" "$GW_IP4 - - " "nginx access log (v4)"
assert_file_contains "$NGINX_LOG" "$GW_IP6 - - " "nginx access log (v6)"
if grep -qE '^(10\.79\.1\.|fd79:1::)' "$NGINX_LOG"; then
    fail "the target saw the client: $(cat "$NGINX_LOG")"
fi

say "host mode: the router's own curl is intercepted, ferry's link is not"
assert_eq "$GW_IP4" "$(get_ip "$NS_R" "http://$TGT4" -4)" "host mode v4"
assert_eq "$GW_IP6" "$(get_ip "$NS_R" "http://[$TGT6]" -6)" "host mode v6"
wait_access_line "$AG_ERR" "client=10\.79\.3\.1:[0-9]+ .*proto=redirect .*target=10\.79\.2\.2:80 result=ok" >/dev/null
wait_access_line "$AG_ERR" "client=\[fd79:3::1\]:[0-9]+ .*proto=redirect .*target=\[fd79:2::2\]:80 result=ok" >/dev/null
no_loop "$AG_ERR" 4

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
