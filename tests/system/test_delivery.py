"""Delivery system tests: mxgate relays to real peers on loopback (tests/system/sink.py as
next hop, dnsmasq for the .test zone), with Python's smtplib and swaks as clients.

Covered: byte-exact relay of 1,000 messages, retries when the next hop is down (and flush /
SIGUSR1), RFC 3464 bounces and their DSN options, temporary failures and queue expiry, MX
routing, outbound STARTTLS, DSN pass-through and "relayed" notices, non-pipelining peers,
connection reuse, and inbound STARTTLS. Every wait is bounded (conftest.wait_until, scaled by
conftest.SLOW under ASan).
"""
import email
import email.policy
import email.utils
import os
import re
import smtplib
import subprocess
import threading
import time

import pytest

from conftest import BIN, SLOW, Sink, free_port, wait_until

QID_RX = r"[0-9A-Z]{16}"
SENDER = "sender@client.test"


# --- helpers -------------------------------------------------------------------------------

def connect(port):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=30 * SLOW)
    code, _ = s.ehlo()
    assert code == 250
    return s


def tx(s, sender, rcpts, msg, mail_opts=(), rcpt_opts=()):
    """One transaction on an open smtplib connection; returns the queue id from the 250 reply.
    rcpt_opts: a list of options for every recipient, or a dict address -> options."""
    code, resp = s.mail(sender, list(mail_opts))
    assert code == 250, (code, resp)
    for r in rcpts:
        opts = rcpt_opts.get(r, []) if isinstance(rcpt_opts, dict) else list(rcpt_opts)
        code, resp = s.rcpt(r, opts)
        assert code == 250, (r, code, resp)
    code, resp = s.data(msg)
    assert code == 250, (code, resp)
    m = re.search(rb"queued as (" + QID_RX.encode() + rb")", resp)
    assert m, resp
    return m.group(1).decode()


def submit(port, sender, rcpts, msg, mail_opts=(), rcpt_opts=()):
    s = connect(port)
    try:
        return tx(s, sender, rcpts, msg, mail_opts, rcpt_opts)
    finally:
        s.quit()


def swaks(port, sender, rcpt, *extra, header=()):
    """Send one message with swaks; returns (queue id, swaks transcript)."""
    cmd = ["swaks", "--server", "127.0.0.1:%d" % port, "--from", sender, "--to", rcpt,
           "--ehlo", "client.test", "--timeout", str(30 * SLOW)]
    for h in header:
        cmd += ["--header", h]
    cmd += list(extra)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SLOW)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out
    m = re.search(r"<[-~] +250 2\.0\.0 Ok: queued as (" + QID_RX + ")", out)
    assert m, out
    return m.group(1), out


def mkmsg(subject, body="hello\r\n", extra=""):
    return ("From: Sender <%s>\r\nTo: someone\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n%s\r\n%s"
            % (SENDER, subject, re.sub(r"\W", "-", subject), extra, body)).encode()


def wait_msgs(sink, pred, n=1, timeout=20):
    """Wait until at least n stored messages satisfy pred(json, eml); return all of them."""
    def got():
        m = [x for x in sink.messages() if pred(*x)]
        return m if len(m) >= n else None
    m = wait_until(got, timeout, step=0.1)
    assert m, "sink got %d matching message(s) of %d wanted; all: %r" % (
        len([x for x in sink.messages() if pred(*x)]), n, [j for j, _ in sink.messages()])
    return m


def is_bounce(j, e):
    return j["mail_from"] == ""


def not_bounce(j, e):
    return j["mail_from"] != ""


def split_received(eml):
    """(our Received: field, the rest) of a stored message."""
    assert eml.startswith(b"Received: "), eml[:200]
    lines = eml.split(b"\r\n")
    n = 1
    while n < len(lines) and lines[n][:1] in (b" ", b"\t"):
        n += 1
    hdr = b"\r\n".join(lines[:n]) + b"\r\n"
    return hdr, eml[len(hdr):]


RECEIVED_RX = re.compile(
    rb"^Received: from client\.test \((\S+) \[127\.0\.0\.1\]\)\r\n"
    rb"\tby gw\.test \(mxgate\) with (ESMTPS?) id (" + QID_RX.encode() + rb")"
    rb"(?:\r\n\t\(using ([^)\r\n]+)\))?"
    rb"(?:\r\n\tfor <([^>\r\n]+)>)?;\r\n"
    rb"\t([^\r\n]+)\r\n$")


def check_received(hdr, qid, rcpts, proto="ESMTP"):
    m = RECEIVED_RX.match(hdr)
    assert m, hdr
    assert m.group(2).decode() == proto, hdr
    assert m.group(3).decode() == qid, (hdr, qid)
    if len(rcpts) == 1:
        assert m.group(5) is not None and m.group(5).decode() == rcpts[0], hdr
    else:
        assert m.group(5) is None, hdr
    assert email.utils.parsedate_to_datetime(m.group(6).decode()) is not None, hdr
    return m


