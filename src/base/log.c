/*
 * log.c - stderr (+ syslog) logging, one write per line.
 *
 * Owns the process-wide log settings (set once at start-up, read-only
 * afterwards, so threads may log without locking).
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/str.h"

static const char *log_ident = "mxgate";
static int log_syslog = -1;
static enum log_level log_max = LOG_L_INFO;

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

bool log_enabled(enum log_level lvl)
{
	return lvl <= log_max;
}

static void log_v(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[2048];
	va_list ap2;
	va_copy(ap2, ap);
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* never let a hostile byte (CR, LF, ESC) from a peer break a log line */
	for (char *p = msg; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char line[2300];
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld]: %s: %s\n",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (long)(tv.tv_usec / 1000), log_ident, (long)getpid(), names[lvl], msg);
	if (n > (int)sizeof line - 1) {
		n = (int)sizeof line - 1;
		line[n - 1] = '\n';
	}
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
	if (log_syslog >= 0)
		syslog(prio[lvl], "%s: %s", names[lvl], msg);
	va_end(ap2);
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
