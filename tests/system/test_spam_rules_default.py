"""spam_rules = spamassassin, the default: the builtin engine loads SpamAssassin's installed rules
as SpamAssassin finds them (the newest /var/lib/spamassassin/<version>/ that sa-update filled, else
/usr/share/spamassassin; then /etc/spamassassin), and falls back to mxgate's 24-rule set with a
warning when none are installed. The machine's own rules (Debian's spamassassin package, a
dependency of make test) and trees of the test's own (MXGATE_TEST_SA_ROOT prefixes the three
directories) are both used. Every wait is bounded.
"""
import os
import re
import subprocess

import pytest

from conftest import BIN
from test_scanning import GTUBE, ROOT, mail, send


def default_gw(mkgw, sink, **conf):
    """A gateway with the builtin engine and no spam_rules in its main.cf (the default)."""
    g = mkgw(sink, start=False, spam_scanner="builtin", virus_scanner="none", **conf)
    del g.conf["spam_rules"]
    g.start()
    return g


@pytest.fixture
def sa_root(workdir):
    """Set MXGATE_TEST_SA_ROOT for gateways started inside the test."""
    root = os.path.join(workdir, "sa-root")
    os.makedirs(root)
    os.environ["MXGATE_TEST_SA_ROOT"] = root
    yield root
    del os.environ["MXGATE_TEST_SA_ROOT"]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def rule(name, word, score):
    return "body %s /\\b%s\\b/\nscore %s %s\n" % (name, word, name, score)


def delivered_status(sink):
    assert sink.wait_count(1, timeout=20)
    _, eml = sink.messages()[-1]
    head = eml.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    m = re.search(r"^X-Spam-Status: (.*)$", re.sub(r"\r\n[ \t]+", " ", head), re.M)
    assert m, head
    return re.sub(r"\s+", " ", m.group(1))


def test_default_loads_the_installed_spamassassin_rules(mkgw, mksink):
    """No spam_rules: the machine's SpamAssassin rules and site directory; GTUBE is spam by
    SpamAssassin's own GTUBE rule, and SpamAssassin's header rules score a plain message."""
    if not os.path.isdir("/usr/share/spamassassin"):
        pytest.fail("Debian's spamassassin package is a dependency of make test (mk/deps.sh)")
    sink = mksink()
    gw = default_gw(mkgw, sink)
    gw.wait_log(r"event=spam_rules_found rules=/(var/lib/spamassassin/\d+\.\d{6}|usr/share/spamassassin) "
                r"site=/etc/spamassassin")
    m = re.search(r"event=rules_loaded rules=(\d+) enabled=(\d+)", gw.log())
    assert m and int(m.group(1)) > 1000, gw.log()[-2000:]  # SpamAssassin's set, not the 24 rules
    assert "spam_rules_fallback" not in gw.log()
    assert send(gw, mail(b"offer", b"see " + GTUBE + b"\r\n"))[0] == 250
    status = delivered_status(sink)
    assert status.startswith("Yes,") and "GTUBE" in status, status
    # a message without Date or Message-ID: SpamAssassin's MISSING_DATE and MISSING_MID
    assert send(gw, b"From: a@client.test\r\nTo: rcpt@dest.test\r\nSubject: hi\r\n\r\nhello\r\n")[0] == 250
    assert sink.wait_count(2, timeout=20)
    status = delivered_status(sink)
    assert "MISSING_DATE" in status and "MISSING_MID" in status, status


def test_newest_sa_update_directory_wins(mkgw, mksink, sa_root):
    """sa-update's layout: <version>/updates_spamassassin_org.cf including the channel's files. The
    newest version directory is used; an older one and the package's directory are not; a version
    directory without any .cf file (an interrupted sa-update) is passed over; the site directory's
    local.cf comes last and overrides a score."""
    st = sa_root + "/var/lib/spamassassin"
    write(st + "/3.004006/updates_spamassassin_org.cf", rule("OLD_RULES", "hello", 1.5))
    write(st + "/4.000001/updates_spamassassin_org.cf",
          "# UPDATE version 1\ninclude updates_spamassassin_org/50_rules.cf\n")
    write(st + "/4.000001/updates_spamassassin_org/50_rules.cf", rule("NEW_RULES", "hello", 2.5))
    os.makedirs(st + "/9.000000")  # empty: passed over
    write(sa_root + "/usr/share/spamassassin/50_rules.cf", rule("PKG_RULES", "hello", 3.5))
    write(sa_root + "/etc/spamassassin/local.cf", "score NEW_RULES 6.0\n")
    sink = mksink()
    gw = default_gw(mkgw, sink)
    gw.wait_log(r"event=spam_rules_found rules=%s/4\.000001 site=%s/etc/spamassassin"
                % (re.escape(st), re.escape(sa_root)))
    assert send(gw, mail(b"greeting", b"hello world\r\n"))[0] == 250
    status = delivered_status(sink)
    assert status.startswith("Yes, score=6.0") and "NEW_RULES" in status, status
    assert "OLD_RULES" not in status and "PKG_RULES" not in status, status


