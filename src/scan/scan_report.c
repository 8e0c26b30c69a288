/*
 * scan_report.c - a scan's findings: building, classifying, and the one-line
 * text form kept in the queue (the envelope's C record).
 *
 * Text form: space-separated key=value fields, values %XX-escaped (bytes
 * <= 0x20, 0x7f, '%', ';', ',', '=' ), lists with ',' and sub-fields with
 * ';'. Unknown keys are skipped (a newer writer), a malformed field makes
 * decode return -1. Example:
 *   v=1 cat=virus cats=33 virus=2;eicar.com;Eicar-Signature;0 ss=1 score=1.20 req=5.00 rules=A,B
 */
#include "scan/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/dnsbl/scan_dnsbl.h"

static const char *cat_names[SCAN_NCAT] = { "clean", "blocklisted", "spam", "high-spam", "unscannable", "virus" };

const char *scan_cat_name(enum scan_cat c)
{
	return (unsigned)c < SCAN_NCAT ? cat_names[c] : "?";
}

int scan_cat_parse(const char *s)
{
	for (int i = 0; i < SCAN_NCAT; i++)
		if (strcmp(s, cat_names[i]) == 0)
			return i;
	return -1;
}

void scan_report_init(struct scan_report *r)
{
	memset(r, 0, sizeof *r);
}

void scan_report_fini(struct scan_report *r)
{
	for (size_t i = 0; i < r->ndnsbl; i++) {
		xfree(r->dnsbl[i].zone);
		xfree(r->dnsbl[i].addr);
		xfree(r->dnsbl[i].txt);
	}
	xfree(r->dnsbl);
	for (size_t i = 0; i < r->nvirus; i++) {
		xfree(r->virus[i].path);
		xfree(r->virus[i].filename);
		xfree(r->virus[i].name);
	}
	xfree(r->virus);
	for (size_t i = 0; i < r->nrules; i++)
		xfree(r->rules[i]);
	xfree(r->rules);
	xfree(r->access_entry);
	xfree(r->spam_skipped);
	xfree(r->error);
	xfree(r->subject);
	scan_learn_fini(&r->learn);
	memset(r, 0, sizeof *r);
}

void scan_learn_fini(struct scan_learn *l)
{
	xfree(l->keys);
	memset(l, 0, sizeof *l);
}

void scan_learn_encode(const struct scan_learn *l, struct buf *out)
{
	buf_printf(out, "1 %016llx %u ", (unsigned long long)l->msg_key, l->expiry_max);
	buf_reserve(out, l->nkeys * 16 + 1);
	for (size_t i = 0; i < l->nkeys; i++)
		buf_printf(out, "%016llx", (unsigned long long)l->keys[i]);
}

static int hex64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		int h = str_hexval(s[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (uint64_t)h;
	}
	*out = v;
	return 0;
}

int scan_learn_decode(const char *s, struct scan_learn *l)
{
	memset(l, 0, sizeof *l);
	uint64_t key;
	if (strncmp(s, "1 ", 2) != 0 || strlen(s) < 2 + 16 + 1 || hex64(s + 2, &key) < 0 || s[18] != ' ')
		return -1;
	const char *p = s + 19;
	char *end;
	if (*p < '0' || *p > '9')
		return -1;
	unsigned long ex = strtoul(p, &end, 10);
	if (*end != ' ' || ex > UINT32_MAX)
		return -1;
	p = end + 1;
	size_t hl = strlen(p);
	if (hl % 16 || hl / 16 > SCAN_LEARN_MAX_KEYS)
		return -1;
	size_t n = hl / 16;
	uint64_t *keys = xmalloc((n ? n : 1) * sizeof *keys);
	for (size_t i = 0; i < n; i++)
		if (hex64(p + 16 * i, &keys[i]) < 0 || keys[i] == 0 || (i && keys[i - 1] >= keys[i])) {
			xfree(keys); /* sorted, distinct, non-zero: as the tokeniser gives them */
			return -1;
		}
	l->msg_key = key;
	l->expiry_max = (uint32_t)ex;
	l->keys = keys;
	l->nkeys = n;
	return 0;
}

void scan_report_add_virus(struct scan_report *r, const char *path, const char *filename, const char *name,
			   bool unscannable)
{
	r->virus = xrealloc(r->virus, (r->nvirus + 1) * sizeof *r->virus);
	r->virus[r->nvirus++] = (struct scan_virus){ .path = xstrdup(path ? path : ""),
						     .filename = xstrdup(filename ? filename : ""),
						     .name = xstrdup(name ? name : "unknown"),
						     .unscannable = unscannable };
}

