"""Scanning through the gateway and `mxgate scan`: the seed's five steps visible in headers, log
and queue. Real scanners: libclamav and clamd with the shipped test signatures
(tests/data/clamav), spamd and rspamd offline (tests/system/scanners.py), the test dnsmasq's
DNSBL zones (conftest.py). Both scan stages; scanner down, never answering, killed; a poison
message that crashes the process. Every wait is bounded.
"""
import base64
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN, SLOW, free_port, wait_port, wait_until
from scanners import Clamd, Rspamd, Spamd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DB = os.path.join(ROOT, "tests", "data", "clamav")
LIBCLAMAV = "libclamav:" + DB
# EICAR built from two halves, so no file of ours is itself a test virus
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def mail(subject, body=b"hello there, nothing special\r\n", attachment=None, name="file.bin", extra=b""):
    head = (b"From: sender@client.test\r\nTo: rcpt@dest.test\r\nSubject: " + subject + b"\r\n"
            b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d@client.test>\r\nMIME-Version: 1.0\r\n"
            % (time.time_ns()) + extra)
    if attachment is None:
        return head + b"Content-Type: text/plain\r\n\r\n" + body
    b64 = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    return (head + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
            + body + b"\r\n--b1\r\nContent-Type: application/octet-stream; name=\"" + name.encode()
            + b"\"\r\nContent-Disposition: attachment; filename=\"" + name.encode()
            + b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--b1--\r\n")


CLEAN = lambda: mail(b"quarterly report")
SPAM = lambda: mail(b"cheap offer", b"buy now " + GTUBE + b"\r\n")
VIRUS = lambda: mail(b"invoice", b"see the attachment\r\n", EICAR, "eicar.com")


def send(gw, msg, rcpts=("rcpt@dest.test",), sender="sender@client.test", source=None):
    """Returns the DATA reply (code, text); raises nothing for 4xx/5xx."""
    s = smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW, source_address=(source, 0) if source else None)
    try:
        s.ehlo("client.test")
        s.mail(sender)
        for r in rcpts:
            s.rcpt(r)
        code, text = s.data(msg)
        return code, text.decode("utf-8", "replace")
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode("utf-8", "replace")
    finally:
        try:
            s.quit()
        except Exception:
            pass


def msgs(sink):
    return [m for _, m in sink.messages()]


def envelopes(sink):
    return [e for e, _ in sink.messages()]


def headers_of(m):
    return m.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")


def subject_of(m):
    mm = re.search(r"^Subject:(.*(?:\r\n[ \t].*)*)", headers_of(m), re.M | re.I)
    return mm.group(1).strip() if mm else None


