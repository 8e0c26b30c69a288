#!/usr/bin/env bash
# bench/scan-bench.sh - throughput of `mxgate scan` on a mail corpus, next to the
# scanner daemons alone (the anchors), in one run.
#
#   bench/scan-bench.sh                       # starts the scanners, runs everything, stops them
#   bench/scan-bench.sh --dir "$SCANNERS_DIR" # use scanners already started by scanners-up.sh
#   bench/scan-bench.sh --configs "a c" --anchors "spamd-c" --batch 200 --out DIR
#
# Configurations (one `mxgate scan -c CONF --json FILE...` process per configuration, all
# files on its command line, or --batch N files per process, run one after another):
#   a  spam_scanner=builtin, spam_rules=builtin (shipped set), virus_scanner=libclamav:tests/data/clamav
#   b  spam_scanner=builtin, spam_rules=/usr/share/spamassassin (Debian's rules), libclamav as a
#   c  spam_scanner=spamd:$SPAMD_ADDR, virus_scanner=none
#   d  spam_scanner=rspamd:$RSPAMD_ADDR, virus_scanner=none
#   e  spam_scanner=none, virus_scanner=clamd:unix:$CLAMD_SOCK
#   f  spam_scanner=builtin, spam_rules=builtin, virus_scanner=none (the rules alone, as rspamd)
# (a and b put libclamav's temporary files on /dev/shm when it is a tmpfs: virus_tmpdir)
# Anchors: ../shared/bench/scan-bench.sh on the same message list, concurrency 1, one run,
# one pass, default scanners "spamd-c rspamd-c clamd-c" (its C client, scanload.c).
#
# Reported per configuration: msgs/s (messages / wall seconds of the mxgate processes,
# engine start included), CPU-seconds per 1,000 messages of the mxgate processes (user+sys,
# getrusage of the children, bench/scan_run.py), CPU-s/1k of the daemon tree (c-e), the wall
# time of a run on one small message (engine start-up), messages without a verdict, and the
# ratio to the matching anchor (a, b, f: to rspamd and to spamd; c: spamd; d: rspamd; e: clamd).
# mxgate scan is single-threaded: one message at a time, one daemon request at a time.
# Before each mxgate run it waits (at most --quiet-wait s) until the machine is idle.
#
# Options: --corpus DIR (default ../shared/corpus; its MANIFEST.tsv lists the messages,
# else every file), --dir SCANNERS_DIR, --configs "a b c d e" (f on request), --anchors LIST ("" = none),
# --batch N (0 = all files in one process), --out DIR (default mktemp), --max-seconds S
# (per configuration, default 900), --quiet-wait S (default 30), MXGATE_BIN, SA_RULES.
# Output: the table on stdout; per-message JSON lines, stderr and configs under --out.
# Needs root (the scanner daemons), python3, and the scripts in ../shared/bench.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHB=${SHARED_BENCH:-$ROOT/../shared/bench}
export SHARED_BENCH=$SHB
PY=/usr/bin/python3
MXGATE=${MXGATE_BIN:-$ROOT/build/mxgate}
CLAMDB=${CLAMDB:-$ROOT/tests/data/clamav}
SA_RULES=${SA_RULES:-/usr/share/spamassassin}
# libclamav's temporary files on a tmpfs where there is one (virus_tmpdir), else its default
[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && AVTMP=${AVTMP:-/dev/shm}
AVTMP=${AVTMP:-}
CORPUS=$ROOT/../shared/corpus
CONFIGS="a b c d e"
ANCHORS="spamd-c rspamd-c clamd-c"
BATCH=0
SDIR=""
OUT=""
MAXS=900
QUIET=30
log() { echo "[scan-bench] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--corpus) CORPUS=$2; shift 2 ;;
	--dir) SDIR=$2; shift 2 ;;
	--configs) CONFIGS=$2; shift 2 ;;
	--anchors) ANCHORS=$2; shift 2 ;;
	--batch) BATCH=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--max-seconds) MAXS=$2; shift 2 ;;
	--quiet-wait) QUIET=$2; shift 2 ;;
	-h | --help) sed -n '2,33p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done
[ -x "$MXGATE" ] || die "no $MXGATE (run make)"
[ -d "$SHB" ] || die "no $SHB (the anchors' scripts)"
[ -n "$OUT" ] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/mxgate-scan-bench.XXXXXX")
mkdir -p "$OUT"

