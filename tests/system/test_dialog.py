"""SMTP dialog tests: every tests/dialog/*.dialog file is one test against the real
binary on loopback (format: tests/dialog/README.md)."""
import glob
import os
import re
import time
import fnmatch

import pytest

from conftest import ROOT, SLOW, wait_until

DIALOGS = sorted(glob.glob(os.path.join(ROOT, "tests", "dialog", "*.dialog")))


def unescape(s):
    return s.encode("utf-8").decode("unicode_escape").encode("latin-1")


def parse(path):
    conf, sink_args, steps, tls = {}, [], [], False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            m = re.match(r"^(C|S|S~|C!)(?:\*(\d+))?: ?(.*)$", line)
            if m:
                kind, rep, text = m.group(1), int(m.group(2) or 1), m.group(3)
                for _ in range(rep):
                    steps.append((kind, text, n))
                continue
            m = re.match(r"^! *(\S+) *(.*)$", line)
            if not m:
                raise ValueError("%s:%d: cannot parse %r" % (path, n, line))
            d, arg = m.group(1), m.group(2)
            if d == "conf":
                k, _, v = arg.partition("=")
                conf[k.strip()] = v.strip()
            elif d == "sink":
                sink_args = arg.split()
            elif d == "tls":
                tls = True
            else:
                steps.append(("!", d + " " + arg, n))
    return conf, sink_args, tls, steps


@pytest.mark.parametrize("path", DIALOGS, ids=[os.path.basename(p)[:-7] for p in DIALOGS])
def test_dialog(path, mkgw, mksink, raw, tls_files):
    conf, sink_args, tls, steps = parse(path)
    sink = mksink(*sink_args)
    if tls:
        conf.setdefault("smtpd_tls_cert_file", tls_files[0])
        conf.setdefault("smtpd_tls_key_file", tls_files[1])
    gw = mkgw(sink=sink, **conf)
    r = raw(gw.port)
    where = ""
    try:
        for kind, text, n in steps:
            where = "%s:%d" % (os.path.basename(path), n)
            if kind == "C":
                r.send(text.encode("utf-8") + b"\r\n")
            elif kind == "C!":
                r.send(unescape(text))
            elif kind in ("S", "S~"):
                got = r.line()
                ok = fnmatch.fnmatchcase(got, text) if kind == "S" else re.search(text, got)
                assert ok, "%s: expected %r, got %r" % (where, text, got)
            else:
                d, _, rawarg = text.partition(" ")
                arg = rawarg.strip()
                if d == "starttls":
                    r.starttls()
                elif d == "sleep":
                    time.sleep(float(arg) * SLOW)
                elif d == "closed":
                    assert r.closed(float(arg or 3)), "%s: server did not close the connection" % where
                elif d == "silent":
                    assert r.nothing(float(arg)), "%s: unexpected data %r" % (where, r.buf)
                elif d == "body":
                    # "! body N": N octets of 'x' lines (78 + CRLF), then nothing else
                    total = int(arg)
                    line = b"x" * 78 + b"\r\n"
                    data = line * (total // len(line)) + b"y" * (total % len(line) - 2 if total % len(line) >= 2 else 0)
                    if total % len(line) >= 2:
                        data += b"\r\n"
                    r.send(data)
                elif d == "line":
                    # "! line N [PREFIX]": PREFIX + 'x' up to N octets, then CRLF
                    n, _, prefix = rawarg.lstrip().partition(" ")
                    r.send(prefix.encode() + b"x" * (int(n) - len(prefix)) + b"\r\n")
                elif d == "sink-count":
                    want = int(arg)
                    got = wait_until(lambda: sink.count() >= want, 10) and sink.count()
                    time.sleep(0.3)
                    assert sink.count() == want, "%s: sink has %d messages, want %d" % (where, sink.count(), want)
                elif d == "log":
                    gw.wait_log(arg, timeout=5)
                else:
                    raise ValueError("%s: unknown directive %r" % (where, d))
    except EOFError:
        raise AssertionError("%s: connection closed by server\n%s" % (where, gw.log()[-2000:]))
    except (TimeoutError, OSError) as e:
        raise AssertionError("%s: %s (received so far: %r)\n%s" % (where, e, r.buf, gw.log()[-2000:]))
