"""t_acl_client: raw proxy clients for t_acl.sh (python3, stdlib; ftlib).

    python3 t_acl_client.py < CASES

Each line of CASES (blank lines and #-comments skipped) is one request,
sent byte for byte as written (no normalisation of the target, unlike
curl):

    KIND PROXY-PORT HOST PORT EXPECT [USER PASSWORD]

KIND    connect   HTTP CONNECT HOST:PORT (IPv6 HOST in brackets as given)
        get       HTTP GET http://HOST:PORT/ (absolute form, same Host)
        socks5    SOCKS5 CONNECT; HOST as ATYP 1 (IPv4 dotted quad),
                  ATYP 4 (IPv6, written without brackets) or else ATYP 3
        socks5d   SOCKS5 CONNECT, HOST always as ATYP 3 (a domain string,
                  e.g. "0x7f.0.0.2" or "::ffff:127.0.0.2")
        socks4    SOCKS4 (HOST a dotted quad) or SOCKS4a (anything else);
                  USER, when given, is sent as the user id
EXPECT  ok[:IP]   200 / REP 0x00 / CD 90, and through the tunnel (or the
                  forwarded request) the t_acl_server page "acl-ok IP"
                  (IP default 127.0.0.1)
        denied    403 / REP 0x02 / CD 91, then the proxy closes
        auth      407 (HTTP) / RFC 1929 status != 0 then close (SOCKS5) /
                  CD 91 (SOCKS4)
USER PASSWORD     Proxy-Authorization Basic (HTTP) / RFC 1929 (SOCKS5)

Prints one line per case ("ok ..." or "FAIL ...") and exits 1 if any case
failed.  Every socket has a timeout.
"""

import ipaddress
import socket
import struct
import sys

import ftlib
from ftlib import expect, expect_eq, recv_exact

GET = "GET / HTTP/1.1\r\nHost: {h}\r\nUser-Agent: t_acl\r\nConnection: close\r\n\r\n"


def auth_header(user, pw):
    return ftlib.basic_auth(user, pw) if user is not None else ""


def page_check(body, ip, what):
    want = f"acl-ok {ip}\n".encode()
    expect(body.endswith(want), f"{what}: expected the page {want!r}, got "
           f"{body[-200:]!r}")


def tunnel_page(s, host, ip, what, first=b""):
    """Send a GET through an open tunnel; the server's page must come."""
    s.sendall(GET.format(h=host).encode())
    s.settimeout(10)
    data = first + ftlib.recv_until_eof(s, 1 << 20)
    expect(data.startswith(b"HTTP/1.1 200"), f"{what}: tunnel response "
           f"{data[:100]!r}")
    page_check(data, ip, what)


def authority(host, port):
    return f"{host}:{port}"


def run_connect(pp, host, port, exp, ip, user, pw):
    s = ftlib.connect("127.0.0.1", pp)
    a = authority(host, port)
    s.sendall(f"CONNECT {a} HTTP/1.1\r\nHost: {a}\r\n"
              f"{auth_header(user, pw)}\r\n".encode())
    r = ftlib.read_http_response(s)
    what = f"CONNECT {a}"
    if exp == "ok":
        expect_eq(200, r.status, f"{what} status ({r!r})")
        tunnel_page(s, a, ip, what, r.rest)
    elif exp == "denied":
        expect_eq(403, r.status, f"{what} status ({r!r})")
        ftlib.expect_eof(s, what)
    else:
        expect_eq(407, r.status, f"{what} status ({r!r})")
    s.close()
    return r.status


def run_get(pp, host, port, exp, ip, user, pw):
    s = ftlib.connect("127.0.0.1", pp)
    a = authority(host, port)
    s.sendall(f"GET http://{a}/ HTTP/1.1\r\nHost: {a}\r\n"
              f"User-Agent: t_acl\r\nConnection: close\r\n"
              f"{auth_header(user, pw)}\r\n".encode())
    what = f"GET http://{a}/"
    r = ftlib.read_http_response(s, read_body=False)
    body = r.rest
    cl = r.header("content-length")
    expect(cl is not None, f"{what}: no Content-Length in {r!r}")
    if len(body) < int(cl):
        body += recv_exact(s, int(cl) - len(body), f"{what} body")
    if exp == "ok":
        expect_eq(200, r.status, f"{what} status ({r!r})")
        page_check(body, ip, what)
    elif exp == "denied":
        expect_eq(403, r.status, f"{what} status ({r!r} {body!r})")
        expect(b"acl-ok" not in body, f"{what}: the page came through")
    else:
        expect_eq(407, r.status, f"{what} status ({r!r})")
    s.close()
    return r.status


