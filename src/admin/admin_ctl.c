/*
 * admin_ctl.c - the control socket: the queue tools' way into the running
 * daemon (protocol in admin_ctl.h; the request parser is admin_ctl_req.c).
 *
 * The socket (control_socket, default $queue_directory/control) is bound
 * as root before the privilege drop, mode 0600 and owned by mail_owner, in
 * a directory created 0700 if missing; a peer must also be that user or
 * root (SO_PEERCRED). A stale socket left by a kill -9 is replaced at
 * start; one that still answers means another mxgate serves it: start-up
 * fails. Each connection carries one request and one answer, within
 * ADMIN_CTL_TIMEOUT_S; at most ADMIN_CTL_CLIENTS_MAX at once. Every command
 * runs on the loop thread through gw.h's views and actions, so it sees the
 * scheduler between two events.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin/admin_ctl.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "gw/gw.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"

#define CTL_NAME_MAX 64 /* the socket's file name (the directory may be long) */

struct admin_ctl {
	struct admin *a;
	int fd;	    /* listening, bound as root */
	char *path; /* owned */
	struct event *accept_ev;
	struct ctl_client *clients; /* open connections (freed at close) */
	size_t nclients;
	int64_t started_us;
};

struct ctl_client {
	struct admin_ctl *ctl;
	struct bufferevent *bev;
	struct ctl_client *prev, *next;
};

/* --- addresses: long paths through the directory's /proc/self/fd entry --- */

/* Fill sa for path; a path too long for sun_path is reached through an
 * O_PATH descriptor of its directory (*dfd_out, to close after use). */
static int unix_addr(const char *path, struct sockaddr_un *sa, int *dfd_out)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	*dfd_out = -1;
	if (strlen(path) < sizeof sa->sun_path) {
		memcpy(sa->sun_path, path, strlen(path));
		return 0;
	}
	const char *slash = strrchr(path, '/');
	if (!slash || strlen(slash + 1) > CTL_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *dir = xstrdup(path);
	dir[(slash - path) ? slash - path : 1] = '\0';
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	xfree(dir);
	if (dfd < 0)
		return -1;
	snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", dfd, slash + 1);
	*dfd_out = dfd;
	return 0;
}

int admin_ctl_connect(const char *path)
{
	struct sockaddr_un sa;
	int dfd;
	if (unix_addr(path, &sa, &dfd) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	if (dfd >= 0) {
		int e = errno;
		close(dfd);
		errno = e;
	}
	return fd;
}

/* The socket's directory: created 0700 for mail_owner when missing. */
static int make_dir(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	struct stat st;
	int rc = 0;
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || fs_mkdir(dir, 0700) < 0 || (uid != (uid_t)-1 && chown(dir, uid, gid) < 0)) {
			snprintf(err, errlen, "control_socket directory %s: %s", dir, strerror(errno));
			rc = -1;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "control_socket directory %s is not a directory", dir);
		rc = -1;
	}
	xfree(dir);
	return rc;
}

