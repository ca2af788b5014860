"""ftlib: python3 (stdlib only) helpers for ferry's integration tests.

Two uses:
  * imported by the test scripts' inline python (lib.sh puts this directory
    on PYTHONPATH): raw HTTP CONNECT / SOCKS4 / SOCKS5 clients that expose
    the exact bytes of each reply, and small socket utilities;
  * run as `python3 ftlib.py SERVER [options]`: loopback test servers that
    print "PORT n" once they listen, then serve until killed:
      echo        echo every byte back; half-close after the peer's EOF
      blackhole   a port whose accept queue is full: SYNs are never answered
      halfclose   exercise half-close (see serve_halfclose)
      blast       bulk transfer both ways with sha256 at each end
      paced       send N bytes paced over S seconds, then close

Every socket has a timeout; nothing here waits forever.
"""

import argparse
import hashlib
import ipaddress
import os
import random
import socket
import struct
import sys
import threading
import time

TIMEOUT = 10.0


def log(*args):
    print(*args, file=sys.stderr, flush=True)


_REPORT_LOCK = threading.Lock()


def report(line):
    """One whole line of a server's report on stdout.  Handlers run in
    threads, and print() writes a line and its newline apart, so two
    reports could share a line and a test counting lines miss one."""
    with _REPORT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_eq(expected, got, what):
    if expected != got:
        raise AssertionError(f"{what}: expected {expected!r}, got {got!r}")


# --- sockets -----------------------------------------------------------------

def connect(host, port, timeout=TIMEOUT):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n, what="data"):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise AssertionError(
                f"{what}: connection closed after {len(buf)} of {n} bytes "
                f"(got {bytes(buf)!r})")
        buf += chunk
    return bytes(buf)


def recv_until_eof(s, limit=1 << 30):
    buf = bytearray()
    while len(buf) < limit:
        chunk = s.recv(65536)
        if not chunk:
            return bytes(buf)
        buf += chunk
    raise AssertionError(f"more than {limit} bytes before EOF")


def expect_eof(s, what, timeout=5.0):
    """The peer must close (EOF or reset) within timeout, sending nothing."""
    s.settimeout(timeout)
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        return
    except socket.timeout:
        raise AssertionError(f"{what}: connection still open after "
                             f"{timeout}s (expected the proxy to close it)")
    expect(data == b"", f"{what}: expected EOF, got extra bytes {data!r}")


# --- HTTP CONNECT ------------------------------------------------------------

