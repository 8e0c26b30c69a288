"""The external scanner clients (src/scan/av/scan_av*.c, spam/scan_spamd.c, spam/scan_rspamd.c)
against the real daemons, through build*/tests/tools/scanprobe (one JSON line per
call). Each daemon is started once for the module (scanners.py); the failure
cases use their own clamd, or a socket that accepts and never answers.
"""
import base64
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, ROOT, SLOW, free_port
from scanners import Clamd, Rspamd, Spamd

PROBE = os.path.join(os.path.dirname(BIN), "tests", "tools", "scanprobe")
DB = os.path.join(ROOT, "tests", "data", "clamav")
AV_DATA = os.path.join(ROOT, "tests", "data", "av")
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
if not os.path.isdir(CORPUS):
    CORPUS = "/work/shared/corpus"
GTUBE = os.path.join(CORPUS, "spamassassin", "spam", "gtube.eml")
NOT_GTUBE = os.path.join(CORPUS, "spamassassin", "nice", "not_gtube.eml")
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"MXGATE-TEST-VIRUS-MARKER-7f3a"


def probe(*args, timeout=60):
    p = subprocess.run([PROBE] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout * SLOW)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


def mail(body, attachment=None, name="file.bin"):
    head = (b"From: sender@example.org\r\nTo: rcpt@example.net\r\nSubject: scanner test\r\n"
            b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <scan-test@example.org>\r\nMIME-Version: 1.0\r\n")
    if attachment is None:
        return head + b"Content-Type: text/plain\r\n\r\n" + body + b"\r\n"
    b64 = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    return (head + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
            + body + b"\r\n--b1\r\nContent-Type: application/octet-stream; name=\"" + name.encode()
            + b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--b1--\r\n")


@pytest.fixture(scope="module")
def samples(basedir):
    d = os.path.join(basedir, "av-samples")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(AV_DATA, "eicar.zip"), "rb") as f:
        eicar_zip = f.read()
    with open(os.path.join(AV_DATA, "encrypted.zip"), "rb") as f:
        enc_zip = f.read()
    msgs = {
        "eicar": mail(b"see attachment", EICAR, "eicar.com"),
        "marker": mail(b"hello " + MARKER + b" bye"),
        "clean": mail(b"nothing to see here"),
        "eicar_zip": mail(b"zipped", eicar_zip, "eicar.zip"),
        "encrypted": mail(b"locked", enc_zip, "secret.zip"),
        # the marker past the first 64 KiB chunk of zINSTREAM
        "marker_late": mail(b"x" * 100000 + b"\r\n" + MARKER),
    }
    paths = {}
    for k, v in msgs.items():
        paths[k] = os.path.join(d, k + ".eml")
        with open(paths[k], "wb") as f:
            f.write(v)
    return paths


@pytest.fixture(scope="module")
def clamd(basedir):
    c = Clamd(basedir).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def spamd(basedir):
    s = Spamd(basedir).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def rspamd(basedir):
    r = Rspamd(basedir).start()
    yield r
    r.stop()


def av_spec(kind, clamd):
    if kind == "unix":
        return "clamd:" + clamd.unix
    if kind == "inet":
        return "clamd:inet:" + clamd.inet
    return "libclamav:" + DB


AV_CASES = [
    ("eicar", "infected", "Mxgate.Test.EICAR"),
    ("marker", "infected", "Mxgate.Test.Marker"),
    ("marker_late", "infected", "Mxgate.Test.Marker"),
    ("clean", "clean", ""),
    ("eicar_zip", "infected", "Mxgate.Test.EICAR"),
    ("encrypted", "unscannable", "Heuristics.Encrypted.Zip"),
]


@pytest.mark.parametrize("kind", ["unix", "inet", "libclamav"])
def test_av_verdicts(kind, clamd, samples):
    spec = av_spec(kind, clamd)
    out = probe("av", spec, *[samples[k] for k, _, _ in AV_CASES])
    assert len(out) == len(AV_CASES)
    for (k, status, name), got in zip(AV_CASES, out):
        assert got["status"] == status, (k, got)
        assert got["name"].startswith(name), (k, got)


@pytest.mark.parametrize("kind", ["unix", "libclamav"])
def test_av_ping(kind, clamd):
    (got,) = probe("ping", av_spec(kind, clamd))
    assert got["rc"] == 0
    assert got["text"].startswith("ClamAV 1.4" if kind == "unix" else "libclamav 1.4"), got


@pytest.mark.parametrize("kind", ["unix", "libclamav"])
def test_av_over_max_size_is_never_clean(kind, clamd, samples):
    # max 1000 bytes: the late marker is not in the prefix -> unscannable; an early one is found
    out = probe("av", av_spec(kind, clamd), samples["marker_late"], samples["marker"], "--max-size", 1000)
    assert out[0]["status"] == "unscannable" and out[0]["name"] == "Heuristics.Limits.Exceeded.MaxSize", out
    assert out[1]["status"] == "infected", out


def test_clamd_stream_max_length(basedir):
    c = Clamd(basedir, stream_max="100K").start()
    try:
        big = os.path.join(c.dir, "big.eml")
        with open(big, "wb") as f:
            f.write(mail(b"y" * 400000))
        (got,) = probe("av", "clamd:" + c.unix, big)
        assert got["status"] == "unscannable", got
        assert got["name"] == "Heuristics.Limits.Exceeded.StreamMaxLength", got
    finally:
        c.stop()


class Mute:
    """A listening socket that accepts (in the backlog) and never answers."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("what", ["av", "spamd", "rspamd"])
def test_not_answering_times_out(what, samples):
    m = Mute()
    try:
        spec = {"av": "clamd:inet:127.0.0.1:%d", "spamd": "spamd:127.0.0.1:%d",
                "rspamd": "rspamd:127.0.0.1:%d"}[what] % m.port
        t0 = time.time()
        (got,) = probe("av" if what == "av" else "spam", spec, samples["clean"], "--timeout", 1000)
        took = time.time() - t0
        err = got["name"] if what == "av" else got["err"]
        if what == "av":
            assert got["status"] == "error", got
        else:
            assert got["rc"] == -1, got
        assert "timed out" in err, got
        assert 0.9 <= got["ms"] / 1000 <= 1.5 * SLOW, got
        assert took < 5 * SLOW
    finally:
        m.close()


def test_clamd_killed_mid_scan(basedir, samples):
    c = Clamd(basedir).start()
    try:
        c.signal(signal.SIGSTOP)  # the scan waits on a clamd that does not run ...
        p = subprocess.Popen([PROBE, "av", "clamd:" + c.unix, samples["marker_late"], "--timeout", "20000"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        t0 = time.time()
        c.kill9()  # ... and is cut by its death, long before the 20 s timeout
        out, _ = p.communicate(timeout=10 * SLOW)
        got = json.loads(out)
        assert got["status"] == "error", got
        assert "timed out" not in got["name"], got
        assert time.time() - t0 < 5 * SLOW
    finally:
        c.stop()


def test_av_dead_socket(basedir):
    port = free_port()
    out = probe("av", "clamd:inet:127.0.0.1:%d" % port, GTUBE)
    assert out[0]["status"] == "error" and "Connection refused" in out[0]["name"], out
    out = probe("av", "clamd:unix:" + os.path.join(basedir, "no-such.sock"), GTUBE)
    assert out[0]["status"] == "error" and "No such file" in out[0]["name"], out


@pytest.mark.parametrize("kind", ["spamd", "rspamd"])
def test_spam_gtube_and_ham(kind, request):
    d = request.getfixturevalue(kind)
    out = probe("spam", "%s:%s" % (kind, d.address), GTUBE, NOT_GTUBE, "--ip", "127.0.0.2", "--helo",
                "client.test", "--from", "sender@example.org", "--rcpt", "a@example.net", "--rcpt",
                "b@example.net", "--qid", "MXGTESTQID1")
    spam, ham = out
    assert spam["rc"] == 0 and spam["is_spam"] and "GTUBE" in spam["symbols"], spam
    assert spam["score"] >= spam["required"] > 0, spam
    assert ham["rc"] == 0 and not ham["is_spam"] and "GTUBE" not in ham["symbols"], ham
    assert ham["score"] < ham["required"], ham
    if kind == "rspamd":
        assert spam["action"] == "reject" and ham["action"] in ("no action", "greylist"), out
        with open(os.path.join(d.dir, "log", "rspamd.log"), errors="replace") as f:
            assert "MXGTESTQID1" in f.read()  # the envelope headers reached rspamd


@pytest.mark.parametrize("kind", ["spamd", "rspamd"])
def test_spam_size_skip(kind, request):
    d = request.getfixturevalue(kind)
    (got,) = probe("spam", "%s:%s" % (kind, d.address), GTUBE, "--max-size", 100)
    assert got["rc"] == 0 and got["skipped_size"] and not got["is_spam"], got


@pytest.mark.parametrize("kind", ["spamd", "rspamd"])
def test_spam_dead_port(kind):
    (got,) = probe("spam", "%s:127.0.0.1:%d" % (kind, free_port()), GTUBE)
    assert got["rc"] == -1 and "Connection refused" in got["err"], got
