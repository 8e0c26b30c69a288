/*
 * queue_file.c - queue file encode/decode.
 *
 * Envelope records ("K value" lines; values escaped):
 *   V 1                    format version
 *   Q qid   T arrival_us   S sender ("" = <>)   H helo   A client_addr
 *   N client_name   P protocol   I envid   X FULL|HDRS   B 7BIT|8BITMIME|BINARYMIME
 *   U (SMTPUTF8)   F flags
 *   R notify orcpt|- addr  one per recipient; its index is its order
 *   M mailer               after an R: the mailer value routing recorded for it
 *   E                      end
 * Status record:  D idx state when_us code enh text crc32
 *   state: P pending (last reply was temporary), D delivered, F failed
 * Delay-notice record:  W when_us crc32   (a "delayed" DSN was queued)
 */
#include "queue/queue_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/crc32.h"
#include "base/str.h"

void queue_file_escape(const char *s, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!*s) {
		buf_putc(out, '%'); /* "%" alone = empty value */
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == '%' || c == 0x7f) {
			char t[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_append(out, t, 3);
		} else {
			buf_putc(out, (char)c);
		}
	}
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int queue_file_unescape(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	if (len == 1 && s[0] == '%') {
		buf_reserve(out, 0);
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len)
				return -1;
			int a = hexv(s[i + 1]), b = hexv(s[i + 2]);
			if (a < 0 || b < 0)
				return -1;
			char c = (char)(a * 16 + b);
			if (c == 0)
				return -1;
			buf_putc(out, c);
			i += 2;
		} else {
			/* the escaper never writes these raw; a raw NUL would cut the value */
			unsigned char r = (unsigned char)s[i];
			if (r <= 0x20 || r == 0x7f)
				return -1;
			buf_putc(out, s[i]);
		}
	}
	buf_reserve(out, 0);
	return 0;
}

static void rec(struct buf *out, char k, const char *v)
{
	buf_putc(out, k);
	buf_putc(out, ' ');
	queue_file_escape(v, out);
	buf_putc(out, '\n');
}

static const char *body_names[] = { "", "7BIT", "8BITMIME", "BINARYMIME" };

void queue_file_env_encode(const struct mail_env *env, struct buf *out)
{
	buf_puts(out, "V 1\n");
	rec(out, 'Q', env->qid);
	buf_printf(out, "T %" PRId64 "\n", env->arrival_us);
	rec(out, 'S', env->sender);
	rec(out, 'H', env->helo);
	rec(out, 'A', env->client_addr);
	rec(out, 'N', env->client_name);
	rec(out, 'P', env->protocol);
	if (env->envid)
		rec(out, 'I', env->envid);
	if (env->ret)
		rec(out, 'X', env->ret == MAIL_RET_FULL ? "FULL" : "HDRS");
	if (env->body)
		rec(out, 'B', body_names[env->body]);
	if (env->smtputf8)
		buf_puts(out, "U 1\n");
	if (env->flags)
		buf_printf(out, "F %u\n", env->flags);
	if (env->scan)
		rec(out, 'C', env->scan);
	if (env->bayes)
		rec(out, 'L', env->bayes);
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct mail_rcpt *r = &env->rcpt[i];
		buf_printf(out, "R %u ", r->notify);
		if (r->orcpt && strcmp(r->orcpt, "-") == 0)
			buf_puts(out, "%2D"); /* a bare "-" means "no ORCPT" */
		else if (r->orcpt)
			queue_file_escape(r->orcpt, out);
		else
			buf_putc(out, '-');
		buf_putc(out, ' ');
		queue_file_escape(r->addr, out);
		buf_putc(out, '\n');
		if (r->route)
			rec(out, 'M', r->route);
	}
	buf_puts(out, "E\n");
}

void queue_file_hdr_encode(const struct queue_hdr *h, char out[QUEUE_HDR_SIZE])
{
	memset(out, ' ', QUEUE_HDR_SIZE);
	char tmp[QUEUE_HDR_SIZE];
	int n = snprintf(tmp, sizeof tmp, "MXQ1 b=%" PRIu64 ":%" PRIu64 " e=%" PRIu64 ":%" PRIu64 " c=%08" PRIx32,
			 h->body_off, h->body_len, h->env_off, h->env_len, h->env_crc);
	memcpy(out, tmp, (size_t)n);
	out[QUEUE_HDR_SIZE - 1] = '\n';
}

