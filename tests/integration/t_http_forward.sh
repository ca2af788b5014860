# t_http_forward: HTTP forwarding (absolute-URI requests) with curl and raw
# sockets against nginx and a python echo origin: GET/HEAD, the seed's
# JSON POST arriving unchanged, a 100 MB chunked PUT, 100-continue, the
# upstream pool, gzip passed through, request smuggling refused, 400/431,
# pipelining, several origins on one connection, stale pooled connections,
# proxy auth, and the access log.
source "$(dirname "$0")/lib.sh"
need_tools nginx sha256sum gzip cmp

start_dnsmasq
read -r WEB WEB2 SHORT P A M < <(free_ports 6 | xargs)
spawn echo "python3" -u "$IT_DIR/t_http_forward_echo.py"
ECHO_PID=$SPAWNED_PID
wait_until 10 "echo origin to print its port" grep -qs '^PORT ' "$T/echo.out"
ECHO=$(sed -n 's/^PORT //p' "$T/echo.out")
alive "$ECHO_PID" || fail "echo origin died: $(cat "$T/echo.err")"

# --- nginx: three servers, one log each with $connection --------------------
NG=$T/nginx
mkdir -p "$NG/tmp" "$T/www/up" "$T/www2"
TOKEN="fwd-page-$RANDOM$RANDOM"
TOKEN2="fwd-other-origin-$RANDOM$RANDOM"
printf '%s\n' "$TOKEN" >"$T/www/index.html"
printf '%s\n' "$TOKEN2" >"$T/www2/index.html"
for i in 1 2 3; do printf 'pipelined body %s\n' "$i" >"$T/www/p$i.txt"; done
head -c 1048576 /dev/urandom >"$T/www/big"
for i in $(seq 1 4000); do printf 'line %05d of a compressible text file\n' "$i"; done >"$T/www/text.txt"
cat >"$NG/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
$( ((EUID == 0)) && echo "user root;")
pid $NG/nginx.pid;
error_log $NG/error.log info;
events { worker_connections 512; }
http {
    log_format conn '\$connection \$connection_requests \$request_method \$request_uri \$status \$body_bytes_sent';
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    default_type text/plain;
    client_max_body_size 200m;
    keepalive_timeout 30s;
    keepalive_requests 10000;
    gzip on;
    gzip_types text/plain application/json;
    gzip_min_length 20;
    gzip_comp_level 6;
    gzip_proxied any; # ferry adds Via, which nginx otherwise takes for "do not compress"
    server {
        listen 127.0.0.1:$WEB;
        access_log $NG/access-web.log conn;
        root $T/www;
        location /up/ {
            dav_methods PUT;
            create_full_put_path on;
        }
    }
    server {
        listen 127.0.0.1:$WEB2;
        access_log $NG/access-web2.log conn;
        root $T/www2;
    }
    server {
        listen 127.0.0.1:$SHORT;
        access_log $NG/access-short.log conn;
        keepalive_timeout 1s;
        root $T/www;
    }
}
EOF
spawn nginx nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log"
for p in "$WEB" "$WEB2" "$SHORT"; do
    wait_until 10 "nginx on port $p" tcp_listening "$p"
done
NGLOG=$NG/access-web.log

SECRET="fwd-pw-$RANDOM$RANDOM"
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
    listen: 127.0.0.1:$P
  - name: guarded
    type: http
    listen: 127.0.0.1:$A
    users:
      - name: alice
        password: $SECRET
  - name: both
    type: mixed
    listen: 127.0.0.1:$M
EOF
start_ferry -c "$T/ferry.yaml"
LOG=$FERRY_ERR
PX="http://127.0.0.1:$P"
export WEB WEB2 SHORT P A ECHO TOKEN TOKEN2

# nginx_lines FILE ERE: its access-log lines matching ERE.
nginx_lines() { grep -E -- "$2" "$1" || true; }

# --- 1. GET ------------------------------------------------------------------
say "GET through the proxy (IP literal, a name via the test's DNS, mixed listener)"
mark_log "$LOG"
page=$(curl -sS --max-time 10 -D "$T/get.h" -x "$PX" "http://127.0.0.1:$WEB/") ||
    fail "curl GET through ferry failed"
assert_eq "$TOKEN" "$page" "page through the proxy"
assert_file_contains "$T/get.h" "Via: 1.1 ferry" "response head through ferry"
line=$(wait_access_line "$LOG" "target=127\.0\.0\.1:$WEB .*method=GET")
check_access_line "$line" "client=127\.0\.0\.1:[0-9]+" listener=plain \
    proto=http user=- "target=127\.0\.0\.1:$WEB" result=ok "up=[0-9]+" \
    "down=[0-9]+" "ms=[0-9]+" method=GET status=200
