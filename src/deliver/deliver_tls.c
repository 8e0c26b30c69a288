/*
 * deliver_tls.c - outbound TLS levels and the per-destination policy map
 * (smtp_tls_policy_maps).
 *
 * The map file has one "next-hop level" pair per line, # comments, blank
 * lines ignored; the next hop is the domain or host a request was for
 * (case-insensitive), the level one of none may encrypt verify. It is read
 * once at start: a bad line is an error with its file:line, never ignored,
 * because a typo could silently send mail in clear that was meant to be
 * verified.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "deliver/deliver.h"

#define POLICY_FILE_MAX (16 * 1024 * 1024)

static const char *const level_names[] = { "none", "may", "encrypt", "verify" };

const char *deliver_tls_level_name(enum deliver_tls t)
{
	return level_names[t];
}

int deliver_tls_level_parse(const char *s, enum deliver_tls *out)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (str_caseeq(s, level_names[i])) {
			*out = (enum deliver_tls)i;
			return 0;
		}
	}
	return -1;
}

/* Values are the level + 1, so that no entry is a NULL pointer. */
int deliver_tls_policy_lookup(const struct map *policy, const char *host, enum deliver_tls *out)
{
	void *v = policy ? map_gets(policy, host) : NULL;
	if (!v)
		return -1;
	*out = (enum deliver_tls)((uintptr_t)v - 1);
	return 0;
}

int deliver_tls_policy_parse(char *text, const char *fname, struct map *policy, char *err, size_t errlen)
{
	int lineno = 0;
	for (char *line; (line = str_next_line(&text)) != NULL;) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *f[3];
		size_t n = str_split(line, " \t\r", f, 3);
		if (n == 0)
			continue;
		enum deliver_tls lvl;
		if (n != 2 || deliver_tls_level_parse(f[1], &lvl) < 0) {
			snprintf(err, errlen, "%s:%d: expected \"next-hop level\" with level none, may, encrypt or verify",
				 fname, lineno);
			return -1;
		}
		str_lower(f[0]);
		map_puts(policy, f[0], (void *)(uintptr_t)(lvl + 1));
	}
	return 0;
}

struct map *deliver_tls_policy_load(const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len;
	if (fs_read_file(path, POLICY_FILE_MAX, &text, &len) < 0) {
		snprintf(err, errlen, "smtp_tls_policy_maps: cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	struct map *policy = map_new();
	int rc = deliver_tls_policy_parse(text, path, policy, err, errlen);
	xfree(text);
	if (rc < 0)
		map_free(&policy);
	return policy;
}