int queue_file_hdr_decode(const char *p, size_t len, struct queue_hdr *h)
{
	char tmp[QUEUE_HDR_SIZE + 1];
	if (len < QUEUE_HDR_SIZE || p[QUEUE_HDR_SIZE - 1] != '\n' || memcmp(p, "MXQ1 ", 5) != 0)
		return -1;
	memcpy(tmp, p, QUEUE_HDR_SIZE);
	tmp[QUEUE_HDR_SIZE - 1] = '\0';
	if (memchr(tmp, '\0', QUEUE_HDR_SIZE - 1))
		return -1;
	uint64_t bo, bl, eo, el;
	uint32_t crc;
	int used = 0;
	if (sscanf(tmp, "MXQ1 b=%" SCNu64 ":%" SCNu64 " e=%" SCNu64 ":%" SCNu64 " c=%8" SCNx32 "%n", &bo, &bl, &eo, &el,
		   &crc, &used) != 5)
		return -1;
	for (const char *q = tmp + used; *q; q++) {
		if (*q != ' ')
			return -1;
	}
	if (bo != QUEUE_BODY_OFF || bl > UINT64_MAX - bo || eo != bo + bl || el == 0 || el > QUEUE_ENV_MAX)
		return -1;
	/* sscanf also takes signs ("b=128:-1" wraps), "0x", leading zeros and
	 * extra spaces: accept only exactly what the encoder writes */
	struct queue_hdr canon_h = { bo, bl, eo, el, crc };
	char canon[QUEUE_HDR_SIZE];
	queue_file_hdr_encode(&canon_h, canon);
	if (memcmp(canon, p, QUEUE_HDR_SIZE) != 0)
		return -1;
	h->body_off = bo;
	h->body_len = bl;
	h->env_off = eo;
	h->env_len = el;
	h->env_crc = crc;
	return 0;
}

static char *dup_val(struct mail_env *env, struct buf *tmp, const char *v, size_t vl, int *bad)
{
	if (queue_file_unescape(v, vl, tmp) < 0) {
		*bad = 1;
		return mail_env_strdup(env, "");
	}
	return mail_env_strdup(env, tmp->data ? tmp->data : "");
}

