# t_chain: egress chaining through real parent proxies on loopback.
#
# ferry (one mixed listener) routes by rule to named egresses:
#   *.via-squid.test       squid, Basic auth (basic_ncsa_auth + htpasswd)
#   *.via-squid-open.test  the same squid, on a port without auth
#   *.via-squid-bad.test   squid with a wrong password      -> denied
#   *.via-squid-anon.test  squid's auth port, no credentials -> denied
#   *.via-dante.test       dante, SOCKS5, no auth
#   *.via-dante-auth.test  the same dante, RFC 1929 user/password
#   *.via-dante-bad.test   dante with a wrong password      -> denied
#   *.via-down.test        a parent that is not listening   -> refused
#   anything else          direct
# Clients: curl through ferry's HTTP CONNECT and SOCKS5 (remote names)
# front ends, and python raw tunnels for a server that speaks first (its
# bytes arrive right behind the parent's answer and must not be lost);
# SOCKS5 UDP ASSOCIATE whose datagrams go through dante's own UDP relay.
# Each chained request is checked in the parent's own log (squid's
# access.log with the user name; dante's log, with the user name when
# authenticated), and ferry must not resolve the chained names itself:
# only the parents know them (squid's hosts_file, and a private /etc/hosts
# for dante), and dnsmasq, ferry's resolver, must never be asked.
#
# dante checks user/password against the system's users: it runs in a
# private mount namespace (unshare) where /etc/passwd, /etc/shadow and
# /etc/hosts are the test's own files; the host's files are not touched.
source "$(dirname "$0")/lib.sh"

need_tools squid danted unshare mount /usr/lib/squid/basic_ncsa_auth

start_dnsmasq
read -r WEB FP SQ_AUTH SQ_OPEN DN DOWN CLOSED < <(free_ports 7 | xargs)
start_nginx "$WEB"
SQ_USER=sq-user
SQ_PASS="sq-pw-$RANDOM$RANDOM"
DN_USER=dnuser
DN_PASS="dn-pw-$RANDOM$RANDOM"
# The names only the parents can resolve (each with a www and a www2).
CHAINED=()
for d in via-squid via-squid-open via-squid-bad via-squid-anon via-down \
    via-dante via-dante-auth via-dante-bad; do
    CHAINED+=("www.$d.test" "www2.$d.test")
done

# --- squid: one process, an auth port and an open port -----------------------

start_chain_squid() {
    local d=$T/squid
    mkdir -p "$d"
    printf '127.0.0.1 %s\n' "${CHAINED[@]}" >"$d/hosts"
    printf '%s:%s\n' "$SQ_USER" "$(openssl passwd -apr1 "$SQ_PASS")" \
        >"$d/htpasswd"
    start_squid squid "http_port 127.0.0.1:$SQ_AUTH name=authp
http_port 127.0.0.1:$SQ_OPEN name=openp
hosts_file $d/hosts
dns_nameservers 127.0.0.1
dns_timeout 2 seconds
auth_param basic program /usr/lib/squid/basic_ncsa_auth $d/htpasswd
auth_param basic realm ferry-it-squid
acl openp myportname openp
acl authed proxy_auth REQUIRED
http_access allow openp
http_access allow authed
http_access deny all"
}

# --- dante: one process; "username none" lets the client's offer decide ------

start_dante() {
    local d=$T/dante ns=(unshare -m)
    mkdir -p "$d"
    ((EUID == 0)) || ns=(unshare -r -m) # a user namespace maps us to root
    printf '127.0.0.1 %s\n' "${CHAINED[@]}" >"$d/hosts"
    cat >"$d/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
$DN_USER:x:4242:65534::/nonexistent:/usr/sbin/nologin
EOF
    cat >"$d/shadow" <<EOF
root:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
$DN_USER:$(openssl passwd -6 "$DN_PASS"):19000:0:99999:7:::
EOF
    chmod 600 "$d/shadow"
    cat >"$d/danted.conf" <<EOF
logoutput: $T/dante.log
internal: 127.0.0.1 port = $DN
external: 127.0.0.1
clientmethod: none
socksmethod: username none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect disconnect error }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect disconnect error }
EOF
    spawn dante "${ns[@]}" sh -c '
        mount --bind "$1/hosts" /etc/hosts &&
        mount --bind "$1/passwd" /etc/passwd &&
        mount --bind "$1/shadow" /etc/shadow &&
        exec danted -N 1 -f "$1/danted.conf"' dante "$d"
    DANTE_PID=$SPAWNED_PID
    wait_until 15 "dante on $DN" tcp_listening "$DN"
    alive "$DANTE_PID" || fail "dante died: $(cat "$T/dante.err")"
}

