/*
 * smtp_int.h - private to smtp/: the session and server structs.
 */
#ifndef SMTP_SMTP_INT_H
#define SMTP_SMTP_INT_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "base/buf.h"
#include "mail/mail_body.h"
#include "mail/mail_dot.h"
#include "smtp/smtp_server.h"

struct arena;
struct map;

enum smtp_state {
	SMTP_S_CONNECT, /* waiting for on_connect */
	SMTP_S_CMD,	/* reading commands */
	SMTP_S_DATA,	/* reading DATA content */
	SMTP_S_BDAT,	/* reading a BDAT chunk */
	SMTP_S_WAIT,	/* an async hook is pending */
	SMTP_S_CLOSING, /* final reply queued; close when flushed */
};

enum smtp_wait { SMTP_W_NONE, SMTP_W_CONNECT, SMTP_W_MAIL, SMTP_W_RCPT, SMTP_W_DATA };

struct smtp_listener {
	struct evconnlistener *l;
	char label[64];
};

/* A settings snapshot: the server's current one, and each session's from
 * its start. Refcounted: a reconfigure gives new sessions the new settings
 * while open sessions keep theirs; the last reference calls conf.release. */
struct smtp_conf_ref {
	struct smtp_server_conf c;
	size_t refs;
};

struct smtp_server {
	struct event_base *base;
	struct smtp_conf_ref *cur; /* settings for new sessions */
	struct smtp_policy policy;
	struct smtp_listener *lst;
	size_t nlst;
	struct map *sessions; /* id -> struct smtp_session */
	struct map *per_ip;   /* ip text -> count (as pointer-sized int) */
	size_t nsessions;
	bool shutting_down;
	void (*shutdown_done)(void *);
	void *shutdown_arg;
	struct event *shutdown_ev;
	struct smtp_server_metrics m;
};

struct smtp_session {
	uint64_t id;
	struct smtp_server *srv;
	struct smtp_conf_ref *cref;	    /* the settings this session started with (a reference) */
	const struct smtp_server_conf *conf; /* &cref->c */
	struct bufferevent *bev; /* top: socket or TLS filter (owns the socket one) */
	struct smtp_client_info info;
	enum smtp_state state;
	enum smtp_wait wait;
	struct event *idle_ev, *life_ev, *free_ev;
	int errors;
	bool discard_line; /* skipping the rest of an over-long command line */
	bool in_process;
	bool throttled;	   /* reading paused because replies are piling up */
	bool direct;	   /* plain socket: replies are written by flush_out(), EV_WRITE only while one would block */
	bool helo_seen;
	bool quit_after_wait; /* shutting down: 421 after the pending reply */
	bool free_forced;     /* connection lost: free without waiting to flush */
	/* transaction (arena: tx) */
	struct arena *tx;
	bool have_mail;
	struct mail_from from;
	struct mail_rcpt_to *rcpt;
	size_t nrcpt, rcpt_cap;
	struct mail_from pend_from;   /* parsed, waiting for on_mail */
	struct mail_rcpt_to pend_rcpt; /* parsed, waiting for on_rcpt */
	/* content */
	void *sink;
	char msg_id[32];
	bool sink_failed;
	bool too_big;
	bool chunking;	   /* transaction uses BDAT */
	bool bdat_failed;  /* a BDAT chunk was refused: refuse until LAST */
	bool bdat_last;
	uint64_t bdat_left;
	bool bdat_discard;	/* this chunk is read and thrown away */
	struct mail_reply bdat_err; /* answer for a discarded chunk (code 0: sent) */
	size_t check_base;	/* octets of our Received: field */
	bool nl_prev_cr;	/* normalize(): last octet seen was CR */
	size_t dbuf_checked;	/* octets of dbuf already checked */
	struct mail_dot_dec dot;
	struct mail_body_check check;
	struct buf dbuf;   /* decoded content waiting to be written */
	struct buf out;	   /* reply scratch */
	char protocol[16];
	int64_t content_end_us; /* the end of DATA / BDAT LAST (accept latency) */
};

/* smtp_server.c */
void smtp_server_conf_unref(struct smtp_conf_ref *r);

/* smtp_session.c */
void smtp_session_accept(struct smtp_server *srv, evutil_socket_t fd, const struct sockaddr *sa, int salen);
void smtp_session_reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void smtp_session_send(struct smtp_session *s, const struct mail_reply *r);
void smtp_session_close(struct smtp_session *s); /* deferred free after flush */
void smtp_session_process(struct smtp_session *s);
void smtp_session_tx_reset(struct smtp_session *s);
void smtp_session_start_tls(struct smtp_session *s);
void smtp_session_resume(struct smtp_session *s, const struct mail_reply *r);
void smtp_session_shutdown(struct smtp_session *s);

/* smtp_verbs.c */
void smtp_verbs_dispatch(struct smtp_session *s, const char *line, size_t len);
/* A refused MAIL, RCPT or DATA/BDAT: counted and logged
 * (event=reject_mail|reject_rcpt|reject_data); what: the address or NULL. */
void smtp_verbs_refused(struct smtp_session *s, enum smtp_stage st, const struct mail_reply *r, const char *what);
void smtp_verbs_resume(struct smtp_session *s, const struct mail_reply *r, enum smtp_wait w);

/* smtp_data.c */
void smtp_data_begin(struct smtp_session *s);		  /* DATA command accepted */
void smtp_data_bdat(struct smtp_session *s, uint64_t n, bool last);
bool smtp_data_read(struct smtp_session *s);		  /* false: need more input */
void smtp_data_abort(struct smtp_session *s);

#endif
