/*
 * scan_av.h - anti-virus scanning of a whole message: clamd over its
 * socket (zINSTREAM) or libclamav in-process, two back ends behind one
 * struct of functions (scan_av_int.h) chosen by the spec in scan_av_new().
 *
 * Blocking calls for worker threads (never the event loop); one scan_av is
 * shared by all threads: scan_av_scan() and scan_av_ping() are thread-safe.
 * Every wait is bounded: clamd by one deadline of timeout_ms for the whole
 * exchange (connect, send, reply), libclamav by its scan-time limit.
 *
 * Verdicts. A finding whose name starts with "Heuristics.Encrypted." (an
 * encrypted archive or document) or "Heuristics.Limits.Exceeded" (a scan
 * limit was hit) is UNSCANNABLE: ClamAV could not look inside, which is not
 * a proof of infection. Every other name is INFECTED, Heuristics.Broken.*
 * and Heuristics.Phishing.* included (ClamAV reports them as detections;
 * turn them off in clamd.conf when unwanted - libclamav here enables only
 * the encryption and limit heuristics).
 *
 * Size. A message over opts.max_size is not sent whole: its first max_size
 * bytes are scanned; a finding there is reported as usual, a clean prefix
 * gives UNSCANNABLE "Heuristics.Limits.Exceeded.MaxSize" (never CLEAN).
 * clamd's own "INSTREAM size limit exceeded" (its StreamMaxLength below our
 * max_size) gives UNSCANNABLE "Heuristics.Limits.Exceeded.StreamMaxLength".
 */
#ifndef SCAN_AV_SCAN_AV_H
#define SCAN_AV_SCAN_AV_H

#include <stdbool.h>
#include <stddef.h>

enum scan_av_status { SCAN_AV_CLEAN, SCAN_AV_INFECTED, SCAN_AV_UNSCANNABLE, SCAN_AV_ERROR };

struct scan_av_opts {
	int timeout_ms;  /* whole clamd exchange / libclamav max scan time; 0: 30000 */
	size_t max_size; /* bytes scanned at most; 0: 25 MiB (clamd's StreamMaxLength default) */
	char tmpdir[256]; /* libclamav's temporary files; "": its default ($TMPDIR or /tmp) */
};

#define SCAN_AV_TIMEOUT_MS 30000
#define SCAN_AV_MAX_SIZE (25u * 1024 * 1024)
#define SCAN_AV_CHUNK 65536 /* zINSTREAM chunk size */

/* spec: "clamd:unix:/path" | "clamd:inet:host:port" | "libclamav:/dbdir" |
 * "none" (returns NULL with err empty: scanning is off). o may be NULL.
 * libclamav loads and compiles its database here (seconds for a full
 * official DB); clamd is not contacted (see scan_av_ping). NULL with err
 * set on error. */
struct scan_av *scan_av_new(const char *spec, const struct scan_av_opts *o, char *err, size_t errlen);
/* Scan data[0..len). name gets the virus name (INFECTED, UNSCANNABLE), or
 * the error text (ERROR), or "" (CLEAN). */
enum scan_av_status scan_av_scan(struct scan_av *av, const void *data, size_t len, char *name, size_t namelen);
/* "libclamav 1.4.6, 5 signatures from /dbdir" / "clamd unix:/run/clamd.ctl". */
const char *scan_av_describe(const struct scan_av *av);
/* The engine scans in this process (libclamav), not through a daemon. */
bool scan_av_in_process(const struct scan_av *av);
/* clamd: VERSION (answers only when clamd is up and its DB is loaded); out
 * gets "ClamAV 1.4.6/27000/..." or the error. libclamav: the description.
 * 0 or -1. */
int scan_av_ping(struct scan_av *av, char *out, size_t outlen);
/* Drops one reference; the last frees it. */
void scan_av_free(struct scan_av **av);
/* For a reload: av itself with one more reference when spec and o are what
 * it was made with and, for libclamav, no file of its database directory
 * changed since it was loaded (cl_statchkdir, as clamd's SelfCheck): the
 * signatures are not loaded a second time (seconds and hundreds of MB for
 * the official database). NULL otherwise: the caller makes a new one. */
struct scan_av *scan_av_reuse(struct scan_av *av, const char *spec, const struct scan_av_opts *o);

const char *scan_av_status_name(enum scan_av_status s); /* "clean", "infected", ... */

/* Pure parts, for tests. */
/* The verdict for a ClamAV finding name (see above). */
enum scan_av_status scan_av_classify(const char *virname);
/* One clamd zINSTREAM reply ("stream: Eicar-Test-Signature FOUND",
 * "stream: OK", "INSTREAM size limit exceeded. ERROR", "... ERROR");
 * it ends at the first NUL; trailing newlines are ignored; a name with
 * control characters is an ERROR. */
enum scan_av_status scan_av_parse_clamd(const char *reply, size_t len, char *name, size_t namelen);

#endif
