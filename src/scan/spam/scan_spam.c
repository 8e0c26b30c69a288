/*
 * scan_spam.c - which spam back end a spam_scanner spec names (see
 * scan_spam.h): the table below, looked up once when an engine is built.
 * Owns nothing and calls no back end: the caller opens the one found and
 * keeps it with its state. Results: scan_spam_res.c; the back ends:
 * scan_spam_builtin.c, scan_spamd.c, scan_rspamd.c (the last two over
 * scan_spam_daemon.c).
 */
#include <stdio.h>
#include <string.h>

#include "scan/spam/scan_spam_int.h"

static const struct scan_spam_backend *const backends[] = { &scan_spam_builtin_backend, &scan_spamd_backend,
							    &scan_rspamd_backend };

/* "spamd:" is a prefix (an address follows), "builtin" the whole spec. */
static bool spec_selects(const char *want, const char *spec)
{
	size_t n = strlen(want);
	return want[n - 1] == ':' ? strncmp(spec, want, n) == 0 : strcmp(spec, want) == 0;
}

const struct scan_spam_backend *scan_spam_find(const char *spec, char *err, size_t errlen)
{
	err[0] = '\0';
	if (!spec[0] || strcmp(spec, "none") == 0)
		return NULL;
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (spec_selects(backends[i]->spec, spec))
			return backends[i];
	snprintf(err, errlen, "spam scanner \"%s\": want spamd:host:port, spamd:unix:/path, "
			      "rspamd:host:port or rspamd:unix:/path", spec);
	return NULL;
}
