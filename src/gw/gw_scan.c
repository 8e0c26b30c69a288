/*
 * gw_scan.c - scanning between the input queue and routing (scan/ decides,
 * gw applies), and before the final 250 when scan_stage = before-queue.
 *
 * After-queue, for each message the queue hands to processing:
 *   1. a message held back by the poison guard (scan_max_attempts scans
 *      that never finished) goes to hold/;
 *   2. a scan-attempt record is appended (survives a crash of the process);
 *   3. the client's DNSBL result is fetched on the loop (usually cached
 *      since the client connected), then a worker thread reads the message,
 *      runs scan_run() and scan_apply();
 *   4. back on the loop: no verdict (scanner down: the attempt record is
 *      taken back; timeout: it stays) -> the message stays in input/ and is
 *      retried (or, with scan_on_failure = deliver-unscanned, passes with a
 *      header saying so); otherwise one queue transition writes the
 *      quarantine copy, the message to deliver (tagged, cleaned,
 *      redirected) routed like any other (gw_route.c), or nothing (drop).
 * A message that was scanned before the queue (its envelope carries the
 * report) only has its actions applied; a released or requeued one is only
 * routed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "ev/ev_pool.h"
#include "gw/gw_conf.h"
#include "gw/gw_int.h"
#include "mail/mail_env.h"
#include "net/net_addr.h"
#include "queue/queue_commit.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"
#include "scan/scan.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "smtp/smtp_server.h"

struct scan_job {
	struct gw *g;
	struct gw_scanset *set; /* a reference: the engine and policy this scan runs with */
	char qid[IDS_QUEUE_SIZE];
	const struct mail_env *env; /* borrowed (after-queue: until processed) */
	struct mail_env *own_env;   /* before-queue: ours until committed */
	bool before_queue, prescanned;
	uint64_t session;
	struct queue_draft draft; /* before-queue */
	int64_t t_dnsbl;
	/* worker input/output: the content is read from fd at off (len octets) */
	int fd;
	uint64_t off, body_len;
	char *data;
	size_t len;
	int read_err;
	struct scan_report rep;
	int rc;
	struct buf content;
	struct scan_outcome out;
};

/* ------------------------------------------------------------ set-up */

struct gw_scanset *gw_scanset_new(struct gw_gen *gen, const struct gw_scanset *prev, char *err, size_t errlen)
{
	int64_t t0 = clock_mono_us();
	struct gw_scanset *s = xcalloc(1, sizeof *s);
	if (gw_conf_scan_policy(gen->conf, &s->policy, err, errlen) < 0) {
		gw_conf_scan_policy_fini(&s->policy);
		xfree(s);
		return NULL;
	}
	struct scan_conf sc;
	gw_conf_scan(gen->conf, &sc);
	s->engine = scan_engine_new_reuse(&sc, prev ? prev->engine : NULL, &s->av_kept, err, errlen);
	if (!s->engine) {
		gw_conf_scan_policy_fini(&s->policy);
		xfree(s);
		return NULL;
	}
	if (!scan_engine_enabled(s->engine))
		scan_engine_free(&s->engine);
	s->gen = gw_gen_ref(gen);
	s->refs = 1;
	s->load_ms = (clock_mono_us() - t0) / 1000;
	return s;
}

static struct gw_scanset *scanset_ref(struct gw_scanset *s)
{
	s->refs++;
	return s;
}

void gw_scanset_unref(struct gw_scanset *s)
{
	if (!s || --s->refs > 0)
		return;
	scan_engine_free(&s->engine);
	gw_conf_scan_policy_fini(&s->policy);
	gw_gen_unref(s->gen);
	xfree(s);
}

