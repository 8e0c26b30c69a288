/*
 * ctl_scan.c - "mxgate scan -c FILE MESSAGE [--client-ip IP] [--json]":
 * the whole pipeline on one message file, as the gateway would run it.
 *
 * The file may have LF or CRLF line ends (the queue stores CRLF; LF is
 * converted). With --client-ip the DNSBL zones are asked (through
 * dns_servers, no self-test) as if that client had sent it; without it
 * there is no DNSBL step. Prints the verdict, each scanner's findings, the
 * actions, the resulting Subject and header section, and per-stage
 * timings. Exit status: 0 a verdict, 1 a scanner failed (no verdict),
 * 2 usage, configuration or file errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "ctl/ctl_int.h"
#include "dns/dns.h"
#include "gw/gw_conf.h"
#include "net/net_addr.h"
#include "scan/scan.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "scan/mime/scan_msg.h"

int ctl_read_message(const char *file, struct buf *out)
{
	FILE *f = fopen(file, "rb");
	if (!f)
		return -1;
	char chunk[65536];
	size_t n;
	char prev = 0;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (chunk[i] == '\n' && prev != '\r')
				buf_putc(out, '\r');
			buf_putc(out, chunk[i]);
			prev = chunk[i];
		}
	}
	int e = ferror(f) ? EIO : 0;
	fclose(f);
	if (out->len && prev != '\n')
		buf_puts(out, "\r\n");
	if (!out->data)
		buf_puts(out, "");
	errno = e;
	return e ? -1 : 0;
}

struct dnsbl_wait {
	struct scan_report *r;
	struct event_base *base;
	int64_t t0;
};

static void on_dnsbl(void *arg, const struct scan_dnsbl_result *res)
{
	struct dnsbl_wait *w = arg;
	scan_report_set_dnsbl(w->r, res);
	w->r->ms_dnsbl = (double)(clock_mono_us() - w->t0) / 1000.0;
	event_base_loopbreak(w->base);
}

static int dnsbl_step(const struct conf *c, const char *ip, struct scan_report *r, char *err, size_t errlen)
{
	struct net_addr a;
	if (net_addr_parse(ip, 0, &a) < 0) {
		snprintf(err, errlen, "--client-ip %s: not an IP address", ip);
		return -1;
	}
	if (!c->dnsbl_sites[0])
		return 0;
	int rc = -1;
	struct event_base *base = event_base_new();
	struct dns *d = dns_new(base, c->dns_servers, c->dns_timeout, err, errlen);
	struct scan_dnsbl_conf dc;
	gw_conf_dnsbl(c, &dc);
	dc.self_test = false; /* one lookup, no start-up test */
	struct scan_dnsbl *bl = d ? scan_dnsbl_new(base, d, &dc, err, errlen) : NULL;
	if (bl) {
		struct dnsbl_wait w = { r, base, clock_mono_us() };
		scan_dnsbl_lookup(bl, &a, on_dnsbl, &w);
		event_base_dispatch(base);
		rc = 0;
	}
	scan_dnsbl_free(&bl);
	dns_free(&d);
	event_base_free(base);
	return rc;
}

