"""socks_udp_client: a SOCKS5 UDP ASSOCIATE client for ferry's tests
(python3, stdlib only).

Two uses (t_socks_udp.sh runs both):

  python3 socks_udp_client.py echo-server [--host H]
      a UDP echo server on H (default 127.0.0.1), port chosen by the
      kernel; prints "PORT n", then echoes every datagram until killed and
      prints "GOT <source> <length>" for each.

  python3 socks_udp_client.py check --proxy HOST:PORT [--user U
          --password P] [--hint] STEP...
      SOCKS5 greeting (RFC 1929 login when --user is given), UDP ASSOCIATE
      (DST 0.0.0.0:0, or with --hint the client socket's own address),
      then runs each STEP in order against the association and exits
      non-zero (with a message naming the step) on the first mismatch.

Steps (TARGET is IP:PORT, [IPv6]:PORT or NAME:PORT; SRC is what a reply
from a name target must name: ferry answers with the address the reply
came from, or with the name itself when the target was reached through a
tunnel, which resolves names at its exit):
  echo:TARGET[=SRC]        a datagram to an echo server comes back whole,
                           with RSV 0, FRAG 0 and the target (or SRC, same
                           port) as its source
  dns:TARGET:QNAME=IP[=SRC]
                           a DNS query (A, or AAAA when IP is IPv6) for
                           QNAME sent to the server TARGET answers IP
  frag:TARGET              a datagram with FRAG=1 gets no answer
  stranger:TARGET          a datagram from another UDP socket (another
                           source port) gets no answer on either socket
  close                    close the control TCP connection (the
                           association must end)
  silent:TARGET            a well-formed datagram gets no answer
"""

import argparse
import ipaddress
import os
import random
import socket
import struct
import sys
import time

TIMEOUT = 10.0      # TCP handshake
REPLY_WAIT = 3.0    # a datagram that must be answered
SILENCE_WAIT = 1.0  # a datagram that must not be


