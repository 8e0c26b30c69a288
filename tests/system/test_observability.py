"""Logs and metrics of a whole run (docs/LOGGING.md): every line carries session= or queue= (the
process events listed there aside), every queued message ends with exactly one event=removed line,
log_format = json gives the same events with the same keys, and /metrics (parsed strictly) agrees
with what was sent and with the spool. Every wait is bounded.
"""
import json
import os
import re
import smtplib
import urllib.request

from conftest import SLOW, free_port, wait_until

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# events about the process, a destination or a connection shared by messages (docs/LOGGING.md)
PROCESS_EVENTS = set("""accept_error access_duplicate adopted alias_include_error alias_target_refused av_error
    bayes_dir_chown bayes_dir_missing bayes_dir_not_writable bayes_learn_failed bayes_store_written bayes_unavailable
    av_database_changed av_over_max_size av_ready capability_warning concurrency_window control_bad_request control_refused
    control_socket_listening control_socket_stale_removed control_timeout destination_alive destination_dead
    dnsbl_query_failed dnsbl_stats dnsbl_timeout dnsbl_zone_disabled dnsbl_zone_enabled dnsbl_zone_ok dnsbl_zone_stats
    dnsbl_zone_untested fault_injection flush http_listening http_refused libclamav_message map_duplicate maps_error mx_self_loop
    pid_file_error queue_recovered reload_begin reload_error reload_failed reload_restart_needed reload_warning reloaded
    rules_bad_regex rules_loaded rules_match_limited rules_meta_cycle rules_nul_byte rules_unsupported_header
    scan_sandbox_warning scan_supervisor_died scan_supervisor_error scanner_error spam_rules_fallback spam_rules_found scanner_exited scanner_lost
    scanner_protocol_error scanner_respawn_throttled scanner_started scanning_unavailable scanning_off scanning_on shutdown_begin shutdown_drained shutdown_forced shutdown_timeout smtp_connect_failed
    smtp_connected smtp_tls_failed smtp_try_next spool_fixed started startup_error status_page stopped""".split())
TEXT_RX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [^\[]+\[\d+\]: (error|warning|info|debug): (.*)$")


def parse_kv(s):
    """The key=value grammar of docs/LOGGING.md, strictly: returns a dict, asserts on anything else."""
    out, i = {}, 0
    while i < len(s):
        m = re.compile(r"([A-Za-z0-9_.-]+)=").match(s, i)
        assert m, "not key=value at %d: %r" % (i, s)
        key, i = m.group(1), m.end()
        assert key not in out, "duplicate key %s in %r" % (key, s)
        if i < len(s) and s[i] == '"':
            i += 1
            val = bytearray()
            while True:
                assert i < len(s), "unterminated value in %r" % s
                c = s[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    e = s[i + 1]
                    if e in '"\\':
                        val += e.encode()
                        i += 2
                    elif e == "x":
                        val.append(int(s[i + 2:i + 4], 16))
                        i += 4
                    else:
                        raise AssertionError("bad escape in %r" % s)
                    continue
                assert ord(c) >= 0x20, "raw control character in %r" % s
                val += c.encode()
                i += 1
            out[key] = val.decode("utf-8", "surrogateescape")
        else:
            j = s.find(" ", i)
            j = len(s) if j < 0 else j
            val = s[i:j]
            assert val and '"' not in val and "\\" not in val, "bad bare value in %r" % s
            out[key], i = val, j
        if i < len(s):
            assert s[i] == " ", "no space after a value in %r" % s
            i += 1
    return out


def parse_log(text, fmt):
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if fmt == "json":
            d = json.loads(line)
            for k in ("ts", "level", "program", "pid"):
                assert k in d, line
            assert isinstance(d["pid"], int)
            events.append(d)
        else:
            m = TEXT_RX.match(line)
            assert m, "not a log line: %r" % line
            events.append(parse_kv(m.group(2)))
    return events


def send(gw, rcpts, body=b"Subject: hello\r\n\r\nnothing special\r\n", sender="sender@client.test"):
    """DATA's reply code (None: every recipient refused); refused RCPTs are ignored."""
    s = smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW)
    try:
        s.ehlo("client.test")
        s.mail(sender)
        ok = 0
        for r in rcpts:
            code, _ = s.rcpt(r)
            ok += code < 300
        if not ok:
            s.rset()
            return None
        code, _ = s.data(b"From: <sender@client.test>\r\nTo: <x@dest.test>\r\n" + body)
        return code
    except smtplib.SMTPDataError as e:
        return e.smtp_code
    finally:
        s.quit()


def maps(workdir):
    d = os.path.join(workdir, "maps")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "local-host-names"), "w") as f:
        f.write("org.test\n")
    with open(os.path.join(d, "aliases"), "w") as f:
        f.write("team: c@dest.test, d@dest.test\nlist: m1@dest.test, m2@dest.test\nowner-list: admin@dest.test\n")
    return dict(local_host_names=os.path.join(d, "local-host-names"), alias_maps=os.path.join(d, "aliases"),
                mynetworks="127.0.0.1/32", spam_scanner="builtin", high_spam_actions="quarantine",
                spam_actions="quarantine")