static void print_text(const char *file, size_t len, const struct scan_report *r, const struct scan_outcome *o,
		       const struct scan_msg *m)
{
	printf("message: %s (%zu octets)\n", file, len);
	printf("verdict: %s (categories:", scan_cat_name(r->cat));
	for (int c = SCAN_NCAT - 1; c >= 0; c--)
		if (r->cats & (1u << c))
			printf(" %s", scan_cat_name((enum scan_cat)c));
	printf(")\n");
	if (r->access)
		printf("access: %s (%s)\n", r->access == 1 ? "OK" : "SPAM", r->access_entry ? r->access_entry : "");
	printf("dnsbl: weight %d%s\n", r->dnsbl_weight, r->dnsbl_incomplete ? " (incomplete: a zone did not answer)" : "");
	for (size_t i = 0; i < r->ndnsbl; i++)
		printf("  %s %s weight %d \"%s\"\n", r->dnsbl[i].zone, r->dnsbl[i].addr, r->dnsbl[i].weight, r->dnsbl[i].txt);
	printf("virus: %s\n", r->nvirus ? "" : "none found");
	for (size_t i = 0; i < r->nvirus; i++)
		printf("  %s%s in %s%s%s%s\n", r->virus[i].name, r->virus[i].unscannable ? " (unscannable)" : "",
		       r->virus[i].path[0] ? "part " : "the whole message", r->virus[i].path,
		       r->virus[i].filename[0] ? " " : "", r->virus[i].filename);
	if (r->spam_scanned)
		printf("spam: score %.2f required %.2f -> %s\n", r->score, r->required, r->spam_yes ? "spam" : "not spam");
	else
		printf("spam: not scanned (%s)\n", r->spam_skipped ? r->spam_skipped : "no spam scanner");
	if (r->nrules) {
		printf("rules:");
		for (size_t i = 0; i < r->nrules; i++)
			printf(" %s", r->rules[i]);
		printf("\n");
	}
	struct buf b;
	buf_init(&b);
	scan_actions_format(o->flags, o->redirect, &b);
	printf("actions: %s%s\n", b.data, o->cleaned ? " (infected parts replaced)" : "");
	buf_fini(&b);
	printf("headers%s:\n", o->changed ? " (as delivered)" : " (unchanged)");
	fwrite(m->raw, 1, m->body_off, stdout);
	printf("timings: dnsbl %.1f ms, parse %.1f ms, virus %.1f ms, spam %.1f ms, total %.1f ms\n", r->ms_dnsbl,
	       r->ms_parse, r->ms_virus, r->ms_spam, r->ms_total);
}

static void print_json(const char *file, size_t len, const struct scan_report *r, const struct scan_outcome *o,
		       const struct scan_msg *m)
{
	json_t *j = json_object();
	json_object_set_new(j, "message", ctl_json_z(file));
	json_object_set_new(j, "size", json_integer((json_int_t)len));
	json_object_set_new(j, "verdict", json_string(scan_cat_name(r->cat)));
	json_t *cats = json_array();
	for (int c = SCAN_NCAT - 1; c >= 0; c--)
		if (r->cats & (1u << c))
			json_array_append_new(cats, json_string(scan_cat_name((enum scan_cat)c)));
	json_object_set_new(j, "categories", cats);
	if (r->access) {
		json_object_set_new(j, "access", json_string(r->access == 1 ? "OK" : "SPAM"));
		json_object_set_new(j, "access_entry", ctl_json_z(r->access_entry));
	}
	json_t *dn = json_array();
	for (size_t i = 0; i < r->ndnsbl; i++)
		json_array_append_new(dn, json_pack("{s:o,s:o,s:o,s:i}", "zone", ctl_json_z(r->dnsbl[i].zone), "answer",
						    ctl_json_z(r->dnsbl[i].addr), "txt", ctl_json_z(r->dnsbl[i].txt), "weight",
						    r->dnsbl[i].weight));
	json_object_set_new(j, "dnsbl", json_pack("{s:i,s:b,s:o}", "weight", r->dnsbl_weight, "incomplete",
						  r->dnsbl_incomplete, "hits", dn));
	json_t *vi = json_array();
	for (size_t i = 0; i < r->nvirus; i++)
		json_array_append_new(vi, json_pack("{s:o,s:o,s:o,s:b}", "name", ctl_json_z(r->virus[i].name), "part",
						    ctl_json_z(r->virus[i].path), "filename", ctl_json_z(r->virus[i].filename), "unscannable",
						    r->virus[i].unscannable));
	json_object_set_new(j, "virus", vi);
	json_t *rules = json_array();
	for (size_t i = 0; i < r->nrules; i++)
		json_array_append_new(rules, ctl_json_z(r->rules[i]));
	json_object_set_new(j, "spam", json_pack("{s:b,s:b,s:f,s:f,s:o,s:o,s:o,s:o}", "scanned", r->spam_scanned, "spam",
						 r->spam_yes, "score", r->score, "required", r->required, "rules", rules,
						 "skipped", r->spam_skipped ? ctl_json_z(r->spam_skipped) : json_null(),
						 "bayes", r->bayes_known ? json_real(r->bayes_prob) : json_null(),
						 "autolearn", r->autolearn ? json_string(r->autolearn > 0 ? "spam" : "ham")
									 : json_null()));
	struct buf b;
	buf_init(&b);
	scan_actions_format(o->flags, o->redirect, &b);
	json_object_set_new(j, "actions", json_string(b.data));
	buf_fini(&b);
	json_object_set_new(j, "cleaned_parts", json_integer((json_int_t)o->cleaned));
	json_object_set_new(j, "changed", json_boolean(o->changed));
	json_object_set_new(j, "headers", ctl_json_str(m->raw, m->body_off));
	const struct scan_hdr *subj = scan_msg_header(m, "Subject"); /* as delivered */
	if (subj)
		json_object_set_new(j, "subject", ctl_json_z(subj->raw));
	json_object_set_new(j, "ms", json_pack("{s:f,s:f,s:f,s:f,s:f}", "dnsbl", r->ms_dnsbl, "parse", r->ms_parse,
					       "virus", r->ms_virus, "spam", r->ms_spam, "total", r->ms_total));
	char *out = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	printf("%s\n", out ? out : "{\"verdict\":null,\"error\":\"json\"}");
	free(out);
	json_decref(j);
}

