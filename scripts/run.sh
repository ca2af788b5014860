#!/usr/bin/env bash
# Install, build and start ferry.  With no arguments ferry runs its
# embedded default (a mixed HTTP+SOCKS proxy on 127.0.0.1:7890); any
# arguments are passed to ferry (see `ferry --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
exec build/release/ferry "$@"
