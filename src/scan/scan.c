/*
 * scan.c - the scanning engine: which scanners, and one message through
 * them (access map, MIME parse, anti-virus, spam scoring, categories).
 *
 * Anti-virus: the whole message, then every decoded attachment (MIME leaf
 * parts that are attachments or not text, uuencoded blocks, parts of
 * attached messages); a part's finding names its MIME path so the cleaner
 * can replace it. A finding in the whole message that a part explains is
 * not repeated. A message larger than virus_max_size is unscannable.
 *
 * Spam: one back end (builtin rules, spamd or rspamd: spam/scan_spam.h),
 * chosen and opened when the engine is built, called through its struct.
 * Skipped for access-map OK; builtin rules see the DNSBL answers
 * (check_rbl); spamd/rspamd get the envelope. Over spam_max_size (any
 * spam scanner, as spamc): skipped and said so in the headers.
 *
 * Failures: a scanner that errs or times out gives no verdict (tempfail);
 * "timeout" in its error marks a timeout, which the poison guard counts.
 */
#include "scan/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "net/net_addr.h"
#include "scan/av/scan_av.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules.h"
#include "scan/scan_access.h"
#include "scan/spam/scan_spam.h"

struct scan_engine {
	struct scan_av *av;		      /* NULL: none */
	const struct scan_spam_backend *spam; /* NULL: none; chosen once, here */
	void *spam_state;		      /* spam's, from its open() */
	struct scan_access *access;
	double high_threshold;
	int dnsbl_threshold;
	int timeout_ms;
	uint64_t spam_max_size, virus_max_size;
};

/* The spam back end spam_scanner names, opened (or none). */
static int open_spam(struct scan_engine *e, const struct scan_conf *c, char *err, size_t errlen)
{
	const char *sp = c->spam_scanner ? c->spam_scanner : "none";
	char why[400];
	const struct scan_spam_backend *be = scan_spam_find(sp, why, sizeof why);
	if (!be && why[0]) {
		snprintf(err, errlen, "spam_scanner = %s: %s", sp, why);
		return -1;
	}
	if (!be)
		return 0;
	struct scan_spam_opts o = { .rules = c->spam_rules, .threshold = c->spam_threshold,
				    .use_bayes = c->use_bayes, .bayes_path = c->bayes_path,
				    .timeout_ms = e->timeout_ms, .max_size = (size_t)c->spam_max_size };
	e->spam_state = be->open(sp, &o, why, sizeof why);
	if (!e->spam_state) {
		if (be->conf_key)
			snprintf(err, errlen, "%s: %s", be->conf_key, why);
		else
			snprintf(err, errlen, "spam_scanner = %s: %s", sp, why);
		return -1;
	}
	e->spam = be;
	return 0;
}

struct scan_engine *scan_engine_new(const struct scan_conf *c, char *err, size_t errlen)
{
	bool kept;
	return scan_engine_new_reuse(c, NULL, &kept, err, errlen);
}

struct scan_engine *scan_engine_new_reuse(const struct scan_conf *c, const struct scan_engine *prev, bool *av_kept,
					  char *err, size_t errlen)
{
	*av_kept = false;
	struct scan_engine *e = xcalloc(1, sizeof *e);
	e->high_threshold = c->spam_high_threshold;
	e->dnsbl_threshold = c->dnsbl_threshold;
	e->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 60000;
	e->spam_max_size = c->spam_max_size;
	e->virus_max_size = c->virus_max_size;
	char why[400];
	if (c->virus_scanner && c->virus_scanner[0] && strcmp(c->virus_scanner, "none") != 0) {
		struct scan_av_opts o = { .timeout_ms = e->timeout_ms, .max_size = (size_t)c->virus_max_size };
		snprintf(o.tmpdir, sizeof o.tmpdir, "%s", c->virus_tmpdir ? c->virus_tmpdir : "");
		e->av = prev ? scan_av_reuse(prev->av, c->virus_scanner, &o) : NULL;
		*av_kept = e->av != NULL;
		if (!e->av)
			e->av = scan_av_new(c->virus_scanner, &o, why, sizeof why);
		if (!e->av) {
			snprintf(err, errlen, "virus_scanner = %s: %s", c->virus_scanner, why);
			goto fail;
		}
	}
	if (open_spam(e, c, err, errlen) < 0)
		goto fail;
	if (c->access_map && c->access_map[0]) {
		e->access = scan_access_load(c->access_map, why, sizeof why);
		if (!e->access) {
			snprintf(err, errlen, "scan_access_map: %s", why);
			goto fail;
		}
	}
	return e;
fail:
	scan_engine_free(&e);
	return NULL;
}

