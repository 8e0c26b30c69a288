/*
 * scan_av_int.h - what scan_av.c shares with its two back ends
 * (scan_av_clamd.c, scan_av_libclamav.c). Not for other modules.
 */
#ifndef SCAN_SCAN_AV_INT_H
#define SCAN_SCAN_AV_INT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "scan/av/scan_av.h"

#define SCAN_AV_ADDR_MAX 160 /* "unix:/path" or "host:port" */

enum scan_av_kind { SCAN_AV_CLAMD, SCAN_AV_LIBCLAMAV };

struct cl_engine;
struct cl_stat;

struct scan_av {
	atomic_int refs; /* scan_av_reuse: engines of several configurations share it */
	char *spec;	 /* as given to scan_av_new */
	enum scan_av_kind kind;
	struct scan_av_opts opts;   /* defaults filled in */
	char addr[SCAN_AV_ADDR_MAX]; /* clamd */
	struct cl_engine *engine;   /* libclamav, compiled: read-only while scanning */
	struct cl_stat *dbstat;	    /* libclamav: the database directory as loaded */
	char desc[300];
};

/* clamd (scan_av_clamd.c) */
enum scan_av_status scan_av_clamd_scan(struct scan_av *av, const void *data, size_t len, char *name, size_t namelen);
int scan_av_clamd_ping(struct scan_av *av, char *out, size_t outlen);

/* libclamav (scan_av_libclamav.c) */
int scan_av_lib_open(struct scan_av *av, const char *dbdir, char *err, size_t errlen);
enum scan_av_status scan_av_lib_scan(struct scan_av *av, const void *data, size_t len, char *name, size_t namelen);
void scan_av_lib_close(struct scan_av *av);
/* A file in the database directory changed, appeared or went since it was loaded. */
bool scan_av_lib_db_changed(const struct scan_av *av);

#endif
