/*
 * conf.c - main.cf-style parser and typed loading.
 *
 * Two passes: (1) read logical lines into raw "key -> value (line)"
 * entries, reporting syntax errors and unknown keys; (2) for every key in
 * the table take the override, the file value or the default, expand
 * $references and convert to the typed field. Errors from both passes are
 * all collected in diag. Nothing here touches the network or the spool.
 */
#include "conf/conf.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "conf/conf_keys.h"

#define CONF_FILE_MAX (4 * 1024 * 1024)
#define CONF_EXPAND_DEPTH 10

struct raw {
	char *value; /* owned; NULL = not set */
	int line;    /* 0 = override or default */
	const char *where;
};

struct loader {
	const char *path;
	struct raw raw[CONF_KEYS_MAX];
	struct buf *diag;
	int errors;
	char hostname[256];
};

static void diag_err(struct loader *L, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void diag_err(struct loader *L, int line, const char *fmt, ...)
{
	va_list ap;
	if (line > 0)
		buf_printf(L->diag, "%s:%d: error: ", L->path, line);
	else
		buf_printf(L->diag, "%s: error: ", line == 0 ? "-o" : L->path);
	va_start(ap, fmt);
	buf_vprintf(L->diag, fmt, ap);
	va_end(ap);
	buf_putc(L->diag, '\n');
	L->errors++;
}

static int key_index(const char *name, size_t len)
{
	for (size_t i = 0; i < conf_keys_n; i++) {
		if (strlen(conf_keys[i].name) == len && memcmp(conf_keys[i].name, name, len) == 0)
			return (int)i;
	}
	return -1;
}

static bool valid_key_chars(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	}
	return true;
}

/* "key = value" -> raw table. line > 0 for file lines, 0 for -o. */
static void set_raw(struct loader *L, const char *text, int line)
{
	const char *eq = strchr(text, '=');
	if (!eq) {
		diag_err(L, line, "missing '=' (expected \"key = value\"): %.60s", text);
		return;
	}
	const char *ke = eq;
	while (ke > text && (ke[-1] == ' ' || ke[-1] == '\t'))
		ke--;
	size_t kl = (size_t)(ke - text);
	if (!valid_key_chars(text, kl)) {
		diag_err(L, line, "bad key name \"%.*s\"", (int)(kl > 60 ? 60 : kl), text);
		return;
	}
	int k = key_index(text, kl);
	if (k < 0) {
		diag_err(L, line, "unknown key \"%.*s\"", (int)(kl > 60 ? 60 : kl), text);
		return;
	}
	char *v = xstrdup(eq + 1);
	str_trim(v);
	if (L->raw[k].value && line > 0 && L->raw[k].line > 0)
		buf_printf(L->diag, "%s:%d: warning: %s set again (line %d); the last value wins\n", L->path, line,
			   conf_keys[k].name, L->raw[k].line);
	xfree(L->raw[k].value);
	L->raw[k].value = v;
	L->raw[k].line = line;
}

static void parse_text(struct loader *L, char *text)
{
	struct buf logical;
	buf_init(&logical);
	int start_line = 0, lineno = 0;
	char *p = text;
	while (*p) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = p;
		p = nl ? nl + 1 : p + len;
		lineno++;
		if (len && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		if (memchr(line, '\0', len) != NULL || strlen(line) != len) {
			diag_err(L, lineno, "NUL byte in line");
			continue;
		}
		const char *q = line;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '\0' || *q == '#')
			continue; /* blank and comment lines do not end a logical line */
		if (q != line) {
			if (!logical.len) {
				diag_err(L, lineno, "continuation line without a preceding \"key = value\" line");
				continue;
			}
			buf_putc(&logical, ' ');
			buf_puts(&logical, q);
			continue;
		}
		if (logical.len)
			set_raw(L, logical.data, start_line);
		buf_reset(&logical);
		buf_puts(&logical, line);
		start_line = lineno;
	}
	if (logical.len)
		set_raw(L, logical.data, start_line);
	buf_fini(&logical);
}

/* Expand $name / ${name} in s. Returns a malloc'ed string or NULL on error
 * (reported). */
static char *expand(struct loader *L, int k, const char *s, int depth);

