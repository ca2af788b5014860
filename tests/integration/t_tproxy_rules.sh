# t_tproxy_rules: `ferry tproxy-rules` against the real kernel and nft.
#
# Three network namespaces this test creates and removes: a LAN client
# (cli), the router where ferry's rules go (rtr) and a server behind it
# (srv); addresses from the documentation ranges, nothing leaves them.
#
#   - nft -c accepts the printed script for every option combination;
#   - `--remove` with nothing applied succeeds and changes nothing;
#   - per option set (host, LAN + DNS, IPv4-only, redirect, fail-closed,
#     IPv6-only): --apply, the table and the policy routing are there,
#     traffic is intercepted as the options say (a TPROXY probe listener
#     reports each flow's original destination), a second --apply fails
#     clearly and changes nothing, --remove restores `nft list ruleset`,
#     `ip rule`, `ip -6 rule` and every routing table byte for byte, and
#     a second --remove is a no-op;
#   - a failing --apply undoes the steps it had done; the printed script
#     run by sh is removed by --remove.
#
# Needs root (network namespaces): exits 77 (skipped) otherwise.
if ((EUID != 0)); then
    echo "needs root: creates network namespaces"
    exit 77
fi
source "$(dirname "$0")/lib.sh"
need_tools nft ip sh cmp

PROBE=$IT_DIR/tproxy_probe.py
P=ftpr$$
CLI=$P-cli RTR=$P-rtr SRV=$P-srv
# Remove the namespaces first, then lib.sh's cleanup (with our status).
del_namespaces() {
    local n
    for n in "$CLI" "$RTR" "$SRV"; do ip netns del "$n" 2>/dev/null; done
}
trap '_rc=$?; del_namespaces; (exit $_rc); _cleanup' EXIT

in_rtr() { ip netns exec "$RTR" "$@"; }
ferry_rules() { in_rtr "$FERRY_BIN" tproxy-rules "$@"; }