down=$(log_field "$line" down)
((down >= ${#TOKEN} + 1)) || soft_fail "access log down=$down for a $((${#TOKEN} + 1))-byte body"

page=$(curl -sS --max-time 10 -x "$PX" "http://ok.ferry.test:$WEB/") ||
    fail "curl GET http://ok.ferry.test:$WEB/ through ferry failed"
assert_eq "$TOKEN" "$page" "page by name"
wait_access_line "$LOG" "target=ok\.ferry\.test:$WEB .*result=ok .*status=200" >/dev/null

curl -sS --max-time 20 -x "$PX" -o "$T/big.got" "http://127.0.0.1:$WEB/big" ||
    fail "curl GET /big failed"
cmp -s "$T/www/big" "$T/big.got" || fail "/big differs after the proxy"
page=$(curl -sS --max-time 10 -x "http://127.0.0.1:$M" "http://127.0.0.1:$WEB/") ||
    fail "curl GET through the mixed listener failed"
assert_eq "$TOKEN" "$page" "page through the mixed listener"
wait_access_line "$LOG" "listener=both .*method=GET status=200" >/dev/null

# --- 2. HEAD -----------------------------------------------------------------
say "HEAD"
mark_log "$LOG"
hdr=$(curl -sS --max-time 10 -I -x "$PX" "http://127.0.0.1:$WEB/big") ||
    fail "curl -I through ferry failed"
assert_match "$hdr" $'^HTTP/1.1 200 OK\r' "HEAD status line"
assert_contains "$hdr" $'Content-Length: 1048576\r' "HEAD response"
line=$(wait_access_line "$LOG" "method=HEAD")
check_access_line "$line" result=ok status=200 down=0

# --- 3. the seed's POST, against the echo origin ------------------------------
say "POST with JSON, custom headers and a cookie (seed 001) arrives unchanged"
cat >"$T/seed.json" <<'EOF'
{
	"model": "qwen2.5:7b-instruct",
	"descript": "https://qwenlm.github.io/blog/qwen2.5/",
	"options": {
    "temperature": 0.1,
    "top_k": 70,
    "top_p": 0.8,
    "repetition_penalty": 1,
    "max_tokens": 32768
  },
	"stream": true,
	"messages": [
		{
			"role": "system",
			"content": "。。。"
		},
		{
			"role": "user",
			"content": "。。。"
		}
	]
}
EOF
DATA=$(cat "$T/seed.json")
seed_post() { # EXTRA-CURL-ARGS...: the seed's command, to the echo origin
    curl -sS --max-time 10 "$@" --request POST \
        --url "http://127.0.0.1:$ECHO/api/settings?role_name=mila" \
        --header 'Authorization: Basic c2FtOjEyMzQ1Ng==' \
        --header 'Content-Type: application/json' \
        --header 'User-Agent: insomnia/9.3.2' \
        --header 'Proxy-Connection: keep-alive' \
        --header 'Connection: X-Hop-Secret' --header 'X-Hop-Secret: 1' \
        --cookie user_id=b9d6a3f-64ad-42c5-9de0-bb0eefcf3cb7 \
        --data "$DATA"
}
mark_log "$LOG"
seed_post -x "$PX" --proxy-user "someone:proxy-$SECRET" -o "$T/echo-proxied.json" ||
    fail "the seed's POST through ferry failed"
seed_post -o "$T/echo-direct.json" || fail "the seed's POST straight to the echo origin failed"
printf '%s' "$DATA" >"$T/seed.sent"
py - "$T/echo-proxied.json" "$T/echo-direct.json" "$T/seed.sent" <<'PY' || soft_fail "the seed's POST did not arrive unchanged (see above)"
import base64, hashlib, json, os, sys
prox = json.load(open(sys.argv[1]))
direct = json.load(open(sys.argv[2]))
sent = open(sys.argv[3], "rb").read()
echo = os.environ["ECHO"]
def get(h, name):
    return [v for k, v in h["headers"] if k.lower() == name.lower()]
errs = []
def want(cond, msg):
    if not cond:
        errs.append(msg)
want(prox["method"] == "POST", f"method {prox['method']!r}")
want(prox["path"] == "/api/settings?role_name=mila", f"path {prox['path']!r}")
want(prox["version"] == "HTTP/1.1", f"version {prox['version']!r}")
want(base64.b64decode(prox["body_b64"]) == sent,
     f"body differs: {base64.b64decode(prox['body_b64'])[:200]!r}")
want(prox["body_sha256"] == hashlib.sha256(sent).hexdigest(), "body sha256")
for name, value in (("Authorization", "Basic c2FtOjEyMzQ1Ng=="),
                    ("Content-Type", "application/json"),
                    ("User-Agent", "insomnia/9.3.2"),
                    ("Cookie", "user_id=b9d6a3f-64ad-42c5-9de0-bb0eefcf3cb7"),
                    ("Host", f"127.0.0.1:{echo}"),
                    ("Content-Length", str(len(sent))),
                    ("Via", "1.1 ferry")):
    want(get(prox, name) == [value],
         f"{name}: expected [{value!r}], got {get(prox, name)!r}")
for name in ("Proxy-Connection", "Proxy-Authorization", "X-Hop-Secret",
             "Connection", "Keep-Alive"):
    want(get(prox, name) == [], f"hop-by-hop {name} reached the origin: "
                                f"{get(prox, name)!r}")
# Everything else exactly as curl sent it straight to the origin: same
# fields, same order, same values.
hop = {"proxy-connection", "proxy-authorization", "x-hop-secret",
       "connection", "keep-alive", "via"}
p = [(k, v) for k, v in prox["headers"] if k.lower() not in hop]
d = [(k, v) for k, v in direct["headers"] if k.lower() not in hop]
want(p == d, f"end-to-end fields differ:\n  via ferry {p!r}\n  direct    {d!r}")
if errs:
    sys.exit("seed POST: " + "; ".join(errs))
PY
line=$(wait_access_line "$LOG" "target=127\.0\.0\.1:$ECHO .*method=POST")
check_access_line "$line" result=ok status=200 user=-
up=$(log_field "$line" up)
((up >= ${#DATA})) || soft_fail "access log up=$up for a POST body of ${#DATA} chars"

# --- 4. 100 MB chunked PUT ---------------------------------------------------
say "PUT of 100 MB with Transfer-Encoding: chunked"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$T/up.bin"
want_sha=$(sha256sum <"$T/up.bin" | cut -d' ' -f1)
mark_log "$LOG"
t0=$(now_ms)
code=$(curl -sS --max-time 60 -x "$PX" -T "$T/up.bin" \
    -H 'Transfer-Encoding: chunked' -o "$T/put.out" -w '%{http_code}' \
    "http://127.0.0.1:$WEB/up/big.bin") || fail "curl PUT of 100 MB failed (code $code)"
say "100 MB PUT took $(($(now_ms) - t0)) ms"
assert_eq 201 "$code" "PUT status"
[[ -f $T/www/up/big.bin ]] || fail "nginx stored no file for the PUT"
got_sha=$(sha256sum <"$T/www/up/big.bin" | cut -d' ' -f1)
assert_eq "$want_sha" "$got_sha" "sha256 of the file nginx stored"
line=$(wait_access_line "$LOG" "method=PUT")
check_access_line "$line" result=ok status=201
up=$(log_field "$line" up)
((up >= 104857600)) || soft_fail "access log up=$up for a 100 MB chunked body"
rm -f "$T/up.bin" "$T/www/up/big.bin"

# --- 5. Expect: 100-continue -------------------------------------------------
say "Expect: 100-continue upload"
head -c 3000000 /dev/urandom >"$T/small.bin"
t0=$(now_ms)
code=$(curl -sS -v --max-time 20 -x "$PX" -T "$T/small.bin" \
    -H 'Expect: 100-continue' -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$WEB/up/expect.bin" 2>"$T/expect.v") ||
    fail "curl upload with Expect: 100-continue failed: $(tail -5 "$T/expect.v")"
ms=$(($(now_ms) - t0))
assert_eq 201 "$code" "status of the 100-continue upload"
v=$(tr -d '\r' <"$T/expect.v")
assert_contains "$v" "> Expect: 100-continue" "curl -v"
assert_match "$v" $'< HTTP/1.1 100 Continue\n(.|\n)*< HTTP/1.1 201 Created' \
    "curl -v (100 Continue, then 201)"
cmp -s "$T/small.bin" "$T/www/up/expect.bin" || fail "the 100-continue upload was stored altered"
# curl sends the body after 1 s without a 100; it came well before that.
((ms < 1000)) || soft_fail "100-continue upload took ${ms} ms: was the 100 relayed promptly?"

# --- 6. one client connection, one upstream connection ------------------------
say "several URLs in one curl: client and upstream connections reused"
mark_log "$LOG"
curl -sS -v --max-time 20 -x "$PX" \
    -o "$T/r1" "http://127.0.0.1:$WEB/p1.txt?reuse=1" \
    -o "$T/r2" "http://127.0.0.1:$WEB/p2.txt?reuse=2" \
    -o "$T/r3" "http://127.0.0.1:$WEB/p3.txt?reuse=3" \
    -o "$T/r4" "http://127.0.0.1:$WEB/?reuse=4" 2>"$T/reuse.v" ||
    fail "curl with four URLs failed: $(tail -5 "$T/reuse.v")"
for i in 1 2 3; do cmp -s "$T/www/p$i.txt" "$T/r$i" || fail "reuse: body $i differs"; done
assert_eq "$TOKEN" "$(cat "$T/r4")" "reuse: body 4"
n=$(grep -c 'Re-using existing connection' "$T/reuse.v" || true)
assert_eq 3 "$n" "curl -v 'Re-using existing connection' count"
wait_until 5 "nginx to log the four ?reuse= requests" \
    test "$(nginx_lines "$NGLOG" 'reuse=' | wc -l)" -eq 4
conns=$(nginx_lines "$NGLOG" 'reuse=' | cut -d' ' -f1 | sort -u | wc -l)
assert_eq 1 "$conns" "upstream connections nginx saw for 4 requests on one client connection ($(nginx_lines "$NGLOG" 'reuse='))"
n=$(access_lines "$LOG" | grep -c "method=GET status=200" || true)
assert_eq 4 "$n" "ferry access lines for the four requests"
# The pool outlives client connections: six curls one after the other
# (each its own client connection, on either of the 2 workers) need at
# most one upstream connection per worker.
for i in 1 2 3 4 5 6; do
    page=$(curl -sS --max-time 10 -x "$PX" "http://127.0.0.1:$WEB2/?pool=$i") ||
        fail "curl $i of 6 to the second origin failed"
    assert_eq "$TOKEN2" "$page" "page $i of 6"
done
wait_until 5 "nginx to log the six ?pool= requests" \
    test "$(nginx_lines "$NG/access-web2.log" 'pool=' | wc -l)" -eq 6
conns=$(nginx_lines "$NG/access-web2.log" 'pool=' | cut -d' ' -f1 | sort -u | wc -l)
((conns <= 2)) || soft_fail "6 requests from 6 client connections used $conns upstream connections (2 workers): $(nginx_lines "$NG/access-web2.log" 'pool=')"

# --- 7. gzip passes through untouched ---------------------------------------
say "gzip-compressed response passed through byte for byte"
curl -sS --max-time 10 -H 'Accept-Encoding: gzip' -D "$T/gz-direct.h" \
    -o "$T/gz-direct" "http://127.0.0.1:$WEB/text.txt" || fail "direct gzip GET failed"
curl -sS --max-time 10 -x "$PX" -H 'Accept-Encoding: gzip' -D "$T/gz-proxy.h" \
    -o "$T/gz-proxy" "http://127.0.0.1:$WEB/text.txt" || fail "gzip GET through ferry failed"
assert_file_contains "$T/gz-direct.h" "Content-Encoding: gzip" "nginx's direct answer"
assert_file_contains "$T/gz-proxy.h" "Content-Encoding: gzip" "the answer through ferry"
assert_file_contains "$T/gz-proxy.h" "Transfer-Encoding: chunked" "the answer through ferry"
cmp -s "$T/gz-direct" "$T/gz-proxy" || fail "gzip body through ferry differs from nginx's own"
gzip -dc <"$T/gz-proxy" | cmp -s - "$T/www/text.txt" || fail "gzip body through ferry does not inflate to the file"

# --- 8. request smuggling ------------------------------------------------------
say "request smuggling attempts over raw sockets"
mark_log "$LOG"
py - <<'PY' || soft_fail "smuggling: a framing ambiguity was not refused (see above)"
import os, sys
from t_http_forward_raw import Conn, expect_eq
P, WEB = int(os.environ["P"]), os.environ["WEB"]
hp = f"127.0.0.1:{WEB}"
def smuggled(n):
    return f"GET /smuggled-{n} HTTP/1.1\r\nHost: {hp}\r\n\r\n"
cases = []
s1 = "0\r\n\r\n" + smuggled(1)
cases.append(("CL.TE", 400,
    f"POST http://{hp}/smug-1 HTTP/1.1\r\nHost: {hp}\r\n"
    f"Content-Length: {len(s1)}\r\nTransfer-Encoding: chunked\r\n\r\n" + s1))
s2 = "0\r\n\r\n" + smuggled(2)
cases.append(("TE.CL", 400,
    f"POST http://{hp}/smug-2 HTTP/1.1\r\nHost: {hp}\r\n"
    f"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" + s2))
s3 = smuggled(3)
cases.append(("two Content-Lengths", 400,
    f"POST http://{hp}/smug-3 HTTP/1.1\r\nHost: {hp}\r\n"
    f"Content-Length: 0\r\nContent-Length: {len(s3)}\r\n\r\n" + s3))
cases.append(("TE with space before the colon", 400,
    f"POST http://{hp}/smug-4 HTTP/1.1\r\nHost: {hp}\r\n"
    f"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n"
    "0\r\n\r\n" + smuggled(4)))
cases.append(("TE folded (obs-fold)", 400,
    f"POST http://{hp}/smug-5 HTTP/1.1\r\nHost: {hp}\r\n"
    f"Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n"
    "0\r\n\r\n" + smuggled(5)))
cases.append(("TE in HTTP/1.0", 400,
    f"POST http://{hp}/smug-6 HTTP/1.0\r\nHost: {hp}\r\n"
    f"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled(6)))
cases.append(("TE not ending in chunked", 400,
    f"POST http://{hp}/smug-7 HTTP/1.1\r\nHost: {hp}\r\n"
    f"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled(7)))
cases.append(("unknown transfer coding", 501,
    f"POST http://{hp}/smug-8 HTTP/1.1\r\nHost: {hp}\r\n"
    f"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled(8)))
cases.append(("bare LF inside the head", 400,
    f"POST http://{hp}/smug-9 HTTP/1.1\r\nHost: {hp}\r\n"
    f"X-A: 1\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
    "0\r\n\r\n" + smuggled(9)))
cases.append(("bad chunk size", 400,
    f"POST http://{hp}/smug-10 HTTP/1.1\r\nHost: {hp}\r\n"
    f"Transfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n"
    + smuggled(10)))
# chunked bodies that parsers read differently (bare LF or CR as line
# ends, whitespace, quoted CRLF in an extension, a size past 2^64):
# refused before a byte of them goes on
for i, (name, body) in enumerate((
        ("bare LF chunk lines", "5\nhello\n0\n\n"),
        ("bare CR after a size", "5\rhello\r\n0\r\n\r\n"),
        ("LF ending chunk data", "5\r\nhello\n0\r\n\r\n"),
        ("space after a size", "5 \r\nhello\r\n0\r\n\r\n"),
        ("CRLF quoted in an extension", '5;a="\r\n"\r\nhello\r\n0\r\n\r\n'),
        ("size past 2^64", "10000000000000005\r\nhello\r\n0\r\n\r\n")),
        start=11):
    cases.append((name, 400,
        f"POST http://{hp}/smug-{i} HTTP/1.1\r\nHost: {hp}\r\n"
        f"Transfer-Encoding: chunked\r\n\r\n" + body + smuggled(i)))
errs = []
for name, status, raw in cases:
    c = Conn(P)
    try:
        c.send(raw.encode())
        r = c.response()
        if r.status != status:
            errs.append(f"{name}: status {r.status}, want {status} ({r!r})")
        c.expect_closed(name)
    except (AssertionError, EOFError) as e:
        errs.append(f"{name}: {e}")
    finally:
        c.close()
if errs:
    sys.exit("smuggling:\n  " + "\n  ".join(errs))
PY
sleep 0.3
leaked=$(nginx_lines "$NGLOG" 'smuggled-')
[[ -z $leaked ]] || soft_fail "a smuggled request reached nginx: $leaked"
# (a bad body is found after its head went on: nginx may log those heads)
outer=$(nginx_lines "$NGLOG" '/smug-[0-9] ')
[[ -z $outer ]] || soft_fail "a refused request reached nginx: $outer"
n=$(access_lines "$LOG" | grep -c "result=bad_request" || true)
((n >= 15)) || soft_fail "ferry logged $n bad_request lines for 8 bad heads and 7 bad bodies"

# --- 9. malformed requests get 400, ferry goes on ------------------------------
say "malformed requests: 400, connection closed, others still served"
py - <<'PY' || soft_fail "malformed requests were not answered 400 (see above)"
import os, sys
from t_http_forward_raw import Conn, get
P, WEB = int(os.environ["P"]), os.environ["WEB"]
hp = f"127.0.0.1:{WEB}"
errs = []
bad = [
    ("no colon", f"GET http://{hp}/ HTTP/1.1\r\nHost: {hp}\r\nBad Header\r\n\r\n"),
    ("bare CR", f"GET http://{hp}/ HTTP/1.1\r\nHost: {hp}\r\nX: a\rb\r\n\r\n"),
    ("NUL", f"GET http://{hp}/ HTTP/1.1\r\nHost: {hp}\r\nX: a\0b\r\n\r\n"),
    ("HTTP/2.0", f"GET http://{hp}/ HTTP/2.0\r\nHost: {hp}\r\n\r\n"),
    ("missing Host", f"GET http://{hp}/ HTTP/1.1\r\n\r\n"),
    ("two Hosts", f"GET http://{hp}/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("userinfo", f"GET http://u:p@{hp}/ HTTP/1.1\r\nHost: {hp}\r\n\r\n"),
    ("https URI", f"GET https://{hp}/ HTTP/1.1\r\nHost: {hp}\r\n\r\n"),
    ("origin-form", f"GET / HTTP/1.1\r\nHost: {hp}\r\n\r\n"),
    ("TLS bytes", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
]
# another client, kept alive across all of it
keep = Conn(P)
keep.send(get(hp, "/p3.txt"))
if keep.response().status != 200:
    errs.append("the kept-alive client's first GET failed")
for name, raw in bad:
    # alone, and after a good request on the same connection
    for after_good in (False, True):
        what = name + (" (after a good request)" if after_good else "")
        c = Conn(P)
        try:
            if after_good:
                c.send(get(hp, "/p1.txt"))
                r = c.response()
                if r.status != 200:
                    errs.append(f"{what}: first request got {r!r}")
            c.send(raw.encode("latin-1"))
            r = c.response()
            if r.status != 400:
                errs.append(f"{what}: status {r.status}, want 400 ({r!r})")
            c.expect_closed(what)
        except (AssertionError, EOFError) as e:
            errs.append(f"{what}: {e}")
        finally:
            c.close()
try:
    keep.send(get(hp, "/p3.txt"))
    r = keep.response()
    if r.status != 200:
        errs.append(f"the kept-alive client afterwards: {r!r}")
except (AssertionError, EOFError) as e:
    errs.append(f"the kept-alive client afterwards: {e}")
if errs:
    sys.exit("malformed:\n  " + "\n  ".join(errs))
PY
ferry_healthy
page=$(curl -sS --max-time 10 -x "$PX" "http://127.0.0.1:$WEB/") ||
    fail "ferry stopped serving after malformed requests"
assert_eq "$TOKEN" "$page" "page after the malformed requests"

# --- 10. 431 ------------------------------------------------------------------
say "431 for an over-long head (first request and on a kept-alive connection); 12 kB heads pass"
py - <<'PY' || soft_fail "over-long heads were not answered 431 (see above)"
import os, sys
from t_http_forward_raw import Conn, get
P, WEB = int(os.environ["P"]), os.environ["WEB"]
hp = f"127.0.0.1:{WEB}"
# more than limits.max_head can ever be (64k), whatever the default
big = get(hp, "/", "X-Big: " + "a" * 70000 + "\r\n")
many = get(hp, "/", "".join(f"X-F{i}: v\r\n" for i in range(70)))
errs = []
for name, raw in (("70 kB field", big), ("70 fields", many)):
    for after_good in (False, True):
        what = name + (" (after a good request)" if after_good else "")
        c = Conn(P)
        try:
            if after_good:
                c.send(get(hp, "/p2.txt"))
                r = c.response()
                if r.status != 200:
                    errs.append(f"{what}: first request got {r!r}")
            c.send(raw)
            r = c.response()
            if r.status != 431:
                errs.append(f"{what}: status {r.status}, want 431 ({r!r})")
            c.expect_closed(what)
        except (AssertionError, EOFError, ConnectionError) as e:
            errs.append(f"{what}: {e}")
        finally:
            c.close()
# a big head within the default 16k limit is forwarded intact
import json
cookie = "c=" + "x" * 12000
c = Conn(P)
c.send(get(f"127.0.0.1:{os.environ['ECHO']}", "/bigcookie",
           f"Cookie: {cookie}\r\n"))
r = c.response()
if r.status != 200:
    errs.append(f"12 kB Cookie: status {r.status}")
else:
    got = [v for k, v in json.loads(r.body)["headers"] if k == "Cookie"]
    if got != [cookie]:
        errs.append(f"12 kB Cookie arrived as {[len(g) for g in got]} bytes")
c.close()
if errs:
    sys.exit("431:\n  " + "\n  ".join(errs))
PY

# --- 11. pipelining and several origins on one connection ---------------------
say "pipelined requests (GET, HEAD, another origin) answered in order"
py - <<'PY' || soft_fail "pipelined requests (see above)"
import os, sys
from t_http_forward_raw import Conn, get, expect, expect_eq
P, WEB, WEB2, ECHO = (int(os.environ["P"]), os.environ["WEB"],
                      os.environ["WEB2"], os.environ["ECHO"])
T = os.environ["T"]
hp, hp2 = f"127.0.0.1:{WEB}", f"127.0.0.1:{WEB2}"
www = lambda f: open(f"{T}/www/{f}", "rb").read()
c = Conn(P)
c.send(get(hp, "/p1.txt") + get(hp, "/big", method="HEAD") +
       get(hp, "/p2.txt") + get(hp2, "/") + get(hp, "/p3.txt") +
       get(f"127.0.0.1:{ECHO}", "/x?y=1"))
r = c.response(); expect_eq(www("p1.txt"), r.body, "1st answer")
r = c.response("HEAD"); expect_eq(200, r.status, "HEAD status")
expect_eq("1048576", r.header("content-length"), "HEAD Content-Length")
r = c.response(); expect_eq(www("p2.txt"), r.body, "3rd answer (after HEAD)")
r = c.response()
expect_eq(os.environ["TOKEN2"].encode() + b"\n", r.body, "4th (other origin)")
r = c.response(); expect_eq(www("p3.txt"), r.body, "5th answer")
r = c.response(); expect_eq(200, r.status, "6th (echo origin)")
expect(b'"path": "/x?y=1"' in r.body, f"6th answer {r.body[:200]!r}")
# the connection still works afterwards, one origin after another
for origin, want in ((hp2, os.environ["TOKEN2"]), (hp, os.environ["TOKEN"]),
                     (hp2, os.environ["TOKEN2"])):
    c.send(get(origin, "/"))
    r = c.response()
    expect_eq(want.encode() + b"\n", r.body, f"sequential GET to {origin}")
c.close()
PY

# --- 12. pooled connections the origin closed ---------------------------------
say "an idle pooled connection nginx closed is replaced"
py - <<'PY' || soft_fail "a stale pooled connection was not replaced (see above)"
import os, time
from t_http_forward_raw import Conn, get, expect_eq
P, SHORT = int(os.environ["P"]), os.environ["SHORT"]
hp = f"127.0.0.1:{SHORT}"
c = Conn(P)
c.send(get(hp, "/p1.txt?stale=1"))
expect_eq(200, c.response().status, "first GET")
time.sleep(2.2)  # nginx's keepalive_timeout there is 1 s
c.send(get(hp, "/p1.txt?stale=2"))
r = c.response()
expect_eq(200, r.status, f"GET after nginx closed the pooled connection ({r!r})")
c.close()
PY
wait_until 5 "nginx (short keep-alive) to log both requests" \
    test "$(nginx_lines "$NG/access-short.log" 'stale=' | wc -l)" -eq 2
conns=$(nginx_lines "$NG/access-short.log" 'stale=' | cut -d' ' -f1 | sort -u | wc -l)
assert_eq 2 "$conns" "connections nginx saw (the first had timed out)"

say "an origin that closes a reused connection unanswered: GET retried, POST not"
py - <<'PY' || soft_fail "stale reuse race (see above)"
import json, os
from t_http_forward_raw import Conn, get, expect_eq, expect
P, ECHO = int(os.environ["P"]), os.environ["ECHO"]
hp = f"127.0.0.1:{ECHO}"
c = Conn(P)
c.send(get(hp, "/flaky-1"))
r = c.response(); expect_eq(200, r.status, "first GET")
j = json.loads(r.body); expect_eq(1, j["conn_requests"], "first GET's k")
# The pooled connection is reused, the origin drops it: a GET is retried
# on a fresh connection, invisibly.
c.send(get(hp, "/flaky-2"))
r = c.response()
expect_eq(200, r.status, f"GET on a connection the origin dropped ({r!r})")
j = json.loads(r.body); expect_eq(1, j["conn_requests"], "retried GET's k")
# A POST is not idempotent: not retried, 502.
c.send(get(hp, "/flaky-3", "Content-Length: 4\r\n", method="POST") + b"data")
r = c.response()
expect_eq(502, r.status, f"POST on a dropped connection ({r!r})")
c.close()
PY
py - <<'PY' || soft_fail "a pooled connection the origin reset was not retried (see above)"
import json, os
from t_http_forward_raw import Conn, get, expect_eq
P, ECHO = int(os.environ["P"]), os.environ["ECHO"]
hp = f"127.0.0.1:{ECHO}"
c = Conn(P)
c.send(get(hp, "/rst-1"))  # may itself go on a connection pooled earlier
r = c.response()
expect_eq(200, r.status, f"GET /rst-1 ({r!r})")
# The origin resets the reused connection (RST, no FIN) instead of
# answering: an idempotent request is retried all the same (RFC 9110
# 9.2.2), like after a clean close.
c.send(get(hp, "/rst-2"))
r = c.response()
expect_eq(200, r.status, f"GET on a pooled connection the origin reset ({r!r})")
c.close()
PY
n=$(grep -c 'POST /flaky-3' "$T/echo.err" || true)
assert_eq 1 "$n" "times the POST reached the origin"
n=$(grep -c 'GET /flaky-2' "$T/echo.err" || true)
assert_eq 2 "$n" "times the retried GET reached the origin (dropped once, then answered)"

# --- 13. proxy authentication ---------------------------------------------------
say "proxy auth on the forwarding path"
mark_log "$LOG"
code=$(curl -sS --max-time 10 -x "http://127.0.0.1:$A" -D "$T/407.h" -o /dev/null \
    -w '%{http_code}' "http://127.0.0.1:$WEB/") || true
assert_eq 407 "$code" "status without credentials"
assert_file_contains "$T/407.h" 'Proxy-Authenticate: Basic realm="ferry"' "the 407's head"
code=$(curl_code -x "http://127.0.0.1:$A" --proxy-user "alice:wrong" "http://127.0.0.1:$WEB/")
assert_eq 407 "$code" "status with a wrong password"
line=$(wait_access_line "$LOG" "listener=guarded .*result=auth")
check_access_line "$line" status=407 method=GET "target=127\.0\.0\.1:$WEB"
page=$(curl -sS --max-time 10 -x "http://127.0.0.1:$A" --proxy-user "alice:$SECRET" \
    "http://127.0.0.1:$WEB/") || fail "GET with the right credentials failed"
assert_eq "$TOKEN" "$page" "page with proxy auth"
line=$(wait_access_line "$LOG" "listener=guarded .*user=alice .*result=ok")
check_access_line "$line" method=GET status=200 "target=127\.0\.0\.1:$WEB"
curl -sS --max-time 10 -x "http://alice:$SECRET@127.0.0.1:$A" \
    -o "$T/auth-echo.json" "http://127.0.0.1:$ECHO/auth" ||
    fail "GET to the echo origin with credentials failed"
if grep -qi 'proxy-authorization' "$T/auth-echo.json"; then
    soft_fail "Proxy-Authorization reached the origin: $(cat "$T/auth-echo.json")"
fi
# two requests on one authenticated connection
curl -sS --max-time 10 -x "http://127.0.0.1:$A" --proxy-user "alice:$SECRET" \
    -o "$T/a1" "http://127.0.0.1:$WEB/p1.txt" -o "$T/a2" "http://127.0.0.1:$WEB2/" ||
    fail "two requests with credentials failed"
cmp -s "$T/www/p1.txt" "$T/a1" || fail "authenticated keep-alive: body 1"
assert_eq "$TOKEN2" "$(cat "$T/a2")" "authenticated keep-alive: body 2"

# --- 14. origins that frame unusually --------------------------------------------
say "304/204 with Content-Length, read-until-close, chunked trailers, empty path + query"
mark_log "$LOG"
py - <<'PY' || soft_fail "304 with Content-Length (see above)"
import os
from t_http_forward_raw import Conn, get, expect_eq
P, ECHO = int(os.environ["P"]), os.environ["ECHO"]
hp = f"127.0.0.1:{ECHO}"
c = Conn(P, timeout=5)
c.send(get(hp, "/304cl", 'If-None-Match: "v1"\r\n'))
r = c.response(); expect_eq(304, r.status, "conditional GET")
# RFC 9112 6.3: a 304 ends at its head; the next answer must follow at once
c.send(get(hp, "/after-304"))
r = c.response()
expect_eq(200, r.status, f"the GET after a 304 with Content-Length ({r!r})")
c.close()
PY
py - <<'PY' || soft_fail "204 with Content-Length (see above)"
import os
from t_http_forward_raw import Conn, get, expect_eq
P, ECHO = int(os.environ["P"]), os.environ["ECHO"]
hp = f"127.0.0.1:{ECHO}"
c = Conn(P, timeout=5)
c.send(get(hp, "/204cl"))
r = c.response(); expect_eq(204, r.status, "204")
c.send(get(hp, "/after-204"))
r = c.response()
expect_eq(200, r.status, f"the GET after a 204 with Content-Length ({r!r})")
c.close()
PY
py - <<'PY' || soft_fail "1xx interim answers (see above)"
import os
from t_http_forward_raw import Conn, get, expect_eq
P, ECHO = int(os.environ["P"]), os.environ["ECHO"]
hp = f"127.0.0.1:{ECHO}"
c = Conn(P, timeout=5)
c.send(get(hp, "/103"))  # 103 and 200 arrive at ferry in one read
r = c.response(interim=True)
expect_eq(103, r.status, "first answer to an HTTP/1.1 client")
expect_eq("</style.css>; rel=preload", r.header("link"), "103's Link")
r = c.response()
expect_eq((200, b"hinted"), (r.status, r.body), "final answer after the 103")
c.close()
# RFC 9110 15.2: no 1xx to an HTTP/1.0 client
c = Conn(P, timeout=5)
c.send(get(hp, "/103", "Connection: keep-alive\r\n", version="1.0"))
r = c.response(interim=True)
expect_eq(200, r.status, f"first answer to an HTTP/1.0 client ({r!r})")
expect_eq(b"hinted", r.body, "its body")
c.close()
PY
curl -sS --max-time 10 -x "$PX" -o "$T/uc.got" "http://127.0.0.1:$ECHO/until-close" ||
    fail "GET of a read-until-close response failed"
n=$(grep -c '^until-close body$' "$T/uc.got" || true)
assert_eq 1000 "$n" "lines of the read-until-close body"
line=$(wait_access_line "$LOG" "target=127\.0\.0\.1:$ECHO .*method=GET status=200" 5)
line=$(access_lines "$LOG" | grep "target=127\.0\.0\.1:$ECHO " | tail -n 1)
[[ $(log_field "$line" result) == ok ]] ||
    soft_fail "a complete read-until-close response is logged as: $line"
body=$(curl -sS --max-time 10 -x "$PX" "http://127.0.0.1:$ECHO/chunked") ||
    fail "GET of a chunked response with a trailer failed"
assert_eq "hello world" "$body" "chunked body with a trailer"
py - <<'PY' || soft_fail "absolute URI with an empty path and a query (see above)"
import json, os
from t_http_forward_raw import Conn, expect_eq
P, ECHO, WEB = int(os.environ["P"]), os.environ["ECHO"], os.environ["WEB"]
c = Conn(P, timeout=5)
c.send(f"GET http://127.0.0.1:{ECHO}?q=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
r = c.response()
expect_eq(200, r.status, "status")
# RFC 9112 3.2.1: origin-form with an empty path is "/" (before the query)
expect_eq("/?q=1", json.loads(r.body)["path"], "path the origin received")
c.send(f"GET http://127.0.0.1:{WEB}?q=2 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
r = c.response()
expect_eq(200, r.status, f"nginx's answer to http://127.0.0.1:{WEB}?q=2 ({r!r})")
c.close()
PY

# --- 15. more edges: connection management, errors, backpressure -----------------
say "HTTP/1.0, Connection: close, Max-Forwards: 0, CONNECT mid-stream, POST pipelined"
mark_log "$LOG"
py - <<'PY' || soft_fail "connection management (see above)"
import json, os, sys
from t_http_forward_raw import Conn, get, expect, expect_eq
P, WEB, ECHO = int(os.environ["P"]), os.environ["WEB"], os.environ["ECHO"]
hp, he = f"127.0.0.1:{WEB}", f"127.0.0.1:{ECHO}"
tok = os.environ["TOKEN"].encode() + b"\n"
errs = []
def case(name, fn):
    try:
        fn()
    except (AssertionError, EOFError) as e:
        errs.append(f"{name}: {e}")

def http10_close():
    c = Conn(P)
    c.send(f"GET http://{hp}/ HTTP/1.0\r\n\r\n".encode())
    r = c.response(); expect_eq(tok, r.body, "HTTP/1.0 body")
    c.expect_closed("HTTP/1.0 without keep-alive")
case("HTTP/1.0 request: answered, then closed", http10_close)

def http10_keepalive():
    c = Conn(P)
    for i in range(2):
        c.send(get(hp, "/", "Connection: keep-alive\r\n", version="1.0"))
        r = c.response(); expect_eq(tok, r.body, f"HTTP/1.0 keep-alive #{i}")
        expect("chunked" not in (r.header("transfer-encoding") or ""),
               f"chunked answer to an HTTP/1.0 client: {r!r}")
    c.close()
case("HTTP/1.0 keep-alive: two requests", http10_keepalive)

def conn_close():
    c = Conn(P)
    c.send(get(hp, "/", "Connection: close\r\n"))
    r = c.response(); expect_eq(tok, r.body, "body")
    expect_eq("close", (r.header("connection") or "").lower(),
              "Connection field of the answer")
    c.expect_closed("after Connection: close")
case("Connection: close: answered, then closed", conn_close)

def max_forwards():
    c = Conn(P)
    c.send(get(hp, "/maxfwd-0", "Max-Forwards: 0\r\n", method="OPTIONS"))
    r = c.response(); expect_eq(200, r.status, "OPTIONS Max-Forwards: 0")
    c.send(get(hp, "/p1.txt"))
    r = c.response(); expect_eq(200, r.status, "GET after it")
    c.close()
case("OPTIONS with Max-Forwards: 0 answered by ferry", max_forwards)

def connect_midstream():
    c = Conn(P)
    c.send(get(hp, "/p1.txt"))
    expect_eq(200, c.response().status, "first GET")
    c.send(f"CONNECT {hp} HTTP/1.1\r\nHost: {hp}\r\n\r\n".encode())
    r = c.response(); expect_eq(405, r.status, "CONNECT after a GET")
    c.expect_closed("after the 405")
case("CONNECT on a forwarding connection: 405", connect_midstream)

def post_pipelined():
    c = Conn(P)
    body = b'{"k": "' + b"v" * 5000 + b'"}'
    chunked = b"5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
    c.send(get(he, "/post1", f"Content-Length: {len(body)}\r\n", method="POST")
           + body
           + get(he, "/post2", "Transfer-Encoding: chunked\r\n", method="POST")
           + chunked + get(he, "/after-posts"))
    for path, want in (("/post1", body), ("/post2", b"helloabc"),
                       ("/after-posts", b"")):
        r = c.response(); expect_eq(200, r.status, path)
        j = json.loads(r.body)
        expect_eq(path, j["path"], "order")
        import base64
        expect_eq(want, base64.b64decode(j["body_b64"]), f"{path} body")
    c.close()
case("POSTs (Content-Length, chunked) pipelined with a GET", post_pipelined)

def client_gone_midbody():
    c = Conn(P)
    c.send(get(hp, "/big"))
    c.s.recv(1000)
    c.close()  # with most of 1 MiB still to come
case("client closing in the middle of a body", client_gone_midbody)

if errs:
    sys.exit("edges:\n  " + "\n  ".join(errs))
PY
sleep 0.2
[[ -z $(nginx_lines "$NGLOG" 'maxfwd-0') ]] ||
    soft_fail "OPTIONS with Max-Forwards: 0 was forwarded: $(nginx_lines "$NGLOG" 'maxfwd-0')"
ferry_healthy

say "slow client: 1 MiB at 2 MB/s comes through whole (backpressure)"
curl -sS --max-time 20 --limit-rate 2M -x "$PX" -o "$T/slow.got" \
    "http://127.0.0.1:$WEB/big" || soft_fail "a rate-limited download failed"
cmp -s "$T/www/big" "$T/slow.got" || soft_fail "a rate-limited download differs"
curl -sS --max-time 20 --limit-rate 2M -x "$PX" -T "$T/small.bin" -o /dev/null \
    "http://127.0.0.1:$WEB/up/slow.bin" || soft_fail "a rate-limited upload failed"
cmp -s "$T/small.bin" "$T/www/up/slow.bin" || soft_fail "a rate-limited upload differs"

say "origin failures: refused, unknown name, bad answers -> 502"
mark_log "$LOG"
DEAD=$(free_port)
code=$(curl_code -x "$PX" "http://127.0.0.1:$DEAD/")
assert_eq 502 "$code" "status for a closed port"
wait_access_line "$LOG" "target=127\.0\.0\.1:$DEAD .*result=refused .*status=502" >/dev/null
code=$(curl_code -x "$PX" "http://nx.ferry.test:$WEB/")
assert_eq 502 "$code" "status for a name that does not resolve"
wait_access_line "$LOG" "target=nx\.ferry\.test:$WEB .*result=dns_failure .*status=502" >/dev/null
for path in bighead garbage; do
    mark_log "$LOG"
    code=$(curl_code -x "$PX" "http://127.0.0.1:$ECHO/$path")
    [[ $code == 502 ]] || soft_fail "status for /$path from the origin: $code, want 502"
    wait_access_line "$LOG" \
        "target=127\.0\.0\.1:$ECHO .*result=upstream_error .*status=502" \
        >/dev/null
done
body=$(curl -sS --max-time 10 -x "$PX" "http://127.0.0.1:$ECHO/slow-head") ||
    soft_fail "a response head arriving in pieces failed"
[[ ${body:-} == slow ]] || soft_fail "body of a response whose head came in pieces: '${body:-}'"
ferry_healthy

assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
assert_no_secret "$(printf 'alice:%s' "$SECRET" | base64)" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
