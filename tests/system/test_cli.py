"""The command line: mxgate check / config / mailq / serve / version, exit codes and
messages. Keys are taken from src/conf/conf_keys.c (the single source of truth)."""
import os
import re
import smtplib
import subprocess

import pytest

from conftest import BIN, ROOT, SLOW, free_port

KEYS_C = os.path.join(ROOT, "src", "conf", "conf_keys.c")


def all_keys():
    with open(KEYS_C) as f:
        keys = re.findall(r'^\s*\{\s*"([A-Za-z0-9_]+)",\s*CONF_T_', f.read(), re.M)
    assert len(keys) > 30, "could not read the key table from %s" % KEYS_C
    return keys


def mxgate(*args, timeout=30):
    p = subprocess.run([BIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def write(workdir, name, text):
    p = os.path.join(workdir, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def error_lines(text):
    return [l for l in text.splitlines() if " error: " in l or l.endswith(": configuration has errors")]


def assert_every_error_has_line(path, stderr):
    for l in error_lines(stderr):
        if l == "%s: configuration has errors" % path:
            continue
        assert re.match(r"^%s:\d+: error: " % re.escape(path), l), "error without FILE:LINE: %r\n%s" % (l, stderr)


GOOD = """# a good configuration: every value type, a continuation line, $references
myhostname = gw.test
mail_owner = mxgate
smtpd_listen = 127.0.0.1:2525, [::1]:2525
mynetworks = 127.0.0.0/8
    [::1]/128 192.0.2.0/24

# blank lines and comments do not end a logical line
smtpd_banner = $myhostname ESMTP ${syslog_name}
smtpd_timeout = 5m
smtpd_session_time_limit = 1h
maximal_queue_lifetime = 2d
message_size_limit = 20000000
smtpd_recipient_limit = 100000
smtpd_forbid_bare_newline = no
log_level = debug
queue_directory = /var/spool/mxgate-test
relayhost = [127.0.0.1]:2526
smtp_tls_security_level = none
"""


def test_version():
    rc, out, err = mxgate("version")
    assert rc == 0, err
    assert re.match(r"^mxgate \d+\.\d+\.\d+\S*\n$", out), out


@pytest.mark.parametrize("args", [["bogus"], [], ["check", "--bogus"]], ids=["unknown-command", "no-command",
                                                                              "unknown-argument"])
def test_usage_errors_exit_2(args):
    rc, out, err = mxgate(*args)
    assert rc == 2, (rc, out, err)
    assert "usage: mxgate" in err
    if args == ["bogus"]:
        assert 'unknown command "bogus"' in err


def test_check_good(workdir):
    p = write(workdir, "good.cf", GOOD)
    rc, out, err = mxgate("check", "-c", p)
    assert rc == 0, err
    assert "%s: configuration ok" % p in out
    assert err == "", err
    rc, out, err = mxgate("config", "-c", p)
    assert rc == 0, err
    conf = dict(l.split(" = ", 1) for l in out.splitlines() if " = " in l)
    assert conf["mynetworks"] == "127.0.0.0/8 [::1]/128 192.0.2.0/24"
    assert conf["smtpd_banner"] == "gw.test ESMTP mxgate"
    assert conf["smtpd_timeout"] == "300s"
    assert conf["smtpd_session_time_limit"] == "3600s"
    assert conf["maximal_queue_lifetime"] == "172800s"
    assert conf["smtpd_forbid_bare_newline"] == "no"
    assert conf["smtp_helo_name"] == "gw.test"


BAD_SINGLE = {
    "unknown-key": ("myhostname = gw.test\nno_such_key = 1\n", 2, "no_such_key"),
    "bad-time": ("myhostname = gw.test\n\nsmtpd_timeout = 10 minutes\n", 3, "smtpd_timeout"),
    "bad-time-unit": ("smtpd_session_time_limit = 5y\n", 1, "smtpd_session_time_limit"),
    "number-out-of-range": ("# x\nsmtpd_recipient_limit = 0\n", 2, "smtpd_recipient_limit"),
    "number-too-big": ("smtpd_command_line_limit = 65537\n", 1, "smtpd_command_line_limit"),
    "not-a-number": ("smtpd_session_limit = many\n", 1, "smtpd_session_limit"),
    "bad-listen": ("myhostname = gw.test\nsmtpd_listen = 127.0.0.1:70000\n", 2, "smtpd_listen"),
    "bad-listen-noport": ("smtpd_listen = 127.0.0.1\n", 1, "smtpd_listen"),
    "bad-cidr": ("myhostname = gw.test\nmynetworks = 127.0.0.0/8 10.0.0.0/33\n", 2, "mynetworks"),
    "bad-cidr-addr": ("mynetworks = 300.1.2.3/8\n", 1, "mynetworks"),
    "orphan-continuation": ("# first a comment\n   continues nothing\nmyhostname = gw.test\n", 2, "continuation"),
    "bad-bool": ("smtpd_peername_lookup = perhaps\n", 1, "smtpd_peername_lookup"),
    "bad-enum": ("log_level = loud\n", 1, "log_level"),
    "missing-equals": ("myhostname gw.test\n", 1, "="),
}


@pytest.mark.parametrize("name", sorted(BAD_SINGLE))
def test_check_bad(workdir, name):
    text, line, what = BAD_SINGLE[name]
    p = write(workdir, name + ".cf", text)
    rc, out, err = mxgate("check", "-c", p)
    assert rc == 1, (rc, out, err)
    assert re.search(r"^%s:%d: error: .*%s" % (re.escape(p), line, re.escape(what)), err, re.M), err
    assert "%s: configuration has errors" % p in err
    assert_every_error_has_line(p, err)
    assert "configuration ok" not in out


def test_check_reports_every_error(workdir):
    text = ("# several mistakes, each must be reported with its line\n"  # 1
            "   orphan continuation\n"                                  # 2
            "myhostname = gw.test\n"                                    # 3
            "no_such_key = 1\n"                                         # 4
            "smtpd_timeout = 5x\n"                                      # 5
            "smtpd_session_limit = 0\n"                                 # 6
            "smtpd_listen = 127.0.0.1:99999\n"                          # 7
            "mynetworks = 10.0.0.0/33\n"                                # 8
            "queue_directory = /tmp/q\n")                               # 9
    p = write(workdir, "many.cf", text)
    rc, out, err = mxgate("check", "-c", p)
    assert rc == 1, (rc, out, err)
    want = {2: "continuation", 4: "no_such_key", 5: "smtpd_timeout", 6: "smtpd_session_limit", 7: "smtpd_listen",
            8: "mynetworks"}
    for line, what in want.items():
        assert re.search(r"^%s:%d: error: .*%s" % (re.escape(p), line, what), err, re.M), \
            "line %d (%s) not reported:\n%s" % (line, what, err)
    assert_every_error_has_line(p, err)
    errs = [l for l in error_lines(err) if not l.endswith("configuration has errors")]
    assert len(errs) == len(want), "expected %d errors, got:\n%s" % (len(want), err)


def test_check_missing_file(workdir):
    p = os.path.join(workdir, "does-not-exist.cf")
    rc, out, err = mxgate("check", "-c", p)
    assert rc == 1
    assert p in err and "cannot read" in err


def test_override(workdir):
    p = write(workdir, "ov.cf", "myhostname = gw.test\nsmtpd_timeout = 5x\n")
    rc, out, err = mxgate("check", "-c", p)
    assert rc == 1
    # -o replaces the file's (bad) value
    rc, out, err = mxgate("check", "-c", p, "-o", "smtpd_timeout=42s")
    assert rc == 0, err
    rc, out, err = mxgate("config", "-c", p, "-o", "smtpd_timeout=42s", "-o", "smtpd_recipient_limit = 7")
    assert rc == 0, err
    assert "smtpd_timeout = 42s\n" in out and "smtpd_recipient_limit = 7\n" in out
    # a bad -o is an error too
    rc, out, err = mxgate("check", "-c", p, "-o", "smtpd_timeout=1s", "-o", "no_such_key=1")
    assert rc == 1
    assert re.search(r"^-o: error: unknown key \"no_such_key\"", err, re.M), err
    rc, out, err = mxgate("check", "-o", "smtpd_recipient_limit=0")
    assert rc == 1 and "smtpd_recipient_limit" in err


def parse_conf_out(out):
    lines = [l for l in out.splitlines() if l.strip()]
    for l in lines:
        assert " = " in l or l.endswith(" ="), "not a key = value line: %r" % l
    return dict((l.split(" = ", 1) + [""])[:2] if " = " in l else (l[:-2], "") for l in lines)


def test_config_n_lists_what_was_set(workdir):
    p = write(workdir, "n.cf",
              "smtpd_recipient_limit = 50\n"
              "queue_directory = /tmp/mxgate-cli-q\n"
              "smtpd_timeout = 5m\n"           # set (to the default): listed, as postconf -n does
              "log_level = info\n"
              "message_size_limit = 10240000\n"
              "smtpd_session_limit = 7\n")
    rc, out, err = mxgate("config", "-n", "-c", p)
    assert rc == 0, err
    assert parse_conf_out(out) == {"smtpd_recipient_limit": "50", "queue_directory": "/tmp/mxgate-cli-q",
                                   "smtpd_timeout": "300s", "log_level": "info",
                                   "message_size_limit": "10240000", "smtpd_session_limit": "7"}, out
    rc, out, err = mxgate("config", "-n", "-c", p, "-o", "smtpd_hard_error_limit=5")
    assert rc == 0, err
    assert parse_conf_out(out).get("smtpd_hard_error_limit") == "5", out
    rc, out, err = mxgate("config", "-n")
    assert rc == 0 and out.strip() == "", out


def test_config_n_lists_set_keys_not_derived_ones(workdir):
    """Keys not set in the file are not listed even when their default refers to a key that is
    ($myhostname, $mynetworks): `config -n` lists the settings of the file (Postfix's postconf -n)."""
    p = write(workdir, "derived.cf", "myhostname = gw.test\nmynetworks = 10.0.0.0/8\n")
    rc, out, err = mxgate("config", "-n", "-c", p)
    assert rc == 0, err
    assert parse_conf_out(out) == {"myhostname": "gw.test", "mynetworks": "10.0.0.0/8"}, out


def test_config_lists_every_key(workdir):
    rc, out, err = mxgate("config", "-o", "myhostname=gw.test")
    assert rc == 0, err
    conf = parse_conf_out(out)
    assert sorted(conf) == sorted(all_keys())


def test_config_doc(workdir):
    rc, out, err = mxgate("config", "--doc")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("| key |") and re.match(r"^\|(-+\|)+$", lines[1].replace("---", "-")), lines[:2]
    rows = [l for l in lines[2:] if l.startswith("| `")]
    assert len(rows) == len(lines) - 2, "non-row lines in the table"
    documented = [re.match(r"^\| `([A-Za-z0-9_]+)` \|", l).group(1) for l in rows]
    keys = all_keys()
    missing = [k for k in keys if k not in documented]
    assert not missing, "keys missing from config --doc: %s" % missing
    assert sorted(documented) == sorted(keys)
    ncols = lines[0].count("|")
    for l in rows:
        assert l.count("|") - l.count("\\|") >= ncols, "row with too few columns: %s" % l


def test_mailq_shows_deferred(mkgw, mksink):
    sink = mksink("--tempfail", "later")
    gw = mkgw(sink=sink, minimal_backoff_time="60s", maximal_backoff_time="120s")
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=10 * SLOW) as c:
        c.sendmail("sender@client.test", ["now@sink.test", "later@sink.test"],
                   b"Subject: mailq\r\nMessage-ID: <mailq@client.test>\r\n\r\nhi\r\n")
    gw.wait_log(r"event=deferred_message")
    assert sink.wait_count(1)
    out = gw.mailq()
    m = re.search(r"^([0-9A-Z]{16}) +deferred +\d+ .*<sender@client\.test>$", out, re.M)
    assert m, out
    assert re.search(r"^\s+<later@sink\.test> pending \(451 4\.2\.0 .*temporarily unavailable.*\)$", out, re.M), out
    assert re.search(r"^\s+<now@sink\.test> delivered \(250 ", out, re.M), out
    assert re.search(r"next attempt: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out), out
    assert "-- 1 message in the queue" in out
    gw.stop()
    out2 = gw.mailq()  # also readable while the gateway is down
    assert m.group(1) in out2 and "<later@sink.test> pending" in out2


def test_mailq_empty(mkgw):
    gw = mkgw()
    out = gw.mailq()
    assert "-- 0 messages in the queue" in out, out


def test_serve_bad_config(workdir):
    port = free_port()
    p = write(workdir, "serve-bad.cf", "smtpd_listen = 127.0.0.1:%d\nqueue_directory = %s/q\nsmtpd_timeout = soon\n"
              % (port, workdir))
    rc, out, err = mxgate("serve", "-c", p)
    assert rc == 1, (rc, out, err)
    assert re.search(r"^%s:3: error: smtpd_timeout" % re.escape(p), err, re.M), err
    assert "configuration has errors" in err
    assert not os.path.exists(os.path.join(workdir, "q")), "queue created despite the bad configuration"


def test_serve_missing_mail_owner(workdir, dns):
    if os.geteuid() != 0:
        pytest.skip("mail_owner is only used when started as root")
    port = free_port()
    p = write(workdir, "serve-owner.cf",
              "smtpd_listen = 127.0.0.1:%d\nqueue_directory = %s/q\nmail_owner = nosuchuser-mxgate\n"
              "dns_servers = %s\nmyhostname = gw.test\n" % (port, workdir, dns.server))
    rc, out, err = mxgate("serve", "-c", p, timeout=20)
    assert rc == 1, (rc, out, err)
    assert re.search(r"mail_owner.*nosuchuser-mxgate.*does not exist", err), err
    assert "sanitizer" not in err.lower(), err
