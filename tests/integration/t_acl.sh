# t_acl: access rules, the SSRF guard and authentication, end to end.
#
# Real clients (curl; t_acl_client.py, a raw HTTP/SOCKS client on
# ftlib.py that sends targets byte for byte, for spellings curl would
# normalise and for exact SOCKS REP / CD codes) against ferry and
# t_acl_server.py, an HTTP server that logs every connection it accepts
# (so "denied" also means "never connected to").
#
#  1. bypass attempts: a deny for 127.0.0.2/32 and ::1 before an allow for
#     127.0.0.0/8 and a final deny.  127.0.0.2 in every spelling (legacy
#     IPv4 forms, IPv4-mapped IPv6, a name resolving to it, SOCKS ATYP 1, 3
#     and 4, SOCKS4 and 4a) is refused on CONNECT (403), absolute-URI GET
#     (403), SOCKS5 (REP 0x02) and SOCKS4 (CD 91), and its UDP datagrams
#     are dropped; the same spellings of 127.0.0.1 go through; a name with
#     a denied and an allowed address only ever reaches the allowed one.
#     The servers on 127.0.0.2 and ::1 never see a connection or a
#     datagram; the access log says result=denied.
#  2. the SSRF guard: a 0.0.0.0 listener with users and no rules: key
#     denies loopback, "this network", private addresses and names
#     resolving there (TCP and UDP); a loopback listener of the same file
#     does not; rules: [] turns the guard off.  ferry refuses a 0.0.0.0
#     listener without users unless open: true / --open.
#  3. rule matching: domains exact and *.suffix, port ranges, users (and
#     "-"), listeners, protocol udp vs tcp (also for datagrams), first
#     match wins; on a keep-alive connection each request is judged with
#     its own credentials.
#  4. password_hash users (ferry passwd, openssl passwd -6) on two
#     listeners sharing one credential cache: right password over HTTP and
#     SOCKS5, wrong refused (407 / RFC 1929 failure), also after a success
#     was cached; no hash or password in the logs.
#  5. ferry check: bad rules are reported as FILE:LINE:COL.
#
# Only loopback addresses carry traffic.  (10.255.0.1 appears only as a
# target the guard must refuse before any connect.)
source "$(dirname "$0")/lib.sh"
need_tools dnsmasq

CLIENT=$IT_DIR/t_acl_client.py
SERVER=$IT_DIR/t_acl_server.py

# both.ferry.test has a denied and an allowed address; dnsmasq answers
# the last one configured first, so the denied 127.0.0.2 comes first.
start_dnsmasq \
    --address=/loop.ferry.test/127.0.0.1 \
    --address=/deny.ferry.test/127.0.0.2 \
    --address=/both.ferry.test/127.0.0.1 --address=/both.ferry.test/127.0.0.2 \
    --address=/ten.ferry.test/10.255.0.1 \
    --address=/rules.ferry.test/127.0.0.1

# start_server NAME HOST...: a t_acl_server.py on one port on every HOST;
# sets SRV_PORT.
start_server() {
    local name=$1
    shift
    spawn "$name" python3 -u "$SERVER" "$@"
    wait_until 10 "$name to print its port" grep -qs '^PORT ' "$T/$name.out"
    SRV_PORT=$(sed -n 's/^PORT //p' "$T/$name.out" | head -n 1)
    alive "$SPAWNED_PID" || fail "$name died: $(cat "$T/$name.err")"
}
# accepts NAME IP: connections server NAME has accepted on IP so far.
accepts() { grep -c "^ACCEPT $2 " "$T/$1.out" || true; }

start_server srv 127.0.0.1 127.0.0.2 ::1
WEB=$SRV_PORT
# A second server for the port rules, more than 5 ports away from WEB.
for i in 1 2 3 4 5 6 7 8 9; do
    SRV2=srv2-$i
    start_server "$SRV2" 127.0.0.1
    WEB2=$SRV_PORT
    d=$((WEB2 - WEB))
    ((d > 5 || d < -5)) && break
    kill -TERM -- "-$SPAWNED_PID" 2>/dev/null || true
    ((i < 9)) || fail "no port for the second server away from $WEB"
done
# One that keeps connections open for more requests.
start_server srvka --keepalive 127.0.0.1
WEBKA=$SRV_PORT

# UDP echo servers on 127.0.0.1 and 127.0.0.2.
start_udp_echo udpecho 127.0.0.1
UDP_E=$UDP_PORT
start_udp_echo udpecho2 127.0.0.2
UDP_E2=$UDP_PORT
# got_udp NAME: datagrams echo server NAME has received so far.
got_udp() { grep -c '^GOT ' "$T/$1.out" || true; }
# udpc WHAT ARGS...: one socks_udp_client.py check run; a soft failure.
udpc() {
    local what=$1
    shift
    if py "$UDPC" check "$@" >"$T/udpc.out" 2>&1; then
        say "ok: $what"
    else
        soft_fail "$what: $(tail -n 5 "$T/udpc.out")"
    fi
}

# probe WHAT: run the t_acl_client.py cases on stdin; each failing case is
# a soft failure.  Sets PROBE_OK / PROBE_DENIED: how many cases expected
# ok / denied.
probe() {
    local what=$1 cases out rc=0
    cases=$(cat)
    PROBE_CASES=$cases
    PROBE_OK=$(grep -cE '^[a-z0-9]+ .* ok(:[^ ]*)?( |$)' <<<"$cases" || true)
    PROBE_DENIED=$(grep -cE '^[a-z0-9]+ .* denied( |$)' <<<"$cases" || true)
    out=$(py "$CLIENT" <<<"$cases" 2>&1) || rc=$?
    printf '%s\n' "$out" >>"$T/probe.log"
    if ((rc != 0)); then
        soft_fail "$what: $(grep -v '^ok ' <<<"$out")"
    else
        say "ok: $what ($(wc -l <<<"$cases") requests)"
    fi
}

