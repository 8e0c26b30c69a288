"""Shared fixtures for mxgate's system tests: the real binary, a real DNS server
(dnsmasq), the sink (sink.py), and helpers to talk SMTP at the byte level.

Everything listens on 127.0.0.1 only; every wait is bounded. The gateway's
dns_servers always points at the test dnsmasq, so no test queries the machine's
resolver. MXGATE_BIN selects the binary (release or ASan build); a gateway whose
log shows a sanitizer report, or that does not exit 0 on SIGTERM, fails the test.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import json

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("MXGATE_BIN", os.path.join(ROOT, "build", "mxgate"))
ASAN = os.environ.get("MXGATE_BUILD") == "asan" or "/asan/" in BIN
SINK = os.path.join(ROOT, "tests", "system", "sink.py")
PY = "/usr/bin/python3"
SLOW = 3 if ASAN else 1  # timeouts scale under ASan


def free_port():
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if 20000 <= port < 60000:
            return port
    raise RuntimeError("no free port")


def wait_port(port, proc=None, timeout=10.0, host="127.0.0.1"):
    end = time.time() + timeout * SLOW
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def wait_until(fn, timeout=10.0, step=0.05):
    end = time.time() + timeout * SLOW
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


@pytest.fixture(scope="session")
def basedir():
    d = tempfile.mkdtemp(prefix="mxgate-test-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def tls_files(basedir):
    cert, key = os.path.join(basedir, "cert.pem"), os.path.join(basedir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", "/CN=gw.test", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class Dns:
    """dnsmasq serving the .test zone: MX, A/AAAA, PTR, NXDOMAIN for the rest."""

    RECORDS = [
        "--mx-host=mx.test,mail1.mx.test,10",
        "--mx-host=mx.test,mail2.mx.test,20",
        "--mx-host=nullmx.test,.,0",
        "--mx-host=dead.test,dead-mx.test,10",
        "--mx-host=noaddr.test,nowhere.test,10",
        "--host-record=mail1.mx.test,127.0.0.1",
        "--host-record=mail2.mx.test,127.0.0.1",
        "--host-record=dead-mx.test,127.0.0.9",
        "--host-record=implicit.test,127.0.0.1",
        "--host-record=client.test,127.0.0.1",
        "--host-record=sink.test,127.0.0.1",
        # routing tests: the first MX refuses connections (nothing listens on .5), the second takes mail
        "--mx-host=fallback.test,mx1.fallback.test,10",
        "--mx-host=fallback.test,mx2.fallback.test,20",
        "--host-record=mx1.fallback.test,127.0.0.5",
        "--host-record=mx2.fallback.test,127.0.0.1",
        # a zone whose server fails: dnsmasq forwards it to a port where nothing answers
        "--server=/servfail.test/127.0.0.1#9",
        # MX self-loop (RFC 5321 5.1): self.loop.test is the gateway's own address, gw.test its
        # name, other.loop.test (127.0.0.2) another host
        "--mx-host=loop.test,self.loop.test,10",
        "--mx-host=loop2.test,self.loop.test,10",
        "--mx-host=loop2.test,other.loop.test,20",
        "--mx-host=named.test,gw.test,10",
        "--mx-host=named.test,other.loop.test,20",
        "--mx-host=backup.test,other.loop.test,10",
        "--mx-host=backup.test,self.loop.test,20",
        "--host-record=self.loop.test,127.0.0.1",
        "--host-record=other.loop.test,127.0.0.2",
    ] + [
        # DNS blocklists (test_dnsbl.py). Every zone lists 127.0.0.2 (RFC 5782 self-test) and not
        # 127.0.0.1. bl.test lists the clients 127.0.0.9, .10 and .13 with a TXT reason;
        # w.test answers 127.0.0.3 and 127.0.0.4 for 127.0.0.12 (weights by filter); allow.test
        # lists 127.0.0.13 (an allow list: negative weight); err.test answers Spamhaus' error
        # code 127.255.255.254 to everything; slow.test is forwarded to a port that never answers.
        "--host-record=2.0.0.127.bl.test,127.0.0.2",
        "--txt-record=2.0.0.127.bl.test,test entry",
    ] + ["--host-record=%d.0.0.127.bl.test,127.0.0.2" % i for i in (9, 10, 13)] + [
        "--txt-record=%d.0.0.127.bl.test,Listed by bl.test: see http://bl.test/q?ip=127.0.0.%d" % (i, i)
        for i in (9, 10, 13)] + [
        "--host-record=2.0.0.127.w.test,127.0.0.2",
        "--address=/12.0.0.127.w.test/127.0.0.3",
        "--address=/12.0.0.127.w.test/127.0.0.4",
        "--host-record=2.0.0.127.allow.test,127.0.0.2",
        "--host-record=13.0.0.127.allow.test,127.0.0.2",
        "--address=/err.test/127.255.255.254",
    ]

    def __init__(self, basedir):
        self.port = free_port()
        # a "DNS server" that reads nothing and never answers: dnsmasq forwards slow.test to it
        self.blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.blackhole.bind(("127.0.0.1", 0))
        self.log = os.path.join(basedir, "dnsmasq-%d.log" % self.port)
        self.proc = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--port=%d" % self.port, "--listen-address=127.0.0.1",
             "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--user=root",
             "--local=/test/", "--local=/in-addr.arpa/", "--log-queries", "--log-facility=" + self.log]
            + self.RECORDS + ["--server=/slow.test/127.0.0.1#%d" % self.blackhole.getsockname()[1]],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.2)
        assert self.proc.poll() is None, "dnsmasq did not start"

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.blackhole.close()

    def queries(self, name, qtype="A"):
        """How many times dnsmasq was asked for name (log lines "query[A] name from ...")."""
        with open(self.log, errors="replace") as f:
            return sum(1 for l in f if " query[%s] %s from " % (qtype, name) in l)


@pytest.fixture(scope="session")
def dns(basedir):
    d = Dns(basedir)
    yield d
    d.stop()


class Sink:
    """sink.py on 127.0.0.1:port, or on the unix socket unix (a path; port is then 0)."""

    def __init__(self, workdir, *args, port=None, unix=None, host="127.0.0.1"):
        self.unix = unix
        self.host = host
        self.port = 0 if unix else port or free_port()
        self.dir = os.path.join(workdir, "sink-%s" % (os.path.basename(unix) if unix else self.port))
        self.args = list(args)
        self.proc = None
        self.start()

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        listen = "unix:" + self.unix if self.unix else "%s:%d" % (self.host, self.port)
        self.proc = subprocess.Popen([PY, SINK, "--listen", listen, "--dir", self.dir]
                                     + self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.unix:
            assert wait_until(lambda: os.path.exists(self.unix) or self.proc.poll() is not None, 10) \
                and self.proc.poll() is None, "sink did not start"
        else:
            assert wait_port(self.port, self.proc, 10, host=self.host), "sink did not start"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill9(self):
        """SIGKILL the sink (a next hop that crashes); start() brings it back on the same port."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self, *args):
        self.stop()
        if args:
            self.args = list(args)
        self.start()

    def messages(self):
        """[(json_envelope, eml_bytes)] in arrival order."""
        out = []
        for f in sorted(os.listdir(self.dir)):
            if f.endswith(".eml"):
                base = os.path.join(self.dir, f[:-4])
                with open(base + ".json") as j, open(base + ".eml", "rb") as e:
                    out.append((json.load(j), e.read()))
        return out

    def sessions(self):
        """{"connections", "current", "max_concurrent"} as the sink counted them."""
        try:
            with open(os.path.join(self.dir, "sessions.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"connections": 0, "current": 0, "max_concurrent": 0}

    def count(self):
        if "--index-only" in self.args:
            p = os.path.join(self.dir, "index.log")
            if not os.path.exists(p):
                return 0
            with open(p) as f:
                return sum(1 for _ in f)
        return sum(1 for f in os.listdir(self.dir) if f.endswith(".eml"))

    def wait_count(self, n, timeout=20):
        return wait_until(lambda: self.count() >= n, timeout) and self.count()


class Gateway:
    DEFAULTS = {
        "myhostname": "gw.test",
        "smtpd_peername_lookup": "no",
        "minimal_backoff_time": "1s",
        "maximal_backoff_time": "2s",
        "smtp_connection_cache_time_limit": "1s",
        "shutdown_timeout": "10s",
        "smtp_connect_timeout": "5s",
        "log_level": "info",
        # the relay tests compare content byte for byte: scanning (which adds result headers) is
        # off unless a test turns it on (test_scanning.py, test_scan_corpus.py); mxgate's own
        # default is spam_scanner = builtin
        "spam_scanner": "none",
        # tests that turn the builtin engine on were written against mxgate's own 24-rule set;
        # the default (spam_rules = spamassassin: SpamAssassin's installed rules) is tested in
        # test_spam_rules_default.py
        "spam_rules": "builtin",
        # the HTTP listener (metrics, status page) defaults to 127.0.0.1:8025; tests that want it
        # set a free port (gateways run side by side)
        "http_listen": "",
    }

    def __init__(self, workdir, dns, sink=None, name="gw", host="127.0.0.1", **conf):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.host = host
        self.conf = dict(self.DEFAULTS)
        self.conf["smtpd_listen"] = "%s:%d" % (host, self.port)
        self.conf["queue_directory"] = os.path.join(self.dir, "spool")
        self.conf["dns_servers"] = dns.server
        self.conf["relayhost"] = "[127.0.0.1]:%d" % sink.port if sink else ""
        self.conf["pid_file"] = os.path.join(self.dir, "mxgate.pid")
        # each gateway its own Bayes store (empty: the score set without Bayes), never the machine's
        self.conf["bayes_path"] = os.path.join(self.dir, "bayes", "store")
        self.conf.update({k: str(v) for k, v in conf.items()})
        self.cf = os.path.join(self.dir, "main.cf")
        self.logpath = os.path.join(self.dir, "mxgate.log")
        self.proc = None
        self.logs = []

    def write_conf(self):
        with open(self.cf, "w") as f:
            for k, v in self.conf.items():
                f.write("%s = %s\n" % (k, v))

    def start(self, expect_ok=True):
        self.write_conf()
        started = self.started_count()
        logf = open(self.logpath, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        self.proc = subprocess.Popen([BIN, "serve", "-c", self.cf], stdout=logf, stderr=logf, env=env)
        logf.close()
        if expect_ok:
            assert wait_port(self.port, self.proc, 15, host=self.host), "mxgate did not start:\n" + self.log()
            # the port answers once it is bound; the control socket and the loop come a little later
            assert wait_until(lambda: self.started_count() > started or self.proc.poll() is not None,
                              15), "mxgate did not log event=started:\n" + self.log()
            assert self.proc.poll() is None, "mxgate exited during start-up:\n" + self.log()
        return self

    def started_count(self):
        """event=started lines so far, in either log_format."""
        text = self.log()
        return text.count("event=started ") + text.count('"event":"started"')

    def pid(self):
        return self.proc.pid

    def stop(self, check=True, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            rc = self.proc.returncode if self.proc else 0
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("mxgate did not stop on SIGTERM within %ds\n%s" % (timeout, self.log()[-3000:]))
        self.proc = None
        if check:
            self.check_log()
            assert rc == 0, "mxgate exited %s\n%s" % (rc, self.log()[-4000:])
        return rc

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    # set by a test that drives a scanner process into scan_memory_limit: AddressSanitizer's own
    # allocator then reports its failed allocation (an ASan build only) before the process ends
    expect_scanner_oom = False
    OOM_RX = re.compile(r"ERROR: AddressSanitizer:? (failed to allocate|(allocator is )?out of memory|"
                        r"requested allocation size)|ERROR: Failed to mmap")

    def check_log(self):
        text = self.log()
        if self.expect_scanner_oom:
            text = "\n".join(l for l in text.splitlines() if not self.OOM_RX.search(l))
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehavior"):
            assert bad not in text, "sanitizer report in mxgate log:\n" + text[-6000:]

    def wait_log(self, pattern, timeout=10, count=1):
        rx = re.compile(pattern)
        ok = wait_until(lambda: len(rx.findall(self.log())) >= count, timeout)
        assert ok, "log never matched %r (x%d):\n%s" % (pattern, count, self.log()[-3000:])
        return ok

    def queue_files(self, sub=None):
        subs = [sub] if sub else ["input", "output", "deferred", "hold"]
        n = 0
        for s in subs:
            p = os.path.join(self.conf["queue_directory"], s)
            if os.path.isdir(p):
                n += len(os.listdir(p))
        return n

    def mailq(self):
        return subprocess.run([BIN, "mailq", "-c", self.cf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=30).stdout.decode("utf-8", "replace")

    def flush(self):
        self.proc.send_signal(signal.SIGUSR1)


@pytest.fixture
def workdir(basedir, request):
    d = os.path.join(basedir, re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:80])
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def mkgw(workdir, dns):
    """Factory: mkgw(sink=..., **conf) -> started Gateway; stopped (and checked) at teardown."""
    gws = []

    def make(sink=None, start=True, name=None, host="127.0.0.1", **conf):
        g = Gateway(workdir, dns, sink, name=name or "gw%d" % len(gws), host=host, **conf)
        gws.append(g)
        if start:
            g.start()
        return g

    yield make
    errors = []
    for g in gws:
        if g.proc is not None:
            try:
                g.stop()
            except AssertionError as e:
                errors.append(str(e))
        else:
            try:
                g.check_log()
            except AssertionError as e:
                errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def mksink(workdir):
    """Factory: mksink(*sink_args, port=None, sub=None, unix=None, host="127.0.0.1"). sub: keep this
    sink's files in their own subdirectory (a second sink on the same port then counts only what it
    received itself). unix: listen on that socket path instead of host:port."""
    sinks = []

    def make(*args, port=None, sub=None, unix=None, host="127.0.0.1"):
        d = workdir
        if sub:
            d = os.path.join(workdir, sub)
            os.makedirs(d, exist_ok=True)
        s = Sink(d, *args, port=port, unix=unix, host=host)
        sinks.append(s)
        return s

    yield make
    for s in sinks:
        s.stop()


class Raw:
    """Byte-level SMTP client for dialog tests."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
        self.buf = b""
        self.timeout = timeout * SLOW

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed by server")
        self.buf += d

    def line(self, timeout=None):
        while b"\r\n" not in self.buf:
            self._fill(timeout or self.timeout)
        l, _, self.buf = self.buf.partition(b"\r\n")
        return l.decode("utf-8", "replace")

    def reply(self, timeout=None):
        """A whole (multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            l = self.line(timeout)
            lines.append(l)
            if len(l) < 4 or l[3] != "-":
                return int(l[:3]), lines

    def expect(self, code, timeout=None):
        c, lines = self.reply(timeout)
        assert c == code, "expected %d, got %r" % (code, lines)
        return lines

    def closed(self, timeout=3.0):
        """True if the server closes the connection (after any pending data)."""
        end = time.time() + timeout * SLOW
        try:
            while time.time() < end:
                self._fill(max(0.05, end - time.time()))
        except EOFError:
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return False

    def nothing(self, secs):
        try:
            self._fill(secs)
        except socket.timeout:
            return self.buf == b""
        except EOFError:
            return False
        return False

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="gw.test")
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@pytest.fixture
def raw():
    conns = []

    def make(port, timeout=5.0):
        r = Raw(port, timeout)
        conns.append(r)
        return r

    yield make
    for r in conns:
        r.close()