class Mismatch(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Mismatch(msg)


def expect_eq(expected, got, what):
    if expected != got:
        raise Mismatch(f"{what}: expected {expected!r}, got {got!r}")


# --- SOCKS5 addresses and the UDP header (RFC 1928 sections 5 and 7) ------

def s5_addr(host):
    """ATYP + DST.ADDR for an IPv4, IPv6 or domain host."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        b = host.encode()
        return bytes([3, len(b)]) + b
    return (b"\x01" if ip.version == 4 else b"\x04") + ip.packed


def udp_header(host, port, frag=0):
    return bytes([0, 0, frag]) + s5_addr(host) + struct.pack(">H", port)


def parse_udp_header(d, what):
    """(frag, host, port, payload) of a datagram from the relay."""
    expect(len(d) >= 4, f"{what}: datagram of {len(d)} bytes from the relay")
    expect_eq(b"\0\0", d[:2], f"{what}: RSV")
    atyp, off = d[3], 4
    if atyp == 1:
        host, off = str(ipaddress.IPv4Address(d[4:8])), 8
    elif atyp == 4:
        host, off = str(ipaddress.IPv6Address(d[4:20])), 20
    elif atyp == 3:
        n = d[4]
        host, off = d[5:5 + n].decode("latin-1"), 5 + n
    else:
        raise Mismatch(f"{what}: ATYP {atyp} in a reply header")
    expect(len(d) >= off + 2, f"{what}: truncated reply header")
    (port,) = struct.unpack(">H", d[off:off + 2])
    return d[2], host, port, d[off + 2:]


def split_target(s):
    """'1.2.3.4:53', '[::1]:53', 'name:53' -> (host, port)."""
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        expect(rest.startswith(":"), f"bad target {s!r}")
        return host, int(rest[1:])
    host, _, port = s.rpartition(":")
    expect(host != "", f"bad target {s!r}")
    return host, int(port)


# --- the control connection -----------------------------------------------

def recv_exact(s, n, what):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise Mismatch(f"{what}: connection closed after {len(buf)} "
                           f"of {n} bytes")
        buf += chunk
    return buf


def read_reply(s):
    """VER REP RSV ATYP BND.ADDR BND.PORT -> (rep, host, port)."""
    ver, rep, rsv, atyp = recv_exact(s, 4, "UDP ASSOCIATE reply")
    expect_eq(5, ver, "reply VER")
    expect_eq(0, rsv, "reply RSV")
    if atyp == 1:
        host = str(ipaddress.IPv4Address(recv_exact(s, 4, "BND.ADDR")))
    elif atyp == 4:
        host = str(ipaddress.IPv6Address(recv_exact(s, 16, "BND.ADDR")))
    else:
        raise Mismatch(f"reply ATYP {atyp} (want an IP address)")
    (port,) = struct.unpack(">H", recv_exact(s, 2, "BND.PORT"))
    return rep, host, port


def greet(s, user, password):
    methods = b"\x00" if user is None else b"\x02"
    s.sendall(b"\x05" + bytes([len(methods)]) + methods)
    ver, method = recv_exact(s, 2, "method selection")
    expect_eq((5, methods[0]), (ver, method), "VER, METHOD")
    if user is None:
        return
    u, p = user.encode(), password.encode()
    s.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    expect_eq(b"\x01\x00", recv_exact(s, 2, "RFC 1929 reply"),
              "RFC 1929 VER, STATUS")


class Assoc:
    """The control connection, the client's UDP socket, the relay."""

    def __init__(self, proxy, user, password, hint):
        host, port = split_target(proxy)
        self.ctl = socket.create_connection((host, port), timeout=TIMEOUT)
        fam = self.ctl.family
        self.udp = socket.socket(fam, socket.SOCK_DGRAM)
        # the client's UDP socket on the IP its control connection uses
        self.udp.bind((self.ctl.getsockname()[0], 0))
        greet(self.ctl, user, password)
        dst = ("0.0.0.0", 0) if fam == socket.AF_INET else ("::", 0)
        if hint:
            dst = self.udp.getsockname()[:2]
        self.ctl.sendall(b"\x05\x03\x00" + s5_addr(dst[0]) +
                         struct.pack(">H", dst[1]))
        rep, bhost, bport = read_reply(self.ctl)
        expect(rep == 0, f"UDP ASSOCIATE refused: REP 0x{rep:02x}"
               + (" (a ferry without UDP ASSOCIATE answers 0x07)"
                  if rep == 7 else ""))
        expect(bport != 0, "BND.PORT is 0")
        if ipaddress.ip_address(bhost).is_unspecified:
            bhost = host  # RFC 1928: use the server's address
        self.relay = (bhost, bport)
        print(f"ok: UDP ASSOCIATE: relay {bhost}:{bport}, client "
              f"{self.udp.getsockname()[0]}:{self.udp.getsockname()[1]}"
              f"{' (hinted)' if hint else ''}", flush=True)

    def send(self, host, port, payload, frag=0, sock=None):
        (sock or self.udp).sendto(udp_header(host, port, frag) + payload,
                                  self.relay)

    def recv(self, wait, sock=None):
        """A datagram from the relay within wait seconds, or None."""
        s = sock or self.udp
        s.settimeout(wait)
        try:
            d, src = s.recvfrom(65536)
        except socket.timeout:
            return None
        except ConnectionRefusedError:  # ICMP port unreachable
            return None
        expect_eq(self.relay[1], src[1], "reply's UDP source port")
        return d


# --- DNS (RFC 1035), just enough for one question -------------------------

def dns_query(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # RD, QDCOUNT 1
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def skip_name(d, off):
    while True:
        expect(off < len(d), "DNS answer: truncated name")
        n = d[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n == 0:
            return off + 1
        off += 1 + n


def dns_addresses(d, qid, qtype):
    """The addresses of type qtype in the answer section."""
    expect(len(d) >= 12, "DNS answer shorter than its header")
    rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", d[:12])
    expect_eq(qid, rid, "DNS ID")
    expect(flags & 0x8000, "DNS answer without QR")
    expect_eq(0, flags & 0xF, "DNS RCODE")
    off = 12
    for _ in range(qd):
        off = skip_name(d, off) + 4
    out = []
    for _ in range(an):
        off = skip_name(d, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", d[off:off + 10])
        rdata = d[off + 10:off + 10 + rdlen]
        off += 10 + rdlen
        if rtype == qtype:
            out.append(str(ipaddress.ip_address(rdata)))
    return out


# --- steps ----------------------------------------------------------------

def same_host(want, got):
    """An address equals its other spellings; a name (the source of a reply
    through a tunnel, which resolves at its exit) equals itself."""
    try:
        return ipaddress.ip_address(want) == ipaddress.ip_address(got)
    except ValueError:
        return want.lower() == got.lower()


def reply_for(a, host, port, want_src, what):
    d = a.recv(REPLY_WAIT)
    expect(d is not None, f"{what}: no reply within {REPLY_WAIT}s")
    frag, shost, sport, payload = parse_udp_header(d, what)
    expect_eq(0, frag, f"{what}: FRAG")
    expect(same_host(want_src, shost),
           f"{what}: source {shost!r} in the header, expected {want_src!r}")
    expect_eq(port, sport, f"{what}: source port in the header")
    return payload


def step_echo(a, arg):
    target, _, want_src = arg.partition("=")
    host, port = split_target(target)
    payload = os.urandom(random.randint(1, 1200))
    a.send(host, port, payload)
    got = reply_for(a, host, port, want_src or host, f"echo {target}")
    expect_eq(payload, got, f"echo {target}: payload")
    print(f"ok: echo via {target} ({len(payload)} bytes)", flush=True)


def step_dns(a, arg):
    parts = arg.split("=")
    expect(len(parts) in (2, 3), f"bad dns step {arg!r}")
    target, _, qname = parts[0].rpartition(":")
    want = parts[1]
    host, port = split_target(target)
    qtype = 28 if ipaddress.ip_address(want).version == 6 else 1
    qid = random.randint(1, 0xFFFF)
    a.send(host, port, dns_query(qid, qname, qtype))
    what = f"dns {qname} via {target}"
    ans = reply_for(a, host, port, parts[2] if len(parts) == 3 else host,
                    what)
    addrs = dns_addresses(ans, qid, qtype)
    expect(ipaddress.ip_address(want) in map(ipaddress.ip_address, addrs),
           f"{what}: answer {addrs}, want {want}")
    print(f"ok: {what} -> {', '.join(addrs)}", flush=True)


def expect_silence(a, what, socks):
    for s in socks:
        d = a.recv(SILENCE_WAIT, s)
        if d is not None:
            raise Mismatch(f"{what}: got an answer {d[:40]!r}, expected "
                           "none")


def step_frag(a, arg):
    host, port = split_target(arg)
    a.send(host, port, b"fragment", frag=1)
    expect_silence(a, f"FRAG=1 to {arg}", [a.udp])
    print(f"ok: FRAG=1 datagram to {arg} not answered", flush=True)


def step_stranger(a, arg):
    host, port = split_target(arg)
    other = socket.socket(a.udp.family, socket.SOCK_DGRAM)
    other.bind((a.udp.getsockname()[0], 0))
    a.send(host, port, b"from another port", sock=other)
    # Relayed, its answer would go to the learned address: watch both.
    expect_silence(a, f"another source port to {arg}", [other, a.udp])
    other.close()
    print(f"ok: datagram from another source port to {arg} not relayed",
          flush=True)


def step_close(a, arg):
    a.ctl.close()
    time.sleep(0.3)  # let ferry see the EOF and end the association
    print("ok: control connection closed", flush=True)


def step_silent(a, arg):
    host, port = split_target(arg)
    a.send(host, port, b"anyone there?")
    expect_silence(a, f"datagram to {arg}", [a.udp])
    print(f"ok: datagram to {arg} not answered", flush=True)


STEPS = {"echo": step_echo, "dns": step_dns, "frag": step_frag,
         "stranger": step_stranger, "close": step_close,
         "silent": step_silent}


def check(args):
    a = Assoc(args.proxy, args.user, args.password, args.hint)
    for st in args.steps:
        name, _, arg = st.partition(":")
        expect(name in STEPS, f"unknown step {st!r}")
        STEPS[name](a, arg)
    return 0


# --- the echo server ------------------------------------------------------

def echo_server(args):
    fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((args.host, args.port))
    print(f"PORT {s.getsockname()[1]}", flush=True)
    while True:
        d, src = s.recvfrom(65536)
        print(f"GOT {src[0]}:{src[1]} {len(d)}", flush=True)
        s.sendto(d, src)


def main():
    ap = argparse.ArgumentParser(prog="socks_udp_client.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo-server")
    e.add_argument("--host", default="127.0.0.1")
    e.add_argument("--port", type=int, default=0)
    c = sub.add_parser("check")
    c.add_argument("--proxy", required=True)
    c.add_argument("--user")
    c.add_argument("--password", default="")
    c.add_argument("--hint", action="store_true",
                   help="name the client's UDP address in the request")
    c.add_argument("steps", nargs="*")
    args = ap.parse_args()
    if args.cmd == "echo-server":
        return echo_server(args)
    try:
        return check(args)
    except (Mismatch, OSError) as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
