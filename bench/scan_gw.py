#!/usr/bin/python3
"""bench/scan_gw.py - the corpus through the whole gateway pipeline (SMTP -> input queue ->
scan -> output queue -> delivery to smtp-sink), per scanner configuration.

    bench/scan_gw.py [--configs none,builtin,sa,spamd,rspamd,clamd] [--clients 4] [--dir SCANNERS_DIR]

The daemon configurations (spamd, rspamd, clamd) need the scanners started by
../shared/bench/scanners-up.sh (pass its directory with --dir, or its KEY=VALUE lines in the
environment: SPAMD_ADDR, RSPAMD_ADDR, CLAMD_SOCK). Each configuration: a fresh mxgate
(build/mxgate, scan_workers = 2, fsync on as always) relaying to Postfix's smtp-sink; the
corpus (../shared/corpus/MANIFEST.tsv, mbox From_ lines dropped, LF -> CRLF, bare-CR files
skipped) is sent by --clients smtplib connections; the clock stops when the queue is empty.
Prints messages/s and the gateway's CPU-seconds per 1,000 messages. Loopback only.
"""
import argparse
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
BIN = os.environ.get("MXGATE_BIN", os.path.join(ROOT, "build", "mxgate"))
DB = os.path.join(ROOT, "tests", "data", "clamav")
BARE_LF = re.compile(rb"(?<!\r)\n")
BARE_CR = re.compile(rb"\r(?!\n)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def corpus():
    out = []
    with open(os.path.join(CORPUS, "MANIFEST.tsv"), "rb") as f:
        rows = [l.rstrip(b"\n").decode().split("\t") for l in f][1:]
    for row in rows:
        p = row[0]
        if p.startswith("docker-mailserver/nc_raw/") or re.search(r"(README|LICEN[CS]E|COPYING)", p):
            continue
        with open(os.path.join(CORPUS, p), "rb") as f:
            d = f.read()
        if d.startswith(b"From "):
            d = d[d.find(b"\n") + 1:] if b"\n" in d else b""
        d = BARE_LF.sub(b"\r\n", d)
        if BARE_CR.search(d):
            continue
        out.append(d)
    return out


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_all(port, msgs, clients):
    errors = []

    def worker(k):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as c:
                c.ehlo("bench.client.test")
                for i in range(k, len(msgs), clients):
                    opts = ["BODY=8BITMIME"] if any(b >= 0x80 for b in msgs[i][:200000]) else []
                    try:
                        c.sendmail("bench@client.test", ["r%d@dest.test" % i], msgs[i], mail_options=opts)
                    except smtplib.SMTPDataError as e:
                        errors.append((i, e.smtp_code))
        except Exception as e:  # noqa: BLE001
            errors.append((k, repr(e)))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(1800)
    return errors


def run(name, conf, msgs, clients):
    w = tempfile.mkdtemp(prefix="mxgate-scangw-")
    os.chmod(w, 0o755)
    sink_port, port = free_port(), free_port()
    sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "127.0.0.1:%d" % sink_port, "256"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    spool = os.path.join(w, "spool")
    cf = os.path.join(w, "main.cf")
    base = {"myhostname": "gw.bench", "smtpd_listen": "127.0.0.1:%d" % port, "queue_directory": spool,
            "relayhost": "[127.0.0.1]:%d" % sink_port, "mynetworks": "127.0.0.0/8", "smtpd_data_line_limit": "0",
            "message_size_limit": "0", "scan_workers": "2", "log_level": "info", "dns_servers": "127.0.0.1:9",
            "http_listen": ""}
    base.update(conf)
    with open(cf, "w") as f:
        f.writelines("%s = %s\n" % kv for kv in base.items())
    log = open(os.path.join(w, "mxgate.log"), "wb")
    gw = subprocess.Popen([BIN, "serve", "-c", cf], stdout=log, stderr=log)
    try:
        if not wait_port(port) or not wait_port(sink_port):
            log.flush()
            print("%-28s did not start:\n%s" % (name, open(os.path.join(w, "mxgate.log"), errors="replace").read()[-1500:]))
            return
        c0, t0 = cpu_s(gw.pid), time.time()
        errors = send_all(port, msgs, clients)
        t_acc = time.time() - t0

        def queued():
            n = 0
            for sub in ("input", "output", "deferred"):
                p = os.path.join(spool, sub)
                n += len(os.listdir(p)) if os.path.isdir(p) else 0
            return n
        end = time.time() + 1800
        while queued() and time.time() < end:
            time.sleep(0.05)
        dt = time.time() - t0
        c1 = cpu_s(gw.pid)
        qdir = os.path.join(spool, "quarantine")
        q = len(os.listdir(qdir)) if os.path.isdir(qdir) else 0
        n = len(msgs) - len(errors)
        print("%-28s %6d %8.1f %10.1f %12.2f %6d %6d %6d" % (name, n, n / dt, n / t_acc, (c1 - c0) * 1000 / n,
                                                            q, len(errors), queued()))
        sys.stdout.flush()
    finally:
        gw.terminate()
        gw.wait(30)
        sink.terminate()
        sink.wait(10)
        log.close()
        shutil.rmtree(w, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", default="none,builtin,sa,spamd,rspamd,clamd")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--dir", default=os.environ.get("SCANNERS_DIR"))
    a = ap.parse_args()
    env = dict(os.environ)
    if a.dir and os.path.exists(os.path.join(a.dir, "scanners.env")):
        for l in open(os.path.join(a.dir, "scanners.env")):
            if "=" in l:
                k, v = l.strip().split("=", 1)
                env[k] = v.strip("'\"")
    confs = {
        "none": {"spam_scanner": "none", "virus_scanner": "none"},
        "builtin": {"spam_scanner": "builtin", "virus_scanner": "libclamav:" + DB},
        "sa": {"spam_scanner": "builtin", "spam_rules": "/usr/share/spamassassin /etc/spamassassin",
               "virus_scanner": "libclamav:" + DB},
        "spamd": {"spam_scanner": "spamd:%s" % env.get("SPAMD_ADDR", ""), "virus_scanner": "none"},
        "rspamd": {"spam_scanner": "rspamd:%s" % env.get("RSPAMD_ADDR", ""), "virus_scanner": "none"},
        "clamd": {"spam_scanner": "none", "virus_scanner": "clamd:unix:%s" % env.get("CLAMD_SOCK", "")},
    }
    msgs = corpus()
    print("# corpus: %d messages (%.1f MB); %d client connections; scan_workers = 2; %d cores" % (
        len(msgs), sum(map(len, msgs)) / 1e6, a.clients, os.cpu_count()))
    print("%-28s %6s %8s %10s %12s %6s %6s %6s" % ("configuration", "msgs", "msgs/s", "accept/s", "CPU-s/1k",
                                                    "quar", "refused", "left"))
    for name in a.configs.split(","):
        if name in ("spamd", "rspamd", "clamd") and not env.get({"spamd": "SPAMD_ADDR", "rspamd": "RSPAMD_ADDR",
                                                                  "clamd": "CLAMD_SOCK"}[name]):
            print("%-28s skipped (no scanner address: --dir SCANNERS_DIR)" % name)
            continue
        run(name, confs[name], msgs, a.clients)


if __name__ == "__main__":
    main()
