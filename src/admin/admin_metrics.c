/*
 * admin_metrics.c - the Prometheus text exposition (format 0.0.4) of the
 * gateway (GET /metrics on http_listen, admin_http.c), and the counters
 * that come from the flow's events (scan verdicts, scanner failures, scan
 * times, DNSBL-listed sessions: GW_EV_SCANNED, GW_EV_SCAN_FAILED,
 * GW_EV_DNSBL_LISTED).
 *
 * The modules own their metrics (smtp_server_metrics, queue_sched_metrics,
 * scan_dnsbl_zone_stats); this file only gathers them through gw.h's
 * views, on the loop thread.
 * Queue sizes of input/, output/ and deferred/ come from the queue
 * manager's memory (exact, no I/O); hold/, quarantine/ and corrupt/ are
 * not tracked by it: queue_store_count() reads such a directory again only
 * when it changed. Deferred messages per
 * destination: the METRICS_TOP_DESTS largest, the rest as "other".
 * Names and labels: docs/LOGGING.md "Metrics".
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "gw/gw.h"
#include "gw/gw_event.h"
#include "queue/queue_sched.h"
#include "queue/queue_store.h"
#include "scan/dnsbl/scan_dnsbl.h"
#include "scan/proc/scan_proc.h"
#include "smtp/smtp_server.h"

#define METRICS_TOP_DESTS 10

static void observe_ms(struct metric_hist *h, double ms)
{
	metric_hist_observe_us(h, (int64_t)(ms * 1000.0));
}

static void scan_failed(struct admin_metrics *m, const struct scan_report *r)
{
	/* scan.c names the failed scanner first ("virus scanner: ...", "spam scanner: ..."); the
	 * scanner processes' own failures name the process ("the scanner process ...", "scan timed out") */
	const char *e = r->error ? r->error : "";
	enum admin_scanner s = strncmp(e, "virus", 5) == 0  ? ADMIN_SCANNER_VIRUS
			       : strncmp(e, "spam", 4) == 0 ? ADMIN_SCANNER_SPAM
							    : ADMIN_SCANNER_PROCESS;
	metric_inc(&m->scan_errors[s][r->tempfail_timeout ? 1 : 0]);
}

static void scanned(struct admin_metrics *m, const struct conf *c, const struct scan_report *r)
{
	if (r->cat < SCAN_NCAT)
		metric_inc(&m->verdict[r->cat]);
	observe_ms(&m->scan_time[ADMIN_STAGE_PARSE], r->ms_parse);
	if (strcmp(c->virus_scanner, "none") != 0)
		observe_ms(&m->scan_time[ADMIN_STAGE_VIRUS], r->ms_virus);
	if (r->spam_scanned)
		observe_ms(&m->scan_time[ADMIN_STAGE_SPAM], r->ms_spam);
	observe_ms(&m->scan_time[ADMIN_STAGE_TOTAL], r->ms_total);
}

void admin_metrics_event(struct admin *a, const struct gw_event *ev)
{
	if (ev->type == GW_EV_SCANNED)
		scanned(&a->m, gw_conf(a->g), ev->u.scanned.report);
	else if (ev->type == GW_EV_SCAN_FAILED)
		scan_failed(&a->m, ev->u.scan_failed.report);
	else if (ev->type == GW_EV_DNSBL_LISTED)
		metric_inc(&a->m.dnsbl_listed);
}

void admin_metrics_init(struct admin *a)
{
	memset(&a->m, 0, sizeof a->m);
	for (int i = 0; i < ADMIN_STAGE_N; i++)
		metric_hist_init(&a->m.scan_time[i], metric_le_fast, metric_le_fast_n);
}

struct dest_count {
	char *dest;
	size_t n;
};

struct dests {
	struct dest_count *v;
	size_t n, cap;
};

static void add_dest(void *arg, const char *dest, size_t n)
{
	struct dests *d = arg;
	d->v = xgrow(d->v, &d->cap, d->n + 1, sizeof *d->v);
	d->v[d->n++] = (struct dest_count){ xstrdup(dest), n };
}

