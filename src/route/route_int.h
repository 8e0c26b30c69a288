/*
 * route_int.h - private to route/: the snapshot's layout.
 */
#ifndef ROUTE_ROUTE_INT_H
#define ROUTE_ROUTE_INT_H

#include "route/route.h"

struct arena;
struct map;

/* One alias (or :include: file): its targets as written, and where. */
struct route_alias {
	char **t;
	size_t n;
	const char *file;
	int line;
	const char *error; /* an :include: file that could not be read: tempfail */
};

struct route_maps {
	struct arena *arena;
	struct map *local;    /* lower-case domain -> (void *)1 */
	struct map *aliases;  /* lower-case name -> struct route_alias */
	struct map *includes; /* path -> struct route_alias */
	struct map *mt;	      /* lower-case key -> mailer value (char *) */
	struct map *relay;    /* lower-case domain or ".parent" -> (void *)1 */
	struct map *users;    /* lower-case local user -> (void *)1 */
	bool users_passwd;    /* local_recipient_maps has "passwd" */
	const char *alias_error; /* an alias file could not be read: local recipients tempfail */
	char *local_transport, *relayhost_mailer, *mydomain;
	bool append_dot_mydomain;
	size_t nlocal, nalias, nmt;
};

/* route_maps.c */
bool route_user_known(const struct route_maps *m, const char *user);

#endif
