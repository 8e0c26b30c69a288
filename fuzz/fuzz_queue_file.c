/*
 * fuzz_queue_file.c - libFuzzer target for the queue file format
 * (queue/queue_file.c), read back from disk after crashes and by hand.
 *
 * The input is tried (1) as a whole queue file: header, then the envelope
 * region it names (when its CRC matches) and the status records after it;
 * (2) as bare envelope records; (3) as status records for a three-recipient
 * envelope (and delay-notice W records); (4) as an escaped value. No
 * crash, no leak, and whatever
 * decodes re-encodes to a canonical form that decodes to the same thing.
 */
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "base/crc32.h"
#include "fuzz.h"
#include "mail/mail_env.h"
#include "queue/queue_file.h"

static bool same_opt(const char *a, const char *b)
{
	return (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
}

static void check_same_env(const struct mail_env *a, const struct mail_env *b)
{
	FUZZ_CHECK(strcmp(a->qid, b->qid) == 0 && a->arrival_us == b->arrival_us);
	FUZZ_CHECK(strcmp(a->sender, b->sender) == 0 && strcmp(a->helo, b->helo) == 0);
	FUZZ_CHECK(strcmp(a->client_addr, b->client_addr) == 0 && strcmp(a->client_name, b->client_name) == 0);
	FUZZ_CHECK(strcmp(a->protocol, b->protocol) == 0 && same_opt(a->envid, b->envid));
	FUZZ_CHECK(a->ret == b->ret && a->body == b->body && a->smtputf8 == b->smtputf8 && a->flags == b->flags);
	FUZZ_CHECK(a->nrcpt == b->nrcpt);
	for (size_t i = 0; i < a->nrcpt; i++) {
		FUZZ_CHECK(strcmp(a->rcpt[i].addr, b->rcpt[i].addr) == 0);
		FUZZ_CHECK(same_opt(a->rcpt[i].orcpt, b->rcpt[i].orcpt));
		FUZZ_CHECK(a->rcpt[i].notify == b->rcpt[i].notify);
	}
}

/* A decoded envelope re-encodes canonically; status records round-trip. */
static void roundtrip(const struct mail_env *env)
{
	FUZZ_CHECK(env->nrcpt > 0);
	struct buf enc, enc2, st;
	buf_init(&enc);
	buf_init(&enc2);
	buf_init(&st);
	queue_file_env_encode(env, &enc);
	struct mail_env *d = mail_env_new();
	char err[128] = "";
	int rc = queue_file_env_decode(enc.data, enc.len, d, err, sizeof err);
	if (rc < 0)
		fprintf(stderr, "re-decode failed: %s\n", err);
	FUZZ_CHECK(rc == 0);
	check_same_env(env, d);
	queue_file_env_encode(d, &enc2);
	FUZZ_CHECK(enc.len == enc2.len && memcmp(enc.data, enc2.data, enc.len) == 0);

	for (size_t i = 0; i < env->nrcpt; i++)
		queue_file_status_encode(i, &env->rcpt[i], &st);
	if (env->delay_warned_us)
		queue_file_warned_encode(env, &st);
	FUZZ_CHECK(queue_file_status_apply(st.data, st.len, d) == env->nrcpt + (env->delay_warned_us != 0));
	FUZZ_CHECK(d->delay_warned_us == env->delay_warned_us);
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct mail_rcpt *x = &env->rcpt[i], *y = &d->rcpt[i];
		FUZZ_CHECK(x->state == y->state && x->when_us == y->when_us);
		FUZZ_CHECK(x->has_reply == y->has_reply);
		if (x->has_reply && x->reply.code > 0) {
			FUZZ_CHECK(x->reply.code == y->reply.code);
			FUZZ_CHECK(strcmp(x->reply.enh, y->reply.enh) == 0 && strcmp(x->reply.text, y->reply.text) == 0);
		}
	}
	mail_env_free(&d);
	buf_fini(&enc);
	buf_fini(&enc2);
	buf_fini(&st);
}

