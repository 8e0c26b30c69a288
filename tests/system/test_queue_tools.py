"""The queue tools against a running gateway, through its control socket (mxgate queue ...,
mxgate reload, mailq), and from the spool when the gateway is stopped. A sink that answers 4xx
(--tempfail) keeps mail deferred; a second sink takes what is rerouted. Every wait is bounded.
"""
import json
import os
import pwd
import re
import smtplib
import socket
import stat
import subprocess

from conftest import BIN, SLOW, wait_until
from test_scanning import LIBCLAMAV, VIRUS, msgs, qdir, scangw, subject_of

# deferred mail stays put unless a test flushes it (no retry races with hold/requeue)
SLOW_RETRY = {"minimal_backoff_time": "60s", "maximal_backoff_time": "120s"}


def q(gw, *args):
    p = subprocess.run([BIN, "queue", "-c", gw.cf] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def qjson(gw, *args):
    rc, out, err = q(gw, *args, "--json")
    assert rc == 0, err
    return json.loads(out)


def send(gw, rcpts, subject, sender="sender@client.test"):
    s = smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW)
    s.sendmail(sender, rcpts, b"From: " + sender.encode() + b"\r\nSubject: " + subject.encode()
               + b"\r\nMessage-ID: <" + subject.encode().replace(b" ", b".") + b"@client.test>\r\n\r\nhello\r\n")
    s.quit()


def ids_by_subject(gw):
    out = {}
    for m in qjson(gw, "list"):
        rc, txt, _ = q(gw, "show", m["id"])
        out[re.search(r"^Subject: (.*)\r?$", txt, re.M).group(1).strip()] = m["id"]
    return out


def ctl_raw(gw, data):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10 * SLOW)
    s.connect(gw.conf["queue_directory"] + "/control")
    s.sendall(data)
    f = s.makefile("rb")
    line = f.readline()
    s.close()
    return json.loads(line)


def test_list_show_hold_release_delete(mkgw, mksink):
    sink = mksink("--tempfail", "slow")
    gw = mkgw(sink, **SLOW_RETRY)
    send(gw, ["slow1@a.test"], "first")
    send(gw, ["slow2@b.test", "fast@b.test"], "second", sender="other@client.test")
    assert wait_until(lambda: gw.queue_files("deferred") == 2, 15), gw.mailq()
    assert sink.wait_count(1)  # fast@b.test was delivered
    rc, out, err = q(gw, "list")
    assert rc == 0 and out.count(" deferred ") == 2 and "-- 2 messages" in out, out + err
    assert 'last error "451 4.2.0' in out and "next attempt" in out and "<fast@b.test> delivered" in out, out
    ms = qjson(gw, "list")
    assert [m["state"] for m in ms] == ["deferred", "deferred"] and all(m["next_attempt"] for m in ms), ms
    assert ms[0]["last_error"].startswith("451 4.2.0") and ms[0]["recipients"][0]["status"] == "pending", ms
    assert [m["sender"] for m in qjson(gw, "list", "--domain", "A.TEST")] == ["sender@client.test"]
    assert [m["sender"] for m in qjson(gw, "list", "--sender", "other@client.test")] == ["other@client.test"]
    assert qjson(gw, "list", "--state", "hold") == []
    ids = ids_by_subject(gw)
    a, b = ids["first"], ids["second"]
    rc, out, _ = q(gw, "show", b)
    assert rc == 0 and "state: deferred" in out and "Subject: second" in out, out
    assert re.search(r"pending <slow2@b.test> \(451 4.2.0", out) and re.search(r"delivered <fast@b.test>", out), out
    # hold: out of the schedule; a flush does not deliver it
    rc, out, err = q(gw, "hold", a)
    assert rc == 0 and "held" in out, err
    assert qdir(gw, "hold") == [a] and [m["id"] for m in qjson(gw, "list", "--state", "hold")] == [a]
    rc, _, err = q(gw, "flush", a)
    assert rc == 1 and "release it first" in err, err
    sink.args = []
    sink.restart()  # now it takes everything
    rc, out, _ = q(gw, "flush", "--domain", "b.test")
    assert rc == 0 and "1 deferred message for b.test flushed" in out, out
    assert sink.wait_count(2), sink.count()
    rc, out, _ = q(gw, "flush")
    assert rc == 0
    gw.wait_log(r"event=flush deferred_messages=")
    assert qdir(gw, "hold") == [a] and sink.count() == 2
    # release: delivered
    rc, out, err = q(gw, "release", a)
    assert rc == 0 and "released" in out, err
    assert sink.wait_count(3), sink.count()
    assert wait_until(lambda: gw.queue_files() == 0, 10)
    log = gw.log()
    for ev in ("held from=deferred", "released from=hold", "flushed domain=b.test"):
        assert re.search(r"queue=\w+ event=%s" % ev, log), ev
    rc, _, err = q(gw, "release", a)
    assert rc == 1 and "no such message" in err, err