class HttpResponse:
    def __init__(self, status, reason, headers, body, rest, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> list of values
        self.body = body
        self.rest = rest        # bytes after the head (tunnel data on 200)
        self.raw_head = raw_head

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def __repr__(self):
        return (f"<HTTP {self.status} {self.reason!r} "
                f"headers={self.headers!r} body={self.body!r}>")


def read_http_response(s, read_body=True, timeout=TIMEOUT):
    """Read a response head; for non-2xx read the body (Content-Length or
    until EOF).  Raises AssertionError when no complete head arrives."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise AssertionError(
                f"connection closed before a complete response head "
                f"(got {buf!r})")
        buf += chunk
        # Bytes behind a complete head (a server that speaks first) may
        # come in the same read: only an unfinished head is too large.
        expect(b"\r\n\r\n" in buf or len(buf) < 65536,
               f"response head too large: {buf[:200]!r}")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    expect(len(parts) >= 2 and parts[0].startswith("HTTP/1."),
           f"bad status line {lines[0]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    body = b""
    if read_body and not (200 <= status < 300):
        cl = headers.get("content-length")
        if cl:
            n = int(cl[0])
            body = rest[:n]
            if len(body) < n:
                body += recv_exact(s, n - len(body), "response body")
            rest = rest[n:]
        else:
            try:
                body = rest + recv_until_eof(s, 1 << 20)
            except (socket.timeout, ConnectionResetError):
                body = rest
            rest = b""
    return HttpResponse(status, reason, headers, body, rest, head)


def basic_auth(user, password):
    import base64
    tok = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Proxy-Authorization: Basic {tok}\r\n"


def connect_head(authority, extra=""):
    return (f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
            f"User-Agent: ferry-it\r\n{extra}\r\n").encode()


def authority(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def http_tunnel(proxy_port, host, port, user=None, password=None,
                payload=b"", timeout=TIMEOUT):
    """CONNECT through ferry; returns (socket, response).  payload is sent
    in the same send() as the head."""
    s = connect("127.0.0.1", proxy_port, timeout)
    extra = basic_auth(user, password) if user is not None else ""
    s.sendall(connect_head(authority(host, port), extra) + payload)
    r = read_http_response(s, timeout=timeout)
    return s, r


class Preloaded:
    """A socket whose reads first return bytes already read from it."""

    def __init__(self, s, data):
        self._s, self._data = s, bytes(data)

    def recv(self, n, *flags):
        if not self._data:
            return self._s.recv(n, *flags)
        d, self._data = self._data[:n], self._data[n:]
        return d

    def recv_into(self, buf, *args):
        if not self._data:
            return self._s.recv_into(buf, *args)
        k = min(len(buf), len(self._data))
        buf[:k] = self._data[:k]
        self._data = self._data[k:]
        return k

    def __getattr__(self, name):
        return getattr(self._s, name)


def open_http_tunnel(proxy_port, host, port, server_first=False, **kw):
    """CONNECT; the socket, positioned behind the 200 head.  A server that
    speaks first may have its bytes in the same read as the head: with
    server_first they are kept for the caller's reads, else none may
    come before we send."""
    s, r = http_tunnel(proxy_port, host, port, **kw)
    expect_eq(200, r.status, f"CONNECT {host}:{port} status ({r!r})")
    if server_first:
        return Preloaded(s, r.rest)
    expect_eq(b"", r.rest, "bytes after the 200 head before we sent any")
    return s


# --- SOCKS5 ------------------------------------------------------------------

def s5_addr(host):
    """SOCKS5 ATYP + DST.ADDR for host (IPv4, IPv6 or a domain name)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        b = host.encode()
        return bytes([3, len(b)]) + b
    if ip.version == 4:
        return b"\x01" + ip.packed
    return b"\x04" + ip.packed


def s5_request(cmd, host, port):
    return bytes([5, cmd, 0]) + s5_addr(host) + struct.pack(">H", port)


def s5_read_reply(s, what="SOCKS5 reply"):
    """Returns (rep, atyp, addr-string, port); checks VER and RSV."""
    ver, rep, rsv, atyp = recv_exact(s, 4, what)
    expect_eq(5, ver, f"{what} VER")
    expect_eq(0, rsv, f"{what} RSV")
    if atyp == 1:
        addr = str(ipaddress.IPv4Address(recv_exact(s, 4, what)))
    elif atyp == 4:
        addr = str(ipaddress.IPv6Address(recv_exact(s, 16, what)))
    elif atyp == 3:
        n = recv_exact(s, 1, what)[0]
        addr = recv_exact(s, n, what).decode("latin-1")
    else:
        raise AssertionError(f"{what}: invalid ATYP {atyp} in the reply")
    (port,) = struct.unpack(">H", recv_exact(s, 2, what))
    return rep, atyp, addr, port


def s5_greet(s, methods=(0,)):
    s.sendall(bytes([5, len(methods)]) + bytes(methods))
    ver, method = recv_exact(s, 2, "SOCKS5 method selection")
    expect_eq(5, ver, "SOCKS5 method selection VER")
    return method


def s5_userpass(s, user, password):
    u, p = user.encode(), password.encode()
    s.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    ver, status = recv_exact(s, 2, "RFC 1929 reply")
    expect_eq(1, ver, "RFC 1929 reply VER")
    return status


def socks5_connect(proxy_port, host, port, user=None, password=None,
                   timeout=TIMEOUT):
    """Handshake through CONNECT; returns (socket, (rep, atyp, addr, port))."""
    s = connect("127.0.0.1", proxy_port, timeout)
    if user is None:
        expect_eq(0, s5_greet(s, (0,)), "SOCKS5 method")
    else:
        expect_eq(2, s5_greet(s, (0, 2)), "SOCKS5 method (user/pass)")
        expect_eq(0, s5_userpass(s, user, password), "RFC 1929 status")
    s.sendall(s5_request(1, host, port))
    return s, s5_read_reply(s)


def open_socks5_tunnel(proxy_port, host, port, **kw):
    s, rep = socks5_connect(proxy_port, host, port, **kw)
    expect_eq(0, rep[0], f"SOCKS5 REP for {host}:{port} (reply {rep!r})")
    return s


# --- SOCKS4 ------------------------------------------------------------------

def s4_request(host, port, userid=b"", cmd=1):
    """SOCKS4 (IPv4 host) or SOCKS4a (a name) request."""
    try:
        ip = ipaddress.IPv4Address(host)
        return (struct.pack(">BBH", 4, cmd, port) + ip.packed + userid +
                b"\0")
    except ValueError:
        return (struct.pack(">BBH", 4, cmd, port) + b"\0\0\0\x01" + userid +
                b"\0" + host.encode() + b"\0")


def s4_read_reply(s):
    """Returns (vn, cd, port, ip)."""
    b = recv_exact(s, 8, "SOCKS4 reply")
    vn, cd, port = struct.unpack(">BBH", b[:4])
    return vn, cd, port, str(ipaddress.IPv4Address(b[4:]))


def open_tunnel(kind, proxy_port, host, port, server_first=False, **kw):
    if kind == "http":
        return open_http_tunnel(proxy_port, host, port, server_first, **kw)
    if kind == "socks5":
        return open_socks5_tunnel(proxy_port, host, port, **kw)
    if kind == "socks4":
        s = connect("127.0.0.1", proxy_port)
        s.sendall(s4_request(host, port))
        vn, cd, _, _ = s4_read_reply(s)
        expect_eq((0, 90), (vn, cd), "SOCKS4 VN, CD")
        return s
    raise ValueError(kind)


# --- deterministic streams ---------------------------------------------------

class Stream:
    """A reproducible byte stream: a random block (size coprime with the
    chunk sizes) cycled, so lost, duplicated or reordered chunks change the
    hash.  seed picks the block."""

    BLOCK = (1 << 20) + 4093

    def __init__(self, seed):
        block = random.Random(seed).randbytes(self.BLOCK)
        self.buf = memoryview(block + block)
        self.off = 0

    def take(self, n):
        n = min(n, self.BLOCK)
        out = self.buf[self.off:self.off + n]
        self.off = (self.off + n) % self.BLOCK
        return out


def send_stream(s, seed, total, chunk=256 * 1024, pace=None):
    """Send total bytes of Stream(seed); returns sha256 hex.  pace: seconds
    to spread the sending over."""
    st, h, sent = Stream(seed), hashlib.sha256(), 0
    t0 = time.monotonic()
    while sent < total:
        part = st.take(min(chunk, total - sent))
        s.sendall(part)
        h.update(part)
        sent += len(part)
        if pace:
            ahead = t0 + pace * sent / total - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    return h.hexdigest()


def recv_hash(s, limit=None):
    """Read until EOF; returns (count, sha256 hex)."""
    h, n = hashlib.sha256(), 0
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    while True:
        k = s.recv_into(buf)
        if k == 0:
            return n, h.hexdigest()
        h.update(mv[:k])
        n += k
        if limit is not None and n > limit:
            raise AssertionError(f"received more than {limit} bytes")


def stream_sha(seed, total):
    st, h, done = Stream(seed), hashlib.sha256(), 0
    while done < total:
        part = st.take(min(1 << 20, total - done))
        h.update(part)
        done += len(part)
    return h.hexdigest()


# --- half-close through a proxy ----------------------------------------------

HALFCLOSE_UP = 2_500_000    # bytes the client sends
HALFCLOSE_DOWN = 3_000_000  # bytes the halfclose servers send (--bytes)


def _status_line(s):
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        expect(c, f"EOF inside the status line {line!r}")
        line += c
    return line.decode().split()


def halfclose_client_first(kind, port, cf):
    """Against `halfclose --mode client-first --pace 1.5` at cf: send, shut
    down our write side, then get the server's whole paced answer."""
    up, down = HALFCLOSE_UP, HALFCLOSE_DOWN
    s = open_tunnel(kind, port, "127.0.0.1", cf)
    s.settimeout(20)
    sent_sha = send_stream(s, 7, up)
    s.shutdown(socket.SHUT_WR)
    t = time.monotonic()
    word, n, sha = _status_line(s)
    expect_eq(("GOT", up, sent_sha), (word, int(n), sha),
              f"{kind} client-first: what the server got before EOF")
    n, sha = recv_hash(s)
    secs = time.monotonic() - t
    expect_eq((down, stream_sha(2, down)), (n, sha),
              f"{kind} client-first: bytes after our shutdown(SHUT_WR)")
    expect(secs > 1.0, f"{kind}: paced reply arrived in {secs:.2f}s?")
    s.close()
    print(f"ok: {kind} client-first: {up} up, then {n} down over {secs:.1f}s")


def halfclose_server_first(kind, port, sf, sf_log):
    """Against `halfclose --mode server-first` at sf (stdout in sf_log):
    read to the server's EOF, then keep sending; the server gets it all."""
    up, down = HALFCLOSE_UP, HALFCLOSE_DOWN
    before = open(sf_log).read().count("GOT ")
    s = open_tunnel(kind, port, "127.0.0.1", sf, server_first=True)
    s.settimeout(20)
    n, sha = recv_hash(s)
    expect_eq((down, stream_sha(2, down)), (n, sha),
              f"{kind} server-first: bytes before the server's EOF")
    # Our side is still open: keep sending after the EOF, slowly.
    sent_sha = send_stream(s, 9, up, chunk=65536, pace=1.0)
    s.shutdown(socket.SHUT_WR)
    # The server closes once it read our EOF.
    expect_eq(b"", recv_until_eof(s), f"{kind}: data after EOF")
    s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [l for l in open(sf_log).read().splitlines()
                 if l.startswith("GOT ")]
        if len(lines) > before:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"{kind} server-first: server never saw EOF")
    _, n, sha = lines[before].split()
    expect_eq((up, sent_sha), (int(n), sha),
              f"{kind} server-first: what the server got after its EOF")
    print(f"ok: {kind} server-first: {down} down, then {up} up")


