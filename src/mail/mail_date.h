/*
 * mail_date.h - RFC 5322 3.3 date-time strings.
 */
#ifndef MAIL_MAIL_DATE_H
#define MAIL_MAIL_DATE_H

#include <stddef.h>
#include <stdint.h>

/* "Mon, 23 Nov 2026 20:51:00 +0000" for a time in microseconds since the
 * epoch, in local time with numeric zone. size >= 40. */
void mail_date_format(int64_t us, char *out, size_t size);

#endif
