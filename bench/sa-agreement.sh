#!/usr/bin/env bash
# bench/sa-agreement.sh - how closely the builtin rules engine running SpamAssassin's own rules
# agrees with SpamAssassin (spamd) on a corpus.
#
#   bench/sa-agreement.sh                        # starts spamd (scanners-up.sh --only spamd), stops it
#   bench/sa-agreement.sh --dir "$SCANNERS_DIR"  # use a spamd already started by scanners-up.sh
#   bench/sa-agreement.sh --corpus DIR --out DIR --top 15
#
# Both sides run through `mxgate scan --json` (bench/scan_run.py), one process each:
#   spamd    spam_scanner = spamd:$SPAMD_ADDR, virus_scanner = none. spamd as started by
#            ../shared/bench/scanners-up.sh is offline (-L: no network tests, no Bayes,
#            no Razor/Pyzor/DCC), so it scores with score set 0, from /usr/share/spamassassin.
#   builtin  spam_scanner = builtin, spam_rules = "/usr/share/spamassassin /etc/spamassassin" (SA_RULES:
#            the rules and the site directory spamd reads too; its *.pre files load the plugins,
#            without them every ifplugin block is skipped), virus none;
#            the builtin engine uses score set 0 as well. Both use required score 5.0.
# Prints: messages, how many both sides gave a verdict for, verdict agreement (spam / not spam)
# as a count and percentage, both directions of disagreement, mean absolute score difference,
# and the --top (default 15) rules most often hit by one side but not the other (rule names
# from spam.rules of both), each with how often only spamd and only builtin hit it.
# Messages without a verdict on either side (crash, scanner error) are listed, not compared.
# Options: --corpus DIR (default ../shared/corpus), --dir SCANNERS_DIR, --out DIR (default
# mktemp), --top N, --max-seconds S (per side, default 900), MXGATE_BIN, SA_RULES.
# Needs root (spamd), /usr/bin/python3 and the scripts in ../shared/bench.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHB=${SHARED_BENCH:-$ROOT/../shared/bench}
export SHARED_BENCH=$SHB
PY=/usr/bin/python3
MXGATE=${MXGATE_BIN:-$ROOT/build/mxgate}
SA_RULES=${SA_RULES:-/usr/share/spamassassin /etc/spamassassin}
CORPUS=$ROOT/../shared/corpus
SDIR=""
OUT=""
TOP=15
MAXS=900
log() { echo "[sa-agreement] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--corpus) CORPUS=$2; shift 2 ;;
	--dir) SDIR=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--top) TOP=$2; shift 2 ;;
	--max-seconds) MAXS=$2; shift 2 ;;
	-h | --help) sed -n '2,24p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done
[ -x "$MXGATE" ] || die "no $MXGATE (run make)"
[ -n "$OUT" ] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/mxgate-sa-agreement.XXXXXX")
mkdir -p "$OUT"
NMSG=$("$PY" "$ROOT/bench/scan_run.py" list "$CORPUS" "$OUT/corpus.list")
log "corpus: $NMSG messages from $CORPUS"

if [ -z "$SDIR" ]; then
	SDIR=$("$SHB/scanners-up.sh" --only spamd | sed -n 's/^SCANNERS_DIR=//p')
	[ -n "$SDIR" ] || die "scanners-up.sh failed"
	trap '"$SHB/scanners-down.sh" "$SDIR" >&2' EXIT
fi
# shellcheck disable=SC1091
. "$SDIR/scanners.env"
[ -n "${SPAMD_ADDR:-}" ] || die "no spamd in $SDIR/scanners.env"

printf 'spam_scanner = spamd:%s\nvirus_scanner = none\n' "$SPAMD_ADDR" >"$OUT/spamd.cf"
printf 'spam_scanner = builtin\nspam_rules = %s\nvirus_scanner = none\n' "$SA_RULES" >"$OUT/builtin.cf"
for side in spamd builtin; do
	log "== $side: $NMSG messages"
	"$PY" "$ROOT/bench/scan_run.py" run "$MXGATE" "$OUT/$side.cf" "$OUT/corpus.list" "$OUT/$side" \
		--max-seconds "$MAXS"
done

