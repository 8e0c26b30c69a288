/*
 * admin.c - the admin module's lifecycle (admin.h) and its one observer
 * of the flow.
 *
 * Opens, as root, what needs privileges (the control socket, the HTTP
 * port, http_secret_file); starts serving once the loop runs; hands every
 * event of the flow to the metrics and the status page (loop thread,
 * synchronously: both only count and copy). Owns struct admin and
 * nothing of the gateway's: it stops observing before it is freed.
 */
#include "admin/admin.h"

#include "admin/admin_int.h"
#include "base/xalloc.h"
#include "gw/gw.h"
#include "gw/gw_event.h"

static void on_event(void *ctx, const struct gw_event *ev)
{
	struct admin *a = ctx;
	admin_metrics_event(a, ev);
	admin_status_event(a, ev);
}

struct admin *admin_open(struct gw *g, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct admin *a = xcalloc(1, sizeof *a);
	a->g = g;
	a->http_fd = -1;
	admin_metrics_init(a);
	if (admin_http_bind(a, err, errlen) < 0 || admin_ctl_open(a, uid, gid, err, errlen) < 0) {
		admin_close(&a);
		return NULL;
	}
	return a;
}

int admin_start(struct admin *a, char *err, size_t errlen)
{
	gw_observe(a->g, on_event, a);
	a->observing = true;
	if (admin_http_start(a, err, errlen) < 0)
		return -1;
	admin_ctl_start(a);
	return 0;
}

void admin_close(struct admin **ap)
{
	struct admin *a = *ap;
	if (!a)
		return;
	if (a->observing)
		gw_unobserve(a->g, on_event, a);
	admin_ctl_close(a);
	admin_http_free(a);
	xfree(a);
	*ap = NULL;
}
