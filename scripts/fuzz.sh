#!/usr/bin/env bash
# Builds the libFuzzer targets (clang) and runs each for SECONDS (default 30)
# from its committed corpus. A crash leaves its input in build-fuzz/ and
# fails the script: turn it into a regression test with the fix.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
CC=clang cmake -S . -B build-fuzz -DRINGO_FUZZ=ON -DRINGO_TESTS=OFF -DRINGO_PERF=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)"
for src in tests/fuzz/*_fuzz.c; do
    name=$(basename "$src" .c)
    corpus=tests/fuzz/corpus/${name%_fuzz}
    work=build-fuzz/corpus-${name%_fuzz}
    mkdir -p "$work"
    cp -n "$corpus"/* "$work"/ 2>/dev/null || true
    echo "fuzzing $name for ${secs}s"
    (cd build-fuzz && ./"$name" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
        "corpus-${name%_fuzz}" 2>&1 | tail -3)
done
