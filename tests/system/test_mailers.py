"""Mailers beyond plain SMTP: LMTP (TCP and unix socket), Maildir, mailertable host lists, and
MX self-loop avoidance (RFC 5321 5.1).

The LMTP mode of sink.py is checked on its own first. The MX self-loop tests need only the test
DNS: self.loop.test is the gateway's own address and the gateway delivers to its own listening
port (smtp_tcp_port = its port), other.loop.test (127.0.0.2, same port) is another host.
The end-to-end mailer tests are routed by a sendmail-format mailertable (`mailertable = FILE`,
lines "domain mailer:value"). Every wait is bounded.
"""
import os
import re
import smtplib

import pytest

from conftest import SLOW, free_port, wait_until
from test_delivery import is_bounce, mkmsg, not_bounce, parse_report, submit, wait_msgs, wait_queue_empty


# --- sink.py in LMTP mode -------------------------------------------------------------------

def lmtp_transaction(r, rcpts, body=b"Subject: t\r\n\r\nhello\r\n"):
    """MAIL, RCPTs, DATA on an LMTP connection after LHLO; returns the replies after the dot."""
    r.cmd("MAIL FROM:<s@client.test>")
    r.expect(250)
    for a in rcpts:
        r.cmd("RCPT TO:<%s>" % a)
        r.expect(250)
    r.cmd("DATA")
    r.expect(354)
    r.send(body + b".\r\n")
    return [r.reply() for _ in rcpts]


def test_sink_lmtp_one_reply_per_recipient(mksink, raw):
    sink = mksink("--lmtp", "--lmtp-reject-after-data", "b@x.test")
    r = raw(sink.port)
    assert "LMTP" in r.reply()[1][0]
    r.cmd("EHLO client.test")
    r.expect(500)
    r.cmd("LHLO client.test")
    assert any("PIPELINING" in l for l in r.expect(250))
    replies = lmtp_transaction(r, ["a@x.test", "b@x.test", "c@x.test"])
    assert [c for c, _ in replies] == [250, 550, 250], replies
    assert "<b@x.test>" in replies[1][1][0]
    j, e = sink.messages()[0]
    assert j["rcpts"] == ["a@x.test", "c@x.test"] and sink.count() == 1


def test_sink_lmtp_unix_socket(mksink, workdir):
    path = os.path.join(workdir, "lmtp.sock")
    sink = mksink("--lmtp", unix=path)
    c = smtplib.LMTP(path, timeout=10 * SLOW)
    try:
        assert c.ehlo()[0] == 250  # smtplib.LMTP sends LHLO
        c.sendmail("s@client.test", ["u@sock.test"], b"Subject: u\r\n\r\nover a unix socket\r\n")
    finally:
        c.quit()
    assert sink.wait_count(1) == 1
    assert sink.messages()[0][0]["rcpts"] == ["u@sock.test"]


# --- MX self-loop (runs without the router) -------------------------------------------------

LOOP_SENDER = "sender@other.loop.test"  # bounces go to the sink on other.loop.test


@pytest.fixture
def loopgw(mkgw, mksink):
    """A gateway that delivers to its own port, and a sink as other.loop.test on that port."""
    gw = mkgw(start=False, relayhost="")
    gw.conf["smtp_tcp_port"] = str(gw.port)
    gw.start()
    other = mksink(port=gw.port, host="127.0.0.2")
    return gw, other


@pytest.mark.parametrize("domain,mx,dropped", [
    ("loop.test", "self.loop.test", 1),   # the only MX is us (by address and port)
    ("loop2.test", "self.loop.test", 2),  # us first: the less preferred other.loop.test goes too
    ("named.test", "gw.test", 2),         # us by name (myhostname): no lookup needed
])
def test_mx_self_loop_bounces_554(loopgw, domain, mx, dropped):
    gw, other = loopgw
    rcpt = "user@" + domain
    qid = submit(gw.port, LOOP_SENDER, [rcpt], mkmsg("loop " + domain))
    gw.wait_log(r"event=mx_self_loop domain=%s mx=%s pref=10 dropped_mx=%d kept_addrs=0" % (
        re.escape(domain), re.escape(mx), dropped))
    gw.wait_log(r'queue=%s event=failed rcpt=<%s> attempt=1 delay=\S+ reply="554 5\.4\.6 mail for %s loops back to myself'
                % (qid, re.escape(rcpt), re.escape(domain)))
    j, eml = wait_msgs(other, is_bounce, 1)[0]
    wait_queue_empty(gw)
    assert j["rcpts"] == [LOOP_SENDER]
    _, _, _, per_rcpt = parse_report(eml)
    assert per_rcpt[0]["Status"] == "5.4.6" and "loops back to myself" in per_rcpt[0]["Diagnostic-Code"]
    # the message itself never went anywhere: not to us (no second copy queued), not to other
    assert [x for x in other.messages() if not_bounce(*x)] == []
    assert "queue=%s event=smtp_sent" % qid not in gw.log()