# ---- the message list (absolute paths), shared with the anchors
LIST=$OUT/corpus.list
NMSG=$("$PY" "$ROOT/bench/scan_run.py" list "$CORPUS" "$LIST")
[ "$NMSG" -gt 0 ] || die "empty corpus"
SMALLEST=$(tr '\n' '\0' <"$LIST" | xargs -0 ls -S | tail -1)
log "corpus: $NMSG messages from $CORPUS"

# ---- scanners
if [ -z "$SDIR" ]; then
	need=""
	case " $CONFIGS $ANCHORS " in *" c "* | *spamd*) need=$need,spamd ;; esac
	case " $CONFIGS $ANCHORS " in *" d "* | *rspamd*) need=$need,dns,rspamd ;; esac
	case " $CONFIGS $ANCHORS " in *" e "* | *clamd*) need=$need,clamd ;; esac
	if [ -n "$need" ]; then
		SDIR=$("$SHB/scanners-up.sh" --only "${need#,}" | sed -n 's/^SCANNERS_DIR=//p')
		[ -n "$SDIR" ] || die "scanners-up.sh failed"
		trap '"$SHB/scanners-down.sh" "$SDIR" >&2' EXIT
	fi
fi
if [ -n "$SDIR" ]; then
	# shellcheck disable=SC1091
	. "$SDIR/scanners.env"
fi

# ---- configurations
declare -A DESC CONF DPID
DESC[a]="(a) builtin rules + libclamav"
CONF[a]=$'spam_scanner = builtin\nspam_rules = builtin\nvirus_scanner = libclamav:'"$CLAMDB"$'\nvirus_tmpdir = '"$AVTMP"
DESC[b]="(b) builtin + SA rules + libclamav"
CONF[b]=$'spam_scanner = builtin\nspam_rules = '"$SA_RULES"$'\nvirus_scanner = libclamav:'"$CLAMDB"$'\nvirus_tmpdir = '"$AVTMP"
DESC[c]="(c) spamd back end"
CONF[c]="spam_scanner = spamd:${SPAMD_ADDR:-}"$'\nvirus_scanner = none'
DPID[c]=${SPAMD_PID:-}
DESC[d]="(d) rspamd back end"
CONF[d]="spam_scanner = rspamd:${RSPAMD_ADDR:-}"$'\nvirus_scanner = none'
DPID[d]=${RSPAMD_PID:-}
DESC[e]="(e) clamd back end (unix)"
CONF[e]=$'spam_scanner = none\nvirus_scanner = clamd:unix:'"${CLAMD_SOCK:-}"
DPID[e]=${CLAMD_PID:-}
DESC[f]="(f) builtin rules only"
CONF[f]=$'spam_scanner = builtin\nspam_rules = builtin\nvirus_scanner = none'

# run_mx NAME FILELIST: time mxgate scan on the files: NAME.jsonl, NAME.err, NAME.run.json
run_mx() {
	"$PY" "$ROOT/bench/scan_run.py" run "$MXGATE" "$OUT/$1.cf" "$2" "$OUT/$1" --batch "$BATCH" \
		--max-seconds "$MAXS" --daemon-pid "${DPID[$1]:-}"
}

for n in $CONFIGS; do
	[ -n "${DESC[$n]:-}" ] || die "unknown configuration $n"
	printf '%s\n' "${CONF[$n]}" >"$OUT/$n.cf"
	case "$n" in c | d | e) [ -n "${DPID[$n]}" ] || die "$n: daemon not running (scanners.env)" ;; esac
	log "== ${DESC[$n]}: start-up (one small message)"
	echo "$SMALLEST" >"$OUT/smallest.list"
	run_mx "$n" "$OUT/smallest.list"
	mv "$OUT/$n.run.json" "$OUT/$n.init.json"
	q=$("$PY" "$SHB/scanping.py" quiet "$QUIET" 10) || log "machine still busy after ${QUIET}s (${q#* }% CPU); running anyway"
	log "== ${DESC[$n]}: $NMSG messages"
	run_mx "$n" "$LIST"
done

# ---- anchors: the daemons alone, same messages, concurrency 1, one run
if [ -n "$ANCHORS" ]; then
	log "== anchors: $ANCHORS"
	"$SHB/scan-bench.sh" --dir "$SDIR" --corpus "$LIST" --runs 1 --conc 1 --scanners "$ANCHORS" \
		--passes-fast 1 --passes-slow 1 --quiet-wait "$QUIET" --retries 0 --max-seconds "$MAXS" \
		--out "$OUT/anchors" >"$OUT/anchors.txt" || log "anchor scan-bench.sh failed"
