"""Scheduling system tests: per-destination slow start, dead destinations backed off as a whole,
slow destinations that do not hold up others, delay warnings (RFC 3464 "delayed"), outbound TLS
levels (verify against a test CA, smtp_tls_policy_maps) and dropped double bounces.

Real peers on loopback only (tests/system/sink.py with --delay/--slow for slow next hops, --tls
with certificates made here by the openssl CLI), dnsmasq for the .test zone. Small timeouts come
from config keys; every wait is bounded.
"""
import os
import re
import subprocess
import time

import pytest

from conftest import BIN, SLOW, free_port, wait_until
from test_delivery import (QID_RX, SENDER, connect, is_bounce, mkmsg, not_bounce, parse_report,
                           submit, tx, wait_msgs, wait_queue_empty)

MXSENDER = "sender@mx.test"


def count(gw, pattern):
    return len(re.findall(pattern, gw.log()))


def submit_many(gw, n, tag):
    """n messages to <tag{i}@x.test> over one SMTP session (quickly, so they wait together)."""
    s = connect(gw.port)
    try:
        for i in range(n):
            tx(s, SENDER, ["%s%d@x.test" % (tag, i)], mkmsg("%s %d" % (tag, i)))
    finally:
        s.quit()


# --- slow start ------------------------------------------------------------------------------

def test_slow_start_window_grows_from_initial_to_limit(mkgw, mksink):
    sink = mksink("--delay", "0.3")
    gw = mkgw(sink=sink, initial_destination_concurrency=2, smtp_destination_concurrency_limit=4,
              log_level="debug")
    submit_many(gw, 16, "w")
    wait_msgs(sink, not_bounce, 16, timeout=30)
    wait_queue_empty(gw)
    # the first delivery happened within the initial window; the window then grew to the limit
    assert sink.messages()[0][0]["concurrent"] <= 2
    ups = re.findall(r"event=concurrency_window nexthop=127\.0\.0\.1 window=(\d+) change=up", gw.log())
    assert ups[:2] == ["3", "4"], ups
    assert "window=5" not in gw.log()
    st = sink.sessions()
    assert 3 <= st["max_concurrent"] <= 4, st


def test_first_connections_stay_within_initial_window(mkgw, mksink):
    sink = mksink("--delay", "1")
    gw = mkgw(sink=sink, initial_destination_concurrency=2, smtp_destination_concurrency_limit=20)
    submit_many(gw, 6, "i")
    # 6 transactions waiting, 1 s each: only 2 connections until 2 of them are done
    wait_until(lambda: sink.sessions()["connections"] >= 2, 5)
    time.sleep(0.5)
    assert sink.sessions()["max_concurrent"] == 2, sink.sessions()
    wait_msgs(sink, not_bounce, 6, timeout=30)
    wait_queue_empty(gw)


# --- dead destinations -------------------------------------------------------------------------

def test_dead_destination_is_backed_off_as_a_whole(mkgw, mksink):
    sink = mksink()
    gw = mkgw(relayhost="", smtp_tcp_port=sink.port, smtp_destination_dead_time="60s")
    q1 = submit(gw.port, MXSENDER, ["d1@dead.test"], mkmsg("dead 1"))
    gw.wait_log(r"event=destination_dead nexthop=dead\.test for=60s reply=\"451 4\.4\.1 .*127\.0\.0\.9")
    gw.wait_log(r"queue=%s event=deferred rcpt=<d1@dead\.test> attempt=1 " % q1)
    later = [submit(gw.port, MXSENDER, ["d%d@dead.test" % i], mkmsg("dead %d" % i)) for i in (2, 3, 4)]
    ok = submit(gw.port, MXSENDER, ["alive@mx.test"], mkmsg("to a live destination"))
    # the live destination is not held up; the dead one fails at once with its recorded reason
    j, _ = wait_msgs(sink, not_bounce, 1)[0]
    assert j["rcpts"] == ["alive@mx.test"]
    gw.wait_log(r"queue=%s event=delivered rcpt=<alive@mx\.test> attempt=1 " % ok)
    for i, q in zip((2, 3, 4), later):
        gw.wait_log(r"queue=%s event=deferred rcpt=<d%d@dead\.test> attempt=1 delay=\S+ reply=\"451 4\.4\.1 .*"
                    r"127\.0\.0\.9" % (q, i))
    gw.wait_log(r"queue=%s event=deferred rcpt=<d1@dead\.test> attempt=3 " % q1, timeout=15)
    # one connection in all: every later attempt was answered from the dead state
    assert count(gw, r"event=smtp_connect_failed nexthop=dead\.test ") == 1, gw.log()[-3000:]
    assert count(gw, r"event=destination_dead nexthop=dead\.test") == 1
    # a flush ends the dead time: one probe connection, which fails and kills it again
    gw.flush()
    gw.wait_log(r"event=destination_dead nexthop=dead\.test", count=2)
    assert count(gw, r"event=smtp_connect_failed nexthop=dead\.test ") == 2
    assert sink.count() == 1


