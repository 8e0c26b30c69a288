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

#endif
