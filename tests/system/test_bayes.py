"""Bayes (issue 14): `mxgate learn` trains the store at bayes_path as sa-learn does, and the
gateway's scanners use it: SpamAssassin's BAYES_* rules and the score set with Bayes once enough
messages are learned. Trained and checked on real labelled mail (../shared/corpus-labelled: a
fixed subset, learned on one part and scored on messages not learned). Every wait is bounded.
"""
import os
import re
import subprocess
import tarfile
import time

import pytest

from conftest import BIN
from test_scanning import ROOT, send

LABELLED = os.path.join(ROOT, "..", "shared", "corpus-labelled", "spamassassin-public-dev.tar.gz")

# The BAYES rules as SpamAssassin's 23_bayes.cf defines them (scores of the set with Bayes), and
# fewer messages needed before Bayes is used, so the test trains on 120 of each class.
BAYES_CF = """loadplugin Mail::SpamAssassin::Plugin::Bayes
body BAYES_00 eval:check_bayes('0.00', '0.01')
body BAYES_50 eval:check_bayes('0.40', '0.60')
body BAYES_95 eval:check_bayes('0.95', '0.99')
body BAYES_99 eval:check_bayes('0.99', '1.00')
tflags BAYES_00 nice learn
tflags BAYES_50 learn
tflags BAYES_95 learn
tflags BAYES_99 learn
score BAYES_00 0 0 -1.5 -1.9
score BAYES_50 0 0 0.8 0.8
score BAYES_95 0 0 3.0 3.2
score BAYES_99 0 0 3.5 3.5
bayes_min_spam_num 100
bayes_min_ham_num 100
bayes_stopword_en (?:a(?:nd|re)|the|this|for)
"""


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """{"spam": [...], "ham": [...]} message files: the first 140 of each class, sorted."""
    if not os.path.exists(LABELLED):
        pytest.fail("../shared/corpus-labelled is part of the test set-up: %s" % LABELLED)
    d = tmp_path_factory.mktemp("labelled")
    out = {"spam": [], "ham": []}
    with tarfile.open(LABELLED) as t:
        members = sorted((m for m in t.getmembers() if m.isfile()), key=lambda m: m.name)
        for m in members:
            cls = "spam" if "/spam" in m.name else "ham" if "easy-ham" in m.name else None
            if not cls or len(out[cls]) >= 140:
                continue
            path = os.path.join(str(d), cls, os.path.basename(m.name))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(t.extractfile(m).read())
            out[cls].append(path)
    assert len(out["spam"]) == 140 and len(out["ham"]) == 140
    return out


def learn(gw, *args):
    return subprocess.run([BIN, "learn", "-c", gw.cf] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)


def status_of(sink, n):
    assert sink.wait_count(n, timeout=20)
    _, eml = sink.messages()[n - 1]
    head = eml.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    m = re.search(r"^X-Spam-Status: (.*)$", re.sub(r"\r\n[ \t]+", " ", head), re.M)
    assert m, head
    return re.sub(r"\s+", " ", m.group(1))


def bayes_rule(status):
    m = re.search(r"\bBAYES_\d+", status)
    return m.group(0) if m else None


def gateway(mkgw, sink, workdir):
    cf = os.path.join(workdir, "bayes.cf")
    with open(cf, "w") as f:
        f.write(BAYES_CF)
    return mkgw(sink, spam_scanner="builtin", virus_scanner="none", spam_rules="builtin " + cf,
                scan_headers_on_clean="yes")


def resend(gw, path):
    with open(path, "rb") as f:
        raw = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    code, text = send(gw, raw)
    assert code == 250, text


def test_learn_then_scan(mkgw, mksink, workdir, labelled):
    """Before training: no BAYES_ rule. After `mxgate learn` of 120 spam and 120 ham (while the
    gateway runs: the scanners map the new store within a second), held-out spam gets a BAYES_9x
    rule and held-out ham BAYES_00, as spamd's Bayes would put them."""
    sink = mksink()
    gw = gateway(mkgw, sink, workdir)
    resend(gw, labelled["spam"][130])
    assert bayes_rule(status_of(sink, 1)) is None
    assert not os.path.exists(gw.conf["bayes_path"])

    r = learn(gw, "--spam", *labelled["spam"][:120])
    assert r.returncode == 0, r.stdout
    assert b"learned as spam: 120 message(s)" in r.stdout, r.stdout
    assert b"Bayes is used once 100 spam and 100 ham are learned" in r.stdout, r.stdout
    r = learn(gw, "--ham", os.path.dirname(labelled["ham"][0]))  # a directory: all 140 ham
    assert r.returncode == 0 and b"learned as ham: 140 message(s)" in r.stdout, r.stdout
    assert b"store %s: 120 spam, 140 ham" % gw.conf["bayes_path"].encode() in r.stdout, r.stdout
    time.sleep(1.2)  # the scanners look for a new store version at most once a second

    got = {"spam": [], "ham": []}
    n = 1
    for cls in ("spam", "ham"):
        for path in labelled[cls][125:135]:
            resend(gw, path)
            n += 1
            got[cls].append(bayes_rule(status_of(sink, n)))
    spammy = sum(1 for b in got["spam"] if b in ("BAYES_95", "BAYES_99"))
    # held-out ham was learned above (the directory held all 140): BAYES_00 for every one
    assert got["ham"] == ["BAYES_00"] * 10, got
    assert spammy >= 7, got


