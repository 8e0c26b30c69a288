#!/usr/bin/python3
"""backlog.py SPOOL TEMPLATE COUNT [DUE_S] - plant a backlog of deferred messages.

TEMPLATE is a deferred queue file that mxgate wrote itself (a message to a destination that
refused the connection). Each copy gets a fresh queue id, in its file name and in the envelope's
Q record, with the envelope's CRC and the header (commit marker) written again, so mxgate reads
it as its own; its mtime, which is its next attempt, is DUE_S seconds ahead (default 3600), so
the backlog waits while fresh mail is measured. Files go to SPOOL/deferred/, two writer
processes, owned like the spool. Prints: BACKLOG count=.. seconds=.. bytes_each=..
Used by bench/bench.sh (recovery with a large deferred queue, fresh mail beside it)."""
import os
import re
import sys
import time
import zlib
from multiprocessing import Process

ALPHA = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as base/ids.c
HDR = re.compile(rb"^MXQ1 b=(\d+):(\d+) e=(\d+):(\d+) c=([0-9a-f]{8})")


def qid(n):
    s = ""
    for _ in range(14):
        s = ALPHA[n % 32] + s
        n //= 32
    return "ZZ" + s  # no real id starts with ZZ for centuries


def parse(t):
    m = HDR.match(t)
    if not m:
        sys.exit("backlog.py: template has no MXQ1 header")
    hsize = t.index(b"\n") + 1
    eo, el = int(m.group(3)), int(m.group(4))
    env = t[eo:eo + el]
    q = re.search(rb"^Q ([0-9A-Z]{16})$", env, re.M)
    if not q or zlib.crc32(env) != int(m.group(5), 16):
        sys.exit("backlog.py: template envelope unreadable (Q record or CRC)")
    return hsize, m, eo, el, q.start(1)


def writer(spool, t, lo, hi, due, uid, gid):
    hsize, m, eo, el, qpos = parse(t)
    d = os.open(os.path.join(spool, "deferred"), os.O_RDONLY | os.O_DIRECTORY)
    body = bytearray(t)
    for n in range(lo, hi):
        q = qid(n).encode()
        body[eo + qpos:eo + qpos + 16] = q
        crc = zlib.crc32(bytes(body[eo:eo + el]))
        h = b"MXQ1 b=%s:%s e=%s:%s c=%08x" % (m.group(1), m.group(2), m.group(3), m.group(4), crc)
        body[0:hsize] = h + b" " * (hsize - 1 - len(h)) + b"\n"
        fd = os.open(q, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=d)
        os.write(fd, body)
        os.utime(fd, (due, due))
        if uid >= 0:
            os.fchown(fd, uid, gid)
        os.close(fd)
    os.close(d)


def main():
    spool, template, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    due = time.time() + (float(sys.argv[4]) if len(sys.argv) > 4 else 3600)
    with open(template, "rb") as f:
        t = f.read()
    parse(t)
    st = os.stat(os.path.join(spool, "deferred"))
    uid, gid = (st.st_uid, st.st_gid) if os.geteuid() == 0 else (-1, -1)
    t0 = time.time()
    half = count // 2
    ps = [Process(target=writer, args=(spool, t, lo, hi, due, uid, gid)) for lo, hi in ((0, half), (half, count))]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    if any(p.exitcode for p in ps):
        sys.exit("backlog.py: a writer failed")
    print("BACKLOG count=%d seconds=%.1f bytes_each=%d" % (count, time.time() - t0, len(t)))


if __name__ == "__main__":
    main()
