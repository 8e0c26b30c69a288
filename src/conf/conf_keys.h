/*
 * conf_keys.h - the table of configuration keys (private to conf/).
 */
#ifndef CONF_CONF_KEYS_H
#define CONF_CONF_KEYS_H

#include <stddef.h>

enum conf_type {
	CONF_T_STR,    /* free text */
	CONF_T_INT,    /* decimal, within [min, max] */
	CONF_T_BOOL,   /* yes | no */
	CONF_T_TIME,   /* 300, 300s, 5m, 2h, 5d, 1w -> seconds, within [min, max] */
	CONF_T_SIZE,   /* bytes, decimal */
	CONF_T_LISTEN, /* list of addr:port */
	CONF_T_CIDRS,  /* list of CIDR networks (struct conf_cidrs) */
	CONF_T_ENUM,   /* one of enumv (space separated) */
	CONF_T_HOST,   /* a host name (letters, digits, '-', '.') */
	CONF_T_NUM,    /* decimal number with a fraction (5.0), within [min, max] */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off;
	const char *def;
	long long min, max;
	const char *enumv;
	const char *doc;
};

extern const struct conf_key conf_keys[];
extern const size_t conf_keys_n;
/* Keys a reload cannot change (the running process keeps the old value);
 * NULL-terminated. */
extern const char *const conf_restart_keys[];

#endif