int admin_ctl_open(struct admin *a, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	const char *path = gw_conf(a->g)->control_socket;
	if (!path[0])
		return 0;
	const char *name = strrchr(path, '/') + 1;
	if (!name[0] || strlen(name) > CTL_NAME_MAX) {
		snprintf(err, errlen, "control_socket %s: the file name must have 1 to %d octets", path, CTL_NAME_MAX);
		return -1;
	}
	if (make_dir(path, uid, gid, err, errlen) < 0)
		return -1;
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control_socket %s exists and is not a socket", path);
			return -1;
		}
		int t = admin_ctl_connect(path);
		if (t >= 0) {
			close(t);
			snprintf(err, errlen, "control_socket %s answers: another mxgate is running on this spool", path);
			return -1;
		}
		if (unlink(path) < 0) {
			snprintf(err, errlen, "control_socket %s: cannot remove the stale socket: %s", path, strerror(errno));
			return -1;
		}
		log_info("event=control_socket_stale_removed path=%s", path);
	}
	struct sockaddr_un sa;
	int dfd;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || unix_addr(path, &sa, &dfd) < 0) {
		snprintf(err, errlen, "control_socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	mode_t old = umask(0177); /* never reachable by others, not even between bind and chmod */
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (dfd >= 0)
		close(dfd);
	if (rc < 0 || chmod(path, 0600) < 0 || (uid != (uid_t)-1 && lchown(path, uid, gid) < 0) ||
	    listen(fd, ADMIN_CTL_CLIENTS_MAX) < 0) {
		snprintf(err, errlen, "control_socket %s: %s", path, strerror(errno));
		close(fd);
		if (rc == 0)
			unlink(path);
		return -1;
	}
	struct admin_ctl *c = xcalloc(1, sizeof *c);
	c->a = a;
	c->fd = fd;
	c->path = xstrdup(path);
	c->started_us = clock_now_us();
	a->ctl = c;
	return 0;
}

/* --- commands --- */

static json_t *answer(bool ok, const char *msg)
{
	json_t *o = json_object();
	json_object_set_new(o, "ok", json_boolean(ok));
	json_object_set_new(o, "msg", admin_json_str(msg, strlen(msg)));
	return o;
}

static json_t *status(struct admin_ctl *c)
{
	struct gw *g = c->a->g;
	json_t *o = answer(true, "running");
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "version", json_string(MXGATE_VERSION));
	json_object_set_new(o, "uptime", json_integer((clock_now_us() - c->started_us) / 1000000));
	json_object_set_new(o, "stopping", json_boolean(gw_stopping(g)));
	json_t *counts = json_object();
	static const enum queue_dir dirs[] = { QDIR_INPUT, QDIR_OUTPUT,	    QDIR_DEFERRED,
					       QDIR_HOLD,  QDIR_QUARANTINE, QDIR_CORRUPT };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		long n = queue_store_count(gw_queue_store(g), dirs[i]);
		json_object_set_new(counts, queue_dir_name(dirs[i]), json_integer(n < 0 ? 0 : n));
	}
	json_object_set_new(o, "queue", counts);
	struct queue_sched_stats st;
	queue_sched_stats(gw_queue_sched(g), &st);
	json_object_set_new(o, "active", json_integer((json_int_t)st.active));
	json_object_set_new(o, "processing", json_integer((json_int_t)st.processing));
	return o;
}

/* delete --state S --domain D: each matching message by id. */
static json_t *delete_matching(struct gw *g, const struct admin_ctl_req *r)
{
	struct admin_queue_filter f = { .state = r->state, .domain = r->domain };
	bool trunc;
	json_t *list = admin_queue_list(gw_queue_store(g), gw_queue_sched(g), &f, ADMIN_CTL_LIST_MAX, &trunc);
	json_t *done = json_array(), *refused = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(list, i, m)
	{
		const char *id = json_string_value(json_object_get(m, "id"));
		char msg[400];
		if (gw_queue_op(g, QUEUE_OP_DELETE, id, msg, sizeof msg) == 0)
			json_array_append_new(done, json_string(id));
		else
			json_array_append_new(refused, admin_json_str(msg, strlen(msg)));
	}
	char msg[400];
	snprintf(msg, sizeof msg, "deleted %zu message%s from %s/ with recipients in %s%s", json_array_size(done),
		 json_array_size(done) == 1 ? "" : "s", queue_dir_name((enum queue_dir)r->state), r->domain,
		 json_array_size(refused) ? " (some refused: see \"refused\")" : "");
	json_t *o = answer(json_array_size(refused) == 0, msg);
	json_object_set_new(o, "deleted", done);
	json_object_set_new(o, "refused", refused);
	json_decref(list);
	return o;
}

/* flush, hold, release, delete, requeue: the queue's operation, as asked. */
static json_t *queue_op(struct gw *g, const struct admin_ctl_req *r)
{
	char msg[600];
	if (r->op == QUEUE_OP_FLUSH && !r->id[0]) {
		gw_flush(g, r->domain[0] ? r->domain : NULL, msg, sizeof msg);
		return answer(true, msg);
	}
	if (r->op == QUEUE_OP_DELETE && !r->id[0])
		return delete_matching(g, r);
	int rc = gw_queue_op(g, r->op, r->id, msg, sizeof msg);
	return answer(rc == 0, msg);
}

