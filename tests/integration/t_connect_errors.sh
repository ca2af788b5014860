# t_connect_errors: HTTP CONNECT failures get the status of DESIGN.md's
# result table with a short text/plain body: 502 refused, 502 naming the
# host for an unresolvable name, 504 for a connect timeout (1 s), 400 for a
# malformed head or authority; a GET is refused (405) or fails (502); an
# unfinished head is closed by the handshake timeout.  After each, the
# proxy serves the next client.
source "$(dirname "$0")/lib.sh"

start_dnsmasq
start_py echo echo
ECHO=$PY_PORT
start_py blackhole blackhole
HOLE=$PY_PORT
CLOSED=$(free_port)
P=$(free_port)
cat >"$T/ferry.yaml" <<EOF
timeouts:
  connect: 1s
  handshake: 5s
dns:
  servers: [127.0.0.1:$DNS_PORT]
listeners:
  - name: web
    type: http
    listen: 127.0.0.1:$P
EOF
start_ferry -c "$T/ferry.yaml"

py - "$P" "$ECHO" "$CLOSED" "$HOLE" <<'PY'
import socket, sys, time
import ftlib
from ftlib import expect, expect_eq

P, ECHO, CLOSED, HOLE = map(int, sys.argv[1:5])


def still_serving(after):
    """A good CONNECT works right after a failure."""
    s = ftlib.open_http_tunnel(P, "127.0.0.1", ECHO)
    s.sendall(b"alive?")
    expect_eq(b"alive?", ftlib.recv_exact(s, 6), f"echo after {after}")
    s.close()


def error(head, status, what, body_has=None, max_secs=5.0):
    s = ftlib.connect("127.0.0.1", P)
    t = time.monotonic()
    s.sendall(head)
    r = ftlib.read_http_response(s)
    secs = time.monotonic() - t
    expect_eq(status, r.status, f"{what}: status ({r!r})")
    expect(secs < max_secs, f"{what}: answered after {secs:.1f}s")
    ctype = (r.header("content-type") or "").lower()
    expect(ctype.startswith("text/plain"),
           f"{what}: Content-Type {ctype!r}, expected text/plain")
    expect(0 < len(r.body) < 4096, f"{what}: body {r.body!r}")
    if body_has:
        expect(body_has.encode() in r.body,
               f"{what}: body {r.body!r} should name {body_has!r}")
    # After a malformed head the connection cannot go on: it is closed.
    # After a failed CONNECT ferry may keep the connection for another
    # request, unless it said "Connection: close".
    conn = (r.header("connection") or "").lower()
    if status == 400 or conn == "close":
        ftlib.expect_eof(s, what)
    s.close()
    print(f"ok: {what}: {r.status} {r.reason!r} in {secs:.2f}s, body {r.body!r}")
    still_serving(what)
    return secs


error(ftlib.connect_head(f"127.0.0.1:{CLOSED}"), 502, "refused")
error(ftlib.connect_head(f"nx.ferry.test:{ECHO}"), 502, "unresolvable",
      body_has="nx.ferry.test")
secs = error(ftlib.connect_head(f"127.0.0.1:{HOLE}"), 504, "connect timeout")
expect(secs >= 0.8, f"504 after {secs:.2f}s, before the 1s connect timeout")

bad = [
    (b"GARBAGE\r\n\r\n", "not HTTP"),
    (b"CONNECT\r\n\r\n", "no authority"),
    (b"CONNECT 127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n", "no port"),
    (b"CONNECT 127.0.0.1: HTTP/1.1\r\nHost: x\r\n\r\n", "empty port"),
    (b"CONNECT :80 HTTP/1.1\r\nHost: x\r\n\r\n", "empty host"),
    (b"CONNECT 127.0.0.1:99999 HTTP/1.1\r\nHost: x\r\n\r\n", "port > 65535"),
    (b"CONNECT 127.0.0.1:8x HTTP/1.1\r\nHost: x\r\n\r\n", "port not a number"),
    (b"CONNECT [::1:80 HTTP/1.1\r\nHost: x\r\n\r\n", "unclosed bracket"),
    (b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost x\r\n\r\n", "header without colon"),
    (b"CONNECT 127.0.0.1:80 XTTP/9.9\r\n\r\n", "bad version"),
]
for head, what in bad:
    error(head, 400, f"bad request: {what}")

# A plain-proxy request (not CONNECT): this version answers 405 (or,
# once forwarding exists, 502 for the closed port); never a hang.
s = ftlib.connect("127.0.0.1", P)
s.sendall(f"GET http://127.0.0.1:{CLOSED}/ HTTP/1.1\r\n"
          f"Host: 127.0.0.1:{CLOSED}\r\n\r\n".encode())
r = ftlib.read_http_response(s)
expect(r.status in (405, 501, 502), f"GET through an http listener: {r!r}")
s.close()
still_serving("a GET request")
print(f"ok: GET answered {r.status}")

# A head the client never finishes: ferry closes it by the handshake
# timeout (5s) without hanging or stopping the others.
s = ftlib.connect("127.0.0.1", P)
s.sendall(b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost:")
still_serving("a half-sent head")
t = time.monotonic()
s.settimeout(12)
try:
    data = ftlib.recv_until_eof(s, 65536)
except ConnectionResetError:
    data = b""
except socket.timeout:
    raise AssertionError("an unfinished head was still open after 12s "
                         "(handshake timeout is 5s)")
secs = time.monotonic() - t
expect(not data or data.startswith(b"HTTP/1.1 4"),
       f"reply to an unfinished head: {data!r}")
print(f"ok: unfinished head closed after {secs:.1f}s")
PY

line=$(wait_access_line "$FERRY_ERR" "target=127\.0\.0\.1:$CLOSED ")
check_access_line "$line" proto=http result=refused listener=web
line=$(wait_access_line "$FERRY_ERR" "target=nx\.ferry\.test:$ECHO ")
check_access_line "$line" result=dns_failure
line=$(wait_access_line "$FERRY_ERR" "target=127\.0\.0\.1:$HOLE ")
check_access_line "$line" result=timeout
wait_access_line "$FERRY_ERR" "result=bad_request" >/dev/null
ferry_healthy
finish
