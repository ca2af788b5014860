"""t_acl_server: the counting HTTP server of t_acl.sh (python3, stdlib).

    python3 t_acl_server.py [--port N] HOST...

listens on HOST:N for every HOST given (one port for all; N picked by
ftlib when left out), prints "PORT n", then for every connection it
accepts prints "ACCEPT <local-ip> <peer>" (before reading anything, so a
connection counts even if nothing is sent) and answers one HTTP request
with 200 and the body "acl-ok <local-ip>\\n", then closes.  The test
counts the ACCEPT lines to prove that a denied target was never
connected to.
"""

import argparse
import socket
import sys
import threading

import ftlib


def handle(c, local):
    c.settimeout(5)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        body = f"acl-ok {local}\n".encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                  b"Connection: close\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\n\r\n" + body)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)  # the client's close (bounded by the timeout)
    except OSError:
        pass
    finally:
        c.close()


def serve(ls):
    while True:
        c, peer = ls.accept()
        local = c.getsockname()[0]
        print(f"ACCEPT {local} {peer[0]}:{peer[1]}", flush=True)
        threading.Thread(target=handle, args=(c, local), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("hosts", nargs="+")
    a = ap.parse_args()
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
    print(f"PORT {port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
