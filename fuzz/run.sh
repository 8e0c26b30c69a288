#!/bin/bash
# fuzz/run.sh SECONDS - build every libFuzzer target and run each for its share.
#
# Builds fuzz/fuzz_*.c with clang -fsanitize=fuzzer,address,undefined
# against every module's sources (never main.c) into build/fuzz/, runs each target for SECONDS/targets
# seconds (at least 5) on a copy of its corpus (build/fuzz/corpus-<target>)
# so the committed corpus in fuzz/corpus/<target>/ is not modified, prints
# one line per target and exits nonzero if any target crashed or failed to
# build. Crash inputs are left as build/fuzz/crash-<target>-*.
# FUZZ_TARGETS (environment): a space-separated list of targets to run instead of all.
set -u
cd "$(dirname "$0")/.." || exit 2

total=${1:-60}
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
targets=()
for f in fuzz/fuzz_*.c; do
	t=${f#fuzz/fuzz_}
	t=${t%.c}
	# FUZZ_TARGETS="mime rules": only these (each then gets SECONDS/their number)
	if [ -n "${FUZZ_TARGETS:-}" ] && ! grep -qw -- "$t" <<<"$FUZZ_TARGETS"; then continue; fi
	targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets"; exit 2; }
per=$((total / ${#targets[@]}))
[ "$per" -lt 5 ] && per=5

shopt -s nullglob
# every module (subfolders included) but main.c: a target links what its parser needs
mapfile -t SRCS < <(find src -name '*.c' ! -path src/main.c | sort)
LIBS=($(pkg-config --libs libevent libevent_openssl libevent_pthreads libcares openssl gmime-3.0 libpcre2-8 libpcre2-32 libclamav jansson libseccomp) -lm -pthread)
FLAGS=(-std=c17 -D_GNU_SOURCE -Isrc -g -O1 -fno-omit-frame-pointer -Wall -Wextra -pthread $(pkg-config --cflags gmime-3.0 libpcre2-8 libclamav jansson)
	-fno-sanitize-recover=undefined)
mkdir -p "$OUT/obj"

# library objects: coverage-instrumented but without libFuzzer's main
objs=()
for s in "${SRCS[@]}"; do
	o="$OUT/obj/$(echo "${s%.c}" | tr / _).o"
	if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$0" -nt "$o" ] || [ -n "$(find src -name '*.h' -newer "$o" -print -quit)" ]; then
		"$CC" "${FLAGS[@]}" -fsanitize=fuzzer-no-link,address,undefined -c -o "$o" "$s" || {
			echo "fuzz: cannot compile $s"
			exit 2
		}
	fi
	objs+=("$o")
done

fail=0
for t in "${targets[@]}"; do
	bin="$OUT/fuzz_$t"
	log="$OUT/fuzz_$t.log"
	if ! "$CC" "${FLAGS[@]}" -fsanitize=fuzzer,address,undefined -o "$bin" "fuzz/fuzz_$t.c" "${objs[@]}" "${LIBS[@]}"; then
		printf '%-16s BUILD FAILED\n' "$t"
		fail=1
		continue
	fi
	corpus="$OUT/corpus-$t"
	rm -rf "$corpus"
	mkdir -p "$corpus"
	[ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$corpus/"
	seeds=$(find "$corpus" -type f | wc -l)
	"$bin" -max_len=65536 -max_total_time="$per" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$OUT/crash-$t-" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	now=$(find "$corpus" -type f | wc -l)
	if [ $rc -eq 0 ]; then
		printf '%-16s ok     %ss execs=%s %s corpus=%s->%s\n' "$t" "$per" "${execs:-?}" "$cov" "$seeds" "$now"
	else
		printf '%-16s CRASH  rc=%s execs=%s (log %s, inputs %s/crash-%s-*)\n' "$t" "$rc" "${execs:-?}" "$log" \
			"$OUT" "$t"
		grep -m3 -E 'ERROR|invariant|runtime error' "$log" | sed 's/^/                 /'
		fail=1
	fi
done
exit $fail