static size_t count_nl(const char *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	char err[128];

	/* (1) a whole queue file */
	struct queue_hdr h;
	if (queue_file_hdr_decode(p, size, &h) == 0) {
		char canon[QUEUE_HDR_SIZE];
		queue_file_hdr_encode(&h, canon);
		FUZZ_CHECK(memcmp(canon, p, QUEUE_HDR_SIZE) == 0);
		FUZZ_CHECK(h.body_off == QUEUE_BODY_OFF && h.env_off == h.body_off + h.body_len);
		FUZZ_CHECK(h.env_len > 0 && h.env_len <= QUEUE_ENV_MAX);
		if (h.env_off <= size && h.env_len <= size - h.env_off &&
		    crc32_update(0, p + h.env_off, h.env_len) == h.env_crc) {
			struct mail_env *env = mail_env_new();
			if (queue_file_env_decode(p + h.env_off, h.env_len, env, err, sizeof err) == 0) {
				size_t so = h.env_off + h.env_len;
				size_t n = queue_file_status_apply(p + so, size - so, env);
				FUZZ_CHECK(n <= count_nl(p + so, size - so));
				roundtrip(env);
			}
			mail_env_free(&env);
		}
	}

	/* (2) bare envelope records */
	struct mail_env *env = mail_env_new();
	err[0] = '\0';
	if (queue_file_env_decode(p, size, env, err, sizeof err) == 0) {
		FUZZ_CHECK(memchr(env->qid, '\0', sizeof env->qid) != NULL);
		FUZZ_CHECK(env->nrcpt > 0);
		size_t n = queue_file_status_apply(p, size, env);
		FUZZ_CHECK(n <= count_nl(p, size));
		roundtrip(env);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	mail_env_free(&env);

	/* (3) status records for a fixed envelope */
	env = mail_env_new();
	mail_env_add_rcpt(env, "a@x", NULL, 0);
	mail_env_add_rcpt(env, "b@x", "rfc822;b@x", MAIL_NOTIFY_FAILURE);
	mail_env_add_rcpt(env, "c@x", NULL, 0);
	size_t n = queue_file_status_apply(p, size, env);
	FUZZ_CHECK(n <= count_nl(p, size));
	for (size_t i = 0; i < env->nrcpt; i++) {
		FUZZ_CHECK(env->rcpt[i].state <= MAIL_RCPT_FAILED);
		FUZZ_CHECK(env->rcpt[i].reply.code >= 0 && env->rcpt[i].reply.code <= 599);
		FUZZ_CHECK(memchr(env->rcpt[i].reply.text, '\0', sizeof env->rcpt[i].reply.text) != NULL);
	}
	if (n == 0)
		FUZZ_CHECK(mail_env_pending(env) == 3 && env->rcpt[0].when_us == 0);
	mail_env_free(&env);

	/* (4) an escaped value: unescape, escape, unescape is stable */
	size_t vl = size < 4096 ? size : 4096;
	struct buf v, esc, v2;
	buf_init(&v);
	buf_init(&esc);
	buf_init(&v2);
	if (queue_file_unescape(p, vl, &v) == 0) {
		FUZZ_CHECK(v.data && strlen(v.data) == v.len); /* never a NUL inside */
		queue_file_escape(v.data, &esc);
		for (size_t i = 0; i < esc.len; i++) {
			unsigned char c = (unsigned char)esc.data[i];
			FUZZ_CHECK(c > 0x20 && c != 0x7f);
		}
		FUZZ_CHECK(queue_file_unescape(esc.data, esc.len, &v2) == 0);
		FUZZ_CHECK(v2.len == v.len && memcmp(v2.data, v.data, v.len) == 0);
	}
	buf_fini(&v);
	buf_fini(&esc);
	buf_fini(&v2);
	return 0;
}
