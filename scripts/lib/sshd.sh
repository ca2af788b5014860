# sshd.sh: a private OpenSSH server's files, for the integration tests
# (tests/integration/lib.sh) and the benchmarks (bench/run.sh).  Source
# it; it defines one function and runs nothing.

# sshd_setup DIR PORT ADDR FORWARDING [EXTRA]: in DIR, a host key
# (host_key), a client key (id) that the server accepts
# (authorized_keys), and sshd_config for ADDR:PORT: public keys only, no
# PAM, no strict modes, AllowTcpForwarding FORWARDING, plus the EXTRA
# lines.  Checks it with sshd -t; on failure returns 1 with the reason
# in DIR/sshd-t.err.  The caller creates /run/sshd and starts sshd.
sshd_setup() {
    local d=$1 port=$2 addr=$3 fwd=$4 extra=${5:-}
    ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" -C ferry-sshd-host
    ssh-keygen -q -t ed25519 -N '' -f "$d/id" -C ferry-sshd-client
    cp "$d/id.pub" "$d/authorized_keys"
    cat >"$d/sshd_config" <<SSHD
Port $port
ListenAddress $addr
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding $fwd
GatewayPorts no
X11Forwarding no
PrintMotd no
$extra
SSHD
    /usr/sbin/sshd -t -f "$d/sshd_config" 2>"$d/sshd-t.err"
}