make_namespaces() {
    local n
    for n in "$CLI" "$RTR" "$SRV"; do
        ip netns add "$n"
        ip -n "$n" link set lo up
    done
    ip link add lan-c netns "$CLI" type veth peer name lan-r netns "$RTR"
    ip link add wan-r netns "$RTR" type veth peer name wan-s netns "$SRV"
    # No duplicate address detection: link-local addresses (NDP needs
    # them) come at once, not a second later in the middle of a snapshot.
    ip netns exec "$CLI" sysctl -qw net.ipv6.conf.lan-c.accept_dad=0
    in_rtr sysctl -qw net.ipv6.conf.lan-r.accept_dad=0 \
        net.ipv6.conf.wan-r.accept_dad=0
    ip netns exec "$SRV" sysctl -qw net.ipv6.conf.wan-s.accept_dad=0
    ip -n "$CLI" addr add 198.51.100.2/24 dev lan-c
    ip -n "$CLI" addr add 2001:db8:1::2/64 dev lan-c nodad
    ip -n "$RTR" addr add 198.51.100.1/24 dev lan-r
    ip -n "$RTR" addr add 2001:db8:1::1/64 dev lan-r nodad
    ip -n "$RTR" addr add 203.0.113.1/24 dev wan-r
    ip -n "$RTR" addr add 2001:db8:2::1/64 dev wan-r nodad
    ip -n "$SRV" addr add 203.0.113.2/24 dev wan-s
    ip -n "$SRV" addr add 2001:db8:2::2/64 dev wan-s nodad
    ip -n "$CLI" link set lan-c up
    ip -n "$RTR" link set lan-r up
    ip -n "$RTR" link set wan-r up
    ip -n "$SRV" link set wan-s up
    ip -n "$CLI" route add default via 198.51.100.1
    ip -n "$CLI" -6 route add default via 2001:db8:1::1
    ip -n "$SRV" route add default via 203.0.113.1
    ip -n "$SRV" -6 route add default via 2001:db8:2::1
    in_rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# snapshot FILE: everything --apply may touch in the router.
snapshot() {
    {
        echo "== nft list ruleset"
        in_rtr nft list ruleset
        echo "== ip rule"
        in_rtr ip rule
        echo "== ip -6 rule"
        in_rtr ip -6 rule
        echo "== ip route show table all"
        in_rtr ip route show table all
        echo "== ip -6 route show table all"
        in_rtr ip -6 route show table all
        # The kernel never frees a routing table once a route made it:
        # after --remove, `show table 500` prints nothing where before it
        # said "FIB table does not exist".  Both mean "no routes".
        for t in 500 777; do
            echo "== table $t"
            in_rtr ip route show table "$t" 2>/dev/null || true
            in_rtr ip -6 route show table "$t" 2>/dev/null || true
        done
    } >"$1" 2>&1
}

same_snapshot() { # EXPECTED-FILE WHAT
    snapshot "$T/now.txt"
    cmp -s "$1" "$T/now.txt" ||
        fail "$2: the router's rules/routing changed:
$(diff "$1" "$T/now.txt")"
}

# probe NS PROTO HOST PORT: what the probe client gets back.
probe() {
    ip netns exec "$1" timeout 10 python3 "$PROBE" client "$2" "$3" "$4"
}
expect_probe() { # NS PROTO HOST PORT WANT
    local got
    got=$(probe "$1" "$2" "$3" "$4")
    [[ $got == "$5" ]] ||
        fail "$2 from ${1##*-} to $3:$4: expected '$5', got '$got'"
}

start_tproxy_listener() {
    spawn probe-tproxy ip netns exec "$RTR" python3 -u "$PROBE" server 7893
    TPROXY_PID=$SPAWNED_PID
    wait_until 10 "the TPROXY probe listener" \
        grep -qs '^PORT ' "$T/probe-tproxy.out"
}
stop_tproxy_listener() {
    kill -TERM -- "-$TPROXY_PID" 2>/dev/null || true
    wait_exit "$TPROXY_PID" 5 || fail "the probe listener did not stop"
    rm -f "$T/probe-tproxy.out"
}

# --- nft accepts every combination -------------------------------------------

make_namespaces
spawn probe-plain ip netns exec "$SRV" python3 -u "$PROBE" plain 80
wait_until 10 "the plain server" grep -qs '^PORT ' "$T/probe-plain.out"
spawn probe-plain53 ip netns exec "$SRV" python3 -u "$PROBE" plain 53
wait_until 10 "the plain server" grep -qs '^PORT ' "$T/probe-plain53.out"
# The baseline, once the kernel has finished bringing the links up.
settled() {
    [[ -z $(in_rtr ip -6 addr show tentative) ]] || return 1
    snapshot "$T/before.txt"
    sleep 0.2
    snapshot "$T/now.txt"
    cmp -s "$T/before.txt" "$T/now.txt"
}
wait_until 10 "the router's routing tables to settle" settled

# nft_check ARGS...: the printed script is valid sh and nft -c takes it.
nft_check() {
    ferry_rules "$@" >"$T/printed.sh" ||
        fail "ferry tproxy-rules $* exited $?"
    sh -n "$T/printed.sh" || fail "printed script for '$*' is not valid sh"
    sed -n "/^nft -f - <<'FERRY_NFT'\$/,/^FERRY_NFT\$/p" "$T/printed.sh" |
        sed '1d;$d' >"$T/printed.nft"
    [[ -s $T/printed.nft ]] || fail "no nft script in the output for '$*'"
    in_rtr nft -c -f "$T/printed.nft" 2>"$T/nft-c.err" ||
        fail "nft -c rejects the ruleset for '$*': $(cat "$T/nft-c.err")"
}
combos=0
for chains in "--host" "--lan" "--lan --iface lan-r" "--host --lan"; do
    for fam in "" --ipv4-only --ipv6-only; do
        for extra in "" "--dns" "--fail-closed --exclude-private" \
            "--dns --fail-closed --exclude 192.0.2.0/24 --exclude ::9"; do
            # shellcheck disable=SC2086 # word splitting wanted
            nft_check $chains $fam $extra
            combos=$((combos + 1))
        done
        # shellcheck disable=SC2086
        nft_check --mode redirect $chains $fam --exclude-private
        combos=$((combos + 1))
    done
done
say "nft -c accepted all $combos option combinations"
ferry_rules --check --host --lan --dns >"$T/check.out" ||
    fail "--check failed: $(cat "$T/check.out")"
same_snapshot "$T/before.txt" "after nft -c / --check"

# --- remove with nothing applied ---------------------------------------------

ferry_rules --remove >"$T/rm0.out" 2>&1 ||
    fail "--remove with nothing applied exited $?: $(cat "$T/rm0.out")"
assert_contains "$(cat "$T/rm0.out")" "(4 not there)"
same_snapshot "$T/before.txt" "--remove with nothing applied"

# --- apply / check / remove per option set -----------------------------------

# round NAME WANT-NFT WANT-RULES ARGS...: apply, check the table (it must
# contain each '|'-separated string of WANT-NFT) and the ip rules (WANT-
# RULES: "4", "6", "46" or ""), run the traffic checks of NAME, apply
# again (must fail, nothing changed), remove (exactly as before), remove
# again (no-op).
round() {
    local name=$1 want_nft=$2 want_rules=$3 s
    shift 3
    say "round $name: $*"
    ferry_rules --apply "$@" >"$T/apply.out" 2>&1 ||
        fail "$name: --apply exited $?: $(cat "$T/apply.out")"
    in_rtr nft list table inet ferry_tproxy >"$T/table.txt" 2>&1 ||
        fail "$name: no table inet ferry_tproxy after --apply"
    IFS='|' read -ra wants <<<"$want_nft"
    for s in "${wants[@]}"; do
        assert_file_contains "$T/table.txt" "$s" "$name: nft table"
    done
    check_routing "$name" "$want_rules" "$@"
    "traffic_$name"
    snapshot "$T/applied.txt"
    if ferry_rules --apply "$@" >"$T/apply2.out" 2>&1; then
        fail "$name: a second --apply succeeded"
    fi
    assert_contains "$(cat "$T/apply2.out")" "applied already" \
        "$name: second --apply"
    same_snapshot "$T/applied.txt" "$name: the failed second --apply"
    ferry_rules --remove "$@" >"$T/rm.out" 2>&1 ||
        fail "$name: --remove exited $?: $(cat "$T/rm.out")"
    same_snapshot "$T/before.txt" "$name: --remove"
    ferry_rules --remove "$@" >"$T/rm2.out" 2>&1 ||
        fail "$name: second --remove exited $?: $(cat "$T/rm2.out")"
    same_snapshot "$T/before.txt" "$name: second --remove"
}

# check_routing NAME FAMILIES ARGS...: ip rule / local route per family.
check_routing() {
    local name=$1 fams=$2 mark=0x1f4 table=500 f out
    shift 2
    [[ " $* " == *" --route-mark 0x77 "* ]] && mark=0x77 table=777
    for f in 4 6; do
        out=$(in_rtr ip -$f rule)
        if [[ $fams == *$f* ]]; then
            assert_contains "$out" "fwmark $mark lookup $table" \
                "$name: ip -$f rule"
            assert_contains "$(in_rtr ip -$f route show table "$table")" \
                "local default dev lo" "$name: ip -$f route table $table"
        else
            assert_not_contains "$out" "fwmark" "$name: ip -$f rule"
        fi
    done
}

traffic_host() {
    local ip
    for ip in 203.0.113.2 2001:db8:2::2; do
        expect_probe "$RTR" tcp "$ip" 80 "orig=$ip:80"
        expect_probe "$RTR" udp "$ip" 80 "orig=$ip:80"
    done
    expect_probe "$CLI" tcp 203.0.113.2 80 direct # the LAN is not caught
}

traffic_lan_dns() {
    expect_probe "$CLI" tcp 203.0.113.2 80 direct # --exclude
    expect_probe "$CLI" udp 203.0.113.2 53 "orig=203.0.113.2:53" # --dns
    expect_probe "$CLI" tcp 203.0.113.2 53 "orig=203.0.113.2:53"
    expect_probe "$CLI" tcp 2001:db8:2::2 80 "orig=2001:db8:2::2:80"
    expect_probe "$CLI" udp 2001:db8:2::2 80 "orig=2001:db8:2::2:80"
    expect_probe "$RTR" tcp 203.0.113.2 80 direct # the host is not caught
    # nft tproxy fails open: with nothing listening the LAN goes direct.
    stop_tproxy_listener
    expect_probe "$CLI" tcp 2001:db8:2::2 80 direct
    start_tproxy_listener
}

traffic_v4_only() {
    expect_probe "$CLI" tcp 203.0.113.2 80 "orig=203.0.113.2:80"
    expect_probe "$RTR" udp 203.0.113.2 80 "orig=203.0.113.2:80"
    expect_probe "$CLI" tcp 2001:db8:2::2 80 direct
    expect_probe "$RTR" udp 2001:db8:2::2 80 direct
}

traffic_v6_only() {
    expect_probe "$RTR" tcp 2001:db8:2::2 80 "orig=2001:db8:2::2:80"
    expect_probe "$RTR" udp 2001:db8:2::2 53 "orig=2001:db8:2::2:53"
    expect_probe "$RTR" tcp 203.0.113.2 80 direct
}

traffic_redirect() { :; } # SO_ORIGINAL_DST: unit test test_origdst

traffic_fail_closed() {
    stop_tproxy_listener
    local got
    got=$(probe "$CLI" tcp 203.0.113.2 80)
    assert_match "$got" '^ERR (TimeoutError|timeout)' \
        "--fail-closed with nothing listening"
    start_tproxy_listener
    expect_probe "$CLI" tcp 203.0.113.2 80 "orig=203.0.113.2:80"
}

start_tproxy_listener
round host "tproxy ip to :7893|tproxy ip6 to :7893|ct direction reply \
return|meta mark 0x000001f3 return" 46 --host
round lan_dns "tproxy ip to :7893|th dport 53|iifname \"lan-r\" goto \
lan|192.168.0.0/16" 46 \
    --lan --iface lan-r --dns --exclude-private --exclude 203.0.113.2
round v4_only "tproxy ip to :7893|meta nfproto ipv6 return" 4 \
    --host --lan --ipv4-only --route-mark 0x77 --table 777 --rule-pref 777
round v6_only "tproxy ip6 to :7893|meta nfproto ipv4 return" 6 \
    --host --ipv6-only --dns
round redirect "redirect to :7892|type nat hook output" "" \
    --mode redirect --host --lan --iface lan-r
round fail_closed "tproxy ip to :7893|meta l4proto { tcp, udp } drop" 46 \
    --lan --iface lan-r --fail-closed

# --- a failing --apply undoes its steps --------------------------------------

in_rtr nft add table inet ferry_tproxy
snapshot "$T/with-table.txt"
if ferry_rules --apply >"$T/apply-fail.out" 2>&1; then
    fail "--apply succeeded with the table already there"
fi
assert_contains "$(cat "$T/apply-fail.out")" "undid the 4 steps"
same_snapshot "$T/with-table.txt" "a failed --apply"
in_rtr nft delete table inet ferry_tproxy
same_snapshot "$T/before.txt" "deleting the test's table"

# --- the printed script, run by sh, is what --remove removes -----------------

ferry_rules --lan --dns >"$T/printed.sh"
in_rtr sh "$T/printed.sh" >"$T/sh.out" 2>&1 ||
    fail "the printed script failed under sh: $(cat "$T/sh.out")"
expect_probe "$CLI" tcp 203.0.113.2 80 "orig=203.0.113.2:80"
ferry_rules --remove >"$T/rm-sh.out" 2>&1 ||
    fail "--remove after sh exited $?: $(cat "$T/rm-sh.out")"
same_snapshot "$T/before.txt" "--remove of what sh applied"

finish
