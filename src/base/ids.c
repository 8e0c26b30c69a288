/*
 * ids.c - queue id and object id generation.
 */
#include "base/ids.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

static const char ids_alpha[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t ids_last_us;
static uint32_t ids_rand;
static bool ids_seeded;
static uint64_t ids_counter;

static void ids_seed(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)getpid() ^ (uint32_t)clock_mono_us();
	ids_rand = r & ((1u << 25) - 1);
	ids_seeded = true;
}

void ids_queue_new(char out[IDS_QUEUE_SIZE])
{
	pthread_mutex_lock(&ids_lock);
	if (!ids_seeded)
		ids_seed();
	/* the real clock, not the injectable one: ids must stay unique even
	 * when a test freezes or rewinds time */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (now <= ids_last_us)
		now = ids_last_us + 1;
	ids_last_us = now;
	uint32_t r = ids_rand;
	pthread_mutex_unlock(&ids_lock);

	uint64_t t = (uint64_t)now;
	for (int i = 10; i >= 0; i--) {
		out[i] = ids_alpha[t & 31];
		t >>= 5;
	}
	for (int i = 15; i >= 11; i--) {
		out[i] = ids_alpha[r & 31];
		r >>= 5;
	}
	out[IDS_QUEUE_LEN] = '\0';
}

bool ids_queue_valid(const char *s)
{
	size_t n = strlen(s);
	if (n != IDS_QUEUE_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!strchr(ids_alpha, s[i]) || s[i] == '\0')
			return false;
	}
	return true;
}

int64_t ids_queue_time_us(const char *qid)
{
	uint64_t t = 0;
	for (int i = 0; i < 11 && qid[i]; i++) {
		const char *p = strchr(ids_alpha, qid[i]);
		t = (t << 5) | (uint64_t)(p && *p ? p - ids_alpha : 0);
	}
	return (int64_t)t;
}

uint64_t ids_next(void)
{
	return __atomic_add_fetch(&ids_counter, 1, __ATOMIC_RELAXED);
}
