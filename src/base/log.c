/*
 * log.c - stderr (+ syslog) logging, one write per line, as key=value text
 * or (log_set_json) one JSON object per line; the value quoting of log.h.
 *
 * Owns the process-wide log settings (set once at start-up, read-only
 * afterwards, so threads may log without locking).
 */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/str.h"

static const char *log_ident = "mxgate";
static int log_syslog = -1;
static enum log_level log_max = LOG_L_INFO;
static bool log_json;

/* a formatted line longer than this is cut (its values are bounded by LOG_Q_IN_MAX) */
#define LOG_LINE_MAX 8192

void log_init(const char *ident, int syslog_facility, enum log_level max_level)
{
	log_ident = ident;
	log_max = max_level;
	if (log_syslog >= 0)
		closelog();
	log_syslog = syslog_facility;
	if (syslog_facility >= 0)
		openlog(ident, LOG_PID | LOG_NDELAY, syslog_facility);
}

void log_set_json(bool json)
{
	log_json = json;
}

bool log_enabled(enum log_level lvl)
{
	return lvl <= log_max;
}

/* Each thread formats into buffers of its own, allocated on its first
 * line and reused (no allocation per line), freed when the thread ends. */
struct log_tls {
	char msg[LOG_LINE_MAX];
	struct buf line;
	long pid; /* getpid() once per thread, not per line (log_forked() after a fork) */
};
static pthread_key_t log_key;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void log_tls_free(void *p)
{
	struct log_tls *t = p;
	buf_fini(&t->line);
	free(t);
}

static void log_key_init(void)
{
	pthread_key_create(&log_key, log_tls_free);
}

static struct log_tls *log_tls(void)
{
	pthread_once(&log_once, log_key_init);
	struct log_tls *t = pthread_getspecific(log_key);
	if (!t) {
		t = calloc(1, sizeof *t);
		if (!t)
			return NULL;
		buf_init(&t->line);
		t->pid = (long)getpid();
		pthread_setspecific(log_key, t);
	}
	return t;
}

void log_forked(void)
{
	struct log_tls *t = log_tls();
	if (t)
		t->pid = (long)getpid();
}

static void log_v(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	struct log_tls *t = log_tls();
	if (!t)
		return;
	char *msg = t->msg;
	vsnprintf(msg, LOG_LINE_MAX, fmt, ap);
	/* never let a hostile byte (CR, LF, ESC) from a peer break a log line:
	 * quoted values have none; this catches an unquoted one */
	for (char *p = msg; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char ts[96];
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
	struct buf *line = &t->line;
	buf_reset(line);
	if (log_json) {
		buf_printf(line, "{\"ts\":\"%s\",\"level\":\"%s\",\"program\":", ts, names[lvl]);
		log_json_string(log_ident, strlen(log_ident), line);
		buf_printf(line, ",\"pid\":%ld", t->pid);
		log_kv_to_json(msg, strlen(msg), line);
		buf_putc(line, '}');
		if (log_syslog >= 0)
			syslog(prio[lvl], "%s", line->data);
	} else {
		buf_printf(line, "%s %s[%ld]: %s: %s", ts, log_ident, t->pid, names[lvl], msg);
		if (log_syslog >= 0)
			syslog(prio[lvl], "%s: %s", names[lvl], msg);
	}
	buf_putc(line, '\n');
	ssize_t w = write(STDERR_FILENO, line->data, line->len);
	(void)w;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl > log_max)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_v(lvl, fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v(LOG_L_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

int log_facility_from_name(const char *name)
{
	static const struct {
		const char *name;
		int fac;
	} t[] = {
		{ "mail", LOG_MAIL },	  { "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (str_caseeq(name, t[i].name))
			return t[i].fac;
	}
	return -1;
}

/* Printable ASCII other than space, '"' and '\\' stands bare. */
static bool bare_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static size_t quote_part(char *dst, size_t size, size_t o, const char *s, size_t *budget, bool *cut)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	for (size_t i = 0; i < n && !*cut;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c >= 0x80 ? str_utf8_seq(s + i, n - i) : 1;
		size_t in = k ? k : 1;
		char esc[8];
		size_t el;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			el = 2;
		} else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !k)) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			el = 4;
		} else {
			memcpy(esc, s + i, in);
			el = in;
		}
		/* room for this, the cut mark and the closing quote + NUL */
		if (in > *budget || o + el + 4 > size) {
			*cut = true;
			break;
		}
		memcpy(dst + o, esc, el);
		o += el;
		i += in;
		*budget -= in;
	}
	return o;
}

const char *log_quote(char *dst, size_t size, const char *pre, const char *s, const char *post)
{
	if (!s)
		s = "";
	if (size < 8) {
		if (size)
			dst[0] = '\0';
		return dst;
	}
	const char *parts[3] = { pre, s, post };
	size_t total = strlen(pre) + strlen(s) + strlen(post);
	bool bare = total > 0 && total <= LOG_Q_IN_MAX && total < size;
	for (int p = 0; p < 3 && bare; p++)
		for (const char *c = parts[p]; *c && bare; c++)
			bare = bare_ok((unsigned char)*c);
	if (bare) {
		snprintf(dst, size, "%s%s%s", pre, s, post);
		return dst;
	}
	size_t o = 0, budget = LOG_Q_IN_MAX;
	bool cut = false;
	dst[o++] = '"';
	for (int p = 0; p < 3; p++)
		o = quote_part(dst, size, o, parts[p], &budget, &cut);
	if (cut) {
		dst[o++] = '\\';
		dst[o++] = '.';
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}