def parse_report(eml):
    """A bounce/DSN -> (message, [parts], per-message fields, [per-recipient fields])."""
    msg = email.message_from_bytes(eml, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", eml[:600]
    assert msg.get_param("report-type") == "delivery-status", msg["Content-Type"]
    parts = msg.get_payload()
    assert len(parts) == 3, [p.get_content_type() for p in parts]
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    blocks = parts[1].get_payload()
    assert len(blocks) >= 2, blocks
    return msg, parts, blocks[0], blocks[1:]


def rcpt_block(rcpts, addr):
    for b in rcpts:
        if b["Final-Recipient"] and b["Final-Recipient"].split(";", 1)[1].strip() == addr:
            return b
    raise AssertionError("no Final-Recipient %s in %r" % (addr, [b["Final-Recipient"] for b in rcpts]))


def log_group(gw, pattern):
    m = re.search(pattern, gw.log())
    assert m, "log has no %r:\n%s" % (pattern, gw.log()[-3000:])
    return m


def wait_queue_empty(gw, timeout=20):
    ok = wait_until(lambda: gw.queue_files() == 0, timeout)
    assert ok, "queue not empty:\n" + gw.mailq()


def wait_report(sink, gw, timeout=20):
    """The one notification (bounce or DSN) back to SENDER, once the gateway's queue is empty:
    (eml, headers, parts, per-message fields, per-recipient blocks)."""
    j, eml = wait_msgs(sink, is_bounce, 1, timeout=timeout)[0]
    wait_queue_empty(gw)
    assert j["rcpts"] == [SENDER]
    return (eml,) + tuple(parse_report(eml))


def mailq_rcpt_line(gw, addr):
    q = gw.mailq()
    for line in q.splitlines():
        if line.strip().startswith("<%s> " % addr):
            return line, q
    raise AssertionError("no <%s> in mailq:\n%s" % (addr, q))


# --- 1. byte-exact relay of 1,000 messages ---------------------------------------------------

LONG_LINE = ("0123456789abcdefghijklmnopqrstuvwxyz" * 28)[:998]


def body_for(i):
    """(content to send, content expected at the sink, 8-bit?) for message i."""
    kind = i % 8
    head = "From: <%s>\r\nTo: <r%d@x.test>\r\nSubject: relay test %d\r\nMessage-ID: <relay-%d@client.test>\r\nX-Seq: %d\r\n" % (
        SENDER, i, i, i, i)
    eight = False
    if kind == 0:
        body = "plain body of %d\r\n" % i
    elif kind == 1:  # dot-stuffing in both directions
        body = ".\r\n..\r\n.leading dot %d\r\n...three\r\n. space\r\nmiddle\r\n.\r\n.end\r\n" % i
    elif kind == 2:  # empty lines everywhere, including at the end
        body = "\r\n\r\nafter two empty lines %d\r\n\r\n\r\n\r\n" % i
    elif kind == 3:  # 8-bit UTF-8
        head += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        body = "Gr\u00fc\u00dfe aus K\u00f6ln %d \u2014 \u65e5\u672c\u8a9e \u2713 \U0001F600\r\n\u00e9\r\n" % i
        eight = True
    elif kind == 4:  # the longest legal line: 998 octets + CRLF
        body = "short\r\n" + LONG_LINE + "\r\n" + LONG_LINE[:997] + "\r\nend %d\r\n" % i
    elif kind == 5:  # no CRLF at the end: smtplib adds one before the final dot
        body = "no newline at the end %d" % i
    elif kind == 6:  # larger, several write chunks; lines with dots at chunk edges
        body = "".join("line %05d of message %d %s\r\n" % (k, i, "." * (k % 7)) for k in range(2500))
        body += "".join(".%d\r\n" % k for k in range(50))
    else:  # header only, no body at all
        body = None
    data = (head + "\r\n" + body if body is not None else head).encode("utf-8")
    expect = data if data.endswith(b"\r\n") else data + b"\r\n"
    return data, expect, eight


def test_relay_1000_messages_byte_exact(mkgw, mksink):
    sink = mksink()
    gw = mkgw(sink=sink)
    total, nthreads, per_conn = 1000, 5, 20
    sent = {}  # seq -> (qid, rcpts, expect, eight)
    lock = threading.Lock()
    errors = []

    def worker(t):
        try:
            seqs = list(range(t, total, nthreads))
            for c in range(0, len(seqs), per_conn):
                s = connect(gw.port)
                for i in seqs[c:c + per_conn]:
                    data, expect, eight = body_for(i)
                    rcpts = ["r%d-%d@dom%d.test" % (i, k, k) for k in range(i % 3 + 1)]
                    qid = tx(s, SENDER, rcpts, data, ["BODY=8BITMIME"] if eight else [])
                    with lock:
                        sent[i] = (qid, rcpts, expect, eight)
                s.quit()
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120 * SLOW)
    assert not errors, errors[:5]
    assert len(sent) == total
    assert sink.wait_count(total, timeout=30) >= total, "sink has %d of %d" % (sink.count(), total)
    wait_queue_empty(gw)
    gw.wait_log(r"event=removed", count=total)

    got = {}
    for j, eml in sink.messages():
        hdr, rest = split_received(eml)
        m = re.search(rb"\r\nX-Seq: (\d+)\r\n", b"\r\n" + rest)
        assert m, rest[:300]
        seq = int(m.group(1))
        assert seq not in got, "message %d arrived twice" % seq
        got[seq] = (j, hdr, rest)
    assert sorted(got) == list(range(total)), "missing: %r" % sorted(set(range(total)) - set(got))[:20]
    assert sink.count() == total
    for seq, (j, hdr, rest) in got.items():
        qid, rcpts, expect, eight = sent[seq]
        assert rest == expect, "message %d differs:\nsent %r\ngot  %r" % (seq, expect[:400], rest[:400])
        check_received(hdr, qid, rcpts)
        assert j["mail_from"] == SENDER
        assert j["rcpts"] == rcpts, (seq, j)
        assert j["size"] == len(hdr) + len(expect)
        if eight:
            assert "BODY=8BITMIME" in j["params"]["mail"], j
    qids = [v[0] for v in sent.values()]
    assert len(set(qids)) == total, "queue ids are not unique"


