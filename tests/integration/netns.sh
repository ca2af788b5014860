# netns.sh: network namespaces for the tunnel scenario tests (t_ns_*.sh).
# A test sources this file instead of lib.sh (it sources lib.sh).
#
# Where it sits: the loopback tests (t_tunnel, t_ssh_reverse) run every
# side on one network; these give each side a network namespace of its
# own, joined by veth pairs, so "the gateway cannot reach the LAN" is a
# routing fact the test checks before it shows the tunnel crossing it.
#
# What it gives:
#   - skip (exit 77) with "needs root: creates network namespaces" when
#     not root or `ip netns` does not work;
#   - ns_new NAME...: namespaces named "fy<pid>-NAME" (unique per run),
#     loopback up, no routes; NS[NAME] is the real name;
#   - ns_link A ADDR/LEN B ADDR/LEN: a veth pair between A and B (created
#     in the namespaces, never in the host's), "v-B" in A and "v-A" in B;
#   - ns_addr NAME ADDR/LEN: an address on NAME's loopback (a service
#     network no other namespace has a route to unless given one);
#   - ns_route NAME ROUTE...: `ip route add ROUTE...` in NAME;
#   - in_ns NAME CMD...: CMD in NAME: a command through `ip netns exec`,
#     a lib.sh function with IT_NETNS set (so spawn, start_ferry,
#     start_nginx, wait_until tcp_listening ... run and look there);
#   - assert_no_route NAME ADDR, assert_tcp_unreachable NAME ADDR PORT:
#     negative controls;
#   - on exit (the lib.sh EXIT trap, after the processes are killed):
#     every process still in our namespaces is killed and the namespaces
#     are deleted (their veth pairs go with them); lib.sh's watchdog does
#     the same from $T/.netns when the test shell is killed outright.
#
# Address plan (each test uses its part; namespaces are per run, so the
# same addresses in two tests never meet):
#   10.231.1.0/24  user .2 -- pub .1         the public network
#   10.231.3.0/24  pub .1 -- lan .2          the LAN's uplink
#   10.231.2.2/32  on lan's loopback         the LAN's servers
#   10.231.4.0/24  restricted .1 -- bridge .2
#   10.231.5.0/24  bridge .1 -- internet .2
#   10.231.6.0/24  corp .1 -- office .2      behind the corporate proxy
#   10.231.8.0/24  pub .1 -- corp .2         the corporate uplink
# No namespace forwards (ip_forward stays 0), so a namespace reaches only
# the addresses of its direct neighbours, and only those it has a route
# to.  lan's uplink address (10.231.3.2) is pub's neighbour, as a LAN
# router's outside address would be; the LAN's servers listen on
# 10.231.2.2 only, to which neither pub nor user has a route.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_TAG="fy$$"
declare -A NS=()

((EUID == 0)) || skip "needs root: creates network namespaces"
need_tools ip
if ! ip netns add "$NS_TAG-probe" 2>"$T/netns-probe.err"; then
    skip "needs root: creates network namespaces" \
        "(ip netns add: $(cat "$T/netns-probe.err"))"
fi
ip netns del "$NS_TAG-probe"

_ns_cleanup() {
    local n pids
    for n in "${NS[@]}"; do
        pids=$(ip netns pids "$n" 2>/dev/null) || true
        [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
        ip netns del "$n" 2>/dev/null ||
            printf '[%s] cannot delete namespace %s\n' "$TEST_NAME" "$n" >&2
    done
}
_CLEANUP_HOOKS+=(_ns_cleanup)

ns_new() { # NAME...
    local name real
    for name in "$@"; do
        real=$NS_TAG-$name
        ip netns add "$real" || fail "ip netns add $real failed"
        NS[$name]=$real
        echo "$real" >>"$T/.netns"
        ip -n "$real" link set lo up
    done
}

ns_link() { # A ADDR/LEN B ADDR/LEN
    local a=$1 aa=$2 b=$3 ba=$4
    ip link add "v-$b" netns "${NS[$a]}" type veth \
        peer name "v-$a" netns "${NS[$b]}" ||
        fail "cannot create the veth pair $a -- $b"
    ip -n "${NS[$a]}" addr add "$aa" dev "v-$b"
    ip -n "${NS[$b]}" addr add "$ba" dev "v-$a"
    ip -n "${NS[$a]}" link set "v-$b" up
    ip -n "${NS[$b]}" link set "v-$a" up
}

ns_addr() { ip -n "${NS[$1]}" addr add "$2" dev lo; } # NAME ADDR/LEN

ns_route() { # NAME ROUTE...
    local n=$1
    shift
    ip -n "${NS[$n]}" route add "$@"
}

in_ns() { # NAME CMD...
    local n=${NS[$1]:?unknown namespace $1}
    shift
    if [[ $(type -t "$1") == function ]]; then
        IT_NETNS=$n "$@"
    else
        ip netns exec "$n" "$@"
    fi
}

# assert_no_route NAME ADDR: NAME has no route to ADDR.
assert_no_route() {
    local out
    if out=$(ip -n "${NS[$1]}" route get "$2" 2>&1); then
        fail "$1 has a route to $2: $out"
    fi
    assert_contains "$out" "unreachable" "ip route get $2 in $1"
}

# assert_tcp_unreachable NAME ADDR PORT: a TCP connection from NAME to
# ADDR:PORT fails (within 3 s).
assert_tcp_unreachable() {
    local rc=0
    in_ns "$1" timeout 5 python3 -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
' "$2" "$3" 2>"$T/unreach.err" || rc=$?
    ((rc != 0)) || fail "$1 connected to $2:$3 (expected no way there)"
    say "ok: $1 cannot connect to $2:$3 ($(tail -n 1 "$T/unreach.err"))"
}
