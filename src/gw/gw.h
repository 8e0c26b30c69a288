/*
 * gw.h - the application: wires smtp -> queue -> (scan) -> route -> deliver.
 *
 * gw_serve() owns the event loop and every module instance for the life of
 * the process; the modules never call each other, only gw calls them.
 */
#ifndef GW_GW_H
#define GW_GW_H

#include <stdbool.h>
#include <stddef.h>

#ifndef MXGATE_VERSION
#define MXGATE_VERSION "0.1.0"
#endif

struct conf;

/* Run the gateway in the foreground until SIGTERM/SIGINT. Returns the
 * process exit status. path and overrides (borrowed for the whole run) are
 * what conf was loaded from: SIGHUP loads them again (gw_reload). */
int gw_serve(const struct conf *conf, const char *path, const char *const *overrides, size_t n_overrides);

struct route_maps;
/* Load the map files named in the configuration (route/route.h), with
 * myhostname and the listen addresses as implicitly local names. NULL with
 * "file:line: reason" in err. */
struct route_maps *gw_maps_load(const struct conf *c, char *err, size_t errlen);

struct scan_conf;
struct scan_policy;
/* The scanning settings of the configuration (gw_scan.c): the engine's,
 * and the policy (action lists, tags, headers). gw_scan_policy() fails
 * with a message for a bad action list, or reject with scan_stage =
 * after-queue (a refusal after the 250 is backscatter). */
void gw_scan_conf(const struct conf *c, struct scan_conf *sc);
struct scan_dnsbl_conf;
/* The DNSBL settings of the configuration (gw_dnsbl.c), with the RFC 5782 self-test on. */
void gw_dnsbl_conf(const struct conf *c, struct scan_dnsbl_conf *dc);
int gw_scan_policy(const struct conf *c, struct scan_policy *p, char *err, size_t errlen);
void gw_scan_policy_fini(struct scan_policy *p);
int gw_scan_check(const struct conf *c, char *err, size_t errlen);

#endif
