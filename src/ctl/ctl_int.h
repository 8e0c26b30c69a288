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

#endif
