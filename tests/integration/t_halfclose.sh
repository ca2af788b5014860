# t_halfclose: half-close is propagated, never turned into a close, both
# ways, through HTTP CONNECT and SOCKS5 (and SOCKS4 on the mixed port):
#   client-first: the client sends, shuts down its write side; the server
#     reads to EOF, then keeps sending for ~1.5 s; the client gets it all.
#   server-first: the server sends and shuts down its write side; the
#     client reads to EOF, then keeps sending; the server gets it all.
source "$(dirname "$0")/lib.sh"

start_py hc-client-first halfclose --mode client-first --bytes 3000000 --pace 1.5
CF=$PY_PORT
start_py hc-server-first halfclose --mode server-first --bytes 3000000
SF=$PY_PORT
SF_LOG=$T/hc-server-first.out
P=$(free_port)
start_dnsmasq
start_ferry -L "mixed://127.0.0.1:$P" --dns "127.0.0.1:$DNS_PORT"

py - "$P" "$CF" "$SF" "$SF_LOG" <<'PY'
import socket, sys, time
import ftlib
from ftlib import expect, expect_eq

P, CF, SF = map(int, sys.argv[1:4])
SF_LOG = sys.argv[4]
UP = 2_500_000     # bytes the client sends
DOWN = 3_000_000   # bytes the servers send


def read_line(s):
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        expect(c, f"EOF inside the status line {line!r}")
        line += c
    return line.decode().split()


for kind in ("http", "socks5", "socks4"):
    # client-first
    s = ftlib.open_tunnel(kind, P, "127.0.0.1", CF)
    s.settimeout(20)
    sent_sha = ftlib.send_stream(s, 7, UP)
    s.shutdown(socket.SHUT_WR)
    t = time.monotonic()
    word, n, sha = read_line(s)
    expect_eq(("GOT", UP, sent_sha), (word, int(n), sha),
              f"{kind} client-first: what the server got before EOF")
    n, sha = ftlib.recv_hash(s)
    secs = time.monotonic() - t
    expect_eq((DOWN, ftlib.stream_sha(2, DOWN)), (n, sha),
              f"{kind} client-first: bytes after our shutdown(SHUT_WR)")
    expect(secs > 1.0, f"{kind}: paced reply arrived in {secs:.2f}s?")
    s.close()
    print(f"ok: {kind} client-first: {UP} up, then {n} down over {secs:.1f}s")

    # server-first
    before = open(SF_LOG).read().count("GOT ")
    s = ftlib.open_tunnel(kind, P, "127.0.0.1", SF, server_first=True)
    s.settimeout(20)
    n, sha = ftlib.recv_hash(s)
    expect_eq((DOWN, ftlib.stream_sha(2, DOWN)), (n, sha),
              f"{kind} server-first: bytes before the server's EOF")
    # Our side is still open: keep sending after the EOF, slowly.
    sent_sha = ftlib.send_stream(s, 9, UP, chunk=65536, pace=1.0)
    s.shutdown(socket.SHUT_WR)
    # The server closes once it read our EOF.
    expect_eq(b"", ftlib.recv_until_eof(s), f"{kind}: data after EOF")
    s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [l for l in open(SF_LOG).read().splitlines()
                 if l.startswith("GOT ")]
        if len(lines) > before:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"{kind} server-first: server never saw EOF")
    _, n, sha = lines[before].split()
    expect_eq((UP, sent_sha), (int(n), sha),
              f"{kind} server-first: what the server got after its EOF")
    print(f"ok: {kind} server-first: {DOWN} down, then {UP} up")
PY

for proto in http socks5 socks4; do
    n=$(access_lines "$FERRY_ERR" | grep "proto=$proto " | grep -c "result=ok") || true
    assert_eq 2 "$n" "access-log lines with proto=$proto result=ok"
done
line=$(wait_access_line "$FERRY_ERR" "proto=socks5 .*target=127\.0\.0\.1:$SF ")
up=$(log_field "$line" up)
down=$(log_field "$line" down)
# Relayed bytes (a count that includes the SOCKS handshake is tolerated).
((up >= 2500000 && up <= 2500000 + 1024)) || fail "access log up=$up, expected 2500000"
((down >= 3000000 && down <= 3000000 + 1024)) || fail "access log down=$down, expected 3000000"
ferry_healthy
finish