# check_eq EXPECTED ACTUAL WHAT / check_line LINE KEY=ERE...: as assert_eq
# and check_access_line, but a soft failure (one run reports them all).
check_eq() {
    [[ $1 == "$2" ]] || soft_fail "$3: expected '$1', got '$2'"
}
check_line() {
    local line=$1 kv key re val
    shift
    [[ -n $line ]] || { soft_fail "no access-log line where one was expected ($*)"; return 0; }
    for kv in "$@"; do
        key=${kv%%=*}
        re=${kv#*=}
        val=$(log_field "$line" "$key")
        [[ $val =~ ^($re)$ ]] ||
            soft_fail "access log field $key: expected /^($re)$/, got '$val' in: $line"
    done
}

# count_lines FILE ERE: access-log lines (after the mark) matching ERE.
count_lines() { access_lines "$1" | grep -cE -- "$2" || true; }
# wait_lines FILE ERE N: wait (bounded) until there are N such lines.
wait_lines() {
    local deadline=$((SECONDS + 10))
    while (($(count_lines "$1" "$2") < $3)); do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# ===========================================================================
# 1. bypass attempts against a deny by address
# ===========================================================================
read -r MIX SOC HTP < <(free_ports 3 | xargs)
cat >"$T/deny.yaml" <<EOF
dns:
  servers: [127.0.0.1:$DNS_PORT]
timeouts:
  connect: 2s
listeners:
  - name: mix
    type: mixed
    listen: 127.0.0.1:$MIX
  - name: soc
    type: socks
    listen: 127.0.0.1:$SOC
  - name: htp
    type: http
    listen: 127.0.0.1:$HTP
rules:
  - action: deny
    cidrs: [127.0.0.2/32, "::1"]
  - action: allow
    cidrs: [127.0.0.0/8]
  - action: deny
EOF
start_ferry -c "$T/deny.yaml" --log-level debug
DENY_PID=$FERRY_PID
DENY_LOG=$FERRY_ERR
mark_log "$DENY_LOG"

# Spellings of 127.0.0.2 (and ::1) as an HTTP authority host, and of
# 127.0.0.1 (the positive control, same forms).
HTTP_DENY=(127.0.0.2 0x7f.0.0.2 2130706434 "[::ffff:127.0.0.2]" 0177.0.0.2
    0x7f000002 127.2 0x7f.2 "[::ffff:7f00:2]" deny.ferry.test
    DENY.Ferry.Test. "[::1]")
HTTP_OK=(127.0.0.1 0x7f.0.0.1 2130706433 "[::ffff:127.0.0.1]" 0177.0.0.1
    0x7f000001 127.1 "[::ffff:7f00:1]" loop.ferry.test both.ferry.test
    both.ferry.test both.ferry.test)
# SOCKS5: socks5 = ATYP 1/4 for literals, 3 for names; socks5d = ATYP 3.
S5_DENY=("socks5 127.0.0.2" "socks5 ::ffff:127.0.0.2" "socks5 ::1"
    "socks5 deny.ferry.test" "socks5d 127.0.0.2" "socks5d 0x7f.0.0.2"
    "socks5d 2130706434" "socks5d 0177.0.0.2" "socks5d 127.2"
    "socks5d ::ffff:127.0.0.2" "socks5d ::1")
S5_OK=("socks5 127.0.0.1" "socks5 ::ffff:127.0.0.1" "socks5 loop.ferry.test"
    "socks5 both.ferry.test" "socks5 both.ferry.test" "socks5d 0x7f.0.0.1"
    "socks5d 2130706433" "socks5d 0177.0.0.1" "socks5d ::ffff:127.0.0.1")
S4_DENY=(127.0.0.2 0x7f.0.0.2 2130706434 0177.0.0.2 deny.ferry.test
    ::ffff:127.0.0.2 ::1)
S4_OK=(127.0.0.1 0x7f.0.0.1 2130706433 loop.ferry.test both.ferry.test)

{
    for h in "${HTTP_DENY[@]}"; do
        echo "connect $MIX $h $WEB denied"
        echo "get $MIX $h $WEB denied"
    done
    for c in "${S5_DENY[@]}"; do echo "${c% *} $MIX ${c#* } $WEB denied"; done
    for h in "${S4_DENY[@]}"; do echo "socks4 $MIX $h $WEB denied"; done
    # the dedicated listeners
    for h in 127.0.0.2 2130706434 deny.ferry.test "[::ffff:127.0.0.2]"; do
        echo "connect $HTP $h $WEB denied"
        echo "get $HTP $h $WEB denied"
    done
    echo "socks5 $SOC 127.0.0.2 $WEB denied"
    echo "socks5d $SOC 0x7f.0.0.2 $WEB denied"
    echo "socks4 $SOC 0177.0.0.2 $WEB denied"
} >"$T/cases-deny"
probe "bypass attempts are denied" <"$T/cases-deny"
N_DENIED=$PROBE_DENIED
assert_eq 53 "$N_DENIED" "deny cases in the list"

{
    for h in "${HTTP_OK[@]}"; do
        echo "connect $MIX $h $WEB ok"
        echo "get $MIX $h $WEB ok"
    done
    for c in "${S5_OK[@]}"; do echo "${c% *} $MIX ${c#* } $WEB ok"; done
    for h in "${S4_OK[@]}"; do echo "socks4 $MIX $h $WEB ok"; done
    echo "connect $HTP 0x7f.0.0.1 $WEB ok"
    echo "get $HTP both.ferry.test $WEB ok"
    echo "socks5d $SOC 2130706433 $WEB ok"
    echo "socks4 $SOC both.ferry.test $WEB ok"
} >"$T/cases-allow"
probe "the same spellings of 127.0.0.1 are allowed" <"$T/cases-allow"
N_OK=$PROBE_OK

# curl, which normalises most of these itself, gets the same answers.
for h in 127.0.0.2 0x7f.0.0.2 2130706434 "[::ffff:127.0.0.2]" 0177.0.0.2 \
    deny.ferry.test; do
    code=$(curl_code -x "http://127.0.0.1:$MIX" "http://$h:$WEB/")
    [[ $code == 403 ]] || soft_fail "curl GET http://$h:$WEB/: status $code, expected 403"
    code=$(curl_code -w '%{http_connect}' -p -x "http://127.0.0.1:$MIX" \
        "http://$h:$WEB/")
    [[ $code == 403 ]] || soft_fail "curl CONNECT to $h:$WEB: status $code, expected 403"
    rc=0
    curl -sS --max-time 10 -o /dev/null -x "socks5h://127.0.0.1:$MIX" \
        "http://$h:$WEB/" 2>"$T/curl-s5.err" || rc=$?
    # curl: "Can't complete SOCKS5 connection to X. (2)" = REP 0x02
    [[ $rc == 97 ]] && grep -q '(2)' "$T/curl-s5.err" ||
        soft_fail "curl socks5h to $h:$WEB: exit $rc, expected 97 with REP 2: $(cat "$T/curl-s5.err")"
    N_DENIED=$((N_DENIED + 3))
done
page=$(curl -sS --max-time 10 -x "socks5h://127.0.0.1:$MIX" \
    "http://both.ferry.test:$WEB/" 2>>"$T/curl.err") || true
check_eq "acl-ok 127.0.0.1" "$page" "curl socks5h both.ferry.test"
page=$(curl -sS --max-time 10 -p -x "http://127.0.0.1:$MIX" \
    "http://both.ferry.test:$WEB/" 2>>"$T/curl.err") || true
check_eq "acl-ok 127.0.0.1" "$page" "curl CONNECT both.ferry.test"
N_OK=$((N_OK + 2))

# UDP ASSOCIATE: every datagram is checked against the same rules.
udpc "UDP: datagrams to 127.0.0.2 in every spelling are dropped" \
    --proxy "127.0.0.1:$MIX" \
    "silent:127.0.0.2:$UDP_E2" "silent:0x7f.0.0.2:$UDP_E2" \
    "silent:2130706434:$UDP_E2" "silent:[::ffff:127.0.0.2]:$UDP_E2" \
    "silent:deny.ferry.test:$UDP_E2" \
    "echo:127.0.0.1:$UDP_E" "echo:0x7f.0.0.1:$UDP_E=127.0.0.1"
udpc "UDP on the socks listener" --proxy "127.0.0.1:$SOC" \
    "silent:0177.0.0.2:$UDP_E2" "echo:[::ffff:127.0.0.1]:$UDP_E=127.0.0.1"
check_eq 3 "$(got_udp udpecho)" "datagrams at the UDP echo server on 127.0.0.1"
# A name with a denied (first) and an allowed address: like a CONNECT, the
# datagram goes to the allowed one.
udpc "UDP: a name with a denied and an allowed address" \
    --proxy "127.0.0.1:$MIX" "echo:both.ferry.test:$UDP_E=127.0.0.1"
check_eq 4 "$(got_udp udpecho)" "datagrams at the UDP echo server on 127.0.0.1 (after both.ferry.test)"
check_eq 0 "$(got_udp udpecho2)" "datagrams at the UDP echo server on 127.0.0.2"
N_UDP=3 # access-log lines of the associations (result=ok)

check_eq 0 "$(accepts srv 127.0.0.2)" "connections to the denied 127.0.0.2"
check_eq 0 "$(accepts srv ::1)" "connections to the denied ::1"
check_eq "$N_OK" "$(accepts srv 127.0.0.1)" "connections to 127.0.0.1 (one per allowed request)"
wait_lines "$DENY_LOG" 'result=denied' "$N_DENIED" ||
    soft_fail "access log: $(count_lines "$DENY_LOG" 'result=denied') result=denied lines, expected $N_DENIED"
wait_lines "$DENY_LOG" 'result=ok' "$((N_OK + N_UDP))" ||
    soft_fail "access log: $(count_lines "$DENY_LOG" 'result=ok') result=ok lines, expected $((N_OK + N_UDP))"
check_eq "$((N_DENIED + N_OK + N_UDP))" "$(access_lines "$DENY_LOG" | wc -l)" \
    "access-log lines (one per request, each ok or denied)"
bad=$(access_lines "$DENY_LOG" | grep -E 'target=(127\.0\.0\.2|\[::1\]|deny\.)' |
    grep -v 'result=denied' || true)
[[ -z $bad ]] || soft_fail "a denied target logged without result=denied: $bad"
line=$(access_lines "$DENY_LOG" | grep -E 'proto=socks4 .*target=deny\.ferry\.test:' | tail -n 1)
check_line "$line" listener=mix user=- result=denied
line=$(access_lines "$DENY_LOG" | grep -E 'listener=htp .*method=GET.*status=403' | tail -n 1)
[[ -n $line ]] || soft_fail "no access-log line for a denied forwarded GET on htp"
ferry_healthy "$DENY_PID" "$DENY_LOG"
stop_ferry "$DENY_PID" "$DENY_LOG"
say "ok: section 1 ($N_DENIED denied, $N_OK allowed)"

# ===========================================================================
# 2. the SSRF guard
# ===========================================================================
read -r G_PUB G_LO G_BAD G_CLI < <(free_ports 4 | xargs)
GPW="guard-$RANDOM$RANDOM"
guard_conf() { # FILE RULES-LINE
    cat >"$1" <<EOF
dns:
  servers: [127.0.0.1:$DNS_PORT]
timeouts:
  connect: 1s
listeners:
  - name: pub
    type: mixed
    listen: 0.0.0.0:$G_PUB
    users:
      - name: gina
        password: "$GPW"
  - name: lo
    type: mixed
    listen: 127.0.0.1:$G_LO
$2
EOF
}
guard_conf "$T/guard.yaml" ""
start_ferry -c "$T/guard.yaml"
GUARD_PID=$FERRY_PID
GUARD_LOG=$FERRY_ERR
mark_log "$GUARD_LOG"
before=$(accepts srv 127.0.0.1)
{
    # Through the 0.0.0.0 listener (reached on 127.0.0.1), with credentials.
    for h in 127.0.0.1 loop.ferry.test 0x7f.0.0.1 "[::ffff:127.0.0.1]" \
        0.0.0.0 "[::]" "[::1]" 10.255.0.1 ten.ferry.test; do
        echo "connect $G_PUB $h $WEB denied gina $GPW"
        echo "get $G_PUB $h $WEB denied gina $GPW"
    done
    for c in "socks5 127.0.0.1" "socks5 loop.ferry.test" "socks5 ::1" \
        "socks5 0.0.0.0" "socks5 10.255.0.1" "socks5 ten.ferry.test" \
        "socks5d 2130706433" "socks5 ::ffff:127.0.0.1" "socks5d 0" \
        "socks5d localhost" "socks5 v6.ferry.test"; do
        echo "${c% *} $G_PUB ${c#* } $WEB denied gina $GPW"
    done
    # localhost (from /etc/hosts), a name for ::1, "0" (= 0.0.0.0)
    echo "connect $G_PUB localhost $WEB denied gina $GPW"
    echo "get $G_PUB v6.ferry.test $WEB denied gina $GPW"
    echo "connect $G_PUB 0 $WEB denied gina $GPW"
    # Without credentials the listener still asks for them first.
    echo "connect $G_PUB 127.0.0.1 $WEB auth"
    echo "get $G_PUB loop.ferry.test $WEB auth"
} >"$T/cases-guard"
probe "the SSRF guard on a 0.0.0.0 listener" <"$T/cases-guard"
N_DENIED=$PROBE_DENIED
{
    # The loopback listener of the same file is not guarded.
    echo "connect $G_LO 127.0.0.1 $WEB ok"
    echo "get $G_LO loop.ferry.test $WEB ok"
    echo "socks5 $G_LO loop.ferry.test $WEB ok"
    echo "socks5 $G_LO ::ffff:127.0.0.1 $WEB ok"
} >"$T/cases-guard-lo"
probe "no guard on a loopback listener" <"$T/cases-guard-lo"
u0=$(got_udp udpecho)
udpc "UDP: the guard drops datagrams to loopback" --proxy "127.0.0.1:$G_PUB" \
    --user gina --password "$GPW" \
    "silent:127.0.0.1:$UDP_E" "silent:loop.ferry.test:$UDP_E" \
    "silent:0.0.0.0:$UDP_E"
udpc "UDP: no guard on the loopback listener" --proxy "127.0.0.1:$G_LO" \
    "echo:loop.ferry.test:$UDP_E=127.0.0.1"
check_eq $((u0 + 1)) "$(got_udp udpecho)" "datagrams at the UDP echo server (guard)"
code=$(curl_code -x "http://127.0.0.1:$G_PUB" --proxy-user "gina:$GPW" \
    "http://loop.ferry.test:$WEB/")
check_eq 403 "$code" "curl GET loop.ferry.test through the guarded listener"
rc=0
curl -sS --max-time 10 -o /dev/null -x "socks5h://127.0.0.1:$G_PUB" \
    --proxy-user "gina:$GPW" "http://loop.ferry.test:$WEB/" 2>"$T/curl-s5.err" || rc=$?
[[ $rc == 97 ]] && grep -q '(2)' "$T/curl-s5.err" ||
    soft_fail "curl socks5h through the guard: exit $rc, expected 97 with REP 2: $(cat "$T/curl-s5.err")"
N_DENIED=$((N_DENIED + 2))
check_eq $((before + 4)) "$(accepts srv 127.0.0.1)" \
    "connections to 127.0.0.1 (only the unguarded listener's)"
wait_lines "$GUARD_LOG" 'listener=pub .*result=denied' "$N_DENIED" ||
    soft_fail "access log: $(count_lines "$GUARD_LOG" 'listener=pub .*result=denied') denied lines for pub, expected $N_DENIED"
line=$(access_lines "$GUARD_LOG" | grep -E 'listener=pub .*target=ten\.ferry\.test' | tail -n 1)
check_line "$line" user=gina result=denied
# (the UDP association itself is result=ok; its datagrams were dropped)
bad=$(access_lines "$GUARD_LOG" | grep 'listener=pub' | grep -v 'proto=socks5-udp' |
    grep -vE 'result=(denied|auth) ' || true)
[[ -z $bad ]] || soft_fail "a guarded request was not denied: $bad"
stop_ferry "$GUARD_PID" "$GUARD_LOG"

# rules: [] turns the guard off.
guard_conf "$T/noguard.yaml" "rules: []"
start_ferry -c "$T/noguard.yaml"
before=$(accepts srv 127.0.0.1)
probe "rules: [] turns the guard off" <<EOF
connect $G_PUB 127.0.0.1 $WEB ok gina $GPW
get $G_PUB loop.ferry.test $WEB ok gina $GPW
connect $G_PUB [::ffff:127.0.0.1] $WEB ok gina $GPW
socks5 $G_PUB loop.ferry.test $WEB ok gina $GPW
socks5d $G_PUB 0x7f.1 $WEB ok gina $GPW
connect $G_PUB 127.0.0.1 $WEB auth
EOF
page=$(curl -sS --max-time 10 -x "http://127.0.0.1:$G_PUB" --proxy-user "gina:$GPW" \
    "http://loop.ferry.test:$WEB/" 2>>"$T/curl.err") || true
check_eq "acl-ok 127.0.0.1" "$page" "curl through the 0.0.0.0 listener with rules: []"
check_eq $((before + 6)) "$(accepts srv 127.0.0.1)" "connections with rules: []"
u0=$(got_udp udpecho)
udpc "UDP: rules: [] turns the guard off" --proxy "127.0.0.1:$G_PUB" \
    --user gina --password "$GPW" "echo:127.0.0.1:$UDP_E"
check_eq $((u0 + 1)) "$(got_udp udpecho)" "datagrams at the UDP echo server (rules: [])"
assert_no_secret "$GPW" "$FERRY_ERR" "$FERRY_OUT" "$GUARD_LOG"
stop_ferry "$FERRY_PID" "$FERRY_ERR"

# A 0.0.0.0 listener without users is refused unless open.
refuse_start() { # WHAT NEEDLE ARGS...: ferry must exit non-zero, naming NEEDLE
    local what=$1 needle=$2 rc=0 out
    shift 2
    out=$(timeout 5 "$FERRY_BIN" "$@" 2>&1) || rc=$?
    if ((rc == 0 || rc == 124)); then
        soft_fail "$what: ferry $* exited $rc (expected a refusal): $out"
    elif [[ $out != *"$needle"* ]]; then
        soft_fail "$what: the message should name '$needle': $out"
    else
        say "ok: $what: exit $rc: $(head -n 1 <<<"$out")"
    fi
    tcp_listening "$G_BAD" && fail "$what: something listens on $G_BAD"
    return 0
}
cat >"$T/exposed.yaml" <<EOF
listeners:
  - name: exposed
    type: socks
    listen: 0.0.0.0:$G_BAD
EOF
refuse_start "0.0.0.0 listener without users or open" "0.0.0.0:$G_BAD" \
    -c "$T/exposed.yaml"
out=$(timeout 5 "$FERRY_BIN" -c "$T/exposed.yaml" 2>&1) || true
assert_match "$out" "$T/exposed.yaml:4:[0-9]+: " "the refusal names FILE:LINE:COL of the listen address"
refuse_start "ferry check on it" "0.0.0.0:$G_BAD" check -c "$T/exposed.yaml"
refuse_start "-L socks5://0.0.0.0 without --open" "socks@0.0.0.0:$G_BAD" \
    -L "socks5://0.0.0.0:$G_BAD"
refuse_start "-L mixed://[::] without --open" "mixed@[::]:$G_BAD" \
    -L "mixed://[::]:$G_BAD"
refuse_start "--open covers only -L listeners" "0.0.0.0:$G_BAD" \
    --open -c "$T/exposed.yaml"
# open: true / --open / users: it starts (stopped at once; no traffic).
sed 's/^    listen: .*/&\n    open: true/' "$T/exposed.yaml" >"$T/open.yaml"
grep -q 'open: true' "$T/open.yaml" || fail "could not write open.yaml"
start_ferry -c "$T/open.yaml"
tcp_listening "$G_BAD" 0.0.0.0 || fail "open: true listener is not on 0.0.0.0:$G_BAD"
stop_ferry "$FERRY_PID" "$FERRY_ERR"
start_ferry --open -L "socks5://0.0.0.0:$G_CLI"
tcp_listening "$G_CLI" 0.0.0.0 || fail "--open listener is not on 0.0.0.0:$G_CLI"
stop_ferry "$FERRY_PID" "$FERRY_ERR"
start_ferry -L "socks5://gina:$GPW@0.0.0.0:$G_CLI"
stop_ferry "$FERRY_PID" "$FERRY_ERR"
say "ok: section 2"

# ===========================================================================
# 3. rule matching
# ===========================================================================
read -r R_AUTH R_ANON R_OTHER < <(free_ports 3 | xargs)
APW="alice-$RANDOM$RANDOM"
BPW="bob-$RANDOM$RANDOM"
cat >"$T/rules.yaml" <<EOF
dns:
  servers: [127.0.0.1:$DNS_PORT]
listeners:
  - name: auth
    type: mixed
    listen: 127.0.0.1:$R_AUTH
    users:
      - {name: alice, password: "$APW"}
      - {name: bob, password: "$BPW"}
  - name: anon
    type: mixed
    listen: 127.0.0.1:$R_ANON
  - name: other
    type: mixed
    listen: 127.0.0.1:$R_OTHER
rules:
  # first match wins
  - {action: allow, domains: [first.rules.ferry.test]}
  - {action: deny, domains: [first.rules.ferry.test, second.rules.ferry.test]}
  - {action: allow, domains: [second.rules.ferry.test]}
  # exact names and *.suffix
  - {action: deny, domains: [exact.rules.ferry.test]}
  - {action: deny, domains: ["*.wild.rules.ferry.test"]}
  # ports (AND a name); ranges are inclusive
  - {action: deny, domains: [ports.rules.ferry.test], ports: ["$WEB-$((WEB + 5))"]}
  - {action: deny, domains: [port1.rules.ferry.test], ports: ["$((WEB2 - 5))-$WEB2"]}
  - {action: deny, domains: [port2.rules.ferry.test], ports: [$WEB2]}
  # users
  - {action: allow, users: [alice], domains: [alice.rules.ferry.test]}
  - {action: deny, domains: [alice.rules.ferry.test]}
  - {action: deny, users: [bob], domains: [nobob.rules.ferry.test]}
  - {action: deny, users: ["-"], domains: [members.rules.ferry.test]}
  # listeners
  - {action: deny, listeners: [other], domains: [lst.rules.ferry.test]}
  # protocol
  - {action: deny, protocol: udp, domains: [udpdeny.rules.ferry.test]}
  - {action: deny, protocol: tcp, domains: [tcpdeny.rules.ferry.test]}
  - {action: deny, protocol: udp, users: [bob]}
  - {action: deny, protocol: udp, listeners: [other]}
EOF
timeout 10 "$FERRY_BIN" check -c "$T/rules.yaml" >"$T/check-rules.out" 2>&1 ||
    fail "ferry check rules.yaml: $(cat "$T/check-rules.out")"
start_ferry -c "$T/rules.yaml"
RULES_PID=$FERRY_PID
RULES_LOG=$FERRY_ERR
mark_log "$RULES_LOG"
before=$(accepts srv 127.0.0.1)
before2=$(accepts "$SRV2" 127.0.0.1)
A="alice $APW"
B="bob $BPW"
R=rules.ferry.test
probe "rule matching" <<EOF
# first match wins: allow before deny, and deny before allow
connect $R_AUTH first.$R $WEB ok $A
socks5 $R_ANON first.$R $WEB ok
get $R_OTHER first.$R $WEB ok
connect $R_AUTH second.$R $WEB denied $A
socks5 $R_ANON second.$R $WEB denied
get $R_OTHER second.$R $WEB denied
# exact: any case, a trailing dot ignored; not the names under it
connect $R_ANON exact.$R $WEB denied
get $R_ANON EXACT.Rules.Ferry.Test $WEB denied
socks5 $R_ANON exact.$R. $WEB denied
socks4 $R_ANON exact.$R $WEB denied
connect $R_ANON a.exact.$R $WEB ok
socks5 $R_ANON xexact.$R $WEB ok
# *.suffix: every name under it, not the suffix itself
connect $R_ANON a.wild.$R $WEB denied
get $R_ANON a.b.wild.$R $WEB denied
socks5 $R_ANON A.WILD.$R. $WEB denied
socks4 $R_ANON x.wild.$R $WEB denied
connect $R_ANON wild.$R $WEB ok
socks5 $R_ANON awild.$R $WEB ok
get $R_ANON wild.$R. $WEB ok
# ports: the range's ends are in it; other ports and other names are not
connect $R_ANON ports.$R $WEB denied
socks5 $R_ANON ports.$R $WEB denied
connect $R_ANON ports.$R $WEB2 ok
connect $R_ANON port1.$R $WEB2 denied
get $R_ANON port1.$R $WEB ok
socks5 $R_ANON port2.$R $WEB2 denied
socks5 $R_ANON port2.$R $WEB ok
connect $R_ANON exact2.$R $WEB2 ok
# users: alice may, bob and nobody may not
connect $R_AUTH alice.$R $WEB ok $A
socks5 $R_AUTH alice.$R $WEB ok $A
get $R_AUTH alice.$R $WEB ok $A
connect $R_AUTH alice.$R $WEB denied $B
socks5 $R_AUTH alice.$R $WEB denied $B
get $R_ANON alice.$R $WEB denied
socks4 $R_ANON alice.$R $WEB denied alice
connect $R_AUTH nobob.$R $WEB denied $B
get $R_AUTH nobob.$R $WEB denied $B
connect $R_AUTH nobob.$R $WEB ok $A
socks5 $R_ANON nobob.$R $WEB ok
# "-": a client that did not authenticate (a SOCKS4 user id is no login)
connect $R_AUTH members.$R $WEB ok $A
socks5 $R_AUTH members.$R $WEB ok $B
connect $R_ANON members.$R $WEB denied
get $R_OTHER members.$R $WEB denied
socks5 $R_ANON members.$R $WEB denied
socks4 $R_ANON members.$R $WEB denied alice
# listeners
connect $R_OTHER lst.$R $WEB denied
socks5 $R_OTHER lst.$R $WEB denied
connect $R_ANON lst.$R $WEB ok
socks5 $R_AUTH lst.$R $WEB ok $A
# protocol: a udp deny does not touch TCP; a tcp deny does
connect $R_ANON udpdeny.$R $WEB ok
socks5 $R_ANON udpdeny.$R $WEB ok
get $R_ANON udpdeny.$R $WEB ok
connect $R_ANON tcpdeny.$R $WEB denied
socks5 $R_ANON tcpdeny.$R $WEB denied
EOF
N_OK=$PROBE_OK
N_DENIED=$PROBE_DENIED
N_OK2=$(grep -cE " $WEB2 ok( |$)" <<<"$PROBE_CASES" || true)
((N_OK2 == 2)) || fail "expected 2 allowed cases on $WEB2, the list has $N_OK2"
# The same through curl.
curl_get() { # CURL-ARGS...: print the page or fail
    curl -sS --max-time 10 "$@" 2>>"$T/curl.err"
}
pg=$(curl_get -x "http://127.0.0.1:$R_AUTH" --proxy-user "alice:$APW" \
    "http://alice.$R:$WEB/") || soft_fail "curl alice -> alice.$R failed"
[[ ${pg:-} == "acl-ok 127.0.0.1" ]] || soft_fail "curl alice -> alice.$R: '${pg:-}'"
code=$(curl_code -x "http://127.0.0.1:$R_AUTH" --proxy-user "bob:$BPW" \
    "http://alice.$R:$WEB/")
[[ $code == 403 ]] || soft_fail "curl bob -> alice.$R: $code, expected 403"
code=$(curl_code -w '%{http_connect}' -p -x "http://127.0.0.1:$R_ANON" "http://a.wild.$R:$WEB/")
[[ $code == 403 ]] || soft_fail "curl CONNECT a.wild.$R: $code, expected 403"
pg=$(curl_get -p -x "http://127.0.0.1:$R_ANON" "http://wild.$R:$WEB/") ||
    soft_fail "curl CONNECT wild.$R failed"
[[ ${pg:-} == "acl-ok 127.0.0.1" ]] || soft_fail "curl CONNECT wild.$R: '${pg:-}'"
pg=$(curl_get -x "socks5h://127.0.0.1:$R_AUTH" --proxy-user "bob:$BPW" \
    "http://members.$R:$WEB/") || soft_fail "curl socks5h bob -> members.$R failed"
[[ ${pg:-} == "acl-ok 127.0.0.1" ]] || soft_fail "curl socks5h bob -> members.$R: '${pg:-}'"
rc=0
curl -sS --max-time 10 -o /dev/null -x "socks5h://127.0.0.1:$R_OTHER" \
    "http://lst.$R:$WEB/" 2>"$T/curl-s5.err" || rc=$?
[[ $rc == 97 ]] && grep -q '(2)' "$T/curl-s5.err" ||
    soft_fail "curl socks5h lst.$R on other: exit $rc, expected 97 with REP 2: $(cat "$T/curl-s5.err")"
N_OK=$((N_OK + 3))
N_DENIED=$((N_DENIED + 3))
# UDP: the udp deny drops datagrams to its name; the tcp deny does not.
u0=$(got_udp udpecho)
udpc "UDP: protocol udp/tcp rules" --proxy "127.0.0.1:$R_ANON" \
    "echo:rules.ferry.test:$UDP_E=127.0.0.1" \
    "silent:udpdeny.$R:$UDP_E" \
    "echo:tcpdeny.$R:$UDP_E=127.0.0.1" \
    "silent:udpdeny.$R:$UDP_E" \
    "echo:127.0.0.1:$UDP_E"
check_eq $((u0 + 3)) "$(got_udp udpecho)" "datagrams at the UDP echo server (the udp-denied ones must not arrive)"
# users and listeners conditions apply to datagrams too (bob's TCP above
# was not affected by his udp deny).
u0=$(got_udp udpecho)
udpc "UDP as alice" --proxy "127.0.0.1:$R_AUTH" --user alice --password "$APW" \
    "echo:127.0.0.1:$UDP_E"
udpc "UDP as bob (users: [bob] udp deny)" --proxy "127.0.0.1:$R_AUTH" \
    --user bob --password "$BPW" \
    "silent:127.0.0.1:$UDP_E" "silent:rules.ferry.test:$UDP_E"
udpc "UDP on listener other (listeners: [other] udp deny)" \
    --proxy "127.0.0.1:$R_OTHER" "silent:127.0.0.1:$UDP_E"
check_eq $((u0 + 1)) "$(got_udp udpecho)" "datagrams at the UDP echo server (only alice's)"

# One keep-alive connection, several requests: each is checked with the
# credentials it carries.  Credentials sent to a listener without users are
# no identity.
py - "$R_AUTH" "$R_ANON" "$WEBKA" "$APW" "$BPW" >"$T/keepalive.out" 2>&1 <<'PY' ||
import sys, ftlib
from ftlib import expect_eq, recv_exact
auth, anon, web, apw, bpw = (int(sys.argv[1]), int(sys.argv[2]),
                             int(sys.argv[3]), sys.argv[4], sys.argv[5])
host = f"alice.rules.ferry.test:{web}"

def get(s, cred):
    s.sendall(f"GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\n"
              f"{ftlib.basic_auth(*cred) if cred else ''}\r\n".encode())
    r = ftlib.read_http_response(s, read_body=False)
    cl = int(r.header("content-length") or 0)
    body = r.rest + (recv_exact(s, cl - len(r.rest)) if cl > len(r.rest) else b"")
    return r.status, body

A, B = ("alice", apw), ("bob", bpw)
for second, want in ((B, 403), (None, 407), (("bob", "x" + bpw), 407),
                     (("alice", "x" + apw), 407)):
    s = ftlib.connect("127.0.0.1", auth)
    st, body = get(s, A)
    expect_eq((200, b"acl-ok 127.0.0.1\n"), (st, body), "alice's first request")
    st, body = get(s, second)
    expect_eq(want, st, f"second request on the connection, as {second and second[0]}")
    expect_eq(False, b"acl-ok" in body, "second request: the page came through")
    s.close()
s = ftlib.connect("127.0.0.1", anon)
st, body = get(s, A)
expect_eq(403, st, "alice's credentials on the listener without users")
print("keep-alive ok")
PY
    soft_fail "keep-alive requests: $(tail -n 5 "$T/keepalive.out")"
N_DENIED=$((N_DENIED + 2))

wait_lines "$RULES_LOG" 'result=denied' "$N_DENIED" ||
    soft_fail "access log: $(count_lines "$RULES_LOG" 'result=denied') denied lines, expected $N_DENIED"
check_eq $((before + N_OK - N_OK2)) "$(accepts srv 127.0.0.1)" \
    "connections to the server on $WEB (one per allowed request)"
check_eq $((before2 + N_OK2)) "$(accepts "$SRV2" 127.0.0.1)" \
    "connections to the server on $WEB2"
line=$(access_lines "$RULES_LOG" | grep -E "listener=auth .*user=bob .*target=alice\\.$R:$WEB " | tail -n 1)
check_line "$line" user=bob result=denied
line=$(access_lines "$RULES_LOG" | grep -E "listener=auth .*user=alice .*target=alice\\.$R:$WEB " | tail -n 1)
check_line "$line" user=alice result=ok
# A request that failed authentication has no user, also when an earlier
# request on the same keep-alive connection logged in.
n=$(count_lines "$RULES_LOG" "target=alice\\.$R:$WEBKA .*result=auth")
[[ $n == 3 ]] || soft_fail "access log: $n result=auth lines for the keep-alive connections, expected 3"
bad=$(access_lines "$RULES_LOG" | grep 'result=auth' | grep -v ' user=- ' || true)
[[ -z $bad ]] || soft_fail "a request that failed authentication is logged with a user name (the previous request's on the connection): $bad"
line=$(access_lines "$RULES_LOG" | grep -E 'proto=socks4 .*target=members\.' | tail -n 1)
check_line "$line" listener=anon user=- result=denied
line=$(access_lines "$RULES_LOG" | grep -E 'listener=other .*target=lst\.' | tail -n 1)
check_line "$line" result=denied
assert_no_secret "$APW" "$RULES_LOG" "$FERRY_OUT"
assert_no_secret "$BPW" "$RULES_LOG" "$FERRY_OUT"
ferry_healthy "$RULES_PID" "$RULES_LOG"
stop_ferry "$RULES_PID" "$RULES_LOG"
say "ok: section 3"

# ===========================================================================
# 4. hashed passwords
# ===========================================================================
CPW="carol pw:$RANDOM$RANDOM"   # a space and a colon in it
DPW="dave-$RANDOM$RANDOM"
CHASH=$(printf '%s\n' "$CPW" | timeout 10 "$FERRY_BIN" passwd) ||
    fail "ferry passwd exited $?"
assert_match "$CHASH" '^\$y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{43}$' "ferry passwd output"
CHASH2=$(printf '%s\n' "$CPW" | timeout 10 "$FERRY_BIN" passwd) ||
    fail "ferry passwd exited $?"
assert_ne "$CHASH" "$CHASH2" "two hashes of one password (fresh salt)"
rc=0
printf '' | timeout 10 "$FERRY_BIN" passwd >"$T/passwd-empty.out" 2>&1 || rc=$?
((rc != 0 && rc != 124)) || fail "ferry passwd without a password exited $rc"
DHASH=$(openssl passwd -6 -stdin <<<"$DPW")
assert_match "$DHASH" '^\$6\$' "openssl passwd -6"
read -r H H2 < <(free_ports 2 | xargs)
# One worker: every login below goes through the same credential cache.
# hashed2 has another carol, whose password is dave's.
C2HASH=$(printf '%s\n' "$DPW" | timeout 10 "$FERRY_BIN" passwd) ||
    fail "ferry passwd exited $?"
cat >"$T/hash.yaml" <<EOF
workers: 1
listeners:
  - name: hashed
    type: mixed
    listen: 127.0.0.1:$H
    users:
      - name: carol
        password_hash: "$CHASH"
      - name: dave
        password_hash: "$DHASH"
  - name: hashed2
    type: mixed
    listen: 127.0.0.1:$H2
    users:
      - name: carol
        password_hash: "$C2HASH"
EOF
out=$(timeout 10 "$FERRY_BIN" check -c "$T/hash.yaml" 2>&1) ||
    fail "ferry check hash.yaml: $out"
assert_not_contains "$out" "${CHASH##*\$}" "ferry check output"
start_ferry -c "$T/hash.yaml" --log-level debug
HASH_LOG=$FERRY_ERR
mark_log "$HASH_LOG"
before=$(accepts srv 127.0.0.1)
U=http://127.0.0.1:$WEB/
N_GOOD=0
# good DESC CURL-ARGS...: the page comes back.
good() {
    local what=$1 pg
    shift
    N_GOOD=$((N_GOOD + 1))
    pg=$(curl_get "$@") || { soft_fail "$what: curl failed"; return 0; }
    [[ $pg == "acl-ok 127.0.0.1" ]] || soft_fail "$what: got '$pg'"
}
# refused PORT CRED DESC: 407 for GET and CONNECT, a failure for SOCKS5.
refused() {
    local port=$1 cred=$2 what=$3 code rc=0
    code=$(curl_code -x "http://127.0.0.1:$port" --proxy-user "$cred" "$U")
    [[ $code == 407 ]] || soft_fail "curl GET, $what: $code, expected 407"
    code=$(curl_code -w '%{http_connect}' -p -x "http://127.0.0.1:$port" \
        --proxy-user "$cred" "$U")
    [[ $code == 407 ]] || soft_fail "curl CONNECT, $what: $code, expected 407"
    rm -f "$T/s5.body"
    curl -sS --max-time 10 -o "$T/s5.body" -x "socks5h://127.0.0.1:$port" \
        --proxy-user "$cred" "$U" 2>"$T/curl-s5.err" || rc=$?
    # curl 7.88: "User was rejected by the SOCKS5 server" = exit 97
    [[ $rc == 97 ]] && ! grep -qs acl-ok "$T/s5.body" ||
        soft_fail "curl socks5h, $what: exit $rc, expected 97: $(cat "$T/curl-s5.err")"
}
for round in 1 2; do # the second round is answered from the cache
    good "http carol ($round)" -x "http://127.0.0.1:$H" --proxy-user "carol:$CPW" "$U"
    good "CONNECT carol ($round)" -p -x "http://127.0.0.1:$H" --proxy-user "carol:$CPW" "$U"
    good "socks5h carol ($round)" -x "socks5h://127.0.0.1:$H" --proxy-user "carol:$CPW" "$U"
    good "socks5 dave ($round)" -x "socks5://127.0.0.1:$H" --proxy-user "dave:$DPW" "$U"
    good "http dave ($round)" -x "http://127.0.0.1:$H" --proxy-user "dave:$DPW" "$U"
    good "CONNECT carol on hashed2 ($round)" -p -x "http://127.0.0.1:$H2" \
        --proxy-user "carol:$DPW" "$U"
    # wrong: a changed password, a prefix, the other user's, an unknown
    # user, an empty password; carol's password on the other listener
    # (where carol has another one), and that one here.
    refused "$H" "carol:x$CPW" "carol, a wrong password ($round)"
    refused "$H" "carol:${CPW%:*}" "carol, a prefix of her password ($round)"
    refused "$H" "carol:$DPW" "carol with dave's password ($round)"
    refused "$H" "dave:$CPW" "dave with carol's password ($round)"
    refused "$H" "mallory:$CPW" "an unknown user ($round)"
    refused "$H" "carol:" "carol, an empty password ($round)"
    refused "$H2" "carol:$CPW" "carol on hashed2 with her hashed password ($round)"
    code=$(curl_code -x "http://127.0.0.1:$H" "$U")
    [[ $code == 407 ]] || soft_fail "curl GET without a login: $code, expected 407"
done
# The exact RFC 1929 and 407 answers.
probe "hashed passwords, raw clients" <<EOF
socks5 $H 127.0.0.1 $WEB ok dave $DPW
socks5 $H 127.0.0.1 $WEB auth dave x$DPW
socks5 $H 127.0.0.1 $WEB auth carol $DPW
socks5 $H 127.0.0.1 $WEB auth nobody $DPW
socks5 $H2 127.0.0.1 $WEB ok carol $DPW
connect $H 127.0.0.1 $WEB ok dave $DPW
connect $H 127.0.0.1 $WEB auth dave ${DPW}x
get $H 127.0.0.1 $WEB auth dave ${DPW%?}
socks4 $H 127.0.0.1 $WEB auth carol
EOF
N_GOOD=$((N_GOOD + PROBE_OK))
check_eq $((before + N_GOOD)) "$(accepts srv 127.0.0.1)" "connections with hashed logins"
wait_lines "$HASH_LOG" 'listener=hashed .*user=carol .*result=ok' 6 ||
    soft_fail "access log: expected 6 result=ok lines for carol on hashed"
line=$(access_lines "$HASH_LOG" | grep -E 'proto=socks5 .*result=auth' | tail -n 1)
[[ -n $line ]] || soft_fail "no result=auth access-log line for a SOCKS5 login failure"
ferry_healthy
stop_ferry "$FERRY_PID" "$FERRY_ERR"
for secret in "$CHASH" "$CHASH2" "$DHASH" "$C2HASH" "${CHASH##*\$}" \
    "${DHASH##*\$}" "${C2HASH##*\$}" "$CPW" "$DPW" "x$CPW" "${CPW%:*}"; do
    assert_no_secret "$secret" "$HASH_LOG" "$FERRY_OUT"
done
say "ok: section 4"

# ===========================================================================
# 5. ferry check on bad rules: FILE:LINE:COL
# ===========================================================================
# bad NAME LINE COL WORDS: `ferry check` exits non-zero and prints
# "FILE:LINE:COL: ..." mentioning WORDS (an ERE, any case).  Config on stdin.
bad() {
    local name=$1 line=$2 col=$3 word=$4 f=$T/bad-$1.yaml rc=0 out
    cat >"$f"
    out=$(timeout 10 "$FERRY_BIN" check -c "$f" 2>&1) || rc=$?
    say "check $name: exit $rc: $(head -n 1 <<<"$out")"
    if ((rc == 0 || rc == 124)); then
        soft_fail "ferry check $name: exit $rc, expected an error; output: $out"
    elif ! grep -qE -- "^(ferry: )?$f:$line:($col): " <<<"$out"; then
        soft_fail "ferry check $name: expected '$f:$line:$col: ...', got: $out"
    elif ! grep -qiE -- "$word" <<<"$out"; then
        soft_fail "ferry check $name: message should mention /$word/, got: $out"
    fi
    BAD_OUT=$out
}
HEAD='listeners:
  - name: a
    type: http
    listen: 127.0.0.1:1
egresses:
  - name: corp
    type: http
    address: 127.0.0.1:3128
rules:'
bad via-unknown 11 10 'crop' <<EOF
$HEAD
  - action: allow
    via: crop
EOF
bad via-unknown-flow 10 26 'nope' <<EOF
$HEAD
  - {action: allow, via: nope, ports: [443]}
EOF
bad cidr-host-bits 11 25 '10\.0\.0\.1/8' <<EOF
$HEAD
  - action: deny
    cidrs: [10.0.0.0/8, 10.0.0.1/8]
EOF
bad cidr-garbage 13 9 '300\.1\.2\.3' <<EOF
$HEAD
  - action: deny
    cidrs:
      - 127.0.0.0/8
      - 300.1.2.3/32
EOF
bad cidr-prefix 11 '1[34]' '/33' <<EOF
$HEAD
  - action: deny
    cidrs: ["10.0.0.0/33"]
EOF
bad listener-unknown 12 17 'lan' <<EOF
$HEAD
  - action: deny
    users: [alice]
    listeners: [lan]
EOF
bad domain-ip 11 15 'cidrs|address' <<EOF
$HEAD
  - action: deny
    domains: [192.0.2.7]
EOF
# 127.1 and 0177.0.0.1 are IPv4 addresses to ferry (a target so written is
# an IP): as a domain they could never match.
bad domain-legacy-ip 11 15 'cidrs|address' <<EOF
$HEAD
  - action: deny
    domains: [127.1]
EOF
bad domain-legacy-ip-octal 11 '2[67]' 'cidrs|address' <<EOF
$HEAD
  - action: deny
    domains: [a.example, "0177.0.0.1"]
EOF
bad ports-reversed 11 '1[34]' '9000-8000' <<EOF
$HEAD
  - action: deny
    ports: ["9000-8000"]
EOF
bad action-typo 10 13 'permit' <<EOF
$HEAD
  - action: permit
EOF
MD5=$(openssl passwd -1 -salt abcdefgh secret)
bad md5-hash 7 24 'md5|method|legacy|\$1\$|hash' <<EOF
listeners:
  - name: a
    type: http
    listen: 127.0.0.1:1
    users:
      - name: u
        password_hash: "$MD5"
EOF
assert_not_contains "$BAD_OUT" "${MD5##*\$}" "the refusal of an MD5 hash"
say "ok: section 5"

finish