def test_dots_across_buffer_boundaries(mkgw, mksink):
    """Lines of dots around the 64 KiB and 256 KiB marks, shifted so that a line start, a CR
    and an LF each land on every internal buffer boundary in one of the messages; the last
    content line is a single dot."""
    sink = mksink()
    gw = mkgw(sink=sink)
    sent = {}
    s = connect(gw.port)
    for shift in range(6):
        lines = ["X-Seq: %d" % shift, "", "x" * shift]
        size = len(shift * "x") + 2
        for mark in (64 * 1024, 256 * 1024):
            while size < mark - 400:
                lines.append("filler %06d %s" % (size, "f" * 60))
                size += len(lines[-1]) + 2
            for k in range(300):
                lines.append("." if k % 2 else ".%d" % (k % 10))
                size += len(lines[-1]) + 2
        lines.append(".")
        data = ("Subject: dots %d\r\n" % shift + "\r\n".join(lines) + "\r\n").encode()
        sent[shift] = (tx(s, SENDER, ["dots@x.test"], data), data)
    s.quit()
    msgs = wait_msgs(sink, not_bounce, len(sent))
    wait_queue_empty(gw)
    assert len(msgs) == len(sent)
    for j, e in msgs:
        hdr, rest = split_received(e)
        shift = int(re.search(rb"\r\nX-Seq: (\d+)\r\n", rest).group(1))
        qid, data = sent[shift]
        check_received(hdr, qid, ["dots@x.test"])
        assert rest == data, "shift %d: %d octets sent, %d received" % (shift, len(data), len(rest))


# --- 2. next hop down, then up -------------------------------------------------------------

def test_nexthop_down_then_up(mkgw, mksink):
    port = free_port()  # nothing listens here yet
    gw = mkgw(relayhost="[127.0.0.1]:%d" % port)
    q1, out = swaks(gw.port, SENDER, "down1@x.test", "--body", "sent with swaks while the next hop is down",
                    header=["Subject: down-up 1", "X-Test: swaks"])
    q2 = submit(gw.port, SENDER, ["down2@x.test"], mkmsg("down-up 2"))
    q3 = submit(gw.port, SENDER, ["down3@x.test", "down4@x.test"], mkmsg("down-up 3"))
    for q, r in ((q1, "down1"), (q2, "down2"), (q3, "down3"), (q3, "down4")):
        gw.wait_log(r"queue=%s event=deferred rcpt=<%s@x\.test>" % (q, r))
    assert wait_until(lambda: gw.queue_files("deferred") == 3, 10), gw.mailq()
    q = gw.mailq()
    for qid in (q1, q2, q3):
        assert re.search(r"^%s deferred .* <%s>$" % (qid, re.escape(SENDER)), q, re.M), q
    line, q = mailq_rcpt_line(gw, "down4@x.test")
    assert "pending" in line and "4.4.1" in line and "127.0.0.1" in line, q
    assert "-- 3 messages in the queue" in q

    sink = mksink(port=port)
    msgs = wait_msgs(sink, not_bounce, 3, timeout=20)
    assert len(msgs) == 3
    by_rcpts = {tuple(j["rcpts"]): e for j, e in msgs}
    assert set(by_rcpts) == {("down1@x.test",), ("down2@x.test",), ("down3@x.test", "down4@x.test")}
    assert b"sent with swaks while the next hop is down" in by_rcpts[("down1@x.test",)]
    assert b"\r\nX-Test: swaks\r\n" in by_rcpts[("down1@x.test",)]
    wait_queue_empty(gw)
    for q in (q1, q2, q3):
        gw.wait_log(r"queue=%s event=delivered rcpt=<\S+> attempt=([2-9]|\d\d+)" % q)
        gw.wait_log(r"queue=%s event=removed" % q)
    assert "-- 0 messages in the queue" in gw.mailq()
    assert sink.count() == 3


