"""A UDP client for t_tproxy, run inside the client namespace; no proxy.

  tp_udp_client.py echo HOST PORT      two datagrams from one socket; each
                                       reply must echo it and come from
                                       (HOST, PORT); prints "OK <sport>"
  tp_udp_client.py dns HOST NAME ADDR  an A query for NAME to HOST:53; the
                                       answer must hold ADDR and come from
                                       (HOST, 53)
  tp_udp_client.py send HOST PORT      one datagram, no answer expected
Exit status 1 with a message on any mismatch or a 3 s silence.
"""
import ipaddress
import socket
import sys

from socks_udp_client import dns_addresses, dns_query


def sock_for(host):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(3)
    return s


def check_src(src, host, port):
    got = (str(ipaddress.ip_address(src[0])), src[1])
    want = (str(ipaddress.ip_address(host)), port)
    if got != want:
        sys.exit(f"reply from {got}, expected it from {want}")


def main():
    mode, host = sys.argv[1], sys.argv[2]
    s = sock_for(host)
    if mode == "echo":
        port = int(sys.argv[3])
        for i in range(2):
            msg = b"ferry-tproxy-%d" % i
            s.sendto(msg, (host, port))
            d, src = s.recvfrom(65536)
            if d != msg:
                sys.exit(f"echo {i}: got {d!r}, sent {msg!r}")
            check_src(src, host, port)
        print(f"OK {s.getsockname()[1]}")
    elif mode == "dns":
        name, want = sys.argv[3], sys.argv[4]
        s.sendto(dns_query(0x4242, name, 1), (host, 53))
        d, src = s.recvfrom(65536)
        check_src(src, host, 53)
        got = dns_addresses(d, 0x4242, 1)
        if want not in got:
            sys.exit(f"DNS {name}: got {got}, expected {want}")
        print(f"OK {s.getsockname()[1]}")
    elif mode == "send":
        s.sendto(b"x", (host, int(sys.argv[3])))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    try:
        main()
    except socket.timeout:
        sys.exit("no reply within 3 s")
