#!/bin/bash
# bench/bench.sh - "make bench": mxgate side by side with Postfix, same run.
#
#  1. relay throughput, 4 KiB, 1/10/50 sessions: ../shared/bench/compare-relays.sh runs a
#     private Postfix (postfix-relay.sh) and mxgate interleaved, with CPU per 1,000 messages
#     and peak memory from relay-bench.sh
#  2. the same with 100 KiB messages, 10 sessions
#  3. accept latency (end of DATA -> 250, i.e. until the message is durable) for both,
#     1 and 10 sessions (bench/latency.py)
#  4. mxgate's group-commit counters (commits, file fsyncs, directory fsyncs)
#  5. delivery by MX lookup to 4 destination domains, one of them slow (bench/mx-bench.sh):
#     msgs/s for the fast destinations and in all, CPU per 1,000 messages, and whether the
#     slow one held the others back; both relays' configurations
#  6. scanning (SCAN=0 skips it): the corpus through `mxgate scan` with the built-in engine
#     and each daemon back end, next to spamd, rspamd and clamd alone (bench/scan-bench.sh);
#     then the corpus through the whole gateway with and without scanning (bench/scan_gw.py)
# Knobs (environment): N (messages per run, default 5000), R (runs, default 3),
# QUIET (seconds to wait for a quiet machine before each run, default 20), FSYNC=1 adds
# ../shared/bench/fsync-bench.sh (the disk's durable-create ceiling); MX_N (default 2000) and
# MX_SESSIONS, MX_SLOW for section 5 (bench/mx-bench.sh), which runs R times per relay too.
# Everything on loopback, ports 20025-20152 and DNS on 127.0.0.2:53 (section 5).
# Results also go to build/bench-results.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
SB=../shared/bench
. bench/lib.sh   # drained
[ -x "$SB/compare-relays.sh" ] || { echo "bench: $SB not found (the shared anchors)"; exit 1; }
N=${N:-5000}; R=${R:-3}; QUIET=${QUIET:-20}
OURS=20125; OURS_SINK=20126; PF_BASE=20025
W=$(mktemp -d /tmp/mxgate-bench.XXXXXX); chmod 755 "$W"
OUT=build/bench-results.txt
GW_PID=""; PFDIR=""; SINKS=()
cleanup() {
    [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
    [ -n "$PFDIR" ] && "$SB/postfix-relay.sh" down "$PFDIR" >/dev/null 2>&1
    for p in "${SINKS[@]+"${SINKS[@]}"}"; do kill "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT

# every port this run uses must be free: a leftover from another run would
# be measured instead (or make runs fail)
for p in $PF_BASE $((PF_BASE + 1)) $OURS $OURS_SINK $((PF_BASE + 110)) $((PF_BASE + 111)); do
    if ss -Hltn "sport = :$p" | grep -q .; then
        echo "bench: port $p is in use: $(ss -Hltnp "sport = :$p" | grep -o 'users:.*')"; exit 1
    fi
done

start_gw() { # $1 = listen port, $2 = relay port
    cat > "$W/main.cf" <<CF
myhostname = bench.mxgate.test
smtpd_listen = 127.0.0.1:$1
queue_directory = $W/spool
relayhost = [127.0.0.1]:$2
smtpd_peername_lookup = no
smtp_tls_security_level = none
# sections 1-4 measure the relay itself (Postfix beside it does not scan either);
# scanning is section 6. No HTTP listener: it could clash with a running make run.
spam_scanner = none
virus_scanner = none
http_listen =
CF
    build/mxgate serve -c "$W/main.cf" 2>>"$W/mxgate.log" &
    GW_PID=$!
    for _ in $(seq 1 100); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.05; done
    echo "bench: mxgate did not start"; cat "$W/mxgate.log"; exit 1
}

# no subshell for the measurements: the EXIT trap must see the PIDs and
# directories they create
mkdir -p build
exec > >(tee "$OUT") 2>&1
echo "# mxgate bench $(date -u +%FT%TZ) host=$(hostname) cores=$(nproc) commit=$(git rev-parse --short HEAD 2>/dev/null)"
echo "# disk under the queues: $(findmnt -no SOURCE,FSTYPE -T /tmp | tr ' ' ':')"
start_gw $OURS $OURS_SINK
echo "## 1. relay throughput, 4 KiB messages, a connection per message (compare-relays.sh)"
"$SB/compare-relays.sh" -n "$N" -l 4096 -s 1,10,50 -R "$R" -Q "$QUIET" -p $PF_BASE 127.0.0.1:$OURS $OURS_SINK "$GW_PID" \
    | grep -E '^(COMPARE|\[)' | grep -E 'COMPARE|RESULT'
echo "## 2. relay throughput, 100 KiB messages, 10 sessions"
"$SB/compare-relays.sh" -n $((N / 3)) -l 102400 -s 10 -R "$R" -Q "$QUIET" -p $PF_BASE 127.0.0.1:$OURS $OURS_SINK "$GW_PID" \
    | grep -E '^COMPARE'
echo "## 3. accept latency: end of DATA -> 250 (the message is on stable storage)"
/usr/sbin/smtp-sink -u nobody 127.0.0.1:$OURS_SINK 256 >/dev/null 2>&1 & SINKS+=($!)
/usr/sbin/smtp-sink -u nobody 127.0.0.1:$((PF_BASE + 111)) 256 >/dev/null 2>&1 & SINKS+=($!)
PFDIR=$("$SB/postfix-relay.sh" up -l $((PF_BASE + 110)) -r $((PF_BASE + 111)) 2>"$W/pfup.err" | tail -1)
if [ -z "$PFDIR" ] || [ ! -d "$PFDIR" ]; then echo "bench: Postfix did not start: $(cat "$W/pfup.err")"; exit 1; fi
sleep 1
for c in 1 10; do
    for i in $(seq 1 "$R"); do   # interleaved, so background noise hits both
        drained
        /usr/bin/python3 bench/latency.py 127.0.0.1:$((PF_BASE + 110)) 2000 4096 $c | sed "s/^LATENCY/LATENCY postfix run=$i/"
        drained
        /usr/bin/python3 bench/latency.py 127.0.0.1:$OURS 2000 4096 $c | sed "s/^LATENCY/LATENCY mxgate  run=$i/"
    done
done
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null; GW_PID=""
echo "## 4. mxgate group commit over the whole run"
grep -o 'event=stopped.*' "$W/mxgate.log" | tail -1
"$SB/postfix-relay.sh" down "$PFDIR" >/dev/null 2>&1; PFDIR=""
echo "## 5. delivery by MX to d1..d4.bench, d4 slow (bench/mx-bench.sh)"
MX_R=$R MX_QUIET=$QUIET bench/mx-bench.sh
if [ "${SCAN:-1}" = 1 ]; then
    echo "## 6. scanning: the corpus through mxgate scan and the scanner daemons alone (bench/scan-bench.sh)"
    bench/scan-bench.sh --quiet-wait "$QUIET"
    echo "## 6b. the corpus through the whole gateway (SMTP, queue, scan, delivery to smtp-sink; bench/scan_gw.py)"
    /usr/bin/python3 bench/scan_gw.py --configs none,builtin,sa
fi
if [ "${FSYNC:-0}" = 1 ]; then
    echo "## 7. disk ceilings (fsync-bench.sh)"
    "$SB/fsync-bench.sh" -R 1 -n 1000 -T 10 /tmp
fi
echo "# done $(date -u +%FT%TZ)"
