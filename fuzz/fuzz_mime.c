/*
 * fuzz_mime.c - libFuzzer target for the MIME walk and the cleaner
 * (scan/mime/scan_mime*.c).
 *
 * Input: byte 0 picks the limits (low bits: tiny limits so the cuts are
 * reached) and which part to clean, the rest is the message. Invariants:
 * every text view is NUL-terminated at its length, part data too; limits
 * hold (parts <= max_parts, rawbody bytes <= max_text); cleaning a listed
 * part replaces exactly one part, leaves no bare LF, and the output parses
 * again with a text/plain part saying why at the same number (a uuencoded
 * or embedded block: at its containing part).
 */
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "fuzz.h"
#include "scan/mime/scan_msg.h"

static void check_views(const struct scan_msg *m, const struct scan_mime_limits *lim)
{
	FUZZ_CHECK(m->nbody >= 1);
	FUZZ_CHECK(m->body_off <= m->raw_len);
	size_t raw_text = 0;
	for (size_t i = 0; i < m->nbody; i++)
		FUZZ_CHECK(m->body[i].s && m->body[i].s[m->body[i].len] == '\0');
	for (size_t i = 0; i < m->nrawbody; i++) {
		FUZZ_CHECK(m->rawbody[i].s && m->rawbody[i].s[m->rawbody[i].len] == '\0');
		FUZZ_CHECK(m->rawbody[i].len > 0);
		raw_text += m->rawbody[i].len;
	}
	FUZZ_CHECK(raw_text <= lim->max_text);
	FUZZ_CHECK(m->nparts <= lim->max_parts);
	for (size_t i = 0; i < m->nparts; i++) {
		const struct scan_part *p = &m->parts[i];
		FUZZ_CHECK(p->path && p->ctype && p->data && p->data[p->len] == '\0');
		FUZZ_CHECK(p->depth >= 0 && p->depth <= lim->max_depth);
	}
	for (size_t i = 0; i < m->nhdrs; i++)
		FUZZ_CHECK(m->hdrs[i].name && m->hdrs[i].raw && m->hdrs[i].value);
	for (size_t i = 0; i < m->nuris; i++)
		FUZZ_CHECK(m->uris[i] && m->uris[i][0]);
}

/* The part number that a cleaned path is replaced at. */
static size_t base_len(const char *path)
{
	const char *u = strstr(path, ".u"), *e = strstr(path, ".e");
	const char *cut = u && (!e || u < e) ? u : e;
	return cut ? (size_t)(cut - path) : strlen(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		scan_mime_init();
		init = 1;
	}
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	const char *raw = (const char *)data + 1;
	size_t len = size - 1;
	struct scan_mime_limits small = { 4, 3, 256 }, dflt = { 1000, 30, 2u << 20 };
	const struct scan_mime_limits *lim = (sel & 1) ? &small : &dflt;
	struct scan_msg *m = scan_msg_parse(raw, len, lim);
	check_views(m, lim);
	if (m->nparts > 0 && !(m->flags & SCAN_MSG_F_TRUNCATED)) {
		const struct scan_part *p = &m->parts[(sel >> 1) % m->nparts];
		char want[300];
		snprintf(want, sizeof want, "%.*s", (int)base_len(p->path), p->path);
		const char *paths[] = { p->path }, *why[] = { "Fuzz.Virus" };
		struct buf out;
		buf_init(&out);
		size_t k = scan_msg_clean(raw, len, paths, why, 1, &out);
		FUZZ_CHECK(k <= 1);
		if (k == 0) {
			FUZZ_CHECK(out.len == len && (len == 0 || memcmp(out.data, raw, len) == 0));
		} else {
			for (size_t i = 0; i < out.len; i++)
				FUZZ_CHECK(out.data[i] != '\n' || (i > 0 && out.data[i - 1] == '\r'));
			FUZZ_CHECK(memmem(out.data, out.len, "contained the virus Fuzz.Virus", 30) != NULL);
			struct scan_msg *again = scan_msg_parse(out.data, out.len, NULL);
			check_views(again, &dflt);
			bool found = false;
			for (size_t i = 0; i < again->nparts; i++)
				if (strcmp(again->parts[i].path, want) == 0)
					found = strcmp(again->parts[i].ctype, "text/plain") == 0 &&
						memmem(again->parts[i].data, again->parts[i].len, "Fuzz.Virus", 10);
			FUZZ_CHECK(found);
			scan_msg_free(&again);
		}
		buf_fini(&out);
	}
	scan_msg_free(&m);
	FUZZ_CHECK(m == NULL);
	return 0;
}
