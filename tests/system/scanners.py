"""Real scanner daemons for system tests: clamd, spamd, rspamd on loopback,
offline, with configs written into a directory of their own under basedir.

    c = Clamd(basedir); c.start()   # c.unix "unix:/..sock", c.inet "127.0.0.1:PORT"
    s = Spamd(basedir); s.start()   # s.address "127.0.0.1:PORT"
    r = Rspamd(basedir); r.start()  # r.address "127.0.0.1:PORT"
    ... ; x.stop()

Nothing here is a pytest fixture (conftest.py owns those). Every start waits
for the daemon to answer its protocol's ping, bounded (START_S, x3 under
ASan); every stop is bounded (TERM, then KILL). No daemon makes a network
lookup:
  clamd   the shipped test DB (tests/data/clamav: Mxgate.Test.EICAR,
          Mxgate.Test.Marker), no freshclam, AlertEncrypted on (encrypted
          archives are reported as Heuristics.Encrypted.*), cache off.
  spamd   -L (local tests only), Debian's rules, no Bayes/autolearn, no
          Razor/Pyzor/DCC, dns_available no; runs as nobody when root.
  rspamd  stock /etc/rspamd rules with every module that needs DNS, HTTP,
          remote maps, fuzzy storage or redis disabled; its resolver points
          at a loopback port where nothing answers. The hyperscan cache is kept
          in build/rspamd-cache so later starts take about a second.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

from conftest import ROOT, SLOW, free_port

START_S = 90  # cold rspamd compiles its regexps (~20 s); clamd and spamd take a few seconds
STOP_S = 10
DB_DIR = os.path.join(ROOT, "tests", "data", "clamav")
RSPAMD_CACHE = os.path.join(ROOT, "build", "rspamd-cache")
IS_ROOT = os.geteuid() == 0


def _ask(addr, data, timeout=2.0, until=None):
    """Send data to addr ("unix:/p" or (host, port)), return what came back (b'' on failure)."""
    try:
        if isinstance(addr, str):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(timeout)
            s.connect(addr[5:])
        else:
            s = socket.create_connection(addr, timeout=timeout)
        with s:
            s.sendall(data)
            out = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                out += b
                if until and until in out:
                    break
            return out
    except OSError:
        return b""


class Daemon:
    """A child process with a working directory, a log and a readiness probe."""

    name = "daemon"

    def __init__(self, basedir):
        self.port = free_port()
        self.dir = os.path.join(basedir, "%s-%d" % (self.name, self.port))
        self.proc = None
        self.start_s = None

    def command(self):
        raise NotImplementedError

    def ready(self):
        raise NotImplementedError

    def prepare(self):
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)

    def start(self):
        self.prepare()
        t0 = time.time()
        out = open(os.path.join(self.dir, "%s.out" % self.name), "ab")
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        end = t0 + START_S * SLOW
        while time.time() < end:
            if self.proc.poll() is not None:
                break
            if self.ready():
                self.start_s = time.time() - t0
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("%s did not become ready in %d s; see %s" % (self.name, START_S * SLOW, self.dir))

    def signal(self, sig):
        """Signal the daemon's process group (it may have forked children)."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self):
        if not self.proc:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(STOP_S)
        # children (spamd/rspamd workers) that outlived their parent
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc = None

    def kill9(self):
        """SIGKILL the whole daemon at once (a crash); start() brings it back."""
        self.signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(STOP_S)
        self.proc = None