def test_dead_destination_probe_revives_it(mkgw, mksink):
    port = free_port()
    gw = mkgw(relayhost="[127.0.0.1]:%d" % port, smtp_destination_dead_time="2s")
    q1 = submit(gw.port, SENDER, ["p1@x.test"], mkmsg("probe 1"))
    gw.wait_log(r"event=destination_dead nexthop=127\.0\.0\.1 for=2s")
    q2 = submit(gw.port, SENDER, ["p2@x.test"], mkmsg("probe 2"))
    gw.wait_log(r"queue=%s event=deferred rcpt=<p2@x\.test> attempt=1 .*Connection refused" % q2)
    sink = mksink(port=port)
    gw.wait_log(r"event=destination_alive nexthop=127\.0\.0\.1 ", timeout=15)
    wait_msgs(sink, not_bounce, 2, timeout=15)
    wait_queue_empty(gw)
    for q in (q1, q2):
        gw.wait_log(r"queue=%s event=removed" % q)


def test_slow_destination_does_not_delay_another(mkgw, mksink):
    sink = mksink("--delay", "5", "--slow", "slow@")
    gw = mkgw(relayhost="", smtp_tcp_port=sink.port, initial_destination_concurrency=2,
              smtp_destination_concurrency_limit=2)
    t0 = time.time()
    for i in range(4):
        submit(gw.port, MXSENDER, ["slow@mx.test"], mkmsg("slow %d" % i))
    fast = submit(gw.port, MXSENDER, ["fast@implicit.test"], mkmsg("fast"))
    gw.wait_log(r"queue=%s event=delivered rcpt=<fast@implicit\.test> attempt=1 " % fast, timeout=3)
    assert time.time() - t0 < 4.5 * SLOW
    got = [j["rcpts"] for j, _ in sink.messages()]
    assert got == [["fast@implicit.test"]], got  # the slow ones are still in their 5 s
    wait_msgs(sink, not_bounce, 5, timeout=30)
    wait_queue_empty(gw)


# --- delay warnings ----------------------------------------------------------------------------

def test_delay_warning_sent_once_with_dsn_fields(mkgw, mksink):
    sink = mksink("--tempfail", "slow")
    gw = mkgw(sink=sink, delay_warning_time="1s", maximal_queue_lifetime="1h")
    rcpts = ["slow-plain@x.test", "slow-delay@x.test", "slow-failure@x.test", "slow-never@x.test"]
    opts = {"slow-delay@x.test": ["NOTIFY=DELAY,FAILURE"], "slow-failure@x.test": ["NOTIFY=FAILURE"],
            "slow-never@x.test": ["NOTIFY=NEVER"]}
    qid = submit(gw.port, SENDER, rcpts, mkmsg("delayed"), mail_opts=["ENVID=env-1"], rcpt_opts=opts)
    nul = submit(gw.port, "", ["slow-null@x.test"], mkmsg("delayed null sender"))
    gw.wait_log(r"queue=%s event=delay_warning rcpts=2 " % qid, timeout=15)
    j, eml = wait_msgs(sink, is_bounce, 1)[0]
    assert j["rcpts"] == [SENDER]
    msg, parts, per_msg, per_rcpt = parse_report(eml)
    assert msg["Subject"].startswith("Delayed Mail")
    assert per_msg["X-Mxgate-Queue-ID"] == qid and per_msg["Original-Envelope-Id"] == "env-1"
    assert sorted(b["Final-Recipient"] for b in per_rcpt) == ["rfc822; slow-delay@x.test",
                                                             "rfc822; slow-plain@x.test"]
    for b in per_rcpt:
        assert b["Action"] == "delayed" and b["Status"] == "4.2.0", b
        assert b["Diagnostic-Code"].startswith("smtp; 451 4.2.0 "), b["Diagnostic-Code"]
        assert b["Will-Retry-Until"] and b["Last-Attempt-Date"]
    assert "warning only" in parts[0].get_payload(decode=True).decode()
    assert parts[2].get_content_type() == "text/rfc822-headers"
    # later attempts, and a restart (the W record), send no second warning
    gw.wait_log(r"queue=%s event=deferred rcpt=<slow-plain@x\.test> attempt=4 " % qid, timeout=20)
    gw.stop()
    gw.start()
    gw.flush()
    gw.wait_log(r"queue=%s event=deferred rcpt=<slow-plain@x\.test> attempt=1 " % qid, count=2, timeout=15)
    assert count(gw, r"queue=%s event=delay_warning " % qid) == 1
    assert count(gw, r"queue=%s event=delay_warning" % nul) == 0  # never to the null sender
    assert len([x for x in sink.messages() if is_bounce(*x)]) == 1


