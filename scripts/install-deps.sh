#!/usr/bin/env bash
# Install what building and running ferry needs (Debian 12).  Idempotent.
# nftables and iproute2: `ferry tproxy-rules --apply` runs nft and ip.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libssl-dev libc-ares-dev libcyaml-dev
      libyaml-dev libcmocka-dev node-llhttp clang libclang-rt-14-dev
      nftables iproute2)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