/* The start-up line: what scans, or that nothing does. */
static void log_scanning(const struct gw *g)
{
	const struct conf *c = g->conf;
	if (!g->scan) {
		log_info("event=scanning_off reason=\"no scanner, DNSBL or access map configured\"");
		return;
	}
	struct buf b;
	buf_init(&b);
	scan_engine_describe(g->scan, &b);
	log_info("event=scanning_on stage=%s workers=%d load_ms=%lld %s", c->scan_stage, c->scan_workers,
		 (long long)g->scanset->load_ms, b.data);
	buf_fini(&b);
}

void gw_scan_swap(struct gw *g, struct gw_scanset *s)
{
	gw_scanset_unref(g->scanset);
	g->scanset = s;
	g->scan = s->engine;
	g->before_queue = strcmp(g->conf->scan_stage, "before-queue") == 0;
	/* scanning turned on by a reload: scan_workers as at start (a restart changes it) */
	if (g->scan && !g->scan_pool)
		g->scan_pool = ev_pool_new(g->base, g->conf->scan_workers, "scan");
	log_scanning(g);
}

int gw_scan_init(struct gw *g, char *err, size_t errlen)
{
	struct gw_scanset *set = gw_scanset_new(g->gen, NULL, err, errlen);
	if (!set)
		return -1;
	g->scanset = set;
	g->scan = set->engine;
	log_scanning(g);
	if (g->scan)
		g->scan_pool = ev_pool_new(g->base, g->conf->scan_workers, "scan");
	g->before_queue = strcmp(g->conf->scan_stage, "before-queue") == 0;
	g->crash_marker = getenv("MXGATE_TEST_SCAN_CRASH");
	if (g->crash_marker && !g->crash_marker[0])
		g->crash_marker = NULL;
	if (g->crash_marker)
		log_warn("event=fault_injection what=\"a scan of a message containing the marker crashes the process\"");
	return 0;
}

void gw_scan_free(struct gw *g)
{
	ev_pool_free(&g->scan_pool); /* the jobs in flight end first: their references go */
	gw_scanset_unref(g->scanset);
	g->scanset = NULL;
	g->scan = NULL;
}

/* ------------------------------------------------------------ the job */

static void job_free(struct scan_job *j)
{
	xfree(j->data);
	scan_report_fini(&j->rep);
	buf_fini(&j->content);
	scan_outcome_fini(&j->out);
	mail_env_free(&j->own_env);
	gw_scanset_unref(j->set);
	xfree(j);
}

static const struct mail_env *job_env(const struct scan_job *j)
{
	return j->own_env ? j->own_env : j->env;
}

/* Read the content (worker thread); the queued message's fd is ours to close. */
static int read_content(struct scan_job *j)
{
	if (j->fd < 0)
		return -1;
	j->data = xmalloc(j->body_len + 1);
	j->len = (size_t)j->body_len;
	int rc = j->len ? fs_pread_all(j->fd, j->data, j->len, (off_t)j->off) : 0;
	j->data[j->len] = '\0';
	if (!j->before_queue) {
		int e = errno;
		close(j->fd);
		errno = e;
	}
	return rc;
}

static void scan_work(void *arg)
{
	struct scan_job *j = arg;
	struct gw *g = j->g;
	const struct mail_env *env = job_env(j);
	if (read_content(j) < 0) {
		j->read_err = errno ? errno : EIO;
		return;
	}
	if (g->crash_marker && memmem(j->data, j->len, g->crash_marker, strlen(g->crash_marker)))
		abort(); /* the poison message a real parser bug would be */
	if (!j->prescanned) {
		/* env stays put until the answer: its strings can be lent to the scan */
		const char **rcpt = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof *rcpt);
		for (size_t i = 0; i < env->nrcpt; i++)
			rcpt[i] = env->rcpt[i].addr;
		struct scan_input in = {
			.data = j->data,
			.len = j->len,
			.qid = j->qid,
			.client_ip = env->client_addr,
			.helo = env->helo,
			.sender = env->sender,
			.rcpt = rcpt,
			.nrcpt = env->nrcpt,
		};
		j->rc = scan_run(j->set->engine, &in, &j->rep);
		xfree(rcpt);
		if (j->rc < 0)
			return;
	}
	buf_init(&j->content);
	scan_outcome_init(&j->out);
	scan_apply(&j->set->policy, &j->rep, j->data, j->len, &j->out);
	if (j->out.changed)
		mail_edits_apply(&j->out.edits, j->data, j->len, &j->content);
}