def test_learn_bookkeeping(mkgw, mksink, workdir, labelled):
    """Learning the same message again is a no-op; learning it as the other class moves it;
    --forget removes it; an mbox is split into its messages; errors have exit codes."""
    sink = mksink()
    gw = gateway(mkgw, sink, workdir)
    spam = labelled["spam"][:3]
    assert learn(gw, "--spam", *spam).returncode == 0
    r = learn(gw, "--spam", *spam)
    assert b"learned as spam: 0 message(s), 3 already learned as such" in r.stdout, r.stdout
    r = learn(gw, "--ham", spam[0])
    assert b"learned as ham: 1 message(s) (1 relearned from the other class)" in r.stdout, r.stdout
    assert b": 2 spam, 1 ham," in r.stdout, r.stdout
    r = learn(gw, "--forget", spam[0], spam[1])
    assert b"forgot: 2 message(s)" in r.stdout and b": 1 spam, 0 ham," in r.stdout, r.stdout
    # an mbox of three ham messages ("From " lines, one quoted ">From " inside a body)
    mbox = os.path.join(workdir, "ham.mbox")
    with open(mbox, "wb") as f:
        for i in range(3):
            f.write(b"From someone@example.org Mon Jan  1 00:00:00 2024\n")
            f.write(b"From: a@example.org\nSubject: note %d\nMessage-ID: <mbox-%d@example.org>\n\n"
                    b"a line\n>From the start\n\n" % (i, i))
    r = learn(gw, "--ham", mbox)
    assert b"learned as ham: 3 message(s)" in r.stdout, r.stdout
    r = learn(gw, "--ham", os.path.join(workdir, "no-such-file"))
    assert r.returncode == 1 and b"no-such-file" in r.stdout, r.stdout
    r = learn(gw, spam[2])
    assert r.returncode == 2 and b"--spam, --ham or --forget" in r.stdout, r.stdout
    r = learn(gw, "--spam", "--ham", spam[2])
    assert r.returncode == 2, r.stdout


def test_damaged_store_is_logged_and_mail_flows(mkgw, mksink, workdir, labelled):
    """A store that is not one (damaged, another program's file): every message is still scored,
    without Bayes, and the scanners log it (not once per message)."""
    sink = mksink()
    gw = gateway(mkgw, sink, workdir)
    with open(gw.conf["bayes_path"], "wb") as f:
        f.write(b"MXBAYES1" + b"\0" * 100)
    time.sleep(1.2)
    for i in range(3):
        resend(gw, labelled["ham"][i])
    for i in range(3):
        assert bayes_rule(status_of(sink, i + 1)) is None
    gw.wait_log(r"event=bayes_unavailable reason=\"bayes store .*damaged")
    assert gw.log().count("event=bayes_unavailable") <= 2, gw.log()[-3000:]  # per scanner, not per message
    r = learn(gw, "--spam", labelled["spam"][0])
    assert r.returncode == 2 and b"damaged" in r.stdout, r.stdout


# rules that make a message auto-learnable as spam (SpamAssassin's thresholds: 12 points in the
# score set without Bayes, at least 3 of them from header rules and 3 from body rules)
AUTOLEARN_CF = """header AL_HDR Subject =~ /lottery/
score AL_HDR 6.0
body AL_BODY /jackpot winner/
score AL_BODY 7.0
"""


def quarantined(gw, n, timeout=20):
    d = os.path.join(gw.conf["queue_directory"], "quarantine")
    end = time.time() + timeout
    while time.time() < end:
        got = sorted(os.listdir(d)) if os.path.isdir(d) else []
        if len(got) >= n:
            return got
        time.sleep(0.1)
    raise AssertionError("quarantine: %d messages after %ds" % (len(got), timeout))


def learned(gw, n, timeout=20):
    """The gateway's event=bayes_learned lines once there are n of them."""
    end = time.time() + timeout
    while time.time() < end:
        lines = re.findall(r"queue=(\S+) event=bayes_learned class=(\w+) source=(\S+) result=(\w+)", gw.log())
        if len(lines) >= n:
            return lines
        time.sleep(0.1)
    raise AssertionError("bayes_learned: fewer than %d after %ds: %s" % (n, timeout, gw.log()[-3000:]))