int queue_file_env_decode(const char *p, size_t len, struct mail_env *env, char *err, size_t errlen)
{
	struct buf tmp;
	buf_init(&tmp);
	int bad = 0, have_v = 0, have_e = 0, have_q = 0, have_t = 0;
	const char *end = p + len;
	while (p < end && !have_e) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			snprintf(err, errlen, "envelope: unterminated record");
			goto fail;
		}
		size_t ll = (size_t)(nl - p);
		const char *line = p;
		p = nl + 1;
		if (ll == 0 || (ll > 1 && line[1] != ' ')) {
			snprintf(err, errlen, "envelope: malformed record");
			goto fail;
		}
		const char *v = ll > 2 ? line + 2 : "";
		size_t vl = ll > 2 ? ll - 2 : 0;
		switch (line[0]) {
		case 'V':
			if (vl != 1 || v[0] != '1') {
				snprintf(err, errlen, "envelope: unsupported version");
				goto fail;
			}
			have_v = 1;
			break;
		case 'Q': {
			char *q = dup_val(env, &tmp, v, vl, &bad);
			str_copy(env->qid, sizeof env->qid, q);
			have_q = 1;
			break;
		}
		case 'T': {
			char n[24];
			uint64_t t;
			if (str_ncopy(n, sizeof n, v, vl) < 0 || str_to_u64(n, &t) < 0 || t > INT64_MAX) {
				snprintf(err, errlen, "envelope: bad arrival time");
				goto fail;
			}
			env->arrival_us = (int64_t)t;
			have_t = 1;
			break;
		}
		case 'S': env->sender = dup_val(env, &tmp, v, vl, &bad); break;
		case 'H': env->helo = dup_val(env, &tmp, v, vl, &bad); break;
		case 'A': env->client_addr = dup_val(env, &tmp, v, vl, &bad); break;
		case 'N': env->client_name = dup_val(env, &tmp, v, vl, &bad); break;
		case 'P': env->protocol = dup_val(env, &tmp, v, vl, &bad); break;
		case 'I': env->envid = dup_val(env, &tmp, v, vl, &bad); break;
		case 'X':
			if (str_ncaseeq(v, vl, "FULL"))
				env->ret = MAIL_RET_FULL;
			else if (str_ncaseeq(v, vl, "HDRS"))
				env->ret = MAIL_RET_HDRS;
			else
				bad = 1;
			break;
		case 'B':
			env->body = MAIL_BODY_NONE;
			for (int i = 1; i < 4; i++) {
				if (str_ncaseeq(v, vl, body_names[i]))
					env->body = (enum mail_body_type)i;
			}
			if (env->body == MAIL_BODY_NONE)
				bad = 1;
			break;
		case 'U': env->smtputf8 = true; break;
		case 'F': {
			char n[16];
			uint64_t f;
			if (str_ncopy(n, sizeof n, v, vl) < 0 || str_to_u64(n, &f) < 0 || f > 0xffff)
				bad = 1;
			else
				env->flags = (unsigned)f;
			break;
		}
		case 'R': {
			/* "notify orcpt addr" */
			const char *s1 = memchr(v, ' ', vl);
			const char *s2 = s1 ? memchr(s1 + 1, ' ', (size_t)(v + vl - s1 - 1)) : NULL;
			char n[8];
			uint64_t nf;
			if (!s2 || str_ncopy(n, sizeof n, v, (size_t)(s1 - v)) < 0 || str_to_u64(n, &nf) < 0 || nf > 15) {
				snprintf(err, errlen, "envelope: malformed recipient");
				goto fail;
			}
			const char *o = s1 + 1;
			size_t ol = (size_t)(s2 - o);
			char *orcpt = NULL;
			if (!(ol == 1 && o[0] == '-'))
				orcpt = dup_val(env, &tmp, o, ol, &bad);
			char *addr = dup_val(env, &tmp, s2 + 1, (size_t)(v + vl - s2 - 1), &bad);
			if (!addr[0])
				bad = 1;
			mail_env_add_rcpt(env, addr, orcpt, (unsigned)nf);
			break;
		}
		case 'M':
			/* the mailer value (route) of the recipient just before (set when processing
			 * expanded aliases); a route without its recipient is damage */
			if (env->nrcpt == 0 || env->rcpt[env->nrcpt - 1].route)
				bad = 1;
			else
				env->rcpt[env->nrcpt - 1].route = dup_val(env, &tmp, v, vl, &bad);
			break;
		case 'C': env->scan = dup_val(env, &tmp, v, vl, &bad); break;
		case 'L': env->bayes = dup_val(env, &tmp, v, vl, &bad); break;
		case 'E': have_e = 1; break;
		default:
			snprintf(err, errlen, "envelope: unknown record '%c'", line[0]);
			goto fail;
		}
		if (bad) {
			snprintf(err, errlen, "envelope: bad value in '%c' record", line[0]);
			goto fail;
		}
	}
	if (!have_v || !have_e || !have_q || !have_t || env->nrcpt == 0) {
		snprintf(err, errlen, "envelope: incomplete");
		goto fail;
	}
	buf_fini(&tmp);
	return 0;
fail:
	buf_fini(&tmp);
	return -1;
}

/* End the status record that starts at out[start]: " crc32\n" of its text. */
static void rec_end(struct buf *out, size_t start)
{
	uint32_t crc = crc32_update(0, out->data + start, out->len - start);
	buf_printf(out, " %08" PRIx32 "\n", crc);
}