static const char *raw_value(struct loader *L, int k)
{
	if (L->raw[k].value)
		return L->raw[k].value;
	if (conf_keys[k].name[0] == 'm' && strcmp(conf_keys[k].name, "myhostname") == 0 && !conf_keys[k].def[0])
		return L->hostname;
	return conf_keys[k].def;
}

static char *expand(struct loader *L, int k, const char *s, int depth)
{
	struct buf out;
	buf_init(&out);
	if (depth > CONF_EXPAND_DEPTH) {
		diag_err(L, L->raw[k].line, "%s: $references nested too deeply (loop?)", conf_keys[k].name);
		return NULL;
	}
	for (const char *p = s; *p;) {
		if (*p != '$') {
			buf_putc(&out, *p++);
			continue;
		}
		p++;
		if (*p == '$') {
			buf_putc(&out, *p++);
			continue;
		}
		const char *ns = p, *ne;
		if (*p == '{') {
			ns = ++p;
			ne = strchr(p, '}');
			if (!ne) {
				diag_err(L, L->raw[k].line, "%s: unterminated ${", conf_keys[k].name);
				buf_fini(&out);
				return NULL;
			}
			p = ne + 1;
		} else {
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			ne = p;
		}
		int r = key_index(ns, (size_t)(ne - ns));
		if (r < 0) {
			diag_err(L, L->raw[k].line, "%s: unknown $%.*s", conf_keys[k].name, (int)(ne - ns), ns);
			buf_fini(&out);
			return NULL;
		}
		char *sub = expand(L, r, raw_value(L, r), depth + 1);
		if (!sub) {
			buf_fini(&out);
			return NULL;
		}
		buf_puts(&out, sub);
		xfree(sub);
	}
	buf_reserve(&out, 0);
	return buf_steal(&out, NULL);
}

