#!/usr/bin/env bash
# Install, build and run every test: unit and integration tests on the
# release build and again under ASan+UBSan, then a short run of each
# libFuzzer target.  Needs root (apt-get; sshd and dnsmasq in tests).
#   FERRY_FUZZ_SECONDS=N  seconds per fuzz target (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-test-deps.sh
status=0
for config in release asan fuzz; do
    echo "=== build: $config"
    scripts/build.sh "$config"
done
echo "=== tests: release build"
ctest --test-dir build/release --output-on-failure || status=1
echo "=== tests: ASan+UBSan build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan --output-on-failure || status=1
echo "=== fuzz: corpus replay and a short run of each target"
ctest --test-dir build/fuzz -L fuzz --output-on-failure || status=1
exit $status
