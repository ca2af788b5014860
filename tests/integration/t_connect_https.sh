# t_connect_https: HTTPS through HTTP CONNECT with curl, against nginx with
# TLS on loopback; names resolved by ferry through dnsmasq; IPv6 target;
# bytes pipelined behind the CONNECT head; mixed listener; proxy auth
# (407 + Proxy-Authenticate, wrong and right credentials); the access log.
source "$(dirname "$0")/lib.sh"

start_dnsmasq
read -r WEB HTTP_P MIXED_P AUTH_P < <(free_ports 4 | xargs)
start_https_server "$WEB"
start_py echo echo
ECHO=$PY_PORT

SECRET="s3cr3t-$RANDOM-pw"
cat >"$T/ferry.yaml" <<EOF
workers: 2
log:
  level: debug
timeouts:
  connect: 5s
dns:
  servers: [127.0.0.1:$DNS_PORT]
listeners:
  - name: plain
    type: http
    listen: 127.0.0.1:$HTTP_P
  - name: both
    type: mixed
    listen: 127.0.0.1:$MIXED_P
  - name: guarded
    type: http
    listen: 127.0.0.1:$AUTH_P
    users:
      - name: alice
        password: $SECRET
      - name: bob
        password: other-$SECRET
EOF
start_ferry -c "$T/ferry.yaml"
LOG=$FERRY_ERR

# 1. HTTPS by name: ferry resolves ok.ferry.test through dnsmasq.
say "https://ok.ferry.test via http listener"
page=$(curl -sS --max-time 10 -p -x "http://127.0.0.1:$HTTP_P" \
    --cacert "$CERT" "https://ok.ferry.test:$WEB/") ||
    fail "curl through CONNECT to https://ok.ferry.test:$WEB/ failed"
assert_eq "$NGINX_TOKEN" "$page" "page through CONNECT"
line=$(wait_access_line "$LOG" "listener=plain .*target=ok\.ferry\.test:$WEB ")
check_access_line "$line" "client=127\.0\.0\.1:[0-9]+" listener=plain \
    proto=http user=- "target=ok\.ferry\.test:$WEB" result=ok \
    "up=[0-9]+" "down=[0-9]+" "ms=[0-9]+(\.[0-9]+)?"
up=$(log_field "$line" up)
down=$(log_field "$line" down)
((up > 100)) || fail "access log up=$up: a TLS ClientHello alone is more than that"
((down > 500)) || fail "access log down=$down: the TLS handshake plus the page are more than that"

# The same with a 1 MiB body: content must be intact.
curl -sS --max-time 10 -p -x "http://127.0.0.1:$HTTP_P" --cacert "$CERT" \
    -o "$T/big.got" "https://ok.ferry.test:$WEB/big" ||
    fail "curl for /big through CONNECT failed"
cmp -s "$T/www-$WEB/big" "$T/big.got" || fail "/big differs after CONNECT"

mark_log "$LOG"
# 2. An IPv6 literal target.
say "https://[::1] via http listener"
page=$(curl -sS --max-time 10 -p -x "http://127.0.0.1:$HTTP_P" \
    --cacert "$CERT" "https://[::1]:$WEB/") ||
    fail "curl through CONNECT to https://[::1]:$WEB/ failed"
assert_eq "$NGINX_TOKEN" "$page" "page from [::1] through CONNECT"
line=$(wait_access_line "$LOG" "target=\[::1\]:$WEB ")
check_access_line "$line" result=ok proto=http

# A name with only an AAAA record.
page=$(curl -sS --max-time 10 -p -x "http://127.0.0.1:$HTTP_P" \
    --cacert "$CERT" "https://v6.ferry.test:$WEB/") ||
    fail "curl through CONNECT to https://v6.ferry.test:$WEB/ (AAAA only) failed"
assert_eq "$NGINX_TOKEN" "$page" "page from v6.ferry.test"

mark_log "$LOG"
# 3. Bytes sent in the same packet as the CONNECT head are forwarded.
say "payload pipelined behind the CONNECT head"
py - "$HTTP_P" "$ECHO" <<'PY'
import sys, ftlib
proxy, echo = int(sys.argv[1]), int(sys.argv[2])
payload = b"EARLY-" + bytes(range(256)) * 8 + b"-END"
s, r = ftlib.http_tunnel(proxy, "127.0.0.1", echo, payload=payload)
ftlib.expect_eq(200, r.status, f"CONNECT status ({r!r})")
got = r.rest
while len(got) < len(payload):
    d = s.recv(65536)
    if not d:
        break
    got += d
