#!/usr/bin/python3
"""bench/table.py - the rows of a `make bench` run, and the one table they make.

    table.py ingest ROWS WORKLOAD [SYSTEM]   RESULT lines on stdin -> rows
    table.py row ROWS WORKLOAD SYSTEM MSGS_S CPU_1K PEAK_MB [KEY=VALUE...]
    table.py print ROWS                      the table, then each target and whether it is met

ingest reads ../shared/bench/relay-bench.sh RESULT lines, bare or prefixed by compare-relays.sh
("[postfix c=10 #2] RESULT ..."); WORKLOAD may contain {c} (the concurrency) and the prefix names
the system (postfix, ours -> mxgate) unless SYSTEM is given. A row is one run; the table shows
the median of a workload's runs per system, and for each anchor the ratios mxgate/anchor of
msgs/s and of CPU-seconds per 1,000 messages. ROWS is a tab-separated file, one row per line.
"""
import re
import statistics
import sys

# (workload, anchor system) -> (minimum msgs/s ratio, maximum CPU ratio); None = no target
TARGETS = {
    ("e2e 4 KiB, 10 sessions", "postfix"): (3.0, 0.25),
    ("e2e 4 KiB, 50 sessions", "postfix"): (3.0, 0.25),
    ("e2e 4 KiB reused conns, 10 sessions", "postfix"): (3.0, 0.25),
    ("e2e 4 KiB reused conns, 50 sessions", "postfix"): (3.0, 0.25),
    ("accept-only 4 KiB, 10 sessions", "postfix (hold)"): (3.0, None),
    ("accept-only 4 KiB, 50 sessions", "postfix (hold)"): (3.0, None),
    ("e2e 100 KiB, 10 sessions", "postfix"): (2.0, None),
    ("e2e 4 KiB, 10 sessions, mxgate scanning (DNSBL, MIME, rules, libclamav)", "postfix (no scanning)"):
        (2.0, None),
    ("e2e 4 KiB, 10 sessions, the same scanning, no headers on clean mail", "postfix (no scanning)"): (2.0, None),
    # the words: the built-in pipeline (rules and libclamav) against rspamd alone
    ("scan ../shared/corpus, spam rules + anti-virus, one at a time", "rspamd alone"): (2.0, None),
}
# workload prefix -> (key in the mxgate row's notes, "<" or ">", limit, what)
CHECKS = {
    "accept latency, 10 sessions at half": ("p99_ms", "<", 10.0, "p99 accept latency (ms)"),
    "10,000 idle SMTP sessions": ("kib_per_session", "<", 16.0, "memory per idle session (KiB)"),
    "start-up with 1,000,000 deferred": ("recovery_s", "<", 60.0, "start-up recovery (s)"),
}
# fresh mail beside the backlog (prefix) against the same workload without it
FRESH = ("e2e 4 KiB, 10 sessions, beside ", "e2e 4 KiB, 10 sessions")

FIELDS = {"msgs_per_s": 3, "relay_cpu_s_per_1k": 4, "peak_pss_mb": 5}


def add(path, workload, system, rate, cpu, mem, notes=()):
    with open(path, "a") as f:
        f.write("\t".join([workload, system, str(rate), str(cpu), str(mem)] + list(notes)) + "\n")


def ingest(path, workload, system=None):
    n = 0
    for line in sys.stdin:
        m = re.search(r"^(?:\[(\w+)\s+c=(\d+) #\d+\]\s+)?RESULT (.*)$", line.strip())
        if not m:
            continue
        kv = dict(re.findall(r"(\w+)=([^\s(]+)", m.group(3)))
        sysname = system or {"ours": "mxgate"}.get(m.group(1), m.group(1)) or "?"
        w = workload.replace("{c}", m.group(2) or kv.get("conc", "?"))
        runs = re.search(r"runs=(\d+)/", m.group(3))
        add(path, w, sysname, kv.get("msgs_per_s", ""), kv.get("relay_cpu_s_per_1k", ""), kv.get("peak_pss_mb", ""),
            ["median_of=%s" % runs.group(1)] if runs and runs.group(1) != "1" else [])
        n += 1
    if not n:
        add(path, workload.replace("{c}", "?"), system or "?", "", "", "", ["error=no RESULT line"])


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=1):
    return "-" if x is None else f"{x:,.{nd}f}"


