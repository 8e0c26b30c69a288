"""Every message of ../shared/corpus relayed through the gateway with smtplib and compared
byte for byte at the sink (apart from the Received: header the gateway prepends).

Preparation of a file (SMTP needs CRLF lines): an mbox "From " first line is dropped,
bare LF becomes CRLF; nothing else changes (8-bit bytes, NULs, bare CRs stay). smtplib
dot-stuffs and appends CRLF if the content does not end with one. Expected outcome:
  - a bare CR left in the content: 554 5.5.2 (smtpd_forbid_bare_newline = yes, the default)
  - a line longer than 998 octets: 554 5.6.0 under the default smtpd_data_line_limit,
    accepted byte-exact with smtpd_data_line_limit = 0
  - everything else: 250 and byte-exact at the sink.
Each message has its own recipient c<N>@corpus.test, which identifies it at the sink.
"""
import hashlib
import os
import re
import smtplib
import threading
import time

import pytest

from conftest import ASAN, ROOT, SLOW, wait_until

CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
MANIFEST = os.path.join(CORPUS, "MANIFEST.tsv")
SKIP_NAME = re.compile(r"(^|/)(README[^/]*|[^/]*LICEN[CS]E[^/]*|COPYING[^/]*)$", re.I)
SKIP_DIR = ("docker-mailserver/nc_raw/",)  # SMTP dialog scripts, not messages
CLIENTS = 4
PER_CONNECTION = 25
BARE_LF = re.compile(rb"(?<!\r)\n")
BARE_CR = re.compile(rb"\r(?!\n)")

pytestmark = pytest.mark.skipif(not os.path.exists(MANIFEST), reason="no corpus at %s" % CORPUS)


class Item:
    def __init__(self, idx, path, row):
        self.idx = idx
        self.path = path
        self.tags = set(row[5].split(",")) if len(row) > 5 and row[5] else set()
        with open(os.path.join(CORPUS, path), "rb") as f:
            raw = f.read()
        assert hashlib.sha256(raw).hexdigest() == row[2], "%s differs from MANIFEST.tsv" % path
        data = raw
        if data.startswith(b"From "):
            nl = data.find(b"\n")
            data = data[nl + 1:] if nl >= 0 else b""
        data = BARE_LF.sub(b"\r\n", data)
        self.data = data
        self.bare_cr = bool(BARE_CR.search(data))
        self.long = any(len(l) > 998 for l in data.split(b"\r\n"))
        self.eightbit = any(b >= 0x80 for b in data)
        self.expected = data if data.endswith(b"\r\n") else data + b"\r\n"

    @property
    def rcpt(self):
        return "c%d@corpus.test" % self.idx

    def outcome(self, line_limit):
        if self.bare_cr:
            return (554, b"5.5.2")
        if self.long and line_limit:
            return (554, b"5.6.0")
        return (250, None)


def load_corpus():
    items = []
    with open(MANIFEST, "rb") as f:
        rows = [l.rstrip(b"\n").decode("utf-8").split("\t") for l in f][1:]
    for row in rows:
        path = row[0]
        if SKIP_NAME.search(path) or path.startswith(SKIP_DIR):
            continue
        items.append(Item(len(items), path, row))
    return items


def send_all(port, items):
    """Send items over CLIENTS parallel connections, PER_CONNECTION messages each.
    Returns {idx: (code, enhanced-status-prefix-or-None)}."""
    results = {}
    errors = []
    lock = threading.Lock()
    batches = [items[i:i + PER_CONNECTION] for i in range(0, len(items), PER_CONNECTION)]

    def worker(k):
        for b in batches[k::CLIENTS]:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=30 * SLOW) as c:
                    c.ehlo("corpus.client.test")
                    for it in b:
                        opts = ["BODY=8BITMIME"] if it.eightbit else []
                        try:
                            c.sendmail("corpus@client.test", [it.rcpt], it.data, mail_options=opts)
                            r = (250, None)
                        except smtplib.SMTPDataError as e:
                            r = (e.smtp_code, e.smtp_error)
                        with lock:
                            results[it.idx] = r
            except Exception as e:  # noqa: BLE001 - reported as a test failure
                with lock:
                    errors.append("%s: %r" % ([it.path for it in b][:3], e))

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300 * SLOW)
    assert not any(t.is_alive() for t in threads), "client threads hang"
    assert not errors, "\n".join(errors[:10])
    return results


