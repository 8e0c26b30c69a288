/*
 * gw_learn.c - learning into the Bayes store from the gateway: what the
 * scanners' auto-learning decided (SpamAssassin's AutoLearnThreshold, with
 * bayes_auto_learn), a quarantine release (ham) and "delete as spam"
 * (spam). The tokens come from the scanners (content is parsed only
 * there): in the answer of a scan, or in a quarantined message's envelope
 * (its L record).
 *
 * The store is written on a worker thread ("bayes"), in batches: one lock,
 * one whole-file write for up to LEARN_BATCH messages, at most every
 * LEARN_INTERVAL_S seconds (at once for an administrator's action). A
 * batch that cannot be written (the store locked by a long `mxgate learn`
 * for LEARN_WAIT_MS, unwritable, damaged) is logged and dropped: the mail
 * itself is not affected. At shutdown what is pending is written on the
 * loop (blocking; the gateway has stopped taking mail). Each message
 * learned is logged (event=bayes_learned) and counted (gw_counters).
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "ev/ev_pool.h"
#include "gw/gw_int.h"
#include "scan/bayes/scan_bayes.h"
#include "scan/scan.h"

#define LEARN_BATCH 200
#define LEARN_INTERVAL_S 5
#define LEARN_WAIT_MS 10000
#define LEARN_PENDING_MAX 5000 /* beyond: dropped and counted (a store that cannot keep up) */

struct item {
	uint64_t msg_key;
	uint64_t *keys;
	size_t nkeys;
	int cls; /* 1 spam, 0 ham */
	enum gw_learn_source src;
	uint32_t expiry;
	char qid[32];
};

struct batch {
	struct gw *g;
	char *path;
	struct item *items;
	size_t n;
	int *results;
	struct scan_bayes_counts after;
	int rc;
	char err[300];
};

struct gw_learner {
	struct ev_pool *pool;
	struct event *timer;
	struct item *pending;
	size_t n, cap;
	bool busy; /* a batch on the worker */
};

static const char *const src_names[GW_LEARN_NSRC] = { "auto", "release", "delete-as-spam" };

static void batch_work(void *arg)
{
	struct batch *b = arg;
	struct scan_bayes_item *it = xcalloc(b->n + 1, sizeof *it);
	size_t expiry = 0;
	for (size_t i = 0; i < b->n; i++) {
		it[i] = (struct scan_bayes_item){ .msg_key = b->items[i].msg_key, .keys = b->items[i].keys,
						   .nkeys = b->items[i].nkeys, .cls = b->items[i].cls };
		if (b->items[i].expiry > expiry)
			expiry = b->items[i].expiry;
	}
	b->rc = scan_bayes_learn_batch(b->path, it, b->n, expiry, (uint32_t)time(NULL), LEARN_WAIT_MS, b->results,
				       &b->after, b->err, sizeof b->err);
	xfree(it);
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		xfree(b->items[i].keys);
	xfree(b->items);
	xfree(b->results);
	xfree(b->path);
	xfree(b);
}

static void batch_account(struct batch *b)
{
	struct gw *g = b->g;
	if (b->rc < 0) {
		g->bayes_failed += b->n;
		log_warn("event=bayes_learn_failed messages=%zu error=%s effect=\"not learned\"", b->n, LOG_Q(b->err));
		return;
	}
	static const char *const res[] = { "already", "learned", "relearned" };
	for (size_t i = 0; i < b->n; i++) {
		const struct item *it = &b->items[i];
		int r = b->results[i];
		if (r > 0)
			g->bayes_learned[it->src][it->cls == 1 ? 1 : 0]++;
		log_info("queue=%s event=bayes_learned class=%s source=%s result=%s", it->qid[0] ? it->qid : "-",
			 it->cls == 1 ? "spam" : "ham", src_names[it->src], res[r >= 0 && r <= 2 ? r : 0]);
	}
	log_info("event=bayes_store_written messages=%zu nspam=%llu nham=%llu tokens=%llu", b->n,
		 (unsigned long long)b->after.nspam, (unsigned long long)b->after.nham,
		 (unsigned long long)b->after.ntokens);
}