def full_run(mkgw, mksink, workdir, fmt):
    sink = mksink("--reject", "bad@", "--tempfail", "slow@", sub="sink-" + fmt)
    gw = mkgw(sink, name="gw-" + fmt, log_format=fmt, **maps(workdir))
    # a refused MAIL (syntax) and refused recipients
    s = smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW)
    s.ehlo("client.test")
    assert s.docmd("MAIL FROM:<broken")[0] == 501
    s.quit()
    assert send(gw, ["ok1@dest.test"]) == 250
    assert send(gw, ["ok2@dest.test", "nobody@org.test"]) == 250
    assert send(gw, ["nobody@org.test"]) is None
    assert send(gw, ["team@org.test"]) == 250                      # rewritten under its own id
    assert send(gw, ["list@org.test", "ok4@dest.test"]) == 250     # list's members split off (owner-list)
    assert send(gw, ["spam@dest.test"], b"Subject: offer\r\n\r\nbuy " + GTUBE + b"\r\n") == 250  # quarantined
    assert send(gw, ["bad@dest.test", "ok3@dest.test"]) == 250     # partial delivery, then a bounce
    assert send(gw, ["slow@dest.test"]) == 250                     # deferred, delivered after the restart
    ev = (lambda e: r'"event":"%s"' % e) if fmt == "json" else (lambda e: r"event=%s " % e)
    gw.wait_log(ev("deferred_message"), timeout=20 * SLOW)
    gw.wait_log(ev("quarantined"), timeout=20 * SLOW)
    gw.stop()
    sink.restart("--reject", "bad@")
    gw.start()
    gw.flush()
    assert wait_until(lambda: gw.queue_files() == 0, 30 * SLOW), gw.log()[-3000:]
    gw.stop()
    return parse_log(gw.log(), fmt)


def check_lifecycle(events):
    queued, removed = [], {}
    for e in events:
        assert "event" in e, e
        if e["event"] not in PROCESS_EVENTS:
            assert "session" in e or "queue" in e, "no session= or queue=: %r" % e
        if e["event"] == "queued" or e["event"] == "split":
            queued.append(str(e["queue"]))
        if e["event"] == "removed":
            removed.setdefault(str(e["queue"]), []).append(e)
    assert len(queued) == len(set(queued)), queued
    for q in queued:
        assert len(removed.get(q, [])) == 1, "queue=%s: %d final lines" % (q, len(removed.get(q, [])))
    assert set(removed) <= set(queued), set(removed) - set(queued)
    disp = sorted(r[0]["disposition"] for r in removed.values())
    # delivered: ok1, ok2, team, ok4 (the list's parent), the split, the bounce, slow; bounced: ok3's
    # message (partial delivery); quarantined: the GTUBE original
    assert disp.count("quarantined") == 1 and disp.count("bounced") == 1, \
        "\n".join(repr(e) for e in events if e["event"] in ("removed", "split", "expanded", "queued", "received"))
    assert disp.count("delivered") == 7, disp
    kinds = {e["event"] for e in events}
    for ev in ("connect", "helo", "reject_mail", "reject_rcpt", "received", "queued", "scanned", "smtp_sent",
               "delivered", "deferred", "failed", "notification_queued", "split", "quarantined", "removed"):
        assert ev in kinds, ev


def test_log_full_run_text_and_json(mkgw, mksink, workdir):
    text = full_run(mkgw, mksink, workdir, "text")
    check_lifecycle(text)
    js = full_run(mkgw, mksink, workdir, "json")
    check_lifecycle(js)
    # the same keys per event in both formats (JSON adds ts, level, program, pid)
    keys_t, keys_j = {}, {}
    for e in text:
        keys_t.setdefault(e["event"], set()).update(e)
    for e in js:
        keys_j.setdefault(e["event"], set()).update(set(e) - {"ts", "level", "program", "pid"})
    for ev in ("connect", "helo", "received", "queued", "scanned", "delivered", "removed", "reject_rcpt"):
        assert keys_t[ev] == keys_j[ev], (ev, keys_t[ev], keys_j[ev])
    # numbers are numbers, ids that are not decimal stay strings
    sc = [e for e in js if e["event"] == "connect"][0]
    assert isinstance(sc["session"], int)
    rm = [e for e in js if e["event"] == "removed" and e["disposition"] == "delivered"][0]
    assert isinstance(rm["queue"], str) and isinstance(rm["delivered"], int)


def test_log_hostile_values_parse_back(mkgw, mksink):
    sink = mksink()
    gw = mkgw(sink)
    s = smtplib.SMTP("127.0.0.1", gw.port, timeout=30 * SLOW)
    s.ehlo('evil"name\\x')
    s.mail("sender@client.test")
    code, _ = s.rcpt('"a b\\"c"@dest.test')
    s.quit()
    gw.wait_log(r"event=helo")
    gw.stop()
    ev = parse_log(gw.log(), "text")
    helo = [e for e in ev if e["event"] == "helo"][0]
    assert helo["name"] == 'evil"name\\x', helo


