#!/bin/bash
# bench/bench.sh - "make bench": mxgate side by side with its anchors in one run, one table.
#
# Every row is measured in this run, on this machine: the anchors' scripts come from
# ../shared/bench (Postfix via postfix-relay.sh and compare-relays.sh, Haraka via
# haraka-relay.sh where installed, spamd/rspamd/clamd via scanners-up.sh and scan-bench.sh).
# Sections, in order (each adds rows to the table, bench/table.py):
#  1. the load generator alone: smtp-source -> smtp-sink (the ceiling of the relay rows)
#  2. end to end, 4 KiB, 1/10/50 sessions, a connection per message: Postfix and mxgate
#     interleaved (compare-relays.sh), CPU-s per 1,000 messages and peak memory of each tree
#  3. the same with connections reused by smtp-source (-d), 10/50 sessions
#  4. end to end, 100 KiB, 10 sessions
#  5. accept only, 4 KiB, 10/50 sessions: Postfix with its queue on hold; mxgate delivering to
#     the sink at the same time (it has no hold switch; this only makes its figure lower)
#  6. accept latency (end of DATA -> 250) at half of each relay's maximum rate (section 2,
#     10 sessions), 10 connections (bench/latency.py)
#  7. Haraka (proxy, no queue) end to end, 10/50 sessions, where installed: haraka in PATH,
#     HARAKA_PREFIX, or build/haraka (npm install Haraka there)
#  8. mxgate with its whole scanning pipeline on (DNSBL against scanners-up.sh's nsd zone,
#     cached after the first lookup; MIME; the built-in engine with mxgate's own 24 rules
#     (spam_rules = builtin, as in the earlier results; the default is now SpamAssassin's rules,
#     section 9's configuration b); libclamav with tests/data/clamav,
#     its temporary files on /dev/shm), end to end, 4 KiB, 10 sessions, against section 2's
#     Postfix without scanning; again with scan_headers_on_clean = no (clean mail not rewritten)
#  9. ../shared/corpus through `mxgate scan` (built-in + libclamav, and the spamd, rspamd, clamd
#     back ends) and the daemons alone (bench/scan-bench.sh)
# 10. 10,000 idle SMTP sessions: mxgate's memory per session (bench/idle.py)
# 11. start-up with BACKLOG deferred messages (bench/backlog.py plants them, next attempt in an
#     hour), then fresh mail end to end beside that backlog
# 12. detection on ../shared/corpus-labelled (bench/detection.sh): mxgate's default
#     configuration, spamd and rspamd offline: spam caught, ham flagged, rates (its own table)
# Knobs (environment): N (messages per relay run, default 5000), R (runs, default 3), QUIET
# (seconds to wait for a quiet machine before each run, default 20), SCAN=0 skips 8, 9 and 12,
# BACKLOG (default 1000000; 0 skips 11), IDLE (default 10000), ONLY (section numbers to run,
# e.g. ONLY="8": the others are skipped; a section's anchors from skipped ones are then missing),
# MXGATE_BIN (the binary, default build/mxgate: an A/B of two builds runs the same script twice). Ports 20025-20190 and the
# scanners' 21053-21783, all on loopback. Output: build/bench-results.txt (everything) and
# the table at its end; the rows in build/bench-rows.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."
SB=../shared/bench
[ -x "$SB/compare-relays.sh" ] || { echo "bench: $SB not found (the shared anchors)"; exit 1; }
N=${N:-5000}; R=${R:-3}; QUIET=${QUIET:-20}; BACKLOG=${BACKLOG:-1000000}; IDLE=${IDLE:-10000}
PY=/usr/bin/python3
MXGATE_BIN=${MXGATE_BIN:-build/mxgate}
only() { [ -z "${ONLY:-}" ] || grep -qw -- "$1" <<<"$ONLY"; } # only N: section N is to run
OURS=20125; OURS_SINK=20126; PF_BASE=20025; PF2=20135; HK=20145; SCANP=20155; BLP=20165; IDLEP=20175
DIRECT=20186
W=$(mktemp -d /tmp/mxgate-bench.XXXXXX); chmod 755 "$W"
OUT=build/bench-results.txt; ROWS=build/bench-rows.tsv
GW_PIDS=(); PFDIR=""; HKDIR=""; SCANDIR=""
cleanup() {
    for p in "${GW_PIDS[@]+"${GW_PIDS[@]}"}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "$PFDIR" ] && "$SB/postfix-relay.sh" down "$PFDIR" >/dev/null 2>&1
    [ -n "$HKDIR" ] && "$SB/haraka-relay.sh" down "$HKDIR" >/dev/null 2>&1
    [ -n "$SCANDIR" ] && "$SB/scanners-down.sh" "$SCANDIR" >/dev/null 2>&1
    rm -rf "$W"
}
trap cleanup EXIT
for p in $PF_BASE $((PF_BASE + 1)) $OURS $OURS_SINK $PF2 $((PF2 + 1)) $HK $((HK + 1)) $SCANP $((SCANP + 1)) \
    $BLP $((BLP + 1)) $IDLEP $DIRECT; do
    if ss -Hltn "sport = :$p" | grep -q .; then
        echo "bench: port $p is in use: $(ss -Hltnp "sport = :$p" | grep -o 'users:.*')"; exit 1
    fi