"$PY" - "$OUT" "$TOP" <<'EOF'
import collections, json, os, statistics, sys
out, top = sys.argv[1], int(sys.argv[2])
files = [l.rstrip("\n") for l in open(os.path.join(out, "corpus.list")) if l.strip()]
res, runs = {}, {}
for side in ("spamd", "builtin"):
    res[side] = {}
    for l in open(os.path.join(out, side + ".jsonl")):
        if l.startswith("{"):
            d = json.loads(l)
            res[side][d["message"]] = d
    runs[side] = json.load(open(os.path.join(out, side + ".run.json")))
def usable(d):
    return d is not None and d.get("verdict") is not None and d["spam"]["scanned"]
both, missing = [], collections.Counter()
for f in files:
    s, b = res["spamd"].get(f), res["builtin"].get(f)
    if usable(s) and usable(b):
        both.append((f, s["spam"], b["spam"]))
    else:
        for side, d in (("spamd", s), ("builtin", b)):
            if not usable(d):
                why = "no output" if d is None else "no verdict" if d.get("verdict") is None else \
                    "not spam-scanned (" + str(d["spam"].get("skipped")) + ")"
                missing[(side, why, f)] += 1
n = len(both)
agree = sum(s["spam"] == b["spam"] for _, s, b in both)
s_only = [f for f, s, b in both if s["spam"] and not b["spam"]]
b_only = [f for f, s, b in both if b["spam"] and not s["spam"]]
diffs = [abs(s["score"] - b["score"]) for _, s, b in both]
print(f"messages: {len(files)}; compared (a verdict from both, spam-scanned): {n}")
for side in ("spamd", "builtin"):
    r = runs[side]
    print(f"  {side:8} wall {r['wall_s']:.1f} s, {r['messages'] / r['wall_s']:.1f} msgs/s, "
          f"mxgate CPU {1000 * (r['user_s'] + r['sys_s']) / r['messages']:.1f} s/1k messages")
if n:
    print(f"verdict agreement (spam / not spam): {agree} / {n} = {100 * agree / n:.1f}%")
    print(f"  spam by spamd only (builtin: not spam): {len(s_only)}")
    print(f"  spam by builtin only (spamd: not spam): {len(b_only)}")
    big = max(both, key=lambda x: abs(x[1]["score"] - x[2]["score"]))
    print(f"mean absolute score difference: {statistics.mean(diffs):.2f} (median {statistics.median(diffs):.2f}, "
          f"max {max(diffs):.2f} on {os.path.relpath(big[0], os.path.commonpath(files))}: spamd {big[1]['score']:.2f}, "
          f"builtin {big[2]['score']:.2f})")
    print(f"within 0.5 points: {sum(d <= 0.5 for d in diffs)}; exactly equal (0.01): {sum(d < 0.01 for d in diffs)}")
    only = collections.Counter(); so = collections.Counter(); bo = collections.Counter()
    hits_s = collections.Counter(); hits_b = collections.Counter()
    for _, s, b in both:
        rs, rb = set(s["rules"]), set(b["rules"])
        hits_s.update(rs); hits_b.update(rb)
        for r in rs - rb:
            so[r] += 1; only[r] += 1
        for r in rb - rs:
            bo[r] += 1; only[r] += 1
    print(f"the {top} rules most often hit by one side but not the other:")
    print(f"  {'rule':32} {'one side only':>13} {'spamd only':>10} {'builtin only':>12} {'spamd hits':>10} {'builtin hits':>12}")
    for r, c in only.most_common(top):
        print(f"  {r:32} {c:13d} {so[r]:10d} {bo[r]:12d} {hits_s[r]:10d} {hits_b[r]:12d}")
    with open(os.path.join(out, "disagreements.txt"), "w") as f:
        for name, lst in (("spamd only", s_only), ("builtin only", b_only)):
            for x in lst:
                f.write(f"{name}\t{x}\t{res['spamd'][x]['spam']['score']}\t{res['builtin'][x]['spam']['score']}\n")
root = os.path.commonpath(files)
for (side, why, f), _ in sorted(missing.items()):
    print(f"NOT COMPARED {side}: {why}: {os.path.relpath(f, root)}")
for side in ("spamd", "builtin"):
    for f, sig in runs[side]["crashed"]:
        print(f"PROBLEM {side}: mxgate scan died (signal {-sig}) on {os.path.relpath(f, root)}")
    for f in runs[side]["killed_after_max_seconds"]:
        print(f"PROBLEM {side}: killed after --max-seconds (hung?) at {os.path.relpath(f, root)}")
EOF
log "raw results: $OUT (disagreements.txt: file and both scores)"
