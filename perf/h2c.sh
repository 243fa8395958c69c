#!/usr/bin/env bash
# perf/h2c.sh: HTTP/2 with prior knowledge (h2c), GET /plaintext, ringo --threads 1
# against h2o (num-threads 1, perf/peers/h2o.conf) with h2load -c 64 -m 16, the two
# servers run alternately RUNS times (default 3) for SECS seconds each (default 5), the
# server pinned to CPU 0 and h2load to CPU 1. Prints each run's req/s and the median ratio.
#   perf/h2c.sh [RUNS] [SECS]
# Environment: RINGO_BIN (default build/ringo). Needs h2o and nghttp2-client (h2load).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
secs=${2:-5}
ringo=${RINGO_BIN:-build/ringo}
dir=$(mktemp -d /tmp/ringo-h2c.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

rport=$(free_port)
taskset -c 0 "$ringo" --host 127.0.0.1 --port "$rport" --threads 1 --quiet >/dev/null 2>&1 &
pids+=($!)
hport=$(free_port)
printf 'Hello, World!' >"$dir/plaintext.txt"
printf '{"message":"Hello, World!"}' >"$dir/json.json"
mkdir -p "$dir/static"
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$hport|g" perf/peers/h2o.conf >"$dir/h2o.conf"
# As root h2o switches to `nobody`, who cannot write @DIR@ (as perf/lib/servers.py does).
[ "$(id -u)" = 0 ] && echo "user: root" >>"$dir/h2o.conf"
taskset -c 0 h2o -c "$dir/h2o.conf" >/dev/null 2>&1 &
pids+=($!)
wait_port "$rport" && wait_port "$hport"

rate() { # port -> req/s; a run with a failed request or a non-2xx answer is an error
    local out
    out=$(taskset -c 1 h2load -c 64 -m 16 -t 1 -D "$secs" --warm-up-time=1 \
        "http://127.0.0.1:$1/plaintext")
    if ! grep -q ' 0 failed, 0 errored, 0 timeout' <<<"$out" ||
        ! grep -q 'status codes: [1-9][0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx' <<<"$out"; then
        echo "h2load against port $1 failed:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^finished in/ {print $4}' <<<"$out"
}
r=() h=()
for i in $(seq "$runs"); do
    r+=("$(rate "$rport")")
    h+=("$(rate "$hport")")
    echo "run $i: ringo ${r[-1]} req/s, h2o ${h[-1]} req/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mr=$(median "${r[@]}")
mh=$(median "${h[@]}")
echo "median: ringo $mr req/s, h2o $mh req/s, ratio $(awk -v a="$mr" -v b="$mh" 'BEGIN {printf "%.2f", a/b}')"
