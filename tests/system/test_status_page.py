"""The status page (admin/admin_status.c, web/): its JSON API and actions over plain HTTP, and the page
itself in a real headless Chromium driven over the DevTools protocol (websocket): the numbers on
the page against /metrics and the API, the recent messages with their verdicts, the quarantine,
a release by clicking (the secret typed into the page's prompt; a wrong one refused first), and
a screenshot (the test's workdir, copied to build/status-page.png). Chromium is a dependency
(mk/deps.sh): without it the test fails. Everything on 127.0.0.1; every wait is bounded.
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import websocket  # python3-websocket (mk/deps.sh)

from conftest import ROOT, SLOW, free_port, wait_until
from test_scanning import CLEAN, LIBCLAMAV, SPAM, VIRUS, qdir, send

SECRET_HEADER = "X-Mxgate-Secret"
PERIOD_MS = 300  # MXGATE_TEST_STATUS_PERIOD_MS: history samples in tests


# --- plain HTTP ---------------------------------------------------------------------------------

def http(port, path, method="GET", headers=None, data=None):
    """(status, headers, body bytes); 4xx/5xx are returned, not raised."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method, data=data,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15 * SLOW) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def api(port):
    st, _, body = http(port, "/api/status")
    assert st == 200, body
    return json.loads(body)


def metrics(port):
    st, _, body = http(port, "/metrics")
    assert st == 200
    out = {}
    for line in body.decode().splitlines():
        m = re.match(r'^(\w+)(\{[^}]*\})? (\S+)$', line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def action(port, qid, what, secret=None, data=None):
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    st, _, body = http(port, "/api/quarantine/%s/%s" % (qid, what), "POST", headers, data if data else b"")
    return st, json.loads(body) if body.startswith(b"{") else body


def secret_file(workdir, text):
    p = os.path.join(workdir, "http-secret")
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o600)
    return p


def status_gw(mkgw, sink, workdir, secret="correct horse battery", **conf):
    port = free_port()
    if secret is not None:
        conf["http_secret_file"] = secret_file(workdir, secret + "\n")
    gw = mkgw(sink, spam_scanner="builtin", virus_scanner=LIBCLAMAV, virus_actions="quarantine",
              http_listen="127.0.0.1:%d" % port, **conf)
    gw.http = port
    return gw


@pytest.fixture
def period(monkeypatch):
    monkeypatch.setenv("MXGATE_TEST_STATUS_PERIOD_MS", str(PERIOD_MS))


