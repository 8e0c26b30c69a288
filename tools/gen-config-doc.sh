#!/bin/bash
# tools/gen-config-doc.sh - refresh the key table in docs/CONFIG.md from the
# binary's own table (mxgate config --doc). --check: exit 1 if it is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MXGATE_BIN:-build/mxgate}
new=$(mktemp)
trap 'rm -f "$new"' EXIT
awk -v table="$("$BIN" config --doc)" '
    /<!-- BEGIN KEYS -->/ { print; print table; skip = 1; next }
    /<!-- END KEYS -->/ { skip = 0 }
    !skip { print }' docs/CONFIG.md > "$new"
if [ "${1:-}" = "--check" ]; then
    if ! cmp -s "$new" docs/CONFIG.md; then
        echo "docs/CONFIG.md is out of date: run tools/gen-config-doc.sh" >&2
        exit 1
    fi
    echo "docs/CONFIG.md key table is current"
    exit 0
fi
cp "$new" docs/CONFIG.md