start_chain_squid
start_dante
start_py paced paced --bytes 300000 --pace 0
PACED_P=$PY_PORT

cat >"$T/ferry.yaml" <<EOF
log: {level: debug, access: stderr}
timeouts: {connect: 5s, handshake: 10s}
dns: {servers: ["127.0.0.1:$DNS_PORT"]}
listeners:
  - name: front
    type: mixed
    listen: "127.0.0.1:$FP"
egresses:
  - name: sq
    type: http
    address: "127.0.0.1:$SQ_AUTH"
    user: "$SQ_USER"
    password: "$SQ_PASS"
  - {name: sq-open, type: http, address: "127.0.0.1:$SQ_OPEN"}
  - name: sq-bad
    type: http
    address: "127.0.0.1:$SQ_AUTH"
    user: "$SQ_USER"
    password: "not-$SQ_PASS"
  - {name: sq-anon, type: http, address: "127.0.0.1:$SQ_AUTH"}
  - {name: dn, type: socks5, address: "127.0.0.1:$DN"}
  - name: dn-auth
    type: socks5
    address: "127.0.0.1:$DN"
    user: "$DN_USER"
    password: "$DN_PASS"
  - name: dn-bad
    type: socks5
    address: "127.0.0.1:$DN"
    user: "$DN_USER"
    password: "not-$DN_PASS"
  - {name: down, type: http, address: "127.0.0.1:$DOWN"}
rules:
  - {action: allow, via: sq, domains: ["*.via-squid.test"]}
  - {action: allow, via: sq-open, domains: ["*.via-squid-open.test"]}
  - {action: allow, via: sq-bad, domains: ["*.via-squid-bad.test"]}
  - {action: allow, via: sq-anon, domains: ["*.via-squid-anon.test"]}
  - {action: allow, via: dn, domains: ["*.via-dante.test"]}
  - {action: allow, via: dn-auth, domains: ["*.via-dante-auth.test"]}
  - {action: allow, via: dn-bad, domains: ["*.via-dante-bad.test"]}
  - {action: allow, via: down, domains: ["*.via-down.test"]}
  - {action: allow}
EOF
start_ferry -c "$T/ferry.yaml"
LOG=$FERRY_ERR
SQLOG=$T/squid-access.log
DNLOG=$T/dante.log

# --- helpers -----------------------------------------------------------------

# Each request helper marks ferry's log first, so access() sees only the
# lines of that request.

# get DESC CURL-ARGS...: the nginx page must come back.
get() {
    local what=$1 page
    shift
    mark_log "$LOG"
    page=$(curl -sS --max-time 15 "$@" 2>"$T/curl.err") ||
        fail "$what: curl $* failed: $(cat "$T/curl.err")"
    assert_eq "$NGINX_TOKEN" "$page" "$what: page"
}

# via_http HOST: the page through ferry's HTTP CONNECT front end.
via_http() {
    get "CONNECT $1" -p -x "http://127.0.0.1:$FP" "http://$1:$WEB/"
}
# via_socks HOST: the page through ferry's SOCKS5 front end (name sent).
via_socks() {
    get "socks5h $1" --socks5-hostname "127.0.0.1:$FP" "http://$1:$WEB/"
}

# connect_code HOST PORT: the status ferry answers a CONNECT with.
connect_code() {
    mark_log "$LOG"
    curl_code -w '%{http_connect}' -p -x "http://127.0.0.1:$FP" \
        "http://$1:$2/"
}

