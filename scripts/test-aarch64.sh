#!/bin/sh
# scripts/test-aarch64.sh - cross-build the aarch64 context switch with the
# coroutine unit tests and run them under qemu-user.
#
# Needs Debian's gcc-aarch64-linux-gnu (with libc6-dev-arm64-cross) and
# qemu-user (or qemu-user-static); run as root it installs them with apt-get.
# Exit 0 pass, 1 fail, 77 skip (toolchain or emulator unavailable).
#
# Usage: scripts/test-aarch64.sh [build-dir]   (default: build-aarch64)
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/build-aarch64"}
cc=aarch64-linux-gnu-gcc
sysroot=/usr/aarch64-linux-gnu

find_qemu() {
    for q in qemu-aarch64 qemu-aarch64-static; do
        if command -v "$q" >/dev/null 2>&1; then
            echo "$q"
            return 0
        fi
    done
    return 1
}

install_deps() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    echo "test-aarch64: installing gcc-aarch64-linux-gnu and qemu-user" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >&2 ||
        { apt-get update -q >&2 &&
          apt-get install -y -q gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >&2; } ||
        apt-get install -y -q gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static >&2
}

if ! command -v "$cc" >/dev/null 2>&1 || ! find_qemu >/dev/null; then
    install_deps
fi
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "test-aarch64: SKIP: $cc not available (install gcc-aarch64-linux-gnu)" >&2
    exit 77
fi
if ! qemu=$(find_qemu); then
    echo "test-aarch64: SKIP: qemu-aarch64 not available (install qemu-user)" >&2
    exit 77
fi

mkdir -p "$out" || exit 1
cflags="-std=gnu17 -O2 -g -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion
        -Wstrict-prototypes -Wmissing-prototypes -Werror -D_GNU_SOURCE
        -I$root/include -I$root"
srcs="$root/core/coro.c $root/core/stack.c $root/core/coro_switch_aarch64.S"

status=0
for t in coro_test coro_overflow_test; do
    # shellcheck disable=SC2086 # word splitting of the flag lists is intended
    if ! $cc $cflags $srcs "$root/tests/unit/$t.c" -o "$out/$t" -lpthread -lm; then
        echo "test-aarch64: FAIL: building $t" >&2
        exit 1
    fi
    echo "== $t (aarch64, $qemu)"
    QEMU_LD_PREFIX=$sysroot "$qemu" -L "$sysroot" "$out/$t"
    rc=$?
    echo "== $t: exit $rc"
    [ "$rc" = 0 ] || status=1
done
exit $status
