"""t_websocket_client: a raw RFC 6455 client for t_websocket.sh (stdlib).

The handshake and the frames are built by hand (client frames masked, as
RFC 6455 5.3 requires) so the test sees exactly what crosses the proxy.

  python3 t_websocket_client.py MODE PROXY_PORT WS_PORT [USER PASS]

MODE is "connect" (CONNECT through the proxy, then the handshake inside
the tunnel) or "upgrade" (the handshake sent to the proxy as an
absolute-URI request, forwarded as an HTTP Upgrade).  Exits 0 when every
echo came back intact; prints what went wrong otherwise.
"""

import base64
import hashlib
import os
import socket
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 10.0

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def fail(msg):
    raise AssertionError(msg)


class Stream:
    def __init__(self, sock, buf=b""):
        self.s = sock
        self.buf = buf

    def need(self, n, what):
        while len(self.buf) < n:
            try:
                d = self.s.recv(1 << 16)
            except socket.timeout:
                fail(f"timed out waiting for {what}; have {self.buf[:80]!r}")
            if not d:
                fail(f"connection closed while waiting for {what}; "
                     f"have {self.buf[:80]!r}")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self, what):
        while b"\r\n\r\n" not in self.buf:
            try:
                d = self.s.recv(1 << 16)
            except socket.timeout:
                fail(f"timed out waiting for {what}; have {self.buf!r}")
            if not d:
                fail(f"connection closed before {what}; have {self.buf!r}")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        return status, headers, lines[0]


def frame(opcode, payload, fin=True):
    """A masked client frame."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) \
        if n < 4096 else _mask_fast(payload, mask)
    return hdr + mask + body


def _mask_fast(payload, mask):
    m = int.from_bytes(mask * ((len(payload) + 3) // 4), "big")
    p = int.from_bytes(payload + b"\0" * (-len(payload) % 4), "big")
    return (p ^ m).to_bytes(len(payload) + (-len(payload) % 4),
                            "big")[:len(payload)]


def read_frame(st):
    b0, b1 = st.need(2, "a frame header")
    if b1 & 0x80:
        fail("the server sent a masked frame (RFC 6455 5.1 forbids it)")
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", st.need(2, "a 16-bit length"))[0]
    elif n == 127:
        n = struct.unpack("!Q", st.need(8, "a 64-bit length"))[0]
    return bool(b0 & 0x80), b0 & 0x0F, st.need(n, f"a {n}-byte payload")


def read_message(st):
    fin, op, data = read_frame(st)
    while not fin:
        fin, cont, more = read_frame(st)
        if cont != OP_CONT:
            fail(f"opcode {cont} inside a fragmented message")
        data += more
    return op, data


def handshake(st, target, host, extra=""):
    key = base64.b64encode(os.urandom(16)).decode()
    st.s.sendall((f"GET {target} HTTP/1.1\r\nHost: {host}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
    status, headers, line = st.head("the 101 answer")
    if status != 101:
        fail(f"handshake answered {line!r} {headers!r} {st.buf[:200]!r}")
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
    got = headers.get("sec-websocket-accept", [""])[0]
    if got != want.decode():
        fail(f"Sec-WebSocket-Accept {got!r}, want {want.decode()!r}")
    if [v.lower() for v in headers.get("upgrade", [])] != ["websocket"]:
        fail(f"Upgrade field in the 101: {headers.get('upgrade')!r}")
    conn = ",".join(headers.get("connection", [])).lower()
    if "upgrade" not in conn:
        fail(f"Connection field in the 101: {headers.get('connection')!r}")
    return headers


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def run(mode, proxy, ws, user=None, pw=None):
    s = socket.create_connection(("127.0.0.1", proxy), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    st = Stream(s)
    auth = f"Proxy-Authorization: {basic(user, pw)}\r\n" if user else ""
    host = f"127.0.0.1:{ws}"
    if mode == "connect":
        s.sendall(f"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n"
                  .encode())
        status, _, line = st.head("the CONNECT answer")
        if status != 200:
            fail(f"CONNECT answered {line!r}")
        path = "/tunnel"
        headers = handshake(st, path, host)
    elif mode == "upgrade":
        path = "/upgrade?x=1"
        headers = handshake(st, f"http://{host}{path}", host, auth)
        via = headers.get("via", [])
        if via != ["1.1 ferry"]:
            fail(f"Via in the forwarded 101: {via!r}")
    else:
        fail(f"unknown mode {mode!r}")

    op, data = read_message(st)
    if (op, data) != (OP_TEXT, f"hello {path}".encode()):
        fail(f"greeting: {(op, data[:80])!r}")

    rnd = os.urandom
    msgs = [
        (OP_TEXT, b"hello"),
        (OP_TEXT, "h\u00e9llo \u2713 \u4e16\u754c".encode()),
        (OP_TEXT, b""),
        (OP_BIN, rnd(125)), (OP_BIN, rnd(126)), (OP_BIN, rnd(65535)),
        (OP_BIN, rnd(65536)),
        (OP_BIN, rnd(200 * 1024)),
    ]
    # one at a time
    for op, data in msgs:
        s.sendall(frame(op, data))
        got = read_message(st)
        if got != (op, data):
            fail(f"echo of a {len(data)}-byte opcode-{op} message: got "
                 f"opcode {got[0]}, {len(got[1])} bytes")
    # all at once, then the echoes in order
    s.sendall(b"".join(frame(op, data) for op, data in msgs))
    for op, data in msgs:
        got = read_message(st)
        if got != (op, data):
            fail(f"pipelined echo of a {len(data)}-byte message differs")
    # a fragmented text message comes back whole
    s.sendall(frame(OP_TEXT, b"frag", fin=False) +
              frame(OP_CONT, b"men", fin=False) + frame(OP_CONT, b"ted"))
    got = read_message(st)
    if got != (OP_TEXT, b"fragmented"):
        fail(f"fragmented message echo: {got!r}")
    # ping -> pong with the same payload
    s.sendall(frame(OP_PING, b"are you there"))
    got = read_frame(st)
    if got != (True, OP_PONG, b"are you there"):
        fail(f"answer to a ping: {got!r}")
    # closing handshake, then the server closes the TCP connection
    s.sendall(frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye"))
    fin, op, data = read_frame(st)
    if op != OP_CLOSE or data[:2] != struct.pack("!H", 1000):
        fail(f"close answer: {(op, data)!r}")
    s.settimeout(5)
    try:
        rest = s.recv(1 << 16)
    except ConnectionResetError:
        rest = b""
    if rest:
        fail(f"bytes after the close frame: {rest[:80]!r}")
    s.close()
    sent = sum(len(d) for _, d in msgs) * 2 + len(b"fragmented")
    print(f"OK {mode}: {len(msgs) * 2 + 1} messages, {sent} bytes echoed")


if __name__ == "__main__":
    a = sys.argv[1:]
    try:
        run(a[0], int(a[1]), int(a[2]), *(a[3:5] if len(a) >= 5 else []))
    except AssertionError as e:
        print(f"FAIL {a[0]}: {e}", file=sys.stderr)
        sys.exit(1)
