# t_socks_udp: SOCKS5 UDP ASSOCIATE (RFC 1928 section 7) end to end.
#
# socks_udp_client.py (python3 stdlib) opens an association through ferry
# and checks, datagram by datagram: echoes from UDP echo servers on
# 127.0.0.1 and ::1 reached by IPv4, IPv6 and domain targets (a domain
# target's reply names the IP it came from); DNS queries to the test
# dnsmasq through the association, addressed by IP and by name; a FRAG=1
# datagram and a datagram from another source port get no answer and
# never reach the server; with the client's address named in the request
# (hint) a stranger is refused before any datagram; after the control TCP
# connection closes nothing is relayed.  Control connections over IPv4,
# over IPv6 and with RFC 1929 login.  The echo servers' logs confirm what
# reached them; ferry logs nothing per datagram at level info.
source "$(dirname "$0")/lib.sh"

start_dnsmasq
start_udp_echo udpecho4 127.0.0.1
E4=$UDP_PORT
start_udp_echo udpecho6 ::1
E6=$UDP_PORT

# got NAME: datagrams the echo server NAME has received so far.
got() { grep -c '^GOT ' "$T/$1.out" || true; }

read -r P P6 AUTH < <(free_ports 3 | xargs)
SECRET="pw-$RANDOM$RANDOM"
cat >"$T/ferry.yaml" <<EOF
dns:
  servers: [127.0.0.1:$DNS_PORT]
listeners:
  - name: s
    type: socks
    listen: 127.0.0.1:$P
  - name: s6
    type: socks
    listen: "[::1]:$P6"
  - name: s-auth
    type: mixed
    listen: 127.0.0.1:$AUTH
    users:
      - name: alice
        password: $SECRET
EOF
start_ferry -c "$T/ferry.yaml"

# udpc ARGS...: one client run; its output is kept for the failure dump.
udpc() {
    local out=$T/udpc.out
    if ! py "$UDPC" check "$@" >>"$out" 2>&1; then
        fail "socks_udp_client.py check $*: $(tail -n 5 "$out")"
    fi
    tail -n 30 "$out" | grep '^ok:' | sed 's/^/  /' >&2 || true
    : >"$out"
}

# --- IPv4 control connection: every kind of target, then the drops -------
mark_log "$FERRY_ERR"
before4=$(got udpecho4)
before6=$(got udpecho6)
udpc --proxy "127.0.0.1:$P" \
    "echo:127.0.0.1:$E4" \
    "echo:[::1]:$E6" \
    "echo:ok.ferry.test:$E4=127.0.0.1" \
    "echo:v6.ferry.test:$E6=::1" \
    "dns:127.0.0.1:$DNS_PORT:ok.ferry.test=127.0.0.1" \
    "dns:127.0.0.1:$DNS_PORT:v6.ferry.test=::1" \
    "dns:ok.ferry.test:$DNS_PORT:dual.ferry.test=127.0.0.1=127.0.0.1" \
    "frag:127.0.0.1:$E4" \
    "echo:127.0.0.1:$E4" \
    "stranger:127.0.0.1:$E4" \
    "echo:127.0.0.1:$E4" \
    close \
    "silent:127.0.0.1:$E4"
say "ok: IPv4 control connection"
# Four echo steps reached the IPv4 server; the fragment, the stranger's
# datagram and the one sent after the close did not.
assert_eq $((before4 + 4)) "$(got udpecho4)" "datagrams at the IPv4 echo server"
assert_eq $((before6 + 2)) "$(got udpecho6)" "datagrams at the IPv6 echo server"
line=$(wait_access_line "$FERRY_ERR" "listener=s .*result=ok")
check_access_line "$line" up='[1-9][0-9]*' down='[1-9][0-9]*'

# --- the client's address named in the request --------------------------
# The stranger comes first: with a hint it is refused before the client
# has sent anything.
before4=$(got udpecho4)
udpc --proxy "127.0.0.1:$P" --hint \
    "stranger:127.0.0.1:$E4" \
    "echo:127.0.0.1:$E4"
assert_eq $((before4 + 1)) "$(got udpecho4)" "datagrams at the echo server (hint)"
say "ok: request hint"

# --- IPv6 control connection ---------------------------------------------
udpc --proxy "[::1]:$P6" \
    "echo:127.0.0.1:$E4" \
    "echo:[::1]:$E6" \
    "echo:v6.ferry.test:$E6=::1" \
    "dns:127.0.0.1:$DNS_PORT:ok.ferry.test=127.0.0.1"
say "ok: IPv6 control connection"

# --- RFC 1929 login (on a mixed listener) --------------------------------
udpc --proxy "127.0.0.1:$AUTH" --user alice --password "$SECRET" \
    "echo:ok.ferry.test:$E4=127.0.0.1" \
    "frag:127.0.0.1:$E4" \
    "echo:127.0.0.1:$E4"
say "ok: RFC 1929 login"

# --- many associations at once, each with its own relay port -------------
pids=()
for i in 1 2 3 4 5 6 7 8; do
    py "$UDPC" check --proxy "127.0.0.1:$P" \
        "echo:127.0.0.1:$E4" "echo:[::1]:$E6" "echo:127.0.0.1:$E4" \
        >"$T/par$i.out" 2>&1 &
    pids+=($!)
done
for i in "${!pids[@]}"; do
    wait "${pids[i]}" ||
        fail "parallel client $((i + 1)): $(tail -n 5 "$T/par$((i + 1)).out")"
done
say "ok: 8 associations at once"

# No per-datagram logging at level info; no secret anywhere.
assert_not_contains "$(cat "$FERRY_ERR")" "udp assoc" "ferry's log at level info"
assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
