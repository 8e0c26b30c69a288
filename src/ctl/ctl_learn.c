/*
 * ctl_learn.c - "mxgate learn -c FILE --spam|--ham|--forget PATH...": train
 * the Bayes store at bayes_path, as sa-learn does.
 *
 * PATH: a message file, an mbox (a file whose first line starts "From "),
 * or a directory read recursively (Maildir cur/ and new/ included; names
 * starting with "." skipped), in sorted order. Each message is tokenised as
 * the scanners tokenise it (the rule files' Bayes settings) and learned,
 * relearned (learned before as the other class) or forgotten; a message
 * learned before as the same class is counted and skipped (its
 * Message-ID, else its body, identifies it). The store is written once, at
 * the end, under its lock (waits up to 30 s for another writer); token
 * expiry runs first when bayes_auto_expire is on and the store holds more
 * than bayes_expiry_max_db_size tokens.
 *
 * The messages are parsed in this process, as by "mxgate scan": it is the
 * administrator's own command on files of their choosing, not mail from
 * the network. Exit status 0, 1 when a file could not be read (the rest is
 * learned), 2 usage, configuration or store errors (nothing written).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "ctl/ctl_int.h"
#include "scan/bayes/scan_bayes.h"
#include "scan/mime/scan_msg.h"
#include "scan/rules/scan_rules.h"
#include "scan/spam/scan_spam.h"

#define LEARN_DEPTH_MAX 8	   /* directory nesting */
#define LEARN_MSG_MAX (64u << 20) /* a larger file is skipped */

struct learn {
	const struct scan_bayes_tok *tok;
	struct scan_bayes_store *st;
	int mode; /* 1 spam, 0 ham, -1 forget */
	uint32_t now;
	size_t done, again, relearned, unknown, failed;
};

/* One message, CRLF lines (ctl_read_message). */
static void learn_one(struct learn *L, const char *p, size_t n)
{
	struct scan_msg *m = scan_msg_parse(p, n, NULL);
	uint64_t *keys;
	size_t nk = scan_bayes_message_tokens(L->tok, m, &keys);
	uint64_t mk = scan_bayes_msg_key(m);
	if (L->mode < 0) {
		if (scan_bayes_store_forget(L->st, mk, keys, nk))
			L->done++;
		else
			L->unknown++;
	} else {
		int rc = scan_bayes_store_learn(L->st, mk, L->mode == 1, keys, nk, L->now);
		if (rc == 0)
			L->again++;
		else {
			L->done++;
			L->relearned += rc == 2;
		}
	}
	xfree(keys);
	scan_msg_free(&m);
}

/* An mbox: messages start at lines "From " (the first line is one); the
 * separator lines are not part of them; ">From " unquoted. */
static void learn_mbox(struct learn *L, const char *p, size_t n)
{
	struct buf cur;
	buf_init(&cur);
	bool started = false;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - p) + 1 : n;
		const char *line = p + i;
		size_t ll = e - i;
		if (ll >= 5 && memcmp(line, "From ", 5) == 0) {
			if (started)
				learn_one(L, cur.data ? cur.data : "", cur.len);
			cur.len = 0;
			started = true;
		} else if (started) {
			size_t q = 0;
			while (q < ll && line[q] == '>')
				q++;
			if (q > 0 && ll - q >= 5 && memcmp(line + q, "From ", 5) == 0)
				buf_append(&cur, line + 1, ll - 1);
			else
				buf_append(&cur, line, ll);
		}
		i = e;
	}
	if (started)
		learn_one(L, cur.data ? cur.data : "", cur.len);
	buf_fini(&cur);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void learn_path(struct learn *L, const char *path, int depth)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "mxgate: %s: %s\n", path, strerror(errno));
		L->failed++;
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (depth >= LEARN_DEPTH_MAX) {
			fprintf(stderr, "mxgate: %s: directories nested deeper than %d are skipped\n", path,
				LEARN_DEPTH_MAX);
			return;
		}
		DIR *d = opendir(path);
		if (!d) {
			fprintf(stderr, "mxgate: %s: %s\n", path, strerror(errno));
			L->failed++;
			return;
		}
		char **names = NULL;
		size_t nn = 0, cap = 0;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (nn == cap) {
				cap = cap ? cap * 2 : 64;
				names = xrealloc(names, cap * sizeof *names);
			}
			names[nn++] = xasprintf("%s/%s", path, de->d_name);
		}
		closedir(d);
		qsort(names, nn, sizeof *names, cmp_names);
		for (size_t i = 0; i < nn; i++) {
			learn_path(L, names[i], depth + 1);
			xfree(names[i]);
		}
		xfree(names);
		return;
	}
	if (!S_ISREG(st.st_mode))
		return;
	struct buf b;
	buf_init(&b);
	if (st.st_size > (off_t)LEARN_MSG_MAX) {
		fprintf(stderr, "mxgate: %s: %s\n", path, strerror(EFBIG));
		L->failed++;
	} else if (ctl_read_message(path, &b) < 0) {
		fprintf(stderr, "mxgate: %s: %s\n", path, strerror(errno));
		L->failed++;
	} else if (b.len >= 5 && memcmp(b.data, "From ", 5) == 0)
		learn_mbox(L, b.data, b.len);
	else
		learn_one(L, b.data ? b.data : "", b.len);
	buf_fini(&b);
}

