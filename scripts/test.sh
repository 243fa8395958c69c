#!/usr/bin/env bash
# Builds ringo and runs every test: the release build, then the whole suite
# again under ASan+UBSan, the pool under TSan, the aarch64 coroutine switch
# under qemu-user, and short smoke runs of the benchmark harnesses (perf/bench,
# perf/streams).
# Installs missing Debian packages first (as root).
#
#   scripts/test.sh            everything
#   scripts/test.sh --quick    release build and tests only
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)

# python3-zstandard, python3-brotli (Debian's /usr/bin/python3), zstd, brotli: the
# compression tests' decoders; python3-jsonschema: /openapi.json against the OpenAPI 3.1 schema.
# libpq-dev builds the PostgreSQL module; postgresql-15 provides the server binaries its tests run
# in a throw-away cluster (tests/integration/pg_cluster.py; the package's own cluster is never used).
# libseccomp-dev, libjansson-dev, golang-github-containers-common: the seccomp launcher
# (tests/seccomp/) and the container runtimes' default profile; python3-yaml: the Kubernetes
# example's check; pkg-config: the install tests.
# systemd: systemd-analyze verifies examples/systemd/ (test_systemd; no running systemd needed).
# libssl-dev builds TLS (core/tls.c); openssl makes the TLS tests' certificates and is their s_client.
# python3-prometheus-client: /metrics parsed by the Prometheus client's own text parser.
# libnghttp2-dev builds HTTP/2; python3-h2, python3-hyperframe and nghttp2-client (h2load)
# drive it in test_h2.py and perf/.
# haproxy, nginx: the load balancers of test_load_balancers (apache2-utils: its optional ab load).
# user-mode-linux, kmod, iproute2: test_ktls boots Debian's user-mode-linux kernel (it has the tls
# module this machine's kernel lacks) and loads its modules there.
scripts/deps.sh wrk clang clang-format locales python3-zstandard python3-brotli zstd brotli \
    libnghttp2-dev python3-h2 python3-hyperframe nghttp2-client \
    python3-jsonschema libpq-dev postgresql-15 libseccomp-dev libjansson-dev \
    golang-github-containers-common python3-yaml pkg-config systemd haproxy nginx apache2-utils \
    libssl-dev openssl python3-prometheus-client user-mode-linux kmod iproute2

build() { # dir, cmake args...
    local dir=$1; shift
    cmake -S . -B "$dir" -DRINGO_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
}

section() { printf '\n==== %s ====\n' "$*"; }

section "format, and names in the docs"
scripts/check-format.sh
scripts/check-docs.sh

section "release build and tests"
build build
(cd build && ctest --output-on-failure -j"$jobs")

section "public API: exported symbols, README and api.md programs"
scripts/check-api.sh build

[ $quick = 1 ] && exit 0

section "ASan+UBSan build and tests"
build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGO_SANITIZE=address,undefined
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")

section "TSan build: pool, deque, coroutines, and the server's threaded paths"
build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGO_SANITIZE=thread
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j"$jobs" \
    -R 'unit\.(deque|pool|msgring|coro|app|await|pg)_test|integration\.test_(sync|deps|async|post_work|shutdown|stream|upload|ws|compress|files|pg_sync|pg_async|lifecycle|systemd|signals|restart|admission|pg_tx|tls)')

if [ -x scripts/test-aarch64.sh ]; then
    section "aarch64 coroutine switch under qemu-user"
    rc=0; scripts/test-aarch64.sh || rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then exit $rc; fi
fi

section "fuzz targets, 20 s each"
scripts/fuzz.sh 20

if [ -x perf/bench ]; then
    section "benchmark harness smoke run"
    RINGO_BIN="$PWD/build/ringo" perf/bench --smoke
fi

if [ -x perf/streams ]; then
    section "streams benchmark smoke run: SSE, WebSocket echo, uploads"
    RINGO_BIN="$PWD/build/ringo" perf/streams --smoke
fi

section "all tests passed"