def test_status_http_api(mkgw, mksink, workdir, period):
    sink = mksink()
    gw = status_gw(mkgw, sink, workdir)
    port = gw.http
    assert send(gw, VIRUS())[0] == 250
    assert wait_until(lambda: len(qdir(gw, "quarantine")) == 1, 60), gw.log()[-3000:]
    qid = qdir(gw, "quarantine")[0]

    # the page and its assets: one strict policy, no inline script or style
    st, h, page = http(port, "/")
    assert st == 200 and h["Content-Type"].startswith("text/html")
    csp = h["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    html = page.decode()
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None and "<style" not in html and " style=" not in html
    assert re.search(r"(src|href)=\"(https?:)?//", html) is None  # nothing from elsewhere
    for path, ctype in (("/status.js", "text/javascript"), ("/status.css", "text/css"), ("/index.html", "text/html")):
        st, h, body = http(port, path)
        assert st == 200 and h["Content-Type"].startswith(ctype) and body and "default-src" in h["Content-Security-Policy"]
    st, h, body = http(port, "/", "HEAD")
    assert st == 200 and body == b""

    # the API
    s = api(port)
    assert s["queue"]["quarantine"] == 1 and s["counters"]["accepted"] == 1 and s["secret_configured"] is True
    assert s["counters"]["verdicts"]["virus"] == 1
    q = s["quarantine_list"]
    assert q["total"] == 1 and q["messages"][0]["queue"] == qid
    m = q["messages"][0]
    assert m["sender"] == "sender@client.test" and m["recipients"] == ["rcpt@dest.test"]
    assert m["subject"] == "invoice" and m["verdict"] == "virus" and "Mxgate.Test.EICAR" in m["why"]
    r = s["recent"][0]
    assert r["verdict"] == "virus" and r["actions"] == "quarantine" and "Mxgate.Test.EICAR" in r["viruses"]
    assert r["client"] == "127.0.0.1" and r["recipients"] == "rcpt@dest.test" and r["size"] > 100

    # methods
    st, h, _ = http(port, "/api/status", "POST", data=b"")
    assert st == 405 and h["Allow"] == "GET, HEAD"
    st, h, _ = http(port, "/api/quarantine/%s/release" % qid)
    assert st == 405 and h["Allow"] == "POST"
    st, h, _ = http(port, "/metrics", "POST", data=b"")
    assert st == 405 and h["Allow"] == "GET, HEAD"
    assert http(port, "/metrics?x=1")[0] == 200
    st, _, _ = http(port, "/", "PUT", data=b"x")
    assert st in (405, 501)
    assert http(port, "/nope")[0] == 404 and http(port, "/api/quarantine/%s/explode" % qid, "POST", data=b"")[0] == 404

    # the secret: missing, wrong -> 403 and nothing moves
    st, body = action(port, qid, "release")
    assert st == 403 and "missing" in body["error"], body
    st, body = action(port, qid, "release", "wrong")
    assert st == 403 and body["error"] == "wrong secret"
    st, body = action(port, qid, "delete", "correct horse battery!")
    assert st == 403
    assert qdir(gw, "quarantine") == [qid] and qdir(gw, "input") == [] and sink.count() == 0
    gw.wait_log(r"queue=%s event=http_action_refused action=release client=127\.0\.0\.1:\d+ reason=\"wrong secret\"" % qid)

    # ids are checked strictly (400), unknown ones are 404
    for bad in ("0123456789abcdef", "SHORT", qid + "0", "0123456789ABCDEI", "%30123456789ABCDE", "..%2F..%2Fetc"):
        st, body = action(port, bad, "release", "correct horse battery")
        assert st == 400 and "not a queue id" in body["error"], (bad, st, body)
    st, body = action(port, "0000000000000000", "release", "correct horse battery")
    assert st == 404 and "no such message" in body["error"]

    # request bodies: an action takes none; evhttp refuses bodies over its limit before reading them
    st, body = action(port, qid, "release", "correct horse battery", data=b"x")
    assert st == 413
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as c:
        c.sendall(b"POST /api/quarantine/%s/release HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" % qid.encode())
        assert c.recv(4096).startswith(b"HTTP/1.1 413")
    assert qdir(gw, "quarantine") == [qid]

    # delete with the secret: gone, logged with the client's address; a second time is 404
    st, body = action(port, qid, "delete", "correct horse battery")
    assert st == 200 and body["ok"] is True and body["queue"] == qid, body
    assert qdir(gw, "quarantine") == [] and sink.count() == 0
    gw.wait_log(r"queue=%s event=quarantine_deleted source=http client=127\.0\.0\.1:\d+" % qid)
    assert action(port, qid, "delete", "correct horse battery")[0] == 404
    assert api(port)["queue"]["quarantine"] == 0

    # DNS rebinding: a name other than an IP literal, localhost or myhostname is refused (421),
    # before any action is looked at; those three are served
    for host in ("attacker.example", "gw.test.attacker.example", "localhost.attacker.example:%d" % port):
        st, _, body = http(port, "/api/status", headers={"Host": host})
        assert st == 421 and b"Host header" in body, (host, st, body)
        st, _, _ = http(port, "/api/quarantine/%s/delete" % qid, "POST",
                        {"Host": host, "X-Mxgate-Secret": "correct horse battery"})
        assert st == 421
    gw.wait_log(r"event=http_refused reason=host client=127\.0\.0\.1:\d+ host=attacker\.example")
    for host in ("localhost:%d" % port, "gw.test", "127.0.0.1:%d" % port, "[::1]:%d" % port):
        assert http(port, "/metrics", headers={"Host": host})[0] == 200, host


def test_status_without_secret_refuses_actions(mkgw, mksink, workdir):
    sink = mksink()
    gw = status_gw(mkgw, sink, workdir, secret=None)
    assert api(gw.http)["secret_configured"] is False
    st, body = action(gw.http, "0000000000000000", "release", "anything")
    assert st == 403 and "no secret configured" in body["error"]
    gw.wait_log(r"event=status_page secret=none")


@pytest.mark.parametrize("content,why", [(None, "No such file"), ("", "is empty"), ("\nsecond line\n", "is empty"),
                                         ("x" * 257, "longer than 256")])
def test_status_secret_file_errors(mkgw, workdir, content, why):
    path = os.path.join(workdir, "no-such-secret")
    if content is not None:
        path = secret_file(workdir, content)
    gw = mkgw(start=False, http_listen="127.0.0.1:%d" % free_port(), http_secret_file=path)
    gw.start(expect_ok=False)
    rc = gw.proc.wait(30 * SLOW)
    gw.proc = None
    assert rc != 0 and "http_secret_file " + path in gw.log() and why in gw.log(), gw.log()


# --- the page in headless Chromium --------------------------------------------------------------

class Chromium:
    """chromium --headless=new with a private profile, one page driven over the DevTools protocol."""

    def __init__(self, workdir):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
        self.logpath = os.path.join(workdir, "chromium.log")
        exe = shutil.which("chromium")
        assert exe, "chromium is not installed (mk/deps.sh installs it)"
        log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=%d" % self.port,
             "--remote-allow-origins=http://127.0.0.1:%d" % self.port, "--user-data-dir=" + self.profile,
             "--window-size=1280,1600", "about:blank"], stdout=log, stderr=log)
        log.close()
        self.ws = None
        self.next_id = 0
        self.events = []
        page = wait_until(self._page, 30)
        assert page, "chromium's DevTools endpoint did not come up:\n" + self.log()
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30 * SLOW, suppress_origin=True)

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()[-3000:]

    def _page(self):
        if self.proc.poll() is not None:
            raise AssertionError("chromium exited %s:\n%s" % (self.proc.returncode, self.log()))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % self.port, timeout=2) as r:
                targets = json.loads(r.read())
        except OSError:
            return None
        return next((t for t in targets if t.get("type") == "page" and "webSocketDebuggerUrl" in t), None)

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        for _ in range(100000):  # events arrive in between; the recv timeout bounds each wait
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                assert "error" not in msg, "%s: %s" % (method, msg["error"])
                return msg.get("result", {})
            self.events.append(msg)
        raise AssertionError("no answer to " + method)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, "%s: %s" % (expr, r["exceptionDetails"])
        return r["result"].get("value")

    def wait(self, expr, timeout=20):
        v = wait_until(lambda: self.eval(expr), timeout, step=0.1)
        assert v, "page never satisfied %s" % expr
        return v

    def click(self, selector):
        """A real mouse click at the element's centre (scrolled into view first)."""
        box = self.eval("(() => { const e = document.querySelector(%s); if (!e || e.offsetParent === null) return null;"
                        " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                        " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()" % json.dumps(selector))
        assert box, "nothing visible to click at " + selector
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=box["x"], y=box["y"])
        for t in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=t, x=box["x"], y=box["y"], button="left", clickCount=1)

    def type(self, text):
        self.call("Input.insertText", text=text)

    def screenshot(self, path):
        self.eval("window.scrollTo(0, 0), true")
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            if self.ws:
                try:
                    self.call("Browser.close")
                except Exception:
                    pass
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def chromium(workdir):
    c = Chromium(workdir)
    yield c
    c.close()


