# t_requests: python3-requests through ferry with credentials in the proxy
# URL: http://user:pass@ for http:// URLs (absolute-URI forwarding) and
# https:// URLs (CONNECT to nginx with TLS, certificate from a CA the test
# makes, verify=that CA), and socks5h://user:pass@ / socks5:// (PySocks)
# for both; wrong credentials are refused; the access log names the user.
source "$(dirname "$0")/lib.sh"
need_tools nginx

# requests and PySocks are Debian's packages: Debian's python3 sees them
# (a python3 earlier on PATH, e.g. pyenv's, may not).
DPY=/usr/bin/python3
[[ -x $DPY ]] && "$DPY" -c 'import requests, socks' 2>/dev/null ||
    fail "python3-requests / python3-socks missing for $DPY (run scripts/install-test-deps.sh)"
dpy() { timeout -k 5 60 "$DPY" "$@"; }

start_dnsmasq
read -r HTTPW TLSW P < <(free_ports 3 | xargs)

# --- a test CA and a server certificate it signs -------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj "/CN=ferry test CA $RANDOM" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$T/ca.key" -out "$T/ca.crt" >"$T/openssl.log" 2>&1 ||
    fail "making the CA failed: $(cat "$T/openssl.log")"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=ok.ferry.test" -keyout "$T/leaf.key" -out "$T/leaf.csr" \
    >>"$T/openssl.log" 2>&1 || fail "making the CSR failed: $(cat "$T/openssl.log")"
printf '%s\n' "subjectAltName=DNS:ok.ferry.test,DNS:localhost,IP:127.0.0.1" \
    "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >"$T/leaf.ext"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/leaf.ext" -out "$T/leaf.crt" \
    >>"$T/openssl.log" 2>&1 || fail "signing the leaf failed: $(cat "$T/openssl.log")"

start_nginx "$HTTPW"
TOKEN_HTTP=$NGINX_TOKEN
start_nginx "$TLSW" leaf
TOKEN_TLS=$NGINX_TOKEN

SECRET="rq-pw-$RANDOM$RANDOM"
cat >"$T/ferry.yaml" <<EOF
workers: 2
timeouts:
  connect: 5s
dns:
  servers: [127.0.0.1:$DNS_PORT]
listeners:
  - name: guarded
    type: mixed
    listen: 127.0.0.1:$P
    users:
      - name: alice
        password: $SECRET
EOF
start_ferry -c "$T/ferry.yaml"
LOG=$FERRY_ERR

dpy - "$P" "$SECRET" "$HTTPW" "$TLSW" "$T" "$TOKEN_HTTP" "$TOKEN_TLS" <<'PY' || soft_fail "requests through ferry (see above)"
import sys
import requests

P, SECRET, HTTPW, TLSW, T, TOK_HTTP, TOK_TLS = sys.argv[1:8]
CA = f"{T}/ca.crt"
errs = []


def session(scheme, user="alice", pw=SECRET):
    s = requests.Session()
    s.trust_env = False  # no proxy or CA bundle from the environment
    url = f"{scheme}://{user}:{pw}@127.0.0.1:{P}"
    s.proxies = {"http": url, "https": url}
    return s


def check(what, fn):
    try:
        fn()
        print(f"ok: {what}", flush=True)
    except Exception as e:  # every failure is reported, then the next
        errs.append(f"{what}: {type(e).__name__}: {e}")


def want_page(s, url, token, verify=True):
    r = s.get(url, timeout=10, verify=verify)
    assert r.status_code == 200, f"status {r.status_code}: {r.text[:200]!r}"
    assert r.text == token + "\n", f"body {r.text[:200]!r}"
    return r


big_http = open(f"{T}/www-{HTTPW}/big", "rb").read()
big_tls = open(f"{T}/www-{TLSW}/big", "rb").read()

