"""Routing system tests: sendmail's map files (local-host-names, aliases, mailertable) and relay
control, end to end with real peers on loopback (sink.py next hops, dnsmasq for MX), plus
`mxgate route` and SIGHUP reloads, and three gateways side by side.

The site (the seed's): org.test is the organisation (local), students.test goes to the host
glass (`students.test smtp:[glass]`), `sysadm: sysadm@forth` delivers to the unix server forth,
and everything else goes by MX (mx.test, fallback.test in the test DNS). Clients on 127.0.0.1
are the organisation's servers (mynetworks = 127.0.0.1/32); clients bound to 127.0.0.2 are
the internet.
"""
import json
import os
import re
import signal
import smtplib
import subprocess
import threading

import pytest

from conftest import BIN, SLOW, wait_until

SENDER = "sender@mx.test"
OUTSIDE = "127.0.0.2"


def mkmsg(subject, msgid=None):
    msgid = msgid or re.sub(r"\W", "-", subject)
    return ("From: <%s>\r\nTo: someone\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\n%s\r\n"
            % (SENDER, subject, msgid, subject)).encode()


def connect(port, host="127.0.0.1", source=None):
    s = smtplib.SMTP(host, port, local_hostname="client.test", timeout=30 * SLOW,
                     source_address=(source, 0) if source else None)
    assert s.ehlo()[0] == 250
    return s


def send(port, rcpts, subject, sender=SENDER, host="127.0.0.1", source=None):
    """Submit one message; returns the RCPT replies {rcpt: (code, text)} and the DATA reply (or None
    when no recipient was accepted)."""
    s = connect(port, host, source)
    try:
        assert s.mail(sender)[0] == 250
        replies = {r: s.rcpt(r) for r in rcpts}
        data = s.data(mkmsg(subject)) if any(c == 250 for c, _ in replies.values()) else None
        return replies, data
    finally:
        s.quit()


def rcpts_at(sink):
    """[(mail_from, [rcpts], [ORCPT params])] of what a sink received (bounces included)."""
    out = []
    for j, _ in sink.messages():
        out.append((j["mail_from"], sorted(j["rcpts"]), sorted(j["params"].get("rcpt", []))))
    return sorted(out)