static int by_count(const void *a, const void *b)
{
	const struct dest_count *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->dest, y->dest);
}

static void render_dests(struct admin *a, struct buf *out, struct buf *lb)
{
	struct dests d = { 0 };
	queue_sched_deferred_dests(gw_queue_sched(a->g), add_dest, &d);
	if (d.n)
		qsort(d.v, d.n, sizeof *d.v, by_count);
	metric_head(out, "mxgate_queue_deferred_by_destination",
		    "gauge", "Messages in deferred/ by the domain of their first pending recipient (top 10, then other).");
	size_t other = 0;
	for (size_t i = 0; i < d.n; i++) {
		if (i < METRICS_TOP_DESTS && strcmp(d.v[i].dest, "other") != 0) {
			buf_reset(lb);
			metric_label(lb, "destination", d.v[i].dest);
			metric_sample(out, "mxgate_queue_deferred_by_destination", lb->data, d.v[i].n);
		} else {
			other += d.v[i].n;
		}
		xfree(d.v[i].dest);
	}
	if (other || d.n > METRICS_TOP_DESTS)
		metric_sample(out, "mxgate_queue_deferred_by_destination", "destination=\"other\"", other);
	xfree(d.v);
}

static void render_smtp(struct admin *a, struct buf *out, struct buf *lb)
{
	const struct smtp_server *srv = gw_smtp_server(a->g);
	const struct smtp_server_metrics *sm = smtp_server_metrics(srv);
	struct gw_counters n;
	gw_counters(a->g, &n);
	metric_head(out, "mxgate_smtp_connections_total", "counter", "SMTP connections by outcome.");
	for (int o = 0; o < SMTP_CONN_N; o++) {
		buf_reset(lb);
		metric_label(lb, "outcome", smtp_conn_outcome_name(o));
		metric_sample(out, "mxgate_smtp_connections_total", lb->data, metric_get(&sm->conn[o]));
	}
	metric_head(out, "mxgate_smtp_dnsbl_listed_total", "counter",
		    "SMTP sessions whose client reached dnsbl_threshold (its recipients are refused).");
	metric_sample(out, "mxgate_smtp_dnsbl_listed_total", NULL, metric_get(&a->m.dnsbl_listed));
	metric_head(out, "mxgate_smtp_sessions", "gauge", "Open SMTP sessions.");
	metric_sample(out, "mxgate_smtp_sessions", NULL, smtp_server_session_count(srv));
	metric_head(out, "mxgate_smtp_helo_total", "counter", "HELO and EHLO commands accepted.");
	metric_sample(out, "mxgate_smtp_helo_total", NULL, metric_get(&sm->helo));
	metric_head(out, "mxgate_messages_accepted_total", "counter",
		    "Messages accepted: the 250 after DATA or BDAT LAST.");
	metric_sample(out, "mxgate_messages_accepted_total", NULL, n.accepted);
	metric_head(out, "mxgate_bayes_learned_total", "counter",
		    "Messages newly learned into the Bayes store by the gateway, by source (auto: SpamAssassin's "
		    "auto-learning; release: a quarantine release; delete-as-spam) and class.");
	static const char *const srcs[GW_LEARN_NSRC] = { "auto", "release", "delete-as-spam" };
	for (int s = 0; s < GW_LEARN_NSRC; s++)
		for (int c = 0; c < 2; c++) {
			buf_reset(lb);
			metric_label(lb, "source", srcs[s]);
			metric_label(lb, "class", c ? "spam" : "ham");
			metric_sample(out, "mxgate_bayes_learned_total", lb->data, n.bayes_learned[s][c]);
		}
	metric_head(out, "mxgate_bayes_learn_failed_total", "counter",
		    "Messages not learned: the Bayes store could not be written, or too many were waiting.");
	metric_sample(out, "mxgate_bayes_learn_failed_total", NULL, n.bayes_failed);
	metric_head(out, "mxgate_smtp_refused_total", "counter",
		    "Refused MAIL, RCPT and DATA/BDAT commands, by stage, reason class (the subject of the enhanced status "
		    "code, RFC 3463) and type (temporary 4xx, permanent 5xx).");
	for (int st = 0; st < SMTP_STAGE_N; st++)
		for (int sub = 0; sub < SMTP_SUBJECTS; sub++)
			for (int perm = 0; perm < 2; perm++) {
				uint64_t v = metric_get(&sm->refused[st][sub][perm]);
				if (!v)
					continue;
				buf_reset(lb);
				metric_label(lb, "stage", smtp_stage_name(st));
				metric_label(lb, "reason", smtp_subject_name(sub));
				metric_label(lb, "type", perm ? "permanent" : "temporary");
				metric_sample(out, "mxgate_smtp_refused_total", lb->data, v);
			}
	metric_head(out, "mxgate_smtp_accept_latency_seconds", "histogram",
		    "From the end of the message content to the 2xx reply (commit, fsync; before-queue scanning).");
	metric_hist_render(out, "mxgate_smtp_accept_latency_seconds", NULL, &sm->accept_latency);
}

