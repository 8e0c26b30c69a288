/*
 * gw_metrics.c - the Prometheus text exposition of the gateway's state
 * (GET /metrics on http_listen, gw_http.c).
 */
#include <inttypes.h>

#include "base/buf.h"
#include "gw/gw_int.h"
#include "queue/queue_sched.h"
#include "smtp/smtp_server.h"

void gw_metrics_render(struct gw *g, struct buf *out)
{
	struct queue_sched_stats st;
	queue_sched_stats(g->q, &st);
	buf_puts(out, "# HELP mxgate_queue_messages Messages known to the queue manager, by state.\n"
		      "# TYPE mxgate_queue_messages gauge\n");
	buf_printf(out, "mxgate_queue_messages{state=\"input\"} %zu\n", st.input);
	buf_printf(out, "mxgate_queue_messages{state=\"deferred\"} %zu\n", st.deferred);
	buf_printf(out, "mxgate_queue_messages{state=\"active\"} %zu\n", st.active);
	buf_puts(out, "# HELP mxgate_messages_accepted_total Messages accepted (250 after DATA).\n"
		      "# TYPE mxgate_messages_accepted_total counter\n");
	buf_printf(out, "mxgate_messages_accepted_total %" PRIu64 "\n", g->accepted);
	buf_puts(out, "# HELP mxgate_smtp_sessions Open SMTP sessions.\n# TYPE mxgate_smtp_sessions gauge\n");
	buf_printf(out, "mxgate_smtp_sessions %zu\n", smtp_server_session_count(g->smtpd));
}