def received_prefix_ok(prefix):
    """The prepended part must be exactly one Received: header field."""
    if not prefix.startswith(b"Received: ") or not prefix.endswith(b"\r\n"):
        return False
    lines = prefix[:-2].split(b"\r\n")
    return all(l.startswith(b"\t") for l in lines[1:])


def check_run(gw, sink, items, line_limit):
    t0 = time.time()
    results = send_all(gw.port, items)
    want = {it.idx: it.outcome(line_limit) for it in items}
    wrong = []
    for it in items:
        code, text = results[it.idx]
        wcode, wenh = want[it.idx]
        if code != wcode or (wenh is not None and not (text or b"").startswith(wenh)):
            wrong.append("%s: got %s %r, want %s %s" % (it.path, code, (text or b"")[:80], wcode, wenh))
    assert not wrong, "%d unexpected replies:\n%s" % (len(wrong), "\n".join(wrong[:30]))
    accepted = [it for it in items if want[it.idx][0] == 250]
    assert sink.wait_count(len(accepted), timeout=120), "sink has %d of %d messages:\n%s" % (
        sink.count(), len(accepted), gw.log()[-3000:])
    elapsed = time.time() - t0
    by_rcpt = {}
    for env, eml in sink.messages():
        assert len(env["rcpts"]) == 1, env
        assert env["rcpts"][0] not in by_rcpt, "delivered twice: %s" % env["rcpts"][0]
        by_rcpt[env["rcpts"][0]] = eml
    bad = []
    for it in accepted:
        eml = by_rcpt.get(it.rcpt)
        if eml is None:
            bad.append("%s: not delivered" % it.path)
            continue
        cut = len(eml) - len(it.expected)
        if cut <= 0 or eml[cut:] != it.expected or not received_prefix_ok(eml[:cut]):
            tail = eml[-len(it.expected):] if cut > 0 else eml
            off = next((i for i in range(min(len(tail), len(it.expected))) if tail[i] != it.expected[i]), None)
            bad.append("%s: content differs (got %d octets, want %d + Received:; first difference at %s: %r)"
                       % (it.path, len(eml), len(it.expected), off, tail[off:off + 40] if off is not None else b""))
    assert not bad, "%d messages not byte-exact:\n%s" % (len(bad), "\n".join(bad[:30]))
    assert len(by_rcpt) == len(accepted), "sink has unexpected messages"
    assert wait_until(lambda: gw.queue_files() == 0, 20), "queue not empty after the run"
    return accepted, elapsed


def test_corpus_byte_exact(mkgw, mksink):
    items = load_corpus()
    assert len(items) > 1000, "corpus has only %d messages" % len(items)
    # our own reading of the corpus must agree with MANIFEST.tsv
    long_tagged = sorted(it.path for it in items if "line>998" in it.tags)
    assert sorted(it.path for it in items if it.long) == long_tagged
    assert len(long_tagged) >= 10
    nul = [it for it in items if b"\0" in it.data]
    assert sorted(it.path for it in nul) == sorted(it.path for it in items if "nul" in it.tags) and nul
    sink = mksink()
    gw = mkgw(sink=sink)
    t0 = time.time()
    accepted, _ = check_run(gw, sink, items, line_limit=1000)
    elapsed = time.time() - t0
    total = sum(len(it.data) for it in accepted)
    print("\ncorpus: %d files, %d accepted byte-exact (%.1f MB), %d refused (line > 998: %d, bare CR: %d) in %.1fs"
          % (len(items), len(accepted), total / 1e6, len(items) - len(accepted),
             sum(it.long and not it.bare_cr for it in items), sum(it.bare_cr for it in items), elapsed))
    # NUL bytes survived
    msgs = {env["rcpts"][0]: eml for env, eml in sink.messages()}
    for it in nul:
        assert msgs[it.rcpt].count(b"\0") == it.data.count(b"\0"), it.path


def test_corpus_long_lines_without_line_limit(mkgw, mksink):
    items = [it for it in load_corpus() if it.long]
    assert len(items) >= 10
    sink = mksink()
    gw = mkgw(sink=sink, smtpd_data_line_limit=0)
    accepted, elapsed = check_run(gw, sink, items, line_limit=0)
    assert len(accepted) == len([it for it in items if not it.bare_cr])
    assert all(len(l) > 998 for l in [max(it.data.split(b"\r\n"), key=len) for it in accepted])
