/*
 * scan_av.c - the anti-virus front (see scan_av.h): the spec picks a back
 * end once, from the table below ("clamd:", "libclamav:"); the front owns
 * the options with their defaults, the size rule (a message over max_size
 * is scanned as its prefix and never called clean), the reference count
 * that lets reloads share an engine, and the av_ready log line. Every
 * other call goes through the back end's struct (scan_av_int.h); the back
 * ends are scan_av_clamd.c and scan_av_libclamav.c. Verdict names and
 * classification: scan_av_verdict.c.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/av/scan_av_int.h"

#define NAME_MAXSIZE "Heuristics.Limits.Exceeded.MaxSize"

static const struct scan_av_backend *const backends[] = { &scan_av_clamd_backend, &scan_av_libclamav_backend };

struct scan_av {
	atomic_int refs; /* scan_av_reuse: engines of several configurations share it */
	char *spec;	 /* as given to scan_av_new */
	struct scan_av_opts opts; /* defaults filled in */
	const struct scan_av_backend *be;
	void *state; /* the back end's */
};

static void fill_opts(struct scan_av_opts *dst, const struct scan_av_opts *o)
{
	dst->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : SCAN_AV_TIMEOUT_MS;
	dst->max_size = o && o->max_size > 0 ? o->max_size : SCAN_AV_MAX_SIZE;
	snprintf(dst->tmpdir, sizeof dst->tmpdir, "%s", o ? o->tmpdir : "");
}

/* The back end spec names ("NAME:..."), *arg pointing after the colon. */
static const struct scan_av_backend *find_backend(const char *spec, const char **arg)
{
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		size_t n = strlen(backends[i]->name);
		if (strncmp(spec, backends[i]->name, n) == 0 && spec[n] == ':') {
			*arg = spec + n + 1;
			return backends[i];
		}
	}
	return NULL;
}

bool scan_av_in_process(const struct scan_av *av)
{
	return av && strcmp(av->be->name, "libclamav") == 0;
}

struct scan_av *scan_av_new(const char *spec, const struct scan_av_opts *o, char *err, size_t errlen)
{
	err[0] = '\0';
	if (strcmp(spec, "none") == 0)
		return NULL;
	const char *arg;
	const struct scan_av_backend *be = find_backend(spec, &arg);
	if (!be) {
		snprintf(err, errlen, "anti-virus \"%s\": want clamd:unix:/path, clamd:inet:host:port, "
				      "libclamav:/dbdir or none", spec);
		return NULL;
	}
	struct scan_av *av = xcalloc(1, sizeof *av);
	fill_opts(&av->opts, o);
	av->state = be->open(arg, &av->opts, err, errlen);
	if (!av->state) {
		xfree(av);
		return NULL;
	}
	atomic_init(&av->refs, 1);
	av->spec = xstrdup(spec);
	av->be = be;
	log_info("event=av_ready scanner=\"%s\" max_size=%zu timeout_ms=%d", scan_av_describe(av), av->opts.max_size,
		 av->opts.timeout_ms);
	return av;
}

enum scan_av_status scan_av_scan(struct scan_av *av, const void *data, size_t len, char *name, size_t namelen)
{
	name[0] = '\0';
	if (len <= av->opts.max_size)
		return av->be->scan(av->state, data, len, name, namelen);
	/* too big to be sent whole: the prefix may still show a finding */
	enum scan_av_status st = av->be->scan(av->state, data, av->opts.max_size, name, namelen);
	if (st == SCAN_AV_CLEAN) {
		str_copy(name, namelen, NAME_MAXSIZE);
		st = SCAN_AV_UNSCANNABLE;
	}
	log_info("event=av_over_max_size size=%zu max_size=%zu scanned=%zu status=%s name=\"%s\"", len,
		 av->opts.max_size, av->opts.max_size, scan_av_status_name(st), name);
	return st;
}

const char *scan_av_describe(const struct scan_av *av)
{
	return av->be->describe(av->state);
}

int scan_av_ping(struct scan_av *av, char *out, size_t outlen)
{
	return av->be->ping(av->state, out, outlen);
}

void scan_av_free(struct scan_av **avp)
{
	struct scan_av *av = *avp;
	if (!av)
		return;
	*avp = NULL;
	if (atomic_fetch_sub(&av->refs, 1) > 1)
		return;
	av->be->close(av->state);
	xfree(av->spec);
	xfree(av);
}

struct scan_av *scan_av_reuse(struct scan_av *av, const char *spec, const struct scan_av_opts *o)
{
	struct scan_av_opts want;
	fill_opts(&want, o);
	if (!av || strcmp(av->spec, spec) != 0 || want.timeout_ms != av->opts.timeout_ms ||
	    want.max_size != av->opts.max_size || strcmp(want.tmpdir, av->opts.tmpdir) != 0)
		return NULL;
	if (!av->be->reusable(av->state)) {
		log_info("event=av_database_changed scanner=%s action=reload", LOG_Q(scan_av_describe(av)));
		return NULL;
	}
	atomic_fetch_add(&av->refs, 1);
	return av;
}
