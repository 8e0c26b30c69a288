/*
 * scan_av.c - the anti-virus front: the spec, the size rule, verdict
 * classification and the clamd reply parser (see scan_av.h). The back ends
 * are scan_av_clamd.c and scan_av_libclamav.c.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "scan/av/scan_av_int.h"
#include "scan/scan_sock.h"

#define NAME_MAXSIZE "Heuristics.Limits.Exceeded.MaxSize"
#define NAME_STREAMMAX "Heuristics.Limits.Exceeded.StreamMaxLength"

const char *scan_av_status_name(enum scan_av_status s)
{
	switch (s) {
	case SCAN_AV_CLEAN:
		return "clean";
	case SCAN_AV_INFECTED:
		return "infected";
	case SCAN_AV_UNSCANNABLE:
		return "unscannable";
	case SCAN_AV_ERROR:
		break;
	}
	return "error";
}

enum scan_av_status scan_av_classify(const char *virname)
{
	if (strncmp(virname, "Heuristics.Encrypted.", 21) == 0 ||
	    strncmp(virname, "Heuristics.Limits.Exceeded", 26) == 0)
		return SCAN_AV_UNSCANNABLE;
	return SCAN_AV_INFECTED;
}

/* name = the finding of "stream: NAME FOUND" (NAME may carry clamd's
 * ExtendedDetectionInfo "(hash:size)", dropped here). */
static enum scan_av_status parse_found(const char *r, size_t len, char *name, size_t namelen)
{
	const char *pre = "stream: ";
	size_t pl = strlen(pre), fl = strlen(" FOUND");
	if (len <= pl + fl || memcmp(r, pre, pl) != 0)
		return SCAN_AV_ERROR;
	const char *v = r + pl;
	size_t vl = len - pl - fl;
	const char *paren = memchr(v, '(', vl);
	if (paren && v[vl - 1] == ')')
		vl = (size_t)(paren - v);
	if (vl == 0)
		return SCAN_AV_ERROR;
	if (str_has_ctl(v, vl))
		return SCAN_AV_ERROR;
	str_ncopy(name, namelen, v, vl);
	return scan_av_classify(name);
}

enum scan_av_status scan_av_parse_clamd(const char *reply, size_t len, char *name, size_t namelen)
{
	const char *nul = memchr(reply, '\0', len); /* the z-protocol's end of reply */
	if (nul)
		len = (size_t)(nul - reply);
	while (len > 0 && (reply[len - 1] == '\0' || reply[len - 1] == '\n' || reply[len - 1] == '\r'))
		len--;
	name[0] = '\0';
	if (len == 0) {
		snprintf(name, namelen, "clamd closed the connection without a reply");
		return SCAN_AV_ERROR;
	}
	if (str_ncaseeq(reply, len, "stream: OK"))
		return SCAN_AV_CLEAN;
	const char *lim = "INSTREAM size limit exceeded";
	if (len >= strlen(lim) && memcmp(reply, lim, strlen(lim)) == 0) {
		str_copy(name, namelen, NAME_STREAMMAX);
		return SCAN_AV_UNSCANNABLE;
	}
	if (len > 6 && memcmp(reply + len - 6, " FOUND", 6) == 0) {
		enum scan_av_status st = parse_found(reply, len, name, namelen);
		if (st != SCAN_AV_ERROR)
			return st;
	}
	int shown = len > 200 ? 200 : (int)len;
	if (len > 6 && memcmp(reply + len - 6, " ERROR", 6) == 0)
		snprintf(name, namelen, "clamd: %.*s", shown, reply);
	else
		snprintf(name, namelen, "unexpected clamd reply \"%.*s\"", shown, reply);
	str_sanitize(name);
	return SCAN_AV_ERROR;
}

static void fill_opts(struct scan_av_opts *dst, const struct scan_av_opts *o)
{
	dst->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : SCAN_AV_TIMEOUT_MS;
	dst->max_size = o && o->max_size > 0 ? o->max_size : SCAN_AV_MAX_SIZE;
	snprintf(dst->tmpdir, sizeof dst->tmpdir, "%s", o ? o->tmpdir : "");
}

