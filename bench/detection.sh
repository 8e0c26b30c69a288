#!/usr/bin/env bash
# bench/detection.sh - detection on labelled mail: ../shared/corpus-labelled (3,125 messages of the
# Apache SpamAssassin public corpus: 500 spam, 2,500 easy ham, 125 hard ham), through
# `mxgate scan --json` (bench/scan_run.py), one engine after another, all offline:
#
#   mxgate default  mxgate's default configuration (spam_scanner = builtin, spam_rules =
#                   spamassassin: the rules SpamAssassin itself would load), virus_scanner = none
#   spamd           SpamAssassin's spamd as ../shared/bench/scanners-up.sh starts it (-L: no
#                   network tests, no Bayes: score set 0, the same rule files)
#   rspamd          Rspamd with its stock rules, every network module off (scanners-up.sh)
#
# Prints one table: spam caught, easy and hard ham flagged as spam, all ham flagged, messages a
# second (wall clock; one message at a time, so a daemon's extra workers do not count) and the
# CPU per 1,000 messages of mxgate and of the daemon. Bayes is not in mxgate yet (issue 14):
# no row for it. Used by bench/bench.sh (section 12); alone:
#
#   bench/detection.sh [--dir SCANNERS_DIR] [--out DIR] [--max-seconds S]
#
# --dir: spamd and rspamd already started by scanners-up.sh (else this script starts and stops
# them); --out: where the runs are kept (default: a temporary directory, removed). Needs root
# (the daemons), /usr/bin/python3 and ../shared (bench scripts and corpus-labelled).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHB=${SHARED_BENCH:-$ROOT/../shared/bench}
export SHARED_BENCH=$SHB
LAB=${LABELLED:-$ROOT/../shared/corpus-labelled/spamassassin-public-dev.tar.gz}
PY=/usr/bin/python3
MXGATE=${MXGATE_BIN:-$ROOT/build/mxgate}
SDIR=""
OUT=""
MAXS=1800
log() { echo "[detection] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) SDIR=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--max-seconds) MAXS=$2; shift 2 ;;
	-h | --help) sed -n '2,24p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done
[ -x "$MXGATE" ] || die "no $MXGATE (run make)"
[ -f "$LAB" ] || die "no $LAB"
KEEP=1
if [ -z "$OUT" ]; then
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/mxgate-detection.XXXXXX")
	KEEP=0
fi
mkdir -p "$OUT/corpus"
STARTED=""
cleanup() {
	[ -n "$STARTED" ] && "$SHB/scanners-down.sh" "$STARTED" >&2
	[ "$KEEP" = 0 ] && rm -rf "$OUT"
	return 0
}
trap cleanup EXIT
[ -d "$OUT/corpus/dev" ] || tar xzf "$LAB" -C "$OUT/corpus"
NMSG=$("$PY" "$ROOT/bench/scan_run.py" list "$OUT/corpus" "$OUT/corpus.list")
log "corpus: $NMSG messages"
# mxgate first, before the daemons start (rspamd compiles its Hyperscan databases for a while
# after it answers: that CPU would be counted against mxgate's run)
printf 'virus_scanner = none\n' >"$OUT/default.cf"
log "== default"
"$PY" "$ROOT/bench/scan_run.py" run "$MXGATE" "$OUT/default.cf" "$OUT/corpus.list" "$OUT/default" \
	--max-seconds "$MAXS" >&2
if [ -z "$SDIR" ]; then
	SDIR=$("$SHB/scanners-up.sh" --only spamd,rspamd | sed -n 's/^SCANNERS_DIR=//p')
	[ -n "$SDIR" ] || die "scanners-up.sh failed"
	STARTED=$SDIR
fi
# shellcheck disable=SC1091
. "$SDIR/scanners.env"
printf 'spam_scanner = spamd:%s\nvirus_scanner = none\n' "${SPAMD_ADDR:?no spamd}" >"$OUT/spamd.cf"
printf 'spam_scanner = rspamd:%s\nvirus_scanner = none\n' "${RSPAMD_ADDR:?no rspamd}" >"$OUT/rspamd.cf"
for side in spamd rspamd; do
	pidopt=()
	case $side in
	spamd) [ -n "${SPAMD_PID:-}" ] && pidopt=(--daemon-pid "$SPAMD_PID") ;;
	rspamd) [ -n "${RSPAMD_PID:-}" ] && pidopt=(--daemon-pid "$RSPAMD_PID") ;;
	esac
	log "== $side"
	"$PY" "$ROOT/bench/scan_run.py" run "$MXGATE" "$OUT/$side.cf" "$OUT/corpus.list" "$OUT/$side" \
		--max-seconds "$MAXS" "${pidopt[@]}" >&2
done

"$PY" - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
names = {"default": "mxgate, default configuration", "spamd": "spamd (score set 0, same rules)",
         "rspamd": "rspamd, stock rules (offline)"}
print("| engine | spam caught | easy ham flagged | hard ham flagged | all ham flagged | msgs/s | mxgate CPU-s/1k | daemon CPU-s/1k | no verdict |")
print("|---|---|---|---|---|---|---|---|---|")
for side in ("default", "spamd", "rspamd"):
    cnt = {k: [0, 0] for k in ("spam", "easy", "hard")}
    none = 0
    for line in open(os.path.join(out, side + ".jsonl")):
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        m = d["message"]
        k = "spam" if "/spam-" in m else "hard" if "/hard-ham" in m else "easy"
        s = d.get("spam") or {}
        if d.get("verdict") is None or not s.get("scanned"):
            none += 1
            continue
        cnt[k][0] += 1
        cnt[k][1] += bool(s.get("spam"))
    run = json.load(open(os.path.join(out, side + ".run.json")))
    pct = lambda a: "%.1f%% (%d/%d)" % (100.0 * a[1] / a[0], a[1], a[0]) if a[0] else "-"
    pct2 = lambda a: "%.2f%% (%d/%d)" % (100.0 * a[1] / a[0], a[1], a[0]) if a[0] else "-"
    ham = [cnt["easy"][0] + cnt["hard"][0], cnt["easy"][1] + cnt["hard"][1]]
    n = max(run["messages"], 1)
    print("| %s | %s | %s | %s | %s | %.1f | %.2f | %.2f | %d |" % (
        names[side], pct(cnt["spam"]), pct2(cnt["easy"]), pct2(cnt["hard"]), pct2(ham),
        run["messages"] / max(run["wall_s"], 1e-9), 1000 * (run["user_s"] + run["sys_s"]) / n,
        1000 * run.get("daemon_cpu_s", 0.0) / n, none))
EOF
