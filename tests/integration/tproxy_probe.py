"""tproxy_probe: both ends of a transparent-proxy check (t_tproxy_rules).

  server PORT        a TPROXY listener on [::]:PORT (TCP and UDP, one
                     dual-stack socket each, IP_TRANSPARENT and
                     IPV6_TRANSPARENT, IP_RECVORIGDSTADDR and
                     IPV6_RECVORIGDSTADDR); prints "PORT n", then answers
                     every connection / datagram with "orig=ADDR:PORT",
                     UDP from a transparent socket bound to that address
  plain PORT         an ordinary server on [::]:PORT that answers "direct"
  client tcp|udp HOST PORT
                     prints the first line it gets back, or "ERR ..."

Python stdlib only; the option numbers are the kernel's (linux/in.h,
linux/in6.h).
"""
import select
import socket
import struct
import sys

IP_TRANSPARENT = 19
IP_RECVORIGDSTADDR = 20
IPV6_RECVORIGDSTADDR = 74
IPV6_TRANSPARENT = 75
SOL_IPV6 = 41
SO_MARK = 36
MARK = 0x1F3  # ferry's own sockets: the rules let these out


def transparent(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    s.setsockopt(SOL_IPV6, IPV6_TRANSPARENT, 1)
    if kind == socket.SOCK_DGRAM:
        s.setsockopt(socket.SOL_IP, IP_RECVORIGDSTADDR, 1)
        s.setsockopt(SOL_IPV6, IPV6_RECVORIGDSTADDR, 1)
    s.bind(("::", port))
    return s


def unmap(ip):
    return ip[7:] if ip.startswith("::ffff:") and "." in ip else ip


def origdst(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_IP and kind == IP_RECVORIGDSTADDR:
            port, = struct.unpack("!H", data[2:4])
            return socket.AF_INET, socket.inet_ntop(socket.AF_INET,
                                                    data[4:8]), port
        if level == SOL_IPV6 and kind == IPV6_RECVORIGDSTADDR:
            port, = struct.unpack("!H", data[2:4])
            return socket.AF_INET6, socket.inet_ntop(socket.AF_INET6,
                                                     data[8:24]), port
    return None


def answer_udp(u):
    _, anc, _, peer = u.recvmsg(2048, 1024)
    od = origdst(anc)
    if od is None:
        print("udp datagram without original destination", flush=True)
        return
    family, ip, port = od
    r = socket.socket(family, socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    r.setsockopt(socket.SOL_SOCKET, SO_MARK, MARK)
    if family == socket.AF_INET:
        r.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    else:
        r.setsockopt(SOL_IPV6, IPV6_TRANSPARENT, 1)
    r.bind((ip, port))
    msg = "orig=%s:%d" % (ip, port)
    print("udp", msg, flush=True)
    r.sendto((msg + "\n").encode(), (unmap(peer[0]), peer[1]))
    r.close()


def server(port):
    t = transparent(socket.SOCK_STREAM, port)
    t.listen(16)
    u = transparent(socket.SOCK_DGRAM, port)
    print("PORT", port, flush=True)
    while True:
        ready, _, _ = select.select([t, u], [], [])
        if t in ready:
            c, _ = t.accept()
            ip, p = c.getsockname()[:2]
            msg = "orig=%s:%d" % (unmap(ip), p)
            print("tcp", msg, flush=True)
            c.sendall((msg + "\n").encode())
            c.close()
        if u in ready:
            answer_udp(u)


def plain(port):
    t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    t.bind(("::", port))
    t.listen(16)
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.bind(("::", port))
    print("PORT", port, flush=True)
    while True:
        ready, _, _ = select.select([t, u], [], [])
        if t in ready:
            c, _ = t.accept()
            c.sendall(b"direct\n")
            c.close()
        if u in ready:
            _, peer = u.recvfrom(2048)
            u.sendto(b"direct\n", peer)


def client(proto, host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family, kind)
    s.settimeout(3)
    try:
        if proto == "tcp":
            s.connect((host, port))
            data = s.recv(200)
        else:
            s.sendto(b"probe", (host, port))
            data = s.recv(200)
        print(data.decode().strip())
    except OSError as e:
        print("ERR", type(e).__name__, e)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    elif sys.argv[1] == "plain":
        plain(int(sys.argv[2]))
    else:
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]))