def spam_mail(i):
    return (b"From: promo@lotto.example\r\nTo: rcpt@dest.test\r\nSubject: lottery results %d\r\n"
            b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <lotto-%d@lotto.example>\r\n\r\n"
            b"You are our jackpot winner, claim your prize number %d now.\r\n" % (i, i, i))


def test_auto_learning_and_the_quarantine(mkgw, mksink, workdir):
    """SpamAssassin's auto-learning on the gateway: a message of 13 points (6 header, 7 body) is
    learned as spam, a clean one (no points) as ham, within the learner's interval. Spam goes to
    the quarantine with its tokens: releasing it relearns it as ham; delete-spam (command line,
    and the status page's POST) learns as spam and deletes. Every learning is logged and counted."""
    from test_status_page import action, metrics, secret_file
    from conftest import free_port
    sink = mksink()
    cf = os.path.join(workdir, "bayes.cf")
    with open(cf, "w") as f:
        f.write(BAYES_CF + AUTOLEARN_CF)
    port = free_port()
    gw = mkgw(sink, spam_scanner="builtin", virus_scanner="none", spam_rules="builtin " + cf,
              spam_actions="quarantine", high_spam_actions="quarantine", http_listen="127.0.0.1:%d" % port,
              http_secret_file=secret_file(workdir, "s3cret words\n"))
    clean = (b"From: friend@example.org\r\nTo: rcpt@dest.test\r\nSubject: lunch\r\n"
             b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <lunch-1@example.org>\r\n\r\n"
             b"Shall we meet at noon on Thursday?\r\n")
    assert send(gw, clean)[0] == 250
    assert send(gw, spam_mail(1))[0] == 250
    q = quarantined(gw, 1)
    got = learned(gw, 2)
    assert sorted((c, s, r) for _, c, s, r in got) == [("ham", "auto", "learned"), ("spam", "auto", "learned")], got
    gw.wait_log(r"event=bayes_store_written messages=\d+ nspam=1 nham=1 ")
    assert sink.wait_count(1, timeout=20)  # the clean one delivered; the spam is only quarantined

    # release: the spam it was learned as becomes ham (the tokens came with the quarantined copy)
    r = subprocess.run([BIN, "quarantine", "-c", gw.cf, "release", q[0]], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0 and b"learned as ham (Bayes)" in r.stdout, r.stdout
    got = learned(gw, 3)
    assert got[-1] == (q[0], "ham", "release", "relearned"), got
    gw.wait_log(r"event=bayes_store_written messages=1 nspam=0 nham=2 ")
    assert sink.wait_count(2, timeout=20)  # released and delivered

    # delete-spam from the command line, then from the status page
    assert send(gw, spam_mail(2))[0] == 250
    assert send(gw, spam_mail(3))[0] == 250
    q = quarantined(gw, 2)
    learned(gw, 5)
    r = subprocess.run([BIN, "quarantine", "-c", gw.cf, "delete-spam", q[0]], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0 and b"deleted" in r.stdout and b"learned as spam (Bayes)" in r.stdout, r.stdout
    st, body = action(port, q[1], "delete-spam", "s3cret words")
    assert st == 200 and "learned as spam" in body["message"], body
    got = learned(gw, 7)
    assert sorted(x[2] for x in got[-2:]) == ["delete-as-spam", "delete-as-spam"], got
    assert all(x[3] == "already" for x in got[-2:]), got  # auto-learned as spam already
    assert quarantined(gw, 0) == []
    # not in the quarantine: refused, nothing deleted
    r = subprocess.run([BIN, "quarantine", "-c", gw.cf, "delete-spam", q[0]], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode != 0 and b"not in quarantine" in r.stdout, r.stdout
    m = metrics(port)
    assert m['mxgate_bayes_learned_total{source="auto",class="spam"}'] == 3, m
    assert m['mxgate_bayes_learned_total{source="auto",class="ham"}'] == 1, m
    assert m['mxgate_bayes_learned_total{source="release",class="ham"}'] == 1, m
    assert m['mxgate_bayes_learned_total{source="delete-as-spam",class="spam"}'] == 0, m  # already spam
    assert m["mxgate_bayes_learn_failed_total"] == 0, m


def test_auto_learning_off(mkgw, mksink, workdir):
    """bayes_auto_learn = no: nothing is learned by itself; the store is not even created."""
    sink = mksink()
    cf = os.path.join(workdir, "bayes.cf")
    with open(cf, "w") as f:
        f.write(BAYES_CF + AUTOLEARN_CF)
    gw = mkgw(sink, spam_scanner="builtin", virus_scanner="none", spam_rules="builtin " + cf,
              bayes_auto_learn="no")
    assert send(gw, spam_mail(1))[0] == 250
    assert sink.wait_count(1, timeout=20)
    time.sleep(6)  # past the learner's interval
    assert "event=bayes_learned" not in gw.log()
    assert not os.path.exists(gw.conf["bayes_path"])