void scan_engine_free(struct scan_engine **ep)
{
	struct scan_engine *e = *ep;
	if (!e)
		return;
	scan_av_free(&e->av);
	if (e->spam)
		e->spam->close(e->spam_state);
	scan_access_free(&e->access);
	xfree(e);
	*ep = NULL;
}

bool scan_engine_has_av(const struct scan_engine *e)
{
	return e && e->av;
}

bool scan_engine_enabled(const struct scan_engine *e)
{
	return e && (e->av || e->spam || e->access || e->dnsbl_threshold > 0);
}

void scan_engine_describe(const struct scan_engine *e, struct buf *out)
{
	buf_printf(out, "virus_scanner=\"%s\"", e->av ? scan_av_describe(e->av) : "none");
	buf_puts(out, " spam_scanner=");
	if (e->spam)
		e->spam->describe(e->spam_state, out);
	else
		buf_puts(out, "\"none\"");
	if (e->access)
		buf_puts(out, " access_map=yes");
}

/* ------------------------------------------------------------ running */

static double ms_since(int64_t t0)
{
	return (double)(clock_mono_us() - t0) / 1000.0;
}

static void set_error(struct scan_report *r, const char *what, const char *why)
{
	r->tempfail = true;
	if (strcasestr(why, "timeout") || strcasestr(why, "timed out"))
		r->tempfail_timeout = true;
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "%s: %s", what, why);
	xfree(r->error);
	r->error = buf_steal(&b, NULL);
}

static bool part_worth_scanning(const struct scan_part *p)
{
	return p->len > 0 && (p->attachment || p->uuencoded || p->depth > 0);
}

/* Returns -1 when the scanner failed (r->tempfail set). */
static int run_av(struct scan_engine *e, const struct scan_input *in, const struct scan_msg *m, struct scan_report *r)
{
	char name[256];
	if (in->len > e->virus_max_size) {
		snprintf(name, sizeof name, "Size.Limit.Exceeded (%zu > %llu octets)", in->len,
			 (unsigned long long)e->virus_max_size);
		scan_report_add_virus(r, "", "", name, true);
		return 0;
	}
	enum scan_av_status st = scan_av_scan(e->av, in->data, in->len, name, sizeof name);
	if (st == SCAN_AV_ERROR) {
		set_error(r, "virus scanner", name);
		return -1;
	}
	char whole[256] = "";
	bool whole_unscannable = st == SCAN_AV_UNSCANNABLE;
	if (st != SCAN_AV_CLEAN)
		str_copy(whole, sizeof whole, name);
	bool explained = false;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct scan_part *p = &m->parts[i];
		if (!part_worth_scanning(p))
			continue;
		st = scan_av_scan(e->av, p->data, p->len, name, sizeof name);
		if (st == SCAN_AV_ERROR) {
			set_error(r, "virus scanner", name);
			return -1;
		}
		if (st == SCAN_AV_CLEAN)
			continue;
		scan_report_add_virus(r, p->path, p->filename, name, st == SCAN_AV_UNSCANNABLE);
		if (whole[0] && strcmp(whole, name) == 0)
			explained = true;
	}
	if (whole[0] && !explained)
		scan_report_add_virus(r, "", "", whole, whole_unscannable);
	return 0;
}

/* The client's DNSBL answers as the rules engine reads them (check_rbl). */
static struct scan_rules_dnsbl *dnsbl_answers(const struct scan_report *r)
{
	struct scan_rules_dnsbl *d = xcalloc(r->ndnsbl ? r->ndnsbl : 1, sizeof *d);
	for (size_t i = 0; i < r->ndnsbl; i++)
		d[i] = (struct scan_rules_dnsbl){ .zone = r->dnsbl[i].zone, .addr = r->dnsbl[i].addr,
						  .txt = r->dnsbl[i].txt };
	return d;
}

