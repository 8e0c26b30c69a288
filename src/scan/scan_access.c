/*
 * scan_access.c - the access map (rules in scan_access.h).
 *
 * Address keys live in one hash map ("from:user@example.org" lowercased);
 * client entries in another keyed by family, prefix length and the masked
 * address, with the prefix lengths in use listed, so a lookup tries only
 * those lengths, longest first. Host names in Connect: entries are not
 * supported (the gateway checks addresses, not names): a load error.
 */
#include "scan/scan_access.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "mail/mail_addr.h"

struct aentry {
	enum scan_access_verdict v;
	char *key; /* as written */
	int line;
	struct aentry *next; /* all entries, for freeing */
};

struct scan_access {
	struct map *addrs; /* "from:..." / "to:..." -> aentry */
	struct map *nets;  /* netkey -> aentry */
	bool used4[33], used6[129];
	struct aentry *all;
	size_t n;
};

struct netkey {
	uint8_t family, len;
	uint8_t addr[16];
};

static void net_key(struct netkey *k, int family, const uint8_t *b, int len)
{
	memset(k, 0, sizeof *k);
	k->family = (uint8_t)family;
	k->len = (uint8_t)len;
	memcpy(k->addr, b, family == 4 ? 4 : 16);
	int full = len / 8, rest = len % 8;
	if (rest)
		k->addr[full++] &= (uint8_t)(0xff << (8 - rest));
	for (int i = full; i < 16; i++)
		k->addr[i] = 0;
}

/* sendmail's octet prefix "192.0.2" -> bytes and prefix length. */
static int parse_octets(const char *s, uint8_t b[4], int *len)
{
	int n = 0;
	memset(b, 0, 4);
	while (n < 4) {
		char *end;
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (errno || v > 255 || end - s > 3)
			return -1;
		b[n++] = (uint8_t)v;
		if (!*end)
			break;
		if (*end != '.')
			return -1;
		s = end + 1;
	}
	*len = n * 8;
	return n >= 1 && n <= 4 ? 0 : -1;
}

/* A Connect: key -> family (4 or 6), bytes, prefix length. */
static const char *parse_client(char *k, int *family, uint8_t b[16], int *len)
{
	size_t n = strlen(k);
	if (k[0] == '[') {
		if (n < 3 || k[n - 1] != ']')
			return "missing ']'";
		k[n - 1] = '\0';
		k++;
	}
	bool v6 = str_caseprefix(k, "ipv6:");
	if (v6)
		k += 5;
	if (v6 || strchr(k, ':')) {
		/* net's CIDR parser: ::ffff:a.b.c.d becomes IPv4, as clients are matched */
		struct net_cidr c;
		if (net_cidr_parse(k, &c) < 0)
			return "not an IPv6 address (or a bad prefix length)";
		*family = c.family == AF_INET ? 4 : 6;
		memcpy(b, c.addr, 16);
		*len = c.prefix;
		return NULL;
	}
	char *slash = strchr(k, '/');
	int plen = -1;
	if (slash) {
		*slash = '\0';
		uint64_t u;
		if (str_to_u64(slash + 1, &u) < 0 || u > 32)
			return "bad prefix length after '/' (a CIDR needs a full IPv4 address and a prefix of 0..32)";
		plen = (int)u;
	}
	if (parse_octets(k, b, len) < 0)
		return "not an IP address, octet prefix or CIDR (host names are not supported)";
	*family = 4;
	if (plen >= 0) {
		if (*len != 32)
			return "a CIDR needs a full IPv4 address and a prefix of 0..32";
		*len = plen;
	}
	return NULL;
}

static enum scan_access_verdict parse_value(const char *v)
{
	if (str_caseeq(v, "OK"))
		return SCAN_ACCESS_OK;
	if (str_caseeq(v, "SPAM"))
		return SCAN_ACCESS_SPAM;
	return SCAN_ACCESS_NONE;
}

struct loader {
	struct scan_access *a;
	const char *name;
	int line;
	char *err;
	size_t errlen;
};

static int lerr(struct loader *L, const char *why, const char *what)
{
	snprintf(L->err, L->errlen, "%s:%d: %s \"%s\"", L->name, L->line, why, what);
	return -1;
}

static struct aentry *entry_new(struct scan_access *a, enum scan_access_verdict v, const char *key, int line)
{
	struct aentry *e = xcalloc(1, sizeof *e);
	e->v = v;
	e->key = xstrdup(key);
	e->line = line;
	e->next = a->all;
	a->all = e;
	a->n++;
	return e;
}

static void put(struct loader *L, struct map *m, const void *k, size_t klen, struct aentry *e)
{
	struct aentry *old = map_get(m, k, klen);
	if (old) {
		log_warn("event=access_duplicate file=%s line=%d key=\"%s\" first_line=%d", L->name, L->line, e->key,
			 old->line);
		return;
	}
	map_put(m, k, klen, e);
}

