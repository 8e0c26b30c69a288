/*
 * clock.c - real and injectable clocks.
 */
#include "base/clock.h"

#include <time.h>

static clock_source_fn clock_source;

static int64_t ts_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_now_us(void)
{
	return clock_source ? clock_source() : ts_us(CLOCK_REALTIME);
}

int64_t clock_mono_us(void)
{
	return ts_us(CLOCK_MONOTONIC);
}

void clock_set_source(clock_source_fn fn)
{
	clock_source = fn;
}