static int run_spam(struct scan_engine *e, const struct scan_input *in, const struct scan_msg *m,
		    struct scan_report *r)
{
	struct scan_rules_dnsbl *d = dnsbl_answers(r);
	struct scan_spam_req q = { .data = in->data, .len = in->len, .msg = m, .client_ip = in->client_ip,
				   .helo = in->helo, .env_from = in->sender, .rcpt = in->rcpt, .nrcpt = in->nrcpt,
				   .qid = in->qid, .dnsbl = d, .ndnsbl = r->ndnsbl };
	struct scan_spam_res res;
	int rc = e->spam->check(e->spam_state, &q, &res);
	xfree(d);
	if (rc < 0) {
		set_error(r, "spam scanner", res.err[0] ? res.err : "failed");
		scan_spam_res_fini(&res);
		return -1;
	}
	if (res.skipped_size) {
		struct buf b;
		buf_init(&b);
		buf_printf(&b, "size %zu > %llu", in->len, (unsigned long long)e->spam_max_size);
		r->spam_skipped = buf_steal(&b, NULL);
	} else {
		r->spam_scanned = true;
		r->spam_yes = res.is_spam;
		r->score = res.score;
		r->required = res.required;
		for (size_t i = 0; i < res.nsymbols; i++)
			scan_report_add_rule(r, res.symbols[i]);
		r->bayes_known = res.bayes_known;
		r->bayes_prob = res.bayes_prob;
		r->autolearn = res.autolearn;
		if (res.nlearn) { /* taken over */
			scan_learn_fini(&r->learn);
			r->learn = (struct scan_learn){ .msg_key = res.learn_key, .expiry_max = res.learn_expiry,
							.keys = res.learn_keys, .nkeys = res.nlearn };
			res.learn_keys = NULL;
			res.nlearn = 0;
		}
	}
	scan_spam_res_fini(&res);
	return 0;
}

void scan_engine_warm_up(struct scan_engine *e, const struct scan_input *in)
{
	struct scan_report r;
	scan_report_init(&r);
	struct scan_msg *m = scan_msg_parse(in->data, in->len, NULL);
	if (e->av && scan_av_in_process(e->av))
		(void)run_av(e, in, m, &r);
	if (e->spam && strcmp(e->spam->name, "builtin") == 0)
		(void)run_spam(e, in, m, &r);
	scan_msg_free(&m);
	scan_report_fini(&r);
}

int scan_run(struct scan_engine *e, const struct scan_input *in, struct scan_report *r)
{
	int64_t t0 = clock_mono_us(), t;
	if (e->access) {
		struct net_addr ca;
		bool have_ip = in->client_ip && in->client_ip[0] && net_addr_parse(in->client_ip, 0, &ca) == 0;
		struct scan_access_match mt;
		enum scan_access_verdict a = scan_access_check(e->access, have_ip ? &ca : NULL, in->sender, in->rcpt,
							       in->nrcpt, &mt);
		if (a != SCAN_ACCESS_NONE) {
			r->access = a == SCAN_ACCESS_OK ? 1 : 2;
			struct buf b;
			buf_init(&b);
			buf_printf(&b, "%s %s (line %d)", mt.entry ? mt.entry : "", a == SCAN_ACCESS_OK ? "OK" : "SPAM",
				   mt.line);
			r->access_entry = buf_steal(&b, NULL);
		}
	}
	t = clock_mono_us();
	struct scan_msg *m = scan_msg_parse(in->data, in->len, NULL);
	r->ms_parse = ms_since(t);
	const struct scan_hdr *subj = scan_msg_header(m, "Subject");
	r->subject = xstrdup(subj ? subj->value : "");
	int rc = 0;
	t = clock_mono_us();
	if (e->av)
		rc = run_av(e, in, m, r);
	r->ms_virus = ms_since(t);
	t = clock_mono_us();
	if (rc == 0) {
		if (r->access == 1) {
			r->spam_skipped = xstrdup("access map OK");
		} else if (e->spam && e->spam_max_size && in->len > e->spam_max_size) {
			struct buf b;
			buf_init(&b);
			buf_printf(&b, "size %zu > %llu", in->len, (unsigned long long)e->spam_max_size);
			r->spam_skipped = buf_steal(&b, NULL);
		} else if (e->spam) {
			rc = run_spam(e, in, m, r);
		}
	}
	r->ms_spam = ms_since(t);
	scan_msg_free(&m);
	if (rc == 0)
		scan_report_classify(r, e->high_threshold, e->dnsbl_threshold);
	r->ms_total = ms_since(t0) + r->ms_dnsbl;
	return rc;
}
