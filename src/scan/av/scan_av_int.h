/*
 * scan_av_int.h - the anti-virus back-end interface, private to av/.
 *
 * scan_av.c (the front: spec, size rule, references, reuse at reload)
 * picks one back end by the spec's prefix when a scan_av is made and from
 * then on calls only through its struct. A back end owns the state its
 * open() returns and knows nothing of the front: it is given only its
 * part of the spec and the options. Not for other folders (scan_av.h).
 */
#ifndef SCAN_AV_SCAN_AV_INT_H
#define SCAN_AV_SCAN_AV_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "scan/av/scan_av.h"

#define SCAN_AV_DESC_MAX 300 /* a back end's description, with the NUL */

struct scan_av_backend {
	const char *name; /* "clamd", "libclamav": selected by the spec "NAME:..." */
	/* arg: the spec after "NAME:"; o: the options with defaults filled
	 * in. Returns the back end's state, or NULL with err set. */
	void *(*open)(const char *arg, const struct scan_av_opts *o, char *err, size_t errlen);
	/* scan_av_scan() for len <= o->max_size. Thread-safe. */
	enum scan_av_status (*scan)(void *state, const void *data, size_t len, char *name, size_t namelen);
	int (*ping)(void *state, char *out, size_t outlen); /* scan_av_ping() */
	const char *(*describe)(const void *state);	   /* scan_av_describe() */
	/* false when a reload must not share the state (libclamav: a file of
	 * its database directory changed since it was loaded) */
	bool (*reusable)(const void *state);
	void (*close)(void *state);
};

extern const struct scan_av_backend scan_av_clamd_backend;     /* scan_av_clamd.c */
extern const struct scan_av_backend scan_av_libclamav_backend; /* scan_av_libclamav.c */

#endif
