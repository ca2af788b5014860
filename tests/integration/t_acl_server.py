"""t_acl_server: the counting HTTP server of t_acl.sh (python3, stdlib).

    python3 t_acl_server.py [--port N] [--keepalive] HOST...

listens on HOST:N for every HOST given (one port for all; N picked by
ftlib when left out), prints "PORT n", then for every connection it
accepts prints "ACCEPT <local-ip> <peer>" (before reading anything, so a
connection counts even if nothing is sent).  It answers one HTTP request
with 200, "Connection: close" and the body "acl-ok <local-ip>\\n", then
closes: a proxy cannot keep the connection for another request, so every
request that reaches the server costs one accept.  With --keepalive it
answers every request on a connection, until one says "Connection:
close" or the client closes.  The test counts the ACCEPT lines to prove
that a denied target was never connected to.
"""

import argparse
import socket
import sys
import threading

import ftlib

KEEPALIVE = False


def handle(c, local):
    c.settimeout(10)
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d or len(buf) > 65536:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            close = (not KEEPALIVE or
                     b"\r\nconnection: close" in head.lower())
            body = f"acl-ok {local}\n".encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
                      (b"Connection: close\r\n" if close else b"") +
                      b"Content-Length: " + str(len(body)).encode() +
                      b"\r\n\r\n" + body)
            if close:
                c.shutdown(socket.SHUT_WR)
                c.recv(1)  # the client's close (bounded by the timeout)
                return
    except OSError:
        pass
    finally:
        c.close()


def serve(ls):
    while True:
        c, peer = ls.accept()
        local = c.getsockname()[0]
        ftlib.report(f"ACCEPT {local} {peer[0]}:{peer[1]}")
        threading.Thread(target=handle, args=(c, local), daemon=True).start()


def main():
    global KEEPALIVE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--keepalive", action="store_true")
    ap.add_argument("hosts", nargs="+")
    a = ap.parse_args()
    KEEPALIVE = a.keepalive
    port = a.port or ftlib.pick_ports(1)[0]
    socks = []
    for h in a.hosts:
        fam = socket.AF_INET6 if ":" in h else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((h, port))
        s.listen(64)
        socks.append(s)
    for s in socks:
        threading.Thread(target=serve, args=(s,), daemon=True).start()
    ftlib.report(f"PORT {port}")
    threading.Event().wait()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
