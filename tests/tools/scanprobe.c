/*
 * scanprobe.c - drive the external scanner clients (src/scan/av/scan_av.h,
 * spam/scan_spam.h: spamd and rspamd) from the command line, for system
 * tests and measurements.
 * Prints one JSON line per call on stdout (logs go to stderr).
 *
 *   scanprobe av SPEC FILE...        {"file":F,"status":"infected","name":N,"ms":T}
 *   scanprobe spam SPEC FILE...      {"file":F,"rc":0,"is_spam":true,"score":S,"required":R,
 *                                     "action":A,"symbols":[...],"skipped_size":false,"err":"","ms":T}
 *   scanprobe bench av|spam SPEC FILE...   one line: msgs, seconds, msg/s, ms/msg, verdict counts
 *   scanprobe ping SPEC              {"rc":0,"text":"ClamAV 1.4.6/..."} (anti-virus specs)
 *   options (anywhere): --timeout MS  --max-size BYTES  --passes N (bench)
 *                       --ip A --helo H --from F --rcpt R (repeatable) --qid Q (spam)
 * Exit status: 0 when every call was made (whatever the verdicts), 1 when
 * the scanner could not be set up, 2 on usage or unreadable files.
 * Files over 64 MiB are refused.
 */
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/fsutil.h"
#include "base/xalloc.h"
#include "scan/av/scan_av.h"
#include "scan/spam/scan_spam.h"

#define FILE_MAX (64u * 1024 * 1024)
#define MAX_RCPT 100
#define MAX_FILES 100000

struct probe {
	const char *cmd, *spec;
	int timeout_ms, passes;
	size_t max_size;
	struct scan_spam_req q;
	const struct scan_spam_backend *spam; /* spam: the back end SPEC names, opened */
	void *spam_state;
	const char *rcpt[MAX_RCPT];
	const char **files;
	size_t nfiles;
};

static noreturn void usage(void)
{
	fprintf(stderr, "usage: scanprobe av|spam SPEC FILE... | scanprobe bench av|spam SPEC FILE... | "
			"scanprobe ping SPEC\n"
			"  [--timeout MS] [--max-size BYTES] [--passes N] [--ip A] [--helo H] [--from F]\n"
			"  [--rcpt R]... [--qid Q]\n");
	exit(2);
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
	puts(s);
	fflush(stdout);
	free(s);
	json_decref(j);
}

static int parse_args(int argc, char **argv, struct probe *p)
{
	const char *pos[3 + MAX_FILES];
	int npos = 0;
	p->files = xcalloc(MAX_FILES, sizeof *p->files);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			if (npos >= (int)(sizeof pos / sizeof pos[0]))
				usage();
			pos[npos++] = a;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (!strcmp(a, "--timeout"))
			p->timeout_ms = atoi(v);
		else if (!strcmp(a, "--max-size"))
			p->max_size = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--passes"))
			p->passes = atoi(v);
		else if (!strcmp(a, "--ip"))
			p->q.client_ip = v;
		else if (!strcmp(a, "--helo"))
			p->q.helo = v;
		else if (!strcmp(a, "--from"))
			p->q.env_from = v;
		else if (!strcmp(a, "--qid"))
			p->q.qid = v;
		else if (!strcmp(a, "--rcpt") && p->q.nrcpt < MAX_RCPT)
			p->rcpt[p->q.nrcpt++] = v;
		else
			usage();
	}
	p->q.rcpt = p->rcpt;
	int k = npos > 0 && !strcmp(pos[0], "bench");
	if (npos == 2 && !strcmp(pos[0], "ping")) {
		p->cmd = pos[0];
		p->spec = pos[1];
		return 0;
	}
	if (npos < k + 3)
		usage();
	p->cmd = pos[k];
	p->spec = pos[k + 1];
	for (int i = k + 2; i < npos; i++)
		p->files[p->nfiles++] = pos[i];
	if (strcmp(p->cmd, "av") && strcmp(p->cmd, "spam"))
		usage();
	return k;
}

