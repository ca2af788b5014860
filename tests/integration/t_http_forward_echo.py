"""t_http_forward_echo: an HTTP/1.1 origin for t_http_forward.sh (stdlib).

Prints "PORT n" once it listens on 127.0.0.1, then serves until killed.
Every request is answered with JSON describing exactly what arrived:

  {"method": ..., "path": ..., "version": ..., "headers": [[name, value],
   ...] (in order, names as sent), "body_b64": ..., "body_sha256": ...,
   "conn": n (this connection's number), "conn_requests": k (how many
   requests this connection has carried, this one included)}

and one line per request goes to stderr ("REQ conn=n k=k METHOD path").
Some paths misbehave on purpose:

  /flaky...      the 2nd and later request on a connection is not answered:
                 the connection is closed instead (an origin that timed out
                 a kept-alive connection just as the proxy reused it)
  /rst...        the same, but the connection is reset (RST, no FIN), as
                 an origin closing with unread input does
  /304cl         304 Not Modified carrying Content-Length: 10 (RFC 9110
                 8.6 allows it) and, of course, no body
  /204cl         204 No Content with Content-Length: 7, no body
  /until-close   200 without Content-Length or chunked: body until close
  /chunked       a chunked body with a chunk extension and a trailer
  /bighead       a response head of more than 16 KiB
  /garbage       bytes that are not HTTP, then close
  /slow-head     the head arrives in pieces, 0.2 s apart
  /103           103 Early Hints and the final 200 ("hinted") in one write
"""

import base64
import hashlib
import http.server
import itertools
import json
import socket
import struct
import sys
import threading
import time

_conn_ids = itertools.count(1)
_lock = threading.Lock()
_reset = set()  # id() of sockets to close with a reset


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def setup(self):
        super().setup()
        with _lock:
            self.conn_id = next(_conn_ids)
        self.conn_requests = 0

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            body = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline(3)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_raw(self, data, close=False):
        self.wfile.write(data)
        self.wfile.flush()
        if close:
            self.close_connection = True

    def handle_any(self):
        self.conn_requests += 1
        print(f"REQ conn={self.conn_id} k={self.conn_requests} "
              f"{self.command} {self.path}", file=sys.stderr, flush=True)
        body = self.read_body()
        path = self.path
        if path.startswith("/flaky") and self.conn_requests > 1:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if path.startswith("/rst") and self.conn_requests > 1:
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            with _lock:
                _reset.add(id(self.connection))
            return
        if path.startswith("/304cl"):
            self.send_raw(b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
                          b"Content-Length: 10\r\n\r\n")
            return
        if path.startswith("/204cl"):
            self.send_raw(b"HTTP/1.1 204 No Content\r\n"
                          b"Content-Length: 7\r\n\r\n")
            return
        if path.startswith("/until-close"):
            self.send_raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          b"Connection: close\r\n\r\n"
                          + b"until-close body\n" * 1000, close=True)
            return
        if path.startswith("/chunked"):
            self.send_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                          b"Trailer: X-Sum\r\n\r\n"
                          b"5;ext=1\r\nhello\r\n6\r\n world\r\n"
                          b"0\r\nX-Sum: 11\r\n\r\n")
            return
        if path.startswith("/bighead"):
            self.send_raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 20000 +
                          b"\r\nContent-Length: 2\r\n\r\nok")
            return
        if path.startswith("/garbage"):
            self.send_raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", close=True)
            return
        if path.startswith("/103"):
            self.send_raw(b"HTTP/1.1 103 Early Hints\r\n"
                          b"Link: </style.css>; rel=preload\r\n\r\n"
                          b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"
                          b"hinted")
            return
        if path.startswith("/slow-head"):
            for part in (b"HTTP/1.1 200 OK\r\nContent-", b"Length: 4\r\n",
                         b"X-Slow: 1\r\n\r", b"\nslow"):
                self.send_raw(part)
                time.sleep(0.2)
            return
        out = json.dumps({
            "method": self.command,
            "path": path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_b64": base64.b64encode(body).decode(),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "conn": self.conn_id,
            "conn_requests": self.conn_requests,
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a proxy dropping a connection is part of the tests
        super().handle_error(request, client_address)

    def shutdown_request(self, request):
        with _lock:
            rst = id(request) in _reset
            _reset.discard(id(request))
        if rst:
            request.close()  # SO_LINGER 0 and no shutdown(): a bare RST
            return
        super().shutdown_request(request)


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print(f"PORT {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
