#!/usr/bin/env bash
# Installs what is missing, builds ringo and starts the demo server on port
# 8080 (extra arguments are passed to the server, e.g. --threads 2).
# The API's OpenAPI document is at /openapi.json and its docs page at /docs:
# Swagger UI comes from the local copy scripts/swagger-ui.sh installs into
# build/swagger-ui when there is one (LOCAL_DOCS=1 installs it first,
# with npm), else from the jsdelivr CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
ui=build/swagger-ui/node_modules/swagger-ui-dist
if [ "${LOCAL_DOCS:-0}" = 1 ] && [ ! -f "$ui/swagger-ui-bundle.js" ]; then
    scripts/swagger-ui.sh build/swagger-ui >/dev/null || true
fi
docs=()
[ -f "$ui/swagger-ui-bundle.js" ] && docs=(--swagger-ui-dir "$ui")
exec ./build/ringo --port 8080 "${docs[@]}" "$@"