def test_delay_warning_off_by_default(mkgw, mksink):
    sink = mksink("--tempfail", "slow")
    gw = mkgw(sink=sink)
    qid = submit(gw.port, SENDER, ["slow@x.test"], mkmsg("no warning"))
    gw.wait_log(r"queue=%s event=deferred rcpt=<slow@x\.test> attempt=3 " % qid, timeout=15)
    assert "event=delay_warning" not in gw.log()
    assert sink.count() == 0


# --- outbound TLS ------------------------------------------------------------------------------

def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def test_ca(basedir):
    """A test CA and two leaf certificates it signed: for sink.test and for other.test."""
    d = os.path.join(basedir, "ca")
    os.makedirs(d, exist_ok=True)
    ca, cakey = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=mxgate test CA",
            "-keyout", cakey, "-out", ca)
    leaves = {}
    for name in ("sink.test", "other.test"):
        key, csr, crt = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".pem"))
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\n" % name)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout", key, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial", "-days", "30",
                "-extfile", ext, "-out", crt)
        leaves[name] = (crt, key)
    return ca, leaves


def test_tls_verify_delivers_with_a_trusted_certificate(mkgw, mksink, test_ca):
    ca, leaves = test_ca
    sink = mksink("--tls", *leaves["sink.test"])
    gw = mkgw(relayhost="[sink.test]:%d" % sink.port, smtp_tls_security_level="verify", smtp_tls_CAfile=ca)
    qid = submit(gw.port, SENDER, ["verified@x.test"], mkmsg("verified tls"))
    j, _ = wait_msgs(sink, not_bounce, 1)[0]
    assert j["tls"] is True
    gw.wait_log(r"event=smtp_connected peer=sink\.test\[127\.0\.0\.1\]:%d tls=TLSv1\.[23] cipher=\S+ "
                r"verified=yes level=verify" % sink.port)
    gw.wait_log(r"queue=%s event=smtp_sent relay=\S+ tls=yes " % qid)
    wait_queue_empty(gw)


@pytest.mark.parametrize("case", ["unknown_ca", "wrong_name"])
def test_tls_verify_failure_defers_and_sends_nothing(mkgw, mksink, test_ca, tls_files, case):
    ca, leaves = test_ca
    sink = mksink("--tls", *(tls_files if case == "unknown_ca" else leaves["other.test"]))
    gw = mkgw(relayhost="[sink.test]:%d" % sink.port, smtp_tls_security_level="verify", smtp_tls_CAfile=ca)
    qid = submit(gw.port, SENDER, ["unverified@x.test"], mkmsg("must be verified"))
    gw.wait_log(r"queue=%s event=deferred rcpt=<unverified@x\.test> attempt=1 delay=\S+ reply=\"451 4\.7\.5 "
                r"Server certificate not verified for host sink\.test\S+: " % qid)
    gw.wait_log(r"event=smtp_tls_failed peer=\S+ error=\"certificate not verified: .*\" action=defer")
    gw.wait_log(r"queue=%s event=deferred rcpt=<unverified@x\.test> attempt=2 " % qid, timeout=15)
    assert sink.count() == 0
    assert "queue=%s event=smtp_sent" % qid not in gw.log()
    assert "tls=none" not in gw.log()  # never a plaintext session


def test_tls_may_logs_unverified_outcome(mkgw, mksink, tls_files):
    sink = mksink("--tls", *tls_files)
    gw = mkgw(sink=sink)
    submit(gw.port, SENDER, ["may@x.test"], mkmsg("may"))
    wait_msgs(sink, not_bounce, 1)
    gw.wait_log(r"event=smtp_connected peer=\S+ tls=TLSv1\.[23] cipher=\S+ verified=no level=may ")