static void log_verdict(const struct scan_job *j)
{
	const struct scan_report *r = &j->rep;
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "queue=%s event=scanned verdict=%s", j->qid, scan_cat_name(r->cat));
	if (r->spam_scanned)
		buf_printf(&b, " score=%.2f required=%.2f", r->score, r->required);
	if (r->spam_skipped)
		buf_printf(&b, " spam_skipped=%s", LOG_Q(r->spam_skipped));
	struct buf l;
	buf_init(&l);
	if (r->nrules) {
		for (size_t i = 0; i < r->nrules && i < 50; i++)
			buf_printf(&l, "%s%s", i ? "," : "", r->rules[i]);
		buf_printf(&b, " rules=%s", LOG_Q(l.data));
	}
	/* viruses and the parts they were found in, as two parallel lists */
	if (r->nvirus) {
		buf_reset(&l);
		for (size_t i = 0; i < r->nvirus; i++)
			buf_printf(&l, "%s%s%s", i ? "," : "", r->virus[i].unscannable ? "unscannable:" : "",
				   r->virus[i].name);
		buf_printf(&b, " viruses=%s", LOG_Q(l.data));
		buf_reset(&l);
		for (size_t i = 0; i < r->nvirus; i++)
			buf_printf(&l, "%s%s", i ? "," : "", r->virus[i].path[0] ? r->virus[i].path : "message");
		buf_printf(&b, " parts=%s", LOG_Q(l.data));
	}
	buf_fini(&l);
	if (r->ndnsbl) {
		buf_printf(&b, " dnsbl_weight=%d dnsbl=", r->dnsbl_weight);
		for (size_t i = 0; i < r->ndnsbl; i++)
			buf_printf(&b, "%s%s", i ? "," : "", r->dnsbl[i].zone);
	}
	if (r->access)
		buf_printf(&b, " access=%s", r->access == 1 ? "ok" : "spam");
	buf_puts(&b, " actions=");
	scan_actions_format(j->out.flags, j->out.redirect, &b);
	if (j->out.cleaned)
		buf_printf(&b, " cleaned_parts=%zu", j->out.cleaned);
	buf_printf(&b, " ms_dnsbl=%.1f ms_parse=%.1f ms_virus=%.1f ms_spam=%.1f ms_total=%.1f%s", r->ms_dnsbl,
		   r->ms_parse, r->ms_virus, r->ms_spam, r->ms_total, j->prescanned ? " stage=before-queue" : "");
	log_info("%s", b.data);
	buf_fini(&b);
	if (j->prescanned) /* a before-queue verdict was published when it was made */
		return;
	struct gw_event ev = { .type = GW_EV_SCANNED, .qid = j->qid, .session = j->session };
	ev.u.scanned.env = job_env(j);
	ev.u.scanned.report = r;
	ev.u.scanned.outcome = &j->out;
	ev.u.scanned.size = j->len;
	ev.u.scanned.before_queue = j->before_queue;
	gw_emit(j->g, &ev);
}

/* A copy of src with every recipient (routes included). */
static struct mail_env *env_clone(const struct mail_env *src, bool keep_routes)
{
	struct mail_env *e = mail_env_new_like(src);
	for (size_t i = 0; i < src->nrcpt; i++) {
		const struct mail_rcpt *r = &src->rcpt[i];
		if (r->state != MAIL_RCPT_PENDING)
			continue;
		struct mail_rcpt *n = mail_env_add_rcpt(e, r->addr, r->orcpt, r->notify);
		if (keep_routes && r->route)
			n->route = mail_env_strdup(e, r->route);
	}
	return e;
}