# --- servers -----------------------------------------------------------------

# Ports come from below the kernel's ephemeral range, so that no
# outgoing connect() on the machine can take a port between our check and
# the bind of the program we give it to (and a range exhausted by
# TIME_WAIT sockets does not matter).
PORT_RANGE = (20000, 32000)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError):
        return 32768


def _bindable(port):
    """Free for TCP on 127.0.0.1 and ::1 and for UDP on 127.0.0.1."""
    tries = [(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
             (socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
             (socket.AF_INET6, socket.SOCK_STREAM, "::1")]
    socks = []
    try:
        for fam, typ, host in tries:
            s = socket.socket(fam, typ)
            socks.append(s)
            s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def pick_ports(n):
    lo, hi = PORT_RANGE
    hi = min(hi, _ephemeral_low() - 1)
    rnd = random.SystemRandom()
    out = []
    for _ in range(2000):
        p = rnd.randint(lo, hi)
        if p not in out and _bindable(p):
            out.append(p)
            if len(out) == n:
                return out
    raise SystemExit(f"could not find {n} free loopback ports in {lo}-{hi}")


def listen(host, backlog=128):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    rnd = random.SystemRandom()
    lo, hi = PORT_RANGE
    for _ in range(2000):
        ls = socket.socket(fam, socket.SOCK_STREAM)
        try:
            ls.bind((host, rnd.randint(lo, hi)))
        except OSError:
            ls.close()
            continue
        ls.listen(backlog)
        return ls
    raise SystemExit(f"no free port on {host} in {lo}-{hi}")


def announce(ls):
    report(f"PORT {ls.getsockname()[1]}")


def serve_forever(ls, handler):
    while True:
        c, peer = ls.accept()
        c.settimeout(60)
        threading.Thread(target=_guard, args=(handler, c, peer),
                         daemon=True).start()


def _guard(handler, c, peer):
    try:
        handler(c, peer)
    except Exception as e:  # logged, the test's client sees the effect
        log(f"handler for {peer}: {e!r}")
    finally:
        c.close()


def serve_echo(args):
    ls = listen(args.host)
    announce(ls)

    def handle(c, peer):
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
        c.shutdown(socket.SHUT_WR)
        log(f"echo {peer}: done")

    serve_forever(ls, handle)


def serve_blackhole(args):
    """listen(0) then fill the accept queue with connections never accepted:
    further SYNs to the port are dropped, so a connect() hangs until its
    own timeout."""
    ls = listen("127.0.0.1", backlog=0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(2):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
        time.sleep(0.05)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
        log("blackhole: a probe connect succeeded; the trick does not work")
        sys.exit(3)
    except socket.timeout:
        pass
    probe.close()
    announce(ls)
    while True:
        time.sleep(3600)


def serve_halfclose(args):
    """mode client-first: read until EOF, then send a line
    "GOT <n> <sha256>\\n" and --bytes of Stream(2) spread over --pace
    seconds, then close.
    mode server-first: send --bytes of Stream(2), shutdown(SHUT_WR), then
    read until EOF and print "GOT <n> <sha256>" on stdout."""
    ls = listen(args.host)
    announce(ls)

    def handle(c, peer):
        if args.mode == "client-first":
            n, sha = recv_hash(c)
            log(f"halfclose {peer}: EOF after {n} bytes")
            c.sendall(f"GOT {n} {sha}\n".encode())
            send_stream(c, 2, args.bytes, chunk=16384, pace=args.pace)
            c.shutdown(socket.SHUT_WR)
            # Wait for the client to close so nothing is cut short.
            c.settimeout(30)
            c.recv(1)
        else:
            send_stream(c, 2, args.bytes, chunk=16384, pace=args.pace)
            c.shutdown(socket.SHUT_WR)
            n, sha = recv_hash(c)
            report(f"GOT {n} {sha}")

    serve_forever(ls, handle)


def serve_blast(args):
    """The client first sends 8 bytes: the number of bytes it wants back.
    The server then sends that many of Stream(seed=2) while reading the
    client's bytes until EOF, and prints
    "DONE recv=<n> recv_sha=<h> sent=<n> sent_sha=<h> secs=<t>"."""
    ls = listen(args.host)
    announce(ls)

    def handle(c, peer):
        c.settimeout(120)
        (want,) = struct.unpack(">Q", recv_exact(c, 8, "blast header"))
        t0 = time.monotonic()
        res = {}

        def sender():
            res["sent_sha"] = send_stream(c, 2, want, chunk=1 << 20)
            c.shutdown(socket.SHUT_WR)

        th = threading.Thread(target=sender)
        th.start()
        n, sha = recv_hash(c)
        th.join(120)
        report(f"DONE recv={n} recv_sha={sha} sent={want} "
               f"sent_sha={res.get('sent_sha')} "
               f"secs={time.monotonic() - t0:.2f}")

    serve_forever(ls, handle)


def serve_paced(args):
    """Send --bytes of Stream(3) spread over --pace seconds, then close;
    print "SENT <n> <sha>"."""
    ls = listen(args.host)
    announce(ls)

    def handle(c, peer):
        sha = send_stream(c, 3, args.bytes, chunk=16384, pace=args.pace)
        c.shutdown(socket.SHUT_WR)
        report(f"SENT {args.bytes} {sha}")
        c.settimeout(30)
        c.recv(1)

    serve_forever(ls, handle)


def main():
    ap = argparse.ArgumentParser(prog="ftlib.py")
    ap.add_argument("server", choices=["echo", "blackhole", "halfclose",
                                       "blast", "paced"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--mode", default="client-first",
                    choices=["client-first", "server-first"])
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--pace", type=float, default=0.0)
    args = ap.parse_args()
    {"echo": serve_echo, "blackhole": serve_blackhole,
     "halfclose": serve_halfclose, "blast": serve_blast,
     "paced": serve_paced}[args.server](args)


if __name__ == "__main__":
    main()
