#!/usr/bin/python3
"""sink.py - a small SMTP server that stores what it receives (test peer and make-run demo).

Every accepted message becomes two files in --dir: NNNNNN.eml (the content exactly as
received, dot-stuffing undone) and NNNNNN.json (envelope: mail_from, rcpts, parameters,
peer, tls). With --index-only just one line per message is appended to index.log
(message-id and envelope), which is enough for counting at high rates.

Behaviour switches (all optional):
  --reject SUBSTR      RCPT whose address contains SUBSTR gets 550 5.1.1
  --tempfail SUBSTR    RCPT whose address contains SUBSTR gets 451 4.2.0
  --data-reply "CODE TEXT"   answer to the final dot (default 250 2.0.0 Ok)
  --greeting "CODE TEXT"     the greeting (default 220 ... ESMTP sink)
  --no-dsn / --no-pipelining / --no-8bitmime / --no-smtputf8   hide an extension
  --tls CERT KEY       offer STARTTLS
  --name NAME          host name in greeting/EHLO (default sink.test)
  --lmtp               speak LMTP (RFC 2033): LHLO only, and after DATA one reply per recipient
  --lmtp-reject-after-data ADDR   (LMTP) that recipient gets 550 5.1.1 after DATA; the others 250
  --delay SECS         wait this long before answering the final dot (a slow next hop);
  --slow SUBSTR        ... only for messages with a recipient containing SUBSTR
Sessions are counted: sessions.json holds {"connections", "max_concurrent"}, and each
message's .json has "concurrent" (sessions open when it was stored).
Listens until killed; every connection is handled in its own thread. Loopback only, or a unix
socket with --listen unix:/path.
"""
import argparse
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

LOCK = threading.Lock()
COUNTER = [0]
SESSIONS = {"connections": 0, "current": 0, "max_concurrent": 0}


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1:2526")
    p.add_argument("--dir", required=True)
    p.add_argument("--index-only", action="store_true")
    p.add_argument("--reject", action="append", default=[])
    p.add_argument("--tempfail", action="append", default=[])
    p.add_argument("--data-reply", default="250 2.0.0 Ok")
    p.add_argument("--greeting", default=None)
    p.add_argument("--name", default="sink.test")
    p.add_argument("--no-dsn", action="store_true")
    p.add_argument("--no-pipelining", action="store_true")
    p.add_argument("--no-8bitmime", action="store_true")
    p.add_argument("--no-smtputf8", action="store_true")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--lmtp", action="store_true")
    p.add_argument("--lmtp-reject-after-data", action="append", default=[])
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--slow", action="append", default=[])
    return p.parse_args()


ARGS = None


class Conn:
    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.rfile = sock.makefile("rb")
        self.tls = False

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self):
        line = self.rfile.readline(65536)
        return line


def store(mail_from, rcpts, params, data, conn):
    with LOCK:
        COUNTER[0] += 1
        n = COUNTER[0]
    if ARGS.index_only:
        mid = b""
        for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
            if line.lower().startswith(b"message-id:") or line.lower().startswith(b"x-seq:"):
                mid += line.split(b":", 1)[1].strip() + b" "
        rec = "%d %s %s %s\n" % (n, mid.decode("latin-1").strip() or "-", mail_from or "<>", ",".join(rcpts))
        with LOCK:
            with open(os.path.join(ARGS.dir, "index.log"), "a") as f:
                f.write(rec)
        return n
    base = os.path.join(ARGS.dir, "%06d" % n)
    with open(base + ".eml.tmp", "wb") as f:
        f.write(data)
    with open(base + ".json", "w") as f:
        json.dump({"mail_from": mail_from, "rcpts": rcpts, "params": params, "peer": conn.peer,
                   "tls": conn.tls, "size": len(data), "concurrent": SESSIONS["current"]}, f)
    os.rename(base + ".eml.tmp", base + ".eml")
    return n