for scheme in ("http", "socks5h", "socks5"):
    s = session(scheme)
    for host in ("127.0.0.1", "ok.ferry.test"):
        if scheme == "socks5" and host != "127.0.0.1":
            continue  # socks5:// resolves locally: no ferry.test names here
        def http_get():
            r = want_page(s, f"http://{host}:{HTTPW}/", TOK_HTTP)
            if scheme == "http":
                assert r.headers.get("Via") == "1.1 ferry", \
                    f"Via {r.headers.get('Via')!r} on a forwarded answer"
        check(f"{scheme} proxy, GET http://{host}", http_get)
        check(f"{scheme} proxy, GET https://{host} (verify=test CA)",
              lambda: want_page(s, f"https://{host}:{TLSW}/", TOK_TLS, CA))

    def big():
        for url, data, v in ((f"http://127.0.0.1:{HTTPW}/big", big_http, True),
                             (f"https://127.0.0.1:{TLSW}/big", big_tls, CA)):
            r = s.get(url, timeout=20, verify=v)
            assert r.status_code == 200, f"{url}: status {r.status_code}"
            assert r.content == data, f"{url}: 1 MiB body differs"
    check(f"{scheme} proxy, 1 MiB over http and https", big)

    def keepalive():
        for i in range(5):
            r = s.get(f"http://127.0.0.1:{HTTPW}/host?i={i}", timeout=10)
            assert r.status_code == 200 and r.text.startswith("host=127.0.0.1 "), \
                f"request {i}: {r.status_code} {r.text!r}"
            r = s.head(f"https://127.0.0.1:{TLSW}/big", timeout=10, verify=CA)
            assert r.status_code == 200 and \
                r.headers.get("Content-Length") == "1048576", \
                f"HEAD {i}: {r.status_code} {r.headers!r}"
    check(f"{scheme} proxy, GET/HEAD repeated on one session", keepalive)

    def post():
        r = s.post(f"http://127.0.0.1:{HTTPW}/host", json={"a": [1, 2, 3]},
                   timeout=10)
        # nginx's "return" answers any method; the body was framed right
        # when the session can go on with the next request
        assert r.status_code == 200, f"status {r.status_code}"
        want_page(s, f"http://127.0.0.1:{HTTPW}/", TOK_HTTP)
    check(f"{scheme} proxy, POST then GET", post)

    def untrusted():
        # a fresh session: requests reuses a pooled TLS connection whatever
        # verify says (CVE-2024-35195)
        try:
            session(scheme).get(f"https://127.0.0.1:{TLSW}/", timeout=10,
                  verify="/etc/ssl/certs/ca-certificates.crt")
        except requests.exceptions.SSLError:
            return
        raise AssertionError("a certificate from the test CA was accepted "
                             "without that CA")
    check(f"{scheme} proxy, https without the test CA fails TLS", untrusted)

# wrong credentials
bad = session("http", "alice", "wrong-" + SECRET)
def bad_http():
    r = bad.get(f"http://127.0.0.1:{HTTPW}/", timeout=10)
    assert r.status_code == 407, f"status {r.status_code}"
    pa = r.headers.get("Proxy-Authenticate", "")
    assert pa.lower().startswith("basic"), f"Proxy-Authenticate {pa!r}"
check("http proxy, wrong password, http URL -> 407", bad_http)
def bad_https():
    try:
        bad.get(f"https://127.0.0.1:{TLSW}/", timeout=10, verify=CA)
    except requests.exceptions.ProxyError as e:
        assert "407" in str(e), f"ProxyError without 407: {e}"
        return
    raise AssertionError("CONNECT with a wrong password succeeded")
check("http proxy, wrong password, https URL -> CONNECT 407", bad_https)
for scheme in ("socks5h", "socks5"):
    bad = session(scheme, "alice", "wrong-" + SECRET)
    def bad_socks():
        try:
            bad.get(f"http://127.0.0.1:{HTTPW}/", timeout=10)
        except requests.exceptions.ConnectionError as e:
            return
        raise AssertionError("SOCKS5 with a wrong password succeeded")
    check(f"{scheme} proxy, wrong password refused", bad_socks)

if errs:
    sys.exit("requests through ferry:\n  " + "\n  ".join(errs))
PY

# The access log: every kind of request, with the user, and no password.
lines=$(access_lines "$LOG")
grep -qE "proto=http user=alice target=127\.0\.0\.1:$HTTPW result=ok .*method=GET status=200" <<<"$lines" ||
    soft_fail "no forwarded GET by alice in the access log"
grep -qE "proto=http user=alice target=ok\.ferry\.test:$TLSW result=ok" <<<"$lines" ||
    soft_fail "no CONNECT by alice to ok.ferry.test in the access log"
grep -qE "proto=socks5 user=alice target=ok\.ferry\.test:$HTTPW result=ok" <<<"$lines" ||
    soft_fail "no socks5h request by name in the access log"
grep -qE "proto=socks5 user=alice target=127\.0\.0\.1:$TLSW result=ok" <<<"$lines" ||
    soft_fail "no socks5 request to the TLS port in the access log"
grep -qE "proto=http user=- .*result=auth .*status=407" <<<"$lines" ||
    soft_fail "no refused forwarded request (407) in the access log"
assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
