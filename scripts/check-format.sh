#!/usr/bin/env bash
# Fails when a C source or header of ours is not formatted per .clang-format.
#   scripts/check-format.sh          check
#   scripts/check-format.sh --fix    reformat in place
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'core/*.[ch]' 'http/*.[ch]' 'pool/*.[ch]' 'include/*.h' \
    'include/ringo/*.h' 'examples/*.c' 'tests/unit/*.[ch]' 'tests/fuzz/*.c' 'perf/*.c' 'perf/**/*.c')
if [ "${1:-}" = "--fix" ]; then
    clang-format -i "${files[@]}"
    exit 0
fi
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files clean"
