#!/bin/bash
# bench/mx-bench.sh - delivery by MX lookup to several destinations, one of them slow:
# Postfix and mxgate side by side in the same run (runs interleaved, Postfix first).
#
# Workload (bench/mx_run.py, one run): 4 smtp-source instances in parallel, one per destination
# domain d1.bench .. d4.bench (COUNT/4 messages each, SESSIONS sessions each, a connection per
# message, 4 KiB) -> the relay -> MX lookup -> one smtp-sink per domain on 127.0.0.11 .. .14,
# all on the same port (the relay's smtp_tcp_port). d4's sink waits SLOW seconds before
# answering DATA (smtp-sink -w), so d4 takes >= COUNT/4 * SLOW / 20 s at concurrency 20.
#
# DNS: one dnsmasq on 127.0.0.2:53 serves the bench zone (MX + A, all in 127.0.0.0/8,
# NXDOMAIN for the rest of .bench). mxgate: dns_servers = 127.0.0.2:53. Postfix resolves through
# libc (/etc/resolv.conf, port 53 only): its instance (../shared/bench/postfix-relay.sh, with
# -o overrides for MX delivery) is started inside a private mount namespace (unshare -m) where
# /etc/resolv.conf is a bind mount of "nameserver 127.0.0.2". The machine's resolver and its
# /etc/resolv.conf are never touched; chroot is off in that instance, so its smtp processes read
# the namespace's file.
#
# Output: one MXRUN line per run (mx_run.py), CPU of the relay's process tree over the run
# (../shared/bench/proctree.c), then one MXCOMPARE line per relay (medians) and both configs.
# Knobs (environment): MX_N (messages per run, default 2000), MX_R (runs per relay, default 1),
# MX_SESSIONS (smtp-source sessions per domain, default 5), MX_SLOW (seconds, default 1),
# MX_QUIET (seconds to wait for a quiet machine before each run, default 10), MXGATE (binary).
# Ports: Postfix 127.0.0.1:20150, mxgate 127.0.0.1:20151, sinks 127.0.0.11-14:20152,
# DNS 127.0.0.2:53. Run as root (Postfix instance, unshare, port 53).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SB=$(cd ../shared/bench 2>/dev/null && pwd) || { echo "mx-bench: ../shared/bench not found"; exit 1; }
N=${MX_N:-2000}; R=${MX_R:-1}; S=${MX_SESSIONS:-5}; SLOW=${MX_SLOW:-1}; QUIET=${MX_QUIET:-10}
BIN=${MXGATE:-build/mxgate}
. bench/lib.sh   # drained
PF_PORT=20150; GW_PORT=20151; SINK_PORT=20152; DNS_ADDR=127.0.0.2
DOMS=d1.bench,d2.bench,d3.bench,d4.bench
SINKS=127.0.0.11,127.0.0.12,127.0.0.13,127.0.0.14
[ "$(id -u)" = 0 ] || { echo "mx-bench: run as root"; exit 1; }
[ -x "$BIN" ] || { echo "mx-bench: $BIN not built (make)"; exit 1; }
for t in dnsmasq unshare /usr/sbin/smtp-source /usr/sbin/smtp-sink; do
    command -v "$t" >/dev/null || { echo "mx-bench: $t missing"; exit 1; }
done