PAGE_STATE = """(() => {
  const t = (id) => document.getElementById(id).textContent;
  const rows = (sel) => Array.from(document.querySelectorAll(sel + " tbody tr")).map((tr) => ({
    qid: tr.dataset.qid, verdict: tr.dataset.verdict || "", cls: tr.className,
    cells: Array.from(tr.cells).map((c) => c.textContent)}));
  return {
    generation: Number(document.body.dataset.generation || 0),
    queue: Object.fromEntries(["input", "active", "deferred", "hold", "quarantine"].map((k) => [k, t("q-" + k)])),
    counters: Object.fromEntries(["accepted", "rejected", "delivered", "bounced"].map((k) => [k, t("c-" + k)])),
    verdicts: Object.fromEntries(["clean", "high-spam", "virus"].map((k) => [k, t("v-" + k)])),
    recent: rows("#recent"), quarantine: rows("#quarantine"),
    bars: document.querySelectorAll("#plot-verdicts rect").length,
    queueLine: document.querySelectorAll("#plot-queue polyline").length,
    notice: document.getElementById("notice").hidden ? "" : t("notice"),
    modal: !document.getElementById("secret-modal").hidden,
  };
})()"""


def page_state(c, after=0):
    """The page's state after a refresh newer than generation `after`."""
    c.wait("Number(document.body.dataset.generation || 0) > %d" % after)
    return c.eval(PAGE_STATE)