void scan_report_add_dnsbl(struct scan_report *r, const char *zone, const char *addr, const char *txt, int weight)
{
	r->dnsbl = xrealloc(r->dnsbl, (r->ndnsbl + 1) * sizeof *r->dnsbl);
	r->dnsbl[r->ndnsbl++] = (struct scan_report_dnsbl){ .zone = xstrdup(zone), .addr = xstrdup(addr ? addr : ""),
							 .txt = xstrdup(txt ? txt : ""), .weight = weight };
}

void scan_report_set_dnsbl(struct scan_report *r, const struct scan_dnsbl_result *res)
{
	r->dnsbl_weight = res->weight;
	r->dnsbl_incomplete = res->incomplete;
	for (size_t i = 0; i < res->nhits; i++)
		scan_report_add_dnsbl(r, res->hits[i].zone, res->hits[i].answer, res->hits[i].txt, res->hits[i].weight);
}

void scan_report_add_rule(struct scan_report *r, const char *name)
{
	r->rules = xrealloc(r->rules, (r->nrules + 1) * sizeof *r->rules);
	r->rules[r->nrules++] = xstrdup(name);
}

void scan_report_classify(struct scan_report *r, double high_threshold, int dnsbl_threshold)
{
	unsigned c = 0;
	for (size_t i = 0; i < r->nvirus; i++)
		c |= 1u << (r->virus[i].unscannable ? SCAN_UNSCANNABLE : SCAN_VIRUS);
	if (r->access != 1) {
		/* spam: the scanner's verdict (score >= required), or forced by the access map */
		bool spam = r->access == 2 || (r->spam_scanned && r->spam_yes);
		if (spam)
			c |= 1u << SCAN_SPAM;
		if (r->spam_scanned && r->score >= high_threshold)
			c |= 1u << SCAN_HIGH_SPAM;
		if (dnsbl_threshold > 0 && r->dnsbl_weight >= dnsbl_threshold)
			c |= 1u << SCAN_BLOCKLISTED;
	}
	c |= 1u << SCAN_CLEAN;
	r->cats = c;
	r->cat = SCAN_CLEAN;
	for (int i = SCAN_NCAT - 1; i >= 0; i--) {
		if (c & (1u << i)) {
			r->cat = (enum scan_cat)i;
			break;
		}
	}
}

/* ------------------------------------------------------------ encoding */

static void esc(struct buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '%' || *p == ';' || *p == ',' || *p == '=')
			buf_printf(out, "%%%02X", *p);
		else
			buf_putc(out, (char)*p);
	}
}

/* " key=a;b;c;n": a list entry of three strings and a number (decoded by fields()). */
static void quad(struct buf *out, const char *key, const char *a, const char *b, const char *c, int n)
{
	buf_printf(out, " %s=", key);
	esc(out, a);
	buf_putc(out, ';');
	esc(out, b);
	buf_putc(out, ';');
	esc(out, c);
	buf_printf(out, ";%d", n);
}

void scan_report_encode(const struct scan_report *r, struct buf *out)
{
	buf_printf(out, "v=1 cat=%s cats=%u", scan_cat_name(r->cat), r->cats);
	if (r->access) {
		buf_printf(out, " access=%s ae=", r->access == 1 ? "ok" : "spam");
		esc(out, r->access_entry);
	}
	if (r->ndnsbl || r->dnsbl_weight)
		buf_printf(out, " dw=%d", r->dnsbl_weight);
	if (r->dnsbl_incomplete)
		buf_puts(out, " di=1");
	for (size_t i = 0; i < r->ndnsbl; i++)
		quad(out, "dnsbl", r->dnsbl[i].zone, r->dnsbl[i].addr, r->dnsbl[i].txt, r->dnsbl[i].weight);
	for (size_t i = 0; i < r->nvirus; i++)
		quad(out, "virus", r->virus[i].path, r->virus[i].filename, r->virus[i].name, r->virus[i].unscannable);
	if (r->spam_scanned)
		buf_printf(out, " ss=1 sy=%d score=%.2f req=%.2f", r->spam_yes ? 1 : 0, r->score, r->required);
	if (r->spam_skipped) {
		buf_puts(out, " sk=");
		esc(out, r->spam_skipped);
	}
	if (r->nrules) {
		buf_puts(out, " rules=");
		for (size_t i = 0; i < r->nrules; i++) {
			if (i)
				buf_putc(out, ',');
			esc(out, r->rules[i]);
		}
	}
	if (r->bayes_known)
		buf_printf(out, " bayes=%.4f", r->bayes_prob);
	if (r->autolearn)
		buf_printf(out, " al=%s", r->autolearn > 0 ? "spam" : "ham");
	if (r->subject) {
		buf_puts(out, " subj=");
		esc(out, r->subject);
	}
	buf_printf(out, " ms=%.1f;%.1f;%.1f;%.1f;%.1f", r->ms_dnsbl, r->ms_parse, r->ms_virus, r->ms_spam,
		   r->ms_total);
}


