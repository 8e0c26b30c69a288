"""DNS blocklists end to end: the gateway looks SMTP clients up in the test dnsmasq's zones
(conftest.Dns: bl.test, w.test, allow.test, err.test, slow.test) and refuses RCPT with the
zone's TXT reason when the weight reaches dnsbl_reject_threshold.

Clients bind to 127.0.0.x source addresses (loopback is private: dnsbl_check_private = yes);
mynetworks is 127.0.0.1/32 so they count as the internet, sending to relay_domains.
"""
import smtplib
import time

from conftest import SLOW

RCPT = "user@relay.test"


def dnsbl_gw(mkgw, mksink, sites, **conf):
    sink = mksink()
    opts = dict(dnsbl_sites=sites, dnsbl_reject_threshold=2, dnsbl_check_private="yes",
                mynetworks="127.0.0.1/32", relay_domains="relay.test", dnsbl_timeout="2s")
    opts.update(conf)
    return mkgw(sink=sink, **opts), sink


def rcpt_from(gw, source, rcpt=RCPT):
    """(code, text, seconds) of RCPT TO from a client bound to source."""
    s = smtplib.SMTP("127.0.0.1", gw.port, local_hostname="client.test", timeout=30 * SLOW,
                     source_address=(source, 0))
    try:
        assert s.ehlo()[0] == 250
        assert s.mail("sender@mx.test")[0] == 250
        t = time.time()
        code, text = s.rcpt(rcpt)
        return code, text.decode(), time.time() - t
    finally:
        s.quit()


def test_listed_client_refused_with_txt_reason(mkgw, mksink):
    gw, _ = dnsbl_gw(mkgw, mksink, "bl.test*2, w.test=127.0.0.[3..4]*1, allow.test*-2")
    code, text, _ = rcpt_from(gw, "127.0.0.9")
    assert code == 554, text
    assert text == ("5.7.1 Service unavailable; client [127.0.0.9] blocked using bl.test; "
                    "Listed by bl.test: see http://bl.test/q?ip=127.0.0.9")
    gw.wait_log(r"event=dnsbl client=127\.0\.0\.9 weight=2 hits=bl\.test listed=yes")
    # a second RCPT in the same session gets the same answer, the session logs once
    s = smtplib.SMTP("127.0.0.1", gw.port, local_hostname="client.test", timeout=30 * SLOW,
                     source_address=("127.0.0.9", 0))
    s.ehlo()
    s.mail("sender@mx.test")
    assert s.rcpt(RCPT)[0] == 554
    assert s.rcpt("other@relay.test")[0] == 554
    s.quit()
    gw.wait_log(r"event=dnsbl client=127\.0\.0\.9 ", count=2)
    time.sleep(0.2)
    assert gw.log().count("event=dnsbl client=127.0.0.9 ") == 2


def test_below_threshold_and_allow_list_accepted(mkgw, mksink):
    gw, sink = dnsbl_gw(mkgw, mksink, "bl.test*2, w.test=127.0.0.[3..4]*1, allow.test*-2")
    # w.test answers two records that match one pattern: weight 1, counted once
    code, text, _ = rcpt_from(gw, "127.0.0.12")
    assert code == 250, text
    gw.wait_log(r"event=dnsbl client=127\.0\.0\.12 weight=1 hits=w\.test listed=yes")
    # listed by bl.test (+2) and by the allow list (-2)
    code, text, _ = rcpt_from(gw, "127.0.0.13")
    assert code == 250, text
    gw.wait_log(r"event=dnsbl client=127\.0\.0\.13 weight=0 hits=bl\.test,allow\.test listed=no")
    # not listed anywhere
    code, text, _ = rcpt_from(gw, "127.0.0.14")
    assert code == 250, text
    gw.wait_log(r"event=dnsbl client=127\.0\.0\.14 weight=0 hits=- listed=no")


def test_error_code_zone_disabled(mkgw, mksink, dns):
    gw, _ = dnsbl_gw(mkgw, mksink, "err.test*5 bl.test*2")
    gw.wait_log(r"event=dnsbl_zone_disabled zone=err\.test reason=\"answered 127\.255\.255\.254")
    gw.wait_log(r"event=dnsbl_zone_ok zone=bl\.test")
    # err.test answers 127.255.255.254 for every client: never a listing, never queried again
    before = dns.queries("14.0.0.127.err.test")
    code, text, _ = rcpt_from(gw, "127.0.0.14")
    assert code == 250, text
    gw.wait_log(r"event=dnsbl client=127\.0\.0\.14 weight=0 hits=- listed=no")
    assert dns.queries("14.0.0.127.err.test") == before


def test_slow_zone_bounded_by_timeout(mkgw, mksink):
    gw, _ = dnsbl_gw(mkgw, mksink, "slow.test*5 bl.test*2", dnsbl_timeout="2s", dns_timeout="20s")
    code, text, secs = rcpt_from(gw, "127.0.0.9")
    assert code == 554 and "blocked using bl.test" in text, text
    assert secs < 2 + 1.5 * SLOW, secs
    gw.wait_log(r"event=dnsbl_timeout zone=slow\.test client=127\.0\.0\.9")
    gw.wait_log(r"event=dnsbl client=127\.0\.0\.9 weight=2 hits=bl\.test listed=yes incomplete=yes")
    code, text, secs = rcpt_from(gw, "127.0.0.14")
    assert code == 250, text
    assert secs < 2 + 1.5 * SLOW, secs
    # a zone that only times out is not disabled
    assert "zone_disabled zone=slow.test" not in gw.log()


def test_answers_cached_across_sessions(mkgw, mksink, dns):
    gw, _ = dnsbl_gw(mkgw, mksink, "bl.test*2")
    gw.wait_log(r"event=dnsbl_zone_ok zone=bl\.test")
    a0, t0 = dns.queries("10.0.0.127.bl.test"), dns.queries("10.0.0.127.bl.test", "TXT")
    for _ in range(3):
        code, text, _ = rcpt_from(gw, "127.0.0.10")
        assert code == 554 and "q?ip=127.0.0.10" in text, text
    gw.wait_log(r"event=dnsbl client=127\.0\.0\.10 ", count=3)
    assert dns.queries("10.0.0.127.bl.test") - a0 == 1
    assert dns.queries("10.0.0.127.bl.test", "TXT") - t0 == 1


def test_mynetworks_and_private_skipped(mkgw, mksink):
    gw, _ = dnsbl_gw(mkgw, mksink, "bl.test*2", mynetworks="127.0.0.0/28")
    code, text, _ = rcpt_from(gw, "127.0.0.9")  # listed, but one of ours
    assert code == 250, text
    gw2, _ = dnsbl_gw(mkgw, mksink, "bl.test*2", dnsbl_check_private="no")
    code, text, _ = rcpt_from(gw2, "127.0.0.9")  # listed, but private: never looked up
    assert code == 250, text
    time.sleep(0.3)
    assert "event=dnsbl client=" not in gw.log() + gw2.log()


def test_bad_sites_refused_at_startup(mkgw, mksink):
    sink = mksink()
    gw = mkgw(sink=sink, start=False, dnsbl_sites="bl.test=127.0.0.[9..2]")
    gw.start(expect_ok=False)
    assert gw.proc.wait(10 * SLOW) == 1
    gw.proc = None
    assert "dnsbl_sites item 'bl.test=127.0.0.[9..2]': a filter range must not run backwards" in gw.log()