static int scan_one(const struct conf *c, struct scan_engine *e, const struct scan_policy *pol, const char *file,
		    const char *client_ip, bool json)
{
	char err[600];
	struct buf msg;
	buf_init(&msg);
	int rc = 2;
	struct scan_report r;
	scan_report_init(&r);
	if (ctl_read_message(file, &msg) < 0) {
		fprintf(stderr, "mxgate: %s: %s\n", file, strerror(errno));
		goto out;
	}
	if (client_ip && dnsbl_step(c, client_ip, &r, err, sizeof err) < 0) {
		fprintf(stderr, "mxgate: %s\n", err);
		goto out;
	}
	struct scan_input in = { .data = msg.data,
				 .len = msg.len,
				 .qid = "scan",
				 .client_ip = client_ip ? client_ip : "",
				 .helo = "",
				 .sender = "" };
	if (scan_run(e, &in, &r) < 0) {
		fprintf(stderr, "mxgate: %s: no verdict: %s\n", file, r.error ? r.error : "scanner failure");
		if (json) {
			json_t *j = json_pack("{s:o,s:n,s:o}", "message", ctl_json_z(file), "verdict", "error",
					      ctl_json_z(r.error ? r.error : "scanner failure"));
			char *o = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
			printf("%s\n", o ? o : "{\"verdict\":null}");
			free(o);
			json_decref(j);
		}
		rc = 1;
		goto out;
	}
	struct buf content;
	buf_init(&content);
	struct scan_outcome o;
	scan_outcome_init(&o);
	scan_apply(pol, &r, msg.data, msg.len, &o);
	if (o.changed)
		mail_edits_apply(&o.edits, msg.data, msg.len, &content);
	/* the message as it would be delivered, parsed for its header section and Subject */
	struct scan_msg *m = o.changed ? scan_msg_parse(content.data, content.len, NULL)
				       : scan_msg_parse(msg.data, msg.len, NULL);
	if (json)
		print_json(file, msg.len, &r, &o, m);
	else
		print_text(file, msg.len, &r, &o, m);
	scan_msg_free(&m);
	scan_outcome_fini(&o);
	buf_fini(&content);
	rc = 0;
out:
	fflush(stdout);
	scan_report_fini(&r);
	buf_fini(&msg);
	return rc;
}

int ctl_scan(const struct conf *c, const char *const *files, size_t nfiles, const char *client_ip, bool json)
{
	char err[600];
	struct scan_policy pol;
	if (gw_conf_scan_policy(c, &pol, err, sizeof err) < 0) {
		fprintf(stderr, "mxgate: %s\n", err);
		return 2;
	}
	struct scan_conf sc;
	gw_conf_scan(c, &sc);
	struct scan_engine *e = scan_engine_new(&sc, err, sizeof err);
	if (!e) {
		fprintf(stderr, "mxgate: %s\n", err);
		gw_conf_scan_policy_fini(&pol);
		return 2;
	}
	int rc = 0;
	for (size_t i = 0; i < nfiles; i++) {
		if (i && !json)
			printf("\n");
		int r = scan_one(c, e, &pol, files[i], client_ip, json);
		if (r > rc)
			rc = r;
	}
	scan_engine_free(&e);
	gw_conf_scan_policy_fini(&pol);
	return rc;
}
