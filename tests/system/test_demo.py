"""`make run`'s demo (mk/run.sh with examples/demo/main.cf), run as it is on free ports: the three
swaks commands it prints are executed verbatim and their results checked where it says to look
(Maildirs, the quarantine, the metrics)."""
import email
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

from conftest import BIN, ROOT, SLOW, free_port, wait_port, wait_until


def commands(text):
    """The swaks commands in the printed text (continuation lines joined)."""
    out, cur = [], None
    for line in text.splitlines():
        s = line.strip()
        if cur is not None:
            cur += " " + s.rstrip("\\").strip()
            if not s.endswith("\\"):
                out.append(cur)
                cur = None
        elif s.startswith("swaks "):
            if s.endswith("\\"):
                cur = s.rstrip("\\").strip()
            else:
                out.append(s)
    return out


def has_eicar(raw):
    """Whether any MIME part of the message decodes to the EICAR test string."""
    msg = email.message_from_bytes(raw)
    for part in msg.walk():
        body = part.get_payload(decode=True)
        if body and b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in body:
            return True
    return False


def maildir_files(run, user):
    d = os.path.join(run, "maildir", user, "new")
    return [os.path.join(d, f) for f in os.listdir(d)] if os.path.isdir(d) else []


def header(path, name):
    with open(path, "rb") as f:
        head = f.read().split(b"\n\n", 1)[0].decode("utf-8", "replace")
    m = re.search(r"^%s:[ \t]*(.*(?:\n[ \t].*)*)" % re.escape(name), head, re.M | re.I)
    return m.group(1).replace("\n", "") if m else None


def test_make_run_demo_end_to_end(workdir):
    run = os.path.join(workdir, "run")
    smtp, sink, http = free_port(), free_port(), free_port()
    env = dict(os.environ, MXGATE_RUN_DIR=run, MXGATE_RUN_SMTP_PORT=str(smtp), MXGATE_RUN_SINK_PORT=str(sink),
               MXGATE_RUN_HTTP_PORT=str(http), MXGATE_BIN=BIN)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    logpath = os.path.join(workdir, "run.out")
    logf = open(logpath, "wb")
    p = subprocess.Popen([os.path.join(ROOT, "mk", "run.sh")], cwd=ROOT, env=env, stdout=logf,
                         stderr=subprocess.STDOUT, start_new_session=True)
    logf.close()

    def out():
        with open(logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    try:
        assert wait_port(smtp, p, 30 * SLOW), "the demo did not start:\n" + out()
        assert wait_until(lambda: "event=started" in out(), 10 * SLOW), out()
        cmds = commands(out())
        assert len(cmds) == 3, out()
        for c in cmds:
            r = subprocess.run(["bash", "-c", c], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60 * SLOW)
            text = r.stdout.decode("utf-8", "replace")
            assert r.returncode == 0, c + "\n" + text
            assert re.search(r"<.? *250 2\.0\.0 .*queued as", text, re.I) or "250 2.0.0" in text, text
        # where the printed text says to look
        assert wait_until(lambda: all(maildir_files(run, u) for u in ("admin", "alice", "bob")), 30 * SLOW), out()
        (clean,), (spam,), (virus,) = (maildir_files(run, u) for u in ("admin", "alice", "bob"))
        assert header(clean, "Subject") == "hello"
        assert header(clean, "X-Spam-Status").startswith("No")
        assert header(spam, "Subject") == "{Spam?} cheap pills"
        assert header(spam, "X-Spam-Status").startswith("Yes")
        assert "GTUBE" in header(spam, "X-Spam-Status")
        assert header(virus, "Subject") == "{Virus?} the report"
        assert "Mxgate.Test.EICAR" in header(virus, "X-mxgate-Virus")
        with open(virus, "rb") as f:
            assert not has_eicar(f.read())  # the attachment was replaced
        qdir = os.path.join(run, "spool", "quarantine")
        assert wait_until(lambda: len(os.listdir(qdir)) == 1, 10 * SLOW), os.listdir(qdir)
        with open(os.path.join(qdir, os.listdir(qdir)[0]), "rb") as f:
            qf = f.read()
        assert b"Mxgate.Test.EICAR" in qf  # the scan report that put it there
        off, n = map(int, re.match(rb"MXQ1 b=(\d+):(\d+)", qf).groups())  # docs/QUEUE.md: the content's place
        assert has_eicar(qf[off:off + n])  # the original, as received
        # the queue tools, as the printed text shows them
        qid = os.listdir(qdir)[0]
        m = re.search(r"^\s*build/mxgate (queue list -c \S+ --state quarantine)", out(), re.M)
        assert m, out()
        r = subprocess.run([BIN] + m.group(1).split(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30 * SLOW)
        listing = r.stdout.decode()
        assert r.returncode == 0 and qid in listing and "virus: Mxgate.Test.EICAR" in listing, listing
        r = subprocess.run([BIN, "queue", "show", "-c", os.path.join(run, "main.cf"), qid], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30 * SLOW)
        shown = r.stdout.decode()
        assert r.returncode == 0 and "state: quarantine" in shown and "Subject: the report" in shown, shown
        # the metrics on the status page's listener
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=10).read().decode()
        assert re.search(r"^mxgate_messages_accepted_total 3$", metrics, re.M), metrics
        # the status page's data: the three verdicts, the quarantine, the plot (its last sample is
        # the minute in progress, so the messages show at once)
        st = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/api/status" % http, timeout=10).read())
        assert st["queue"]["quarantine"] == 1, st
        assert [q["queue"] for q in st["quarantine_list"]["messages"]] == [qid], st["quarantine_list"]
        assert sorted(m["verdict"] for m in st["recent"]) == ["clean", "high-spam", "virus"], st["recent"]
        h = st["history"]
        assert h["last_in_progress"] and sum(sum(v) for v in h["verdicts"].values()) == 3, h
        page = urllib.request.urlopen("http://127.0.0.1:%d/" % http, timeout=10).read().decode()
        assert "status.js" in page
        # nothing reached the sink: every recipient was local
        assert not [f for f in os.listdir(os.path.join(run, "sink")) if f.endswith(".eml")]
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
        try:
            p.wait(30 * SLOW)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
    text = out()
    assert "event=stopped accepted=3" in text, text
    assert "ERROR: AddressSanitizer" not in text and "runtime error" not in text, text


def test_example_config_checks_clean(workdir, tls_files):
    """examples/main.cf (what make install puts in /etc/mxgate) with its map files: mxgate check
    finds no error once the files are where it names them."""
    etc = os.path.join(workdir, "etc")
    os.makedirs(os.path.join(etc, "tls"))
    src = os.path.join(ROOT, "examples")
    for name in os.listdir(src):
        p = os.path.join(src, name)
        if os.path.isfile(p):
            with open(p) as f:
                text = f.read().replace("/etc/mxgate", etc)
            with open(os.path.join(etc, name), "w") as f:
                f.write(text)
    cert, key = tls_files
    shutil.copy(cert, os.path.join(etc, "tls", "mx1.example.org.pem"))
    shutil.copy(key, os.path.join(etc, "tls", "mx1.example.org.key"))
    r = subprocess.run([BIN, "check", "-c", os.path.join(etc, "main.cf")], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30 * SLOW)
    assert r.returncode == 0, r.stdout.decode()
    r = subprocess.run([BIN, "route", "-c", os.path.join(etc, "main.cf"), "someone@students.example.org"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * SLOW)
    assert r.returncode == 0 and "glass.example.org" in r.stdout.decode(), r.stdout.decode()
