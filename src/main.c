/*
 * main.c - wiring only: arguments -> configuration -> subcommand; for
 * "serve", the gateway (gw/) and its administrator's surfaces (admin/).
 *
 *   mxgate serve  [-c FILE] [-o key=value]...   run the gateway (foreground)
 *   mxgate check  [-c FILE] [-o key=value]...   validate the configuration
 *   mxgate config [-c FILE] [-n] [--doc]        print effective settings
 *   mxgate mailq  [-c FILE]                     list the queue
 *   mxgate flush  [-c FILE]                     retry deferred mail now
 *   mxgate scan   [-c FILE] [--client-ip IP] [--json] MESSAGE   the scanning pipeline on a file
 *   mxgate quarantine [-c FILE] list|show ID|release ID|delete ID
 *   mxgate learn  [-c FILE] --spam|--ham|--forget PATH...   train Bayes
 *   mxgate queue  [-c FILE] list|show|flush|hold|release|delete|requeue|status ...   (ctl_queue.c)
 *   mxgate reload [-c FILE]                     re-read configuration and maps (control socket)
 *   mailq [-c FILE]                             (called through a symlink) the queue, Postfix style
 *   mxgate version
 * Without -c the built-in defaults are used (see docs/CONFIG.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "base/buf.h"
#include "base/log.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "gw/gw.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mxgate COMMAND [-c FILE] [-o key=value]... [arguments]\n"
		"  serve                 run the gateway in the foreground (logs to stderr)\n"
		"  check                 validate the configuration; every error as file:line\n"
		"  config [-n] [--doc]   the effective settings (-n: only those set in the file or by -o;\n"
		"                        --doc: the key table of docs/CONFIG.md)\n"
		"  reload                the running gateway re-reads main.cf and the maps (as SIGHUP)\n"
		"  queue list [--state S] [--domain D] [--sender S] [--json]\n"
		"  queue show ID | flush [ID | --domain D] | hold ID | release ID | requeue ID\n"
		"  queue delete ID | delete --state S --domain D | status\n"
		"                        the queue of the running gateway (list and show also without it)\n"
		"  quarantine list | show ID | release ID | delete ID | delete-spam ID\n"
		"                        quarantined originals (release learns ham, delete-spam spam: Bayes)\n"
		"  mailq                 the queue, one block per message (also: mxgate called as mailq)\n"
		"  flush                 retry deferred mail now (as queue flush)\n"
		"  learn --spam|--ham|--forget PATH...\n"
		"                        train the Bayes store (files, directories, mboxes), as sa-learn\n"
		"  scan [--client-ip IP] [--json] MESSAGE...\n"
		"                        the scanning pipeline on message files: verdict, findings, actions\n"
		"  route [--client IP] [--json] ADDRESS\n"
		"                        what routing does with ADDRESS (local, aliases, mailer, next hop)\n"
		"  version               the version\n"
		"Manual: mxgate(8); every key: mxgate.conf(5).\n");
}

/* The configuration for a command: its errors on stderr; NULL when unusable. */
static struct conf *load_conf(const char *path, const char *const *ov, size_t nov)
{
	struct buf diag;
	buf_init(&diag);
	struct conf *c = conf_load(path, ov, nov, &diag);
	if (diag.len)
		fputs(diag.data, stderr);
	buf_fini(&diag);
	if (!c)
		fprintf(stderr, "mxgate: configuration has errors; run \"mxgate check\"\n");
	return c;
}

/* "mxgate serve": the gateway (gw/) and the administrator's surfaces
 * (admin/), each step in the order privileges need: as root gw_open and
 * admin_open, then the drop, then both start on the loop. A failed step is
 * one event=startup_error line and exit status 1. */
static int serve(const struct conf *c, const char *path, const char *const *ov, size_t nov)
{
	char err[2048];
	int status = 1;
	struct admin *a = NULL;
	struct gw *g = gw_open(c, path, ov, nov, err, sizeof err);
	if (!g)
		goto fail;
	uid_t uid;
	gid_t gid;
	gw_owner(g, &uid, &gid);
	a = admin_open(g, uid, gid, err, sizeof err);
	if (!a || gw_drop_privileges(g, err, sizeof err) < 0 || gw_start(g, err, sizeof err) < 0 ||
	    admin_start(a, err, sizeof err) < 0)
		goto fail;
	status = gw_run(g);
	goto out;
fail:
	log_err("event=startup_error error=\"%s\"", err);
out:
	admin_close(&a);
	gw_close(&g);
	return status;
}

/* "mxgate queue ...", "mxgate reload", "mailq": -c and -o here, the rest
 * to ctl_queue(). */
static int queue_tools(int argc, char **argv, int first, bool as_mailq)
{
	const char *path = NULL;
	const char **ov = calloc((size_t)argc + 1, sizeof *ov), **rest = calloc((size_t)argc + 1, sizeof *rest);
	size_t nov = 0, nrest = 0;
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			ov[nov++] = argv[++i];
		else
			rest[nrest++] = argv[i];
	}
	struct conf *c = load_conf(path, ov, nov);
	int rc = c ? ctl_queue(c, rest, nrest, as_mailq) : 1;
	conf_free(&c);
	free(ov);
	free(rest);
	return rc;
}