class Site:
    """The sinks, the map files and a gateway configured like the seed's site."""

    def __init__(self, mkgw, mksink, workdir, host="127.0.0.1", name=None, start=True, **extra):
        self.dir = os.path.join(workdir, "maps")
        os.makedirs(self.dir, exist_ok=True)
        self.glass = mksink(sub="glass")      # students.test's host
        self.forth = mksink(sub="forth")      # the unix server forth.org.test
        self.mbox = mksink(sub="mbox")        # the mailbox server for local users (local_transport)
        self.mx = mksink("--reject", "refuse@mx.test", sub="mx")  # every MX in the test DNS
        self.files = {
            "local-host-names": "# the organisation\norg.test\n",
            "aliases": ("postmaster: root\n"
                        "root: sysadm\n"
                        "sysadm: sysadm@forth\n"
                        "staff: alice,\n  bob@mx.test\n"
                        "list: :include:%s/list.inc\n"
                        "owner-list: listadmin\n"
                        "ghost: nobody\n"
                        "prog: \"|/usr/bin/procmail\", alice\n" % self.dir),
            "list.inc": "# members\ns1@students.test, m1@mx.test\n",
            "mailertable": ("students.test smtp:[127.0.0.1]:%d\n"
                            "forth.org.test smtp:[127.0.0.1]:%d\n"
                            "bad.test error:5.7.1:550 bad.test takes no mail\n"
                            "later.test error:4.4.1:451 try later\n" % (self.glass.port, self.forth.port)),
            "users": "alice\nlistadmin\n",
        }
        for k, v in self.files.items():
            self.write(k, v)
        conf = dict(relayhost="", smtp_tcp_port=self.mx.port, mynetworks="127.0.0.1/32",
                    local_host_names=self.path("local-host-names"), alias_maps=self.path("aliases"),
                    mailertable=self.path("mailertable"), relay_domains="students.test",
                    local_recipient_maps=self.path("users"),
                    local_transport="smtp:[127.0.0.1]:%d" % self.mbox.port, mydomain="org.test")
        conf.update(extra)
        self.gw = mkgw(start=start, host=host, name=name, **conf)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)

    def sinks(self):
        return [self.glass, self.forth, self.mbox, self.mx]

    def route(self, addr, *args):
        p = subprocess.run([BIN, "route", "-c", self.gw.cf, "--json", addr] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        return p.returncode, json.loads(p.stdout), p.stderr.decode()


@pytest.fixture
def site(mkgw, mksink, workdir):
    return Site(mkgw, mksink, workdir)


def wait_empty(gw):
    assert wait_until(lambda: gw.queue_files() == 0, 20 * SLOW), gw.mailq()


# --- the seed's routing ---------------------------------------------------------------------

def test_seed_routing_end_to_end(site):
    gw = site.gw
    # from the organisation's own server (mynetworks): local, mailertable and MX
    for rcpt, subject in [("s1@students.test", "to a student"), ("sysadm@org.test", "to sysadm"),
                          ("friend@mx.test", "outgoing by mx")]:
        replies, data = send(gw.port, [rcpt], subject)
        assert replies[rcpt][0] == 250 and data[0] == 250, (replies, data)
    # from the internet: the organisation's domains, students.test (relay_domains), not the rest
    replies, data = send(gw.port, ["s2@students.test", "SysAdm@ORG.test", "friend@mx.test"], "from outside",
                         source=OUTSIDE)
    assert replies["s2@students.test"][0] == 250
    assert replies["SysAdm@ORG.test"][0] == 250
    assert replies["friend@mx.test"][0] == 554 and b"Relay access denied" in replies["friend@mx.test"][1]
    assert data[0] == 250
    assert site.glass.wait_count(2) and site.forth.wait_count(2) and site.mx.wait_count(1)
    wait_empty(gw)
    assert rcpts_at(site.glass) == [(SENDER, ["s1@students.test"], ["ORCPT=rfc822;s1@students.test"]),
                                    (SENDER, ["s2@students.test"], ["ORCPT=rfc822;s2@students.test"])]
    # the alias target, with the original recipient as ORCPT (RFC 3461)
    assert rcpts_at(site.forth) == [(SENDER, ["sysadm@forth.org.test"], ["ORCPT=rfc822;SysAdm@ORG.test"]),
                                    (SENDER, ["sysadm@forth.org.test"], ["ORCPT=rfc822;sysadm@org.test"])]
    assert rcpts_at(site.mx) == [(SENDER, ["friend@mx.test"], ["ORCPT=rfc822;friend@mx.test"])]
    assert site.mbox.count() == 0
    gw.wait_log(r"event=expanded rcpt=<sysadm@org\.test> to=<sysadm@forth\.org\.test> "
                r"mailer=\"?smtp:\[127\.0\.0\.1\]:%d\"?" % site.forth.port)


def test_unknown_local_user_refused_at_rcpt(site):
    replies, data = send(site.gw.port, ["nosuch@org.test", "nobody@ORG.TEST"], "unknown", source=OUTSIDE)
    for r in ("nosuch@org.test", "nobody@ORG.TEST"):
        assert replies[r][0] == 550 and replies[r][1].startswith(b"5.1.1 "), replies
    assert data is None
    assert site.gw.queue_files() == 0


def test_mailertable_error_replies_at_rcpt(site):
    replies, data = send(site.gw.port, ["a@bad.test", "b@later.test", "s@students.test"], "errors")
    assert replies["a@bad.test"] == (550, b"5.7.1 bad.test takes no mail")
    assert replies["b@later.test"] == (451, b"4.4.1 try later")
    assert data[0] == 250
    assert site.glass.wait_count(1)
    wait_empty(site.gw)
    assert rcpts_at(site.glass) == [(SENDER, ["s@students.test"], ["ORCPT=rfc822;s@students.test"])]


def test_aliases_local_users_include_and_owner(site):
    gw = site.gw
    replies, data = send(gw.port, ["staff@org.test", "list@org.test", "prog@org.test"], "lists")
    assert all(c == 250 for c, _ in replies.values()) and data[0] == 250, (replies, data)
    # staff -> alice (a local user: the mailbox server) + bob@mx.test; prog -> alice (the
    # program is refused, alice is delivered once); list -> its members with owner-list as sender
    assert site.mbox.wait_count(1) and site.mx.wait_count(2) and site.glass.wait_count(1)
    wait_empty(gw)
    assert rcpts_at(site.mbox) == [(SENDER, ["alice@org.test"], ["ORCPT=rfc822;staff@org.test"])]
    assert rcpts_at(site.mx) == [("owner-list@org.test", ["m1@mx.test"], ["ORCPT=rfc822;list@org.test"]),
                                 (SENDER, ["bob@mx.test"], ["ORCPT=rfc822;staff@org.test"])]
    assert rcpts_at(site.glass) == [("owner-list@org.test", ["s1@students.test"], ["ORCPT=rfc822;list@org.test"])]
    gw.wait_log(r"event=alias_target_refused target=\"\"\|/usr/bin/procmail\"\"")
    gw.wait_log(r"event=split from=")


def test_bounce_comes_back_to_the_sender(site):
    gw = site.gw
    replies, data = send(gw.port, ["ghost@org.test", "refuse@mx.test"], "bounces")
    assert data[0] == 250
    # nobody@org.test (an alias target that is no user) and refuse@mx.test (5xx from the MX)
    # fail; one bounce to the sender, by MX, lists both
    assert site.mx.wait_count(1)
    wait_empty(gw)
    (j, eml), = site.mx.messages()
    assert j["mail_from"] == "" and j["rcpts"] == [SENDER]
    assert b"multipart/report" in eml and b"report-type=delivery-status" in eml
    assert b"Final-Recipient: rfc822; nobody@org.test" in eml
    assert b"Original-Recipient: rfc822; ghost@org.test" in eml
    assert b"Final-Recipient: rfc822; refuse@mx.test" in eml
    assert b"5.1.1" in eml


def test_fallback_to_second_mx(site):
    # mx1.fallback.test (127.0.0.5) refuses connections; mx2 takes the mail
    replies, data = send(site.gw.port, ["u@fallback.test"], "second mx")
    assert data[0] == 250
    assert site.mx.wait_count(1)
    wait_empty(site.gw)
    assert rcpts_at(site.mx) == [(SENDER, ["u@fallback.test"], ["ORCPT=rfc822;u@fallback.test"])]


def test_dns_failure_defers_never_bounces(site):
    # servfail.test's name server fails: a temporary DNS error keeps the mail queued
    replies, data = send(site.gw.port, ["u@servfail.test"], "dns failure")
    assert data[0] == 250
    site.gw.wait_log(r"event=deferred rcpt=<u@servfail\.test> attempt=1 delay=\S+ reply=\"4\d\d 4\.", timeout=30)
    assert "event=failed" not in site.gw.log()
    assert site.gw.queue_files("deferred") == 1
    assert all(k.count() == 0 for k in site.sinks())


# --- no open relay ---------------------------------------------------------------------------

HOSTILE = [
    "victim@elsewhere.test",                      # plain relaying
    "victim%elsewhere.test@students.test",        # percent hack through a relay domain
    "victim%elsewhere.test@org.test",             # percent hack through a local domain
    "victim%elsewhere.test@[127.0.0.1]",          # ... through our own address literal
    "elsewhere.test!victim@students.test",        # bang path
    "elsewhere.test!victim@org.test",
    "\"victim@elsewhere.test\"@students.test",    # quoted local part with @
    "\"victim@elsewhere.test\"@org.test",
    "@org.test:victim@elsewhere.test",            # source route: the mailbox is what counts
    "@students.test,@org.test:victim@elsewhere.test",
    "victim@elsewhere.test@org.test",             # two @
    "victim@[192.0.2.1]",                         # a foreign address literal
    "victim@x.students.test",                     # a subdomain of a relay domain
    "victim@students.test.elsewhere.test",
    "victim@org.test.",                           # trailing dot
]


def test_open_relay_matrix(site):
    gw = site.gw
    s = connect(gw.port, source=OUTSIDE)
    try:
        assert s.mail("spammer@elsewhere.test")[0] == 250
        for r in HOSTILE:
            code, text = s.docmd("RCPT TO:<%s>" % r)
            assert 500 <= code < 600, (r, code, text)
        code, _ = s.docmd("DATA")
        assert code == 554  # no valid recipients
    finally:
        s.quit()
    gw.wait_log(r"event=reject_rcpt client=127\.0\.0\.2 ", count=10)
    assert gw.queue_files() == 0
    assert all(k.count() == 0 for k in site.sinks())


# --- mxgate route ---------------------------------------------------------------------------

def test_route_cli(site):
    rc, j, _ = site.route("sysadm@org.test")
    assert rc == 0 and j["accepted"] and j["local"] and j["client_trusted"]
    (t,) = j["targets"]
    assert t["address"] == "sysadm@forth.org.test" and t["kind"] == "smtp"
    assert t["hops"] == [{"host": "127.0.0.1", "port": site.forth.port, "mx": False}]
    assert any("qualified as sysadm@forth.org.test" in line for line in j["trace"])
    rc, j, _ = site.route("friend@mx.test")
    assert rc == 0 and j["targets"][0]["hops"] == [{"host": "mx.test", "port": site.mx.port, "mx": True}]
    rc, j, _ = site.route("friend@mx.test", "--client", OUTSIDE)
    assert rc == 1 and j["reply"]["code"] == 554 and not j["client_trusted"]
    rc, j, _ = site.route("list@org.test")
    assert [(t["address"], t["sender"]) for t in j["targets"]] == [("s1@students.test", "owner-list@org.test"),
                                                                   ("m1@mx.test", "owner-list@org.test")]
    rc, j, _ = site.route("nosuch@org.test")
    assert rc == 1 and j["reply"] == {"code": 550, "enh": "5.1.1",
                                      "text": "<nosuch@org.test>: Recipient address rejected: User unknown"}
    rc, j, _ = site.route("x@bad.test")
    assert rc == 1 and j["reply"]["code"] == 550 and j["reply"]["text"] == "bad.test takes no mail"
    rc, j, _ = site.route("ghost@org.test")
    assert rc == 0 and j["targets"][0]["kind"] == "error" and j["targets"][0]["reply"]["code"] == 550
    # routing does not imply permission, unless relay_domains = $mailertable
    rc, j, _ = site.route("x@forth.org.test", "--client", OUTSIDE)
    assert rc == 1 and j["reply"]["code"] == 554
    rc, j, _ = site.route("x@forth.org.test", "--client", OUTSIDE, "-o", "relay_domains=$mailertable")
    assert rc == 0 and j["targets"][0]["hops"][0]["port"] == site.forth.port
    rc, j, _ = site.route("not an address")
    assert rc == 1 and j["reply"]["code"] == 501
    # the text form names the same things
    p = subprocess.run([BIN, "route", "-c", site.gw.cf, "staff@org.test"], stdout=subprocess.PIPE, timeout=30)
    out = p.stdout.decode()
    assert p.returncode == 0 and "alias staff" in out and "bob@mx.test" in out and "MX lookup" in out, out


def test_check_reports_map_errors(site):
    site.write("mailertable", "students.test smtp:[127.0.0.1]:%d\nbroken.test uucp:host\n" % site.glass.port)
    p = subprocess.run([BIN, "check", "-c", site.gw.cf], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 1
    assert "%s:2: unknown mailer" % site.path("mailertable") in p.stderr.decode(), p.stderr


# --- reload -----------------------------------------------------------------------------------

def test_sighup_reloads_maps_and_keeps_them_on_error(site):
    gw = site.gw
    assert send(gw.port, ["newbie@org.test"], "before")[0]["newbie@org.test"][0] == 550
    site.write("aliases", site.files["aliases"] + "newbie: s9@students.test\n")
    os.kill(gw.pid(), signal.SIGHUP)
    gw.wait_log(r"event=reloaded .*local_domains=1 aliases=9 mailertable=4")
    replies, data = send(gw.port, ["newbie@org.test"], "after")
    assert replies["newbie@org.test"][0] == 250 and data[0] == 250
    assert site.glass.wait_count(1)
    # a broken file: the error names file:line, the maps in force stay
    site.write("aliases", site.files["aliases"] + "newbie s9@students.test\n")
    os.kill(gw.pid(), signal.SIGHUP)
    gw.wait_log(r"event=reload_error error=\"%s:10: expected" % re.escape(site.path("aliases")))
    replies, data = send(gw.port, ["newbie@org.test"], "still")
    assert replies["newbie@org.test"][0] == 250
    assert site.glass.wait_count(2)
    wait_empty(gw)


# --- three gateways ---------------------------------------------------------------------------

def test_three_gateways_round_robin(mkgw, mksink, workdir):
    """Three instances on 127.0.0.1/2/3 sharing the sinks and map files, a client spreading
    mail across them as round-robin DNS would: every message is delivered once, each to the
    next hop a single gateway would have chosen."""
    first = Site(mkgw, mksink, workdir, name="gwa", mynetworks="127.0.0.0/8")
    gws = [first.gw]
    for i, host in enumerate(["127.0.0.2", "127.0.0.3"]):
        gws.append(mkgw(name="gw%s" % "bc"[i], host=host, **{k: v for k, v in first.gw.conf.items()
                                                            if k not in ("smtpd_listen", "queue_directory",
                                                                         "pid_file")}))
    rcpts = ["s%d@students.test", "sysadm@org.test", "u%d@mx.test", "staff@org.test"]
    n = 30
    errors = []

    def client(k):
        for i in range(k, n, 3):
            g = gws[i % 3]
            try:
                replies, data = send(g.port, [r % i if "%d" in r else r for r in rcpts], "rr-%d" % i, host=g.host)
                if data is None or data[0] != 250:
                    errors.append((i, replies, data))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((i, repr(e)))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for g in gws:
        wait_empty(g)
    # per sink: which message ids arrived, how often
    def ids(sink):
        out = []
        for _, eml in sink.messages():
            m = re.search(rb"Message-ID: <(rr-\d+)@", eml)
            out.append(m.group(1).decode())
        return sorted(out)
    every = sorted("rr-%d" % i for i in range(n))
    assert ids(first.glass) == every          # one student each
    assert ids(first.forth) == every          # sysadm (staff has no sysadm)
    assert ids(first.mbox) == every           # alice via staff
    assert ids(first.mx) == every             # u%d@mx.test and bob@mx.test (staff): one transaction
    for g in gws:
        assert len(re.findall(r"event=received ", g.log())) == n // 3, g.dir


def test_unreadable_alias_map_tempfails(mkgw, mksink, workdir):
    """An alias file that cannot be read: the gateway runs, local recipients get 451 (never 550,
    nothing bounces), mail for other domains flows; a reload that can read it fixes that."""
    site = Site(mkgw, mksink, workdir, alias_maps=os.path.join(workdir, "maps", "aliases.missing"))
    gw = site.gw
    gw.wait_log(r"event=maps_error error=\".*aliases\.missing: cannot read")
    replies, data = send(gw.port, ["sysadm@org.test", "s@students.test"], "tempfail")
    assert replies["sysadm@org.test"][0] == 451 and replies["sysadm@org.test"][1].startswith(b"4.3.0 ")
    assert replies["s@students.test"][0] == 250 and data[0] == 250
    p = subprocess.run([BIN, "check", "-c", gw.cf], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 1 and "aliases.missing: cannot read" in p.stderr.decode()
    # still unreadable: the reload keeps the maps in force
    os.kill(gw.pid(), signal.SIGHUP)
    gw.wait_log(r"event=reload_error error=\".*aliases\.missing: cannot read")
    site.write("aliases.missing", site.files["aliases"])
    os.kill(gw.pid(), signal.SIGHUP)
    gw.wait_log(r"event=reloaded ")
    replies, data = send(gw.port, ["sysadm@org.test"], "readable again")
    assert replies["sysadm@org.test"][0] == 250 and data[0] == 250
    assert site.forth.wait_count(1) and site.glass.wait_count(1)
    wait_empty(gw)