def test_mx_self_loop_backup_mx_delivers_to_better_mx(loopgw):
    gw, other = loopgw
    qid = submit(gw.port, LOOP_SENDER, ["user@backup.test"], mkmsg("we are the backup mx"))
    j, _ = wait_msgs(other, not_bounce, 1)[0]
    assert j["rcpts"] == ["user@backup.test"]
    gw.wait_log(r"event=mx_self_loop domain=backup\.test mx=self\.loop\.test pref=20 dropped_mx=1 kept_addrs=1")
    gw.wait_log(r"queue=%s event=smtp_sent relay=other\.loop\.test\[127\.0\.0\.2\]:%d " % (qid, gw.port))
    wait_queue_empty(gw)


def test_same_host_other_port_is_not_a_loop(mkgw, mksink):
    """Our address with another port (another MTA on this machine) is a legitimate next hop."""
    sink = mksink()
    gw = mkgw(relayhost="", smtp_tcp_port=sink.port)
    qid = submit(gw.port, "sender@mx.test", ["user@loop.test"], mkmsg("same address, other port"))
    wait_msgs(sink, not_bounce, 1)
    gw.wait_log(r"queue=%s event=smtp_sent relay=self\.loop\.test\[127\.0\.0\.1\]:%d " % (qid, sink.port))
    assert "event=mx_self_loop" not in gw.log()
    wait_queue_empty(gw)


# --- end to end through the mailertable ----------------------------------------------------

SENDER = "sender@client.test"


def mailertable_gw(mkgw, workdir, lines, **conf):
    path = os.path.join(workdir, "mailertable")
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return mkgw(relayhost="", mailertable=path, **conf)


def test_lmtp_tcp_per_recipient_replies(mkgw, mksink, workdir):
    sink = mksink("--lmtp", "--lmtp-reject-after-data", "bad@lmtp.test")
    gw = mailertable_gw(mkgw, workdir, ["lmtp.test lmtp:[127.0.0.1]:%d" % sink.port,
                                        "client.test lmtp:[127.0.0.1]:%d" % sink.port])
    rcpts = ["a@lmtp.test", "bad@lmtp.test", "c@lmtp.test"]
    qid = submit(gw.port, SENDER, rcpts, mkmsg("lmtp over tcp"))
    j, _ = wait_msgs(sink, not_bounce, 1)[0]
    assert j["rcpts"] == ["a@lmtp.test", "c@lmtp.test"]
    for a in ("a@lmtp.test", "c@lmtp.test"):
        gw.wait_log(r"queue=%s event=delivered rcpt=<%s> " % (qid, re.escape(a)))
    gw.wait_log(r'queue=%s event=failed rcpt=<bad@lmtp\.test> attempt=1 delay=\S+ reply="550 5\.1\.1 ' % qid)
    gw.wait_log(r"queue=%s event=lmtp_refused relay=\S+ tls=no rcpt=<bad@lmtp\.test> " % qid)
    b, eml = wait_msgs(sink, is_bounce, 1)[0]
    _, _, _, per_rcpt = parse_report(eml)
    assert [x["Final-Recipient"] for x in per_rcpt] == ["rfc822; bad@lmtp.test"]
    wait_queue_empty(gw)


def test_lmtp_unix_socket(mkgw, mksink, workdir):
    path = os.path.join(workdir, "lmtp.sock")
    sink = mksink("--lmtp", unix=path)
    os.chmod(path, 0o777)  # the gateway connects as mail_owner
    gw = mailertable_gw(mkgw, workdir, ["sock.test lmtp:unix:" + path])
    qid = submit(gw.port, SENDER, ["u1@sock.test", "u2@sock.test"], mkmsg("lmtp over a unix socket"))
    j, _ = wait_msgs(sink, not_bounce, 1)[0]
    assert j["rcpts"] == ["u1@sock.test", "u2@sock.test"]
    gw.wait_log(r"queue=%s event=lmtp_sent relay=%s tls=no rcpt=<u2@sock\.test> " % (qid, re.escape(path)))
    wait_queue_empty(gw)


