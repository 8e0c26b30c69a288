"""Robustness tests against the real binary: kill -9 under load, a full disk, graceful
stop, start-up recovery, connection limits, the privilege drop, and a client that
pipelines without reading.

The kill -9 test is reproducible: its random moments come from random.Random(seed),
seed = $MXGATE_KILL9_SEED (default KILL9_SEED), printed in the result line
`KILL9 acknowledged=N delivered=N duplicates=N lost=N seed=S`, which also goes to
/tmp/mxgate-kill9-result.txt.
"""
import collections
import os
import pwd
import random
import re
import signal
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from conftest import ASAN, SLOW, Raw, wait_until

KILL9_SEED = int(os.environ.get("MXGATE_KILL9_SEED", "4711"))
KILL9_MESSAGES = int(os.environ.get("MXGATE_KILL9_MESSAGES", "800" if ASAN else "3000"))
KILL9_THREADS = 8
GATE_SLACK = 8 * KILL9_THREADS
KILL9_RESULT = "/tmp/mxgate-kill9-result.txt"
SEQ_RX = re.compile(rb"\bkseq-(\d+)\b")
QID_ALPHA = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def make_message(subject, msgid, extra="", body="hello\r\n"):
    return ("From: <sender@client.test>\r\nTo: <rcpt@sink.test>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n%s\r\n%s"
            % (subject, msgid, extra, body)).encode()