static void render_scanner_processes(struct admin *a, struct buf *out, struct buf *lb)
{
	struct scan_proc_stats st;
	gw_scan_stats(a->g, &st);
	metric_head(out, "mxgate_scanner_processes", "gauge", "Scanner processes the gateway holds, idle or busy.");
	metric_sample(out, "mxgate_scanner_processes", "state=\"idle\"", st.scanners - st.busy);
	metric_sample(out, "mxgate_scanner_processes", "state=\"busy\"", st.busy);
	metric_head(out, "mxgate_scan_jobs_waiting", "gauge", "Scans waiting for a free scanner process.");
	metric_sample(out, "mxgate_scan_jobs_waiting", NULL, st.queued);
	metric_head(out, "mxgate_scanner_processes_started_total", "counter",
		    "Scanner processes forked by the supervisor (replacements included).");
	metric_sample(out, "mxgate_scanner_processes_started_total", NULL, st.started);
	metric_head(out, "mxgate_scanner_processes_lost_total", "counter",
		    "Scanner processes lost on a job: died (crash, kill, memory or CPU limit), timeout "
		    "(scan_process_timeout), filter (a forbidden system call).");
	static const char *reasons[] = { "died", "timeout", "filter" };
	uint64_t v[] = { st.lost - st.timeouts - st.killed_filter, st.timeouts, st.killed_filter };
	for (int i = 0; i < 3; i++) {
		buf_reset(lb);
		metric_label(lb, "reason", reasons[i]);
		metric_sample(out, "mxgate_scanner_processes_lost_total", lb->data, v[i]);
	}
}

static void render_scan(struct admin *a, struct buf *out, struct buf *lb)
{
	static const char *scanners[ADMIN_SCANNER_N] = { "virus", "spam", "process" };
	static const char *stages[ADMIN_STAGE_N] = { "parse", "virus", "spam", "total" };
	metric_head(out, "mxgate_messages_scanned_total", "counter", "Scan verdicts by deciding category.");
	for (int c = 0; c < SCAN_NCAT; c++) {
		buf_reset(lb);
		metric_label(lb, "verdict", scan_cat_name(c));
		metric_sample(out, "mxgate_messages_scanned_total", lb->data, metric_get(&a->m.verdict[c]));
	}
	metric_head(out, "mxgate_scanner_failures_total", "counter",
		    "Scans that ended without a verdict, by scanner and kind (error or timeout).");
	for (int s = 0; s < ADMIN_SCANNER_N; s++)
		for (int k = 0; k < 2; k++) {
			buf_reset(lb);
			metric_label(lb, "scanner", scanners[s]);
			metric_label(lb, "kind", k ? "timeout" : "error");
			metric_sample(out, "mxgate_scanner_failures_total", lb->data, metric_get(&a->m.scan_errors[s][k]));
		}
	render_scanner_processes(a, out, lb);
	metric_head(out, "mxgate_scan_duration_seconds", "histogram",
		    "Time per scanning stage of scans that gave a verdict (total includes the DNSBL wait).");
	for (int st = 0; st < ADMIN_STAGE_N; st++) {
		buf_reset(lb);
		metric_label(lb, "stage", stages[st]);
		metric_hist_render(out, "mxgate_scan_duration_seconds", lb->data, &a->m.scan_time[st]);
	}
	metric_head(out, "mxgate_dnsbl_hits_total", "counter", "DNSBL lookups that found the client listed, per zone.");
	const struct scan_dnsbl *bl = gw_dnsbl(a->g);
	if (bl) {
		struct scan_dnsbl_zone_stats zs[SCAN_DNSBL_ZONES_MAX];
		size_t nz = scan_dnsbl_zone_stats(bl, zs, SCAN_DNSBL_ZONES_MAX);
		for (size_t i = 0; i < nz; i++) {
			buf_reset(lb);
			metric_label(lb, "zone", zs[i].zone);
			metric_sample(out, "mxgate_dnsbl_hits_total", lb->data, zs[i].hits);
		}
	}
}

