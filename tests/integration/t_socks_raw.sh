# t_socks_raw: a raw SOCKS4/4a/5 client (python3 stdlib) checks the exact
# reply bytes: REP 0x00 with the bound address for IPv4, IPv6 and domain
# targets; 0x05 refused; 0x04 unresolvable; 0x06 connect timeout (ferry
# has a 1 s connect timeout, the target's accept queue is full); 0x07 for
# BIND and unknown commands; 0x08 for an unknown ATYP; method 0xFF and
# RFC 1929 failures; SOCKS4 CD 90/91.
source "$(dirname "$0")/lib.sh"

start_dnsmasq
start_py echo echo
ECHO=$PY_PORT
start_py echo6 echo --host ::1
ECHO6=$PY_PORT
start_py blackhole blackhole
HOLE=$PY_PORT
CLOSED=$(free_port) # nothing listens there
read -r SOCKS_P AUTH_P < <(free_ports 2 | xargs)
SECRET="pw-$RANDOM$RANDOM"

cat >"$T/ferry.yaml" <<EOF
timeouts:
  connect: 1s
dns:
  servers: [127.0.0.1:$DNS_PORT]
listeners:
  - name: s
    type: socks
    listen: 127.0.0.1:$SOCKS_P
  - name: s-auth
    type: socks
    listen: 127.0.0.1:$AUTH_P
    users:
      - name: alice
        password: $SECRET
EOF
start_ferry -c "$T/ferry.yaml"