static int parse_time(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	long long mul = 1;
	if (*end) {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return -1;
		}
		if (end[1])
			return -1;
	}
	if (v > (1LL << 40) / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static bool valid_host(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (const char *p = s; *p; p++) {
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_'))
			return false;
	}
	return true;
}

static void set_typed_value(struct loader *L, struct conf *c, const struct conf_key *K, void *f, int line,
			    const char *v);

static void set_typed(struct loader *L, struct conf *c, int k, const char *v)
{
	const struct conf_key *K = &conf_keys[k];
	void *f = (char *)c + K->off;
	int line = L->raw[k].value ? L->raw[k].line : -1;
	/* a default that only refers to another key ($mynetworks) fails when
	 * that key is bad, which is reported there already: count, do not repeat */
	size_t diag_len = L->diag->len;
	int errors = L->errors;
	bool derived = !L->raw[k].value && strchr(K->def, '$') != NULL;
	set_typed_value(L, c, K, f, line, v);
	if (derived && L->errors > errors) {
		L->diag->len = diag_len;
		if (L->diag->data)
			L->diag->data[diag_len] = '\0';
	}
}

static void set_typed_value(struct loader *L, struct conf *c, const struct conf_key *K, void *f, int line,
			    const char *v)
{
	switch (K->type) {
	case CONF_T_STR:
		*(char **)f = xstrdup(v);
		return;
	case CONF_T_HOST:
		if (!valid_host(v))
			diag_err(L, line, "%s: \"%s\" is not a valid host name", K->name, v);
		*(char **)f = xstrdup(v);
		return;
	case CONF_T_ENUM: {
		char *copy = xstrdup(K->enumv), *fields[16];
		size_t n = str_split(copy, " ", fields, 16);
		bool ok = false;
		for (size_t i = 0; i < n; i++)
			ok |= strcmp(fields[i], v) == 0;
		xfree(copy);
		if (!ok)
			diag_err(L, line, "%s: \"%s\" is not one of: %s", K->name, v, K->enumv);
		*(char **)f = xstrdup(v);
		return;
	}
	case CONF_T_BOOL:
		if (str_caseeq(v, "yes") || str_caseeq(v, "true") || str_caseeq(v, "1"))
			*(bool *)f = true;
		else if (str_caseeq(v, "no") || str_caseeq(v, "false") || str_caseeq(v, "0"))
			*(bool *)f = false;
		else
			diag_err(L, line, "%s: \"%s\" is not yes or no", K->name, v);
		return;
	case CONF_T_INT:
	case CONF_T_TIME: {
		long long n;
		uint64_t u;
		int rc = K->type == CONF_T_TIME ? parse_time(v, &n) : (str_to_u64(v, &u) == 0 && u < (1ULL << 40) ? (n = (long long)u, 0) : -1);
		if (rc < 0) {
			diag_err(L, line, "%s: \"%s\" is not a %s", K->name, v,
				 K->type == CONF_T_TIME ? "time (e.g. 300s, 5m, 2h, 5d)" : "number");
			return;
		}
		if (n < K->min || n > K->max) {
			diag_err(L, line, "%s: %lld is out of range %lld..%lld%s", K->name, n, K->min, K->max,
				 K->type == CONF_T_TIME ? " seconds" : "");
			return;
		}
		*(int *)f = (int)n;
		return;
	}
	case CONF_T_NUM: {
		char *end = NULL;
		double d = strtod(v, &end);
		if (!v[0] || !end || *end || d != d) {
			diag_err(L, line, "%s: \"%s\" is not a number", K->name, v);
			return;
		}
		if (d < (double)K->min || d > (double)K->max) {
			diag_err(L, line, "%s: %g is out of range %lld..%lld", K->name, d, K->min, K->max);
			return;
		}
		*(double *)f = d;
		return;
	}
	case CONF_T_SIZE: {
		uint64_t u;
		if (str_to_u64(v, &u) < 0)
			diag_err(L, line, "%s: \"%s\" is not a size in octets", K->name, v);
		else
			*(uint64_t *)f = u;
		return;
	}
	case CONF_T_CIDRS: {
		char *bad = NULL;
		struct conf_cidrs *cc = f;
		if (net_cidr_list_parse(v, &cc->list, &bad) < 0) {
			diag_err(L, line, "%s: \"%s\" is not a network address (addr or addr/prefix)", K->name, bad);
			xfree(bad);
		}
		cc->text = xstrdup(v);
		return;
	}
	case CONF_T_LISTEN: {
		char *copy = xstrdup(v);
		size_t max = strlen(v) / 2 + 2;
		char **fields = xcalloc(max, sizeof *fields);
		size_t n = str_split(copy, " ,\t", fields, max);
		if (n == 0)
			diag_err(L, line, "%s: no address given", K->name);
		c->smtpd_listen = xcalloc(n ? n : 1, sizeof *c->smtpd_listen);
		for (size_t i = 0; i < n; i++) {
			struct conf_listen *cl = &c->smtpd_listen[c->smtpd_listen_n];
			if (net_addr_parse(fields[i], -1, &cl->addr) < 0) {
				diag_err(L, line, "%s: \"%s\" is not addr:port ([addr]:port for IPv6)", K->name, fields[i]);
				continue;
			}
			net_addr_str(&cl->addr, cl->text, sizeof cl->text);
			c->smtpd_listen_n++;
		}
		xfree(fields);
		xfree(copy);
		return;
	}
	}
}

static void cross_checks(struct loader *L, struct conf *c)
{
	if (c->minimal_backoff_time > c->maximal_backoff_time)
		diag_err(L, -1, "minimal_backoff_time (%ds) is larger than maximal_backoff_time (%ds)",
			 c->minimal_backoff_time, c->maximal_backoff_time);
	if (c->smtpd_tls_cert_file && c->smtpd_tls_cert_file[0] && !c->smtpd_tls_key_file[0])
		diag_err(L, -1, "smtpd_tls_cert_file is set but smtpd_tls_key_file is empty");
	bool qd_ok = c->queue_directory[0] == '/';
	if (!qd_ok)
		diag_err(L, -1, "queue_directory must be an absolute path: \"%s\"", c->queue_directory);
	/* (the default, $queue_directory/control, is relative only if queue_directory is: said once) */
	bool cs_set = c->set[key_index("control_socket", sizeof "control_socket" - 1)];
	if (c->control_socket[0] && c->control_socket[0] != '/' && (qd_ok || cs_set))
		diag_err(L, -1, "control_socket must be an absolute path or empty: \"%s\"", c->control_socket);
	struct net_addr ha;
	if (c->http_listen[0] && net_addr_parse(c->http_listen, -1, &ha) < 0)
		diag_err(L, -1, "http_listen: \"%s\" is not addr:port ([addr]:port for IPv6)", c->http_listen);
	/* scan_workers: the former name of scan_processes */
	if (c->set[key_index("scan_workers", sizeof "scan_workers" - 1)] &&
	    !c->set[key_index("scan_processes", sizeof "scan_processes" - 1)]) {
		c->scan_processes = c->scan_workers;
		buf_printf(L->diag, "%s: warning: scan_workers is now called scan_processes (read as scan_processes = %d)\n",
			   L->path, c->scan_workers);
	}
	if (c->scan_user[0] && (strcmp(c->scan_user, c->mail_owner) == 0 || strcmp(c->scan_user, "root") == 0))
		diag_err(L, -1, "scan_user must be neither mail_owner nor root (\"%s\"): the scanners must not be able "
			 "to open the spool", c->scan_user);
	if (c->syslog_facility[0] && log_facility_from_name(c->syslog_facility) < 0)
		diag_err(L, -1, "syslog_facility: unknown facility \"%s\"", c->syslog_facility);
}

struct conf *conf_load(const char *path, const char *const *overrides, size_t n_overrides, struct buf *diag)
{
	struct loader L;
	memset(&L, 0, sizeof L);
	L.path = path ? path : "(built-in defaults)";
	L.diag = diag;
	if (gethostname(L.hostname, sizeof L.hostname - 1) < 0 || !L.hostname[0])
		str_copy(L.hostname, sizeof L.hostname, "localhost.localdomain");
	if (conf_keys_n > sizeof L.raw / sizeof L.raw[0])
		abort(); /* table grew past the loader: a bug */

	if (path) {
		char *text;
		size_t len;
		if (fs_read_file(path, CONF_FILE_MAX, &text, &len) < 0) {
			buf_printf(diag, "%s: error: cannot read: %s\n", path, strerror(errno));
			return NULL;
		}
		if (memchr(text, '\0', len))
			diag_err(&L, -1, "file contains a NUL byte");
		else
			parse_text(&L, text);
		xfree(text);
	}
	for (size_t i = 0; i < n_overrides; i++)
		set_raw(&L, overrides[i], 0);

	struct conf *c = xcalloc(1, sizeof *c);
	c->source = xstrdup(L.path);
	for (size_t k = 0; k < conf_keys_n; k++) {
		c->set[k] = L.raw[k].value != NULL;
		char *v = expand(&L, (int)k, raw_value(&L, (int)k), 0);
		if (!v)
			continue;
		set_typed(&L, c, (int)k, v);
		xfree(v);
	}
	/* string fields that failed expansion must not stay NULL */
	for (size_t k = 0; k < conf_keys_n; k++) {
		enum conf_type t = conf_keys[k].type;
		char **f = (char **)((char *)c + conf_keys[k].off);
		if ((t == CONF_T_STR || t == CONF_T_HOST || t == CONF_T_ENUM) && !*f)
			*f = xstrdup("");
	}
	cross_checks(&L, c);
	for (size_t k = 0; k < conf_keys_n; k++)
		xfree(L.raw[k].value);
	if (L.errors) {
		conf_free(&c);
		return NULL;
	}
	return c;
}

void conf_free(struct conf **cp)
{
	struct conf *c = *cp;
	if (!c)
		return;
	for (size_t k = 0; k < conf_keys_n; k++) {
		enum conf_type t = conf_keys[k].type;
		if (t == CONF_T_STR || t == CONF_T_HOST || t == CONF_T_ENUM)
			xfree(*(char **)((char *)c + conf_keys[k].off));
	}
	xfree(c->smtpd_listen);
	for (size_t k = 0; k < conf_keys_n; k++) {
		if (conf_keys[k].type == CONF_T_CIDRS) {
			struct conf_cidrs *cc = (struct conf_cidrs *)((char *)c + conf_keys[k].off);
			net_cidr_list_fini(&cc->list);
			xfree(cc->text);
		}
	}
	xfree(c->source);
	xfree(c);
	*cp = NULL;
}

static void value_str(const struct conf *c, size_t k, struct buf *out)
{
	const struct conf_key *K = &conf_keys[k];
	const void *f = (const char *)c + K->off;
	switch (K->type) {
	case CONF_T_STR:
	case CONF_T_HOST:
	case CONF_T_ENUM:
		buf_puts(out, *(char *const *)f);
		break;
	case CONF_T_BOOL:
		buf_puts(out, *(const bool *)f ? "yes" : "no");
		break;
	case CONF_T_INT:
		buf_printf(out, "%d", *(const int *)f);
		break;
	case CONF_T_TIME:
		buf_printf(out, "%ds", *(const int *)f);
		break;
	case CONF_T_SIZE:
		buf_printf(out, "%llu", (unsigned long long)*(const uint64_t *)f);
		break;
	case CONF_T_NUM:
		buf_printf(out, "%g", *(const double *)f);
		break;
	case CONF_T_CIDRS:
		buf_puts(out, ((const struct conf_cidrs *)f)->text ? ((const struct conf_cidrs *)f)->text : "");
		break;
	case CONF_T_LISTEN:
		for (size_t i = 0; i < c->smtpd_listen_n; i++)
			buf_printf(out, "%s%s", i ? " " : "", c->smtpd_listen[i].text);
		break;
	}
}

void conf_dump(const struct conf *c, struct buf *out, bool only_set)
{
	for (size_t k = 0; k < conf_keys_n; k++) {
		if (only_set && !c->set[k])
			continue;
		buf_printf(out, "%s = ", conf_keys[k].name);
		value_str(c, k, out);
		buf_putc(out, '\n');
	}
}

void conf_doc(struct buf *out)
{
	static const char *tn[] = { "text", "number", "yes/no", "time", "octets", "addresses", "networks", "choice",
				    "host name", "decimal" };
	buf_puts(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
	for (size_t k = 0; k < conf_keys_n; k++) {
		const struct conf_key *K = &conf_keys[k];
		buf_printf(out, "| `%s` | %s", K->name, tn[K->type]);
		if (K->type == CONF_T_INT || K->type == CONF_T_TIME || K->type == CONF_T_NUM)
			buf_printf(out, " (%lld..%lld)", K->min, K->max);
		if (K->type == CONF_T_ENUM)
			buf_printf(out, " (%s)", K->enumv);
		buf_printf(out, " | %s%s%s | %s%s |\n", K->def[0] ? "`" : "", K->def[0] ? K->def : "(empty)",
			   K->def[0] ? "`" : "", K->doc,
			   conf_key_restart(k) ? " Needs a restart: a reload keeps the old value." : "");
	}
}

size_t conf_key_count(void)
{
	return conf_keys_n;
}

const char *conf_key_name(size_t k)
{
	return k < conf_keys_n ? conf_keys[k].name : NULL;
}

bool conf_key_restart(size_t k)
{
	for (size_t i = 0; k < conf_keys_n && conf_restart_keys[i]; i++)
		if (strcmp(conf_restart_keys[i], conf_keys[k].name) == 0)
			return true;
	return false;
}

bool conf_key_equal(const struct conf *a, const struct conf *b, size_t k)
{
	struct buf va, vb;
	buf_init(&va);
	buf_init(&vb);
	value_str(a, k, &va);
	value_str(b, k, &vb);
	bool eq = va.len == vb.len && (va.len == 0 || memcmp(va.data, vb.data, va.len) == 0);
	buf_fini(&va);
	buf_fini(&vb);
	return eq;
}

bool conf_key_copy(struct conf *dst, const struct conf *src, size_t k)
{
	const struct conf_key *K = &conf_keys[k];
	void *d = (char *)dst + K->off;
	const void *s = (const char *)src + K->off;
	switch (K->type) {
	case CONF_T_STR:
	case CONF_T_HOST:
	case CONF_T_ENUM:
		xfree(*(char **)d);
		*(char **)d = xstrdup(*(char *const *)s);
		return true;
	case CONF_T_BOOL: *(bool *)d = *(const bool *)s; return true;
	case CONF_T_INT:
	case CONF_T_TIME: *(int *)d = *(const int *)s; return true;
	case CONF_T_SIZE: *(uint64_t *)d = *(const uint64_t *)s; return true;
	case CONF_T_NUM: *(double *)d = *(const double *)s; return true;
	case CONF_T_LISTEN:
	case CONF_T_CIDRS: return false;
	}
	return false;
}