static void render_queue(struct admin *a, struct buf *out, struct buf *lb)
{
	const struct queue_sched *q = gw_queue_sched(a->g);
	struct queue_store *qs = gw_queue_store(a->g);
	const struct queue_sched_metrics *qm = queue_sched_metrics(q);
	metric_head(out, "mxgate_deliveries_total", "counter",
		    "Delivery outcomes per recipient and attempt: sent (2xx), deferred (4xx), failed (5xx).");
	metric_sample(out, "mxgate_deliveries_total", "outcome=\"sent\"", metric_get(&qm->sent));
	metric_sample(out, "mxgate_deliveries_total", "outcome=\"deferred\"", metric_get(&qm->deferred));
	metric_sample(out, "mxgate_deliveries_total", "outcome=\"failed\"", metric_get(&qm->failed));
	metric_head(out, "mxgate_recipients_expired_total", "counter",
		    "Recipients failed because their message outlived maximal_queue_lifetime.");
	metric_sample(out, "mxgate_recipients_expired_total", NULL, metric_get(&qm->expired));
	metric_head(out, "mxgate_delivery_delay_seconds", "histogram", "From arrival to the 2xx of a recipient.");
	metric_hist_render(out, "mxgate_delivery_delay_seconds", NULL, &qm->delivery_delay);

	struct queue_sched_census cs;
	queue_sched_census(q, &cs);
	struct queue_sched_stats st;
	queue_sched_stats(q, &st);
	metric_head(out, "mxgate_queue_messages", "gauge", "Messages by spool directory.");
	const struct {
		const char *state;
		long n;
	} dirs[] = { { "input", (long)cs.input },	{ "output", (long)cs.output }, { "deferred", (long)cs.deferred },
		     { "hold", queue_store_count(qs, QDIR_HOLD) },
		     { "quarantine", queue_store_count(qs, QDIR_QUARANTINE) },
		     { "corrupt", queue_store_count(qs, QDIR_CORRUPT) } };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		buf_reset(lb);
		metric_label(lb, "state", dirs[i].state);
		metric_sample(out, "mxgate_queue_messages", lb->data, dirs[i].n < 0 ? 0 : (uint64_t)dirs[i].n);
	}
	metric_head(out, "mxgate_queue_active_messages", "gauge", "Messages being delivered now.");
	metric_sample(out, "mxgate_queue_active_messages", NULL, st.active);
	metric_head(out, "mxgate_queue_oldest_message_age_seconds", "gauge",
		    "Age of the oldest message in input/, output/ or deferred/ (by its queue id's time); 0 when none.");
	double age = cs.oldest_us ? (double)(clock_now_us() - cs.oldest_us) / 1e6 : 0;
	metric_sample_f(out, "mxgate_queue_oldest_message_age_seconds", NULL, age < 0 ? 0 : age);
	render_dests(a, out, lb);
}

void admin_metrics_render(struct admin *a, struct buf *out)
{
	struct buf lb;
	buf_init(&lb);
	render_smtp(a, out, &lb);
	render_scan(a, out, &lb);
	render_queue(a, out, &lb);
	buf_fini(&lb);
}