class Clamd(Daemon):
    name = "clamd"

    def __init__(self, basedir, stream_max="10M"):
        super().__init__(basedir)
        self.sock = os.path.join(self.dir, "clamd.sock")
        self.unix = "unix:" + self.sock
        self.inet = "127.0.0.1:%d" % self.port
        self.stream_max = stream_max

    @property
    def address(self):
        return self.unix

    def prepare(self):
        super().prepare()
        db = os.path.join(self.dir, "db")
        shutil.rmtree(db, ignore_errors=True)
        shutil.copytree(DB_DIR, db)
        conf = [
            "LocalSocket " + self.sock, "LocalSocketMode 666", "FixStaleSocket yes",
            "TCPSocket %d" % self.port, "TCPAddr 127.0.0.1",
            "DatabaseDirectory " + db, "TemporaryDirectory " + self.dir,
            "PidFile " + os.path.join(self.dir, "clamd.pid"),
            "LogFile " + os.path.join(self.dir, "clamd.log"), "LogTime yes",
            "Foreground yes", "MaxThreads 4", "StreamMaxLength " + self.stream_max,
            "SelfCheck 0", "Bytecode no", "DisableCache yes", "AlertEncrypted yes",
        ]
        if IS_ROOT:
            conf.append("User root")
        with open(os.path.join(self.dir, "clamd.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")

    def command(self):
        return ["clamd", "-c", os.path.join(self.dir, "clamd.conf")]

    def ready(self):
        return _ask(self.unix, b"zPING\0", until=b"\0").startswith(b"PONG") and \
            _ask(("127.0.0.1", self.port), b"zPING\0", until=b"\0").startswith(b"PONG")


SPAMD_LOCAL_CF = """# offline test config (spamd also runs with -L: local tests only)
dns_available no
skip_rbl_checks 1
use_razor2 0
use_pyzor 0
use_bayes 0
bayes_auto_learn 0
report_safe 0
lock_method flock
"""


class Spamd(Daemon):
    name = "spamd"

    def __init__(self, basedir, children=2):
        super().__init__(basedir)
        self.address = "127.0.0.1:%d" % self.port
        self.children = children

    def prepare(self):
        super().prepare()
        etc, home = os.path.join(self.dir, "etc"), os.path.join(self.dir, "home")
        os.makedirs(etc, exist_ok=True)
        os.makedirs(home, exist_ok=True)
        for f in os.listdir("/etc/spamassassin"):
            # sa-compile.pre would load compiled body rules that may not exist here
            if f.endswith(".pre") and f != "sa-compile.pre" or f == "65_debian.cf":
                shutil.copy(os.path.join("/etc/spamassassin", f), etc)
        with open(os.path.join(etc, "local.cf"), "w") as f:
            f.write(SPAMD_LOCAL_CF)
        os.chmod(etc, 0o755)
        os.chmod(home, 0o1777)
        for f in os.listdir(etc):
            os.chmod(os.path.join(etc, f), 0o644)

    def command(self):
        user = ["-u", "nobody"] if IS_ROOT else []
        return ["spamd", "-L", "-x"] + user + [
            "--listen=" + self.address, "--siteconfigpath=" + os.path.join(self.dir, "etc"),
            "--helper-home-dir=" + os.path.join(self.dir, "home"),
            "--pidfile=" + os.path.join(self.dir, "spamd.pid"), "-s", os.path.join(self.dir, "spamd.log"),
            "--max-children=%d" % self.children, "--min-children=1", "--min-spare=1",
            "--max-spare=%d" % self.children]

    def ready(self):
        return b"PONG" in _ask(("127.0.0.1", self.port), b"PING SPAMC/1.5\r\n\r\n")


RSPAMD_OFF = ["rbl", "surbl", "emails", "fuzzy_check", "spf", "dkim", "dmarc", "arc", "asn", "whitelist",
              "multimap", "rspamd_update", "url_redirector", "mx_check", "reputation", "neural", "greylist",
              "ratelimit", "history_redis", "bimi", "replies", "dcc", "clickhouse", "elastic",
              "metadata_exporter", "dkim_signing", "arc_signing", "external_services", "antivirus"]


class Rspamd(Daemon):
    name = "rspamd"

    def __init__(self, basedir, workers=1):
        super().__init__(basedir)
        self.address = "127.0.0.1:%d" % self.port
        self.workers = workers
        self.dns_port = free_port()  # nothing listens there: lookups fail at once

    def _write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def prepare(self):
        super().prepare()
        for d in ("db", "run", "log"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.makedirs(RSPAMD_CACHE, exist_ok=True)
        self._write("rspamd.conf", """.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "info";
}
worker "normal" {
    bind_socket = "%s";
    .include "$CONFDIR/worker-normal.inc"
    count = %d;
}
""" % (self.address, self.workers))
        self._write("local.d/options.inc", """dns {
  nameserver = ["127.0.0.1:%d"];
  timeout = 1s;
  retransmits = 1;
}
hs_cache_dir = "%s";
""" % (self.dns_port, RSPAMD_CACHE))
        for m in RSPAMD_OFF:
            self._write("local.d/%s.conf" % m, "enabled = false;\n")
        self._write("local.d/phishing.conf", "phishtank_enabled = false;\nopenphish_enabled = false;\n")
        self._write("override.d/phishing.conf",
                    'exceptions = { REDIRECTOR_FALSE = [ "${CONFDIR}/maps.d/redirectors.inc" ]; };\n')
        self._write("override.d/mime_types.conf", 'file = [ "${CONFDIR}/maps.d/mime_types.inc" ];\n')
        self._write("override.d/mid.conf", 'source = { url = [ "${CONFDIR}/maps.d/mid.inc" ]; };\n')
        self._write("local.d/hfilter.conf", "helo_enabled = false;\nhostname_enabled = false;\n"
                    "from_enabled = false;\n")
        if IS_ROOT:
            for top in (self.dir, RSPAMD_CACHE):
                shutil.chown(top, "_rspamd", "_rspamd")
                for dp, dns, fns in os.walk(top):
                    for n in dns + fns:
                        shutil.chown(os.path.join(dp, n), "_rspamd", "_rspamd")

    def command(self):
        user = ["-u", "_rspamd", "-g", "_rspamd"] if IS_ROOT else []
        return ["rspamd", "-f"] + user + [
            "-c", os.path.join(self.dir, "rspamd.conf"), "--var=CONFDIR=/etc/rspamd",
            "--var=LOCAL_CONFDIR=" + self.dir, "--var=DBDIR=" + os.path.join(self.dir, "db"),
            "--var=RUNDIR=" + os.path.join(self.dir, "run"), "--var=LOGDIR=" + os.path.join(self.dir, "log")]

    def ready(self):
        return b"pong" in _ask(("127.0.0.1", self.port), b"GET /ping HTTP/1.0\r\n\r\n")

    def wait_hyperscan(self, timeout=60):
        """Wait (bounded) until the workers use compiled hyperscan DBs; False if not in time."""
        log = os.path.join(self.dir, "log", "rspamd.log")
        end = time.time() + timeout * SLOW
        while time.time() < end:
            try:
                with open(log, errors="replace") as f:
                    text = f.read()
            except OSError:
                text = ""
            if "hyperscan database of" in text and "has been loaded" in text:
                return True
            time.sleep(0.2)
        return False