/* Run as root: the store and its lock file go to the owner of their
 * directory (mail_owner's, which the gateway creates), so the gateway can
 * go on writing them. */
static void give_to_dir_owner(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	struct stat st;
	if (geteuid() == 0 && slash && slash != dir) {
		*slash = '\0';
		if (stat(dir, &st) == 0 && st.st_uid != 0) {
			char *lock = xasprintf("%s.lock", path);
			if (chown(path, st.st_uid, st.st_gid) < 0 || chown(lock, st.st_uid, st.st_gid) < 0)
				fprintf(stderr, "mxgate: %s: cannot give it to the directory's owner: %s\n", path,
					strerror(errno));
			xfree(lock);
		}
	}
	xfree(dir);
}

int ctl_learn(const struct conf *c, int mode, const char *const *paths, size_t npaths)
{
	char err[600];
	if (npaths == 0) {
		fprintf(stderr, "mxgate: learn needs files, directories or mboxes\n");
		return 2;
	}
	struct scan_rules *rules = scan_spam_builtin_rules(c->spam_rules, true, err, sizeof err);
	if (!rules) {
		fprintf(stderr, "mxgate: spam_rules: %s\n", err);
		return 2;
	}
	struct scan_bayes_tok *tok = scan_bayes_tok_for(rules, err, sizeof err);
	if (!tok) {
		fprintf(stderr, "mxgate: %s\n", err);
		scan_rules_free(&rules);
		return 2;
	}
	const struct scan_rules_bayes *cf = scan_rules_bayes(rules);
	struct learn L = { .tok = tok, .mode = mode, .now = (uint32_t)time(NULL) };
	int rc = 2;
	if (scan_bayes_store_open(c->bayes_path, 30000, &L.st, err, sizeof err) < 0) {
		fprintf(stderr, "mxgate: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < npaths; i++)
		learn_path(&L, paths[i], 0);
	size_t expired = 0;
	struct scan_bayes_counts k;
	scan_bayes_store_counts(L.st, &k);
	if (cf->auto_expire && cf->expiry_max_db_size && k.ntokens > cf->expiry_max_db_size)
		expired = scan_bayes_store_expire(L.st, cf->expiry_max_db_size, L.now);
	if (scan_bayes_store_commit(L.st, err, sizeof err) < 0) {
		fprintf(stderr, "mxgate: %s\n", err);
		goto out;
	}
	scan_bayes_store_counts(L.st, &k);
	give_to_dir_owner(c->bayes_path);
	const char *what = mode < 0 ? "forgot" : mode ? "learned as spam" : "learned as ham";
	printf("%s: %zu message(s)", what, L.done);
	if (L.relearned)
		printf(" (%zu relearned from the other class)", L.relearned);
	if (L.again)
		printf(", %zu already learned as such", L.again);
	if (L.unknown)
		printf(", %zu not learned before", L.unknown);
	if (L.failed)
		printf(", %zu unreadable", L.failed);
	printf("\nstore %s: %llu spam, %llu ham, %llu tokens%s\n", c->bayes_path, (unsigned long long)k.nspam,
	       (unsigned long long)k.nham, (unsigned long long)k.ntokens, expired ? " (expired some)" : "");
	if (expired)
		printf("expired %zu token(s) over bayes_expiry_max_db_size %zu\n", expired, cf->expiry_max_db_size);
	if (k.nspam < cf->min_spam_num || k.nham < cf->min_ham_num)
		printf("Bayes is used once %u spam and %u ham are learned (bayes_min_spam_num, bayes_min_ham_num)\n",
		       cf->min_spam_num, cf->min_ham_num);
	log_info("event=bayes_learn source=cli class=%s messages=%zu already=%zu relearned=%zu failed=%zu "
		 "nspam=%llu nham=%llu tokens=%llu expired=%zu",
		 mode < 0 ? "forget" : mode ? "spam" : "ham", L.done, L.again, L.relearned, L.failed,
		 (unsigned long long)k.nspam, (unsigned long long)k.nham, (unsigned long long)k.ntokens, expired);
	rc = L.failed ? 1 : 0;
out:
	scan_bayes_store_close(&L.st);
	scan_bayes_tok_free(&tok);
	scan_rules_free(&rules);
	return rc;
}
