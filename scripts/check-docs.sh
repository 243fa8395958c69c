#!/usr/bin/env bash
# Fails when docs/*.md or README.md name a ringo_* / ringo__* / RINGO_*
# identifier that no longer exists in the code: the docs are a second copy of
# the headers' contract, and a renamed or removed name must not linger there.
# A name ending in "_" (as in "ringo_req_*") is a prefix: some identifier must
# start with it.
set -euo pipefail
cd "$(dirname "$0")/.."

code_dirs=(include core http pool examples tests CMakeLists.txt)
known=$(grep -rhoE '\b(ringo|RINGO)_[A-Za-z0-9_]*' "${code_dirs[@]}" | sort -u)
missing=0
while IFS=: read -r file name; do
    if [[ $name == *_ ]]; then
        grep -q "^${name}" <<<"$known" && continue
    else
        grep -qx "$name" <<<"$known" && continue
    fi
    echo "check-docs: $file names $name, which is not in the code"
    missing=1
done < <(grep -oE '\b(ringo|RINGO)_[A-Za-z0-9_]*' docs/*.md README.md | sort -u)
[ $missing = 0 ] && echo "check-docs: every identifier in docs/ and README.md exists"
exit $missing
