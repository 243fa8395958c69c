#!/usr/bin/env bash
# Installs the Debian packages ringo needs when they are missing.
# Usage: scripts/deps.sh [extra-package ...]
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

# zlib1g-dev, libdeflate-dev, libzstd-dev, libbrotli-dev: response compression's codecs
# (optional to the build, installed so that every coding is built and tested).
pkgs=(build-essential cmake pkg-config liburing-dev node-llhttp libmimalloc-dev
      zlib1g-dev libdeflate-dev libzstd-dev libbrotli-dev curl python3 python3-websockets "$@")
missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "ringo: missing packages: ${missing[*]}" >&2
    echo "ringo: run as root: $cmd" >&2
    exit 1
fi
echo "ringo: installing ${missing[*]}" >&2
for attempt in 1 2 3; do
    if bash -c "$cmd" >/tmp/ringo-apt.log 2>&1; then exit 0; fi
    echo "ringo: apt-get failed (attempt $attempt), retrying" >&2
    sleep 5
done
cat /tmp/ringo-apt.log >&2
exit 1
