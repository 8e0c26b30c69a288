/*
 * scan_proc_wire.c - encoding and decoding of the scanner processes'
 * messages (format in scan_proc_int.h).
 *
 * Pure: no I/O. Decoders read hostile bytes: every field is bounded,
 * unknown tags are refused, a string may hold no NUL, a number field has
 * exactly its width. The fuzz target fuzz_scan_wire drives them.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "scan/proc/scan_proc_int.h"

enum tag {
	T_ID = 1, T_OFF, T_LEN, T_QID, T_CLIENT_IP, T_HELO, T_SENDER, T_RCPT, T_REPORT,
	T_TEMPFAIL = 20, T_TIMEOUT, T_ERROR, T_FLAGS, T_CHANGED, T_CLEANED, T_EDIT,
	T_OK = 40, T_GEN, T_ENABLED, T_HAS_AV, T_AV_KEPT, T_LOAD_MS, T_DESCRIBE, T_ERR,
	T_PID = 60, T_STATUS, T_MAXRSS, T_SCANS,
	T_SET = 100, /* T_SET + the settings field's index */
};

/* ------------------------------------------------------------ writing */

static void put_hdr(struct buf *b, uint16_t tag, uint32_t len)
{
	uint8_t h[6] = { (uint8_t)tag, (uint8_t)(tag >> 8), (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			 (uint8_t)(len >> 24) };
	buf_append(b, h, sizeof h);
}

static void put_bytes(struct buf *b, uint16_t tag, const void *p, size_t n)
{
	put_hdr(b, tag, (uint32_t)n);
	buf_append(b, p, n);
}

static void put_str(struct buf *b, uint16_t tag, const char *s)
{
	if (s)
		put_bytes(b, tag, s, strlen(s));
}

static void put_u64(struct buf *b, uint16_t tag, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	put_bytes(b, tag, x, 8);
}

/* A frame's length prefix, filled in by end_frame. */
static size_t begin_frame(struct buf *b, uint8_t type)
{
	size_t at = b->len;
	buf_append(b, "\0\0\0\0", 4);
	buf_putc(b, (char)type);
	return at;
}

static void end_frame(struct buf *b, size_t at)
{
	uint32_t n = (uint32_t)(b->len - at - 4);
	for (int i = 0; i < 4; i++)
		b->data[at + i] = (char)(uint8_t)(n >> (8 * i));
}

/* ------------------------------------------------------------ reading */

struct rd {
	const uint8_t *p;
	size_t n;
};

/* The next field: 1, 0 at the end, -1 when it does not fit. */
static int next(struct rd *r, uint16_t *tag, const uint8_t **v, uint32_t *len)
{
	if (r->n == 0)
		return 0;
	if (r->n < 6)
		return -1;
	*tag = (uint16_t)(r->p[0] | r->p[1] << 8);
	*len = (uint32_t)r->p[2] | (uint32_t)r->p[3] << 8 | (uint32_t)r->p[4] << 16 | (uint32_t)r->p[5] << 24;
	if (*len > r->n - 6)
		return -1;
	*v = r->p + 6;
	r->p += 6 + *len;
	r->n -= 6 + (size_t)*len;
	return 1;
}

static int get_u64(const uint8_t *v, uint32_t len, uint64_t *out)
{
	if (len != 8)
		return -1;
	uint64_t x = 0;
	for (int i = 7; i >= 0; i--)
		x = x << 8 | v[i];
	*out = x;
	return 0;
}

/* A string field: no NUL, at most max octets; replaces *dst. */
static int get_str(const uint8_t *v, uint32_t len, size_t max, char **dst)
{
	if (len > max || memchr(v, 0, len))
		return -1;
	xfree(*dst);
	*dst = xstrndup((const char *)v, len);
	return 0;
}

static int fail(char *err, size_t errlen, const char *what, uint16_t tag)
{
	snprintf(err, errlen, "%s (field %u)", what, (unsigned)tag);
	return -1;
}

/* ------------------------------------------------------------ requests */

void spm_req_encode(const struct scan_proc_job *job, int type, uint64_t id, struct buf *out)
{
	size_t at = begin_frame(out, (uint8_t)type);
	put_u64(out, T_ID, id);
	put_u64(out, T_OFF, job->off);
	put_u64(out, T_LEN, job->len);
	put_str(out, T_QID, job->qid);
	put_str(out, T_CLIENT_IP, job->client_ip);
	put_str(out, T_HELO, job->helo);
	put_str(out, T_SENDER, job->sender);
	for (size_t i = 0; i < job->nrcpt; i++)
		put_str(out, T_RCPT, job->rcpt[i]);
	if (job->report) {
		struct buf r;
		buf_init(&r);
		scan_report_encode(job->report, &r);
		put_bytes(out, T_REPORT, r.data, r.len);
		buf_fini(&r);
	}
	end_frame(out, at);
}

int spm_req_decode(const uint8_t *p, size_t n, struct spm_req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (n < 1 || (p[0] != SPM_SCAN && p[0] != SPM_APPLY)) {
		snprintf(err, errlen, "not a request");
		return -1;
	}
	r->type = p[0];
	struct rd rd = { p + 1, n - 1 };
	uint16_t tag;
	const uint8_t *v;
	uint32_t len;
	int k;
	size_t cap = 0;
	while ((k = next(&rd, &tag, &v, &len)) > 0) {
		int rc = 0;
		switch (tag) {
		case T_ID: rc = get_u64(v, len, &r->id); break;
		case T_OFF: rc = get_u64(v, len, &r->off); break;
		case T_LEN: rc = get_u64(v, len, &r->len); break;
		case T_QID: rc = get_str(v, len, SPM_STR_MAX, &r->qid); break;
		case T_CLIENT_IP: rc = get_str(v, len, SPM_STR_MAX, &r->client_ip); break;
		case T_HELO: rc = get_str(v, len, SPM_STR_MAX, &r->helo); break;
		case T_SENDER: rc = get_str(v, len, SPM_STR_MAX, &r->sender); break;
		case T_REPORT: rc = get_str(v, len, SPM_REPORT_MAX, &r->report); break;
		case T_RCPT:
			if (r->nrcpt >= SPM_RCPT_MAX)
				return fail(err, errlen, "too many recipients", tag);
			r->rcpt = xgrow(r->rcpt, &cap, r->nrcpt + 1, sizeof *r->rcpt);
			r->rcpt[r->nrcpt] = NULL;
			rc = get_str(v, len, SPM_STR_MAX, &r->rcpt[r->nrcpt]);
			if (rc == 0)
				r->nrcpt++;
			break;
		default: return fail(err, errlen, "unknown field", tag);
		}
		if (rc < 0)
			return fail(err, errlen, "bad field", tag);
	}
	if (k < 0) {
		snprintf(err, errlen, "truncated field");
		return -1;
	}
	return 0;
}

void spm_req_fini(struct spm_req *r)
{
	xfree(r->qid);
	xfree(r->client_ip);
	xfree(r->helo);
	xfree(r->sender);
	for (size_t i = 0; i < r->nrcpt; i++)
		xfree(r->rcpt[i]);
	xfree(r->rcpt);
	xfree(r->report);
	memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------ answers */

void spm_ans_encode(const struct spm_ans *a, struct buf *out)
{
	size_t at = begin_frame(out, SPM_ANSWER);
	put_u64(out, T_ID, a->id);
	put_u64(out, T_TEMPFAIL, a->tempfail);
	put_u64(out, T_TIMEOUT, a->timeout);
	put_str(out, T_ERROR, a->error);
	put_str(out, T_REPORT, a->report);
	put_u64(out, T_FLAGS, a->flags);
	put_u64(out, T_CHANGED, a->changed);
	put_u64(out, T_CLEANED, a->cleaned);
	for (size_t i = 0; i < a->edits.n; i++) {
		const struct mail_edit *x = &a->edits.v[i];
		put_hdr(out, T_EDIT, (uint32_t)(16 + x->tlen));
		uint8_t num[16];
		for (int k = 0; k < 8; k++) {
			num[k] = (uint8_t)(x->off >> (8 * k));
			num[8 + k] = (uint8_t)(x->len >> (8 * k));
		}
		buf_append(out, num, sizeof num);
		buf_append(out, x->text, x->tlen);
	}
	end_frame(out, at);
}

static int get_flag(const uint8_t *v, uint32_t len, bool *out)
{
	uint64_t x;
	if (get_u64(v, len, &x) < 0 || x > 1)
		return -1;
	*out = x == 1;
	return 0;
}

static int get_edit(const uint8_t *v, uint32_t len, struct mail_edits *e)
{
	uint64_t off, l;
	if (len < 16 || get_u64(v, 8, &off) < 0 || get_u64(v + 8, 8, &l) < 0 || e->n >= MAIL_EDITS_MAX)
		return -1;
	e->v = xgrow(e->v, &e->cap, e->n + 1, sizeof *e->v);
	struct mail_edit *x = &e->v[e->n++];
	x->off = off;
	x->len = l;
	x->tlen = len - 16;
	x->text = xmalloc(x->tlen + 1);
	memcpy(x->text, v + 16, x->tlen);
	x->text[x->tlen] = '\0';
	return 0;
}

int spm_ans_decode(const uint8_t *p, size_t n, struct spm_ans *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	if (n < 1 || p[0] != SPM_ANSWER) {
		snprintf(err, errlen, "not an answer");
		return -1;
	}
	struct rd rd = { p + 1, n - 1 };
	uint16_t tag;
	const uint8_t *v;
	uint32_t len;
	int k;
	while ((k = next(&rd, &tag, &v, &len)) > 0) {
		int rc = 0;
		uint64_t x = 0;
		switch (tag) {
		case T_ID: rc = get_u64(v, len, &a->id); break;
		case T_TEMPFAIL: rc = get_flag(v, len, &a->tempfail); break;
		case T_TIMEOUT: rc = get_flag(v, len, &a->timeout); break;
		case T_CHANGED: rc = get_flag(v, len, &a->changed); break;
		case T_ERROR: rc = get_str(v, len, SPM_STR_MAX, &a->error); break;
		case T_REPORT: rc = get_str(v, len, SPM_REPORT_MAX, &a->report); break;
		case T_FLAGS:
			rc = get_u64(v, len, &x) < 0 || x > 0xffff ? -1 : 0;
			a->flags = (unsigned)x;
			break;
		case T_CLEANED:
			rc = get_u64(v, len, &x) < 0 || x > MAIL_EDITS_MAX ? -1 : 0;
			a->cleaned = (uint32_t)x;
			break;
		case T_EDIT: rc = get_edit(v, len, &a->edits); break;
		default: return fail(err, errlen, "unknown field", tag);
		}
		if (rc < 0)
			return fail(err, errlen, "bad field", tag);
	}
	if (k < 0) {
		snprintf(err, errlen, "truncated field");
		return -1;
	}
	return 0;
}

void spm_ans_fini(struct spm_ans *a)
{
	xfree(a->error);
	xfree(a->report);
	mail_edits_fini(&a->edits);
	memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------ death note */

void spm_death_build(uint8_t out[4 + SPM_DEATH_LEN], uint32_t reason, int32_t sysno)
{
	uint32_t s = (uint32_t)sysno;
	out[0] = SPM_DEATH_LEN;
	out[1] = out[2] = out[3] = 0;
	out[4] = SPM_DEATH;
	for (int i = 0; i < 4; i++) {
		out[5 + i] = (uint8_t)(reason >> (8 * i));
		out[9 + i] = (uint8_t)(s >> (8 * i));
	}
}

int spm_death_decode(const uint8_t *p, size_t n, uint32_t *reason, int32_t *sysno)
{
	if (n != SPM_DEATH_LEN || p[0] != SPM_DEATH)
		return -1;
	uint32_t r = 0, s = 0;
	for (int i = 3; i >= 0; i--) {
		r = r << 8 | p[1 + i];
		s = s << 8 | p[5 + i];
	}
	*reason = r;
	*sysno = (int32_t)s;
	return 0;
}

/* ------------------------------------------------------------ settings */

enum ftype { F_STR, F_INT, F_U64, F_DBL, F_BOOL, F_UINT };
struct field {
	enum ftype t;
	size_t off;
};
#define S(f) offsetof(struct scan_proc_settings, f)
/* The position in this table is the field's number on the wire (T_SET + i). */
static const struct field fields[] = {
	{ F_STR, S(scan.virus_scanner) },   { F_STR, S(scan.virus_tmpdir) },	 { F_STR, S(scan.spam_scanner) },
	{ F_STR, S(scan.spam_rules) },	    { F_STR, S(scan.access_map) },	 { F_DBL, S(scan.spam_threshold) },
	{ F_DBL, S(scan.spam_high_threshold) }, { F_INT, S(scan.dnsbl_threshold) }, { F_INT, S(scan.timeout_ms) },
	{ F_U64, S(scan.spam_max_size) },   { F_U64, S(scan.virus_max_size) },
	{ F_STR, S(policy.actions[0]) },    { F_STR, S(policy.actions[1]) },	 { F_STR, S(policy.actions[2]) },
	{ F_STR, S(policy.actions[3]) },    { F_STR, S(policy.actions[4]) },	 { F_STR, S(policy.actions[5]) },
	{ F_STR, S(policy.tag[0]) },	    { F_STR, S(policy.tag[1]) },	 { F_STR, S(policy.tag[2]) },
	{ F_STR, S(policy.tag[3]) },	    { F_STR, S(policy.tag[4]) },	 { F_STR, S(policy.tag[5]) },
	{ F_BOOL, S(policy.tag_subject) },  { F_BOOL, S(policy.tag_at_end) },	 { F_BOOL, S(policy.headers_on_clean) },
	{ F_BOOL, S(policy.before_queue) }, { F_STR, S(policy.header_prefix) }, { F_STR, S(policy.spam_prefix) },
	{ F_STR, S(policy.hostname) },
	{ F_INT, S(proc.processes) },	    { F_STR, S(proc.user) },		 { F_INT, S(proc.timeout_ms) },
	{ F_U64, S(proc.memory_limit) },    { F_INT, S(proc.cpu_limit_s) },	 { F_UINT, S(proc.max_scans) },
	{ F_BOOL, S(proc.sandbox) },	    { F_BOOL, S(proc.net) },
};
#undef S
#define NFIELDS (sizeof fields / sizeof fields[0])
_Static_assert(SCAN_NCAT == 6, "the settings table lists six categories");

void spm_load_encode(const struct scan_proc_settings *s, unsigned gen, struct buf *out)
{
	buf_putc(out, SPM_LOAD);
	put_u64(out, T_GEN, gen);
	const char *base = (const char *)s;
	for (size_t i = 0; i < NFIELDS; i++) {
		const void *f = base + fields[i].off;
		uint16_t tag = (uint16_t)(T_SET + i);
		uint64_t v = 0;
		switch (fields[i].t) {
		case F_STR: put_str(out, tag, *(const char *const *)f); continue;
		case F_INT: v = (uint64_t)(int64_t)*(const int *)f; break;
		case F_UINT: v = *(const unsigned *)f; break;
		case F_U64: v = *(const uint64_t *)f; break;
		case F_DBL: memcpy(&v, f, sizeof v); break;
		case F_BOOL: v = *(const bool *)f; break;
		}
		put_u64(out, tag, v);
	}
}

int spm_load_decode(const uint8_t *p, size_t n, struct spm_settings *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof *st);
	if (n < 1 || p[0] != SPM_LOAD) {
		snprintf(err, errlen, "not a load request");
		return -1;
	}
	struct rd rd = { p + 1, n - 1 };
	uint16_t tag;
	const uint8_t *v;
	uint32_t len;
	int k;
	char *base = (char *)&st->s;
	while ((k = next(&rd, &tag, &v, &len)) > 0) {
		uint64_t x = 0;
		if (tag == T_GEN) {
			if (get_u64(v, len, &x) < 0 || x > 0xffffffffu)
				return fail(err, errlen, "bad field", tag);
			st->gen = (unsigned)x;
			continue;
		}
		if (tag < T_SET || tag >= T_SET + NFIELDS)
			return fail(err, errlen, "unknown field", tag);
		const struct field *f = &fields[tag - T_SET];
		void *dst = base + f->off;
		if (f->t == F_STR) {
			char *s = NULL;
			if (st->nowned >= sizeof st->owned / sizeof st->owned[0] || get_str(v, len, SPM_REPORT_MAX, &s) < 0)
				return fail(err, errlen, "bad field", tag);
			st->owned[st->nowned++] = s;
			*(const char **)dst = s;
			continue;
		}
		if (get_u64(v, len, &x) < 0)
			return fail(err, errlen, "bad field", tag);
		switch (f->t) {
		case F_INT: *(int *)dst = (int)(int64_t)x; break;
		case F_UINT: *(unsigned *)dst = (unsigned)x; break;
		case F_U64: *(uint64_t *)dst = x; break;
		case F_DBL: memcpy(dst, &x, sizeof x); break;
		case F_BOOL: *(bool *)dst = x != 0; break;
		case F_STR: break;
		}
	}
	if (k < 0) {
		snprintf(err, errlen, "truncated field");
		return -1;
	}
	return 0;
}

void spm_settings_fini(struct spm_settings *st)
{
	for (size_t i = 0; i < st->nowned; i++)
		xfree(st->owned[i]);
	memset(st, 0, sizeof *st);
}

/* ------------------------------------------------------------ supervisor packets */

void spm_loaded_encode(const struct spm_loaded *l, struct buf *out)
{
	buf_putc(out, SPM_LOADED);
	put_u64(out, T_OK, l->ok);
	if (!l->ok) {
		put_str(out, T_ERR, l->err);
		return;
	}
	put_u64(out, T_GEN, l->info.gen);
	put_u64(out, T_ENABLED, l->info.enabled);
	put_u64(out, T_HAS_AV, l->info.has_av);
	put_u64(out, T_AV_KEPT, l->info.av_kept);
	put_u64(out, T_LOAD_MS, (uint64_t)l->info.load_ms);
	put_str(out, T_DESCRIBE, l->info.describe);
}

/* A string field into a fixed buffer (cut to fit). */
static int get_fixed(const uint8_t *v, uint32_t len, char *dst, size_t size)
{
	if (memchr(v, 0, len))
		return -1;
	size_t k = len < size - 1 ? len : size - 1;
	memcpy(dst, v, k);
	dst[k] = '\0';
	return 0;
}

int spm_loaded_decode(const uint8_t *p, size_t n, struct spm_loaded *l)
{
	memset(l, 0, sizeof *l);
	if (n < 1 || p[0] != SPM_LOADED)
		return -1;
	struct rd rd = { p + 1, n - 1 };
	uint16_t tag;
	const uint8_t *v;
	uint32_t len;
	int k;
	while ((k = next(&rd, &tag, &v, &len)) > 0) {
		uint64_t x = 0;
		int rc = 0;
		if (tag == T_ERR || tag == T_DESCRIBE)
			rc = tag == T_ERR ? get_fixed(v, len, l->err, sizeof l->err)
					  : get_fixed(v, len, l->info.describe, sizeof l->info.describe);
		else if ((rc = get_u64(v, len, &x)) == 0) {
			switch (tag) {
			case T_OK: l->ok = x != 0; break;
			case T_GEN: l->info.gen = (unsigned)x; break;
			case T_ENABLED: l->info.enabled = x != 0; break;
			case T_HAS_AV: l->info.has_av = x != 0; break;
			case T_AV_KEPT: l->info.av_kept = x != 0; break;
			case T_LOAD_MS: l->info.load_ms = (int64_t)x; break;
			default: rc = -1;
			}
		}
		if (rc < 0)
			return -1;
	}
	return k < 0 ? -1 : 0;
}

void spm_scanner_encode(unsigned id, pid_t pid, unsigned gen, struct buf *out)
{
	buf_putc(out, SPM_SCANNER);
	put_u64(out, T_ID, id);
	put_u64(out, T_PID, (uint64_t)pid);
	put_u64(out, T_GEN, gen);
}

/* Numeric fields only: each known tag into its slot of vals. */
static int get_nums(const uint8_t *p, size_t n, int type, const uint16_t *tags, uint64_t *vals, size_t nv)
{
	if (n < 1 || p[0] != type)
		return -1;
	struct rd rd = { p + 1, n - 1 };
	uint16_t tag;
	const uint8_t *v;
	uint32_t len;
	int k;
	while ((k = next(&rd, &tag, &v, &len)) > 0) {
		size_t i = 0;
		while (i < nv && tags[i] != tag)
			i++;
		if (i == nv || get_u64(v, len, &vals[i]) < 0)
			return -1;
	}
	return k < 0 ? -1 : 0;
}

int spm_scanner_decode(const uint8_t *p, size_t n, unsigned *id, pid_t *pid, unsigned *gen)
{
	static const uint16_t tags[] = { T_ID, T_PID, T_GEN };
	uint64_t v[3] = { 0, 0, 0 };
	if (get_nums(p, n, SPM_SCANNER, tags, v, 3) < 0 || v[1] == 0 || v[1] > 0x7fffffff)
		return -1;
	*id = (unsigned)v[0];
	*pid = (pid_t)v[1];
	*gen = (unsigned)v[2];
	return 0;
}

void spm_exited_encode(const struct spm_exited *e, struct buf *out)
{
	buf_putc(out, SPM_EXITED);
	put_u64(out, T_ID, e->id);
	put_u64(out, T_PID, (uint64_t)e->pid);
	put_u64(out, T_GEN, e->gen);
	put_u64(out, T_STATUS, (uint64_t)(uint32_t)e->status);
	put_u64(out, T_MAXRSS, (uint64_t)e->maxrss_kb);
	put_u64(out, T_SCANS, e->scans);
}

int spm_exited_decode(const uint8_t *p, size_t n, struct spm_exited *e)
{
	static const uint16_t tags[] = { T_ID, T_PID, T_GEN, T_STATUS, T_MAXRSS, T_SCANS };
	uint64_t v[6] = { 0 };
	if (get_nums(p, n, SPM_EXITED, tags, v, 6) < 0)
		return -1;
	*e = (struct spm_exited){ .id = (unsigned)v[0], .pid = (pid_t)v[1], .gen = (unsigned)v[2],
				  .status = (int)(uint32_t)v[3], .maxrss_kb = (long)v[4], .scans = (unsigned)v[5] };
	return 0;
}

void spm_kill_encode(unsigned id, struct buf *out)
{
	buf_putc(out, SPM_KILL);
	put_u64(out, T_ID, id);
}

int spm_kill_decode(const uint8_t *p, size_t n, unsigned *id)
{
	static const uint16_t tags[] = { T_ID };
	uint64_t v = 0;
	if (get_nums(p, n, SPM_KILL, tags, &v, 1) < 0)
		return -1;
	*id = (unsigned)v;
	return 0;
}