/* Unescape s[0..n) into a new string; NULL if malformed. */
static char *unesc(const char *s, size_t n)
{
	char *o = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h = i + 2 < n ? str_hexval(s[i + 1]) : -1;
			int l = i + 2 < n ? str_hexval(s[i + 2]) : -1;
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				xfree(o);
				return NULL;
			}
			o[k++] = (char)(h * 16 + l);
			i += 2;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = '\0';
	return o;
}

/* Split v[0..n) at sep into at most max unescaped fields; returns count or -1. */
static int fields(const char *v, size_t n, char sep, char **f, int max)
{
	int k = 0;
	const char *p = v, *end = v + n;
	for (;;) {
		const char *q = memchr(p, sep, (size_t)(end - p));
		const char *e = q ? q : end;
		if (k == max || !(f[k] = unesc(p, (size_t)(e - p)))) {
			for (int i = 0; i < k; i++)
				xfree(f[i]);
			return -1;
		}
		k++;
		if (!q)
			return k;
		p = q + 1;
	}
}

static void free_fields(char **f, int n)
{
	for (int i = 0; i < n; i++)
		xfree(f[i]);
}

static int decode_field(struct scan_report *r, const char *k, size_t kl, const char *v, size_t vl)
{
	char *f[8];
	int n;
	char num[64];
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(k, s, kl) == 0)
	if (KEY("v"))
		return vl == 1 && v[0] == '1' ? 0 : -1;
	if (KEY("cat")) {
		if (str_ncopy(num, sizeof num, v, vl) < 0 || scan_cat_parse(num) < 0)
			return -1;
		r->cat = (enum scan_cat)scan_cat_parse(num);
		return 0;
	}
	if (KEY("virus") || KEY("dnsbl")) {
		if ((n = fields(v, vl, ';', f, 8)) != 4)
			return n > 0 ? (free_fields(f, n), -1) : -1;
		if (KEY("virus"))
			scan_report_add_virus(r, f[0], f[1], f[2], strcmp(f[3], "1") == 0);
		else
			scan_report_add_dnsbl(r, f[0], f[1], f[2], atoi(f[3]));
		free_fields(f, n);
		return 0;
	}
	if (KEY("rules")) {
		const char *p = v, *end = v + vl;
		while (p < end) {
			const char *q = memchr(p, ',', (size_t)(end - p));
			const char *e = q ? q : end;
			char *s = unesc(p, (size_t)(e - p));
			if (!s)
				return -1;
			scan_report_add_rule(r, s);
			xfree(s);
			p = q ? q + 1 : end;
		}
		return 0;
	}
	if (KEY("ae") || KEY("sk") || KEY("subj")) {
		char *s = unesc(v, vl);
		if (!s)
			return -1;
		char **dst = KEY("ae") ? &r->access_entry : KEY("sk") ? &r->spam_skipped : &r->subject;
		xfree(*dst);
		*dst = s;
		return 0;
	}
	if (KEY("ms")) {
		if (str_ncopy(num, sizeof num, v, vl) < 0 ||
		    sscanf(num, "%lf;%lf;%lf;%lf;%lf", &r->ms_dnsbl, &r->ms_parse, &r->ms_virus, &r->ms_spam,
			   &r->ms_total) != 5)
			return -1;
		return 0;
	}
	if (str_ncopy(num, sizeof num, v, vl) < 0)
		return -1;
	if (KEY("cats"))
		r->cats = (unsigned)strtoul(num, NULL, 10);
	else if (KEY("access"))
		r->access = strcmp(num, "ok") == 0 ? 1 : strcmp(num, "spam") == 0 ? 2 : 0;
	else if (KEY("dw"))
		r->dnsbl_weight = atoi(num);
	else if (KEY("di"))
		r->dnsbl_incomplete = num[0] == '1';
	else if (KEY("ss"))
		r->spam_scanned = num[0] == '1';
	else if (KEY("sy"))
		r->spam_yes = num[0] == '1';
	else if (KEY("score"))
		r->score = strtod(num, NULL);
	else if (KEY("req"))
		r->required = strtod(num, NULL);
	else if (KEY("bayes")) {
		char *e;
		double p = strtod(num, &e);
		if (*e || !(p >= 0 && p <= 1))
			return -1;
		r->bayes_known = true;
		r->bayes_prob = p;
	} else if (KEY("al"))
		r->autolearn = strcmp(num, "spam") == 0 ? 1 : strcmp(num, "ham") == 0 ? -1 : 0;
#undef KEY
	return 0; /* unknown keys: a newer writer */
}

int scan_report_decode(const char *s, struct scan_report *r)
{
	int rc = 0;
	const char *p = s;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, " ");
		const char *eq = memchr(p, '=', n);
		if (!eq || decode_field(r, p, (size_t)(eq - p), eq + 1, n - (size_t)(eq - p) - 1) < 0)
			rc = -1;
		p += n;
	}
	return rc;
}
