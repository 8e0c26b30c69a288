/*
 * scan_av_libclamav.c - the libclamav back end, in-process scanning:
 * cl_init() once per process, one engine per scan_av, loaded (CL_DB_STDOPT)
 * and compiled once, then shared read-only by every scanning thread
 * (libclamav engines are thread-safe for scanning after cl_engine_compile()).
 *
 * A message is scanned from memory (cl_fmap_open_memory +
 * cl_scanmap_callback) with every parser on (mail, archives, documents...)
 * and only these heuristics: encrypted archives, encrypted documents and
 * exceeded limits, so Heuristics.Encrypted.* / Heuristics.Limits.Exceeded.*
 * can appear (UNSCANNABLE, see scan_av.h).
 *
 * Engine limits, set explicitly: max file size = opts.max_size, max scan
 * size (bytes read out of archives) = 4 x max_size, max scan time =
 * opts.timeout_ms, recursion 16, files per container 10000; temporary
 * files in opts.tmpdir (virus_tmpdir) when set. libclamav's own
 * messages go to our log (errors and warnings as warnings, the rest debug).
 * An engine with no signatures is refused: it would call everything clean.
 */
#include <clamav.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/av/scan_av_int.h"

#define LIB_RECURSION 16
#define LIB_MAX_FILES 10000
#define LIB_SCANSIZE_FACTOR 4

struct lib {
	struct cl_engine *engine; /* compiled: read-only while scanning */
	struct cl_stat *dbstat;	  /* the database directory as loaded */
	char desc[SCAN_AV_DESC_MAX];
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static cl_error_t init_rc;

static void on_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	(void)fullmsg;
	(void)ctx;
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	if (severity == CL_MSG_ERROR || severity == CL_MSG_WARN)
		log_warn("event=libclamav_message text=\"%.*s\"", (int)n, msg);
	else
		log_debug("event=libclamav_message text=\"%.*s\"", (int)n, msg);
}

static void lib_init(void)
{
	cl_set_clcb_msg(on_msg);
	init_rc = cl_init(CL_INIT_DEFAULT);
}

static int set_num(struct cl_engine *e, enum cl_engine_field f, long long v, const char *what, char *err,
		   size_t errlen)
{
	cl_error_t rc = cl_engine_set_num(e, f, v);
	if (rc == CL_SUCCESS)
		return 0;
	snprintf(err, errlen, "libclamav: setting %s: %s", what, cl_strerror(rc));
	return -1;
}

/* Limits and the temporary directory (above). */
static int set_engine(struct cl_engine *e, const struct scan_av_opts *o, char *err, size_t errlen)
{
	long long size = (long long)o->max_size;
	if (set_num(e, CL_ENGINE_MAX_FILESIZE, size, "max file size", err, errlen) < 0 ||
	    set_num(e, CL_ENGINE_MAX_SCANSIZE, size * LIB_SCANSIZE_FACTOR, "max scan size", err, errlen) < 0 ||
	    set_num(e, CL_ENGINE_MAX_SCANTIME, o->timeout_ms, "max scan time", err, errlen) < 0 ||
	    set_num(e, CL_ENGINE_MAX_RECURSION, LIB_RECURSION, "max recursion", err, errlen) < 0 ||
	    set_num(e, CL_ENGINE_MAX_FILES, LIB_MAX_FILES, "max files", err, errlen) < 0)
		return -1;
	if (o->tmpdir[0]) {
		struct stat st;
		if (o->tmpdir[0] != '/' || stat(o->tmpdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "virus_tmpdir \"%s\" is not an absolute path to a directory", o->tmpdir);
			return -1;
		}
		cl_error_t rc = cl_engine_set_str(e, CL_ENGINE_TMPDIR, o->tmpdir);
		if (rc != CL_SUCCESS) {
			snprintf(err, errlen, "libclamav: setting the temporary directory: %s", cl_strerror(rc));
			return -1;
		}
	}
	return 0;
}

static int load(struct cl_engine *e, const char *dbdir, unsigned *sigs, char *err, size_t errlen)
{
	cl_error_t rc = cl_load(dbdir, e, sigs, CL_DB_STDOPT);
	if (rc != CL_SUCCESS) {
		snprintf(err, errlen, "libclamav: loading %s: %s", dbdir, cl_strerror(rc));
		return -1;
	}
	if (*sigs == 0) {
		snprintf(err, errlen, "libclamav: no signatures in %s", dbdir);
		return -1;
	}
	rc = cl_engine_compile(e);
	if (rc != CL_SUCCESS) {
		snprintf(err, errlen, "libclamav: compiling %s: %s", dbdir, cl_strerror(rc));
		return -1;
	}
	return 0;
}