def test_delete_without_bounce(mkgw, mksink):
    sink = mksink("--tempfail", "slow")
    gw = mkgw(sink, **SLOW_RETRY)
    send(gw, ["slow1@a.test"], "one")
    send(gw, ["slow2@b.test"], "two")
    send(gw, ["slow3@b.test"], "three")
    assert wait_until(lambda: gw.queue_files("deferred") == 3, 15), gw.mailq()
    ids = ids_by_subject(gw)
    rc, out, err = q(gw, "delete", ids["one"])
    assert rc == 0 and "deleted" in out, err
    rc, out, err = q(gw, "delete", "--state", "deferred", "--domain", "b.test")
    assert rc == 0 and "deleted 2 messages from deferred/" in out, out + err
    assert gw.queue_files() == 0 and qjson(gw, "list") == []
    sink.args = []
    sink.restart()
    rc, _, _ = q(gw, "flush")
    gw.wait_log(r"event=flush deferred_messages=0")
    assert sink.count() == 0 and "notification_queued" not in gw.log()
    assert len(re.findall(r"event=deleted from=deferred", gw.log())) == 3
    rc, _, err = q(gw, "delete", "--domain", "b.test")
    assert rc == 2 and "state" in err, err


def test_requeue_routes_again_after_map_change(mkgw, mksink, workdir):
    old = mksink("--tempfail", "@")
    new = mksink(sub="new")
    maps = os.path.join(workdir, "maps")
    os.makedirs(maps, exist_ok=True)
    os.chmod(maps, 0o755)
    for name, text in (("local-host-names", "local.test\n"), ("aliases", "info: someone@dest.test\n"),
                       ("mailertable", "dest.test smtp:[127.0.0.1]:%d\n" % old.port)):
        with open(os.path.join(maps, name), "w") as f:
            f.write(text)
    gw = mkgw(None, local_host_names=os.path.join(maps, "local-host-names"),
              alias_maps=os.path.join(maps, "aliases"), mailertable=os.path.join(maps, "mailertable"), **SLOW_RETRY)
    send(gw, ["info@local.test"], "reroute me")
    assert wait_until(lambda: gw.queue_files("deferred") == 1, 15), gw.mailq()
    qid = qjson(gw, "list")[0]["id"]
    assert "mailer=smtp:[127.0.0.1]:%d" % old.port in q(gw, "show", qid)[1]
    with open(os.path.join(maps, "mailertable"), "w") as f:
        f.write("dest.test smtp:[127.0.0.1]:%d\n" % new.port)
    p = subprocess.run([BIN, "reload", "-c", gw.cf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, p.stdout
    gw.wait_log(r"event=reloaded ")
    # a flush keeps the route recorded when the message was processed
    q(gw, "flush", qid)
    gw.wait_log(r"queue=%s event=deferred rcpt=<someone@dest.test> attempt=2" % qid)
    assert new.count() == 0
    rc, out, err = q(gw, "requeue", qid)
    assert rc == 0 and "requeued" in out, err
    assert new.wait_count(1), gw.log()[-3000:]
    env, _ = new.messages()[0]
    assert "someone@dest.test" in json.dumps(env)
    log = gw.log()
    assert re.search(r"queue=%s event=requeued from=deferred" % qid, log)
    assert wait_until(lambda: gw.queue_files() == 0, 10)


def test_quarantine_release_through_socket(mkgw, mksink):
    sink = mksink()
    gw = scangw(mkgw, sink, virus_scanner=LIBCLAMAV)
    gw.wait_log(r"event=scanning_on")
    s = smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW)
    s.sendmail("sender@client.test", ["rcpt@dest.test"], VIRUS())
    s.quit()
    gw.wait_log(r"event=quarantined from=")
    sink.wait_count(1)
    qm = qjson(gw, "list", "--state", "quarantine")
    assert len(qm) == 1 and qm[0]["verdict"].startswith("virus: Mxgate.Test.EICAR"), qm
    rc, out, err = q(gw, "hold", qm[0]["id"])
    assert rc == 1 and "release or delete it" in err, err
    rc, out, err = q(gw, "release", qm[0]["id"])
    assert rc == 0 and "released as" in out, err
    assert sink.wait_count(2)
    assert [subject_of(m) for m in msgs(sink)].count("invoice") == 1  # the original, not scanned again
    assert qdir(gw, "quarantine") == [] and gw.log().count("event=scanned") == 1
    assert re.search(r"queue=%s event=released from=quarantine new=" % qm[0]["id"], gw.log())


def test_socket_owner_mode_and_daemon_stopped(mkgw, mksink, workdir):
    sink = mksink("--tempfail", "slow")
    gw = mkgw(sink, **SLOW_RETRY)
    path = gw.conf["queue_directory"] + "/control"
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert pwd.getpwuid(st.st_uid).pw_name == "mxgate"
    send(gw, ["slow@a.test"], "offline")
    assert wait_until(lambda: gw.queue_files("deferred") == 1, 15)
    rc, out, _ = q(gw, "status")
    assert rc == 0 and "deferred=1" in out, out
    gw.stop()
    assert not os.path.exists(path)
    rc, out, err = q(gw, "list")
    assert rc == 0 and " deferred " in out and "<slow@a.test> pending" in out, out + err
    qid = qjson(gw, "list")[0]["id"]
    rc, out, _ = q(gw, "show", qid)
    assert rc == 0 and "Subject: offline" in out
    for cmd in (["hold", qid], ["flush"], ["delete", qid], ["requeue", qid]):
        rc, out, err = q(gw, *cmd)
        assert rc == 3 and "mxgate is not running (no control socket at %s)" % path in err, (cmd, err)
    p = subprocess.run([BIN, "reload", "-c", gw.cf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 3 and b"not running" in p.stdout
    # a kill -9 leaves the socket behind: the next start replaces it
    gw.start()
    gw.kill9()
    assert os.path.exists(path)
    rc, _, err = q(gw, "hold", qid)
    assert rc == 3 and "not running" in err, err
    gw.start()
    gw.wait_log(r"event=control_socket_stale_removed")
    rc, out, err = q(gw, "hold", qid)
    assert rc == 0 and qdir(gw, "hold") == [qid], err


def test_mailq_symlink(mkgw, mksink, workdir):
    sink = mksink("--tempfail", "slow")
    gw = mkgw(sink, **SLOW_RETRY)
    link = os.path.join(workdir, "mailq")
    if not os.path.islink(link):
        os.symlink(BIN, link)
    run = lambda: subprocess.run([link, "-c", gw.cf], stdout=subprocess.PIPE, timeout=30).stdout.decode()
    assert run() == "Mail queue is empty\n"
    send(gw, ["slow@a.test", "slow2@a.test"], "mailq one")
    send(gw, ["slow3@a.test"], "mailq two")
    assert wait_until(lambda: gw.queue_files("deferred") == 2, 15)
    out = run()
    assert out.startswith("-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n"), out
    assert re.search(r"^[0-9A-Z]{16} +\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d  sender@client.test$", out, re.M), out
    assert re.search(r"^\(451 4.2.0 .*\)$", out, re.M) and re.search(r"^ {48}slow2@a.test$", out, re.M), out
    assert re.search(r"^-- \d+ Kbytes in 2 Requests\.$", out, re.M), out
    qid = qjson(gw, "list")[0]["id"]
    q(gw, "hold", qid)
    assert re.search(r"^%s! " % qid, run(), re.M)


def test_bad_requests(mkgw):
    gw = mkgw()
    assert ctl_raw(gw, b"not json\n")["ok"] is False
    a = ctl_raw(gw, b'{"cmd":"hold"}\n')
    assert a == {"ok": False, "msg": 'hold needs "id"'}, a
    a = ctl_raw(gw, b'{"cmd":"list","extra":1}\n')
    assert a["ok"] is False and "unknown field" in a["msg"], a
    a = ctl_raw(gw, b"{" + b" " * 5000)
    assert a["ok"] is False and "longer than 4096" in a["msg"], a
    a = ctl_raw(gw, b'{"cmd":"status"}\n')
    assert a["ok"] is True and a["pid"] == gw.pid() and set(a["queue"]) >= {"deferred", "hold", "quarantine"}, a
    rc, _, err = q(gw, "show", "ZZZZ")
    assert rc == 2 and "not a queue id" in err
    gw.wait_log(r"event=control_bad_request")
