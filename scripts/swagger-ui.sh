#!/usr/bin/env bash
# Installs Swagger UI (the npm package swagger-ui-dist, major version 5: the
# one the CDN link of /docs names) into a local directory, so that the docs
# page works without the jsdelivr CDN: pass the directory this prints to the
# demo server as --swagger-ui-dir (scripts/demo.sh does when it exists), or
# to ringo_openapi_opts.ui_dir.
#
#   scripts/swagger-ui.sh [DIR]     default: build/swagger-ui
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-build/swagger-ui}
if ! command -v npm >/dev/null; then
    echo "ringo: npm is missing (Debian package npm): /docs will load Swagger UI from the CDN" >&2
    exit 1
fi
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --no-package-lock swagger-ui-dist@5 >&2
ui="$dir/node_modules/swagger-ui-dist"
for f in swagger-ui-bundle.js swagger-ui.css; do
    [ -f "$ui/$f" ] || { echo "ringo: $ui/$f is missing after npm install" >&2; exit 1; }
done
realpath "$ui"
