#!/bin/bash
# tools/check-layout.sh - module boundaries, checked on every #include "..."
# of every .c and .h below src/ (subfolders too) and of src/main.c.
#
# A file's module is its first folder under src/ (src/scan/rules/x.c is in
# scan). Rules, each violation printed as file:line and exit status 1:
#   1. a project include names a module folder: #include "module/file.h";
#   2. a *_int.h is private to its folder: only files in that same
#      directory include it (scan/rules/ may use scan/'s public headers,
#      never scan/scan_int.h nor another subfolder's *_int.h);
#   3. a module includes only itself and the modules the table below allows
#      it (docs/ARCHITECTURE.md has the same table), and where ONLY names
#      headers, only those headers of that module.
# Dependencies point one way: gw wires smtp -> queue -> scan -> route ->
# deliver, whose peers never include each other; admin observes gw; ctl is
# the command line. Prints "check-layout: ok (N modules, M files)" when clean.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

declare -A ALLOW=(
	[base]=""
	[ev]="base"
	[net]="base"
	[dns]="net ev base"
	[mail]="base"
	[conf]="net mail base"
	[smtp]="mail net ev base"
	[queue]="mail ev base"
	[scan]="mail dns net ev base"
	[route]="mail base"
	[deliver]="mail dns net ev base"
	[gw]="smtp queue scan route deliver conf mail dns net ev base"
	[admin]="gw queue smtp scan conf mail net ev base"
	# ctl, the command line: admin's control protocol and offline queue
	# listing; gw's configuration translators, so that check, route and
	# scan build what the daemon builds; queue (the spool), scan (mxgate
	# scan), route (mxgate route); dns for scan's DNSBL step (--client-ip);
	# deliver for the two things only it knows: its smtp_tls_policy_maps
	# parser (mxgate check) and the port it would use for a hop (mxgate
	# route). Never smtp or ev: no CLI command speaks SMTP or runs a pool.
	[ctl]="admin gw queue scan route deliver dns conf mail net base"
	# main.c: wiring only
	[main]="base conf gw admin ctl"
)
# module:dependency -> the only headers of the dependency it may include
declare -A ONLY=(
	[admin:gw]="gw/gw.h gw/gw_event.h"
	[ctl:admin]="admin/admin_ctl.h"
	[ctl:gw]="gw/gw_conf.h"
	[main:gw]="gw/gw.h"
	[main:admin]="admin/admin.h"
	[main:ctl]="ctl/ctl.h"
)

bad=0
violation() {
	echo "$1: $2"
	bad=1
}

# in_list WORD "LIST OF WORDS"
in_list() {
	local w
	for w in $2; do [ "$w" = "$1" ] && return 0; done
	return 1
}

# check_file FILE MODULE DIR: DIR is the file's folder relative to src/ ("" for main.c)
check_file() {
	local file=$1 mod=$2 dir=$3 line text inc dep only
	while IFS=: read -r line text; do
		[[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]*)\" ]] || continue
		inc=${BASH_REMATCH[1]}
		dep=${inc%%/*}
		if [[ "$inc" != */* ]] || [ "$dep" = main ] || [ -z "${ALLOW[$dep]+set}" ] || [ ! -d "src/$dep" ]; then
			violation "$file:$line" "#include \"$inc\" does not name a module folder (write \"module/file.h\")"
			continue
		fi
		if [[ "${inc##*/}" == *_int.h ]] && [ "${inc%/*}" != "$dir" ]; then
			violation "$file:$line" "#include \"$inc\": a *_int.h is private to src/${inc%/*}/"
			continue
		fi
		[ "$dep" = "$mod" ] && continue
		if ! in_list "$dep" "${ALLOW[$mod]}"; then
			violation "$file:$line" "$mod must not include $dep (#include \"$inc\")"
			continue
		fi
		only=${ONLY[$mod:$dep]:-}
		if [ -n "$only" ] && ! in_list "$inc" "$only"; then
			violation "$file:$line" "$mod may include only $only of $dep, not \"$inc\""
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file")
}

nmod=0
for d in src/*/; do
	m=$(basename "$d")
	nmod=$((nmod + 1))
	if [ "$m" = main ] || [ -z "${ALLOW[$m]+set}" ]; then
		violation "src/$m" "module $m is not in the dependency table"
	fi
done

nfiles=0
while IFS= read -r f; do
	rel=${f#src/}
	if [ "$rel" = main.c ]; then
		check_file "$f" main ""
	elif [[ "$rel" == */* ]]; then
		mod=${rel%%/*}
		[ -n "${ALLOW[$mod]+set}" ] && [ "$mod" != main ] || continue # reported above
		check_file "$f" "$mod" "${rel%/*}"
	else
		violation "$f" "a source file outside any module folder (only src/main.c may be)"
	fi
	nfiles=$((nfiles + 1))
done < <(find src -type f \( -name '*.c' -o -name '*.h' \) | sort)

if [ "$bad" = 0 ]; then echo "check-layout: ok ($nmod modules, $nfiles files)"; fi
exit $bad
