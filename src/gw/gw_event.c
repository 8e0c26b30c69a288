/*
 * gw_event.c - the observers of the flow's events (gw_event.h).
 *
 * A small fixed array in struct gw, filled at start-up (admin_start) and
 * emptied before an observer goes away; gw_emit() calls each in the order
 * registered, synchronously, on the loop thread. The flow's stages call
 * gw_emit() where they log the step; nothing here knows who listens.
 */
#include <stdlib.h>

#include "gw/gw_event.h"
#include "gw/gw_int.h"

void gw_observe(struct gw *g, gw_observer_fn fn, void *ctx)
{
	if (g->nobs >= GW_OBSERVERS_MAX)
		abort(); /* a fixed set of observers, all known at build time */
	g->obs[g->nobs++] = (struct gw_observer){ fn, ctx };
}

void gw_unobserve(struct gw *g, gw_observer_fn fn, void *ctx)
{
	size_t k = 0;
	for (size_t i = 0; i < g->nobs; i++)
		if (g->obs[i].fn != fn || g->obs[i].ctx != ctx)
			g->obs[k++] = g->obs[i];
	g->nobs = k;
}

void gw_emit(struct gw *g, const struct gw_event *ev)
{
	for (size_t i = 0; i < g->nobs; i++)
		g->obs[i].fn(g->obs[i].ctx, ev);
}
