#!/usr/bin/env bash
# Checks the public API as a user sees it, against a finished build:
# 1. libringo.so exports ringo_* symbols only (ringo.map): no ringo__
#    internals, no llhttp, nothing else, and reads no test hook from the
#    environment (tests set them through ringo__app_test_hooks());
# 2. the C programs in README.md ("A ringo app") and docs/api.md ("A complete
#    example") compile with -Wall -Wextra -Werror and link against the shared
#    library, so the documentation cannot drift from the headers.
#
#   scripts/check-api.sh [build-dir]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Defined dynamic symbols minus the version node (RINGO_1.0), without @version.
leaks=$(nm -D --defined-only "$build/libringo.so" | awk '{print $NF}' | sed 's/@.*//' |
        grep -v '^RINGO_[0-9.]*$' | grep -v '^ringo_[a-z]' || true)
if [ -n "$leaks" ]; then
    echo "libringo.so exports symbols outside the public API:" >&2
    echo "$leaks" >&2
    exit 1
fi
if grep -aq 'RINGO_TEST_' "$build/libringo.so"; then
    echo "libringo.so names a RINGO_TEST_ variable: test hooks must not come from the environment" >&2
    exit 1
fi
echo "exports: $(nm -D --defined-only "$build/libringo.so" | grep -c ' ringo_') ringo_* symbols, nothing else"

# The first ```c block after the heading $2 in file $1.
snippet() {
    awk -v h="$2" '$0 == h {f = 1; next} f && /^```c$/ {c = 1; next}
                   c && /^```$/ {exit} c {print}' "$1"
}

check() { # file, heading
    local src="$tmp/$(basename "$1" .md).c"
    snippet "$1" "$2" >"$src"
    if [ ! -s "$src" ]; then
        echo "$1: no C block after '$2'" >&2
        exit 1
    fi
    ${CC:-cc} -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude "$src" -o "$tmp/a.out" \
        -L"$build" -Wl,-rpath,"$PWD/$build" -lringo -luring -lpthread
    echo "$1 ($2): compiles and links"
}

check README.md "## A ringo app"
check docs/api.md "## A complete example"