def test_tls_policy_map_overrides_per_destination(mkgw, mksink, tls_files, workdir):
    sink = mksink("--tls", *tls_files)
    # [127.0.0.1] is the gateway's own address (a local domain): the literal names another host
    lit = mksink("--tls", *tls_files, port=sink.port, host="127.0.0.2", sub="lit")
    policy = os.path.join(workdir, "tls_policy")
    with open(policy, "w") as f:
        f.write("# next hop   level\nMX.test verify\n\nimplicit.test none   # in clear\n")
    gw = mkgw(relayhost="", smtp_tcp_port=sink.port, smtp_tls_policy_maps=policy)
    q1 = submit(gw.port, MXSENDER, ["a@mx.test"], mkmsg("policy verify"))
    q2 = submit(gw.port, MXSENDER, ["b@implicit.test"], mkmsg("policy none"))
    q3 = submit(gw.port, MXSENDER, ["c@[127.0.0.2]"], mkmsg("policy default"))
    gw.wait_log(r"queue=%s event=deferred rcpt=<a@mx\.test> attempt=1 .*4\.7\.5 Server certificate not verified "
                r"for host mail[12]\.mx\.test" % q1)
    msgs = wait_msgs(sink, not_bounce, 1) + wait_msgs(lit, not_bounce, 1)
    tls = {j["rcpts"][0]: j["tls"] for j, _ in msgs}
    assert tls == {"b@implicit.test": False, "c@[127.0.0.2]": True}, tls
    gw.wait_log(r"event=smtp_connected peer=implicit\.test\S+ tls=none level=none ")
    gw.wait_log(r"queue=%s event=smtp_sent .* tls=no " % q2)
    gw.wait_log(r"queue=%s event=smtp_sent .* tls=yes " % q3)


def test_tls_policy_map_bad_line_is_an_error(mkgw, workdir):
    policy = os.path.join(workdir, "tls_policy")
    with open(policy, "w") as f:
        f.write("good.test encrypt\nbad.test sometimes\n")
    gw = mkgw(start=False, smtp_tls_policy_maps=policy)
    gw.write_conf()
    r = subprocess.run([BIN, "check", "-c", gw.cf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode()
    assert r.returncode == 1 and "%s:2: expected" % policy in out, out
    gw.start(expect_ok=False)
    assert gw.proc.wait(15 * SLOW) == 1
    gw.proc = None
    assert "%s:2: expected" % policy in gw.log()


# --- double bounces ----------------------------------------------------------------------------

def test_undeliverable_bounce_is_retried_then_dropped(mkgw, mksink):
    port = free_port()
    gw = mkgw(relayhost="[127.0.0.1]:%d" % port, maximal_queue_lifetime="1s", bounce_queue_lifetime="4s",
              smtp_destination_dead_time="1s")
    qid = submit(gw.port, SENDER, ["far@x.test"], mkmsg("expires, and so does its bounce"))
    gw.wait_log(r"queue=%s event=notification_queued notification=" % qid, timeout=15)
    bq = re.search(r"queue=%s event=notification_queued notification=(%s)" % (qid, QID_RX), gw.log()).group(1)
    gw.wait_log(r"queue=%s event=deferred rcpt=<%s> attempt=2 " % (bq, re.escape(SENDER)), timeout=15)
    gw.wait_log(r"queue=%s event=bounce_dropped rcpt=<%s> reason=expired reply=\"451 4\.4\.1 " %
                (bq, re.escape(SENDER)), timeout=20)
    wait_queue_empty(gw)
    assert count(gw, r"event=notification_queued") == 1  # the bounce itself was never bounced


def test_rejected_bounce_is_dropped_at_once(mkgw, mksink):
    sink = mksink("--reject", "bad")
    gw = mkgw(sink=sink)
    qid = submit(gw.port, "bad-sender@client.test", ["bad@x.test"], mkmsg("rejected both ways"))
    gw.wait_log(r"queue=%s event=notification_queued notification=" % qid)
    bq = re.search(r"queue=%s event=notification_queued notification=(%s)" % (qid, QID_RX), gw.log()).group(1)
    gw.wait_log(r"queue=%s event=bounce_dropped rcpt=<bad-sender@client\.test> reason=failed reply=\"550 5\.1\.1 "
                % bq)
    wait_queue_empty(gw)
    assert count(gw, r"event=notification_queued") == 1
    assert sink.count() == 0
