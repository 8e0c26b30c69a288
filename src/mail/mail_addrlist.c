/*
 * mail_addrlist.c - the elements of an address-list field (mail_addrlist.h).
 * One pass per element, bounded by the value's length.
 */
#include "mail/mail_addrlist.h"

#include <stdbool.h>
#include <string.h>

#include "base/buf.h"

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

size_t mail_addrlist(const char *v, size_t max, mail_addrlist_fn fn, void *ctx)
{
	const char *p = v;
	size_t n = 0;
	struct buf name, addr;
	buf_init(&name);
	buf_init(&addr);
	while (*p && n < max) {
		/* the element: to a ',' or ';' outside quotes, comments and <...> */
		const char *st = p, *lt = NULL, *gt = NULL;
		bool q = false;
		int paren = 0;
		for (; *p; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				continue;
			}
			if (*p == '"' && !paren)
				q = !q;
			else if (!q && *p == '(')
				paren++;
			else if (!q && *p == ')' && paren)
				paren--;
			else if (!q && !paren && *p == '<' && !lt)
				lt = p;
			else if (!q && !paren && *p == '>' && lt && !gt)
				gt = p;
			else if (!q && !paren && (*p == ',' || *p == ';') && (!lt || gt))
				break;
		}
		buf_reset(&name);
		buf_reset(&addr);
		if (lt && gt) {
			const char *a = lt + 1, *e = gt;
			while (a < e && space(*a))
				a++;
			while (e > a && space(e[-1]))
				e--;
			buf_append(&addr, a, (size_t)(e - a));
			for (const char *c = st; c < lt; c++)
				if (*c != '"' && *c != '\\')
					buf_putc(&name, *c);
		} else {
			int d = 0;
			bool qq = false;
			for (const char *c = st; c < p; c++) {
				if (*c == '"' && !d)
					qq = !qq;
				else if (!qq && *c == '(')
					d++;
				else if (!qq && *c == ')' && d)
					d--;
				else if (!qq && !d && *c == ':')
					addr.len = 0; /* "group: a@b" */
				else if (!qq && !d && !space(*c))
					buf_putc(&addr, *c);
			}
		}
		buf_putc(&name, '\0');
		buf_putc(&addr, '\0');
		fn(ctx, name.data, addr.data);
		n++;
		if (*p)
			p++;
	}
	buf_fini(&name);
	buf_fini(&addr);
	return n;
}