static void schedule(struct gw *g, bool now);

static void batch_done(void *arg)
{
	struct batch *b = arg;
	struct gw *g = b->g;
	batch_account(b);
	batch_free(b);
	if (g->learner) {
		g->learner->busy = false;
		if (g->learner->n)
			schedule(g, g->learner->n >= LEARN_BATCH);
	}
}

/* The pending items (up to LEARN_BATCH) as a batch. */
static struct batch *take_batch(struct gw *g)
{
	struct gw_learner *L = g->learner;
	size_t n = L->n < LEARN_BATCH ? L->n : LEARN_BATCH;
	struct batch *b = xcalloc(1, sizeof *b);
	b->g = g;
	b->path = xstrdup(g->conf->bayes_path);
	b->items = xmalloc((n + 1) * sizeof *b->items);
	memcpy(b->items, L->pending, n * sizeof *b->items);
	memmove(L->pending, L->pending + n, (L->n - n) * sizeof *L->pending);
	L->n -= n;
	b->n = n;
	b->results = xcalloc(n + 1, sizeof *b->results);
	return b;
}

static void flush(struct gw *g)
{
	struct gw_learner *L = g->learner;
	if (L->busy || L->n == 0)
		return;
	L->busy = true;
	ev_pool_submit(L->pool, take_batch(g), batch_work, batch_done);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush(arg);
}

static void schedule(struct gw *g, bool now)
{
	struct gw_learner *L = g->learner;
	if (now) {
		flush(g);
		return;
	}
	if (!evtimer_pending(L->timer, NULL)) {
		struct timeval tv = { LEARN_INTERVAL_S, 0 };
		evtimer_add(L->timer, &tv);
	}
}

void gw_learn_init(struct gw *g)
{
	struct gw_learner *L = xcalloc(1, sizeof *L);
	L->pool = ev_pool_new(g->base, 1, "bayes");
	L->timer = evtimer_new(g->base, on_timer, g);
	g->learner = L;
}

void gw_learn_free(struct gw *g)
{
	struct gw_learner *L = g->learner;
	if (!L)
		return;
	ev_pool_free(&L->pool); /* a batch in flight is written and accounted */
	L->busy = false;
	while (L->n) { /* the rest, here: the gateway is stopping */
		struct batch *b = take_batch(g);
		batch_work(b);
		batch_account(b);
		batch_free(b);
	}
	event_free(L->timer);
	xfree(L->pending);
	xfree(L);
	g->learner = NULL;
}

bool gw_learn_submit(struct gw *g, const struct scan_learn *l, bool spam, enum gw_learn_source src, const char *qid)
{
	struct gw_learner *L = g->learner;
	if (!L || !l || l->nkeys == 0 || !g->conf->use_bayes)
		return false;
	if (L->n >= LEARN_PENDING_MAX) {
		g->bayes_failed++;
		log_warn("queue=%s event=bayes_learn_dropped reason=\"%d messages waiting for the store\"", qid ? qid : "-",
			 LEARN_PENDING_MAX);
		return false;
	}
	if (L->n == L->cap) {
		L->cap = L->cap ? L->cap * 2 : 64;
		L->pending = xrealloc(L->pending, L->cap * sizeof *L->pending);
	}
	struct item *it = &L->pending[L->n++];
	*it = (struct item){ .msg_key = l->msg_key, .nkeys = l->nkeys, .cls = spam ? 1 : 0, .src = src,
			     .expiry = l->expiry_max };
	it->keys = xmalloc(l->nkeys * sizeof *it->keys);
	memcpy(it->keys, l->keys, l->nkeys * sizeof *it->keys);
	snprintf(it->qid, sizeof it->qid, "%s", qid ? qid : "");
	schedule(g, src != GW_LEARN_AUTO || L->n >= LEARN_BATCH);
	return true;
}