def load(path):
    groups = {}  # workload -> system -> list of rows
    order = []
    for line in open(path):
        p = line.rstrip("\n").split("\t")
        if len(p) < 5:
            continue
        w, s = p[0], p[1]
        if w not in groups:
            groups[w] = {}
            order.append(w)
        groups[w].setdefault(s, []).append(p)
    return groups, order


def summary(rows):
    notes = {}
    for r in rows:
        for kv in r[5:]:
            k, _, v = kv.partition("=")
            notes.setdefault(k, []).append(v)
    out = {"rate": med([num(r[2]) for r in rows]), "cpu": med([num(r[3]) for r in rows]),
           "mem": med([num(r[4]) for r in rows]), "runs": len(rows), "notes": {}}
    for k, vs in notes.items():
        nums = [num(v) for v in vs]
        out["notes"][k] = med(nums) if all(x is not None for x in nums) else vs[-1]
    return out


def print_table(path):
    groups, order = load(path)
    hdr = (f"{'workload':<66} {'system':<24} {'runs':>4} {'msgs/s':>9} {'CPU-s/1k':>9} {'peak MB':>8} "
           f"{'mxgate/x msgs/s':>15} {'CPU ratio':>9}  notes")
    print(hdr)
    print("-" * len(hdr))
    verdicts = []
    for w in order:
        ours = summary(groups[w]["mxgate"]) if "mxgate" in groups[w] else None
        systems = (["mxgate"] if ours else []) + [s for s in groups[w] if s != "mxgate"]
        for s in systems:
            r = summary(groups[w][s])
            ratio = cratio = None
            if s != "mxgate" and ours and ours["rate"] and r["rate"]:
                ratio = ours["rate"] / r["rate"]
            if s != "mxgate" and ours and ours["cpu"] and r["cpu"]:
                cratio = ours["cpu"] / r["cpu"]
            notes = " ".join(f"{k}={fmt(v, 2) if isinstance(v, float) else v}" for k, v in r["notes"].items())
            print(f"{w if s == systems[0] else '':<66} {s:<24} {r['runs']:>4} {fmt(r['rate']):>9} {fmt(r['cpu'], 3):>9} "
                  f"{fmt(r['mem']):>8} {fmt(ratio, 2) + ('x' if ratio else ''):>15} {fmt(cratio, 2):>9}  {notes}")
            t = TARGETS.get((w, s))
            if t:
                if t[0] is not None:
                    verdicts.append((f"{w}: mxgate/{s} msgs/s >= {t[0]}", ratio, ratio is not None and ratio >= t[0]))
                if t[1] is not None:
                    verdicts.append((f"{w}: mxgate/{s} CPU per message <= {t[1]}", cratio,
                                     cratio is not None and cratio <= t[1]))
        c = next((v for k, v in CHECKS.items() if w.replace(",", "").startswith(k.replace(",", ""))), None)
        if c and ours:
            v = ours["notes"].get(c[0])
            v = v if isinstance(v, float) else None
            ok = v is not None and (v < c[2] if c[1] == "<" else v > c[2])
            verdicts.append((f"{w}: {c[3]} {c[1]} {c[2]}", v, ok))
    fresh = next((w for w in order if w.startswith(FRESH[0])), None)
    if fresh and FRESH[1] in groups and "mxgate" in groups[fresh] and "mxgate" in groups[FRESH[1]]:
        a, b = summary(groups[fresh]["mxgate"])["rate"], summary(groups[FRESH[1]]["mxgate"])["rate"]
        if a and b:
            verdicts.append((f"{fresh[4:]}: msgs/s against none waiting >= 0.9", a / b, a / b >= 0.9))
    print()
    print("targets (issue 6), from the medians above:")
    for what, v, ok in verdicts:
        print(f"  {'met    ' if ok else 'NOT met'}  {what}  (measured {fmt(v, 2)})")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "ingest" and len(sys.argv) in (4, 5):
        ingest(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else None)
    elif cmd == "row" and len(sys.argv) >= 8:
        add(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8:])
    elif cmd == "print" and len(sys.argv) == 3:
        print_table(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
