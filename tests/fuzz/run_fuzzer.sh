#!/bin/sh
# run_fuzzer.sh FUZZER_BINARY CORPUS_DIR
#
# Fuzz one codec briefly, as ctest's fuzz.* tests do: the checked-in corpus
# is only read; new inputs go to a temporary copy that is removed at the
# end.  Runs for ${FERRY_FUZZ_SECONDS:-20} seconds and exits non-zero on any
# crash, leak, timeout or sanitizer report.  Crash inputs are kept in
# ${FERRY_FUZZ_ARTIFACTS:-.} to reproduce with: FUZZER_BINARY CRASH_FILE.
# A dictionary <codec>.dict next to this script is used when present.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 FUZZER_BINARY CORPUS_DIR" >&2
    exit 2
fi
bin=$1
corpus=$2
secs=${FERRY_FUZZ_SECONDS:-20}
artifacts=${FERRY_FUZZ_ARTIFACTS:-.}
name=$(basename "$bin")
dict=$(dirname "$0")/${name#fuzz_}.dict

if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
    echo "$0: need an executable fuzzer and a corpus directory" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cp -R "$corpus"/. "$work"/

set -- -max_total_time="$secs" -max_len=4096 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$name-"
if [ -f "$dict" ]; then
    set -- "$@" -dict="$dict"
fi

status=0
"$bin" "$@" "$work" "$corpus" || status=$?
if [ "$status" -ne 0 ]; then
    echo "$0: $name failed (exit $status); inputs in $artifacts/$name-*" >&2
fi
exit "$status"
