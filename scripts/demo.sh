#!/usr/bin/env bash
# Installs what is missing, builds ringo and starts the demo server on port
# 8080 (extra arguments are passed to the server, e.g. --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
exec ./build/ringo --port 8080 "$@"
