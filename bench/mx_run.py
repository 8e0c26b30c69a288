#!/usr/bin/python3
"""mx_run.py - one run of the MX workload (bench/mx-bench.sh) against one relay.

  mx_run.py --target 127.0.0.1:PORT --sink-port P --sinks A1,A2,..  --domains D1,D2,..
            [--slow-delay S] [-n COUNT] [-s SESSIONS] [-l SIZE] [-T SECS] [--label L]

Starts one smtp-sink per destination on SINK_ADDR:P (counters on, `-c`); the last destination's
sink answers DATA only after --slow-delay seconds (smtp-sink -w). Then starts one smtp-source
per destination at once, each sending COUNT/len(domains) messages to rcpt@DOMAIN over SESSIONS
parallel sessions (a connection per message) to TARGET, so the relay receives the domains
interleaved at the same rate. Waits (bounded by -T) until every sink has its share and prints:

  MXRUN label=.. n=.. accept_s=.. fast_done_s=.. slow_done_s=.. fast_msgs_per_s=..
        all_msgs_per_s=.. fast_over_slow=.. slow_delivered_at_fast_done=k/n
        dom=d1:done_s,.. final=d1:count,.. held_back=no|yes

Times are seconds from the first smtp-source start. fast_msgs_per_s = messages for the fast
destinations / time until the last of them is delivered; all_msgs_per_s = COUNT / time until the
slow one has all of its mail too. held_back=yes when the fast destinations finished later than
half the slow one's completion time (with the slow one not holding them back they finish about
when the relay has accepted everything). Exit status 0 only if every sink got its share.
Loopback only."""
import argparse
import os
import selectors
import socket
import subprocess
import sys
import time

SRC = "/usr/sbin/smtp-source"
SNK = "/usr/sbin/smtp-sink"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--sink-port", type=int, required=True)
    ap.add_argument("--sinks", required=True, help="one loopback address per domain")
    ap.add_argument("--domains", required=True)
    ap.add_argument("--slow-delay", type=int, default=1)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-s", type=int, default=5)
    ap.add_argument("-l", type=int, default=4096)
    ap.add_argument("-T", type=float, default=240)
    ap.add_argument("--label", default="relay")
    a = ap.parse_args()
    sinks = a.sinks.split(",")
    doms = a.domains.split(",")
    th, _, tp = a.target.rpartition(":")
    if len(sinks) != len(doms) or len(doms) < 2:
        sys.exit("one sink address per domain, at least 2")
    if not all(x.startswith("127.") for x in sinks + [th]):
        sys.exit("loopback only")
    per = a.n // len(doms)
    n = per * len(doms)
    slow = len(doms) - 1

    procs = []
    try:
        # sinks: counters on stdout, "sess=.. quit=.. mesg=N\r" after every "."
        sel = selectors.DefaultSelector()
        sp = []
        for i, addr in enumerate(sinks):
            cmd = [SNK, "-u", "nobody", "-c"]
            if i == slow and a.slow_delay > 0:
                cmd += ["-w", str(a.slow_delay)]
            cmd += ["%s:%d" % (addr, a.sink_port), "1024"]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            procs.append(p)
            sp.append(p)
            os.set_blocking(p.stdout.fileno(), False)
            sel.register(p.stdout, selectors.EVENT_READ, i)
        for addr in sinks:  # bounded wait until each sink listens
            for _ in range(100):
                try:
                    socket.create_connection((addr, a.sink_port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                sys.exit("smtp-sink on %s:%d did not start" % (addr, a.sink_port))
        count = [0] * len(doms)
        done = [None] * len(doms)
        buf = [b""] * len(doms)
        slow_at_fast = None

        def pump(timeout):
            nonlocal slow_at_fast
            for key, _ in sel.select(timeout):
                i = key.data
                try:
                    chunk = os.read(key.fileobj.fileno(), 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf[i] += chunk
                *recs, buf[i] = buf[i].split(b"\r")
                for r in recs:
                    k = r.rfind(b"mesg=")
                    if k >= 0:
                        count[i] = int(r[k + 5:].split()[0])
                if done[i] is None and count[i] >= per:
                    done[i] = time.monotonic() - t0
                    if slow_at_fast is None and all(d is not None for j, d in enumerate(done) if j != slow):
                        slow_at_fast = count[slow]

        t0 = time.monotonic()
        src = []
        for d in doms:
            p = subprocess.Popen([SRC, "-M", "localhost", "-f", "sender@bench.example", "-t", "rcpt@" + d,
                                  "-s", str(a.s), "-m", str(per), "-l", str(a.l), a.target],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            procs.append(p)
            src.append(p)
        acc = None
        while time.monotonic() - t0 < a.T:
            pump(0.05)
            if acc is None and all(p.poll() is not None for p in src):
                acc = time.monotonic() - t0
                bad = [p.returncode for p in src if p.returncode != 0]
                if bad:
                    sys.stderr.write("smtp-source failed: %s\n" % src[0].stderr.read().decode(errors="replace")[-300:])
                    sys.exit(1)
            if acc is not None and all(x is not None for x in done):
                break
        time.sleep(0.3)  # late duplicates would show in the final counts
        pump(0)
        ok = acc is not None and all(x is not None for x in done)
        fast = max((x for j, x in enumerate(done) if j != slow and x is not None), default=None)
        sd = done[slow]
        f3 = lambda x: "%.3f" % x if x is not None else "timeout"
        line = ["MXRUN label=%s target=%s n=%d per_domain=%d sessions=%dx%d size=%d slow_delay_s=%d"
                % (a.label, a.target, n, per, len(doms), a.s, a.l, a.slow_delay),
                "accept_s=%s" % f3(acc), "fast_done_s=%s" % f3(fast), "slow_done_s=%s" % f3(sd)]
        if fast is not None:
            line.append("fast_msgs_per_s=%.1f" % (per * slow / fast))
        if sd is not None and fast is not None:
            line.append("all_msgs_per_s=%.1f" % (n / max(fast, sd)))
            line.append("fast_over_slow=%.2f" % (fast / sd))
        line.append("slow_delivered_at_fast_done=%s/%d" % (slow_at_fast if slow_at_fast is not None else "?", per))
        line.append("dom=" + ",".join("%s:%s" % (d, f3(x)) for d, x in zip(doms, done)))
        line.append("final=" + ",".join("%s:%d" % (d, c) for d, c in zip(doms, count)))
        if fast is not None and sd is not None:
            line.append("held_back=%s" % ("yes" if fast > 0.5 * sd else "no"))
        if any(c > per for c in count):
            line.append("WARNING=duplicates")
        print(" ".join(line), flush=True)
        sys.exit(0 if ok else 1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