def send_one(port, msgid, rcpt="rcpt@sink.test", body="hello\r\n"):
    """One message over a fresh connection; raises on anything but 250."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10 * SLOW) as c:
        c.sendmail("sender@client.test", [rcpt], make_message(msgid, msgid, body=body))


def queue_listing(gw, sub):
    """The files of a spool directory; in tmp/ without the recycled files of removed messages
    (r.*, kept for reuse by the next drafts: docs/QUEUE.md), which are not messages."""
    p = os.path.join(gw.conf["queue_directory"], sub)
    names = sorted(os.listdir(p)) if os.path.isdir(p) else []
    return [n for n in names if not (sub == "tmp" and n.startswith("r."))]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def sink_has(sink, msgid):
    return any(("<%s>" % msgid).encode() in eml for _, eml in sink.messages())


def new_qid(rng, taken):
    while True:
        q = "".join(rng.choice(QID_ALPHA) for _ in range(16))
        if q not in taken:
            return q


# --------------------------------------------------------------------------------------
# 1. kill -9 during load


class Loader:
    """KILL9_THREADS smtplib clients with connection reuse. A message counts as
    acknowledged only when DATA got 250; connection errors and 4xx are retried (the
    same message, same X-Seq) on a new connection; a 5xx is an error."""

    def __init__(self, port, total, deadline):
        self.port = port
        self.todo = collections.deque(range(total))
        self.acked = set()
        self.errors = []
        self.retries = 0
        self.reasons = collections.Counter()
        self.lock = threading.Lock()
        self.deadline = deadline
        # messages handed out so far, and how many may be: the test holds the load back
        # (gate) until a planned kill has happened, so a fast run cannot finish first
        self.issued = 0
        self.gate = total

    @staticmethod
    def message(seq):
        return ("From: <load@client.test>\r\nTo: <rcpt@sink.test>\r\nSubject: load %d\r\n"
                "Message-ID: <load.%d@client.test>\r\nX-Seq: kseq-%d\r\n\r\nmessage %d\r\n"
                % (seq, seq, seq, seq)).encode()

    def _drop(self, conn):
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def worker(self):
        conn = None
        while True:
            with self.lock:
                if not self.todo or self.errors:
                    break
                held = self.issued >= self.gate
                if not held:
                    seq = self.todo.popleft()
                    self.issued += 1
            if held:
                if time.time() > self.deadline:
                    with self.lock:
                        self.errors.append("deadline reached while held at the gate")
                    break
                time.sleep(0.005)
                continue
            while True:
                if time.time() > self.deadline:
                    with self.lock:
                        self.errors.append("deadline reached while sending seq %d" % seq)
                    self._drop(conn)
                    return
                retry = False
                try:
                    if conn is None:
                        conn = smtplib.SMTP("127.0.0.1", self.port, timeout=10 * SLOW)
                        conn.ehlo("client.test")
                    conn.sendmail("load@client.test", ["rcpt%d@sink.test" % seq], self.message(seq))
                    with self.lock:
                        self.acked.add(seq)
                    break
                except smtplib.SMTPRecipientsRefused as e:
                    codes = [c for c, _ in e.recipients.values()]
                    if all(400 <= c < 500 for c in codes):
                        retry = "RCPT %s" % codes[0]
                    else:
                        with self.lock:
                            self.errors.append("seq %d: RCPT refused %r" % (seq, e.recipients))
                        break
                except smtplib.SMTPResponseException as e:
                    if 400 <= e.smtp_code < 500:
                        retry = "%d %s" % (e.smtp_code, e.smtp_error[:5].decode(errors="replace"))
                    else:
                        with self.lock:
                            self.errors.append("seq %d: %d %r" % (seq, e.smtp_code, e.smtp_error))
                        break
                except (smtplib.SMTPServerDisconnected, OSError) as e:
                    retry = type(e).__name__
                if retry:
                    with self.lock:
                        self.retries += 1
                        self.reasons[retry] += 1
                    self._drop(conn)
                    conn = None
                    time.sleep(0.05)
        if conn is not None:
            try:
                conn.quit()
            except Exception:
                self._drop(conn)


def read_index(sink):
    p = os.path.join(sink.dir, "index.log")
    if not os.path.exists(p):
        return collections.Counter()
    with open(p, "rb") as f:
        return collections.Counter(int(m.group(1)) for m in SEQ_RX.finditer(f.read()))


def test_kill9_during_load(mkgw, mksink, record_property):
    seed = KILL9_SEED
    total = KILL9_MESSAGES
    rng = random.Random(seed)
    print("\nKILL9 seed=%d messages=%d threads=%d (reproduce: MXGATE_KILL9_SEED=%d)" % (seed, total, KILL9_THREADS, seed))
    sink = mksink("--index-only")
    gw = mkgw(sink=sink)
    # three kill -9 of mxgate and one of the sink, at random points of the load
    # (given as a number of acknowledged messages) plus a random extra delay
    lo, hi = int(total * 0.08), int(total * 0.85)
    actions = [(n, "gw", rng.uniform(0, 0.02), rng.uniform(0.05, 0.5)) for n in rng.sample(range(lo, hi), 3)]
    actions.append((rng.randrange(int(total * 0.2), int(total * 0.7)), "sink", rng.uniform(0, 0.02),
                    rng.uniform(0.3, 1.0)))
    actions.sort()
    print("KILL9 plan: %s" % ", ".join("%s@%d(+%.2fs, down %.2fs)" % (k, n, d, down) for n, k, d, down in actions))

    loader = Loader(gw.port, total, time.time() + 300 * SLOW)
    threads = [threading.Thread(target=loader.worker, daemon=True) for _ in range(KILL9_THREADS)]
    t0 = time.time()
    for t in threads:
        t.start()
    done = []
    sink_thread = None
    pending = list(actions)
    # every planned kill happens while messages are still in flight: the loader may run at
    # most GATE_SLACK messages past the next planned point until that kill is done
    loader.gate = pending[0][0] + GATE_SLACK
    while any(t.is_alive() for t in threads):
        with loader.lock:
            n = len(loader.acked)
        if pending and n >= pending[0][0]:
            at, kind, delay, down = pending.pop(0)
            time.sleep(delay)
            with loader.lock:
                n = len(loader.acked)
            if kind == "gw":
                gw.kill9()
                time.sleep(down)
                gw.start()
            else:
                # the sink comes back in the background (starting python takes a while):
                # the load, and the kills of mxgate planned meanwhile, go on
                sink.kill9()

                def sink_back(down=down):
                    time.sleep(down)
                    sink.start()
                sink_thread = threading.Thread(target=sink_back, daemon=True)
                sink_thread.start()
            with loader.lock:
                done.append("%s at %d acked (planned %d, back at %d)" % (kind, n, at, len(loader.acked)))
                loader.gate = pending[0][0] + GATE_SLACK if pending else total
            continue
        time.sleep(0.01)
    for t in threads:
        t.join(5)
    if sink_thread is not None:
        sink_thread.join(30)
        assert sink.proc is not None, "sink did not come back"
    load_s = time.time() - t0
    print("KILL9 load finished in %.1fs, retries=%d (%s), actions: %s" % (
        load_s, loader.retries, ", ".join("%s: %d" % kv for kv in loader.reasons.most_common()), "; ".join(done)))
    acked = set(loader.acked)
    wait_until(lambda: acked <= set(read_index(sink)), 120, step=0.5)
    got = read_index(sink)
    delivered = set(got)
    duplicates = sum(c - 1 for c in got.values())
    lost = sorted(acked - delivered)
    line = "KILL9 acknowledged=%d delivered=%d duplicates=%d lost=%d seed=%d" % (
        len(acked), len(delivered), duplicates, len(lost), seed)
    print(line)
    record_property("kill9", line)
    with open(KILL9_RESULT, "w") as f:
        f.write(line + "\n")
    assert not loader.errors, "client errors: %s" % loader.errors[:10]
    assert len(done) == len(actions), "not every kill happened: %s" % done
    assert len(acked) == total, "only %d of %d messages acknowledged" % (len(acked), total)
    assert not lost, "acknowledged but never delivered: %s ...\n%s" % (lost[:20], gw.log()[-3000:])
    assert delivered <= set(range(total)), "sink got unknown sequence numbers"
    # everything acknowledged left the queue again
    assert wait_until(lambda: gw.queue_files() == 0, 30), "queue not empty: %s" % gw.mailq()[-2000:]


# --------------------------------------------------------------------------------------
# 2. disk full


def fill(path):
    """Write path until the file system is full; returns the size written."""
    chunk = b"\0" * (64 * 1024)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (64 * 1024, 4096, 512, 1):
            while True:
                try:
                    os.write(fd, chunk[:size])
                except OSError as e:
                    if e.errno != 28:  # ENOSPC
                        raise
                    break
        os.fsync(fd)
    finally:
        os.close(fd)
    return os.path.getsize(path)


def message_of_size(msgid, n):
    """A message of exactly n octets (CRLF lines)."""
    head = make_message(msgid, msgid, body="")
    left = n - len(head)
    assert left >= 2
    lines = []
    while left > 80:
        lines.append(b"y" * 76 + b"\r\n")
        left -= 78
    lines.append(b"z" * (left - 2) + b"\r\n")
    m = head + b"".join(lines)
    assert len(m) == n
    return m


def assert_nothing_half_written(gw):
    for sub in ("tmp", "input", "output", "deferred"):
        assert queue_listing(gw, sub) == [], "%s/ not empty after a refused message: %s\n%s" % (
            sub, queue_listing(gw, sub), gw.log()[-2000:])


def test_disk_full(mkgw, mksink):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs as the queue directory needs root")
    sink = mksink()
    gw = mkgw(sink=sink, start=False)
    qdir = gw.conf["queue_directory"]
    os.makedirs(qdir, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", qdir],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs on the queue directory: %s" % r.stdout.decode(errors="replace").strip())
    try:
        gw.start()
        first = make_message("first", "before-full@client.test")
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=10 * SLOW) as c:
            c.sendmail("sender@client.test", ["rcpt@sink.test"], first)
        assert sink.wait_count(1), "first message not delivered"
        assert wait_until(lambda: gw.queue_files() == 0, 10)
        received_len = len(sink.messages()[0][1]) - len(first)  # our Received: header
        assert 50 < received_len < 400, received_len
        filler = os.path.join(qdir, "filler")
        size = fill(filler)
        assert size > 1024 * 1024, "filler only %d octets: is the tmpfs really 2 MB?" % size

        big = ("X" * 76 + "\r\n") * 4000  # ~300 KB
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=10 * SLOW) as c:
            # (a) 64 KB free: the message starts being written and runs out of space
            os.truncate(filler, size - 64 * 1024)
            with pytest.raises(smtplib.SMTPDataError) as ei:
                c.sendmail("sender@client.test", ["rcpt@sink.test"], make_message("big", "big@client.test", body=big))
            assert ei.value.smtp_code == 452 and ei.value.smtp_error.startswith(b"4.3.1"), ei.value
            assert_nothing_half_written(gw)
            # (b) completely full: a small message does not fit either
            fill(filler)
            with pytest.raises(smtplib.SMTPDataError) as ei:
                c.sendmail("sender@client.test", ["rcpt@sink.test"], make_message("small", "small@client.test"))
            assert ei.value.smtp_code == 452 and ei.value.smtp_error.startswith(b"4.3.1"), ei.value
            assert_nothing_half_written(gw)
            assert re.search(r"event=(write_error|queue_create_error)", gw.log()), gw.log()[-2000:]
            # (c) the content fits exactly into the free pages, the envelope written at
            # commit does not: the commit fails and the file goes away
            size = fill(filler)
            pages = 4
            os.truncate(filler, size - pages * 4096)
            exact = message_of_size("exact@client.test", pages * 4096 - 128 - received_len)
            with pytest.raises(smtplib.SMTPDataError) as ei:
                c.sendmail("sender@client.test", ["rcpt@sink.test"], exact)
            assert ei.value.smtp_code == 452 and ei.value.smtp_error.startswith(b"4.3.1"), ei.value
            assert_nothing_half_written(gw)
            assert "event=commit_error" in gw.log(), gw.log()[-2000:]
            # space again: the next message on the same connection is accepted and delivered
            os.unlink(filler)
            c.sendmail("sender@client.test", ["rcpt@sink.test"], make_message("after", "after-full@client.test", body=big))
        assert sink.wait_count(2), "message after the disk-full episode not delivered"
        assert wait_until(lambda: gw.queue_files() == 0, 10)
        msgs = sink.messages()
        assert len(msgs) == 2
        assert b"<after-full@client.test>" in msgs[1][1] and msgs[1][1].endswith(big.encode())
        assert not any(re.search(rb"<(big|small|exact)@client.test>", m) for _, m in msgs)
    finally:
        try:
            gw.stop()
        finally:
            r = subprocess.run(["umount", qdir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", qdir], timeout=30)


# --------------------------------------------------------------------------------------
# 3. graceful stop


def test_graceful_stop(mkgw, mksink, raw):
    shutdown_timeout = 5
    sink = mksink()
    sink.stop()  # next hop down: the message acknowledged before SIGTERM stays queued
    gw = mkgw(sink=sink, shutdown_timeout="%ds" % shutdown_timeout)
    idle_greeted = raw(gw.port)
    idle_greeted.expect(220)
    idle_ehlo = raw(gw.port)
    idle_ehlo.expect(220)
    idle_ehlo.cmd("EHLO client.test")
    idle_ehlo.expect(250)
    idle_tx = raw(gw.port)
    idle_tx.expect(220)
    for cmd, code in (("EHLO client.test", 250), ("MAIL FROM:<a@client.test>", 250), ("RCPT TO:<b@sink.test>", 250)):
        idle_tx.cmd(cmd)
        idle_tx.expect(code)
    acked = raw(gw.port)
    acked.expect(220)
    for cmd, code in (("EHLO client.test", 250), ("MAIL FROM:<a@client.test>", 250), ("RCPT TO:<b@sink.test>", 250),
                      ("DATA", 354)):
        acked.cmd(cmd)
        acked.expect(code)
    acked.send(make_message("acked", "acked@client.test") + b".\r\n")
    acked.expect(250)
    middata = raw(gw.port)
    middata.expect(220)
    for cmd, code in (("EHLO client.test", 250), ("MAIL FROM:<a@client.test>", 250), ("RCPT TO:<b@sink.test>", 250),
                      ("DATA", 354)):
        middata.cmd(cmd)
        middata.expect(code)
    middata.send(make_message("middata", "middata@client.test", body="first line\r\nsecond line\r\n"))
    time.sleep(0.5 * SLOW)  # let the gateway read the partial content

    proc = gw.proc
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    for name, r in (("idle after greeting", idle_greeted), ("idle after EHLO", idle_ehlo),
                    ("idle in a transaction", idle_tx), ("idle after 250", acked)):
        line = r.line(5)
        assert line.startswith("421 4.3.2"), "%s: got %r" % (name, line)
        assert r.closed(), "%s: connection not closed after 421" % name
    line = middata.line(5)
    assert line.startswith("421"), "mid-DATA session got %r" % line
    assert middata.closed(), "mid-DATA session not closed"
    try:
        rc = proc.wait(shutdown_timeout * SLOW + 5)
    except subprocess.TimeoutExpired:
        raise AssertionError("mxgate still running %ds after SIGTERM\n%s" % (shutdown_timeout * SLOW + 5,
                                                                              gw.log()[-3000:]))
    elapsed = time.time() - t0
    gw.proc = None
    gw.check_log()
    assert rc == 0, "exit status %s\n%s" % (rc, gw.log()[-3000:])
    assert elapsed < shutdown_timeout * SLOW, "took %.1fs to stop (shutdown_timeout %ds)" % (elapsed, shutdown_timeout)
    assert "event=shutdown_drained" in gw.log(), gw.log()[-3000:]
    # the mid-DATA message is nowhere in the queue, the acknowledged one is
    assert queue_listing(gw, "tmp") == []
    contents = []
    for sub in ("input", "output", "deferred", "hold"):
        for q in queue_listing(gw, sub):
            with open(os.path.join(gw.conf["queue_directory"], sub, q), "rb") as f:
                contents.append(f.read())
    assert not any(b"<middata@client.test>" in c for c in contents), "mid-DATA message was queued"
    assert sum(b"<acked@client.test>" in c for c in contents) == 1, "acknowledged message not in the queue"

    sink.start()
    gw.start()
    assert wait_until(lambda: sink_has(sink, "acked@client.test"), 20), "acknowledged message not delivered after restart"
    assert wait_until(lambda: gw.queue_files() == 0, 10), gw.mailq()
    time.sleep(0.5)
    assert sink.count() == 1, "unexpected deliveries: %d" % sink.count()
    assert not sink_has(sink, "middata@client.test")


# --------------------------------------------------------------------------------------
# 4. recovery at start-up


def test_recovery_at_startup(mkgw, mksink):
    sink = mksink()
    sink.stop()  # next hop down: messages get deferred
    gw = mkgw(sink=sink)
    ids = ["good%d@client.test" % i for i in range(3)]
    for m in ids:
        send_one(gw.port, m)
    gw.wait_log(r"event=deferred_message", count=3)
    gw.stop()
    qdir = gw.conf["queue_directory"]
    deferred = queue_listing(gw, "deferred")
    assert len(deferred) == 3, "expected 3 deferred messages, have %s" % deferred
    owner = os.stat(qdir).st_uid
    group = os.stat(qdir).st_gid
    rng = random.Random(99)
    taken = set(deferred)

    def plant(sub, name, data):
        p = os.path.join(qdir, sub, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, owner, group)
        os.chmod(p, 0o600)
        taken.add(name)
        return name

    garbage = plant("output", new_qid(rng, taken), b"this is not a queue file\n" * 50)
    with open(os.path.join(qdir, "deferred", deferred[0]), "rb") as f:
        real = f.read()
    m = re.match(rb"MXQ1 b=(\d+):(\d+) e=(\d+):(\d+) ", real)
    assert m, "unexpected queue file header %r" % real[:128]
    env_off, env_len = int(m.group(3)), int(m.group(4))
    assert env_len > 2
    truncated = plant("deferred", new_qid(rng, taken), real[:env_off + env_len // 2])
    junk_tmp = [plant("tmp", new_qid(rng, taken), real[:300]), plant("tmp", "junk.partial", b"junk")]
    assert len(queue_listing(gw, "tmp")) == len(junk_tmp)

    sink.start()
    gw.start()
    assert wait_until(lambda: all(sink_has(sink, i) for i in ids), 20), "good messages not delivered:\n" + gw.log()[-3000:]
    assert wait_until(lambda: gw.queue_files() == 0, 10), gw.mailq()
    assert sorted(queue_listing(gw, "corrupt")) == sorted([garbage, truncated])
    assert queue_listing(gw, "tmp") == [], "tmp/ not emptied"
    log = gw.log()
    assert re.search(r"queue=%s event=corrupt dir=output" % garbage, log), log[-3000:]
    assert re.search(r"queue=%s event=corrupt dir=deferred" % truncated, log), log[-3000:]
    assert "incomplete_removed=%d" % len(junk_tmp) in log, log[-3000:]
    time.sleep(0.5)
    assert sink.count() == 3, "corrupt copies delivered? sink has %d messages" % sink.count()


# --------------------------------------------------------------------------------------
# 5. connection limits


def connect_greeting(port):
    """(Raw, first line) or (None, error)."""
    try:
        r = Raw(port, timeout=3)
    except OSError as e:
        return None, str(e)
    try:
        return r, r.line()
    except (EOFError, OSError) as e:
        r.close()
        return None, str(e)


def wait_no_sessions(gw):
    """Wait until every session so far (wait_port's probe too) has ended."""
    def idle():
        log = gw.log()
        c, d = log.count(" event=connect "), log.count(" event=disconnect ")
        return c >= 1 and c == d
    assert wait_until(idle, 10), "sessions still open:\n" + gw.log()[-2000:]


def greeted(raw, port, n):
    """n connections, each greeted with 220."""
    conns = [raw(port) for _ in range(n)]
    for r in conns:
        r.expect(220)
    return conns


def accepted_again(port, keep):
    def attempt():
        r, line = connect_greeting(port)
        if r is not None and line.startswith("220"):
            keep.append(r)
            return True
        if r is not None:
            r.close()
        time.sleep(0.05)
        return False
    return wait_until(attempt, 10)


def test_limit_per_client_ip(mkgw, raw):
    # 127.0.0.1 is in mynetworks, exempt by default (smtpd_client_event_limit_exceptions)
    gw = mkgw(smtpd_client_connection_count_limit=2, smtpd_client_event_limit_exceptions="")
    wait_no_sessions(gw)
    a, b = greeted(raw, gw.port, 2)
    c = raw(gw.port)
    line = c.line()
    assert line.startswith("421 4.7.0"), line
    assert c.closed()
    gw.wait_log(r"event=reject_connect client=127\.0\.0\.1 reason=refused_per_ip_limit limit=smtpd_client_connection_count_limit")
    a.cmd("QUIT")
    a.expect(221)
    keep = []
    try:
        assert accepted_again(gw.port, keep), "a new connection is still refused after one closed"
        d = raw(gw.port)
        assert d.line().startswith("421 4.7.0")
    finally:
        for r in keep:
            r.close()


def test_limit_per_client_ip_exempts_mynetworks(mkgw, raw):
    """Default smtpd_client_event_limit_exceptions = $mynetworks (Postfix): loopback is exempt."""
    gw = mkgw(smtpd_client_connection_count_limit=1)
    wait_no_sessions(gw)
    conns = greeted(raw, gw.port, 3)


def test_limit_sessions(mkgw, raw):
    gw = mkgw(smtpd_session_limit=3)
    wait_no_sessions(gw)
    conns = greeted(raw, gw.port, 3)
    extra = raw(gw.port)
    line = extra.line()
    assert line.startswith("421 4.3.2"), line
    assert extra.closed()
    gw.wait_log(r"event=reject_connect client=127\.0\.0\.1 reason=refused_session_limit limit=smtpd_session_limit")
    conns[0].close()
    conns[1].cmd("QUIT")
    conns[1].expect(221)
    keep = []
    try:
        assert accepted_again(gw.port, keep), "no new session accepted after two closed"
        assert accepted_again(gw.port, keep), "second new session not accepted"
        r = raw(gw.port)
        assert r.line().startswith("421 4.3.2"), "limit no longer enforced"
    finally:
        for r in keep:
            r.close()


def test_session_time_limit(mkgw, raw):
    limit = 2
    gw = mkgw(smtpd_session_time_limit="%ds" % limit, smtpd_timeout="60s")
    t0 = time.time()
    r = raw(gw.port)
    r.expect(220)
    r.cmd("EHLO client.test")
    r.expect(250)
    noops = 0
    end = t0 + limit + 10 * SLOW
    while True:
        assert time.time() < end, "no 421 after %d NOOPs in %.1fs" % (noops, time.time() - t0)
        r.cmd("NOOP")
        line = r.line()
        if line.startswith("421"):
            break
        assert line.startswith("250"), line
        noops += 1
        time.sleep(0.2)
    elapsed = time.time() - t0
    assert line.startswith("421 4.4.2"), line
    assert r.closed(), "connection not closed after the session time limit"
    assert noops >= 3, "only %d NOOPs answered" % noops
    assert limit - 0.5 <= elapsed <= limit + 3 * SLOW, "421 after %.1fs, limit %ds" % (elapsed, limit)


# --------------------------------------------------------------------------------------
# 6. privilege drop


def test_privilege_drop(mkgw):
    if os.geteuid() != 0:
        pytest.skip("the privilege drop happens only when started as root")
    gw = mkgw()
    owner = gw.conf.get("mail_owner", "mxgate")
    pw = pwd.getpwnam(owner)
    # the port listens before the drop; "started" is logged after it
    gw.wait_log(r"event=started .*user=%s " % re.escape(owner))
    st = proc_status(gw.pid())
    assert st["Uid"] == [str(pw.pw_uid)] * 4, "uids (real, effective, saved, fs) %s, want %d" % (st["Uid"], pw.pw_uid)
    assert st["Gid"] == [str(pw.pw_gid)] * 4, "gids %s, want %d" % (st["Gid"], pw.pw_gid)
    assert st.get("Groups", []) in ([], [str(pw.pw_gid)]), "supplementary groups kept: %s" % st.get("Groups")
    # only CAP_NET_BIND_SERVICE (bit 10) is kept, so that a reload can bind a new port below 1024
    assert st["CapEff"] == ["%016x" % (1 << 10)], "capabilities left: %s" % st["CapEff"]
    qdir = gw.conf["queue_directory"]
    for p in [qdir] + [os.path.join(qdir, d) for d in ("tmp", "input", "output", "deferred", "hold", "corrupt")]:
        s = os.stat(p)
        assert (s.st_uid, s.st_gid) == (pw.pw_uid, pw.pw_gid), "%s owned by %d:%d" % (p, s.st_uid, s.st_gid)
        assert s.st_mode & 0o077 == 0, "%s has mode %o" % (p, s.st_mode & 0o777)


# --------------------------------------------------------------------------------------
# 7. a client that pipelines without reading


def test_pipelining_without_reading_is_bounded(mkgw):
    gw = mkgw()
    pid = gw.pid()
    # warm up: one normal session
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=10 * SLOW) as c:
        c.ehlo("warm.test")
    time.sleep(0.2)
    rss0 = rss_kb(pid)
    # 8 MB of commands; unthrottled, their replies (~125 octets each) would need ~125 MB
    cmd = b"EHLO f\r\n"
    ncmd = 1_000_000
    chunk = cmd * 4096
    nchunks = ncmd // 4096
    ncmd = nchunks * 4096
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=60 * SLOW)
    sent = [0]
    err = []

    def sender():
        try:
            for _ in range(nchunks):
                sock.sendall(chunk)
                sent[0] += len(chunk)
            sock.sendall(b"QUIT\r\n")
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    # wait until the sender makes no more progress (or is done)
    last, still_since = -1, time.time()
    end = time.time() + 30 * SLOW
    while time.time() < end and t.is_alive():
        if sent[0] != last:
            last, still_since = sent[0], time.time()
        elif time.time() - still_since > 1.5:
            break
        time.sleep(0.1)
    peak = 0
    for _ in range(5):
        peak = max(peak, rss_kb(pid))
        time.sleep(0.1)
    growth_mb = (peak - rss0) / 1024.0
    stalled = t.is_alive()
    print("\nflood: sent %.1f MB of %.1f MB before stalling (stalled=%s), RSS %d kB -> %d kB (+%.1f MB)"
          % (sent[0] / 1e6, len(chunk) * nchunks / 1e6, stalled, rss0, peak, growth_mb))
    bound = 48 if ASAN else 24
    assert growth_mb < bound, "gateway memory grew by %.1f MB while the client did not read" % growth_mb
    # now read: every command gets its reply, in order, ending with 221 for QUIT
    finals = 0
    leftover = b""
    got_221 = False
    deadline = time.time() + 120 * SLOW
    while not got_221:
        assert time.time() < deadline, "replies stopped after %d of %d" % (finals, ncmd)
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            raise AssertionError("no more replies after %d of %d" % (finals, ncmd))
        if not data:
            break
        lines = (leftover + data).split(b"\r\n")
        leftover = lines.pop()
        for l in lines:
            if l[3:4] == b" ":
                if l.startswith(b"221"):
                    got_221 = True
                elif l.startswith(b"250"):
                    finals += 1
                elif not l.startswith(b"220"):
                    raise AssertionError("unexpected reply %r after %d replies" % (l, finals))
    t.join(10)
    sock.close()
    assert not err, err
    assert finals == ncmd, "%d EHLO replies for %d commands" % (finals, ncmd)
    assert got_221, "no 221 for QUIT"
    # the gateway still serves others normally
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=10 * SLOW) as c:
        assert c.noop()[0] == 250