done
RB() { "$SB/relay-bench.sh" -Q "$QUIET" "$@"; }
# libclamav's temporary files on a tmpfs where there is one (virus_tmpdir)
AVTMP=""; [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && AVTMP=/dev/shm
row() { "$PY" bench/table.py row "$ROWS" "$@"; }
ingest() { "$PY" bench/table.py ingest "$ROWS" "$@"; }
median_rate() { # WORKLOAD SYSTEM
    awk -F'\t' -v w="$1" -v s="$2" '$1 == w && $2 == s && $3 != "" { print $3 }' "$ROWS" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# start_gw NAME PORT [main.cf lines...]: a gateway in $W/NAME; its PID in GW_PID
start_gw() {
    local name=$1 port=$2; shift 2
    mkdir -p "$W/$name"
    {
        echo "myhostname = bench.mxgate.test"
        echo "smtpd_listen = 127.0.0.1:$port"
        echo "queue_directory = $W/$name/spool"
        echo "smtpd_peername_lookup = no"
        echo "smtp_tls_security_level = none"
        echo "http_listen ="
        printf '%s\n' "$@"
    } > "$W/$name/main.cf"
    "$MXGATE_BIN" serve -c "$W/$name/main.cf" >"$W/$name/mxgate.log" 2>&1 &
    GW_PID=$!; GW_PIDS+=("$GW_PID")
    for _ in $(seq 1 1200); do
        grep -q "event=started" "$W/$name/mxgate.log" 2>/dev/null && return 0
        kill -0 "$GW_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench: mxgate $name did not start"; tail -20 "$W/$name/mxgate.log"; exit 1
}
stop_gw() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

mkdir -p build; : > "$ROWS"
exec > >(tee "$OUT") 2>&1
echo "# mxgate bench $(date -u +%FT%TZ) commit=$(git rev-parse --short HEAD 2>/dev/null) N=$N R=$R"
echo "# machine: $(nproc) cores $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB," \
    "kernel $(uname -r), queues on $(findmnt -no SOURCE,FSTYPE -T /tmp | tr ' ' ':')"
if only 1 || only 2 || only 3 || only 4 || only 5 || only 6; then
RELAY=("relayhost = [127.0.0.1]:$OURS_SINK" "spam_scanner = none" "virus_scanner = none")
start_gw relay $OURS "${RELAY[@]}"; RELAY_PID=$GW_PID
fi


if only 1; then
echo "## 1. the load generator alone (smtp-source -> smtp-sink)"
GEN="load generator alone"
RB -R "$R" -L gen-c10 127.0.0.1:$DIRECT $DIRECT "$N" 4096 10 | grep '^RESULT' | ingest "e2e 4 KiB, 10 sessions" "$GEN"
RB -R "$R" -L gen-c50 127.0.0.1:$DIRECT $DIRECT "$N" 4096 50 | grep '^RESULT' | ingest "e2e 4 KiB, 50 sessions" "$GEN"
RB -R "$R" -d -L gen-d10 127.0.0.1:$DIRECT $DIRECT "$N" 4096 10 | grep '^RESULT' | ingest "e2e 4 KiB reused conns, 10 sessions" "$GEN"
RB -R "$R" -d -L gen-d50 127.0.0.1:$DIRECT $DIRECT "$N" 4096 50 | grep '^RESULT' | ingest "e2e 4 KiB reused conns, 50 sessions" "$GEN"
RB -R "$R" -L gen-100k 127.0.0.1:$DIRECT $DIRECT $((N / 3)) 102400 10 | grep '^RESULT' | ingest "e2e 100 KiB, 10 sessions" "$GEN"
fi

if only 2; then
echo "## 2. end to end, 4 KiB, a connection per message (compare-relays.sh)"
"$SB/compare-relays.sh" -n "$N" -l 4096 -s 1,10,50 -R "$R" -Q "$QUIET" -p $PF_BASE 127.0.0.1:$OURS $OURS_SINK "$RELAY_PID" \
    | tee "$W/c2.txt" | grep -E '^COMPARE'
ingest "e2e 4 KiB, {c} sessions" < "$W/c2.txt"
fi

if only 3; then
echo "## 3. end to end, 4 KiB, connections reused by smtp-source (-d)"
"$SB/compare-relays.sh" -d -n "$N" -l 4096 -s 10,50 -R "$R" -Q "$QUIET" -p $PF_BASE 127.0.0.1:$OURS $OURS_SINK "$RELAY_PID" \
    | tee "$W/c3.txt" | grep -E '^COMPARE'
ingest "e2e 4 KiB reused conns, {c} sessions" < "$W/c3.txt"
fi

if only 4; then
echo "## 4. end to end, 100 KiB, 10 sessions"
"$SB/compare-relays.sh" -n $((N / 3)) -l 102400 -s 10 -R "$R" -Q "$QUIET" -p $PF_BASE 127.0.0.1:$OURS $OURS_SINK "$RELAY_PID" \
    | tee "$W/c4.txt" | grep -E '^COMPARE'
ingest "e2e 100 KiB, {c} sessions" < "$W/c4.txt"
fi

if only 5; then
echo "## 5. accept only, 4 KiB (Postfix: queue on hold; mxgate: delivering meanwhile)"
PFDIR=$("$SB/postfix-relay.sh" up -l $PF2 -r $((PF2 + 1)) 2>"$W/pfup.err" | tail -1)
if [ -z "$PFDIR" ] || [ ! -d "$PFDIR" ]; then echo "bench: Postfix did not start: $(cat "$W/pfup.err")"; exit 1; fi
PF_PID=$("$SB/postfix-relay.sh" pid "$PFDIR")
for c in 10 50; do
    for i in $(seq 1 "$R"); do
        /usr/sbin/postsuper -c "$PFDIR/etc" -d ALL >/dev/null 2>&1
        "$SB/postfix-relay.sh" hold "$PFDIR" on >/dev/null; sleep 1
        RB -R 1 -A -P "$PF_PID" -L "postfix-hold-c$c" 127.0.0.1:$PF2 $((PF2 + 1)) "$N" 4096 "$c" | grep '^RESULT' |
            ingest "accept-only 4 KiB, $c sessions" "postfix (hold)"
        RB -R 1 -A -P "$RELAY_PID" -L "mxgate-accept-c$c" 127.0.0.1:$OURS $OURS_SINK "$N" 4096 "$c" | grep '^RESULT' |
            ingest "accept-only 4 KiB, $c sessions" mxgate
        for _ in $(seq 1 300); do [ -z "$(ls -A "$W/relay/spool/output" "$W/relay/spool/input" 2>/dev/null)" ] && break; sleep 0.1; done
    done
done
/usr/sbin/postsuper -c "$PFDIR/etc" -d ALL >/dev/null 2>&1
"$SB/postfix-relay.sh" hold "$PFDIR" off >/dev/null
fi

if only 6; then
echo "## 6. accept latency at half the maximum rate (10 connections, latency.py)"
LAT="accept latency, 10 sessions at half the relay's max rate"
/usr/sbin/smtp-sink -u nobody 127.0.0.1:$OURS_SINK 256 >/dev/null 2>&1 & SINK1=$!
/usr/sbin/smtp-sink -u nobody 127.0.0.1:$((PF2 + 1)) 256 >/dev/null 2>&1 & SINK2=$!
for sys in postfix mxgate; do
    max=$(median_rate "e2e 4 KiB, 10 sessions" "$sys")
    half=$(awk -v m="${max:-0}" 'BEGIN { printf "%d", m / 2 }')
    [ "$half" -gt 0 ] || { row "$LAT" "$sys" "" "" "" "error=no_max_rate"; continue; }
    n=$((half * 10)); [ "$n" -gt 20000 ] && n=20000
    port=$OURS; [ "$sys" = postfix ] && port=$PF2
    for i in $(seq 1 "$R"); do
        l=$("$PY" bench/latency.py 127.0.0.1:$port "$n" 4096 10 "$half")
        echo "$sys run=$i $l"
        row "$LAT" "$sys" "$(sed -n 's/.*achieved=\([0-9.]*\).*/\1/p' <<<"$l")" "" "" \
            "rate_asked=$half" $(grep -o 'p50_ms=[0-9.]*\|p99_ms=[0-9.]*\|max_ms=[0-9.]*' <<<"$l")
    done
done
kill $SINK1 $SINK2 2>/dev/null; wait $SINK1 $SINK2 2>/dev/null
"$SB/postfix-relay.sh" down "$PFDIR" >/dev/null 2>&1; PFDIR=""
fi

if only 1 || only 2 || only 3 || only 4 || only 5 || only 6; then
    stop_gw "$RELAY_PID"
    echo "# mxgate group commit: $(grep -o 'event=stopped.*' "$W/relay/mxgate.log" | tail -1)"
fi

if only 7; then
echo "## 7. Haraka (proxy, no local queue)"
HB=""
if command -v haraka >/dev/null; then HB=$(command -v haraka)
elif [ -x "${HARAKA_PREFIX:-/nonexistent}/node_modules/.bin/haraka" ]; then HB=$HARAKA_PREFIX/node_modules/.bin/haraka
elif [ -x build/haraka/node_modules/.bin/haraka ]; then HB=$PWD/build/haraka/node_modules/.bin/haraka
fi
if [ -n "$HB" ]; then
    HKDIR=$("$SB/haraka-relay.sh" up -l $HK -r $((HK + 1)) -H "$HB" 2>"$W/hk.err" | tail -1)
    if [ -n "$HKDIR" ] && [ -d "$HKDIR" ]; then
        HK_PID=$("$SB/haraka-relay.sh" pid "$HKDIR")
        for c in 10 50; do
            RB -R "$R" -P "$HK_PID" -L "haraka-c$c" 127.0.0.1:$HK $((HK + 1)) "$N" 4096 "$c" | grep '^RESULT' |
                ingest "e2e 4 KiB, $c sessions" "haraka (proxy, no queue)"
        done
        "$SB/haraka-relay.sh" down "$HKDIR" >/dev/null 2>&1; HKDIR=""
    else
        echo "haraka did not start: $(tail -3 "$W/hk.err")"
    fi
else
    echo "haraka not installed (npm install Haraka in build/haraka, or HARAKA_PREFIX): no Haraka rows"
fi
fi

if [ "${SCAN:-1}" = 1 ] && { only 8 || only 9; }; then
    echo "## 8. mxgate with its scanning pipeline, end to end, 4 KiB, 10 sessions"
    SCANDIR=$W/scanners
    if "$SB/scanners-up.sh" --dir "$SCANDIR" > "$W/scanners-up.txt" 2>&1; then
        . "$SCANDIR/scanners.env"
        SCANCF=("relayhost = [127.0.0.1]:$((SCANP + 1))" "mynetworks = 127.0.0.2/32"
            "relay_domains = bench.example" "dnsbl_sites = bl.test" "dnsbl_check_private = yes"
            "dns_servers = ${DNS_ADDR:-127.0.0.1:21053}" "spam_scanner = builtin" "spam_rules = builtin"
            "virus_scanner = libclamav:$PWD/tests/data/clamav" "virus_tmpdir = $AVTMP")
        # scan_run NAME WORKLOAD [main.cf lines]: R runs through a scanning gateway, and
        # section 2's Postfix rows again as this workload's anchor
        scan_run() {
            local name=$1 w=$2; shift 2
            start_gw "$name" $SCANP "${SCANCF[@]}" "$@"
            RB -R "$R" -P "$GW_PID" -L "mxgate-$name-c10" 127.0.0.1:$SCANP $((SCANP + 1)) "$N" 4096 10 | grep '^RESULT' |
                ingest "$w" mxgate
            awk -F'\t' -v OFS='\t' '$1 == "e2e 4 KiB, 10 sessions" && $2 == "postfix" { $1 = w; $2 = "postfix (no scanning)"; print }' \
                w="$w" "$ROWS" >> "$ROWS"
            stop_gw "$GW_PID"
            echo "# $name: verdicts $(grep -o 'event=scanned.* verdict=[a-z-]*' "$W/$name/mxgate.log" | grep -o 'verdict=[a-z-]*' | sort | uniq -c | tr '\n' ' ')"
            echo "# $name: dnsbl results logged $(grep -c 'event=dnsbl ' "$W/$name/mxgate.log") for $((N * R)) connections; $(grep -o 'event=stopped.*' "$W/$name/mxgate.log" | tail -1)"
        }
        if only 8; then
            scan_run scan "e2e 4 KiB, 10 sessions, mxgate scanning (DNSBL, MIME, rules, libclamav)"
            # without the headers on clean mail a clean message is moved, not rewritten
            scan_run scan2 "e2e 4 KiB, 10 sessions, the same scanning, no headers on clean mail" "scan_headers_on_clean = no"
        fi
        only 9 && echo "## 9. ../shared/corpus through mxgate scan and the daemons alone (bench/scan-bench.sh)"
        only 9 && { bench/scan-bench.sh --dir "$SCANDIR" --configs "a f c d e" --quiet-wait "$QUIET" --out "$W/scanbench" \
            || echo "scan-bench.sh failed"; }
        "$PY" - "$W/scanbench" "$ROWS" <<'EOF'
import json, os, sys, subprocess
out, rows = sys.argv[1], sys.argv[2]
SPAM = "scan ../shared/corpus, spam rules, one at a time"
BOTH = "scan ../shared/corpus, spam rules + anti-virus, one at a time"
# configuration -> (workload, system): the mxgate row of each workload is the built-in engine
names = {"f": (SPAM, "mxgate"), "c": (SPAM, "mxgate scan -> spamd"), "d": (SPAM, "mxgate scan -> rspamd"),
         "a": (BOTH, "mxgate"), "e": (BOTH, "mxgate scan -> clamd (no spam rules)")}
def add(w, system, rate, cpu, notes=()):
    subprocess.run(["/usr/bin/python3", "bench/table.py", "row", rows, w, system, "%.2f" % rate,
                    "%.3f" % cpu if cpu is not None else "", ""] + list(notes), check=True)
for c, (w, name) in names.items():
    p = os.path.join(out, c + ".run.json")
    if os.path.exists(p):
        r = json.load(open(p))
        add(w, name, r["messages"] / r["wall_s"], (r["user_s"] + r["sys_s"]) / r["messages"] * 1000,
            ["messages=%d" % r["messages"]] + (["daemon_cpu_s_per_1k=%.1f" % (1000 * r["daemon_cpu_s"] / r["messages"])]
                                               if r.get("daemon_cpu_s") else []))
anch = {}
p = os.path.join(out, "anchors", "summary.json")
if os.path.exists(p):
    for a in json.load(open(p)):
        k = a["scanner"].removesuffix("-c")
        anch[k] = a
        notes = ["messages=%d" % a["msgs_per_run"], "client_cpu_s_per_1k=%.1f" % a["client_cpu_ms_per_msg"]]
        for w in ((SPAM, BOTH) if k == "rspamd" else (SPAM,) if k == "spamd" else (BOTH,)):
            add(w, k + " alone", a["msgs_per_s"][0], a["daemon_cpu_ms_per_msg"], notes)
if "rspamd" in anch and "clamd" in anch:  # both daemons, one after the other, per message
    r, c = anch["rspamd"], anch["clamd"]
    add(BOTH, "rspamd + clamd alone (their times added)", 1 / (1 / r["msgs_per_s"][0] + 1 / c["msgs_per_s"][0]),
        r["daemon_cpu_ms_per_msg"] + c["daemon_cpu_ms_per_msg"])
EOF
        "$SB/scanners-down.sh" "$SCANDIR" >/dev/null 2>&1; SCANDIR=""
    else
        echo "scanners-up.sh failed: $(tail -5 "$W/scanners-up.txt")"
    fi
fi

if only 10; then
echo "## 10. $IDLE idle SMTP sessions"
start_gw idle $IDLEP "relayhost = [127.0.0.1]:9" "spam_scanner = none" "virus_scanner = none" \
    "smtpd_session_limit = $((IDLE + 100))" "smtpd_client_connection_count_limit = $((IDLE + 100))"
l=$("$PY" bench/idle.py 127.0.0.1:$IDLEP "$GW_PID" "$IDLE"); echo "$l"
row "$(printf "%'d" "$IDLE") idle SMTP sessions" mxgate "" "" \
    "$(sed -n 's/.*after_pss_kb=\([0-9]*\).*/\1/p' <<<"$l" | awk '{ printf "%.1f", $1 / 1024 }')" \
    "kib_per_session=$(sed -n 's/.*pss_per_session_kb=\([0-9.]*\).*/\1/p' <<<"$l")" \
    "sessions=$(sed -n 's/.* ehlo=\([0-9]*\).*/\1/p' <<<"$l")"
stop_gw "$GW_PID"
fi

if [ "$BACKLOG" -gt 0 ] && only 11; then
    BL=$(printf "%'d" "$BACKLOG")
    echo "## 11. start-up with $BL deferred messages, then fresh mail beside them"
    # a deferred message written by mxgate itself: its destination refuses the connection
    start_gw backlog $BLP "relayhost = [127.0.0.1]:$((BLP + 4))" "spam_scanner = none" "virus_scanner = none"
    swaks --server 127.0.0.1:$BLP --from a@bench.example --to b@bench.example --h-Subject "backlog" \
        --body "waiting in the queue" >/dev/null 2>&1
    for _ in $(seq 1 100); do [ -n "$(ls -A "$W/backlog/spool/deferred")" ] && break; sleep 0.1; done
    stop_gw "$GW_PID"
    T=$(ls -d "$W/backlog/spool/deferred/"* | head -1)
    if [ -n "$T" ]; then
        cp "$T" "$W/template.q"; rm -f "$T"
        "$PY" bench/backlog.py "$W/backlog/spool" "$W/template.q" "$BACKLOG"
        sync; echo 3 > /proc/sys/vm/drop_caches   # cold start: nothing of the spool in memory
        sed -i "s/^relayhost = .*/relayhost = [127.0.0.1]:$((BLP + 1))/" "$W/backlog/main.cf"
        t0=$EPOCHREALTIME
        start_gw backlog $BLP "relayhost = [127.0.0.1]:$((BLP + 1))" "spam_scanner = none" "virus_scanner = none"
        t1=$EPOCHREALTIME
        rec=$(grep -o 'event=queue_recovered.*' "$W/backlog/mxgate.log" | tail -1); echo "$rec"
        row "start-up with $BL deferred" mxgate "" "" \
            "$(ps -o rss= -p "$GW_PID" | awk '{ printf "%.1f", $1 / 1024 }')" \
            "recovery_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" \
            "deferred=$(sed -n 's/.* deferred=\([0-9]*\).*/\1/p' <<<"$rec")"
        RB -R "$R" -P "$GW_PID" -L mxgate-backlog-c10 127.0.0.1:$BLP $((BLP + 1)) "$N" 4096 10 | grep '^RESULT' |
            ingest "e2e 4 KiB, 10 sessions, beside $BL deferred" mxgate
        stop_gw "$GW_PID"
    else
        echo "bench: no deferred template message"
    fi
    rm -rf "$W/backlog"
fi

if [ "${SCAN:-1}" = 1 ] && only 12; then
    echo "## 12. detection on ../shared/corpus-labelled (bench/detection.sh)"
    MXGATE_BIN=$MXGATE_BIN bench/detection.sh > "$W/detection.txt" 2> "$W/detection.err" ||
        echo "detection.sh failed: $(tail -5 "$W/detection.err")"
fi

echo
echo "# the table ($(date -u +%FT%TZ)): medians of the runs; mxgate/x = mxgate's msgs/s over x's,"
echo "# CPU ratio = mxgate's CPU-seconds per 1,000 messages over x's (below 1: mxgate uses less)"
"$PY" bench/table.py print "$ROWS"
if [ -s "$W/detection.txt" ]; then
    echo
    echo "# detection on ../shared/corpus-labelled (section 12; one message at a time, offline, no Bayes)"
    cat "$W/detection.txt"
fi