ftlib.expect_eq(payload, got, "echo of the bytes sent behind the head")
# The tunnel keeps working after the pipelined bytes.
s.sendall(b"second")
ftlib.expect_eq(b"second", ftlib.recv_exact(s, 6), "echo after the first")
s.shutdown(1)
ftlib.expect_eq(b"", ftlib.recv_until_eof(s), "data after EOF")
PY
line=$(wait_access_line "$LOG" "target=127\.0\.0\.1:$ECHO ")
check_access_line "$line" result=ok
up=$(log_field "$line" up)
((up >= 2058 + 6 && up < 2058 + 6 + 1024)) ||
    fail "access log up=$up, expected the 2064 tunnelled bytes (+ at most the head)"

mark_log "$LOG"
# 4. CONNECT on the mixed listener.
say "CONNECT on the mixed listener"
page=$(curl -sS --max-time 10 -p -x "http://127.0.0.1:$MIXED_P" \
    --cacert "$CERT" "https://ok.ferry.test:$WEB/") ||
    fail "curl through the mixed listener failed"
assert_eq "$NGINX_TOKEN" "$page" "page through the mixed listener"
line=$(wait_access_line "$LOG" "listener=both ")
check_access_line "$line" proto=http result=ok "target=ok\.ferry\.test:$WEB"

# 5. Proxy authentication.
say "proxy auth: none / wrong / right"
py - "$AUTH_P" "$WEB" "$SECRET" <<'PY'
import sys, ftlib
proxy, web, secret = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for user, pw, what in ((None, None, "no credentials"),
                       ("alice", "wrong-" + secret, "wrong password"),
                       ("mallory", secret, "unknown user"),
                       ("bob", secret, "another user's password")):
    s, r = ftlib.http_tunnel(proxy, "ok.ferry.test", web, user=user,
                             password=pw)
    ftlib.expect_eq(407, r.status, f"{what}: status ({r!r})")
    pa = r.header("proxy-authenticate") or ""
    ftlib.expect(pa.lower().startswith("basic"),
                 f"{what}: Proxy-Authenticate should offer Basic, got {pa!r}")
    s.close()
# A malformed Proxy-Authorization is a 407 too, not a crash.
s = ftlib.connect("127.0.0.1", proxy)
s.sendall(ftlib.connect_head(f"ok.ferry.test:{web}",
                             "Proxy-Authorization: Basic !!!notbase64\r\n"))
r = ftlib.read_http_response(s)
ftlib.expect(r.status in (400, 407), f"garbled credentials: {r!r}")
s.close()
PY
mark_log "$LOG"
code=$(curl_code -w '%{http_connect}' -p -x "http://127.0.0.1:$AUTH_P" \
    --cacert "$CERT" "https://ok.ferry.test:$WEB/")
assert_eq "407" "$code" "curl without credentials: CONNECT status"
code=$(curl_code -w '%{http_connect}' -p -x "http://127.0.0.1:$AUTH_P" \
    --proxy-user "alice:nope" --cacert "$CERT" "https://ok.ferry.test:$WEB/")
assert_eq "407" "$code" "curl with a wrong password: CONNECT status"
line=$(wait_access_line "$LOG" "listener=guarded .*result=auth")
check_access_line "$line" proto=http "target=ok\.ferry\.test:$WEB"

mark_log "$LOG"
page=$(curl -sS --max-time 10 -p -x "http://127.0.0.1:$AUTH_P" \
    --proxy-user "alice:$SECRET" --cacert "$CERT" \
    "https://ok.ferry.test:$WEB/") ||
    fail "curl with the right credentials failed"
assert_eq "$NGINX_TOKEN" "$page" "page with proxy auth"
line=$(wait_access_line "$LOG" "listener=guarded .*user=alice .*result=ok")
check_access_line "$line" "client=127\.0\.0\.1:[0-9]+" proto=http user=alice \
    "target=ok\.ferry\.test:$WEB" result=ok
# Credentials in the proxy URL work the same.
page=$(curl -sS --max-time 10 -p -x "http://bob:other-$SECRET@127.0.0.1:$AUTH_P" \
    --cacert "$CERT" "https://ok.ferry.test:$WEB/") ||
    fail "curl with credentials in the proxy URL failed"
assert_eq "$NGINX_TOKEN" "$page" "page with proxy auth (bob)"
wait_access_line "$LOG" "listener=guarded .*user=bob .*result=ok" >/dev/null

# 6. Nothing logged carries a password.
assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
assert_no_secret "$(printf 'alice:%s' "$SECRET" | base64)" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
