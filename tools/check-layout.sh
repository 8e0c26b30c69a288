#!/bin/bash
# tools/check-layout.sh - module boundaries: a module may include only the
# modules listed for it here (docs/ARCHITECTURE.md has the same table).
# Dependencies point one way: smtp -> queue -> scan -> route -> deliver are
# wired by gw; peers never include each other.
set -uo pipefail
cd "$(dirname "$0")/.."
declare -A ALLOW=(
    [base]="base"
    [ev]="ev base"
    [net]="net base"
    [dns]="dns net ev base"
    [mail]="mail base"
    [conf]="conf net mail base"
    [smtp]="smtp mail net ev base"
    [queue]="queue mail ev base"
    [scan]="scan mail dns net ev base"
    [deliver]="deliver mail dns net ev base"
    [route]="route mail base"
    [gw]="gw smtp queue scan route deliver conf mail dns net ev base"
    [ctl]="ctl gw smtp queue route deliver conf mail dns net ev base"
)
bad=0
for dir in src/*/; do
    mod=$(basename "$dir")
    allowed=${ALLOW[$mod]:-}
    if [ -z "$allowed" ]; then
        echo "check-layout: module src/$mod is not in the dependency table"; bad=1; continue
    fi
    while IFS=: read -r file line inc; do
        dep=$(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' <<<"$inc")
        [ -n "$dep" ] || continue
        if ! grep -qw "$dep" <<<"$allowed"; then
            echo "check-layout: $file:$line: $mod must not include $dep ($inc)"; bad=1
        fi
    done < <(grep -n '^#include "' "$dir"*.[ch] /dev/null | sed 's/^\([^:]*\):\([0-9]*\):/\1:\2:/')
done
# generic code never knows about mail: base includes no system mail headers either
if [ "$bad" = 0 ]; then echo "check-layout: ok ($(ls -d src/*/ | wc -l) modules)"; fi
exit $bad
