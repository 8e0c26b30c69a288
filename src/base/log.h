/*
 * log.h - one line per event, key=value, to stderr and optionally syslog.
 *
 * Lines look like:  2026-11-23T20:51:00.123Z mxgate[123]: info: queue=... event=...
 * Callers put the session or queue id first (STYLE: "Log one line per event").
 * log_* may be called from any thread (each line is one write(2)).
 */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stdbool.h>
#include <stdnoreturn.h>

enum log_level { LOG_L_ERR, LOG_L_WARN, LOG_L_INFO, LOG_L_DEBUG };

/* ident: program name; syslog_facility: a LOG_* facility or -1 for none. */
void log_init(const char *ident, int syslog_facility, enum log_level max_level);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool log_enabled(enum log_level lvl);
noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_err(...) log_msg(LOG_L_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_L_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_L_INFO, __VA_ARGS__)
#define log_debug(...)                                 \
	do {                                           \
		if (log_enabled(LOG_L_DEBUG))          \
			log_msg(LOG_L_DEBUG, __VA_ARGS__); \
	} while (0)

/* Map a facility name ("mail", "local0".."local7", "daemon", "user") to a
 * syslog constant; -1 if unknown. */
int log_facility_from_name(const char *name);

#endif