def test_package_rules_without_sa_update(mkgw, mksink, sa_root):
    """No version directory: /usr/share/spamassassin; no /etc/spamassassin: no site directory."""
    write(sa_root + "/usr/share/spamassassin/50_rules.cf", rule("PKG_RULES", "hello", 3.5))
    sink = mksink()
    gw = default_gw(mkgw, sink)
    gw.wait_log(r"event=spam_rules_found rules=%s/usr/share/spamassassin site=none" % re.escape(sa_root))
    assert send(gw, mail(b"greeting", b"hello world\r\n"))[0] == 250
    status = delivered_status(sink)
    assert status.startswith("No, score=3.5") and "PKG_RULES" in status, status


def test_no_spamassassin_rules_falls_back_with_a_warning(mkgw, mksink, sa_root):
    """Nothing installed (a site directory alone is no rule set): the 24-rule set, one warning."""
    write(sa_root + "/etc/spamassassin/local.cf", rule("SITE_ONLY", "hello", 9))
    sink = mksink()
    gw = default_gw(mkgw, sink)
    gw.wait_log(r"warning: event=spam_rules_fallback rules=builtin")
    m = re.search(r"event=rules_loaded rules=(\d+)", gw.log())
    assert m and int(m.group(1)) < 100, gw.log()[-2000:]
    assert send(gw, mail(b"offer", b"hello " + GTUBE + b"\r\n"))[0] == 250
    status = delivered_status(sink)
    assert status.startswith("Yes,") and "GTUBE" in status and "SITE_ONLY" not in status, status


def test_spamassassin_combined_with_a_file(mkgw, mksink, sa_root, workdir):
    """spam_rules = "spamassassin FILE": the installed rules, then the file (its score wins)."""
    write(sa_root + "/usr/share/spamassassin/50_rules.cf", rule("PKG_RULES", "hello", 3.5))
    extra = os.path.join(workdir, "local-rules.cf")
    write(extra, rule("SITE_EXTRA", "world", 0.5) + "score PKG_RULES 1.0\n")
    sink = mksink()
    gw = mkgw(sink, spam_scanner="builtin", virus_scanner="none", spam_rules="spamassassin " + extra)
    assert send(gw, mail(b"greeting", b"hello world\r\n"))[0] == 250
    status = delivered_status(sink)
    assert status.startswith("No, score=1.5") and "PKG_RULES" in status and "SITE_EXTRA" in status, status


@pytest.mark.parametrize("rc", [0, 1, 2])
def test_sa_update_routine_reloads_on_new_rules(mkgw, mksink, sa_root, workdir, rc):
    """dist/mxgate-sa-update.service's command with a stand-in sa-update that installs a new version
    directory and exits 0 (mxgate reload: the new rules score the next message), finds nothing new
    (1: no reload) or fails (2: the command fails, no reload)."""
    write(sa_root + "/usr/share/spamassassin/50_rules.cf", rule("PKG_RULES", "hello", 1.0))
    sink = mksink()
    gw = default_gw(mkgw, sink)
    gw.wait_log("event=started")
    fake = os.path.join(workdir, "bin")
    new_dir = sa_root + "/var/lib/spamassassin/4.000001"
    write(fake + "/sa-update",
          "#!/bin/sh\nmkdir -p %s\n" % new_dir
          + ("printf 'body UPDATED /\\\\bhello\\\\b/\\nscore UPDATED 7\\n' > %s/updates_spamassassin_org.cf\n" % new_dir
             if rc == 0 else "") + "exit %d\n" % rc)
    os.chmod(fake + "/sa-update", 0o755)
    unit = open(os.path.join(ROOT, "dist", "mxgate-sa-update.service.in")).read()
    cmd = re.search(r"^ExecStart=/bin/sh -c '(.*)'$", unit, re.M).group(1)
    cmd = cmd.replace("@SBINDIR@/mxgate", BIN).replace("@SYSCONFDIR@/mxgate/main.cf", gw.cf)
    r = subprocess.run(["/bin/sh", "-c", cmd], env=dict(os.environ, PATH=fake + ":/usr/bin:/bin"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == (0 if rc <= 1 else rc), r.stdout
    if rc == 0:
        gw.wait_log("event=reloaded", timeout=30)
        gw.wait_log(r"event=spam_rules_found rules=%s site=none" % re.escape(new_dir))
    assert send(gw, mail(b"greeting", b"hello world\r\n"))[0] == 250
    status = delivered_status(sink)
    if rc == 0:
        assert status.startswith("Yes, score=7.0") and "UPDATED" in status, status
    else:
        assert "event=reload" not in gw.log() and status.startswith("No, score=1.0"), status
