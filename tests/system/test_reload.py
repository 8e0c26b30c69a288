"""Reload (SIGHUP) and privileges: main.cf and the maps are read again and swapped in whole; open
sessions keep the settings they started with; listeners come and go; a bad file keeps everything in
force and says file:line; scanning settings follow; keys that need a restart are named. Started as
root the gateway runs as mail_owner with only CAP_NET_BIND_SERVICE, the spool is 0700 and its own.
Every wait is bounded; all traffic on 127.0.0.1.
"""
import os
import pwd
import re
import shutil
import signal
import stat
import smtplib
import socket
import subprocess

import pytest

from conftest import BIN, SLOW, free_port, wait_port, wait_until

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (privilege drop)")


def reload(gw, **conf):
    """Change main.cf, SIGHUP, wait for the outcome line; returns the log text added by the reload."""
    gw.wait_log("event=started")  # the listener accepts before the loop handles signals
    before = len(gw.log())
    n_ok = gw.log().count("event=reloaded")
    n_bad = gw.log().count("event=reload_failed")
    gw.conf.update({k: str(v) for k, v in conf.items()})
    gw.write_conf()
    gw.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: gw.log().count("event=reloaded") > n_ok or gw.log().count("event=reload_failed") > n_bad,
                      15), "no reload outcome:\n" + gw.log()[-3000:]
    return gw.log()[before:]


def banner(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as s:
        f = s.makefile("rb")
        line = f.readline().decode()
        s.sendall(b"QUIT\r\n")
        return line


def msg(subject=b"hello"):
    return (b"From: a@client.test\r\nTo: b@dest.test\r\nSubject: " + subject +
            b"\r\nMessage-ID: <r@client.test>\r\n\r\nbody text, nothing special\r\n")


def test_banner_and_limits_open_session_keeps_its_settings(mkgw, mksink):
    sink = mksink()
    gw = mkgw(sink, smtpd_banner="gw.test ESMTP before", smtpd_recipient_limit=3)
    old = smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW)
    old.ehlo("client.test")
    out = reload(gw, smtpd_banner="gw.test ESMTP after", smtpd_recipient_limit=1)
    m = re.search(r"event=reloaded .*keys=(\S+)", out)
    assert m and "smtpd_banner" in m.group(1) and "smtpd_recipient_limit" in m.group(1), out
    # the open session: three recipients still allowed (its limit is 3)
    old.mail("a@client.test")
    for r in ("r1@dest.test", "r2@dest.test", "r3@dest.test"):
        assert old.rcpt(r)[0] == 250
    assert old.data(msg())[0] == 250
    old.quit()
    # a new session: the new banner and the new limit
    assert "ESMTP after" in banner(gw.port)
    new = smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW)
    new.ehlo("client.test")
    new.mail("a@client.test")
    assert new.rcpt("r1@dest.test")[0] == 250
    assert new.rcpt("r2@dest.test")[0] == 452
    new.quit()
    assert sink.wait_count(1)
    assert len(sink.messages()[0][0]["rcpts"]) == 3


