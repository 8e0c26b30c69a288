#!/bin/bash
# tools/gen-man-conf.sh - mxgate.conf(5) from man/mxgate.conf.5.in and the binary's own key
# table (mxgate config --doc), so the manual page can never drift from the keys.
#   tools/gen-man-conf.sh [BIN] > mxgate.conf.5
# Each Markdown table row "| `key` | type | default | meaning |" becomes a .TP entry; any other
# text line becomes a paragraph.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${MXGATE_BIN:-build/mxgate}}
doc=$("$BIN" config --doc)
version=$("$BIN" version | awk '{print $2}')
keys=$(printf '%s\n' "$doc" | awk '
    # roff: a backslash is \e; a line must not start with . or the apostrophe; `x` -> bold
    function roff(s) {
        gsub(/\\/, "\\e", s)
        while (match(s, /`[^`]*`/))
            s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
        sub(/^[.\x27]/, "\\\\\\&&", s)
        return s
    }
    /^\|---/ || /^\| key \|/ { next }
    /^\| `/ {
        n = split($0, f, " \\| ")
        key = f[1]; sub(/^\| `/, "", key); sub(/`$/, "", key)
        meaning = f[4]
        for (i = 5; i <= n; i++) meaning = meaning " | " f[i]
        sub(/ \|$/, "", meaning)
        printf ".TP\n.B %s\n", key
        printf "%s; default: %s.\n", roff(f[2]), roff(f[3])
        printf ".br\n%s\n", roff(meaning)
        next
    }
    /^$/ { next }
    { printf ".PP\n%s\n", roff($0) }')
# through the environment: awk -v would interpret the backslashes
KEYS=$keys VERSION=$version awk '
    /^@KEYS@$/ { print ENVIRON["KEYS"]; next }
    { gsub(/@VERSION@/, ENVIRON["VERSION"]); print }' man/mxgate.conf.5.in
