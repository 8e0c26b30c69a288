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
	T_TEMPFAIL = 20, T_TIMEOUT, T_ERROR, T_FLAGS, T_CHANGED, T_CLEANED, T_EDIT, T_LEARN,
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

/* One field of a message: 0 taken, -1 bad value, -2 a tag this message does not have. */
typedef int (*field_fn)(void *ctx, uint16_t tag, const uint8_t *v, uint32_t len);

/* Walk the fields of a payload of the given type (first octet) through fn.
 * 0, or -1 with the reason in err (err may be NULL). */
static int decode(const uint8_t *p, size_t n, int type, field_fn fn, void *ctx, char *err, size_t errlen)
{
	char dummy[8];
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	if (n < 1 || p[0] != type) {
		snprintf(err, errlen, "not a message of type %d", type);
		return -1;
	}
	struct rd rd = { p + 1, n - 1 };
	uint16_t tag;
	const uint8_t *v;
	uint32_t len;
	int k;
	while ((k = next(&rd, &tag, &v, &len)) > 0) {
		int rc = fn(ctx, tag, v, len);
		if (rc < 0) {
			snprintf(err, errlen, "%s (field %u)", rc == -2 ? "unknown field" : "bad field", (unsigned)tag);
			return -1;
		}
	}
	if (k < 0) {
		snprintf(err, errlen, "truncated field");
		return -1;
	}
	return 0;
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

static int req_field(void *ctx, uint16_t tag, const uint8_t *v, uint32_t len)
{
	struct spm_req *r = ctx;
	switch (tag) {
	case T_ID: return get_u64(v, len, &r->id);
	case T_OFF: return get_u64(v, len, &r->off);
	case T_LEN: return get_u64(v, len, &r->len);
	case T_QID: return get_str(v, len, SPM_STR_MAX, &r->qid);
	case T_CLIENT_IP: return get_str(v, len, SPM_STR_MAX, &r->client_ip);
	case T_HELO: return get_str(v, len, SPM_STR_MAX, &r->helo);
	case T_SENDER: return get_str(v, len, SPM_STR_MAX, &r->sender);
	case T_REPORT: return get_str(v, len, SPM_REPORT_MAX, &r->report);
	case T_RCPT:
		if (r->nrcpt >= SPM_RCPT_MAX)
			return -1;
		r->rcpt = xrealloc(r->rcpt, (r->nrcpt + 1) * sizeof *r->rcpt);
		r->rcpt[r->nrcpt] = NULL;
		if (get_str(v, len, SPM_STR_MAX, &r->rcpt[r->nrcpt]) < 0)
			return -1;
		r->nrcpt++;
		return 0;
	default: return -2;
	}
}

int spm_req_decode(const uint8_t *p, size_t n, struct spm_req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (n >= 1 && p[0] == SPM_APPLY)
		r->type = SPM_APPLY;
	else
		r->type = SPM_SCAN;
	return decode(p, n, r->type, req_field, r, err, errlen);
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
	if (a->learn)
		put_str(out, T_LEARN, a->learn);
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

static int ans_field(void *ctx, uint16_t tag, const uint8_t *v, uint32_t len)
{
	struct spm_ans *a = ctx;
	uint64_t x = 0;
	switch (tag) {
	case T_ID: return get_u64(v, len, &a->id);
	case T_TEMPFAIL: return get_flag(v, len, &a->tempfail);
	case T_TIMEOUT: return get_flag(v, len, &a->timeout);
	case T_CHANGED: return get_flag(v, len, &a->changed);
	case T_ERROR: return get_str(v, len, SPM_STR_MAX, &a->error);
	case T_REPORT: return get_str(v, len, SPM_REPORT_MAX, &a->report);
	case T_LEARN: return get_str(v, len, SPM_LEARN_MAX, &a->learn);
	case T_FLAGS:
		if (get_u64(v, len, &x) < 0 || x > 0xffff)
			return -1;
		a->flags = (unsigned)x;
		return 0;
	case T_CLEANED:
		if (get_u64(v, len, &x) < 0 || x > MAIL_EDITS_MAX)
			return -1;
		a->cleaned = (uint32_t)x;
		return 0;
	case T_EDIT: return get_edit(v, len, &a->edits);
	default: return -2;
	}
}

int spm_ans_decode(const uint8_t *p, size_t n, struct spm_ans *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	return decode(p, n, SPM_ANSWER, ans_field, a, err, errlen);
}

void spm_ans_fini(struct spm_ans *a)
{
	xfree(a->error);
	xfree(a->report);
	xfree(a->learn);
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
	{ F_BOOL, S(scan.use_bayes) },	    { F_STR, S(scan.bayes_path) },
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

static int load_field(void *ctx, uint16_t tag, const uint8_t *v, uint32_t len)
{
	struct spm_settings *st = ctx;
	uint64_t x = 0;
	if (tag == T_GEN) {
		if (get_u64(v, len, &x) < 0 || x > 0xffffffffu)
			return -1;
		st->gen = (unsigned)x;
		return 0;
	}
	if (tag < T_SET || tag >= T_SET + NFIELDS)
		return -2;
	const struct field *f = &fields[tag - T_SET];
	void *dst = (char *)&st->s + f->off;
	if (f->t == F_STR) {
		char *str = NULL;
		if (st->nowned >= sizeof st->owned / sizeof st->owned[0] || get_str(v, len, SPM_REPORT_MAX, &str) < 0)
			return -1;
		st->owned[st->nowned++] = str;
		*(const char **)dst = str;
		return 0;
	}
	if (get_u64(v, len, &x) < 0)
		return -1;
	switch (f->t) {
	case F_INT: *(int *)dst = (int)(int64_t)x; break;
	case F_UINT: *(unsigned *)dst = (unsigned)x; break;
	case F_U64: *(uint64_t *)dst = x; break;
	case F_DBL: memcpy(dst, &x, sizeof x); break;
	case F_BOOL: *(bool *)dst = x != 0; break;
	case F_STR: break;
	}
	return 0;
}

int spm_load_decode(const uint8_t *p, size_t n, struct spm_settings *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof *st);
	return decode(p, n, SPM_LOAD, load_field, st, err, errlen);
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

static int loaded_field(void *ctx, uint16_t tag, const uint8_t *v, uint32_t len)
{
	struct spm_loaded *l = ctx;
	uint64_t x = 0;
	if (tag == T_ERR)
		return get_fixed(v, len, l->err, sizeof l->err);
	if (tag == T_DESCRIBE)
		return get_fixed(v, len, l->info.describe, sizeof l->info.describe);
	if (get_u64(v, len, &x) < 0)
		return -1;
	switch (tag) {
	case T_OK: l->ok = x != 0; return 0;
	case T_GEN: l->info.gen = (unsigned)x; return 0;
	case T_ENABLED: l->info.enabled = x != 0; return 0;
	case T_HAS_AV: l->info.has_av = x != 0; return 0;
	case T_AV_KEPT: l->info.av_kept = x != 0; return 0;
	case T_LOAD_MS: l->info.load_ms = (int64_t)x; return 0;
	default: return -2;
	}
}

int spm_loaded_decode(const uint8_t *p, size_t n, struct spm_loaded *l)
{
	memset(l, 0, sizeof *l);
	return decode(p, n, SPM_LOADED, loaded_field, l, NULL, 0);
}

void spm_scanner_encode(unsigned id, pid_t pid, unsigned gen, struct buf *out)
{
	buf_putc(out, SPM_SCANNER);
	put_u64(out, T_ID, id);
	put_u64(out, T_PID, (uint64_t)pid);
	put_u64(out, T_GEN, gen);
}

/* Numeric fields only: each known tag into its slot of vals. */
struct nums {
	const uint16_t *tags;
	uint64_t *vals;
	size_t nv;
};

static int num_field(void *ctx, uint16_t tag, const uint8_t *v, uint32_t len)
{
	struct nums *m = ctx;
	for (size_t i = 0; i < m->nv; i++)
		if (m->tags[i] == tag)
			return get_u64(v, len, &m->vals[i]);
	return -2;
}

static int get_nums(const uint8_t *p, size_t n, int type, const uint16_t *tags, uint64_t *vals, size_t nv)
{
	struct nums m = { tags, vals, nv };
	return decode(p, n, type, num_field, &m, NULL, 0);
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
