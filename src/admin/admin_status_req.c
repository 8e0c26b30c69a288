/*
 * admin_status_req.c - request targets of the HTTP listener -> resources
 * (admin_status_req.h). Hostile input: read byte by byte within len, never
 * decoded or copied beyond one id-sized buffer; a fuzz target
 * (fuzz/fuzz_status_req.c) checks its invariants.
 */
#include "admin/admin_status_req.h"

#include <string.h>

#include "base/str.h"

static const struct {
	const char *path;
	enum admin_status_res res;
} fixed[] = {
	{ "/", ADMIN_RES_PAGE },	    { "/index.html", ADMIN_RES_PAGE }, { "/status.js", ADMIN_RES_JS },
	{ "/status.css", ADMIN_RES_CSS }, { "/api/status", ADMIN_RES_API },  { "/metrics", ADMIN_RES_METRICS },
};

#define QPREFIX "/api/quarantine/"

static enum admin_status_res set(struct admin_status_target *out, enum admin_status_res r)
{
	out->res = r;
	return r;
}

enum admin_status_res admin_status_req_parse(const char *uri, size_t len, struct admin_status_target *out)
{
	out->id[0] = '\0';
	if (!uri || len == 0 || len > ADMIN_STATUS_REQ_MAX_URI || uri[0] != '/')
		return set(out, ADMIN_RES_NOTFOUND);
	size_t plen = 0; /* the path: up to the query (or a fragment a client should not send) */
	while (plen < len && uri[plen] != '?' && uri[plen] != '#')
		plen++;
	if (memchr(uri, '\0', plen))
		return set(out, ADMIN_RES_NOTFOUND);
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (strlen(fixed[i].path) == plen && memcmp(fixed[i].path, uri, plen) == 0)
			return set(out, fixed[i].res);
	size_t pre = sizeof QPREFIX - 1;
	if (plen <= pre || memcmp(uri, QPREFIX, pre) != 0)
		return set(out, ADMIN_RES_NOTFOUND);
	const char *seg = uri + pre;
	const char *slash = memchr(seg, '/', plen - pre);
	if (!slash)
		return set(out, ADMIN_RES_NOTFOUND);
	const char *verb = slash + 1;
	size_t vlen = plen - (size_t)(verb - uri);
	enum admin_status_res r;
	if (vlen == 7 && memcmp(verb, "release", 7) == 0)
		r = ADMIN_RES_RELEASE;
	else if (vlen == 6 && memcmp(verb, "delete", 6) == 0)
		r = ADMIN_RES_DELETE;
	else if (vlen == 11 && memcmp(verb, "delete-spam", 11) == 0)
		r = ADMIN_RES_DELETE_SPAM;
	else
		return set(out, ADMIN_RES_NOTFOUND);
	size_t idlen = (size_t)(slash - seg);
	if (idlen != IDS_QUEUE_LEN)
		return set(out, ADMIN_RES_BAD_ID);
	char id[IDS_QUEUE_SIZE];
	memcpy(id, seg, idlen);
	id[idlen] = '\0';
	if (!ids_queue_valid(id))
		return set(out, ADMIN_RES_BAD_ID);
	memcpy(out->id, id, sizeof id);
	return set(out, r);
}

static bool all_of(const char *p, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!p[i] || !strchr(set, p[i]))
			return false;
	return true;
}

bool admin_status_host_ok(const char *host, size_t len, const char *name)
{
	if (!host)
		return true; /* HTTP/1.0 without Host: no name to check */
	if (len == 0 || len > ADMIN_STATUS_MAX_HOST)
		return false;
	size_t hlen = len;
	if (host[0] == '[') { /* [IPv6]:port */
		const char *end = memchr(host, ']', len);
		if (!end || end == host + 1)
			return false;
		/* rest: ":" and the port's 1 to 5 digits, every one of them checked */
		size_t rest = len - (size_t)(end + 1 - host);
		if (rest && (end[1] != ':' || rest < 2 || rest > 6 || !all_of(end + 2, rest - 1, "0123456789")))
			return false;
		return all_of(host + 1, (size_t)(end - host - 1), "0123456789abcdefABCDEF:.");
	}
	const char *colon = memchr(host, ':', len);
	if (colon) {
		size_t rest = len - (size_t)(colon + 1 - host);
		if (rest < 1 || rest > 5 || !all_of(colon + 1, rest, "0123456789"))
			return false;
		hlen = (size_t)(colon - host);
	}
	if (hlen == 0)
		return false;
	if (all_of(host, hlen, "0123456789.")) { /* an IPv4 literal: four dotted numbers */
		int dots = 0;
		for (size_t i = 0; i < hlen; i++)
			dots += host[i] == '.';
		return dots == 3 && host[0] != '.' && host[hlen - 1] != '.' && !memmem(host, hlen, "..", 2);
	}
	return str_ncaseeq(host, hlen, "localhost") || (name && name[0] && str_ncaseeq(host, hlen, name));
}