def scancli(gw_or_cf, *args):
    cf = gw_or_cf if isinstance(gw_or_cf, str) else gw_or_cf.cf
    p = subprocess.run([BIN, "scan", "-c", cf] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def quarantine(gw, *args):
    p = subprocess.run([BIN, "quarantine", "-c", gw.cf] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def qdir(gw, sub):
    p = os.path.join(gw.conf["queue_directory"], sub)
    return sorted(os.listdir(p)) if os.path.isdir(p) else []


def scangw(mkgw, *args, **conf):
    """A gateway with mxgate's default spam scanner (conftest turns scanning off for relay tests)."""
    conf.setdefault("spam_scanner", "builtin")
    return mkgw(*args, **conf)


@pytest.fixture(scope="module")
def clamd(basedir):
    c = Clamd(basedir).start()
    yield c
    c.stop()


# --- mxgate scan ------------------------------------------------------------------------------

def test_scan_cli_verdicts(mkgw, workdir):
    gw = scangw(mkgw, start=False, virus_scanner=LIBCLAMAV)
    gw.write_conf()
    files = {}
    for k, m in (("clean", CLEAN()), ("spam", SPAM()), ("virus", VIRUS())):
        files[k] = os.path.join(workdir, k + ".eml")
        with open(files[k], "wb") as f:
            f.write(m.replace(b"\r\n", b"\n"))  # LF files are fine too
    rc, out, err = scancli(gw, "--json", files["clean"], files["spam"], files["virus"])
    assert rc == 0, err
    res = [json.loads(l) for l in out.splitlines()]
    assert [r["verdict"] for r in res] == ["clean", "high-spam", "virus"], out
    assert res[0]["subject"].strip() == "quarterly report"
    assert "GTUBE" in res[1]["spam"]["rules"] and res[1]["spam"]["score"] >= 1000
    assert res[1]["subject"].strip() == "{Spam?} cheap offer"
    assert "X-Spam-Flag: YES" in res[1]["headers"]
    v = res[2]["virus"][0]
    assert v["name"].startswith("Mxgate.Test.EICAR") and v["part"] == "2" and v["filename"] == "eicar.com", v
    assert res[2]["actions"] == "tag,deliver-cleaned,quarantine" and res[2]["cleaned_parts"] == 1
    assert res[2]["subject"].strip() == "{Virus?} invoice"
    for r in res:
        assert set(r["ms"]) == {"dnsbl", "parse", "virus", "spam", "total"}
    # text form names the same things
    rc, out, err = scancli(gw, files["virus"])
    assert rc == 0 and "verdict: virus" in out and re.search(r"Mxgate.Test.EICAR\S* in part 2 eicar.com", out), out
    assert "timings:" in out


def test_scan_cli_json_raw_8bit_headers(mkgw, workdir):
    # raw Latin-1 / Big5 octets in the header section (seen in real corpora) must not crash
    # the JSON output: they become U+FFFD, valid UTF-8 passes as it is
    gw = mkgw(start=False)
    gw.write_conf()
    path = os.path.join(workdir, "8bit.eml")
    with open(path, "wb") as f:
        f.write(b"From: a@example.com\nTo: b@example.com\nSubject: Die Fr\xf6sche \xa4\xa4 \xc3\xa9t\xc3\xa9\n"
                b"X-Raw: \xff\xfe\n\nhello\n")
    rc, out, err = scancli(gw, "--json", path, path)
    assert rc == 0, err
    res = [json.loads(l) for l in out.splitlines()]
    assert len(res) == 2 and res[0]["verdict"] == "clean", out
    assert res[0]["subject"].strip() == "Die Fr\ufffdsche \ufffd\ufffd \u00e9t\u00e9"
    assert "X-Raw: \ufffd\ufffd" in res[0]["headers"]


def test_scan_cli_dnsbl_and_access_map(mkgw, workdir):
    amap = os.path.join(workdir, "access")
    with open(amap, "w") as f:
        f.write("# allow and deny\nFrom:partner.test OK\nFrom:spammer.test SPAM\n")
    gw = scangw(mkgw, start=False, dnsbl_sites="bl.test*2", dnsbl_threshold=2, dnsbl_check_private="yes",
              scan_access_map=amap)
    gw.write_conf()
    path = os.path.join(workdir, "m.eml")
    with open(path, "wb") as f:
        f.write(CLEAN())
    rc, out, err = scancli(gw, "--json", "--client-ip", "127.0.0.9", path)
    r = json.loads(out)
    assert r["verdict"] == "blocklisted" and r["dnsbl"]["weight"] == 2, out
    assert "Listed by bl.test" in r["dnsbl"]["hits"][0]["txt"]
    assert r["subject"].strip() == "{Blocklisted?} quarterly report"
    rc, out, err = scancli(gw, "--json", "--client-ip", "127.0.0.1", path)
    assert json.loads(out)["verdict"] == "clean", out
    rc, out, err = scancli(gw, "--json", "--client-ip", "not-an-ip", path)
    assert rc == 2 and "not an IP address" in err


def test_virus_tmpdir(mkgw, workdir):
    """virus_tmpdir gives libclamav its directory for temporary files (a tmpfs saves disk I/O per
    message): the verdicts are the same, nothing is left in it, and a path that is not an absolute
    path to a directory is refused when the engine is made."""
    tmp = os.path.join(workdir, "avtmp")
    os.makedirs(tmp)
    gw = scangw(mkgw, start=False, virus_scanner=LIBCLAMAV, virus_tmpdir=tmp)
    gw.write_conf()
    f = os.path.join(workdir, "virus.eml")
    with open(f, "wb") as fh:
        fh.write(VIRUS())
    rc, out, err = scancli(gw, "--json", f)
    assert rc == 0, err
    assert json.loads(out)["verdict"] == "virus", out
    assert os.listdir(tmp) == [], os.listdir(tmp)
    for bad in (f, "relative/dir", os.path.join(workdir, "missing")):
        gw.conf["virus_tmpdir"] = bad
        gw.write_conf()
        rc, out, err = scancli(gw, "--json", f)
        assert rc != 0 and ('virus_tmpdir "%s" is not an absolute path to a directory' % bad) in out + err, (rc, out, err)


def test_check_refuses_reject_after_queue(mkgw):
    gw = scangw(mkgw, start=False, high_spam_actions="reject")
    gw.write_conf()
    p = subprocess.run([BIN, "check", "-c", gw.cf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 1 and "reject needs scan_stage = before-queue" in out, out
    gw.conf["spam_actions"] = "deliver bounce"
    gw.conf["high_spam_actions"] = "deliver tag"
    gw.write_conf()
    p = subprocess.run([BIN, "check", "-c", gw.cf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 1 and 'unknown action "bounce"' in p.stdout.decode()


# --- after-queue through the gateway --------------------------------------------------------

def test_after_queue_tag_clean_quarantine_release(mkgw, mksink):
    sink = mksink()
    gw = scangw(mkgw, sink, virus_scanner=LIBCLAMAV)
    gw.wait_log(r"event=scanning_on stage=after-queue")
    pre = mail(b"{Spam?} already tagged", b"again " + GTUBE + b"\r\n",
               extra=b"X-Spam-Flag: NO\r\nX-mxgate-Scan: clean (forged)\r\n")
    for m in (CLEAN(), SPAM(), VIRUS(), pre):
        assert send(gw, m)[0] == 250
    sink.wait_count(4, timeout=30 * SLOW)
    got = {subject_of(m): m for m in msgs(sink)}
    assert set(got) == {"quarterly report", "{Spam?} cheap offer", "{Virus?} invoice", "{Spam?} already tagged"}, got.keys()
    h = headers_of(got["quarterly report"])
    assert re.search(r"^X-mxgate-Scan: clean \(score=0.00 required=5.00\) by mxgate on gw.test", h, re.M), h
    h = headers_of(got["{Spam?} cheap offer"])
    assert "X-Spam-Flag: YES" in h and re.search(r"X-Spam-Status: Yes, score=10\d\d", h), h
    # forged result headers from outside are gone, the tag is not doubled
    h = headers_of(got["{Spam?} already tagged"])
    assert "X-Spam-Flag: NO" not in h and "forged" not in h and h.count("X-mxgate-Scan:") == 1, h
    # the virus: a cleaned copy, the attachment replaced by a note naming the virus
    v = got["{Virus?} invoice"]
    assert EICAR not in v and base64.b64encode(EICAR)[:40] not in v
    assert b"Mxgate.Test.EICAR" in v and b"see the attachment" in v
    assert re.search(r"X-mxgate-Virus: Mxgate.Test.EICAR\S* in part 2 eicar.com", headers_of(v)), headers_of(v)
    # the original is in quarantine, with its verdict
    gw.wait_log(r"event=quarantined from=")
    rc, out = quarantine(gw, "list")
    assert rc == 0 and "virus: Mxgate.Test.EICAR" in out and "-- 1 message in quarantine" in out, out
    qid = qdir(gw, "quarantine")[0]
    rc, out = quarantine(gw, "show", qid)
    assert rc == 0 and "cat=virus" in out and "Subject: invoice" in out, out
    # release: the original goes to its recipients, not scanned again
    rc, out = quarantine(gw, "release", qid)
    assert rc == 0 and "released as" in out, out
    sink.wait_count(5, timeout=30 * SLOW)
    orig = [m for m in msgs(sink) if subject_of(m) == "invoice"]
    assert len(orig) == 1 and base64.encodebytes(EICAR).replace(b"\n", b"\r\n")[:60] in orig[0]
    assert qdir(gw, "quarantine") == []
    log = gw.log()
    for verdict in ("clean", "high-spam", "virus"):
        assert re.search(r"event=scanned verdict=%s .*ms_total=" % verdict, log), verdict
    assert re.search(r"event=scanned verdict=virus .*viruses=\"?Mxgate.Test.EICAR\S* parts=\"?2\"? .*actions=tag,deliver-cleaned,quarantine", log)
    assert quarantine(gw, "show", "0000000000000000")[0] != 0


def test_actions_redirect_drop_and_headers_only(mkgw, mksink):
    sink = mksink()
    gw = scangw(mkgw, sink, high_spam_actions="redirect:spamtrap@trap.test tag", virus_actions="drop",
              virus_scanner=LIBCLAMAV, scan_tag_subject="no", scan_headers_on_clean="no")
    clean = CLEAN()
    for m in (clean, SPAM(), VIRUS()):
        assert send(gw, m)[0] == 250
    gw.wait_log(r"event=dropped verdict=virus")
    sink.wait_count(2, timeout=30 * SLOW)
    time.sleep(0.5)
    got = msgs(sink)
    assert len(got) == 2
    by = {subject_of(m): m for m in got}
    assert by["quarterly report"].endswith(clean.split(b"\r\n\r\n", 1)[1])
    assert "X-mxgate-Scan" not in headers_of(by["quarterly report"])  # passed byte for byte
    assert "cheap offer" in by and "X-Spam-Flag: YES" in headers_of(by["cheap offer"])  # headers only
    assert "spamtrap@trap.test" in json.dumps(envelopes(sink))
    assert qdir(gw, "quarantine") == [] and gw.queue_files() == 0


def test_access_map_ok_and_spam(mkgw, mksink, workdir):
    amap = os.path.join(workdir, "access")
    with open(amap, "w") as f:
        f.write("From:partner.test OK\nFrom:spammer.test SPAM\n")
    sink = mksink()
    gw = scangw(mkgw, sink, scan_access_map=amap, virus_scanner=LIBCLAMAV)
    assert send(gw, SPAM(), sender="a@partner.test")[0] == 250
    assert send(gw, CLEAN(), sender="b@spammer.test")[0] == 250
    assert send(gw, VIRUS(), sender="c@partner.test")[0] == 250  # OK never skips virus checks
    sink.wait_count(3, timeout=30 * SLOW)
    subs = sorted(subject_of(m) for m in msgs(sink))
    assert subs == ["cheap offer", "{Spam?} quarterly report", "{Virus?} invoice"], subs


def test_dnsbl_tags_blocklisted_client(mkgw, mksink):
    sink = mksink()
    gw = scangw(mkgw, sink, dnsbl_sites="bl.test*3", dnsbl_threshold=3, dnsbl_check_private="yes",
              mynetworks="127.0.0.1/32", relay_domains="dest.test")
    assert send(gw, CLEAN(), source="127.0.0.9")[0] == 250
    sink.wait_count(1, timeout=30 * SLOW)
    m = msgs(sink)[0]
    assert subject_of(m) == "{Blocklisted?} quarterly report"
    assert "X-mxgate-DNSBL: bl.test=127.0.0.2 (weight 3); total 3" in headers_of(m)


# --- before-queue -------------------------------------------------------------------------

def test_before_queue_reject_and_tempfail(mkgw, mksink, basedir):
    sink = mksink()
    c = Clamd(os.path.join(basedir, "bq-clamd")).start()
    try:
        gw = scangw(mkgw, sink, scan_stage="before-queue", virus_scanner="clamd:" + c.unix, virus_actions="reject",
                  high_spam_actions="reject", scan_timeout="5s")
        code, text = send(gw, VIRUS())
        assert code == 554 and "virus Mxgate.Test.EICAR" in text, text
        code, text = send(gw, SPAM())
        assert code == 554 and "high-spam" in text, text
        code, text = send(gw, CLEAN())
        assert code == 250, text
        sink.wait_count(1, timeout=20 * SLOW)
        assert "X-mxgate-Scan: clean" in headers_of(msgs(sink)[0])
        assert re.search(r"event=scanned verdict=clean .*stage=before-queue", gw.log())
        # scanner gone: 451, nothing queued
        c.kill9()
        code, text = send(gw, CLEAN())
        assert code == 451 and "could not be scanned" in text, text
        assert gw.queue_files() == 0
        assert qdir(gw, "quarantine") == []
    finally:
        c.stop()


# --- failures -------------------------------------------------------------------------------

class Silent:
    """A 'scanner' that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


def test_scanner_down_then_up_nothing_lost(mkgw, mksink, basedir):
    sink = mksink()
    c = Clamd(os.path.join(basedir, "down-clamd"))
    c.start()
    c.stop()
    gw = scangw(mkgw, sink, virus_scanner="clamd:" + c.unix, scan_max_attempts=2)
    for m in (CLEAN(), VIRUS()):
        assert send(gw, m)[0] == 250
    gw.wait_log(r"event=scan_deferred .*timeout=no", count=4, timeout=30 * SLOW)
    assert sink.count() == 0 and len(qdir(gw, "input")) == 2
    assert "poison_hold" not in gw.log()  # an unavailable scanner is not the message's fault
    c.start()
    try:
        gw.flush()
        sink.wait_count(1, timeout=30 * SLOW)
        gw.wait_log(r"event=quarantined from=")
        sink.wait_count(2, timeout=30 * SLOW)
        subs = sorted(subject_of(m) for m in msgs(sink))
        assert subs == ["quarterly report", "{Virus?} invoice"], subs
    finally:
        c.stop()


def test_clamd_killed_mid_scan_nothing_lost(mkgw, mksink, basedir):
    """clamd stopped while the gateway's scan waits on it, then killed: the scan ends with an
    error (not the message's fault), the message waits in input/, and is delivered, cleaned,
    once clamd is back."""
    sink = mksink()
    c = Clamd(os.path.join(basedir, "killed-clamd")).start()
    try:
        gw = scangw(mkgw, sink, spam_scanner="none", virus_scanner="clamd:" + c.unix, scan_timeout="30s")
        c.signal(signal.SIGSTOP)
        assert send(gw, VIRUS())[0] == 250
        time.sleep(1)  # the scan now waits on the stopped clamd (if not yet, it finds it dead)
        c.kill9()
        gw.wait_log(r"event=scan_deferred .*timeout=no", timeout=30 * SLOW)
        assert sink.count() == 0 and len(qdir(gw, "input")) == 1 and qdir(gw, "quarantine") == []
        c.start()
        gw.flush()
        sink.wait_count(1, timeout=30 * SLOW)
        assert subject_of(msgs(sink)[0]) == "{Virus?} invoice"
        gw.wait_log(r"event=quarantined from=")
        assert "poison_hold" not in gw.log()
    finally:
        c.stop()


def test_scanner_never_answers_poison_guard(mkgw, mksink):
    sink = mksink()
    silent = Silent()
    try:
        gw = scangw(mkgw, sink, virus_scanner="clamd:inet:127.0.0.1:%d" % silent.port, scan_timeout="1s",
                  scan_max_attempts=2)
        assert send(gw, CLEAN())[0] == 250
        gw.wait_log(r"event=scan_deferred .*timeout=yes", count=2, timeout=30 * SLOW)
        gw.wait_log(r"event=poison_hold attempts=2", timeout=30 * SLOW)
        assert len(qdir(gw, "hold")) == 1 and sink.count() == 0
    finally:
        silent.close()


def test_deliver_unscanned_when_configured(mkgw, mksink):
    sink = mksink()
    gw = scangw(mkgw, sink, virus_scanner="clamd:inet:127.0.0.1:%d" % free_port(), scan_on_failure="deliver-unscanned")
    assert send(gw, CLEAN())[0] == 250
    sink.wait_count(1, timeout=30 * SLOW)
    h = headers_of(msgs(sink)[0])
    assert "not scanned: scanner failure" in h, h
    assert "action=deliver-unscanned" in gw.log()


def test_poison_message_crashing_its_scanner(mkgw, mksink):
    """A message whose scan crashes its scanner process (fault injection: MXGATE_TEST_SCAN_CRASH)
    is scanned at most scan_max_attempts times, then held; the gateway process never goes down
    and other mail flows (tests/system/test_scanner_processes.py has the other faults)."""
    sink = mksink()
    gw = scangw(mkgw, sink, start=False, scan_max_attempts=2)
    os.environ["MXGATE_TEST_SCAN_CRASH"] = "POISON-7b1e"
    try:
        gw.start()
    finally:
        del os.environ["MXGATE_TEST_SCAN_CRASH"]
    pid = gw.pid()
    assert send(gw, mail(b"poison", b"POISON-7b1e\r\n"))[0] == 250
    gw.wait_log(r"event=poison_hold attempts=2", timeout=20 * SLOW)
    assert len(qdir(gw, "hold")) == 1
    log = gw.log()
    assert log.count("event=scanner_lost") == 2 and "status=signal:ABRT" in log, log[-3000:]
    assert "event=fault_injection" in log
    assert gw.proc.poll() is None and gw.pid() == pid
    assert send(gw, CLEAN())[0] == 250
    sink.wait_count(1, timeout=20 * SLOW)


# --- daemon back ends -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["spamd", "rspamd"])
def test_spam_daemon_backends(kind, mkgw, mksink, basedir):
    d = (Spamd if kind == "spamd" else Rspamd)(os.path.join(basedir, "be-" + kind)).start()
    try:
        sink = mksink()
        gw = scangw(mkgw, sink, spam_scanner="%s:%s" % (kind, d.address), scan_timeout="30s")
        assert send(gw, SPAM())[0] == 250
        assert send(gw, CLEAN())[0] == 250
        sink.wait_count(2, timeout=60 * SLOW)
        by = {subject_of(m): m for m in msgs(sink)}
        assert "{Spam?} cheap offer" in by and "quarterly report" in by, by.keys()
        assert "X-Spam-Flag: YES" in headers_of(by["{Spam?} cheap offer"])
        assert "X-Spam-Status: No" in headers_of(by["quarterly report"])
        assert re.search(r"event=scanned verdict=(high-)?spam .*GTUBE", gw.log()), gw.log()[-2000:]
    finally:
        d.stop()
