/*
 * smtp_server.c - listeners, connection limits, the session registry.
 *
 * Owns the listening sockets, the id -> session map and the settings
 * snapshots (one per reconfigure, shared by the sessions that started under
 * it); hands accepted sockets to smtp_session.c. Session and per-client-IP limits are enforced
 * here, before any session state exists: an excess connection gets one
 * 421 line and is closed.
 */
#include "smtp/smtp_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "smtp/smtp_int.h"

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	smtp_session_accept(arg, fd, sa, salen);
}

static void relisten(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	(void)arg;
	int e = EVUTIL_SOCKET_ERROR();
	log_warn("event=accept_error error=\"%s\"", evutil_socket_error_to_string(e));
	/* EMFILE and friends: back off a little instead of spinning */
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		evconnlistener_disable(l);
		struct timeval tv = { 0, 200000 };
		event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT, relisten, l, &tv);
	}
}

static struct smtp_conf_ref *conf_ref_new(const struct smtp_server_conf *conf)
{
	struct smtp_conf_ref *r = xcalloc(1, sizeof *r);
	r->c = *conf;
	r->refs = 1;
	return r;
}

void smtp_server_conf_unref(struct smtp_conf_ref *r)
{
	if (!r || --r->refs > 0)
		return;
	if (r->c.release)
		r->c.release(r->c.release_arg);
	xfree(r);
}

struct smtp_server *smtp_server_new(struct event_base *base, const struct smtp_server_conf *conf,
				    const struct smtp_policy *policy)
{
	struct smtp_server *srv = xcalloc(1, sizeof *srv);
	metric_hist_init(&srv->m.accept_latency, metric_le_fast, metric_le_fast_n);
	srv->base = base;
	srv->cur = conf_ref_new(conf);
	srv->policy = *policy;
	srv->sessions = map_new();
	srv->per_ip = map_new();
	return srv;
}

void smtp_server_add_listener(struct smtp_server *srv, int fd, const char *label)
{
	srv->lst = xrealloc(srv->lst, (srv->nlst + 1) * sizeof *srv->lst);
	struct smtp_listener *L = &srv->lst[srv->nlst++];
	snprintf(L->label, sizeof L->label, "%s", label);
	L->l = evconnlistener_new(srv->base, on_accept, srv, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!L->l)
		log_fatal("event=listen_error listen=%s error=\"evconnlistener_new failed\"", label);
	evconnlistener_set_error_cb(L->l, on_accept_error);
}

void smtp_server_reconfigure(struct smtp_server *srv, const struct smtp_server_conf *conf)
{
	struct smtp_conf_ref *old = srv->cur;
	srv->cur = conf_ref_new(conf);
	smtp_server_conf_unref(old);
}

bool smtp_server_remove_listener(struct smtp_server *srv, const char *label)
{
	for (size_t i = 0; i < srv->nlst; i++) {
		if (strcmp(srv->lst[i].label, label) != 0)
			continue;
		if (srv->lst[i].l)
			evconnlistener_free(srv->lst[i].l);
		srv->lst[i] = srv->lst[--srv->nlst];
		return true;
	}
	return false;
}

void smtp_server_adopt(struct smtp_server *srv, int fd, const struct net_addr *peer)
{
	evutil_make_socket_nonblocking(fd);
	smtp_session_accept(srv, fd, (const struct sockaddr *)&peer->ss, (int)peer->len);
}

void smtp_server_resume(struct smtp_server *srv, uint64_t session_id, const struct mail_reply *reply)
{
	struct smtp_session *s = map_getu(srv->sessions, session_id);
	if (!s) {
		log_debug("session=%llu event=resume_dropped reason=\"session gone\"", (unsigned long long)session_id);
		return;
	}
	smtp_session_resume(s, reply);
}

void smtp_server_set_client_name(struct smtp_server *srv, uint64_t session_id, const char *name)
{
	struct smtp_session *s = map_getu(srv->sessions, session_id);
	if (s)
		snprintf(s->info.name, sizeof s->info.name, "%s", name);
}

size_t smtp_server_session_count(const struct smtp_server *srv)
{
	return srv->nsessions;
}

const struct smtp_server_metrics *smtp_server_metrics(const struct smtp_server *srv)
{
	return &srv->m;
}

const char *smtp_conn_outcome_name(enum smtp_conn_outcome o)
{
	static const char *n[SMTP_CONN_N] = { "accepted", "refused_shutdown", "refused_session_limit",
					      "refused_per_ip_limit" };
	return o < SMTP_CONN_N ? n[o] : "other";
}

const char *smtp_stage_name(enum smtp_stage st)
{
	static const char *n[SMTP_STAGE_N] = { "mail", "rcpt", "data" };
	return st < SMTP_STAGE_N ? n[st] : "other";
}

const char *smtp_subject_name(int subject)
{
	static const char *n[SMTP_SUBJECTS] = { "other",    "addressing", "mailbox", "system",
						"network", "protocol",	 "content", "policy" };
	return subject >= 0 && subject < SMTP_SUBJECTS ? n[subject] : "other";
}

void smtp_server_shutdown(struct smtp_server *srv, void (*done)(void *arg), void *arg)
{
	srv->shutting_down = true;
	srv->shutdown_done = done;
	srv->shutdown_arg = arg;
	for (size_t i = 0; i < srv->nlst; i++) {
		evconnlistener_free(srv->lst[i].l);
		srv->lst[i].l = NULL;
	}
	/* collect first: sessions may leave the map while we walk it */
	size_t n = map_count(srv->sessions), k = 0, pos = 0;
	uint64_t *ids = xcalloc(n ? n : 1, sizeof *ids);
	void *v;
	while (k < n && map_next(srv->sessions, &pos, NULL, NULL, &v))
		ids[k++] = ((struct smtp_session *)v)->id;
	for (size_t i = 0; i < k; i++) {
		struct smtp_session *s = map_getu(srv->sessions, ids[i]);
		if (s)
			smtp_session_shutdown(s);
	}
	xfree(ids);
	if (srv->nsessions == 0 && done)
		done(arg);
}

void smtp_server_free(struct smtp_server **sp)
{
	struct smtp_server *srv = *sp;
	if (!srv)
		return;
	for (size_t i = 0; i < srv->nlst; i++) {
		if (srv->lst[i].l)
			evconnlistener_free(srv->lst[i].l);
	}
	xfree(srv->lst);
	smtp_server_conf_unref(srv->cur);
	map_free(&srv->sessions);
	map_free(&srv->per_ip);
	xfree(srv);
	*sp = NULL;
}