static void set_scan(struct mail_env *e, const struct scan_report *r)
{
	struct buf b;
	buf_init(&b);
	scan_report_encode(r, &b);
	e->scan = mail_env_strdup(e, b.data);
	buf_fini(&b);
}

/* What becomes of a message that is not delivered as it is: logged when
 * it is not delivered at all, and published. */
static void log_disposition(const struct scan_job *j, bool deliver, bool quarantine)
{
	if (!deliver)
		log_info("queue=%s event=%s verdict=%s", j->qid, quarantine ? "quarantined_only" : "dropped",
			 scan_cat_name(j->rep.cat));
	if (quarantine) {
		struct gw_event ev = { .type = GW_EV_QUARANTINED, .qid = j->qid };
		ev.u.quarantined.report = &j->rep;
		gw_emit(j->g, &ev);
	} else if (!deliver) {
		gw_emit(j->g, &(struct gw_event){ .type = GW_EV_REMOVED, .qid = j->qid, .u.removed.reason = "dropped" });
	}
}

/* After-queue: turn the outcome into queue transitions. */
static void finish_after_queue(struct scan_job *j)
{
	struct gw *g = j->g;
	const struct mail_env *env = j->env;
	const struct scan_outcome *o = &j->out;
	bool deliver = (o->flags & (SCAN_ACT_DELIVER | SCAN_ACT_CLEAN | SCAN_ACT_REDIRECT)) != 0;
	bool quarantine = (o->flags & SCAN_ACT_QUARANTINE) != 0;
	if (deliver && !quarantine && !o->changed && !(o->flags & SCAN_ACT_REDIRECT)) {
		/* delivered as received: routing only (a rename when nothing changes) */
		gw_route_process(g, j->qid, env);
		return;
	}
	/* the message to deliver, before routing */
	struct mail_env *dl = NULL;
	if (deliver) {
		if (o->flags & SCAN_ACT_REDIRECT) {
			dl = mail_env_new_like(env);
			mail_env_add_rcpt(dl, o->redirect, NULL, 0);
		} else {
			dl = env_clone(env, true);
		}
		set_scan(dl, &j->rep);
	}
	struct mail_env **routed = NULL;
	size_t nrouted = 0;
	if (dl) {
		int rr = gw_route_envs(g, j->qid, dl, &routed, &nrouted);
		if (rr < 0) {
			mail_env_free(&dl);
			queue_sched_processed(g->q, j->qid, QUEUE_RETRY);
			return;
		}
		if (nrouted == 0) { /* identity: the envelope as it is */
			routed = xcalloc(1, sizeof *routed);
			routed[0] = dl;
			nrouted = 1;
			dl = NULL;
		}
		mail_env_free(&dl);
	}
	size_t n = 1 + (quarantine ? 1 : 0) + (nrouted ? nrouted - 1 : 0);
	struct queue_out *outs = xcalloc(n, sizeof *outs);
	size_t k = 1;
	char *content = NULL;
	size_t clen = 0;
	if (o->changed)
		content = buf_steal(&j->content, &clen);
	for (size_t i = 0; i < nrouted; i++) {
		struct queue_out *q = i == 0 ? &outs[0] : &outs[k++];
		q->env = routed[i];
		q->to = QDIR_OUTPUT;
		if (content && i > 0) { /* owner- splits get copies */
			q->content = xmalloc(clen ? clen : 1);
			memcpy(q->content, content, clen);
		}
		q->len = content ? clen : 0;
	}
	if (content && nrouted)
		outs[0].content = content; /* the message itself takes the buffer */
	else
		xfree(content);
	xfree(routed);
	if (quarantine) {
		struct mail_env *qe = env_clone(env, false);
		set_scan(qe, &j->rep);
		outs[k++] = (struct queue_out){ .env = qe, .to = QDIR_QUARANTINE };
	}
	log_disposition(j, deliver, quarantine);
	queue_sched_processed_out(g->q, j->qid, outs, n);
	xfree(outs);
}

