/*
 * ctl.h - the command-line subcommands other than "serve".
 *
 * Each returns the process exit status and prints to stdout/stderr.
 */
#ifndef CTL_CTL_H
#define CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>

struct conf;

/* "mxgate check": every error as file:line; 0 when the configuration is
 * usable (syntax, values, relayhost, TLS files, relay_domains files). */
int ctl_check(const char *path, const char *const *ov, size_t nov);
/* "mxgate config [-n]": effective values (postconf style; -n: only keys
 * set in the file or by -o); --doc: the Markdown key table for
 * docs/CONFIG.md. */
int ctl_config(const char *path, const char *const *ov, size_t nov, bool only_changed, bool doc);
/* "mxgate mailq": the queue, one message per block. */
int ctl_mailq(const struct conf *c);
/* "mxgate route ADDRESS": the routing decision for one recipient, as text
 * or JSON (--json). client: the sending client's IP (NULL: one in
 * mynetworks). Exit 0 accepted, 1 refused, 2 usage or map errors. */
int ctl_route(const struct conf *c, const char *addr, const char *client, bool json);

/* "mxgate scan MESSAGE...": the scanning pipeline on files, one engine for
 * all (ctl_scan.c). Exit 0 a verdict for each, 1 no verdict for some (a
 * scanner failed), 2 usage, setup or file errors. */
int ctl_scan(const struct conf *c, const char *const *files, size_t nfiles, const char *client_ip, bool json);
/* mxgate learn --spam|--ham|--forget PATH...: the Bayes store at bayes_path
 * (ctl_learn.c). mode 1 spam, 0 ham, -1 forget. Exit 0, 1 some file
 * unreadable, 2 usage/configuration/store errors. */
int ctl_learn(const struct conf *c, int mode, const char *const *paths, size_t npaths);
/* "mxgate quarantine list|show ID|release ID|delete ID" (ctl_quarantine.c).
 * release and delete go through the running daemon's control socket when
 * there is one, else work on the spool directly. */
int ctl_quarantine(const struct conf *c, const char *what, const char *qid);

/* Exit statuses of the queue tools (ctl_queue.c, and "mxgate reload"). */
#define CTL_EXIT_OK 0	       /* done */
#define CTL_EXIT_REFUSED 1     /* refused: no such message, wrong state, busy, reload failed */
#define CTL_EXIT_USAGE 2       /* bad arguments */
#define CTL_EXIT_NOT_RUNNING 3 /* a changing command, and mxgate is not running (or not reachable) */
/* "mxgate queue SUB [ARGS]" (args[0] = SUB), "mxgate reload" (args[0] =
 * "reload"), and the mailq listing (as_mailq: no SUB). Returns CTL_EXIT_*. */
int ctl_queue(const struct conf *c, const char *const *args, size_t nargs, bool as_mailq);

#endif
