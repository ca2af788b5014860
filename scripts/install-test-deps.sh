#!/usr/bin/env bash
# install-test-deps.sh: install (Debian 12, apt) every tool the integration
# tests in tests/integration/ use.  Idempotent and non-interactive: when
# everything is already installed it does nothing, and it runs
# `apt-get update` only when a package is missing and apt has no package
# lists yet (or an install fails for want of fresh lists).
set -euo pipefail

PACKAGES=(
    bash coreutils util-linux procps iproute2 # setsid, env, ss, ps
    python3                                   # raw clients and servers
    curl                                      # HTTP/SOCKS client
    openssl                                   # test certificates
    nginx-light                               # HTTP(S) server
    dnsmasq-base                              # loopback DNS resolver
    openssh-server openssh-client             # t_ssh_connect
    netcat-openbsd                            # nc -X connect / -X 5
    socat                                     # ProxyCommand with proxy auth
    proxychains4                              # t_proxychains
    python3-requests python3-socks            # t_requests (requests, PySocks)
    python3-websockets                        # t_websocket (echo origin)
    chromium                                  # t_chromium (headless)
    squid dante-server                        # t_chain (parent proxies)
    # t_yamux_interop: a Go peer on hashicorp/yamux, built offline in
    # GOPATH mode from /usr/share/gocode
    golang-go golang-github-hashicorp-yamux-dev
)

export DEBIAN_FRONTEND=noninteractive
SUDO=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || {
        echo "install-test-deps: run as root (or install sudo)" >&2
        exit 1
    }
    SUDO=(sudo -E)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    echo "install-test-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi
echo "install-test-deps: installing ${missing[*]}"

# The tests start their own nginx, sshd and dnsmasq; keep the packages'
# postinst from starting system services (they may fail in a container and
# would hold ports 80/22).  Only when no policy is in place already.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi

APT_OPTS=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef
          -o Dpkg::Options::=--force-confold)
# Package lists present?  (A fresh container has none.)
if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
    "${SUDO[@]}" apt-get update -q
fi
if ! "${SUDO[@]}" apt-get install "${APT_OPTS[@]}" "${missing[@]}"; then
    # Stale lists (a package version gone from the mirror): refresh once.
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install "${APT_OPTS[@]}" "${missing[@]}"
fi
echo "install-test-deps: done"
