# t_socks_curl: curl through ferry's SOCKS front end (SOCKS5 with local and
# remote resolution, SOCKS4, SOCKS4a), on a socks and a mixed listener,
# with and without --proxy-user; wrong and missing credentials refused.
source "$(dirname "$0")/lib.sh"

start_dnsmasq
read -r WEB OPEN_P AUTH_P MIXED_P < <(free_ports 4 | xargs)
start_nginx "$WEB"
SECRET="pw-$RANDOM-$RANDOM"

# Listeners from the command line: one open, one with a user, one mixed.
start_ferry --dns "127.0.0.1:$DNS_PORT" --log-level debug \
    -L "socks://127.0.0.1:$OPEN_P" \
    -L "socks5://alice:$SECRET@127.0.0.1:$AUTH_P" \
    -L "mixed://127.0.0.1:$MIXED_P"
LOG=$FERRY_ERR
# --resolve: curl resolves ok.ferry.test itself for --socks5/--socks4
# (the name only exists in our dnsmasq).
RES=(--resolve "ok.ferry.test:$WEB:127.0.0.1")

# get DESC CURL-ARGS... : the page must come back.
get() {
    local what=$1 page
    shift
    mark_log "$LOG"
    page=$(curl -sS --max-time 10 "$@") || fail "$what: curl $* failed (exit $?)"
    assert_eq "$NGINX_TOKEN" "$page" "$what: page"
}
# refused DESC CURL-ARGS... : curl must fail without getting the page.
refused() {
    local what=$1 page rc=0
    shift
    mark_log "$LOG"
    page=$(curl -sS --max-time 10 "$@" 2>"$T/refused.err") || rc=$?
    ((rc != 0)) || fail "$what: curl succeeded (got '$page'), expected a refusal"
    [[ $page != *"$NGINX_TOKEN"* ]] || fail "$what: the page came through"
    say "$what: curl exit $rc: $(head -c 200 "$T/refused.err")"
}

for P in "$OPEN_P" "$MIXED_P"; do
    say "listener on $P without users"
    get "socks5 ipv4" --socks5 "127.0.0.1:$P" "http://127.0.0.1:$WEB/"
    line=$(wait_access_line "$LOG" "proto=socks5 .*target=127\.0\.0\.1:$WEB ")
    check_access_line "$line" "client=127\.0\.0\.1:[0-9]+" "listener=.+" \
        proto=socks5 user=- result=ok "up=[0-9]+" "down=[0-9]+" \
        "ms=[0-9]+(\.[0-9]+)?"
    down=$(log_field "$line" down)
    ((down > ${#NGINX_TOKEN})) || fail "access log down=$down, less than the page"
    get "socks5 ipv6" --socks5 "127.0.0.1:$P" "http://[::1]:$WEB/"
    wait_access_line "$LOG" "proto=socks5 .*target=\[::1\]:$WEB .*result=ok" >/dev/null
    get "socks5 local resolve" "${RES[@]}" --socks5 "127.0.0.1:$P" \
        "http://ok.ferry.test:$WEB/"
    get "socks5-hostname" --socks5-hostname "127.0.0.1:$P" \
        "http://ok.ferry.test:$WEB/"
    line=$(wait_access_line "$LOG" "proto=socks5 .*target=ok\.ferry\.test:$WEB ")
    check_access_line "$line" result=ok
    get "socks5h:// proxy URL" -x "socks5h://127.0.0.1:$P" \
        "http://dual.ferry.test:$WEB/"
    get "socks4" --socks4 "127.0.0.1:$P" "http://127.0.0.1:$WEB/"
    line=$(wait_access_line "$LOG" "proto=socks4 .*target=127\.0\.0\.1:$WEB ")
    check_access_line "$line" result=ok user=-
    get "socks4 local resolve" "${RES[@]}" --socks4 "127.0.0.1:$P" \
        "http://ok.ferry.test:$WEB/"
    get "socks4a" --socks4a "127.0.0.1:$P" "http://ok.ferry.test:$WEB/"
    line=$(wait_access_line "$LOG" "proto=socks4 .*target=ok\.ferry\.test:$WEB ")
    check_access_line "$line" result=ok
    # A user id on a listener without users is not a credential: accepted.
    get "socks4a with a user id" --socks4a "127.0.0.1:$P" \
        --proxy-user "carol:" "http://ok.ferry.test:$WEB/"
    # SOCKS5 credentials offered to a listener without users: it picks
    # "no authentication" and the request goes through.
    get "socks5 with unneeded credentials" --socks5-hostname "127.0.0.1:$P" \
        --proxy-user "carol:whatever" "http://ok.ferry.test:$WEB/"
    # An unresolvable name is a failure, not a hang.
    refused "socks5-hostname unknown name" --socks5-hostname "127.0.0.1:$P" \
        "http://nx.ferry.test:$WEB/"
done

say "listener with users"
get "socks5 with password" --socks5 "127.0.0.1:$AUTH_P" \
    --proxy-user "alice:$SECRET" "http://127.0.0.1:$WEB/"
line=$(wait_access_line "$LOG" "user=alice .*target=127\.0\.0\.1:$WEB ")
check_access_line "$line" proto=socks5 user=alice result=ok
get "socks5-hostname with password" --socks5-hostname "127.0.0.1:$AUTH_P" \
    --proxy-user "alice:$SECRET" "http://ok.ferry.test:$WEB/"
get "socks5h URL with password" \
    -x "socks5h://alice:$SECRET@127.0.0.1:$AUTH_P" "http://[::1]:$WEB/"

refused "socks5 without credentials" --socks5 "127.0.0.1:$AUTH_P" \
    "http://127.0.0.1:$WEB/"
refused "socks5 wrong password" --socks5-hostname "127.0.0.1:$AUTH_P" \
    --proxy-user "alice:wrong$SECRET" "http://ok.ferry.test:$WEB/"
line=$(wait_access_line "$LOG" "proto=socks5 .*result=auth")
check_access_line "$line" "client=127\.0\.0\.1:[0-9]+" result=auth
refused "socks5 unknown user" --socks5-hostname "127.0.0.1:$AUTH_P" \
    --proxy-user "mallory:$SECRET" "http://ok.ferry.test:$WEB/"
# SOCKS4 carries no password: a listener with users refuses it.
refused "socks4 to a listener with users" --socks4 "127.0.0.1:$AUTH_P" \
    --proxy-user "alice:" "http://127.0.0.1:$WEB/"
refused "socks4a to a listener with users" --socks4a "127.0.0.1:$AUTH_P" \
    --proxy-user "alice:" "http://ok.ferry.test:$WEB/"

# Every successful request above reached nginx through ferry.
unset "_LOG_MARK[$LOG]"
n=$(access_lines "$LOG" | grep -c 'result=ok') || true
((n >= 23)) || fail "expected at least 23 access-log lines with result=ok, found $n"
assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