def test_flush_and_sigusr1_retry_now(mkgw, mksink):
    port = free_port()
    gw = mkgw(relayhost="[127.0.0.1]:%d" % port, minimal_backoff_time="300s", maximal_backoff_time="600s")
    q1 = submit(gw.port, SENDER, ["flush1@x.test"], mkmsg("flush 1"))
    gw.wait_log(r"queue=%s event=deferred_message .*next_attempt_in=\d{3}s" % q1)
    sink = mksink(port=port)
    time.sleep(2 * SLOW)  # bounded: the retry is minutes away, nothing may arrive on its own
    assert sink.count() == 0
    r = subprocess.run([BIN, "flush", "-c", gw.cf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0, r.stdout
    gw.wait_log(r"event=flush deferred_messages=1")
    assert sink.wait_count(1, 10) == 1
    wait_queue_empty(gw)

    # the same with SIGUSR1 to the process
    sink.stop()
    q2 = submit(gw.port, SENDER, ["flush2@x.test"], mkmsg("flush 2"))
    gw.wait_log(r"queue=%s event=deferred_message .*next_attempt_in=\d{3}s" % q2)
    sink2 = mksink(port=port, sub="second")
    time.sleep(2 * SLOW)
    assert sink2.count() == 0 and gw.queue_files("deferred") == 1
    gw.flush()
    gw.wait_log(r"event=flush deferred_messages=1", count=2)
    msgs = wait_msgs(sink2, not_bounce, 1, 10)
    assert msgs[0][0]["rcpts"] == ["flush2@x.test"] and b"Subject: flush 2\r\n" in msgs[0][1]
    gw.wait_log(r"queue=%s event=delivered rcpt=<flush2@x\.test> attempt=2 " % q2)
    wait_queue_empty(gw)


# --- 3. permanent failures: bounces and their DSN options ----------------------------------

def test_bounce_partial_failure(mkgw, mksink):
    sink = mksink("--reject", "bad")
    gw = mkgw(sink=sink)
    msg = mkmsg("bounce me", "Body line that belongs to the body only\r\n", "X-Test: partial\r\n")
    rcpts = ["good1@x.test", "bad-user@x.test", "good2@x.test"]
    qid = submit(gw.port, SENDER, rcpts, msg)
    gw.wait_log(r"queue=%s event=failed rcpt=<bad-user@x\.test> attempt=1 .*550 5\.1\.1" % qid)
    gw.wait_log(r"queue=%s event=removed" % qid)
    bounces = wait_msgs(sink, is_bounce, 1)
    wait_queue_empty(gw)
    origs = [x for x in sink.messages() if not_bounce(*x)]
    assert len(origs) == 1, origs
    assert origs[0][0]["rcpts"] == ["good1@x.test", "good2@x.test"]
    assert split_received(origs[0][1])[1] == msg
    assert len(bounces) == 1 and sink.count() == 2
    j, eml = bounces[0]
    assert j["rcpts"] == [SENDER]
    bq = log_group(gw, r"queue=%s event=notification_queued notification=(%s)" % (qid, QID_RX)).group(1)

    m, parts, per_msg, per_rcpt = parse_report(eml)
    assert m["To"] == "<%s>" % SENDER
    assert m["From"].startswith("MAILER-DAEMON@gw.test")
    assert m["Subject"] == "Undelivered Mail Returned to Sender"
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["Message-Id"] == "<%s@gw.test>" % bq
    assert per_msg["Reporting-MTA"] == "dns; gw.test"
    assert per_msg["X-Mxgate-Queue-ID"] == qid
    assert email.utils.parsedate_to_datetime(per_msg["Arrival-Date"]) is not None
    assert len(per_rcpt) == 1, per_rcpt
    b = per_rcpt[0]
    assert b["Final-Recipient"] == "rfc822; bad-user@x.test"
    assert b["Action"] == "failed"
    assert b["Status"] == "5.1.1"
    assert b["Diagnostic-Code"].startswith("smtp; 550 5.1.1 "), b["Diagnostic-Code"]
    assert "<bad-user@x.test>: Recipient address rejected: User unknown" in b["Diagnostic-Code"]
    assert b["Original-Recipient"] is None
    assert "<bad-user@x.test>" in parts[0].get_payload(decode=True).decode()
    assert "good1" not in parts[0].get_payload() and "good1" not in parts[1].as_string()
    assert parts[2].get_content_type() == "text/rfc822-headers"
    hdrs = parts[2].get_payload()
    for h in ("Subject: bounce me", "Message-ID: <bounce-me@client.test>", "X-Test: partial",
              "Received: from client.test"):
        assert h in hdrs, hdrs
    assert "Body line" not in hdrs

    # every recipient refused (pipelined: the sink answers DATA with 554): nothing is sent, the
    # sender gets one bounce listing both, and later mail is still delivered
    q2 = submit(gw.port, SENDER, ["bad-1@x.test", "bad-2@x.test"], mkmsg("all refused"))
    gw.wait_log(r"queue=%s event=removed" % q2)
    q3 = submit(gw.port, SENDER, ["good3@x.test"], mkmsg("after refusal"))
    wait_msgs(sink, lambda j, e: j["rcpts"] == ["good3@x.test"], 1)
    gw.wait_log(r"queue=%s event=delivered rcpt=<good3@x\.test> attempt=1 " % q3)
    bounces = wait_msgs(sink, is_bounce, 2)
    wait_queue_empty(gw)
    assert sink.count() == 4
    per_rcpt = [parse_report(e)[3] for j, e in bounces if q2.encode() in e][0]
    assert sorted(b["Final-Recipient"] for b in per_rcpt) == ["rfc822; bad-1@x.test", "rfc822; bad-2@x.test"]


def test_bounce_notify_never_and_success_only_suppress(mkgw, mksink):
    sink = mksink("--reject", "bad")
    gw = mkgw(sink=sink)
    q_never = submit(gw.port, SENDER, ["bad-never@x.test"], mkmsg("notify never"), rcpt_opts=["NOTIFY=NEVER"])
    q_succ = submit(gw.port, SENDER, ["bad-success@x.test", "ok-success@x.test"], mkmsg("notify success"),
                    rcpt_opts=["NOTIFY=SUCCESS"])
    for q in (q_never, q_succ):
        gw.wait_log(r"queue=%s event=failed rcpt=<bad-" % q)
        gw.wait_log(r"queue=%s event=removed" % q)
    # a control message with NOTIFY=FAILURE must still bounce, and be the only bounce
    q_fail = submit(gw.port, SENDER, ["bad-failure@x.test"], mkmsg("notify failure"),
                    rcpt_opts=["NOTIFY=FAILURE,DELAY"])
    bounces = wait_msgs(sink, is_bounce, 1)
    wait_queue_empty(gw)
    gw.wait_log(r"queue=%s event=removed" % q_fail)
    bounces = [x for x in sink.messages() if is_bounce(*x)]
    assert len(bounces) == 1, [parse_report(e)[2]["X-Mxgate-Queue-ID"] for _, e in bounces]
    _, _, per_msg, per_rcpt = parse_report(bounces[0][1])
    assert per_msg["X-Mxgate-Queue-ID"] == q_fail
    assert rcpt_block(per_rcpt, "bad-failure@x.test")["Action"] == "failed"
    log = gw.log()
    for q in (q_never, q_succ):
        assert "queue=%s event=notification_queued" % q not in log
    origs = [j for j, e in sink.messages() if not_bounce(j, e)]
    assert [j["rcpts"] for j in origs] == [["ok-success@x.test"]]
    assert origs[0]["params"]["rcpt"] == ["NOTIFY=SUCCESS ORCPT=rfc822;ok-success@x.test"]


def test_bounce_ret_full_envid_orcpt(mkgw, mksink):
    sink = mksink("--reject", "bad")
    gw = mkgw(sink=sink)
    msg = mkmsg("return everything", "The whole body comes back.\r\n.dot line\r\n\r\nlast line\r\n")
    qid = submit(gw.port, SENDER, ["bad-full@x.test"], msg, mail_opts=["RET=FULL", "ENVID=env+2Bid+3D42"],
                 rcpt_opts=["NOTIFY=FAILURE", "ORCPT=rfc822;Orig+2Buser@x.test"])
    eml, m, parts, per_msg, per_rcpt = wait_report(sink, gw)
    assert per_msg["Original-Envelope-Id"] == "env+id=42"
    assert per_msg["X-Mxgate-Queue-ID"] == qid
    b = rcpt_block(per_rcpt, "bad-full@x.test")
    assert b["Original-Recipient"] == "rfc822; Orig+user@x.test"
    assert b["Action"] == "failed" and b["Status"] == "5.1.1"
    assert parts[2].get_content_type() == "message/rfc822"
    # the attached message is the original exactly as stored: our Received: + the content
    tail = eml.split(b"Content-Type: message/rfc822\r\n\r\n", 1)[1]
    hdr, rest = split_received(tail)
    check_received(hdr, qid, ["bad-full@x.test"])
    assert rest.startswith(msg), rest[:500]
    inner = parts[2].get_payload()[0]
    assert inner["Subject"] == "return everything"
    assert "The whole body comes back." in inner.get_payload()


def test_null_sender_failure_not_bounced(mkgw, mksink):
    sink = mksink("--reject", "bad")
    gw = mkgw(sink=sink)
    qid = submit(gw.port, "", ["bad-null@x.test"], mkmsg("from the null sender"))
    gw.wait_log(r"queue=%s event=failed rcpt=<bad-null@x\.test>" % qid)
    gw.wait_log(r'queue=%s event=notification_suppressed reason="null sender" rcpts=1' % qid)
    gw.wait_log(r"queue=%s event=removed" % qid)
    wait_queue_empty(gw)
    assert "queue=%s event=notification_queued" % qid not in gw.log()
    assert sink.count() == 0


# --- 4. temporary failures and expiry ------------------------------------------------------

def test_tempfail_stays_queued_and_is_retried(mkgw, mksink):
    sink = mksink("--tempfail", "slow")
    gw = mkgw(sink=sink)
    msg = mkmsg("tempfail")
    qid = submit(gw.port, SENDER, ["ok@x.test", "slow@x.test"], msg)
    gw.wait_log(r"queue=%s event=delivered rcpt=<ok@x\.test> attempt=1 " % qid)
    gw.wait_log(r"queue=%s event=deferred rcpt=<slow@x\.test> attempt=1 .*451 4\.2\.0" % qid)
    gw.wait_log(r"queue=%s event=deferred rcpt=<slow@x\.test> attempt=2 " % qid, timeout=15)
    line, q = mailq_rcpt_line(gw, "slow@x.test")
    assert "pending" in line and "451 4.2.0" in line and "temporarily unavailable" in line, q
    line, q = mailq_rcpt_line(gw, "ok@x.test")
    assert " delivered" in line, q
    assert gw.queue_files("deferred") == 1
    msgs = sink.messages()
    assert [j["rcpts"] for j, _ in msgs] == [["ok@x.test"]]
    port = sink.port
    sink.stop()
    sink2 = mksink(port=port, sub="second")
    j, e = wait_msgs(sink2, not_bounce, 1, timeout=15)[0]
    assert j["rcpts"] == ["slow@x.test"]  # the delivered recipient is not sent again
    assert split_received(e)[1] == msg
    gw.wait_log(r"queue=%s event=removed" % qid)
    wait_queue_empty(gw)
    assert not [x for x in sink2.messages() + sink.messages() if is_bounce(*x)]


def test_tempfail_until_expiry_bounces_pending_recipients_only(mkgw, mksink):
    sink = mksink("--tempfail", "slow")
    gw = mkgw(sink=sink, maximal_queue_lifetime="3s")
    qid = submit(gw.port, SENDER, ["fast@x.test", "slow-a@x.test", "slow-b@x.test"], mkmsg("partly slow"))
    gw.wait_log(r"queue=%s event=delivered rcpt=<fast@x\.test> attempt=1 " % qid)
    gw.wait_log(r"queue=%s event=expired rcpt=<slow-b@x\.test>" % qid, timeout=20)
    _, _, _, per_msg, per_rcpt = wait_report(sink, gw)
    origs = [x[0]["rcpts"] for x in sink.messages() if not_bounce(*x)]
    assert origs == [["fast@x.test"]]
    assert per_msg["X-Mxgate-Queue-ID"] == qid
    assert sorted(b["Final-Recipient"] for b in per_rcpt) == ["rfc822; slow-a@x.test", "rfc822; slow-b@x.test"]
    for b in per_rcpt:
        assert b["Action"] == "failed" and b["Status"] == "4.2.0", b
        assert "451 4.2.0" in b["Diagnostic-Code"] and "temporarily unavailable" in b["Diagnostic-Code"]
    assert sink.count() == 2


def test_expiry_bounce_is_delivered_when_nexthop_returns(mkgw, mksink):
    port = free_port()
    gw = mkgw(relayhost="[127.0.0.1]:%d" % port, maximal_queue_lifetime="3s")
    msg = mkmsg("expire me", "this message never reaches its recipient\r\n")
    qid = submit(gw.port, SENDER, ["far@x.test"], msg)
    gw.wait_log(r"queue=%s event=expired rcpt=<far@x\.test> age=\d+s lifetime=3s" % qid, timeout=20)
    gw.wait_log(r"queue=%s event=notification_queued notification=" % qid)
    gw.wait_log(r"queue=%s event=removed" % qid)
    bq = log_group(gw, r"queue=%s event=notification_queued notification=(%s)" % (qid, QID_RX)).group(1)
    gw.wait_log(r"queue=%s event=deferred rcpt=<%s>" % (bq, re.escape(SENDER)))
    q = gw.mailq()
    assert qid not in q, q
    assert re.search(r"^%s \S+ .* <>$" % bq, q, re.M), q
    line, q = mailq_rcpt_line(gw, SENDER)
    assert "pending" in line, q

    sink = mksink(port=port)
    _, m, parts, per_msg, per_rcpt = wait_report(sink, gw)
    gw.wait_log(r"queue=%s event=removed" % bq)
    assert sink.count() == 1  # the bounce only: the original left the queue
    assert per_msg["X-Mxgate-Queue-ID"] == qid
    b = rcpt_block(per_rcpt, "far@x.test")
    assert b["Action"] == "failed"
    assert b["Status"] == "4.4.1", b["Status"]
    assert "connect to" in b["Diagnostic-Code"] and "127.0.0.1" in b["Diagnostic-Code"]
    text = parts[0].get_payload(decode=True).decode()
    assert "could not be delivered for" in text and "the limit is 3" in text
    assert "Subject: expire me" in parts[2].get_payload()


def test_bounce_queue_lifetime_drops_null_sender_mail(mkgw, mksink):
    port = free_port()
    gw = mkgw(relayhost="[127.0.0.1]:%d" % port, bounce_queue_lifetime="3s")
    qid = submit(gw.port, "", ["far-null@x.test"], mkmsg("null sender expires"))
    gw.wait_log(r"queue=%s event=expired rcpt=<far-null@x\.test> age=\d+s lifetime=3s" % qid, timeout=20)
    gw.wait_log(r'queue=%s event=notification_suppressed reason="null sender"' % qid)
    gw.wait_log(r"queue=%s event=removed" % qid)
    assert "queue=%s event=notification_queued" % qid not in gw.log()
    wait_queue_empty(gw)
    # nothing left to deliver: once the next hop is back only a later control message arrives
    sink = mksink(port=port)
    submit(gw.port, SENDER, ["control@x.test"], mkmsg("control"))
    wait_msgs(sink, not_bounce, 1)
    wait_queue_empty(gw)
    assert [j["rcpts"] for j, _ in sink.messages()] == [["control@x.test"]]


# --- 5. MX routing through the test DNS ----------------------------------------------------

MXSENDER = "sender@mx.test"  # routable through the test DNS, so bounces reach the sink


@pytest.fixture
def mxgw(mkgw, mksink):
    """A sink on some port and a gateway without relayhost that delivers to that port."""
    sink = mksink("--reject", "bad")
    gw = mkgw(relayhost="", smtp_tcp_port=sink.port)
    return gw, sink


def test_mx_routing_mx_and_implicit_mx(mxgw):
    gw, sink = mxgw
    q1 = submit(gw.port, MXSENDER, ["user@mx.test"], mkmsg("via mx"))
    q2 = submit(gw.port, MXSENDER, ["user@implicit.test"], mkmsg("via implicit mx"))
    msgs = wait_msgs(sink, not_bounce, 2)
    assert sorted(j["rcpts"][0] for j, _ in msgs) == ["user@implicit.test", "user@mx.test"]
    gw.wait_log(r"queue=%s event=smtp_sent relay=mail1\.mx\.test\[127\.0\.0\.1\]:%d " % (q1, sink.port))
    gw.wait_log(r"queue=%s event=smtp_sent relay=implicit\.test\[127\.0\.0\.1\]:%d " % (q2, sink.port))
    wait_queue_empty(gw)


def test_mx_routing_null_mx_and_nxdomain_bounce(mxgw):
    gw, sink = mxgw
    q1 = submit(gw.port, MXSENDER, ["user@nullmx.test"], mkmsg("to a null mx"))
    q2 = submit(gw.port, MXSENDER, ["user@nonexistent.test"], mkmsg("to nxdomain"))
    gw.wait_log(r"queue=%s event=failed rcpt=<user@nullmx\.test> attempt=1 delay=\S+ reply=\"556 5\.1\.10 " % q1)
    gw.wait_log(r"queue=%s event=failed rcpt=<user@nonexistent\.test> attempt=1 delay=\S+ reply=\"550 5\.4\.4 " % q2)
    bounces = wait_msgs(sink, is_bounce, 2)
    wait_queue_empty(gw)
    assert len(bounces) == 2 and sink.count() == 2
    seen = {}
    for j, eml in bounces:
        assert j["rcpts"] == [MXSENDER]
        _, _, per_msg, per_rcpt = parse_report(eml)
        assert len(per_rcpt) == 1
        seen[per_rcpt[0]["Final-Recipient"]] = (per_msg["X-Mxgate-Queue-ID"], per_rcpt[0])
    q, b = seen["rfc822; user@nullmx.test"]
    assert q == q1 and b["Action"] == "failed" and b["Status"] == "5.1.10"
    assert b["Diagnostic-Code"].startswith("smtp; 556 5.1.10 "), b["Diagnostic-Code"]
    assert "null MX" in b["Diagnostic-Code"]
    q, b = seen["rfc822; user@nonexistent.test"]
    assert q == q2 and b["Action"] == "failed" and b["Status"] == "5.4.4"
    assert b["Diagnostic-Code"].startswith("smtp; 550 5.4.4 "), b["Diagnostic-Code"]
    assert "nonexistent.test" in b["Diagnostic-Code"]


@pytest.mark.parametrize("form", ["mx.test:{port}", "[127.0.0.1]:{port}", "[mail2.mx.test]:{port}"])
def test_relayhost_forms(mkgw, mksink, form):
    sink = mksink()
    gw = mkgw(relayhost=form.format(port=sink.port), smtp_tcp_port=1)
    rcpts = ["a@nonexistent.test", "b@nullmx.test", "c@dead.test"]  # relayhost wins over the domains
    qid = submit(gw.port, SENDER, rcpts, mkmsg("relayhost " + form))
    j, e = wait_msgs(sink, not_bounce, 1)[0]
    assert j["rcpts"] == rcpts
    relay = {"mx.test:{port}": "mail1.mx.test[127.0.0.1]", "[127.0.0.1]:{port}": "127.0.0.1[127.0.0.1]",
             "[mail2.mx.test]:{port}": "mail2.mx.test[127.0.0.1]"}[form]
    gw.wait_log(r"queue=%s event=smtp_sent relay=%s:%d " % (qid, re.escape(relay), sink.port))
    wait_queue_empty(gw)


def test_address_literal_recipient(mxgw, mksink):
    # [127.0.0.1] is the gateway's own listen address, so a local domain: the literal names another
    gw, sink = mxgw
    lit = mksink(port=sink.port, host="127.0.0.2", sub="lit")
    qid = submit(gw.port, MXSENDER, ["user@[127.0.0.2]"], mkmsg("address literal"))
    j, e = wait_msgs(lit, not_bounce, 1)[0]
    assert j["rcpts"] == ["user@[127.0.0.2]"]
    gw.wait_log(r"queue=%s event=smtp_sent relay=127\.0\.0\.2\[127\.0\.0\.2\]:%d " % (qid, sink.port))
    hdr, rest = split_received(e)
    check_received(hdr, qid, ["user@[127.0.0.2]"])
    wait_queue_empty(gw)


def test_dead_mx_stays_deferred(mxgw):
    gw, sink = mxgw
    qid = submit(gw.port, MXSENDER, ["user@dead.test"], mkmsg("to a dead mx"))
    gw.wait_log(r"queue=%s event=deferred rcpt=<user@dead\.test> attempt=1 delay=\S+ reply=\"451 4\.4\.1 .*127\.0\.0\.9" % qid)
    gw.wait_log(r"queue=%s event=deferred rcpt=<user@dead\.test> attempt=2 " % qid, timeout=15)
    line, q = mailq_rcpt_line(gw, "user@dead.test")
    assert "pending" in line and "4.4.1" in line and "dead-mx.test[127.0.0.9]" in line, q
    assert gw.queue_files("deferred") == 1
    assert sink.count() == 0
    assert "queue=%s event=failed" % qid not in gw.log()


def test_multi_domain_message_routed_per_domain(mxgw, mksink):
    gw, sink = mxgw
    lit = mksink(port=sink.port, host="127.0.0.2", sub="lit")
    rcpts = ["a@mx.test", "b@implicit.test", "c@[127.0.0.2]", "d@MX.test"]
    msg = mkmsg("several domains")
    qid = submit(gw.port, MXSENDER, rcpts, msg)
    msgs = wait_msgs(sink, not_bounce, 2) + wait_msgs(lit, not_bounce, 1)
    wait_queue_empty(gw)
    gw.wait_log(r"queue=%s event=removed" % qid)
    assert sink.count() == 2 and lit.count() == 1
    assert sorted(sorted(j["rcpts"]) for j, _ in msgs) == [["a@mx.test", "d@MX.test"], ["b@implicit.test"],
                                                          ["c@[127.0.0.2]"]]
    for j, e in msgs:
        hdr, rest = split_received(e)
        check_received(hdr, qid, rcpts)
        assert rest == msg
    for r in rcpts:
        gw.wait_log(r"queue=%s event=delivered rcpt=<%s> attempt=1 " % (qid, re.escape(r)))


# --- 6. outbound STARTTLS ------------------------------------------------------------------

def test_outbound_starttls_used_when_offered(mkgw, mksink, tls_files):
    sink = mksink("--tls", *tls_files)
    gw = mkgw(sink=sink)
    qid = submit(gw.port, SENDER, ["tls@x.test"], mkmsg("outbound tls"))
    j, e = wait_msgs(sink, not_bounce, 1)[0]
    assert j["tls"] is True
    gw.wait_log(r"queue=%s event=smtp_sent relay=\S+ tls=yes " % qid)
    wait_queue_empty(gw)


def test_outbound_tls_security_level_none(mkgw, mksink, tls_files):
    sink = mksink("--tls", *tls_files)
    gw = mkgw(sink=sink, smtp_tls_security_level="none")
    qid = submit(gw.port, SENDER, ["plain@x.test"], mkmsg("outbound no tls"))
    j, e = wait_msgs(sink, not_bounce, 1)[0]
    assert j["tls"] is False
    gw.wait_log(r"queue=%s event=smtp_sent relay=\S+ tls=no " % qid)


def test_outbound_tls_encrypt_without_starttls_defers(mkgw, mksink):
    sink = mksink()
    gw = mkgw(sink=sink, smtp_tls_security_level="encrypt")
    qid = submit(gw.port, SENDER, ["secret@x.test"], mkmsg("must be encrypted"))
    gw.wait_log(r"queue=%s event=deferred rcpt=<secret@x\.test> attempt=1 delay=\S+ reply=\"451 4\.7\.4 " % qid)
    line, q = mailq_rcpt_line(gw, "secret@x.test")
    assert "pending" in line and "4.7.4" in line and "TLS is required" in line, q
    assert sink.count() == 0
    assert "queue=%s event=smtp_sent" % qid not in gw.log()


# --- 7. DSN pass-through and "relayed" notices ---------------------------------------------

def test_dsn_parameters_passed_on(mkgw, mksink):
    sink = mksink()
    gw = mkgw(sink=sink)
    qid = submit(gw.port, SENDER, ["one@x.test", "two@x.test", "three@x.test"], mkmsg("dsn pass-through"),
                 mail_opts=["RET=HDRS", "ENVID=abc+2Bdef"],
                 rcpt_opts={"one@x.test": ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig+2Bone@x.test"],
                            "two@x.test": ["NOTIFY=NEVER"],
                            "three@x.test": []})
    j, e = wait_msgs(sink, not_bounce, 1)[0]
    check_received(split_received(e)[0], qid, ["one@x.test", "two@x.test", "three@x.test"])
    wait_queue_empty(gw)
    assert j["rcpts"] == ["one@x.test", "two@x.test", "three@x.test"]
    mail = j["params"]["mail"].split()
    assert "RET=HDRS" in mail and "ENVID=abc+2Bdef" in mail, mail
    assert j["params"]["rcpt"] == ["NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2Bone@x.test",
                                   "NOTIFY=NEVER ORCPT=rfc822;two@x.test",
                                   "ORCPT=rfc822;three@x.test"]
    time.sleep(0.5 * SLOW)
    assert sink.count() == 1  # the next hop speaks DSN: no "relayed" notice from us
    assert "event=notification_queued" not in gw.log()


def test_relayed_notice_for_next_hop_without_dsn(mkgw, mksink):
    sink = mksink("--no-dsn")
    gw = mkgw(sink=sink)
    qid = submit(gw.port, SENDER, ["notify-me@x.test", "quiet@x.test"], mkmsg("relayed notice"),
                 mail_opts=["RET=FULL", "ENVID=rel+2Bay"],
                 rcpt_opts={"notify-me@x.test": ["NOTIFY=SUCCESS", "ORCPT=rfc822;Notify+2Bme@x.test"]})
    orig = wait_msgs(sink, not_bounce, 1)[0][0]
    # nothing DSN-related goes to a server that does not offer DSN
    assert orig["rcpts"] == ["notify-me@x.test", "quiet@x.test"]
    assert orig["params"]["rcpt"] == ["", ""]
    assert "RET=" not in orig["params"]["mail"] and "ENVID=" not in orig["params"]["mail"]
    eml, m, parts, per_msg, per_rcpt = wait_report(sink, gw)
    assert m["Subject"] == "Successful Mail Delivery Report"
    assert per_msg["X-Mxgate-Queue-ID"] == qid
    assert per_msg["Original-Envelope-Id"] == "rel+ay"
    assert len(per_rcpt) == 1
    b = per_rcpt[0]
    assert b["Final-Recipient"] == "rfc822; notify-me@x.test"
    assert b["Original-Recipient"] == "rfc822; Notify+me@x.test"
    assert b["Action"] == "relayed" and b["Status"] == "2.0.0"
    assert parts[2].get_content_type() == "text/rfc822-headers"  # RET=FULL is for failures only
    assert "Subject: relayed notice" in parts[2].get_payload()
    assert sink.count() == 2


# --- 8. pipelining off at the next hop; connection reuse -----------------------------------

def test_next_hop_without_pipelining(mkgw, mksink):
    sink = mksink("--no-pipelining", "--reject", "bad")
    gw = mkgw(sink=sink)
    rcpts = ["p%d@x.test" % k for k in range(5)] + ["bad-np@x.test", "p5@x.test"]
    msg = mkmsg("no pipelining", "line\r\n.dot\r\n")
    qid = submit(gw.port, SENDER, rcpts, msg)
    orig = wait_msgs(sink, not_bounce, 1)[0]
    bounce = wait_msgs(sink, is_bounce, 1)[0]
    wait_queue_empty(gw)
    assert orig[0]["rcpts"] == [r for r in rcpts if r != "bad-np@x.test"]
    assert split_received(orig[1])[1] == msg
    _, _, per_msg, per_rcpt = parse_report(bounce[1])
    assert per_msg["X-Mxgate-Queue-ID"] == qid
    assert [b["Final-Recipient"] for b in per_rcpt] == ["rfc822; bad-np@x.test"]
    # a message whose recipients are all refused is not sent (and the dialogue goes on)
    q2 = submit(gw.port, SENDER, ["bad-a@x.test", "bad-b@x.test"], mkmsg("all refused"))
    gw.wait_log(r"queue=%s event=failed rcpt=<bad-b@x\.test>" % q2)
    wait_msgs(sink, is_bounce, 2)
    q3 = submit(gw.port, SENDER, ["after@x.test"], mkmsg("after refusal"))
    wait_msgs(sink, lambda j, e: j["rcpts"] == ["after@x.test"], 1)
    gw.wait_log(r"queue=%s event=delivered rcpt=<after@x\.test> attempt=1 " % q3)
    wait_queue_empty(gw)
    assert sink.count() == 4


def test_connection_reuse(mkgw, mksink):
    sink = mksink()
    limit = 2
    gw = mkgw(sink=sink, smtp_destination_concurrency_limit=limit, smtp_connection_cache_time_limit="30s")
    n = 50
    s = connect(gw.port)
    for i in range(n):
        tx(s, SENDER, ["reuse%d@x.test" % i], mkmsg("reuse %d" % i))
    s.quit()
    msgs = wait_msgs(sink, not_bounce, n)
    wait_queue_empty(gw)
    assert len(msgs) == n
    assert sorted(j["rcpts"][0] for j, _ in msgs) == sorted("reuse%d@x.test" % i for i in range(n))
    peers = {j["peer"] for j, _ in msgs}
    assert 1 <= len(peers) <= limit, peers


# --- 9. inbound STARTTLS -------------------------------------------------------------------

def test_inbound_starttls_swaks(mkgw, mksink, tls_files):
    sink = mksink()
    gw = mkgw(sink=sink, smtpd_tls_cert_file=tls_files[0], smtpd_tls_key_file=tls_files[1])
    qid, out = swaks(gw.port, SENDER, "tls-in@x.test", "--tls", "--body", "over TLS\r\n",
                     header=["Subject: inbound tls"])
    m = re.search(r"TLS started with cipher (\S+?):(\S+?):", out)
    assert m, out
    version, cipher = m.group(1), m.group(2)
    j, e = wait_msgs(sink, not_bounce, 1)[0]
    wait_queue_empty(gw)
    assert j["rcpts"] == ["tls-in@x.test"] and j["mail_from"] == SENDER
    hdr, rest = split_received(e)
    mr = check_received(hdr, qid, ["tls-in@x.test"], proto="ESMTPS")
    assert mr.group(4) is not None, hdr
    using = mr.group(4).decode()
    assert version in using and cipher in using, (using, version, cipher)
    assert b"Subject: inbound tls\r\n" in rest and b"over TLS" in rest