static int parse_line(struct loader *L, char *s)
{
	char *f[3];
	char orig[MAIL_PATH_MAX + 16];
	size_t n = str_split(s, " \t", f, 3);
	if (n == 0)
		return 0;
	snprintf(orig, sizeof orig, "%s", f[0]);
	if (n < 2)
		return lerr(L, "no value (OK or SPAM) after", orig);
	if (n > 2)
		return lerr(L, "unexpected text after the value of", orig);
	enum scan_access_verdict v = parse_value(f[1]);
	if (v == SCAN_ACCESS_NONE)
		return lerr(L, "unknown value (OK or SPAM)", f[1]);
	char *colon = strchr(f[0], ':');
	if (!colon)
		return lerr(L, "no tag (Connect:, From: or To:) in", orig);
	*colon = '\0';
	char *key = colon + 1;
	if (!*key)
		return lerr(L, "empty key in", orig);
	if (strlen(key) > MAIL_PATH_MAX)
		return lerr(L, "key too long", orig);
	struct aentry *e;
	if (str_caseeq(f[0], "connect")) {
		int fam, len;
		uint8_t b[16];
		const char *why = parse_client(key, &fam, b, &len);
		if (why)
			return lerr(L, why, orig);
		e = entry_new(L->a, v, orig, L->line);
		struct netkey nk;
		net_key(&nk, fam, b, len);
		(fam == 4 ? L->a->used4 : L->a->used6)[len] = true;
		put(L, L->a->nets, &nk, sizeof nk, e);
		return 0;
	}
	if (!str_caseeq(f[0], "from") && !str_caseeq(f[0], "to"))
		return lerr(L, "unknown tag (Connect:, From: or To:) in", orig);
	if (strcmp(key, "<>") == 0 && !str_caseeq(f[0], "from"))
		return lerr(L, "<> (the null sender) is for From: only:", orig);
	char lk[MAIL_PATH_MAX + 16];
	snprintf(lk, sizeof lk, "%s:%s", f[0], key);
	str_lower(lk);
	e = entry_new(L->a, v, orig, L->line);
	put(L, L->a->addrs, lk, strlen(lk), e);
	return 0;
}

struct scan_access *scan_access_parse(const char *name, const char *text, char *err, size_t errlen)
{
	struct scan_access *a = xcalloc(1, sizeof *a);
	a->addrs = map_new();
	a->nets = map_new();
	char *copy = xstrdup(text), *pos = copy, *s;
	struct loader L = { a, name, 0, err, errlen };
	int rc = 0;
	while (rc == 0 && (s = str_next_line(&pos))) {
		L.line++;
		char *hash = strchr(s, '#');
		if (hash)
			*hash = '\0';
		rc = parse_line(&L, s);
	}
	xfree(copy);
	if (rc < 0)
		scan_access_free(&a);
	return a;
}

struct scan_access *scan_access_load(const char *path, char *err, size_t errlen)
{
	char *data;
	size_t len;
	if (fs_read_file(path, SCAN_ACCESS_FILE_MAX, &data, &len) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (memchr(data, '\0', len)) {
		snprintf(err, errlen, "%s: contains a NUL octet (not a text file)", path);
		xfree(data);
		return NULL;
	}
	struct scan_access *a = scan_access_parse(path, data, err, errlen);
	xfree(data);
	return a;
}

void scan_access_free(struct scan_access **ap)
{
	struct scan_access *a = *ap;
	if (!a)
		return;
	while (a->all) {
		struct aentry *e = a->all;
		a->all = e->next;
		xfree(e->key);
		xfree(e);
	}
	map_free(&a->addrs);
	map_free(&a->nets);
	xfree(a);
	*ap = NULL;
}

size_t scan_access_count(const struct scan_access *a)
{
	return a->n;
}

const char *scan_access_verdict_str(enum scan_access_verdict v)
{
	switch (v) {
	case SCAN_ACCESS_OK: return "OK";
	case SCAN_ACCESS_SPAM: return "SPAM";
	case SCAN_ACCESS_NONE: break;
	}
	return "none";
}

/* ---------------------------------------------------------------- lookup */

static const struct aentry *get_key(const struct scan_access *a, const char *tag, const char *key, size_t klen)
{
	char k[MAIL_PATH_MAX + 24];
	snprintf(k, sizeof k, "%s:%.*s", tag, (int)klen, key);
	str_lower(k);
	return map_gets(a->addrs, k);
}

/* addr whole, then "user@", then the domain and each parent domain. */
static const struct aentry *find_addr(const struct scan_access *a, const char *tag, const char *addr)
{
	const struct aentry *e;
	if (!*addr)
		return get_key(a, tag, "<>", 2);
	if ((e = get_key(a, tag, addr, strlen(addr))))
		return e;
	const char *at = strrchr(addr, '@');
	if (!at) { /* a bare local part (postmaster): "postmaster@" */
		char k[MAIL_PATH_MAX + 2];
		snprintf(k, sizeof k, "%s@", addr);
		return get_key(a, tag, k, strlen(k));
	}
	if ((e = get_key(a, tag, addr, (size_t)(at - addr) + 1)))
		return e;
	for (const char *d = at + 1; d && *d; d = strchr(d, '.') ? strchr(d, '.') + 1 : NULL)
		if ((e = get_key(a, tag, d, strlen(d))))
			return e;
	return NULL;
}

static const struct aentry *find_client(const struct scan_access *a, const struct net_addr *c)
{
	uint8_t b[16];
	int f = net_addr_bytes(c, b);
	if (f < 0)
		return NULL;
	int fam = f == AF_INET ? 4 : 6;
	const bool *used = fam == 4 ? a->used4 : a->used6;
	for (int len = fam == 4 ? 32 : 128; len >= 0; len--) {
		if (!used[len])
			continue;
		struct netkey nk;
		net_key(&nk, fam, b, len);
		const struct aentry *e = map_get(a->nets, &nk, sizeof nk);
		if (e)
			return e;
	}
	return NULL;
}

enum scan_access_verdict scan_access_check(const struct scan_access *a, const struct net_addr *client,
					   const char *sender, const char *const *rcpts, size_t n,
					   struct scan_access_match *out)
{
	const struct aentry *e = NULL;
	for (size_t i = 0; i < n && !e; i++)
		e = find_addr(a, "to", rcpts[i]);
	if (!e && client)
		e = find_client(a, client);
	if (!e && sender)
		e = find_addr(a, "from", sender);
	out->verdict = e ? e->v : SCAN_ACCESS_NONE;
	out->entry = e ? e->key : NULL;
	out->line = e ? e->line : 0;
	return out->verdict;
}
