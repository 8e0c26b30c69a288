/*
 * clock.h - the process clock, injectable for tests.
 *
 * clock_now_us(): wall-clock microseconds since the epoch (queue arrival
 * times, retry schedule, Date headers). Tests may install another source with
 * clock_set_source() before anything reads the time; the source must be
 * thread-safe. clock_mono_us() is always the real monotonic clock (timeouts).
 */
#ifndef BASE_CLOCK_H
#define BASE_CLOCK_H

#include <stdint.h>

typedef int64_t (*clock_source_fn)(void);

int64_t clock_now_us(void);
int64_t clock_mono_us(void);
static inline int64_t clock_now_s(void)
{
	return clock_now_us() / 1000000;
}
void clock_set_source(clock_source_fn fn); /* NULL = real clock */

#endif