# socks_rep HOST PORT: ferry's SOCKS5 REP (as a number) for HOST:PORT.
socks_rep() {
    mark_log "$LOG"
    py - "$FP" "$1" "$2" <<'PY'
import sys, ftlib
s, rep = ftlib.socks5_connect(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
print(rep[0])
PY
}

# wait_file_line FILE ERE WHAT: a line matching ERE shows up in FILE.
file_has() { grep -qE -- "$2" "$1"; }
wait_file_line() {
    wait_until 10 "$3: /$2/ in $(basename "$1")" file_has "$1" "$2"
}

# access RESULT TARGET: ferry's access-log line for TARGET has RESULT.
access() {
    local line
    line=$(wait_access_line "$LOG" "target=${2//./\\.} .*result=")
    check_access_line "$line" "result=$1"
}

# server_first KIND HOST: a server that writes 300000 bytes as soon as it
# is connected, reached through ferry (KIND http or socks5) and a parent:
# every byte arrives, including those right behind the parent's answer.
server_first() {
    py - "$1" "$FP" "$2" "$PACED_P" <<'PY'
import hashlib, sys, ftlib
kind, host = sys.argv[1], sys.argv[3]
fp, port = int(sys.argv[2]), int(sys.argv[4])
if kind == "http":
    s, r = ftlib.http_tunnel(fp, host, port)
    ftlib.expect_eq(200, r.status, f"CONNECT {host} status")
    first = r.rest
else:
    s = ftlib.open_socks5_tunnel(fp, host, port)
    first = b""
h, n = hashlib.sha256(first), len(first)
while True:
    b = s.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
ftlib.expect_eq(300000, n, f"{kind} {host}: bytes from a server-first peer")
ftlib.expect_eq(ftlib.stream_sha(3, 300000), h.hexdigest(), "sha256")
PY
}

# --- HTTP parent (squid) -----------------------------------------------------

say "squid with Basic auth"
via_http www.via-squid.test
access ok "www.via-squid.test:$WEB"
via_socks www2.via-squid.test
access ok "www2.via-squid.test:$WEB"
wait_file_line "$SQLOG" \
    "TCP_TUNNEL/200 .*CONNECT www\.via-squid\.test:$WEB $SQ_USER " \
    "squid tunnel for ferry's CONNECT"
wait_file_line "$SQLOG" \
    "TCP_TUNNEL/200 .*CONNECT www2\.via-squid\.test:$WEB $SQ_USER " \
    "squid tunnel for ferry's SOCKS client"
server_first http www.via-squid.test

say "squid without auth"
via_http www.via-squid-open.test
wait_file_line "$SQLOG" \
    "TCP_TUNNEL/200 .*CONNECT www\.via-squid-open\.test:$WEB - " \
    "squid tunnel without a user"
server_first socks5 www.via-squid-open.test

say "squid rejects our credentials"
assert_eq 403 "$(connect_code www.via-squid-bad.test "$WEB")" \
    "CONNECT answer when squid says 407"
access denied "www.via-squid-bad.test:$WEB"
assert_eq 2 "$(socks_rep www.via-squid-bad.test "$WEB")" \
    "SOCKS5 REP when squid says 407"
wait_file_line "$SQLOG" "TCP_DENIED/407 .*CONNECT www\.via-squid-bad\.test" \
    "squid's 407"
assert_file_contains "$LOG" "parent proxy rejected our credentials"
assert_eq 403 "$(connect_code www.via-squid-anon.test "$WEB")" \
    "CONNECT answer when squid wants credentials we do not have"
assert_file_contains "$LOG" "parent proxy requires credentials"

say "squid cannot reach the target"
assert_eq 502 "$(connect_code www.via-squid.test "$CLOSED")" \
    "CONNECT answer when squid's connect is refused"
access refused "www.via-squid.test:$CLOSED"
wait_file_line "$SQLOG" "/503 .*CONNECT www\.via-squid\.test:$CLOSED " \
    "squid's 503"

# --- SOCKS5 parent (dante) ---------------------------------------------------

say "dante without auth"
via_socks www.via-dante.test
access ok "www.via-dante.test:$WEB"
via_http www2.via-dante.test
wait_file_line "$DNLOG" \
    "pass\(1\): tcp/connect \]: .* 127\.0\.0\.1\.$DN -> .* 127\.0\.0\.1\.$WEB" \
    "dante's relay to nginx"
server_first http www.via-dante.test
if grep -E "tcp/connect .*username%" "$DNLOG" >/dev/null; then
    fail "dante saw a user although dn has none: $(grep username% "$DNLOG")"
fi

say "dante with user/password"
via_socks www.via-dante-auth.test
access ok "www.via-dante-auth.test:$WEB"
via_http www2.via-dante-auth.test
DN_RE="username%$DN_USER@127\.0\.0\.1\.[0-9]+ 127\.0\.0\.1\.$DN ->"
wait_file_line "$DNLOG" \
    "pass\(1\): tcp/connect \]: .*$DN_RE .* 127\.0\.0\.1\.$WEB" \
    "dante's relay for $DN_USER"
server_first socks5 www.via-dante-auth.test

say "dante rejects our credentials"
assert_eq 403 "$(connect_code www.via-dante-bad.test "$WEB")" \
    "CONNECT answer when dante rejects the password"
access denied "www.via-dante-bad.test:$WEB"
assert_eq 2 "$(socks_rep www.via-dante-bad.test "$WEB")" \
    "SOCKS5 REP when dante rejects the password"
wait_file_line "$DNLOG" "password authentication failed for user \"$DN_USER\"" \
    "dante's refusal"

say "dante cannot reach the target"
assert_eq 5 "$(socks_rep www.via-dante.test "$CLOSED")" \
    "SOCKS5 REP when dante's connect is refused"
access refused "www.via-dante.test:$CLOSED"
assert_eq 502 "$(connect_code www.via-dante.test "$CLOSED")" \
    "CONNECT answer when dante's connect is refused"

# --- the rest ----------------------------------------------------------------

say "parent down"
assert_eq 502 "$(connect_code www.via-down.test "$WEB")" \
    "CONNECT answer when the parent is not listening"
access refused "www.via-down.test:$WEB"
assert_file_contains "$LOG" "cannot reach the parent"

say "direct, by the last rule"
sq_lines=$(wc -l <"$SQLOG")
dn_conns=$(grep -c 'tcp/connect \]' "$DNLOG" || true)
via_http ok.ferry.test
via_socks ok.ferry.test
access ok "ok.ferry.test:$WEB"
assert_eq "$sq_lines" "$(wc -l <"$SQLOG")" \
    "squid log lines after direct requests"
assert_eq "$dn_conns" "$(grep -c 'tcp/connect \]' "$DNLOG" || true)" \
    "dante relays after direct requests"

say "UDP ASSOCIATE through dante: the name goes to the parent, it resolves"
start_udp_echo udpecho 127.0.0.1
dn_udp=$(grep -c 'udpassociate' "$DNLOG" || true)
py "$UDPC" check --proxy "127.0.0.1:$FP" "echo:www.via-dante.test:$UDP_PORT" \
    "echo:www.via-dante.test:$UDP_PORT" >"$T/udpc.out" 2>&1 ||
    fail "UDP through dante: $(tail -n 5 "$T/udpc.out")"
assert_eq 2 "$(grep -c '^GOT 127.0.0.1:' "$T/udpecho.out")" \
    "datagrams at the echo server"
wait_until 5 "dante's UDP association" bash -c \
    "[[ \$(grep -c 'udpassociate' '$DNLOG') -gt $dn_udp ]]"

# Only the parents resolved the chained names: ferry's resolver never saw
# them (it was asked for ok.ferry.test, so it logs queries).
assert_file_contains "$T/dnsmasq.err" "ok.ferry.test"
assert_not_contains "$(cat "$T/dnsmasq.err")" "via-" "dnsmasq queries"

# No secret in ferry's output, in clear or as the Basic token.
for s in "$SQ_PASS" "$DN_PASS" \
    "$(printf '%s:%s' "$SQ_USER" "$SQ_PASS" | base64 -w0)"; do
    assert_no_secret "$s" "$FERRY_ERR" "$FERRY_OUT"
done

ferry_healthy
alive "$SQUID_PID" || fail "squid died during the test"
alive "$DANTE_PID" || fail "dante died during the test"
finish
