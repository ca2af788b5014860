# t_bigtransfer: 1 GiB each way at once through HTTP CONNECT and through
# SOCKS5; sha256 of each direction computed at the sending and at the
# receiving end must agree, and the access log must count the bytes.
# The streams are generated (ftlib.Stream), nothing is stored on disk.
# FERRY_IT_BIG_BYTES overrides the size.
source "$(dirname "$0")/lib.sh"

BYTES=${FERRY_IT_BIG_BYTES:-1073741824}
start_dnsmasq
start_py blast blast
BLAST=$PY_PORT
P=$(free_port)
start_ferry -L "mixed://127.0.0.1:$P" --dns "127.0.0.1:$DNS_PORT" --workers 2

blast_done() { # N: the server reported N transfers
    local n
    n=$(grep -c '^DONE ' "$T/blast.out" || true)
    ((n >= $1))
}

run=0
for kind in http socks5; do
    run=$((run + 1))
    say "$kind: $BYTES bytes each way"
    t0=$(now_ms)
    client=$(PY_TIMEOUT=150 py - "$kind" "$P" "$BLAST" "$BYTES" <<'PY'
import socket, struct, sys, threading, time
import ftlib

kind, P, BLAST, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = ftlib.open_tunnel(kind, P, "ok.ferry.test", BLAST)
s.settimeout(120)
s.sendall(struct.pack(">Q", N))
res = {}


def sender():
    try:
        res["sent_sha"] = ftlib.send_stream(s, 1, N, chunk=1 << 20)
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        res["err"] = repr(e)


t = time.monotonic()
th = threading.Thread(target=sender)
th.start()
n, sha = ftlib.recv_hash(s)
th.join(120)
if "err" in res or th.is_alive():
    raise SystemExit(f"sending failed: {res.get('err', 'still running')}")
print(f"recv={n} recv_sha={sha} sent={N} sent_sha={res['sent_sha']} "
      f"secs={time.monotonic() - t:.2f}")
PY
    ) || fail "$kind: the transfer client failed"
    secs=$(($(now_ms) - t0))
    wait_until 30 "the blast server to report transfer $run" blast_done "$run"
    server=$(grep '^DONE ' "$T/blast.out" | sed -n "${run}p")
    say "client: $client"
    say "server: $server"
    c_recv=$(log_field "$client" recv)
    c_recv_sha=$(log_field "$client" recv_sha)
    c_sent_sha=$(log_field "$client" sent_sha)
    s_recv=$(log_field "$server" recv)
    s_recv_sha=$(log_field "$server" recv_sha)
    s_sent_sha=$(log_field "$server" sent_sha)
    assert_eq "$BYTES" "$s_recv" "$kind: bytes the server received"
    assert_eq "$BYTES" "$c_recv" "$kind: bytes the client received"
    assert_eq "$c_sent_sha" "$s_recv_sha" "$kind: sha256 client -> server"
    assert_eq "$s_sent_sha" "$c_recv_sha" "$kind: sha256 server -> client"
    assert_ne "$c_sent_sha" "$c_recv_sha" "$kind: the two directions must differ"
    line=$(wait_access_line "$FERRY_ERR" "proto=$kind .*target=ok\.ferry\.test:$BLAST ")
    check_access_line "$line" result=ok
    up=$(log_field "$line" up)
    down=$(log_field "$line" down)
    ((up >= BYTES + 8 && up <= BYTES + 8 + 1024)) ||
        fail "$kind: access log up=$up, expected $((BYTES + 8))"
    ((down >= BYTES && down <= BYTES + 1024)) ||
        fail "$kind: access log down=$down, expected $BYTES"
    say "$kind: ok in ${secs} ms"
done
ferry_healthy
finish
