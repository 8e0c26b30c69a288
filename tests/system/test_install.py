"""make install / make uninstall into a DESTDIR: the tree (binary, mailq links, man pages, example
configuration never overwritten, systemd unit), the man pages render without warnings, mxgate.conf(5)
names every key the binary knows (it is generated from the key table), the unit passes
systemd-analyze verify. Runs make from the source tree; nothing outside the DESTDIR is touched."""
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import BIN, ROOT

EXAMPLES = ["main.cf", "aliases", "local-host-names", "mailertable", "access", "relay-domains"]


def make(*args, destdir):
    # the binary under test is installed (release or ASan build)
    build = ["ASAN=1"] if "/asan/" in BIN else []
    r = subprocess.run(["make", "-s"] + build + ["DESTDIR=" + destdir, "PREFIX=/usr"] + list(args), cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out
    return out


def keys():
    out = subprocess.run([BIN, "config", "--doc"], stdout=subprocess.PIPE, check=True).stdout.decode()
    return re.findall(r"^\| `([A-Za-z0-9_]+)` \|", out, re.M)


@pytest.fixture
def destdir(workdir):
    d = os.path.join(workdir, "destdir")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_install_tree(destdir):
    out = make("install", destdir=destdir)
    sbin = os.path.join(destdir, "usr/sbin/mxgate")
    assert mode(sbin) == 0o755 and os.access(sbin, os.X_OK)
    assert os.readlink(os.path.join(destdir, "usr/sbin/mxgate-mailq")) == "mxgate"
    assert os.readlink(os.path.join(destdir, "usr/bin/mailq")) == "/usr/sbin/mxgate", out
    for p in ("usr/share/man/man8/mxgate.8", "usr/share/man/man5/mxgate.conf.5", "lib/systemd/system/mxgate.service"):
        assert mode(os.path.join(destdir, p)) == 0o644, p
    for f in EXAMPLES:
        p = os.path.join(destdir, "etc/mxgate", f)
        assert mode(p) == 0o644
        with open(p, "rb") as a, open(os.path.join(ROOT, "examples", f), "rb") as b:
            assert a.read() == b.read(), f
    r = subprocess.run([sbin, "version"], stdout=subprocess.PIPE, check=True)
    assert r.stdout.startswith(b"mxgate ")
    unit = open(os.path.join(destdir, "lib/systemd/system/mxgate.service")).read()
    assert "ExecStart=/usr/sbin/mxgate serve -c /etc/mxgate/main.cf" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "Restart=on-failure" in unit and "@" not in unit.replace("Documentation", "")
    upd = open(os.path.join(destdir, "lib/systemd/system/mxgate-sa-update.service")).read()
    assert "/usr/sbin/mxgate reload -c /etc/mxgate/main.cf" in upd and "@" not in upd
    assert "OnCalendar=daily" in open(os.path.join(destdir, "lib/systemd/system/mxgate-sa-update.timer")).read()


def test_install_keeps_existing_files(destdir):
    conf = os.path.join(destdir, "etc/mxgate")
    os.makedirs(conf)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write("myhostname = mine.example\n")
    bindir = os.path.join(destdir, "usr/bin")
    os.makedirs(bindir)
    os.symlink("../sbin/sendmail", os.path.join(bindir, "mailq"))  # another MTA's mailq
    out = make("install", destdir=destdir)
    assert open(os.path.join(conf, "main.cf")).read() == "myhostname = mine.example\n"
    assert "kept /etc/mxgate/main.cf" in out
    assert os.readlink(os.path.join(bindir, "mailq")) == "../sbin/sendmail"
    assert os.path.exists(os.path.join(conf, "aliases"))
    make("uninstall", destdir=destdir)
    assert not os.path.lexists(os.path.join(destdir, "usr/sbin/mxgate"))
    assert not os.path.lexists(os.path.join(destdir, "usr/sbin/mxgate-mailq"))
    assert not os.path.lexists(os.path.join(destdir, "lib/systemd/system/mxgate.service"))
    assert not os.path.lexists(os.path.join(destdir, "lib/systemd/system/mxgate-sa-update.timer"))
    assert os.readlink(os.path.join(bindir, "mailq")) == "../sbin/sendmail"
    assert open(os.path.join(conf, "main.cf")).read() == "myhostname = mine.example\n"


def test_uninstall_removes_our_mailq(destdir):
    make("install", destdir=destdir)
    make("uninstall", destdir=destdir)
    assert not os.path.lexists(os.path.join(destdir, "usr/bin/mailq"))
    assert not os.path.lexists(os.path.join(destdir, "usr/share/man/man5/mxgate.conf.5"))


@pytest.mark.skipif(not shutil.which("groff"), reason="groff not installed")
@pytest.mark.parametrize("page", ["man8/mxgate.8", "man5/mxgate.conf.5"])
def test_man_pages_render_without_warnings(destdir, page):
    make("install", destdir=destdir)
    p = os.path.join(destdir, "usr/share/man", page)
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", p], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()
    text = re.sub(r".\x08", "", r.stdout.decode("utf-8", "replace"))
    assert "NAME" in text and "SEE ALSO" in text


def test_conf_man_page_has_every_key(destdir):
    make("install", destdir=destdir)
    page = open(os.path.join(destdir, "usr/share/man/man5/mxgate.conf.5")).read()
    documented = re.findall(r"^\.TP\n\.B (\S+)$", page, re.M)
    assert documented == keys()
    assert "@KEYS@" not in page and "@VERSION@" not in page
    assert "reload_restart_needed" in page and "queue_directory" in page


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_unit_verifies(destdir, workdir):
    make("install", destdir=destdir)
    # verify checks that the commands exist: point them into the DESTDIR
    with open(os.path.join(destdir, "lib/systemd/system/mxgate.service")) as f:
        unit = f.read().replace("/usr/sbin/mxgate", destdir + "/usr/sbin/mxgate")
    d = os.path.join(workdir, "unit")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "mxgate.service")
    with open(p, "w") as f:
        f.write(unit)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", p], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout.decode()
