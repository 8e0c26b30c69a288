/*
 * metric.c - histogram updates and the Prometheus text format 0.0.4
 * writers (see metric.h). Owns no state: the metrics live in their modules.
 */
#include "base/metric.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"

const double metric_le_fast[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
const size_t metric_le_fast_n = sizeof metric_le_fast / sizeof metric_le_fast[0];
const double metric_le_slow[] = { 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 172800 };
const size_t metric_le_slow_n = sizeof metric_le_slow / sizeof metric_le_slow[0];

void metric_hist_init(struct metric_hist *h, const double *le, size_t n)
{
	h->le = le;
	h->n = n > METRIC_HIST_BUCKETS_MAX ? METRIC_HIST_BUCKETS_MAX : n;
	for (size_t i = 0; i <= METRIC_HIST_BUCKETS_MAX; i++)
		atomic_init(&h->count[i], 0);
	atomic_init(&h->sum_us, 0);
}

void metric_hist_observe_us(struct metric_hist *h, int64_t us)
{
	if (us < 0)
		us = 0;
	double s = (double)us / 1e6;
	size_t i = 0;
	while (i < h->n && s > h->le[i])
		i++;
	atomic_fetch_add_explicit(&h->count[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

uint64_t metric_hist_count(const struct metric_hist *h)
{
	uint64_t n = 0;
	for (size_t i = 0; i <= h->n; i++)
		n += atomic_load_explicit(&h->count[i], memory_order_relaxed);
	return n;
}

static void escaped(struct buf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(out, "\\\\");
		else if (*s == '\n')
			buf_puts(out, "\\n");
		else if (*s == '"' && quote)
			buf_puts(out, "\\\"");
		else
			buf_putc(out, *s);
	}
}

void metric_head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s ", name);
	escaped(out, help, false);
	buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void metric_label(struct buf *lb, const char *key, const char *value)
{
	buf_printf(lb, "%s%s=\"", lb->len ? "," : "", key);
	escaped(lb, value ? value : "", true);
	buf_putc(lb, '"');
}

void metric_sample(struct buf *out, const char *name, const char *labels, uint64_t v)
{
	if (labels && labels[0])
		buf_printf(out, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

void metric_sample_f(struct buf *out, const char *name, const char *labels, double v)
{
	if (labels && labels[0])
		buf_printf(out, "%s{%s} %.6f\n", name, labels, v);
	else
		buf_printf(out, "%s %.6f\n", name, v);
}

void metric_hist_render(struct buf *out, const char *name, const char *labels, const struct metric_hist *h)
{
	const char *sep = labels && labels[0] ? "," : "";
	const char *lab = labels ? labels : "";
	uint64_t cum = 0;
	for (size_t i = 0; i <= h->n; i++) {
		cum += atomic_load_explicit(&h->count[i], memory_order_relaxed);
		if (i < h->n)
			buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, lab, sep, h->le[i], cum);
		else
			buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, lab, sep, cum);
	}
	uint64_t sum = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
	buf_printf(out, "%s_sum%s%s%s %.6f\n", name, lab[0] ? "{" : "", lab, lab[0] ? "}" : "", (double)sum / 1e6);
	buf_printf(out, "%s_count%s%s%s %" PRIu64 "\n", name, lab[0] ? "{" : "", lab, lab[0] ? "}" : "", cum);
}
