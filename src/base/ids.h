/*
 * ids.h - queue ids: unique across restarts and across gateways.
 *
 * A queue id is IDS_QUEUE_LEN characters of Crockford base32 (0-9, A-Z
 * without I L O U): 11 characters of the microsecond wall clock (forced
 * strictly increasing within a process) followed by 5 characters of a random
 * value drawn once per process from getrandom(2). Ids sort by arrival time;
 * two gateways collide only if they draw the same 25 random bits and stamp
 * the same microsecond. Ids are safe as file names. Thread-safe.
 */
#ifndef BASE_IDS_H
#define BASE_IDS_H

#include <stdbool.h>
#include <stdint.h>

#define IDS_QUEUE_LEN 16
#define IDS_QUEUE_SIZE (IDS_QUEUE_LEN + 1)

void ids_queue_new(char out[IDS_QUEUE_SIZE]);
/* True when s is a syntactically valid queue id (file names in the spool
 * that are not ids are ignored). */
bool ids_queue_valid(const char *s);
/* The wall-clock time (µs since the epoch) a valid queue id was made at:
 * its arrival, or the creation of a split, copy or notification. */
int64_t ids_queue_time_us(const char *qid);
/* A process-unique 64-bit id for sessions, jobs and requests (never 0). */
uint64_t ids_next(void);

#endif