def test_listener_added_and_removed(mkgw, mksink):
    sink = mksink()
    gw = mkgw(sink)
    p1, p2 = gw.port, free_port()
    out = reload(gw, smtpd_listen="127.0.0.1:%d 127.0.0.1:%d" % (p1, p2))
    assert "listeners=+127.0.0.1:%d" % p2 in out, out
    assert banner(p2).startswith("220 ")
    # a session on the listener that goes away continues
    s = smtplib.SMTP("127.0.0.1", p2, timeout=30 * SLOW)
    s.ehlo("client.test")
    out = reload(gw, smtpd_listen="127.0.0.1:%d" % p1)
    assert "listeners=-127.0.0.1:%d" % p2 in out, out
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", p2), timeout=5).close()
    assert s.noop()[0] == 250
    s.sendmail("a@client.test", ["b@dest.test"], msg(b"via removed listener"))
    s.quit()
    assert banner(p1).startswith("220 ")
    assert sink.wait_count(1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (privilege drop)")
def test_privileged_port_on_reload(mkgw):
    """CAP_NET_BIND_SERVICE survives the drop to mail_owner: a reload binds a port below 1024."""
    gw = mkgw()
    low = None
    for port in range(700, 1000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            low = port
            break
        except OSError:
            continue
        finally:
            s.close()
    assert low, "no free port below 1024"
    out = reload(gw, smtpd_listen="127.0.0.1:%d 127.0.0.1:%d" % (gw.port, low))
    assert "event=reloaded" in out and "+127.0.0.1:%d" % low in out, out
    assert banner(low).startswith("220 ")


BAD = {
    "syntax": ({}, r"main\.cf:\d+: error: missing '='"),
    "map": ({"alias_maps": "{dir}/aliases"}, r"aliases:1: expected"),
    "rules": ({"spam_scanner": "builtin", "spam_rules": "{dir}/bad.cf"}, r"bad\.cf:1: rule X"),
    "value": ({"smtpd_recipient_limit": "lots"}, r"main\.cf:\d+: error: smtpd_recipient_limit"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_keeps_everything(mkgw, case):
    gw = mkgw(smtpd_banner="gw.test ESMTP before")
    with open(os.path.join(gw.dir, "aliases"), "w") as f:
        f.write("no colon here\n")
    with open(os.path.join(gw.dir, "bad.cf"), "w") as f:
        f.write("header X Subject =~ /unterminated\nscore X 1\n")
    change, want = BAD[case]
    conf = {"smtpd_banner": "gw.test ESMTP after"}
    for k, v in change.items():
        conf[k] = v.format(dir=gw.dir)
    gw.conf.update(conf)
    gw.write_conf()
    if case == "syntax":
        with open(gw.cf, "a") as f:
            f.write("this is not a setting\n")
    gw.wait_log("event=started")
    before = len(gw.log())
    gw.proc.send_signal(signal.SIGHUP)
    gw.wait_log("event=reload_failed")
    out = gw.log()[before:]
    assert "event=reloaded" not in out, out
    assert re.search(r"event=reload_error error=\"[^\"]*" + want, out), out
    assert "ESMTP before" in banner(gw.port)
    # and a reload of a good file afterwards works
    for k in change:
        gw.conf.pop(k, None)
    out = reload(gw, smtpd_banner="gw.test ESMTP fixed")
    assert "event=reloaded" in out, out
    assert "ESMTP fixed" in banner(gw.port)


def test_scan_threshold_and_actions_follow(mkgw, mksink):
    sink = mksink()
    gw = mkgw(sink, name="scangw", spam_scanner="builtin", spam_threshold="5.0", scan_headers_on_clean="no")
    rules = os.path.join(gw.dir, "rules.cf")
    with open(rules, "w") as f:
        f.write("header RELOAD_T Subject =~ /reloadtest/\nscore RELOAD_T 3.0\n")
    out = reload(gw, spam_rules=rules)
    assert "event=reloaded" in out, out
    smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW).sendmail("a@client.test", ["b@dest.test"],
                                                                    msg(b"reloadtest one"))
    assert sink.wait_count(1)
    assert b"{Spam?}" not in sink.messages()[0][1]
    out = reload(gw, spam_threshold="2.5")
    assert "spam_threshold" in out, out
    smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW).sendmail("a@client.test", ["b@dest.test"],
                                                                    msg(b"reloadtest two"))
    assert sink.wait_count(2)
    two = sink.messages()[1][1]
    assert b"Subject: {Spam?} reloadtest two" in two, two[:600]
    # the rule file itself is compiled again: a higher score makes it high-spam, dropped by action
    with open(rules, "w") as f:
        f.write("header RELOAD_T Subject =~ /reloadtest/\nscore RELOAD_T 30.0\n")
    out = reload(gw, high_spam_actions="drop")
    assert "event=reloaded" in out, out
    smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW).sendmail("a@client.test", ["b@dest.test"],
                                                                    msg(b"reloadtest three"))
    gw.wait_log(r"event=dropped verdict=high-spam")
    assert sink.count() == 2


def test_restart_only_keys_are_named(mkgw):
    gw = mkgw()
    out = reload(gw, queue_commit_threads=2, smtpd_banner="gw.test ESMTP changed")
    assert re.search(r"event=reload_restart_needed keys=queue_commit_threads\b", out), out
    m = re.search(r"event=reloaded .*keys=(\S+)", out)
    assert m and m.group(1) == "smtpd_banner", out


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


@ROOT_ONLY
def test_runs_as_mail_owner_with_private_spool(mkgw):
    pw = pwd.getpwnam("mxgate")
    gw = mkgw(start=False)
    spool = gw.conf["queue_directory"]
    os.makedirs(os.path.join(spool, "input"))
    os.chmod(spool, 0o755)
    os.chmod(os.path.join(spool, "input"), 0o777)
    gw.start()
    st = proc_status(gw.pid())
    assert st["Uid"].split() == [str(pw.pw_uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(pw.pw_gid)] * 4, st["Gid"]
    assert st["Groups"].split() == [str(pw.pw_gid)], st["Groups"]
    # only CAP_NET_BIND_SERVICE (bit 10), nothing to regain root with
    assert int(st["CapEff"], 16) == 1 << 10 and int(st["CapPrm"], 16) == 1 << 10, st
    for d in [spool] + [os.path.join(spool, s) for s in os.listdir(spool)]:
        s = os.stat(d)
        want = 0o600 if stat.S_ISSOCK(s.st_mode) else 0o700  # the control socket: the gateway's user only
        assert (s.st_mode & 0o7777, s.st_uid) == (want, pw.pw_uid), d
    gw.wait_log(r"event=spool_fixed path=%s mode=0700 was=0755" % re.escape(spool))
    pid = os.stat(gw.conf["pid_file"])
    assert (pid.st_mode & 0o777, pid.st_uid) == (0o644, pw.pw_uid)


@ROOT_ONLY
@pytest.mark.parametrize("owner,want", [("root", "mail_owner must not be root"),
                                        ("nosuchuser-mx", "mail_owner user 'nosuchuser-mx' does not exist")])
def test_refuses_bad_mail_owner(mkgw, owner, want):
    gw = mkgw(start=False, mail_owner=owner)
    gw.start(expect_ok=False)
    assert gw.proc.wait(15 * SLOW) == 1
    gw.proc = None
    assert want in gw.log()
    assert not os.path.exists(gw.conf["queue_directory"])


@ROOT_ONLY
def test_unprivileged_start_runs_as_that_user(mkgw):
    pw = pwd.getpwnam("mxgate")
    gw = mkgw(start=False)
    os.makedirs(gw.conf["queue_directory"])
    os.chown(gw.conf["queue_directory"], pw.pw_uid, pw.pw_gid)
    gw.conf["pid_file"] = ""
    gw.write_conf()

    def demote():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    logf = open(gw.logpath, "ab")
    gw.proc = subprocess.Popen([BIN, "serve", "-c", gw.cf], stdout=logf, stderr=logf, preexec_fn=demote,
                               env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"))
    logf.close()
    assert wait_port(gw.port, gw.proc, 15), gw.log()
    st = proc_status(gw.pid())
    assert st["Uid"].split() == [str(pw.pw_uid)] * 4
    assert int(st["CapEff"], 16) == 0
    # the port opens before recovery and the event=started line: wait for the line
    gw.wait_log(r"event=started .*user=\(unchanged\)")


def test_reload_keeps_the_virus_engine_until_its_database_changes(mkgw, mksink, workdir):
    """libclamav's signatures are loaded once: a reload that changes nothing about the anti-virus
    engine shares it (virus_engine=kept); a changed database directory (freshclam) loads it again."""
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "clamav")
    db = os.path.join(workdir, "clamdb")
    os.makedirs(db)
    os.chmod(db, 0o755)
    shutil.copy(os.path.join(src, "mxgate-test.hdb"), db)  # the marker signature is in the .ndb
    sink = mksink()
    gw = mkgw(sink, name="avgw", spam_scanner="none", virus_scanner="libclamav:" + db,
              virus_actions="quarantine", scan_headers_on_clean="no")
    marker = b"MXGATE-TEST-VIRUS-" + b"MARKER-7f3a"  # two halves: this file is no test virus itself
    send = lambda subj: smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW).sendmail(
        "a@client.test", ["b@dest.test"], msg(subj).replace(b"nothing special", marker))
    send(b"before")
    assert sink.wait_count(1)
    gw.wait_log(r"event=scanned verdict=clean")
    out = reload(gw, smtpd_banner="gw.test ESMTP reloaded")
    assert re.search(r"event=reloaded .*virus_engine=kept", out), out
    assert "event=av_ready" not in out, out
    shutil.copy(os.path.join(src, "mxgate-test.ndb"), db)
    out = reload(gw, smtpd_banner="gw.test ESMTP again")
    assert "event=av_database_changed" in out and "event=av_ready" in out, out
    assert re.search(r"event=reloaded .*virus_engine=loaded", out), out
    send(b"after")
    gw.wait_log(r"event=scanned verdict=virus .*Mxgate\.Test\.Marker")
    assert sink.count() == 1