def test_status_page_in_chromium(mkgw, mksink, workdir, period, chromium):
    sink = mksink()
    gw = status_gw(mkgw, sink, workdir)
    port = gw.http
    for i, m in enumerate((CLEAN(), SPAM(), VIRUS())):  # one at a time: the page lists them in this order
        assert send(gw, m)[0] == 250
        gw.wait_log(r"event=scanned verdict=", timeout=60, count=i + 1)
    assert sink.wait_count(2, 60) == 2
    qid = wait_until(lambda: qdir(gw, "quarantine"), 30)[0]
    # settled: nothing queued, every message in a history sample
    assert wait_until(lambda: (lambda s: sum(s["queue"][k] for k in ("input", "ready", "active", "deferred")) == 0
                               and sum(sum(v) for v in s["history"]["verdicts"].values()) == 3)(api(port)), 30)

    chromium.call("Page.enable")
    chromium.call("Emulation.setDeviceMetricsOverride", width=1280, height=1500, deviceScaleFactor=1, mobile=False)
    chromium.call("Page.navigate", url="http://127.0.0.1:%d/" % port)
    chromium.wait("document.body && document.body.dataset.loaded === '1'", 30)
    st = page_state(chromium)
    s, mt = api(port), metrics(port)

    # the numbers on the page are the API's and the metrics'
    for k in ("input", "active", "deferred", "hold", "quarantine"):
        assert st["queue"][k] == str(s["queue"][k]), (k, st["queue"], s["queue"])
    for k in ("input", "active", "deferred", "hold", "quarantine"):
        key = 'mxgate_queue_messages{state="%s"}' % k
        if key in mt:  # hold and quarantine once the metrics helper exports them
            assert st["queue"][k] == str(int(mt[key])), (k, st["queue"], mt)
    assert 'mxgate_queue_messages{state="input"}' in mt
    assert st["counters"]["accepted"] == str(int(mt["mxgate_messages_accepted_total"])) == str(s["counters"]["accepted"]) == "3"
    assert st["queue"]["quarantine"] == "1"
    assert st["verdicts"] == {"clean": "1", "high-spam": "1", "virus": "1"}, st["verdicts"]

    # the three messages with their verdicts (MailWatch-like colours by class), newest first
    by_subject = {r["cells"][5]: r for r in st["recent"]}
    assert set(by_subject) == {"quarterly report", "cheap offer", "invoice"}, st["recent"]
    assert by_subject["quarterly report"]["verdict"] == "clean" and by_subject["quarterly report"]["cls"] == "v-clean"
    assert by_subject["cheap offer"]["verdict"] == "high-spam" and "GTUBE" in by_subject["cheap offer"]["cells"][9]
    assert by_subject["invoice"]["verdict"] == "virus" and "Mxgate.Test.EICAR" in by_subject["invoice"]["cells"][9]
    assert [r["cells"][5] for r in st["recent"]] == ["invoice", "cheap offer", "quarterly report"]
    assert "delivered" in by_subject["quarterly report"]["cells"][11] and by_subject["invoice"]["cells"][10] == "quarantine"
    # the quarantine: the EICAR message, with why
    assert [r["qid"] for r in st["quarantine"]] == [qid]
    assert "invoice" in st["quarantine"][0]["cells"] and "virus: Mxgate.Test.EICAR" in st["quarantine"][0]["cells"][5]
    # the plots were drawn
    assert st["bars"] >= 3 and st["queueLine"] == 1

    shot = os.path.join(workdir, "status-page.png")
    chromium.screenshot(shot)
    assert open(shot, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    shutil.copy(shot, os.path.join(ROOT, "build", "status-page.png"))

    # Release with a wrong secret (typed into the page's prompt): refused, nothing moves
    release = '#quarantine button.release[data-qid="%s"]' % qid
    chromium.click(release)
    chromium.wait("!document.getElementById('secret-modal').hidden && document.activeElement.id === 'secret-input'")
    chromium.type("not the secret")
    chromium.click("#secret-ok")
    chromium.wait("document.getElementById('notice').textContent.includes('403')")
    assert "wrong secret" in chromium.eval("document.getElementById('notice').textContent")
    assert qdir(gw, "quarantine") == [qid] and sink.count() == 2
    gw.wait_log(r"queue=%s event=http_action_refused action=release client=127\.0\.0\.1:\d+" % qid)
    assert chromium.eval("sessionStorage.getItem('mxgate-secret')") is None  # a refused secret is forgotten

    # Release with the right one: asked again, delivered to the sink, gone from the quarantine list
    chromium.click(release)
    chromium.wait("!document.getElementById('secret-modal').hidden")
    chromium.type("correct horse battery")
    chromium.click("#secret-ok")
    chromium.wait("document.getElementById('notice').textContent.includes('released as')")
    assert sink.wait_count(3, 60) == 3
    assert b"eicar.com" in sink.messages()[-1][1]  # the original, as quarantined
    gw.wait_log(r"queue=%s event=quarantine_released source=http client=127\.0\.0\.1:\d+" % qid)
    gen = chromium.eval("Number(document.body.dataset.generation)")
    st = wait_until(lambda: (lambda x: x if not x["quarantine"] and x["queue"]["quarantine"] == "0" else None)(
        page_state(chromium, gen)), 20)
    assert st, "the released message stayed on the page"
    assert qdir(gw, "quarantine") == []
    assert chromium.eval("sessionStorage.getItem('mxgate-secret')") == "correct horse battery"
    chromium.screenshot(os.path.join(workdir, "status-page-released.png"))
    shutil.copy(os.path.join(workdir, "status-page-released.png"), os.path.join(ROOT, "build", "status-page-released.png"))