W=$(mktemp -d /tmp/mxgate-mxbench.XXXXXX); chmod 755 "$W"
GW_PID=""; PFDIR=""; DNS_PID=""
cleanup() {
    [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && timeout 15 tail --pid="$GW_PID" -f /dev/null
    [ -n "$PFDIR" ] && "$SB/postfix-relay.sh" down "$PFDIR" >/dev/null 2>&1
    [ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null && wait "$DNS_PID" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

busy_tcp() { ss -Hltn "sport = :$1" | grep -q .; }
for p in $PF_PORT $GW_PORT $SINK_PORT; do
    busy_tcp "$p" && { echo "mx-bench: port $p is in use: $(ss -Hltnp "sport = :$p" | grep -o 'users:.*')"; exit 1; }
done
if ss -Hlnu "src $DNS_ADDR:53" | grep -q . || ss -Hlnu "src 0.0.0.0:53" | grep -q .; then
    echo "mx-bench: UDP $DNS_ADDR:53 is taken"; exit 1
fi

cc -O2 -o "$W/proctree" "$SB/proctree.c" || exit 1
tree_cpu() { "$W/proctree" cpu "$1" | sed -n 's/^cpu_s=\([0-9.]*\).*/\1/p'; }

# DNS: dnsmasq on 127.0.0.2:53, authoritative-style answers for .bench only
rec=(); i=1
for a in ${SINKS//,/ }; do
    rec+=("--mx-host=d$i.bench,mx.d$i.bench,10" "--host-record=mx.d$i.bench,$a"); i=$((i + 1))
done
dnsmasq --keep-in-foreground --port=53 --listen-address=$DNS_ADDR --bind-interfaces --no-resolv \
    --no-hosts --conf-file=/dev/null --user=root --local=/bench/ --log-queries --log-facility="$W/dnsmasq.log" \
    "${rec[@]}" >/dev/null 2>&1 &
DNS_PID=$!
sleep 0.3
kill -0 "$DNS_PID" 2>/dev/null || { echo "mx-bench: dnsmasq did not start: $(tail -3 "$W/dnsmasq.log")"; exit 1; }

# Postfix: shared anchor instance, MX delivery instead of its fixed relayhost
echo "nameserver $DNS_ADDR" > "$W/resolv.conf"
PF_OPTS=(-o relayhost= -o smtp_dns_support_level=enabled -o smtp_host_lookup=dns
         -o "smtp_tcp_port=$SINK_PORT" -o default_destination_concurrency_limit=20)
PFDIR=$(unshare -m --propagation private /bin/bash -c \
    'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' _ "$W/resolv.conf" \
    "$SB/postfix-relay.sh" up -l $PF_PORT -r $((SINK_PORT + 1)) "${PF_OPTS[@]}" 2>"$W/pfup.err" | tail -1)
if [ -z "$PFDIR" ] || [ ! -d "$PFDIR" ]; then echo "mx-bench: Postfix did not start: $(cat "$W/pfup.err")"; PFDIR=""; exit 1; fi
PF_PID=$("$SB/postfix-relay.sh" pid "$PFDIR")
# the namespace really is the master's: its resolv.conf must be ours
grep -q "^nameserver $DNS_ADDR\$" "/proc/$PF_PID/root/etc/resolv.conf" ||
    { echo "mx-bench: Postfix master does not see the bench resolv.conf"; exit 1; }

# mxgate: the same policy, fsync always (not configurable), concurrency 20 per destination
cat > "$W/main.cf" <<CF
myhostname = bench.mxgate.test
smtpd_listen = 127.0.0.1:$GW_PORT
queue_directory = $W/spool
mynetworks = 127.0.0.0/8
relayhost =
smtp_tcp_port = $SINK_PORT
dns_servers = $DNS_ADDR:53
smtp_destination_concurrency_limit = 20
smtpd_peername_lookup = no
smtp_tls_security_level = none
spam_scanner = none
virus_scanner = none
http_listen =
CF
"$BIN" serve -c "$W/main.cf" 2>>"$W/mxgate.log" &
GW_PID=$!
for _ in $(seq 1 100); do busy_tcp $GW_PORT && break; sleep 0.05; done
busy_tcp $GW_PORT || { echo "mx-bench: mxgate did not start: $(tail -5 "$W/mxgate.log")"; exit 1; }

# bounded wait for a quiet machine (other processes < 0.25 core over 2 s)
wait_quiet() {
    local end=$((SECONDS + QUIET)) b0 b1
    [ "$QUIET" -gt 0 ] || return 0
    while [ $SECONDS -lt "$end" ]; do
        b0=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat); sleep 2
        b1=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat)
        [ $(( (b1 - b0) * 100 / $(getconf CLK_TCK) / 2 )) -lt 25 ] && return 0
    done
    echo "# warning: machine still busy after ${QUIET}s"
}
one_run() { # label target pid
    local c0 c1 q0 q1 out rc
    drained; wait_quiet
    q0=$(grep -c 'query\[' "$W/dnsmasq.log"); c0=$(tree_cpu "$3")
    out=$(/usr/bin/python3 bench/mx_run.py --label "$1" --target "$2" --sink-port $SINK_PORT \
        --sinks $SINKS --domains $DOMS --slow-delay "$SLOW" -n "$N" -s "$S" -l 4096 -T 240); rc=$?
    c1=$(tree_cpu "$3"); q1=$(grep -c 'query\[' "$W/dnsmasq.log")
    [ -n "$out" ] || out="MXRUN label=$1 FAILED"
    echo "$out relay_cpu_s=$(awk "BEGIN{printf \"%.2f\", $c1 - $c0}") cpu_s_per_1k=$(awk "BEGIN{printf \"%.3f\", ($c1 - $c0) * 1000 / $N}") dns_queries=$((q1 - q0))"
    [ $rc = 0 ] || echo "# run failed ($1): see $W (mxgate.log, $PFDIR/maillog)"
}

echo "# mx-bench n=$N per relay and run, runs=$R, domains=$DOMS (d4 slow: smtp-sink -w $SLOW), smtp-source ${S} sessions per domain, 4 KiB, dns=$DNS_ADDR:53"
for i in $(seq 1 "$R"); do
    one_run postfix 127.0.0.1:$PF_PORT "$PF_PID" | tee -a "$W/runs"
    one_run mxgate 127.0.0.1:$GW_PORT "$GW_PID" | tee -a "$W/runs"
done
# medians per relay
for l in postfix mxgate; do
    awk -v l="$l" '
        function med(s,   n, a, i, j, t) { n = split(s, a, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n ? ((n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : "n/a" }
        $1 == "MXRUN" && $2 == "label=" l {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = v[kv[1]] " " kv[2] }
            if ($0 ~ /held_back=yes/) hb++; runs++ }
        END { printf "MXCOMPARE %-7s runs=%d fast_msgs_per_s=%s all_msgs_per_s=%s cpu_s_per_1k=%s accept_s=%s fast_done_s=%s slow_done_s=%s held_back_runs=%d\n",
              l, runs, med(v["fast_msgs_per_s"]), med(v["all_msgs_per_s"]), med(v["cpu_s_per_1k"]),
              med(v["accept_s"]), med(v["fast_done_s"]), med(v["slow_done_s"]), hb }' "$W/runs"
done
echo "# Postfix delivered by MX: $(grep -c 'status=sent' "$PFDIR/maillog") sent; relays used: $(grep -o 'relay=mx\.d[0-9]\.bench\[[0-9.]*\]:[0-9]*' "$PFDIR/maillog" | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')"
echo "# DNS queries answered by the bench dnsmasq: $(grep -c 'query\[' "$W/dnsmasq.log" 2>/dev/null || echo 0) (MX: $(grep -c 'query\[MX\]' "$W/dnsmasq.log" 2>/dev/null || echo 0))"
echo "# same for both: fsync before 250 (Postfix default; mxgate always), 20 connections per destination"
echo "#   (Postfix starts at initial_destination_concurrency=5 and grows on success; mxgate opens up to 20"
echo "#   at once), a connection cache per destination, no TLS, no client name lookup, MX via 127.0.0.2:53."
echo "#   Postfix's CPU includes all its daemons (smtpd, cleanup, qmgr, trivial-rewrite, smtp);"
echo "#   the DNS server's CPU is charged to neither."
echo "# postfix config (postconf -n):"
/usr/sbin/postconf -c "$PFDIR/etc" -n | sed 's/^/#   /'
echo "# mxgate config (mxgate config -n):"
"$BIN" config -c "$W/main.cf" -n | sed 's/^/#   /'