# ---- metrics ----

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_metrics(text):
    """Strict Prometheus text 0.0.4: HELP and TYPE once each before the family's samples, valid names and
    labels, no duplicate series, histogram series only _bucket/_sum/_count. {(name, labels): value}"""
    types, seen, samples = {}, set(), {}
    current = None
    assert text.endswith("\n")
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert NAME.match(name) and name not in seen, line
            seen.add(name)
            current = name
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert name == current and name not in types and typ in ("counter", "gauge", "histogram"), line
            types[name] = typ
            continue
        assert not line.startswith("#") and line, line
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        assert m, line
        name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
        fam = current
        assert fam in types, line
        if types[fam] == "histogram":
            assert name in (fam + "_bucket", fam + "_sum", fam + "_count"), line
        else:
            assert name == fam, line
        pairs = []
        rest = labels
        while rest:
            lm = LABEL.match(rest)
            assert lm, line
            pairs.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
            if rest:
                assert rest[0] == ",", line
                rest = rest[1:]
        assert len({k for k, _ in pairs}) == len(pairs), line
        key = (name, tuple(sorted(pairs)))
        assert key not in samples, "duplicate series " + line
        samples[key] = value
    return types, samples


def get(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def fetch(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def test_metrics_after_a_known_run(mkgw, mksink, workdir):
    port = free_port()
    sink = mksink("--reject", "bad@")
    gw = mkgw(sink, http_listen="127.0.0.1:%d" % port, **maps(workdir))
    types, m = parse_metrics(fetch(port))
    assert get(m, "mxgate_messages_accepted_total") == 0
    conn0 = get(m, "mxgate_smtp_connections_total", outcome="accepted")  # conftest's readiness probe
    assert send(gw, ["ok1@dest.test"]) == 250
    assert send(gw, ["ok2@dest.test", "nobody@org.test"]) == 250
    assert send(gw, ["spam@dest.test"], b"Subject: offer\r\n\r\nbuy " + GTUBE + b"\r\n") == 250
    assert send(gw, ["bad@dest.test"]) == 250
    assert wait_until(lambda: gw.queue_files() == 0, 30 * SLOW), gw.log()[-3000:]
    gw.wait_log(r"event=removed disposition=bounced")
    log = gw.log()
    qdir = os.path.join(gw.conf["queue_directory"], "quarantine")

    def settled():
        _, s = parse_metrics(fetch(port))
        return get(s, "mxgate_queue_messages", state="quarantine") == len(os.listdir(qdir))
    assert wait_until(settled, 10)  # hold/ and quarantine/ counts are cached for 5 s
    types, m = parse_metrics(fetch(port))
    assert get(m, "mxgate_smtp_connections_total", outcome="accepted") - conn0 == 4
    assert get(m, "mxgate_messages_accepted_total") == 4
    assert get(m, "mxgate_smtp_refused_total", stage="rcpt", reason="addressing", type="permanent") == 1
    assert get(m, "mxgate_messages_scanned_total", verdict="high-spam") + \
        get(m, "mxgate_messages_scanned_total", verdict="spam") == 1
    scanned = sum(v for (n, _), v in m.items() if n == "mxgate_messages_scanned_total")
    assert scanned == log.count("event=scanned ")
    assert get(m, "mxgate_deliveries_total", outcome="sent") == len(re.findall(r"event=delivered ", log))
    assert get(m, "mxgate_deliveries_total", outcome="failed") == len(re.findall(r"event=failed ", log)) == 1
    for st in ("input", "output", "deferred", "hold", "quarantine", "corrupt"):
        p = os.path.join(gw.conf["queue_directory"], st)
        assert get(m, "mxgate_queue_messages", state=st) == (len(os.listdir(p)) if os.path.isdir(p) else 0), st
    assert get(m, "mxgate_queue_oldest_message_age_seconds") == 0
    # histograms: _count is the +Inf bucket and equals its counter; buckets never decrease
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        series = {}
        for (n, labels), v in m.items():
            if n == fam + "_bucket":
                le = dict(labels)["le"]
                rest = tuple(p for p in labels if p[0] != "le")
                series.setdefault(rest, []).append((float(le), v))
        for rest, buckets in series.items():
            vals = [v for _, v in sorted(buckets)]
            assert vals == sorted(vals), (fam, rest)
            assert m[(fam + "_count", rest)] == vals[-1], (fam, rest)
    assert get(m, "mxgate_smtp_accept_latency_seconds_count") == 4
    assert get(m, "mxgate_delivery_delay_seconds_count") == get(m, "mxgate_deliveries_total", outcome="sent")
    assert get(m, "mxgate_scan_duration_seconds_count", stage="total") == scanned