def test_maildir_per_user(mkgw, workdir):
    root = os.path.join(workdir, "mail")
    os.makedirs(root)
    os.chmod(root, 0o1777)  # the gateway writes as mail_owner
    gw = mailertable_gw(mkgw, workdir, ["arch.test maildir:%s/%%u" % root])
    body = "line one\r\n.dot line\r\n\r\nlast\r\n"
    qid = submit(gw.port, SENDER, ["Alice@arch.test", "bob@ARCH.test", "alice@arch.test"],
                 mkmsg("to maildir", body=body))
    wait_queue_empty(gw)
    for user, first in (("alice", "Alice@arch.test"), ("bob", "bob@ARCH.test")):
        new = os.path.join(root, user, "new")
        files = os.listdir(new)
        assert len(files) == 1, (user, files)  # alice's two addresses share one copy
        assert os.listdir(os.path.join(root, user, "tmp")) == []
        assert os.stat(os.path.join(root, user)).st_mode & 0o777 == 0o700
        with open(os.path.join(new, files[0]), "rb") as f:
            data = f.read()
        assert data.startswith(b"Return-Path: <%s>\nDelivered-To: %s\nReceived: " % (SENDER.encode(), first.encode()))
        assert b"\r" not in data and data.endswith(b"\nline one\n.dot line\n\nlast\n")
    gw.wait_log(r'queue=%s event=maildir_delivered maildir=%s/alice rcpt=<Alice@arch\.test> reply="250 2\.0\.0 '
                % (qid, re.escape(root)))


def test_maildir_write_error_defers(mkgw, workdir):
    blocker = os.path.join(workdir, "not-a-dir")
    with open(blocker, "w") as f:
        f.write("x")
    gw = mailertable_gw(mkgw, workdir, ["arch.test maildir:%s/%%u" % blocker])
    qid = submit(gw.port, SENDER, ["u@arch.test"], mkmsg("maildir cannot be made"))
    gw.wait_log(r'queue=%s event=deferred rcpt=<u@arch\.test> attempt=1 delay=\S+ reply="451 4\.3\.0 create the maildir: '
                % qid)
    assert gw.queue_files("deferred") == 1


def test_host_list_in_order_fails_over(mkgw, mksink, workdir):
    down = free_port()  # nothing listens there
    sink = mksink()
    gw = mailertable_gw(mkgw, workdir, ["list.test smtp:[127.0.0.1]:%d:[127.0.0.1]:%d" % (down, sink.port)])
    qid = submit(gw.port, SENDER, ["u@list.test"], mkmsg("second host of a list"))
    wait_msgs(sink, not_bounce, 1)
    gw.wait_log(r"queue=%s event=smtp_sent relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d " % (qid, sink.port))
    wait_queue_empty(gw)


def test_host_list_4xx_greeting_fails_over(mkgw, mksink, workdir):
    busy = mksink("--greeting", "421 4.3.2 busy", sub="busy")
    sink = mksink(sub="ok")
    gw = mailertable_gw(mkgw, workdir, ["list.test smtp:[127.0.0.1]:%d:[127.0.0.1]:%d" % (busy.port, sink.port)])
    submit(gw.port, SENDER, ["u@list.test"], mkmsg("first host busy"))
    wait_msgs(sink, not_bounce, 1)
    wait_queue_empty(gw)
    assert busy.count() == 0


def test_host_list_equal_preference_spreads(mkgw, mksink, workdir):
    s1, s2 = mksink(sub="one"), mksink(sub="two")
    # one message per connection: 16 connections, each with its own random order (a connection
    # reused for queued messages would make fewer, independent-looking choices)
    gw = mailertable_gw(mkgw, workdir, ["eq.test smtp:[127.0.0.1]:%d,[127.0.0.1]:%d" % (s1.port, s2.port)],
                        smtp_connection_cache_time_limit="0s", smtp_connection_reuse_count_limit=1)
    for i in range(16):
        submit(gw.port, SENDER, ["u%d@eq.test" % i], mkmsg("equal %d" % i))
    assert wait_until(lambda: s1.count() + s2.count() >= 16, 30)
    wait_queue_empty(gw)
    # each connection picks its own random order: both hosts get some (fails with p = 2**-15)
    assert s1.count() > 0 and s2.count() > 0, (s1.count(), s2.count())