static int open_clamd(struct scan_av *av, const char *rest, char *err, size_t errlen)
{
	const char *addr = strncmp(rest, "unix:", 5) == 0 ? rest : strncmp(rest, "inet:", 5) == 0 ? rest + 5 : NULL;
	if (!addr) {
		snprintf(err, errlen, "clamd address \"%s\": want unix:/path or inet:host:port", rest);
		return -1;
	}
	if (str_copy(av->addr, sizeof av->addr, addr) < 0) {
		snprintf(err, errlen, "clamd address too long (at most %zu bytes)", sizeof av->addr - 1);
		return -1;
	}
	if (scan_sock_addr_ok(av->addr, err, errlen) < 0)
		return -1;
	snprintf(av->desc, sizeof av->desc, "clamd %s", av->addr);
	return 0;
}

struct scan_av *scan_av_new(const char *spec, const struct scan_av_opts *o, char *err, size_t errlen)
{
	err[0] = '\0';
	if (strcmp(spec, "none") == 0)
		return NULL;
	struct scan_av *av = xcalloc(1, sizeof *av);
	atomic_init(&av->refs, 1);
	av->spec = xstrdup(spec);
	fill_opts(&av->opts, o);
	int rc;
	if (strncmp(spec, "clamd:", 6) == 0) {
		av->kind = SCAN_AV_CLAMD;
		rc = open_clamd(av, spec + 6, err, errlen);
	} else if (strncmp(spec, "libclamav:", 10) == 0) {
		av->kind = SCAN_AV_LIBCLAMAV;
		rc = scan_av_lib_open(av, spec + 10, err, errlen);
	} else {
		snprintf(err, errlen, "anti-virus \"%s\": want clamd:unix:/path, clamd:inet:host:port, "
				      "libclamav:/dbdir or none", spec);
		rc = -1;
	}
	if (rc < 0) {
		xfree(av->spec);
		xfree(av);
		return NULL;
	}
	log_info("event=av_ready scanner=\"%s\" max_size=%zu timeout_ms=%d", av->desc, av->opts.max_size,
		 av->opts.timeout_ms);
	return av;
}

static enum scan_av_status backend_scan(struct scan_av *av, const void *data, size_t len, char *name, size_t namelen)
{
	if (av->kind == SCAN_AV_CLAMD)
		return scan_av_clamd_scan(av, data, len, name, namelen);
	return scan_av_lib_scan(av, data, len, name, namelen);
}

enum scan_av_status scan_av_scan(struct scan_av *av, const void *data, size_t len, char *name, size_t namelen)
{
	name[0] = '\0';
	if (len <= av->opts.max_size)
		return backend_scan(av, data, len, name, namelen);
	/* too big to be sent whole: the prefix may still show a finding */
	enum scan_av_status st = backend_scan(av, data, av->opts.max_size, name, namelen);
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
	return av->desc;
}

int scan_av_ping(struct scan_av *av, char *out, size_t outlen)
{
	if (av->kind == SCAN_AV_CLAMD)
		return scan_av_clamd_ping(av, out, outlen);
	str_copy(out, outlen, av->desc);
	return 0;
}

void scan_av_free(struct scan_av **avp)
{
	struct scan_av *av = *avp;
	if (!av)
		return;
	*avp = NULL;
	if (atomic_fetch_sub(&av->refs, 1) > 1)
		return;
	if (av->kind == SCAN_AV_LIBCLAMAV)
		scan_av_lib_close(av);
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
	if (av->kind == SCAN_AV_LIBCLAMAV && scan_av_lib_db_changed(av)) {
		log_info("event=av_database_changed scanner=%s action=reload", LOG_Q(av->desc));
		return NULL;
	}
	atomic_fetch_add(&av->refs, 1);
	return av;
}