static json_t *run(struct admin_ctl *c, const struct admin_ctl_req *r)
{
	struct gw *g = c->a->g;
	char msg[600];
	switch (r->cmd) {
	case ADMIN_CTL_LIST: {
		struct admin_queue_filter f = { .state = r->state,
						.domain = r->domain[0] ? r->domain : NULL,
						.sender = r->has_sender ? r->sender : NULL };
		bool trunc;
		json_t *o = answer(true, "");
		json_object_set_new(o, "messages",
				    admin_queue_list(gw_queue_store(g), gw_queue_sched(g), &f, ADMIN_CTL_LIST_MAX, &trunc));
		json_object_set_new(o, "truncated", json_boolean(trunc));
		return o;
	}
	case ADMIN_CTL_SHOW: {
		json_t *m = admin_queue_show(gw_queue_store(g), gw_queue_sched(g), r->id, msg, sizeof msg);
		if (!m)
			return answer(false, msg);
		json_t *o = answer(true, "");
		json_object_set_new(o, "message", m);
		return o;
	}
	case ADMIN_CTL_RELOAD:
		if (gw_reload(g, msg, sizeof msg) < 0)
			return answer(false, msg);
		return answer(true, "configuration and maps reloaded");
	case ADMIN_CTL_STATUS:
		return status(c);
	case ADMIN_CTL_QUEUE_OP:
		return queue_op(g, r);
	}
	return answer(false, "unknown command");
}

/* --- connections --- */

static void client_free(struct ctl_client *cl)
{
	struct admin_ctl *c = cl->ctl;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->nclients--;
	bufferevent_free(cl->bev);
	xfree(cl);
}

static void send_answer(struct ctl_client *cl, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	if (s) {
		evbuffer_add(out, s, strlen(s));
		free(s);
	} else {
		evbuffer_add_printf(out, "{\"ok\":false,\"msg\":\"out of memory\"}");
	}
	evbuffer_add(out, "\n", 1);
	json_decref(o);
	bufferevent_disable(cl->bev, EV_READ); /* one request per connection: close once written */
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct ctl_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (!line) {
		if (evbuffer_get_length(in) > ADMIN_CTL_REQ_MAX) {
			char m[80];
			snprintf(m, sizeof m, "request longer than %d octets", ADMIN_CTL_REQ_MAX);
			send_answer(cl, answer(false, m));
		}
		return;
	}
	struct admin_ctl_req r;
	char err[300];
	json_t *o;
	if (admin_ctl_req_parse(line, n, &r, err, sizeof err) < 0) {
		log_warn("event=control_bad_request error=\"%s\"", err);
		o = answer(false, err);
	} else {
		o = run(cl->ctl, &r);
		if (!json_is_true(json_object_get(o, "ok")))
			log_info("event=control_refused cmd=%s%s%s reason=\"%s\"", admin_ctl_req_name(&r),
				 r.id[0] ? " queue=" : "", r.id, json_string_value(json_object_get(o, "msg")));
	}
	free(line);
	send_answer(cl, o);
}

static void on_written(struct bufferevent *bev, void *arg)
{
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		client_free(arg); /* the answer is out */
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_warn("event=control_timeout");
	client_free(arg);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	struct admin_ctl *c = arg;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct ucred cr;
	socklen_t crl = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0 || (cr.uid != 0 && cr.uid != geteuid())) {
		log_warn("event=control_refused reason=\"peer uid %ld is neither root nor mail_owner\"",
			 (long)(crl == sizeof cr ? (long)cr.uid : -1));
		close(fd);
		return;
	}
	if (c->nclients >= ADMIN_CTL_CLIENTS_MAX) {
		static const char busy[] = "{\"ok\":false,\"msg\":\"too many control connections; try again\"}\n";
		ssize_t w = write(fd, busy, sizeof busy - 1);
		(void)w;
		close(fd);
		return;
	}
	struct ctl_client *cl = xcalloc(1, sizeof *cl);
	cl->ctl = c;
	cl->bev = bufferevent_socket_new(gw_base(c->a->g), fd, BEV_OPT_CLOSE_ON_FREE);
	c->nclients++;
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	struct timeval tv = { ADMIN_CTL_TIMEOUT_S, 0 };
	bufferevent_set_timeouts(cl->bev, &tv, &tv);
	bufferevent_setcb(cl->bev, on_read, on_written, on_event, cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
}

void admin_ctl_start(struct admin *a)
{
	struct admin_ctl *c = a->ctl;
	if (!c)
		return;
	c->accept_ev = event_new(gw_base(a->g), c->fd, EV_READ | EV_PERSIST, on_accept, c);
	event_add(c->accept_ev, NULL);
	log_info("event=control_socket_listening path=%s", c->path);
}

void admin_ctl_close(struct admin *a)
{
	struct admin_ctl *c = a->ctl;
	if (!c)
		return;
	if (c->accept_ev)
		event_free(c->accept_ev);
	while (c->clients)
		client_free(c->clients);
	close(c->fd);
	unlink(c->path); /* may fail after the privilege drop: the next start replaces it */
	xfree(c->path);
	xfree(c);
	a->ctl = NULL;
}
