#!/usr/bin/env bash
# Build one configuration of ferry: release (default), asan or fuzz.
#   scripts/build.sh [release|asan|fuzz]   -> build/<config>/
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-release}
jobs=$(nproc)
case "$config" in
release) cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release ;;
asan)    cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON ;;
fuzz)    CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DFERRY_FUZZ=ON ;;
*) echo "usage: $0 [release|asan|fuzz]" >&2; exit 2 ;;
esac > /dev/null
cmake --build "build/$config" -j "$jobs"
