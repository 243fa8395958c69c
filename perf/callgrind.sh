#!/usr/bin/env bash
# perf/callgrind.sh: instructions per request for the whole ringo server, and where they go.
#
# Instruction counts do not drift with the machine's speed, so they compare two builds on
# a noisy box where req/s cannot. The server runs under `valgrind --tool=callgrind`; a
# small client (perf/lib/loadgen.py) sends exactly N requests (wrk cannot stop at a
# count); the counters are zeroed before and dumped after each batch with
# callgrind_control, so start-up, warm-up and shutdown are not counted.
#
#   perf/callgrind.sh [-n REQUESTS] [-p PATH] [-- SERVER-ARGS...]   (defaults: 20000, /plaintext)
#
# SERVER-ARGS go to the demo server as they are (e.g. -- --metrics "" to leave the
# metrics out, -- --access-log /tmp/a.log to add the access log).
# Two batches: 64 connections not pipelined, then 64 connections pipelined 16 deep.
# Binary: RINGO_BIN if set; else a RINGO_VALGRIND=ON build in build-valgrind/ (libc malloc,
# kernel-written memory annotated), configured and built when missing; else build/ringo.
# The valgrind build counts glibc malloc where the normal build has mimalloc: compare like
# with like, or run RINGO_BIN=build/ringo perf/callgrind.sh for the shipped allocator.
# Output: perf/results/callgrind-<date>/ (dumps, callgrind_annotate listings, summary.txt).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
n=20000
path=/plaintext
while [ $# -gt 0 ]; do
    case $1 in
        -n) n=$2; shift 2 ;;
        -p) path=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        --) shift; break ;;
        *) echo "callgrind.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

command -v valgrind >/dev/null || {
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind \
            >/dev/null
    else
        echo "callgrind.sh: install valgrind (apt-get install valgrind)" >&2; exit 1
    fi
}

vgbuild=${RINGO_VALGRIND_BUILD_DIR:-$repo/build-valgrind}
kind="RINGO_BIN"
if [ -z "${RINGO_BIN:-}" ]; then
    kind="RINGO_VALGRIND=ON build"
    RINGO_BIN=$vgbuild/ringo
    # Always brought up to date (a no-op when current): a stale binary measures old code.
    echo "callgrind.sh: building ringo with RINGO_VALGRIND=ON in $vgbuild" >&2
    mkdir -p "$vgbuild"
    if ! { cmake -S "$repo" -B "$vgbuild" -DCMAKE_BUILD_TYPE=Release -DRINGO_VALGRIND=ON \
               -DRINGO_TESTS=OFF -DRINGO_PERF=OFF &&
           cmake --build "$vgbuild" -j"$(nproc)" --target ringo; } >"$vgbuild/build.log" 2>&1
    then
        echo "callgrind.sh: valgrind build failed (see $vgbuild/build.log);" \
             "using the normal build" >&2
        kind="normal build (mimalloc)"
        RINGO_BIN=${RINGO_BUILD_DIR:-$repo/build}/ringo
        [ -x "$RINGO_BIN" ] || {
            cmake -S "$repo" -B "${RINGO_BUILD_DIR:-$repo/build}" >/dev/null &&
            cmake --build "${RINGO_BUILD_DIR:-$repo/build}" -j"$(nproc)" --target ringo \
                >/dev/null; }
    fi
fi

out=$repo/perf/results/callgrind-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
py=/usr/bin/python3
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port$path

valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.%p" \
    "$RINGO_BIN" --host 127.0.0.1 --port "$port" --threads 1 "$@" \
    >"$out/server.stdout" 2>"$out/server.stderr" &
vg=$!
stop_server() {
    kill -0 "$vg" 2>/dev/null || return 0
    kill -TERM "$vg" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$vg" 2>/dev/null || return 0; sleep 0.2; done
    kill -KILL "$vg" 2>/dev/null || true
    wait "$vg" 2>/dev/null || true
}
trap stop_server EXIT

# The port is fixed rather than read from the server's first line: valgrind 3.19 does not
# release its thread lock while a thread waits in io_uring_enter, so until requests arrive
# the ring thread can keep the main thread from printing anything.
up=0
for _ in $(seq 300); do
    if [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" = 200 ]; then
        up=1; break
    fi
    kill -0 "$vg" 2>/dev/null || break
    sleep 0.2
done
[ $up = 1 ] || { echo "callgrind.sh: ringo did not answer $url" >&2;
                  tail -5 "$out/server.stderr" >&2; exit 1; }

# callgrind_control's command is picked up when the server runs code: poke it until done.
control() {
    callgrind_control "$@" "$vg" >/dev/null 2>&1 &
    local c=$!
    for _ in $(seq 100); do
        kill -0 "$c" 2>/dev/null || break
        curl -s -o /dev/null -m 2 "$url" || true
        sleep 0.1
    done
    wait "$c"
}

$py perf/lib/loadgen.py --port "$port" --path "$path" --requests 2000 --conns 64 >/dev/null
batch() { # name conns depth
    control -z
    $py perf/lib/loadgen.py --port "$port" --path "$path" --requests "$n" --conns "$2" \
        --depth "$3" >"$out/$1.loadgen"
    control --dump="$1"
}
batch plain 64 1
batch pipelined 64 16
stop_server

summary=$out/summary.txt
{
    echo "ringo under callgrind: $RINGO_BIN ($kind), --threads 1 $*"
    echo "date $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(valgrind --version)"
    echo
    for name in plain pipelined; do
        f=$(grep -l "^desc: Trigger: dump $name\$" "$out"/callgrind.out.* | head -1)
        ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
        desc="64 connections, not pipelined"
        [ $name = pipelined ] && desc="64 connections, pipelined 16 deep"
        printf '%-36s %s requests, %s instructions, %s instructions/request\n' \
            "$path, $desc:" "$n" "$ir" "$((ir / n))"
        callgrind_annotate --threshold=100 --inclusive=no "$f" >"$out/$name.self.txt" \
            2>/dev/null || true
        callgrind_annotate --threshold=100 --inclusive=yes "$f" >"$out/$name.inclusive.txt" \
            2>/dev/null || true
        mv "$f" "$out/$name.callgrind.out"
    done
    for name in plain pipelined; do
        echo
        echo "top functions by own instructions per request ($name):"
        $py - "$out/$name.self.txt" "$n" "$repo/" <<'PY'
import re, sys
path, n, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
on, k = False, 0
for line in open(path, errors="replace"):
    if "file:function" in line:
        on = True
        continue
    m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S+)", line) if on else None
    if not m or float(m.group(2)) >= 99.0:  # the thread entry (clone) shows the total
        continue
    where = re.sub(r"^\./\w+/(\./\w+/|\.\./sysdeps/\S+/)", "glibc ", m.group(3).replace(repo, ""))
    print(f"  {int(m.group(1).replace(',', '')) / n:8.1f}  {m.group(2):>5}%  {where}")
    k += 1
    if k == 20:
        break
PY
    done
} | tee "$summary"
echo "files: ${out#"$repo"/}"
