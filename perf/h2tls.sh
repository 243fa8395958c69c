#!/usr/bin/env bash
# perf/h2tls.sh: HTTP/2 over TLS (ALPN h2), GET /plaintext, ringo --threads 1 against h2o
# (num-threads 1, perf/peers/h2o.conf with an ssl listener) with h2load -c 64 -m 16, both
# with the same throw-away P-256 certificate, the two servers run alternately RUNS times
# (default 3) for SECS seconds each (default 5), the server pinned to CPU 0 and h2load to
# CPU 1. Each h2load connection makes one full handshake, then keeps its connection: this
# measures the record layer and HTTP/2, not handshakes. Prints each run's req/s, the
# negotiated protocol and cipher, and the median ratio.
#   perf/h2tls.sh [RUNS] [SECS]
# Environment: RINGO_BIN (default build/ringo). Needs h2o, openssl and nghttp2-client.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
secs=${2:-5}
ringo=${RINGO_BIN:-build/ringo}
dir=$(mktemp -d /tmp/ringo-h2tls.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/key.pem" \
    -out "$dir/cert.pem" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    >/dev/null 2>&1
rport=$(free_port)
taskset -c 0 "$ringo" --host 127.0.0.1 --port "$rport" --threads 1 --quiet \
    --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" >/dev/null 2>&1 &
pids+=($!)
hport=$(free_port)
printf 'Hello, World!' >"$dir/plaintext.txt"
printf '{"message":"Hello, World!"}' >"$dir/json.json"
mkdir -p "$dir/static"
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$hport|g" perf/peers/h2o.conf |
    awk -v d="$dir" '{print} /^  port:/ {print "  ssl:"; print "    certificate-file: " d "/cert.pem";
                                        print "    key-file: " d "/key.pem"}' >"$dir/h2o.conf"
[ "$(id -u)" = 0 ] && echo "user: root" >>"$dir/h2o.conf"
taskset -c 0 h2o -c "$dir/h2o.conf" >/dev/null 2>&1 &
pids+=($!)
wait_port "$rport" && wait_port "$hport"

rate() { # port -> "req/s protocol cipher"; a failed request or a non-2xx answer is an error
    local out
    out=$(taskset -c 1 h2load -c 64 -m 16 -t 1 -D "$secs" --warm-up-time=1 \
        "https://127.0.0.1:$1/plaintext")
    if ! grep -q ' 0 failed, 0 errored, 0 timeout' <<<"$out" ||
        ! grep -q 'status codes: [1-9][0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx' <<<"$out" ||
        ! grep -q '^Application protocol: h2$' <<<"$out"; then
        echo "h2load against port $1 failed:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$(awk '/^finished in/ {print $4}' <<<"$out") $(awk '/^TLS Protocol:/ {print $3}' \
        <<<"$out") $(awk '/^Cipher:/ {print $2}' <<<"$out")"
}
r=() h=()
for i in $(seq "$runs"); do
    read -r rr rp rc <<<"$(rate "$rport")"
    read -r hr hp hc <<<"$(rate "$hport")"
    r+=("$rr") h+=("$hr")
    echo "run $i: ringo $rr req/s ($rp $rc), h2o $hr req/s ($hp $hc)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mr=$(median "${r[@]}")
mh=$(median "${h[@]}")
echo "median: ringo $mr req/s, h2o $mh req/s, ratio $(awk -v a="$mr" -v b="$mh" 'BEGIN {printf "%.2f", a/b}')"
