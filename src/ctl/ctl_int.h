/*
 * ctl_int.h - private to ctl/: helpers shared by the subcommands.
 */
#ifndef CTL_CTL_INT_H
#define CTL_CTL_INT_H

#include <stddef.h>

#include <jansson.h>

/* A JSON string of s[0..n): invalid UTF-8 octets and NULs become U+FFFD. */
json_t *ctl_json_str(const char *s, size_t n);
/* The same for a NUL-terminated string (NULL: ""). */
json_t *ctl_json_z(const char *s);

struct conf;
/* One request to the daemon's control socket (ctl_queue.c). 0: *ans is
 * its answer (an object; the caller frees it); -1: no daemon runs (no
 * socket, nobody listening); -2: any other failure. err says why. */
int ctl_queue_request(const struct conf *c, json_t *req, json_t **ans, char *err, size_t errlen);

struct buf;
/* A message file into out with CRLF line ends (LF converted; a last line
 * without one gets it), as the queue stores it (ctl_scan.c). 0, or -1
 * with errno. */
int ctl_read_message(const char *file, struct buf *out);

#endif
