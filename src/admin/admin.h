/*
 * admin.h - the administrator's surfaces of a running gateway: the control
 * socket (the queue tools), the HTTP listener with the status page and
 * GET /metrics.
 *
 * admin/ observes the flow (gw_event.h) and acts on it only through gw.h's
 * views and actions; gw never includes admin/. Lifecycle (main.c):
 * admin_open as root, after gw_open and before gw_drop_privileges;
 * admin_start after gw_start; admin_close before gw_close.
 */
#ifndef ADMIN_ADMIN_H
#define ADMIN_ADMIN_H

#include <stddef.h>
#include <sys/types.h>

struct admin;
struct gw;

/* As root: bind the control socket (0600, owned by uid/gid: mail_owner's,
 * or (uid_t)-1 when not root) and the HTTP port, read http_secret_file.
 * g is borrowed until admin_close. NULL with the reason in err (for
 * event=startup_error). */
struct admin *admin_open(struct gw *g, uid_t uid, gid_t gid, char *err, size_t errlen);
/* On the loop (after gw_start): observe the flow's events, serve HTTP and
 * the control socket, start the status page's history timer. -1 with err. */
int admin_start(struct admin *a, char *err, size_t errlen);
/* Stop observing, close the sockets (the control socket's file is
 * removed), free everything; *a becomes NULL. */
void admin_close(struct admin **a);

#endif