int main(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : argc > 0 ? argv[0] : "";
	/* "mailq", or "mxgate-mailq" where make install found another mail system's mailq */
	bool mq = strcmp(base, "mailq") == 0 || strcmp(base, "mxgate-mailq") == 0;
	/* "mxgate reload" and "mxgate flush" are "mxgate queue reload|flush" */
	bool alias = argc >= 2 && (strcmp(argv[1], "reload") == 0 || strcmp(argv[1], "flush") == 0);
	if (mq || alias || (argc >= 2 && strcmp(argv[1], "queue") == 0)) {
		log_init("mxgate", -1, LOG_L_WARN);
		return queue_tools(argc, argv, mq || alias ? 1 : 2, mq);
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	/* the commands speak through their output; only warnings and errors are logged (serve sets its own level) */
	log_init("mxgate", -1, LOG_L_WARN);
	const char *path = NULL;
	const char **ov = calloc((size_t)argc, sizeof *ov);
	size_t nov = 0;
	bool only_changed = false, doc = false, json = false;
	int learn_mode = 2; /* learn: 1 spam, 0 ham, -1 forget, 2 not given */
	const char *addr = NULL, *client = NULL, *arg2 = NULL;
	const char **files = calloc((size_t)argc, sizeof *files);
	size_t nfiles = 0;
	bool positional = strcmp(cmd, "route") == 0 || strcmp(cmd, "scan") == 0 || strcmp(cmd, "quarantine") == 0 ||
			  strcmp(cmd, "learn") == 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			ov[nov++] = argv[++i];
		} else if (strcmp(argv[i], "-n") == 0) {
			only_changed = true;
		} else if (strcmp(argv[i], "--doc") == 0) {
			doc = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if ((strcmp(argv[i], "--client") == 0 || strcmp(argv[i], "--client-ip") == 0) && i + 1 < argc) {
			client = argv[++i];
		} else if (strcmp(cmd, "learn") == 0 &&
			   (strcmp(argv[i], "--spam") == 0 || strcmp(argv[i], "--ham") == 0 || strcmp(argv[i], "--forget") == 0)) {
			int m = argv[i][2] == 's' ? 1 : argv[i][2] == 'h' ? 0 : -1;
			if (learn_mode != 2 && learn_mode != m) {
				fprintf(stderr, "mxgate: learn takes one of --spam, --ham, --forget\n");
				free(ov);
				free(files);
				return 2;
			}
			learn_mode = m;
		} else if ((strcmp(cmd, "scan") == 0 || strcmp(cmd, "learn") == 0) && argv[i][0] != '-') {
			files[nfiles++] = argv[i];
			addr = files[0];
		} else if (positional && argv[i][0] != '-' && !addr) {
			addr = argv[i];
		} else if (strcmp(cmd, "quarantine") == 0 && argv[i][0] != '-' && !arg2) {
			arg2 = argv[i];
		} else {
			fprintf(stderr, "mxgate: unknown argument \"%s\"\n", argv[i]);
			usage(stderr);
			free(ov);
			free(files);
			return 2;
		}
	}
	int rc;
	if (strcmp(cmd, "version") == 0) {
		printf("mxgate %s\n", MXGATE_VERSION);
		rc = 0;
	} else if (strcmp(cmd, "check") == 0) {
		rc = ctl_check(path, ov, nov);
	} else if (strcmp(cmd, "config") == 0) {
		rc = ctl_config(path, ov, nov, only_changed, doc);
	} else if (positional && (!addr || (strcmp(cmd, "learn") == 0 && learn_mode == 2))) {
		fprintf(stderr, "mxgate: %s needs %s\n", cmd,
			strcmp(cmd, "route") == 0 ? "an ADDRESS" : strcmp(cmd, "scan") == 0 ? "a MESSAGE file" :
			strcmp(cmd, "learn") == 0 ? "--spam, --ham or --forget and a PATH" : "list|show|release|delete");
		usage(stderr);
		rc = 2;
	} else if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "mailq") == 0 || positional) {
		struct conf *c = load_conf(path, ov, nov);
		if (!c) {
			free(ov);
			free(files);
			return 1;
		}
		if (strcmp(cmd, "serve") == 0)
			rc = serve(c, path, (const char *const *)ov, nov);
		else if (strcmp(cmd, "mailq") == 0)
			rc = ctl_mailq(c);
		else if (strcmp(cmd, "route") == 0)
			rc = ctl_route(c, addr, client, json);
		else if (strcmp(cmd, "scan") == 0)
			rc = ctl_scan(c, files, nfiles, client, json);
		else if (strcmp(cmd, "learn") == 0)
			rc = ctl_learn(c, learn_mode, files, nfiles);
		else
			rc = ctl_quarantine(c, addr, arg2);
		conf_free(&c);
	} else if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		rc = 0;
	} else {
		fprintf(stderr, "mxgate: unknown command \"%s\"\n", cmd);
		usage(stderr);
		rc = 2;
	}
	free(ov);
	free(files);
	return rc;
}