void queue_file_status_encode(size_t idx, const struct mail_rcpt *r, struct buf *out)
{
	size_t start = out->len;
	char st = r->state == MAIL_RCPT_DELIVERED ? 'D' : r->state == MAIL_RCPT_FAILED ? 'F' : 'P';
	buf_printf(out, "D %zu %c %" PRId64 " %d ", idx, st, r->when_us, r->has_reply ? r->reply.code : 0);
	queue_file_escape(r->has_reply && r->reply.enh[0] ? r->reply.enh : "", out);
	buf_putc(out, ' ');
	queue_file_escape(r->has_reply ? r->reply.text : "", out);
	rec_end(out, start);
}

void queue_file_warned_encode(const struct mail_env *env, struct buf *out)
{
	size_t start = out->len;
	buf_printf(out, "W %" PRId64, env->delay_warned_us);
	rec_end(out, start);
}

void queue_file_scan_attempt_encode(int delta, struct buf *out)
{
	size_t start = out->len;
	buf_printf(out, "A %+d", delta > 0 ? 1 : -1);
	rec_end(out, start);
}

/* "W when_us" (CRC already checked and cut off). */
static bool apply_warned(char **f, size_t n, struct mail_env *env)
{
	uint64_t when;
	if (n != 2 || str_to_u64(f[1], &when) < 0 || when == 0 || when > INT64_MAX)
		return false;
	env->delay_warned_us = (int64_t)when;
	return true;
}

size_t queue_file_status_apply(const char *p, size_t len, struct mail_env *env)
{
	size_t applied = 0;
	const char *end = p + len;
	struct buf tmp;
	buf_init(&tmp);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break; /* torn last record */
		size_t ll = (size_t)(nl - p);
		char line[2048];
		if (ll < 12 || ll >= sizeof line)
			break;
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = nl + 1;
		char *sp = strrchr(line, ' ');
		uint32_t crc;
		if (!sp || sscanf(sp + 1, "%8" SCNx32, &crc) != 1 || strlen(sp + 1) != 8 ||
		    crc32_update(0, line, (size_t)(sp - line)) != crc)
			break;
		*sp = '\0';
		char *f[8];
		size_t n = str_split(line, " ", f, 8);
		if (n == 2 && strcmp(f[0], "A") == 0 && (strcmp(f[1], "+1") == 0 || strcmp(f[1], "-1") == 0)) {
			env->scan_attempts += f[1][0] == '+' ? 1 : -1;
			if (env->scan_attempts < 0)
				env->scan_attempts = 0;
			applied++;
			continue;
		}
		if (n > 0 && strcmp(f[0], "W") == 0) {
			if (!apply_warned(f, n, env))
				break;
			applied++;
			continue;
		}
		uint64_t idx, when, code;
		if (n != 7 || strcmp(f[0], "D") != 0 || str_to_u64(f[1], &idx) < 0 || idx >= env->nrcpt ||
		    f[2][1] != '\0' || str_to_u64(f[3], &when) < 0 || when > INT64_MAX || str_to_u64(f[4], &code) < 0 ||
		    code > 599)
			break;
		enum mail_rcpt_state st;
		switch (f[2][0]) {
		case 'D': st = MAIL_RCPT_DELIVERED; break;
		case 'F': st = MAIL_RCPT_FAILED; break;
		case 'P': st = MAIL_RCPT_PENDING; break;
		default: goto out;
		}
		/* decode everything before changing r: a bad record changes nothing */
		char enh[sizeof env->rcpt[0].reply.enh];
		if (queue_file_unescape(f[5], strlen(f[5]), &tmp) < 0)
			goto out;
		str_copy(enh, sizeof enh, tmp.data ? tmp.data : "");
		if (queue_file_unescape(f[6], strlen(f[6]), &tmp) < 0)
			goto out;
		struct mail_rcpt *r = &env->rcpt[idx];
		r->state = st;
		r->when_us = (int64_t)when;
		r->has_reply = code != 0;
		r->reply.code = (int)code;
		str_copy(r->reply.enh, sizeof r->reply.enh, enh);
		str_copy(r->reply.text, sizeof r->reply.text, tmp.data ? tmp.data : "");
		applied++;
	}
out:
	buf_fini(&tmp);
	return applied;
}