# The blackhole really swallows SYNs here (direct, without ferry).
py - "$HOLE" <<'PY'
import socket, sys, time
t = time.monotonic()
s = socket.socket()
s.settimeout(1.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    raise SystemExit("a direct connect to the blackhole port succeeded")
except socket.timeout:
    pass
PY

py - "$SOCKS_P" "$AUTH_P" "$ECHO" "$ECHO6" "$CLOSED" "$HOLE" "$SECRET" <<'PY'
import socket, struct, sys, time
import ftlib
from ftlib import expect, expect_eq, recv_exact, s5_read_reply, s5_request

P, AUTH, ECHO, ECHO6, CLOSED, HOLE = map(int, sys.argv[1:7])
SECRET = sys.argv[7]


def greet(port, methods=(0,)):
    s = ftlib.connect("127.0.0.1", port)
    expect_eq(0, ftlib.s5_greet(s, methods), "method for no-auth listener")
    return s


def roundtrip(s, what):
    msg = f"ping {what}".encode()
    s.sendall(msg)
    expect_eq(msg, recv_exact(s, len(msg), what), f"{what}: echo")


# --- success: IPv4, IPv6, domain (A), domain (AAAA only) ---------------
for host, port, fam in (("127.0.0.1", ECHO, 1), ("::1", ECHO6, 4),
                        ("ok.ferry.test", ECHO, 1), ("v6.ferry.test", ECHO6, 4)):
    s = greet(P)
    s.sendall(s5_request(1, host, port))
    rep, atyp, addr, bport = s5_read_reply(s, f"reply for {host}")
    expect_eq(0, rep, f"REP for {host}:{port}")
    # BND.ADDR/PORT: the address ferry's outgoing socket is bound to.
    expect_eq(fam, atyp, f"BND ATYP for {host}")
    expect_eq("127.0.0.1" if fam == 1 else "::1", addr, f"BND.ADDR for {host}")
    expect(bport != 0, f"BND.PORT for {host} is 0")
    roundtrip(s, host)
    s.close()
    print(f"ok: REP 0x00 for {host}, BND {addr}:{bport}")

# --- a client that pipelines greeting, request and data in one send ----
s = ftlib.connect("127.0.0.1", P)
s.sendall(b"\x05\x01\x00" + s5_request(1, "127.0.0.1", ECHO) + b"early")
expect_eq(b"\x05\x00", recv_exact(s, 2), "method selection (pipelined)")
expect_eq(0, s5_read_reply(s)[0], "REP (pipelined)")
expect_eq(b"early", recv_exact(s, 5), "echo of pipelined data")
s.close()
print("ok: pipelined greeting+request+data")

# --- failures: exact REP, then the connection is closed ----------------
def failure(host, port, want_rep, what, max_secs=5.0):
    s = greet(P)
    t = time.monotonic()
    s.sendall(s5_request(1, host, port))
    rep, atyp, addr, bport = s5_read_reply(s, what)
    secs = time.monotonic() - t
    expect_eq(want_rep, rep, f"{what}: REP")
    expect(secs < max_secs, f"{what}: the reply took {secs:.1f}s")
    ftlib.expect_eof(s, what)
    print(f"ok: {what}: REP 0x{rep:02x} after {secs:.2f}s")
    return secs

failure("127.0.0.1", CLOSED, 0x05, "refused port")
failure("nx.ferry.test", ECHO, 0x04, "unresolvable name")
secs = failure("127.0.0.1", HOLE, 0x06, "connect timeout", max_secs=4.0)
expect(secs >= 0.8, f"connect timeout answered after {secs:.2f}s, before the 1s timeout")

# BIND (0x02) and an unknown command (0x09): REP 0x07.
for cmd in (2, 9):
    s = greet(P)
    s.sendall(s5_request(cmd, "127.0.0.1", ECHO))
    rep = s5_read_reply(s, f"CMD {cmd}")[0]
    expect_eq(0x07, rep, f"REP for CMD 0x{cmd:02x}")
    ftlib.expect_eof(s, f"CMD {cmd}")
    print(f"ok: CMD 0x{cmd:02x} -> REP 0x07")

# Unknown ATYP 0x05: REP 0x08 (ferry cannot know the address length).
s = greet(P)
s.sendall(bytes([5, 1, 0, 5]) + b"\x7f\x00\x00\x01" + struct.pack(">H", ECHO))
expect_eq(0x08, s5_read_reply(s, "ATYP 5")[0], "REP for ATYP 0x05")
ftlib.expect_eof(s, "ATYP 5")
print("ok: ATYP 0x05 -> REP 0x08")

# --- authentication -----------------------------------------------------
# Only "no auth" offered to a listener with users: method 0xFF, closed.
s = ftlib.connect("127.0.0.1", AUTH)
expect_eq(0xFF, ftlib.s5_greet(s, (0,)), "method when only 0x00 is offered")
ftlib.expect_eof(s, "after method 0xFF")
# Wrong password: RFC 1929 status != 0, then closed.
s = ftlib.connect("127.0.0.1", AUTH)
expect_eq(2, ftlib.s5_greet(s, (0, 2)), "method with users")
st = ftlib.s5_userpass(s, "alice", "x" + SECRET)
expect(st != 0, "wrong password accepted")
ftlib.expect_eof(s, "after a failed RFC 1929 login")
# Right password works.
s = ftlib.open_socks5_tunnel(AUTH, "ok.ferry.test", ECHO, user="alice",
                             password=SECRET)
roundtrip(s, "after RFC 1929 login")
s.close()
print("ok: SOCKS5 auth")

# --- SOCKS4 / 4a ----------------------------------------------------------
def s4(port, host, dport, userid=b""):
    s = ftlib.connect("127.0.0.1", port)
    s.sendall(ftlib.s4_request(host, dport, userid))
    return s, ftlib.s4_read_reply(s)

s, (vn, cd, _, _) = s4(P, "127.0.0.1", ECHO)
expect_eq((0, 90), (vn, cd), "SOCKS4 VN, CD (granted)")
roundtrip(s, "socks4")
s, (vn, cd, _, _) = s4(P, "ok.ferry.test", ECHO, b"someone")
expect_eq((0, 90), (vn, cd), "SOCKS4a VN, CD (granted)")
roundtrip(s, "socks4a")
for host, dport, what in (("127.0.0.1", CLOSED, "refused"),
                          ("nx.ferry.test", ECHO, "unresolvable"),
                          ("127.0.0.1", HOLE, "timeout")):
    s, (vn, cd, _, _) = s4(P, host, dport)
    expect_eq((0, 91), (vn, cd), f"SOCKS4 VN, CD ({what})")
    ftlib.expect_eof(s, f"SOCKS4 {what}")
# SOCKS4 BIND: not supported, CD 91.
s = ftlib.connect("127.0.0.1", P)
s.sendall(ftlib.s4_request("127.0.0.1", ECHO, cmd=2))
expect_eq(91, ftlib.s4_read_reply(s)[1], "SOCKS4 BIND CD")
# A listener with users refuses SOCKS4 (no password), even a known user id.
s, (vn, cd, _, _) = s4(AUTH, "127.0.0.1", ECHO, b"alice")
expect_eq((0, 91), (vn, cd), "SOCKS4 to a listener with users")
ftlib.expect_eof(s, "SOCKS4 to a listener with users")
print("ok: SOCKS4")

# --- garbage first byte: closed, no hang --------------------------------
s = ftlib.connect("127.0.0.1", P)
s.sendall(b"\x07\x01\x00")
s.settimeout(5)
try:
    extra = s.recv(100)
except ConnectionResetError:
    extra = b""
except socket.timeout:
    raise AssertionError("a first byte 0x07 got no reply and no close in 5s")
expect(extra in (b"", b"\x05\xff") or extra.startswith(b"\x00\x5b"),
       f"reply to version 7: {extra!r}")
print("ok: unknown version")
PY

# The access log names each failure.
line=$(wait_access_line "$FERRY_ERR" "proto=socks5 .*target=127\.0\.0\.1:$CLOSED ")
check_access_line "$line" result=refused listener=s
line=$(wait_access_line "$FERRY_ERR" "proto=socks5 .*target=nx\.ferry\.test:$ECHO ")
check_access_line "$line" result=dns_failure
line=$(wait_access_line "$FERRY_ERR" "proto=socks5 .*target=127\.0\.0\.1:$HOLE ")
check_access_line "$line" result=timeout
line=$(wait_access_line "$FERRY_ERR" "proto=socks4 .*target=127\.0\.0\.1:$CLOSED ")
check_access_line "$line" result=refused
assert_no_secret "$SECRET" "$FERRY_ERR" "$FERRY_OUT"
ferry_healthy
finish
