/*
 * log.h - one line per event, key=value, to stderr and optionally syslog.
 *
 * Lines look like:  2026-11-23T20:51:00.123Z mxgate[123]: info: queue=... event=...
 * Callers put the session or queue id first (STYLE: "Log one line per event");
 * the events and their keys are listed in docs/LOGGING.md.
 * With log_format = json (log_set_json) each line is instead one JSON object
 * with ts, level, program, pid and the same keys (log_json.c converts).
 * log_* may be called from any thread (each line is one write(2)).
 *
 * Values that can carry a peer's bytes or spaces (addresses, HELO names,
 * replies, errors) go through LOG_Q/LOG_QA, so a line parses back exactly:
 * a value is bare when it is non-empty printable ASCII without space, '"'
 * or '\', else quoted: "..." with \" \\ and \xNN for control octets and for
 * octets that are not part of well-formed UTF-8 (which is kept as is).
 */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>

enum log_level { LOG_L_ERR, LOG_L_WARN, LOG_L_INFO, LOG_L_DEBUG };

/* ident: program name; syslog_facility: a LOG_* facility or -1 for none. */
void log_init(const char *ident, int syslog_facility, enum log_level max_level);
/* One JSON object per line (stderr and syslog) instead of key=value text. */
void log_set_json(bool json);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool log_enabled(enum log_level lvl);
/* In a child after fork(): its own pid in its lines (the pid is cached per thread). */
void log_forked(void);
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

/* The longest value logged whole: a longer one is cut at a character
 * boundary and its quoted form ends in the escape \. (which occurs nowhere
 * else), so a cut value is never mistaken for a whole one. */
#define LOG_Q_IN_MAX 1024
#define LOG_Q_SIZE (4 * LOG_Q_IN_MAX + 8)
/* pre s post as one log value (bare or quoted, above) in dst[size]
 * (size >= LOG_Q_SIZE for the guarantee); returns dst. s NULL: empty. */
const char *log_quote(char *dst, size_t size, const char *pre, const char *s, const char *post);
/* For a printf argument: the buffer lives until the end of the statement's block. */
#define LOG_Q(s) log_quote((char[LOG_Q_SIZE]){ 0 }, LOG_Q_SIZE, "", (s), "")
/* An address in angle brackets: <a@b>, <> for the null sender. */
#define LOG_QA(s) log_quote((char[LOG_Q_SIZE]){ 0 }, LOG_Q_SIZE, "<", (s), ">")

struct buf;
/* log_json.c: the key=value text kv[0..len) as JSON object members, each
 * preceded by a comma, appended to out. Quoted values are unescaped (octets
 * that are not UTF-8 become \udcNN, Python's surrogateescape); a bare value
 * that is a plain decimal of at most 15 digits becomes a number; words that
 * are not key=value are joined into "text"; a key already used (or one of
 * ts, level, program, pid) gets a suffix _2, _3, ... Never fails. */
void log_kv_to_json(const char *kv, size_t len, struct buf *out);
/* s[0..n) as a JSON string (with its quotes), appended to out. */
void log_json_string(const char *s, size_t n, struct buf *out);

#endif