def handle(conn):
    greeting = ARGS.greeting or ("220 %s %s sink" % (ARGS.name, "LMTP" if ARGS.lmtp else "ESMTP"))
    conn.send(greeting)
    if not greeting.startswith("2"):
        return
    mail_from, rcpts, params = None, [], {}
    while True:
        raw = conn.readline()
        if not raw:
            return
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        verb = line.split(" ", 1)[0].upper()
        if ARGS.lmtp and verb in ("EHLO", "HELO"):
            conn.send("500 5.5.1 this is LMTP: say LHLO")
        elif verb in (("LHLO",) if ARGS.lmtp else ("EHLO", "HELO")):
            mail_from, rcpts, params = None, [], {}
            if verb == "HELO":
                conn.send("250 %s" % ARGS.name)
                continue
            ext = ["SIZE 104857600"]
            if not ARGS.no_pipelining:
                ext.append("PIPELINING")
            if not ARGS.no_8bitmime:
                ext.append("8BITMIME")
            if not ARGS.no_dsn:
                ext.append("DSN")
            if not ARGS.no_smtputf8:
                ext.append("SMTPUTF8")
            if ARGS.tls and not conn.tls:
                ext.append("STARTTLS")
            lines = [ARGS.name] + ext
            for i, e in enumerate(lines):
                conn.send(("250 " if i == len(lines) - 1 else "250-") + e)
        elif verb == "STARTTLS" and ARGS.tls and not conn.tls:
            conn.send("220 2.0.0 go ahead")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(ARGS.tls[0], ARGS.tls[1])
            conn.sock = ctx.wrap_socket(conn.sock, server_side=True)
            conn.rfile = conn.sock.makefile("rb")
            conn.tls = True
        elif verb == "MAIL":
            arg = line[10:] if line[:10].upper() == "MAIL FROM:" else ""
            addr, _, rest = arg.partition(">")
            mail_from = addr.lstrip(" <")
            params = {"mail": rest.strip()}
            rcpts = []
            conn.send("250 2.1.0 Ok")
        elif verb == "RCPT":
            arg = line[8:] if line[:8].upper() == "RCPT TO:" else ""
            addr, _, rest = arg.partition(">")
            addr = addr.lstrip(" <")
            if mail_from is None:
                conn.send("503 5.5.1 need MAIL")
            elif any(s in addr for s in ARGS.reject):
                conn.send("550 5.1.1 <%s>: Recipient address rejected: User unknown" % addr)
            elif any(s in addr for s in ARGS.tempfail):
                conn.send("451 4.2.0 <%s>: Recipient address temporarily unavailable" % addr)
            else:
                rcpts.append(addr)
                params.setdefault("rcpt", []).append(rest.strip())
                conn.send("250 2.1.5 Ok")
        elif verb == "DATA":
            if mail_from is None or not rcpts:
                conn.send("554 5.5.1 no valid recipients")
                continue
            conn.send("354 go ahead")
            chunks = []
            while True:
                d = conn.readline()
                if not d:
                    return
                if d == b".\r\n":
                    break
                if d.startswith(b"."):
                    d = d[1:]
                chunks.append(d)
            data = b"".join(chunks)
            if ARGS.delay and (not ARGS.slow or any(s in r for s in ARGS.slow for r in rcpts)):
                time.sleep(ARGS.delay)
            code = ARGS.data_reply
            if ARGS.lmtp:
                lmtp_replies(conn, mail_from, rcpts, params, data)
            elif code.startswith("2"):
                n = store(mail_from, rcpts, params, data, conn)
                conn.send("%s (id %d)" % (code, n))
            else:
                conn.send(code)
            mail_from, rcpts, params = None, [], {}
        elif verb == "RSET":
            mail_from, rcpts, params = None, [], {}
            conn.send("250 2.0.0 Ok")
        elif verb == "NOOP":
            conn.send("250 2.0.0 Ok")
        elif verb == "QUIT":
            conn.send("221 2.0.0 Bye")
            return
        else:
            conn.send("502 5.5.2 Error: command not recognized")


def lmtp_replies(conn, mail_from, rcpts, params, data):
    """RFC 2033 4.2: one reply per accepted recipient, in RCPT order; the message is stored once
    for those that got a 250."""
    ok = [r for r in rcpts if r not in ARGS.lmtp_reject_after_data]
    n = store(mail_from, ok, params, data, conn) if ok else 0
    for r in rcpts:
        if r in ok:
            conn.send("250 2.0.0 <%s> delivered (id %d)" % (r, n))
        else:
            conn.send("550 5.1.1 <%s>: mailbox unavailable" % r)


def count_session(delta):
    with LOCK:
        SESSIONS["current"] += delta
        if delta > 0:
            SESSIONS["connections"] += 1
        SESSIONS["max_concurrent"] = max(SESSIONS["max_concurrent"], SESSIONS["current"])
        with open(os.path.join(ARGS.dir, "sessions.json.tmp"), "w") as f:
            json.dump(SESSIONS, f)
        os.rename(os.path.join(ARGS.dir, "sessions.json.tmp"), os.path.join(ARGS.dir, "sessions.json"))


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        addr = self.client_address
        c = Conn(self.request, "%s:%s" % addr[:2] if isinstance(addr, tuple) else "unix")
        count_session(+1)
        try:
            handle(c)
        except (OSError, ssl.SSLError):
            pass
        finally:
            count_session(-1)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256


class Server6(Server):
    address_family = socket.AF_INET6


class ServerUnix(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    global ARGS
    ARGS = parse_args()
    os.makedirs(ARGS.dir, exist_ok=True)
    # a restarted sink continues the numbering of the files already there
    nums = [int(f[:6]) for f in os.listdir(ARGS.dir) if f[:6].isdigit()]
    if os.path.exists(os.path.join(ARGS.dir, "index.log")):
        with open(os.path.join(ARGS.dir, "index.log")) as f:
            nums += [int(l.split(" ", 1)[0]) for l in f if l.split(" ", 1)[0].isdigit()]
    COUNTER[0] = max(nums) if nums else 0
    if ARGS.listen.startswith("unix:"):
        path = ARGS.listen[5:]
        if os.path.exists(path):
            os.unlink(path)
        srv = ServerUnix(path, Handler)
    else:
        host, _, port = ARGS.listen.rpartition(":")
        host = host.strip("[]")
        if not (host.startswith("127.") or host == "::1" or host == "localhost"):
            sys.exit("sink.py: loopback addresses only")
        srv = (Server6 if ":" in host else Server)((host, int(port)), Handler)
    print("sink listening on %s, storing in %s" % (ARGS.listen, ARGS.dir), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