def s5_addr(host, force_domain):
    if not force_domain:
        try:
            ip = ipaddress.ip_address(host)
            return (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
        except ValueError:
            pass
    b = host.encode()
    return bytes([3, len(b)]) + b


def run_socks5(pp, host, port, exp, ip, user, pw, force_domain):
    s = ftlib.connect("127.0.0.1", pp)
    what = f"SOCKS5 {'ATYP 3 ' if force_domain else ''}{host}:{port}"
    if user is None:
        expect_eq(0, ftlib.s5_greet(s, (0,)), f"{what}: method")
    else:
        expect_eq(2, ftlib.s5_greet(s, (0, 2)), f"{what}: method")
        st = ftlib.s5_userpass(s, user, pw)
        if exp == "auth":
            expect(st != 0, f"{what}: RFC 1929 status 0 for a bad login")
            ftlib.expect_eof(s, what)
            s.close()
            return st
        expect_eq(0, st, f"{what}: RFC 1929 status")
    s.sendall(b"\x05\x01\x00" + s5_addr(host, force_domain) +
              struct.pack(">H", port))
    rep = ftlib.s5_read_reply(s, f"{what} reply")
    if exp == "ok":
        expect_eq(0, rep[0], f"{what}: REP (reply {rep!r})")
        tunnel_page(s, authority(host, port), ip, what)
    elif exp == "denied":
        expect_eq(2, rep[0], f"{what}: REP (reply {rep!r})")
        ftlib.expect_eof(s, what)
    else:
        raise AssertionError(f"{what}: expected an auth failure, got REP "
                             f"{rep!r}")
    s.close()
    return rep[0]


def run_socks4(pp, host, port, exp, ip, user):
    s = ftlib.connect("127.0.0.1", pp)
    what = f"SOCKS4 {host}:{port}"
    uid = user.encode() if user else b""
    try:
        ipaddress.IPv4Address(host)
        req = struct.pack(">BBH", 4, 1, port) + \
            ipaddress.IPv4Address(host).packed + uid + b"\0"
    except ValueError:
        what = f"SOCKS4a {host}:{port}"
        req = struct.pack(">BBH", 4, 1, port) + b"\0\0\0\x01" + uid + \
            b"\0" + host.encode() + b"\0"
    s.sendall(req)
    vn, cd, _, _ = ftlib.s4_read_reply(s)
    expect_eq(0, vn, f"{what}: VN")
    if exp == "ok":
        expect_eq(90, cd, f"{what}: CD")
        tunnel_page(s, authority(host, port), ip, what)
    else:
        expect_eq(91, cd, f"{what}: CD")
        ftlib.expect_eof(s, what)
    s.close()
    return cd


def run(line):
    f = line.split()
    if len(f) not in (5, 6, 7):
        raise AssertionError(f"bad case line {line!r}")
    kind, pp, host, port, exp = f[0], int(f[1]), f[2], int(f[3]), f[4]
    user = f[5] if len(f) > 5 else None
    pw = f[6] if len(f) > 6 else ""
    ip = "127.0.0.1"
    if exp.startswith("ok:"):
        exp, ip = "ok", exp[3:]
    if exp not in ("ok", "denied", "auth"):
        raise AssertionError(f"bad EXPECT in {line!r}")
    if kind == "connect":
        return run_connect(pp, host, port, exp, ip, user, pw)
    if kind == "get":
        return run_get(pp, host, port, exp, ip, user, pw)
    if kind in ("socks5", "socks5d"):
        return run_socks5(pp, host, port, exp, ip, user, pw,
                          kind == "socks5d")
    if kind == "socks4":
        return run_socks4(pp, host, port, exp, ip, user)
    raise AssertionError(f"unknown KIND in {line!r}")


def main():
    bad = 0
    for line in sys.stdin:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        shown = line
        f = line.split()
        if len(f) == 7:  # never print a password
            shown = " ".join(f[:6] + ["***"])
        try:
            got = run(line)
            print(f"ok   {shown} -> {got}", flush=True)
        except (AssertionError, OSError) as e:
            bad += 1
            print(f"FAIL {shown}: {e}", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
