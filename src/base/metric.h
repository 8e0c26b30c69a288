/*
 * metric.h - counters and histograms for the Prometheus exposition, and the
 * text format 0.0.4 writers (admin/admin_metrics.c gathers and renders them).
 *
 * A module owns its metric structs (in its own state) and bumps them from
 * any thread: every update is one relaxed C11 atomic add, so the scan and
 * commit threads may bump what the loop reads. A reader sees each value
 * whole, not a snapshot across values; a histogram's _count is computed from
 * its buckets at rendering, so _count always equals the +Inf bucket.
 */
#ifndef BASE_METRIC_H
#define BASE_METRIC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct metric_counter {
	_Atomic uint64_t v;
};

static inline void metric_add(struct metric_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}
static inline void metric_inc(struct metric_counter *c)
{
	metric_add(c, 1);
}
static inline uint64_t metric_get(const struct metric_counter *c)
{
	return atomic_load_explicit(&c->v, memory_order_relaxed);
}

#define METRIC_HIST_BUCKETS_MAX 16

/* Observations in microseconds, exposed in seconds. */
struct metric_hist {
	const double *le; /* upper bounds in seconds, ascending (static) */
	size_t n;	  /* at most METRIC_HIST_BUCKETS_MAX */
	_Atomic uint64_t count[METRIC_HIST_BUCKETS_MAX + 1]; /* per bucket, not cumulative; [n] is +Inf */
	_Atomic uint64_t sum_us;
};

/* Bucket sets (seconds) shared by the gateway's histograms. */
extern const double metric_le_fast[];	/* 1 ms .. 10 s: accept latency, scan time */
extern const size_t metric_le_fast_n;
extern const double metric_le_slow[];	/* 1 s .. 2 days: delivery delay */
extern const size_t metric_le_slow_n;

void metric_hist_init(struct metric_hist *h, const double *le, size_t n);
/* us < 0 counts as 0. */
void metric_hist_observe_us(struct metric_hist *h, int64_t us);
uint64_t metric_hist_count(const struct metric_hist *h);

/* ---- text format 0.0.4 ---- */

/* # HELP and # TYPE lines (help: \ and newline escaped). */
void metric_head(struct buf *out, const char *name, const char *type, const char *help);
/* key="value" (value's \ " and newline escaped), after a comma when lb is
 * not empty: builds a label set for the functions below. */
void metric_label(struct buf *lb, const char *key, const char *value);
/* name{labels} v  (labels NULL or "": no braces) */
void metric_sample(struct buf *out, const char *name, const char *labels, uint64_t v);
void metric_sample_f(struct buf *out, const char *name, const char *labels, double v);
/* name_bucket{labels,le="..."} (cumulative), name_sum, name_count */
void metric_hist_render(struct buf *out, const char *name, const char *labels, const struct metric_hist *h);

#endif
