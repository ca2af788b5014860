"""t_http_forward_raw: a raw HTTP/1.1 client for t_http_forward.sh (stdlib).

Imported by the test's inline python.  A Conn sends exact bytes and reads
responses framed the way RFC 9112 6.3 says (HEAD, 1xx, 204, 304: no body;
chunked; Content-Length; else until close), so a proxy that frames a
message differently shows up as a wrong body, a hang (timeout) or bytes
left over.  Every read has a timeout.
"""

import socket
import time

TIMEOUT = 10.0


class Response:
    def __init__(self, status, reason, version, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # [(name, value)] in order
        self.body = body
        self.raw_head = raw_head

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name):
        v = self.all(name)
        return v[0] if v else None

    def __repr__(self):
        return (f"<{self.version} {self.status} {self.reason!r} "
                f"{self.headers!r} body[{len(self.body)}]="
                f"{self.body[:120]!r}>")


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        self.s.sendall(data)

    def _more(self, what):
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            raise AssertionError(f"timed out ({self.timeout}s) waiting for "
                                 f"{what}; have {self.buf[:300]!r}")
        except ConnectionResetError:
            d = b""
        if not d:
            raise EOFError(f"connection closed while waiting for {what}; "
                           f"have {self.buf[:300]!r}")
        self.buf += d

    def _line(self, what):
        while b"\r\n" not in self.buf:
            self._more(what)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n, what):
        while len(self.buf) < n:
            self._more(what)
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def response(self, method="GET", interim=False):
        """The next response.  1xx answers are skipped unless interim."""
        while True:
            while b"\r\n\r\n" not in self.buf:
                self._more("a response head")
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
            status = int(status)
            headers = []
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers.append((k, v.strip()))
            r = Response(status, reason, version, headers, b"", head)
            if 100 <= status < 200 and status != 101:
                if interim:
                    return r
                continue
            break
        te = (r.header("transfer-encoding") or "").lower()
        cl = r.header("content-length")
        if method == "HEAD" or status in (101, 204, 304):
            return r
        if "chunked" in te:
            body = bytearray()
            while True:
                size = int(self._line("a chunk size").split(b";")[0], 16)
                if size == 0:
                    while self._line("a trailer line") != b"":
                        pass
                    break
                body += self._exact(size, "chunk data")
                self._exact(2, "a chunk's CRLF")
            r.body = bytes(body)
        elif cl is not None:
            r.body = self._exact(int(cl), "the body")
        else:
            while True:
                try:
                    self._more("the body (until close)")
                except EOFError:
                    break
            r.body, self.buf = self.buf, b""
        return r

    def expect_closed(self, what, timeout=5.0):
        """The proxy must close the connection (nothing more arrives)."""
        self.s.settimeout(timeout)
        extra = self.buf
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    break
                extra += d
        except socket.timeout:
            raise AssertionError(f"{what}: still open after {timeout}s")
        except ConnectionResetError:
            pass
        if extra:
            raise AssertionError(f"{what}: unexpected bytes before the "
                                 f"close: {extra[:300]!r}")

    def close(self):
        self.s.close()


def get(host_port, path="/", extra="", method="GET", version="1.1"):
    """An absolute-form request head for http://host_port/path."""
    return (f"{method} http://{host_port}{path} HTTP/{version}\r\n"
            f"Host: {host_port}\r\n{extra}\r\n").encode()


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_eq(want, got, what):
    if want != got:
        raise AssertionError(f"{what}: expected {want!r}, got {got!r}")


def wait_for(pred, what, limit=5.0):
    end = time.monotonic() + limit
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {limit}s: {what}")
        time.sleep(0.05)
