/*
 * queue_file.h - the queue file format (pure encode/decode, no I/O).
 *
 * One file per message (docs/QUEUE.md has the picture):
 *   [0, 128)           header line, written last before fsync: the commit marker
 *   [128, 128+B)       message content exactly as accepted (CRLF lines)
 *   [E, E+L)           envelope records, one per line
 *   [E+L, EOF)         appended status records (delivery, delay notice, scan
 *                      attempt; each with a CRC)
 * The header "MXQ1 b=128:B e=E:L c=CRC" gives the offsets and the CRC-32 of
 * the envelope, so a file whose header or envelope is damaged is never
 * mistaken for a valid one. Status records are appended after commit
 * without fsync: a torn last record fails its CRC and is ignored, which at
 * worst repeats a delivery (at-least-once).
 */
#ifndef QUEUE_QUEUE_FILE_H
#define QUEUE_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/mail_env.h"

struct buf;

#define QUEUE_HDR_SIZE 128
#define QUEUE_BODY_OFF QUEUE_HDR_SIZE
#define QUEUE_ENV_MAX (64 * 1024 * 1024) /* larger envelope region = corrupt */

struct queue_hdr {
	uint64_t body_off, body_len;
	uint64_t env_off, env_len;
	uint32_t env_crc;
};

/* Encode the envelope records (without status records). */
void queue_file_env_encode(const struct mail_env *env, struct buf *out);
/* Build the 128-byte header for an encoded envelope. */
void queue_file_hdr_encode(const struct queue_hdr *h, char out[QUEUE_HDR_SIZE]);
/* Parse a header; -1 if it is not a committed header. */
int queue_file_hdr_decode(const char *p, size_t len, struct queue_hdr *h);
/* Decode envelope records into env (fresh from mail_env_new()). Returns 0,
 * or -1 with a reason in err. */
int queue_file_env_decode(const char *p, size_t len, struct mail_env *env, char *err, size_t errlen);
/* One delivery-status record for recipient idx (its state and reply). */
void queue_file_status_encode(size_t idx, const struct mail_rcpt *r, struct buf *out);
/* The record saying a "delayed" notice was queued at env->delay_warned_us. */
void queue_file_warned_encode(const struct mail_env *env, struct buf *out);
/* A scan-attempt record: +1 before a scan starts, -1 when it ended without
 * the message being at fault (a scanner unavailable). What is left counts
 * the scans a crash or timeout interrupted (the poison-message guard). */
void queue_file_scan_attempt_encode(int delta, struct buf *out);
/* Apply status records (and delay-notice records) from p[0..len) to env;
 * stops at the first damaged record. Returns the number applied. */
size_t queue_file_status_apply(const char *p, size_t len, struct mail_env *env);

/* Value escaping used in records: bytes <= 0x20, '%' and 0x7f as %XX. */
void queue_file_escape(const char *s, struct buf *out);
int queue_file_unescape(const char *s, size_t len, struct buf *out);

#endif