static char *load(const char *path, size_t *len)
{
	char *data = NULL;
	if (fs_read_file(path, FILE_MAX, &data, len) < 0) {
		fprintf(stderr, "scanprobe: cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return data;
}

/* A daemon only: the builtin engine is no client (and wants a parsed message). */
static int open_spam(struct probe *p)
{
	char err[512];
	struct scan_spam_opts o = { .timeout_ms = p->timeout_ms ? p->timeout_ms : 30000, .max_size = p->max_size };
	p->spam = scan_spam_find(p->spec, err, sizeof err);
	if (p->spam && !strcmp(p->spam->name, "builtin")) {
		snprintf(err, sizeof err, "spam scanner \"%s\": not an external scanner", p->spec);
		p->spam = NULL;
	}
	p->spam_state = p->spam ? p->spam->open(p->spec, &o, err, sizeof err) : NULL;
	if (!p->spam_state) {
		print_json(json_pack("{s:s}", "error", err[0] ? err : "no scanner (none)"));
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- one call each */

static json_t *av_one(struct scan_av *av, const char *data, size_t len, const char **verdict)
{
	char name[300];
	int64_t t0 = clock_mono_us();
	enum scan_av_status st = scan_av_scan(av, data, len, name, sizeof name);
	double ms = (double)(clock_mono_us() - t0) / 1000.0;
	*verdict = scan_av_status_name(st);
	return json_pack("{s:s,s:s,s:f}", "status", *verdict, "name", name, "ms", ms);
}

static json_t *spam_one(const struct probe *p, const char *data, size_t len, const char **verdict)
{
	struct scan_spam_req q = p->q;
	q.data = data;
	q.len = len;
	struct scan_spam_res r;
	int64_t t0 = clock_mono_us();
	int rc = p->spam->check(p->spam_state, &q, &r);
	double ms = (double)(clock_mono_us() - t0) / 1000.0;
	*verdict = rc < 0 ? "error" : r.skipped_size ? "skipped" : r.is_spam ? "spam" : "ham";
	json_t *syms = json_array();
	for (size_t i = 0; i < r.nsymbols; i++)
		json_array_append_new(syms, json_string(r.symbols[i]));
	json_t *j = json_pack("{s:i,s:b,s:f,s:f,s:s,s:o,s:b,s:s,s:f}", "rc", rc, "is_spam", r.is_spam, "score",
			      r.score, "required", r.required, "action", r.action, "symbols", syms, "skipped_size",
			      r.skipped_size, "err", r.err, "ms", ms);
	scan_spam_res_fini(&r);
	return j;
}

static json_t *call(const struct probe *p, struct scan_av *av, const char *data, size_t len, const char **verdict)
{
	return av ? av_one(av, data, len, verdict) : spam_one(p, data, len, verdict);
}

/* ---------------------------------------------------------------- modes */

static void probe_each(const struct probe *p, struct scan_av *av)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		size_t len;
		char *data = load(p->files[i], &len);
		const char *verdict;
		json_t *j = call(p, av, data, len, &verdict);
		json_object_set_new(j, "file", json_string(p->files[i]));
		print_json(j);
		xfree(data);
	}
}

static void bench(const struct probe *p, struct scan_av *av)
{
	char **data = xcalloc(p->nfiles, sizeof *data);
	size_t *len = xcalloc(p->nfiles, sizeof *len), bytes = 0;
	for (size_t i = 0; i < p->nfiles; i++) {
		data[i] = load(p->files[i], &len[i]);
		bytes += len[i];
	}
	json_t *counts = json_object();
	int passes = p->passes > 0 ? p->passes : 1;
	int64_t t0 = clock_mono_us();
	for (int k = 0; k < passes; k++)
		for (size_t i = 0; i < p->nfiles; i++) {
			const char *verdict;
			json_decref(call(p, av, data[i], len[i], &verdict));
			json_int_t n = json_integer_value(json_object_get(counts, verdict));
			json_object_set_new(counts, verdict, json_integer(n + 1));
		}
	double secs = (double)(clock_mono_us() - t0) / 1e6, msgs = (double)p->nfiles * passes;
	print_json(json_pack("{s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:o}", "bench", p->cmd, "spec", p->spec, "msgs", msgs,
			     "seconds", secs, "msg_per_s", secs > 0 ? msgs / secs : 0.0, "ms_per_msg",
			     msgs > 0 ? secs * 1000 / msgs : 0.0, "mb", (double)bytes * passes / 1e6, "verdicts",
			     counts));
	for (size_t i = 0; i < p->nfiles; i++)
		xfree(data[i]);
	xfree(data);
	xfree(len);
}

int main(int argc, char **argv)
{
	struct probe p = { 0 };
	int is_bench = parse_args(argc, argv, &p);
	struct scan_av *av = NULL;
	if (!strcmp(p.cmd, "av") || !strcmp(p.cmd, "ping")) {
		char err[512];
		struct scan_av_opts o = { .timeout_ms = p.timeout_ms, .max_size = p.max_size };
		av = scan_av_new(p.spec, &o, err, sizeof err);
		if (!av) {
			print_json(json_pack("{s:s}", "error", err[0] ? err : "no scanner (none)"));
			return 1;
		}
	} else if (open_spam(&p) < 0) {
		return 1;
	}
	if (!strcmp(p.cmd, "ping")) {
		char text[512];
		int rc = scan_av_ping(av, text, sizeof text);
		print_json(json_pack("{s:i,s:s}", "rc", rc, "text", text));
	} else if (is_bench)
		bench(&p, av);
	else
		probe_each(&p, av);
	scan_av_free(&av);
	if (p.spam_state)
		p.spam->close(p.spam_state);
	xfree(p.files);
	return 0;
}