/* dbdir: the spec after "libclamav:" */
static void *lib_open(const char *dbdir, const struct scan_av_opts *o, char *err, size_t errlen)
{
	if (dbdir[0] != '/') {
		snprintf(err, errlen, "libclamav database directory \"%s\" must be an absolute path", dbdir);
		return NULL;
	}
	pthread_once(&init_once, lib_init);
	if (init_rc != CL_SUCCESS) {
		snprintf(err, errlen, "libclamav: cl_init: %s", cl_strerror(init_rc));
		return NULL;
	}
	struct cl_engine *e = cl_engine_new();
	if (!e) {
		snprintf(err, errlen, "libclamav: cannot create an engine");
		return NULL;
	}
	unsigned sigs = 0;
	if (set_engine(e, o, err, errlen) < 0 || load(e, dbdir, &sigs, err, errlen) < 0) {
		cl_engine_free(e);
		return NULL;
	}
	struct lib *l = xcalloc(1, sizeof *l);
	l->engine = e;
	/* remember the directory as loaded, for lib_reusable (a reload) */
	l->dbstat = calloc(1, sizeof *l->dbstat);
	if (l->dbstat && cl_statinidir(dbdir, l->dbstat) != CL_SUCCESS) {
		free(l->dbstat);
		l->dbstat = NULL; /* unknown: every reload loads it again */
	}
	snprintf(l->desc, sizeof l->desc, "libclamav %s, %u signatures from %s", cl_retver(), sigs, dbdir);
	return l;
}

static enum scan_av_status lib_scan(void *state, const void *data, size_t len, char *name, size_t namelen)
{
	const struct lib *l = state;
	struct cl_scan_options so = {
		.general = CL_SCAN_GENERAL_HEURISTICS,
		.parse = ~0u,
		.heuristic = CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_ENCRYPTED_DOC |
			     CL_SCAN_HEURISTIC_EXCEEDS_MAX,
	};
	cl_fmap_t *map = cl_fmap_open_memory(data, len);
	if (!map) {
		snprintf(name, namelen, "libclamav: cannot map %zu bytes", len);
		return SCAN_AV_ERROR;
	}
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_error_t rc = cl_scanmap_callback(map, NULL, &virname, &scanned, l->engine, &so, NULL);
	cl_fmap_close(map);
	switch (rc) {
	case CL_CLEAN:
		return SCAN_AV_CLEAN;
	case CL_VIRUS:
		str_copy(name, namelen, virname ? virname : "unnamed");
		return scan_av_classify(name);
	case CL_ETIMEOUT:
		str_copy(name, namelen, "Heuristics.Limits.Exceeded.MaxScanTime");
		return SCAN_AV_UNSCANNABLE;
	default:
		snprintf(name, namelen, "libclamav: %s", cl_strerror(rc));
		log_warn("event=av_error scanner=libclamav error=%s", LOG_Q(name));
		return SCAN_AV_ERROR;
	}
}

static int lib_ping(void *state, char *out, size_t outlen)
{
	const struct lib *l = state;
	str_copy(out, outlen, l->desc); /* nothing to ask: the engine is here */
	return 0;
}

static const char *lib_describe(const void *state)
{
	const struct lib *l = state;
	return l->desc;
}

/* No file in the database directory changed, appeared or went since it
 * was loaded (cl_statchkdir, as clamd's SelfCheck). */
static bool lib_reusable(const void *state)
{
	const struct lib *l = state;
	return l->dbstat && cl_statchkdir(l->dbstat) == 0;
}

static void lib_close(void *state)
{
	struct lib *l = state;
	cl_engine_free(l->engine);
	if (l->dbstat) {
		cl_statfree(l->dbstat);
		free(l->dbstat);
	}
	xfree(l);
}

const struct scan_av_backend scan_av_libclamav_backend = {
	.name = "libclamav",
	.open = lib_open,
	.scan = lib_scan,
	.ping = lib_ping,
	.describe = lib_describe,
	.reusable = lib_reusable,
	.close = lib_close,
};