static void failed_after_queue(struct scan_job *j)
{
	struct gw *g = j->g;
	if (!j->rep.tempfail_timeout)
		queue_sched_append_scan_attempt(g->q, j->qid, -1); /* not the message's fault */
	if (strcmp(g->conf->scan_on_failure, "deliver-unscanned") == 0) {
		log_warn("queue=%s event=scan_failed error=%s action=deliver-unscanned", j->qid, LOG_Q(j->rep.error));
		/* a report saying so, and its header */
		scan_report_fini(&j->rep);
		scan_report_init(&j->rep);
		j->rep.spam_skipped = xstrdup("not scanned: scanner failure");
		scan_report_classify(&j->rep, 1e9, 0);
		struct scan_policy p = j->set->policy;
		p.headers_on_clean = true;
		buf_init(&j->content);
		scan_outcome_fini(&j->out);
		scan_outcome_init(&j->out);
		scan_apply(&p, &j->rep, j->data, j->len, &j->out);
		if (j->out.changed)
			mail_edits_apply(&j->out.edits, j->data, j->len, &j->content);
		finish_after_queue(j);
		return;
	}
	log_warn("queue=%s event=scan_deferred error=%s timeout=%s retry_in=%ds", j->qid, LOG_Q(j->rep.error),
		 j->rep.tempfail_timeout ? "yes" : "no", g->conf->minimal_backoff_time);
	queue_sched_processed(g->q, j->qid, QUEUE_RETRY);
}

/* ------------------------------------------------------------ before-queue */

static void finish_before_queue(struct scan_job *j)
{
	struct gw *g = j->g;
	struct mail_reply r;
	if (j->read_err || j->rc < 0) {
		const char *why = j->read_err ? strerror(j->read_err) : j->rep.error;
		log_warn("session=%llu queue=%s event=scan_failed stage=before-queue error=%s reply=451",
			 (unsigned long long)j->session, j->qid, LOG_Q(why));
		queue_store_draft_abort(g->qs, &j->draft);
		mail_reply_set(&r, 451, "4.7.1", "Try again later: the message could not be scanned");
		g->rejected++;
		smtp_server_resume(g->smtpd, j->session, &r);
		return;
	}
	log_verdict(j);
	if (j->out.flags & SCAN_ACT_REJECT) {
		queue_store_draft_abort(g->qs, &j->draft);
		const struct scan_report *rep = &j->rep;
		if (rep->cat == SCAN_VIRUS || rep->cat == SCAN_UNSCANNABLE)
			mail_reply_set(&r, 554, "5.7.1", "Message refused: %s %.200s", scan_cat_name(rep->cat),
				       rep->nvirus ? rep->virus[0].name : "");
		else if (rep->cat == SCAN_BLOCKLISTED)
			mail_reply_set(&r, 554, "5.7.1", "Message refused: client blocklisted (%.200s)",
				       rep->ndnsbl ? rep->dnsbl[0].zone : "");
		else
			mail_reply_set(&r, 554, "5.7.1", "Message refused as %s (score %.1f)", scan_cat_name(rep->cat),
				       rep->score);
		log_info("session=%llu queue=%s event=rejected_content verdict=%s", (unsigned long long)j->session, j->qid,
			 scan_cat_name(rep->cat));
		g->rejected++;
		smtp_server_resume(g->smtpd, j->session, &r);
		return;
	}
	struct mail_env *env = j->own_env;
	j->own_env = NULL;
	set_scan(env, &j->rep);
	queue_commit_submit(g->qc, &j->draft, env, QDIR_INPUT, gw_accept_committed, g, j->session);
}

/* ------------------------------------------------------------ dispatch */

