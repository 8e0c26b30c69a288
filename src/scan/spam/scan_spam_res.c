/*
 * scan_spam_res.c - the result every spam back end fills (struct
 * scan_spam_res, scan_spam.h): symbols added under the limits, sorted,
 * released. Used by the daemons' parsers and by whoever reads a result;
 * knows no back end.
 */
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "scan/spam/scan_spam.h"

void scan_spam_res_add_symbol(struct scan_spam_res *res, const char *s, size_t n)
{
	if (res->nsymbols >= SCAN_SPAM_MAX_SYMBOLS || n == 0)
		return;
	if (str_has_ctl(s, n))
		return; /* not a rule name: a broken reply */
	if ((res->nsymbols & (res->nsymbols - 1)) == 0) /* 0, 1, 2, 4...: grow to the next power of two */
		res->symbols = xrealloc(res->symbols, (res->nsymbols ? res->nsymbols * 2 : 1) * sizeof *res->symbols);
	res->symbols[res->nsymbols++] = xstrndup(s, n);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void scan_spam_res_sort(struct scan_spam_res *res)
{
	if (res->nsymbols > 1)
		qsort(res->symbols, res->nsymbols, sizeof *res->symbols, cmp_str);
}

void scan_spam_res_fini(struct scan_spam_res *res)
{
	for (size_t i = 0; i < res->nsymbols; i++)
		xfree(res->symbols[i]);
	xfree(res->symbols);
	res->symbols = NULL;
	res->nsymbols = 0;
	xfree(res->learn_keys);
	res->learn_keys = NULL;
	res->nlearn = 0;
}
