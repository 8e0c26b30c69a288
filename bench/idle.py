#!/usr/bin/python3
"""idle.py HOST:PORT PID COUNT - memory of COUNT idle SMTP sessions.

Opens COUNT connections to the relay (loopback only), one after another, each read up to its
220 greeting, then sends EHLO on each (so each session has parsed a command and answered it), then
reads the relay's memory (PSS and RSS of PID from /proc/PID/smaps_rollup) and compares it with
the figure before the first connection. Prints one line:
IDLE target=.. sessions=.. greeted=.. before_pss_kb=.. after_pss_kb=.. pss_per_session_kb=..
rss_per_session_kb=.. open_s=..
Needs RLIMIT_NOFILE above COUNT (raised here up to the hard limit)."""
import resource
import selectors
import socket
import sys
import time


def mem(pid):
    pss = rss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    return pss, rss


def read_replies(socks, want, deadline):
    """Read until each socket has a final reply line starting with `want`. Returns the count."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    done = 0
    while done < len(socks) and time.time() < deadline:
        for key, _ in sel.select(1.0):
            s = key.fileobj
            d = s.recv(4096)
            if not d:
                sel.unregister(s)
                continue
            bufs[s] += d
            lines = bufs[s].split(b"\r\n")
            if any(ln[:3] == want and ln[3:4] == b" " for ln in lines):
                sel.unregister(s)
                done += 1
    sel.close()
    return done


def main():
    target, pid, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    host, _, port = target.rpartition(":")
    if not host.startswith("127."):
        sys.exit("loopback only")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 256)), hard))
    before = mem(pid)
    t0 = time.time()
    socks = []
    greeted = 0
    for _ in range(count):
        s = socket.create_connection((host, int(port)), timeout=30)
        # the greeting before the next connect, as a client does
        if s.recv(512).startswith(b"220"):
            greeted += 1
        s.setblocking(False)
        socks.append(s)
    for s in socks:
        s.sendall(b"EHLO idle.bench\r\n")
    ehlo = read_replies(socks, b"250", time.time() + 120)
    open_s = time.time() - t0
    time.sleep(1)
    after = mem(pid)
    n = max(1, ehlo)
    print("IDLE target=%s sessions=%d greeted=%d ehlo=%d before_pss_kb=%d after_pss_kb=%d pss_per_session_kb=%.2f "
          "rss_per_session_kb=%.2f open_s=%.1f" % (target, count, greeted, ehlo, before[0], after[0],
                                                  (after[0] - before[0]) / n, (after[1] - before[1]) / n, open_s))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