static void scan_done(void *arg)
{
	struct scan_job *j = arg;
	if (!j->read_err && !j->prescanned && j->rc < 0) {
		struct gw_event ev = { .type = GW_EV_SCAN_FAILED, .qid = j->qid, .session = j->session };
		ev.u.scan_failed.report = &j->rep;
		ev.u.scan_failed.before_queue = j->before_queue;
		gw_emit(j->g, &ev);
	}
	if (j->before_queue) {
		finish_before_queue(j);
	} else if (j->read_err) {
		log_err("queue=%s event=scan_read_error error=\"%s\"", j->qid, strerror(j->read_err));
		queue_sched_append_scan_attempt(j->g->q, j->qid, -1);
		queue_sched_processed(j->g->q, j->qid, QUEUE_RETRY);
	} else if (j->rc < 0) {
		failed_after_queue(j);
	} else {
		log_verdict(j);
		finish_after_queue(j);
	}
	job_free(j);
}

static void submit(struct scan_job *j)
{
	if (!j->before_queue)
		j->fd = queue_sched_open_body(j->g->q, j->qid, &j->off, &j->body_len);
	ev_pool_submit(j->g->scan_pool, j, scan_work, scan_done);
}

static void on_dnsbl(void *arg, const struct scan_dnsbl_result *res)
{
	struct scan_job *j = arg;
	j->rep.ms_dnsbl = (double)(clock_mono_us() - j->t_dnsbl) / 1000.0;
	scan_report_set_dnsbl(&j->rep, res);
	submit(j);
}

/* DNSBL first (on the loop), unless the client is ours or local. */
static void start(struct scan_job *j)
{
	struct gw *g = j->g;
	const struct mail_env *env = job_env(j);
	struct net_addr a;
	if (!j->prescanned && g->dnsbl && env->client_addr[0] && net_addr_parse(env->client_addr, 0, &a) == 0 &&
	    gw_accept_dnsbl_wanted(g, &a)) {
		j->t_dnsbl = clock_mono_us();
		scan_dnsbl_lookup(g->dnsbl, &a, on_dnsbl, j);
		return;
	}
	submit(j);
}

void gw_scan_process(void *ctx, const char *qid, const struct mail_env *env)
{
	struct gw *g = ctx;
	if (!g->scan || (env->flags & (MAIL_ENV_F_RELEASED | MAIL_ENV_F_REQUEUED))) {
		gw_route_process(g, qid, env);
		return;
	}
	struct scan_job *j = xcalloc(1, sizeof *j);
	j->g = g;
	j->set = scanset_ref(g->scanset);
	snprintf(j->qid, sizeof j->qid, "%s", qid);
	j->env = env;
	scan_report_init(&j->rep);
	if (env->scan) {
		/* scanned before the 250: apply the recorded verdict */
		if (scan_report_decode(env->scan, &j->rep) < 0)
			log_warn("queue=%s event=scan_record_damaged action=rescan", qid);
		else
			j->prescanned = true;
	}
	if (!j->prescanned) {
		if (env->scan_attempts >= g->conf->scan_max_attempts) {
			log_err("queue=%s event=poison_hold attempts=%d reason=\"scans crashed or timed out %d times\"", qid,
				env->scan_attempts, env->scan_attempts);
			job_free(j);
			queue_sched_processed(g->q, qid, QUEUE_HOLD);
			return;
		}
		if (queue_sched_append_scan_attempt(g->q, qid, +1) < 0)
			log_warn("queue=%s event=scan_attempt_record_error error=\"%s\"", qid, strerror(errno));
	}
	start(j);
}

bool gw_scan_before_queue(struct gw *g, uint64_t session, struct queue_draft *d, struct mail_env *env)
{
	if (!g->scan || !g->before_queue)
		return false;
	struct scan_job *j = xcalloc(1, sizeof *j);
	j->g = g;
	j->set = scanset_ref(g->scanset);
	j->before_queue = true;
	j->session = session;
	j->draft = *d;
	j->fd = d->fd;
	j->off = QUEUE_BODY_OFF;
	j->body_len = d->body_len;
	snprintf(j->qid, sizeof j->qid, "%s", d->qid);
	j->own_env = env;
	scan_report_init(&j->rep);
	start(j);
	return true;
}
