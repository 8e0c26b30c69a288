/*
 * gw_status_req.c - request targets of the HTTP listener -> resources
 * (gw_status_req.h). Hostile input: read byte by byte within len, never
 * decoded or copied beyond one id-sized buffer; a fuzz target
 * (fuzz/fuzz_status_req.c) checks its invariants.
 */
#include "gw/gw_status_req.h"

#include <string.h>

static const struct {
	const char *path;
	enum gw_status_res res;
} fixed[] = {
	{ "/", GW_RES_PAGE },	      { "/index.html", GW_RES_PAGE },	{ "/status.js", GW_RES_JS },
	{ "/status.css", GW_RES_CSS }, { "/api/status", GW_RES_API }, { "/metrics", GW_RES_METRICS },
};

#define QPREFIX "/api/quarantine/"

static enum gw_status_res set(struct gw_status_target *out, enum gw_status_res r)
{
	out->res = r;
	return r;
}

enum gw_status_res gw_status_req_parse(const char *uri, size_t len, struct gw_status_target *out)
{
	out->id[0] = '\0';
	if (!uri || len == 0 || len > GW_STATUS_REQ_MAX_URI || uri[0] != '/')
		return set(out, GW_RES_NOTFOUND);
	size_t plen = 0; /* the path: up to the query (or a fragment a client should not send) */
	while (plen < len && uri[plen] != '?' && uri[plen] != '#')
		plen++;
	if (memchr(uri, '\0', plen))
		return set(out, GW_RES_NOTFOUND);
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (strlen(fixed[i].path) == plen && memcmp(fixed[i].path, uri, plen) == 0)
			return set(out, fixed[i].res);
	size_t pre = sizeof QPREFIX - 1;
	if (plen <= pre || memcmp(uri, QPREFIX, pre) != 0)
		return set(out, GW_RES_NOTFOUND);
	const char *seg = uri + pre;
	const char *slash = memchr(seg, '/', plen - pre);
	if (!slash)
		return set(out, GW_RES_NOTFOUND);
	const char *verb = slash + 1;
	size_t vlen = plen - (size_t)(verb - uri);
	enum gw_status_res r;
	if (vlen == 7 && memcmp(verb, "release", 7) == 0)
		r = GW_RES_RELEASE;
	else if (vlen == 6 && memcmp(verb, "delete", 6) == 0)
		r = GW_RES_DELETE;
	else
		return set(out, GW_RES_NOTFOUND);
	size_t idlen = (size_t)(slash - seg);
	if (idlen != IDS_QUEUE_LEN)
		return set(out, GW_RES_BAD_ID);
	char id[IDS_QUEUE_SIZE];
	memcpy(id, seg, idlen);
	id[idlen] = '\0';
	if (!ids_queue_valid(id))
		return set(out, GW_RES_BAD_ID);
	memcpy(out->id, id, sizeof id);
	return set(out, r);
}