fi

# ---- table
"$PY" - "$OUT" "$CONFIGS" "$NMSG" "$BATCH" <<'EOF'
import json, os, sys
out, configs, nmsg, batch = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4])
desc = {"a": "(a) builtin rules + libclamav", "b": "(b) builtin + SA rules + libclamav",
        "c": "(c) spamd back end", "d": "(d) rspamd back end", "e": "(e) clamd back end (unix)",
        "f": "(f) builtin rules only"}
anch = {}
p = os.path.join(out, "anchors", "summary.json")
if os.path.exists(p):
    for r in json.load(open(p)):
        anch[r["scanner"].removesuffix("-c")] = r
def rate(k):
    return anch[k]["msgs_per_s"][0] if k in anch else None
match = {"a": ["rspamd", "spamd"], "b": ["rspamd", "spamd"], "c": ["spamd"], "d": ["rspamd"], "e": ["clamd"], "f": ["rspamd", "spamd"]}
print(f"corpus: {nmsg} messages; mxgate scan is single-threaded (one process, one message at a time"
      f"{', %d files per process' % batch if batch else ', all files in one process'}); anchors: "
      "../shared/bench/scan-bench.sh, concurrency 1, one run")
hdr = (f"{'configuration':38} {'msgs':>5} {'msgs/s':>8} {'mxgate CPU-s/1k':>15} {'daemon CPU-s/1k':>15} "
       f"{'start s':>7} {'no verdict':>10}  ratio to anchor")
print(hdr); print("-" * len(hdr))
problems = []
for c in configs:
    rp = os.path.join(out, f"{c}.run.json")
    if not os.path.exists(rp):
        continue
    r = json.load(open(rp)); ini = json.load(open(os.path.join(out, f"{c}.init.json")))
    lines = [json.loads(l) for l in open(os.path.join(out, f"{c}.jsonl")) if l.startswith("{")]
    nov = [l["message"] for l in lines if l.get("verdict") is None]
    seen = {l["message"] for l in lines}
    files = [l.rstrip("\n") for l in open(os.path.join(out, "corpus.list")) if l.strip()]
    missing = [f for f in files if f not in seen]
    mps = r["messages"] / r["wall_s"]
    cpu = 1000 * (r["user_s"] + r["sys_s"]) / r["messages"]
    dc = f"{1000 * r['daemon_cpu_s'] / r['messages']:15.1f}" if c in "cde" else f"{'-':>15}"
    ratios = ", ".join(f"{mps / rate(k):.2f}x {k}" for k in match[c] if rate(k))
    print(f"{desc[c]:38} {r['messages']:5d} {mps:8.1f} {cpu:15.1f} {dc} {ini['wall_s']:7.2f} "
          f"{len(nov) + len(missing):10d}  {ratios or '-'}")
    for f in nov:
        problems.append(f"{c}: no verdict: {f}")
    for f in sorted(set(missing) - {x for x, _ in r.get("crashed", [])}):
        problems.append(f"{c}: no output line: {f}")
    for f in r["killed_after_max_seconds"]:
        problems.append(f"{c}: killed after --max-seconds (hung?) at {f}")
    for f, sig in r.get("crashed", []):
        problems.append(f"{c}: mxgate scan died (signal {-sig}) on {f}; restarted after it")
    if any(x not in (0, 1) and x >= 0 for x in r["exit_codes"]):
        problems.append(f"{c}: exit codes {r['exit_codes']} (see {c}.err)")
for k in ("spamd", "rspamd", "clamd"):
    if k in anch:
        a = anch[k]
        print(f"{'anchor: ' + a['scanner'] + ' alone':38} {a['msgs_per_run']:5d} {a['msgs_per_s'][0]:8.1f} "
              f"{'-':>15} {a['daemon_cpu_ms_per_msg']:15.1f} {'-':>7} {a['errors']:10d}  (client CPU-s/1k "
              f"{a['client_cpu_ms_per_msg']:.1f}; verdicts {a['verdicts']})")
print("msgs/s = messages / wall seconds (engine start-up included); CPU-s/1k = user+sys seconds per 1,000 "
      "messages; start s = wall time of one run on the smallest message")
for p in problems[:40]:
    print("PROBLEM " + p)
if len(problems) > 40:
    print(f"PROBLEM ... {len(problems) - 40} more")
EOF
log "raw results: $OUT"
