/*
 * scan_rules_sa.c - where SpamAssassin's installed rules are, found as
 * SpamAssassin finds them (Mail::SpamAssassin's default_rules_path and
 * site_rules_path, first existing):
 *
 *   rules  /var/lib/spamassassin/<version>/   what sa-update installed (its
 *          channel's .cf and .pre files include the channel directory), else
 *          /usr/share/spamassassin              the package's own copy
 *   site   /etc/spamassassin                    *.pre (plugins) and local.cf
 *
 * SpamAssassin looks only in the directory of its own version
 * ("4.000001" for 4.0.1); we do not know which SpamAssassin is installed,
 * so the newest version directory that holds a *.cf file is taken (after
 * an upgrade the old version's directory stays behind with older rules).
 * A version directory without any *.cf file (sa-update never completed)
 * is passed over, where SpamAssassin would take it and load no rules.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/xalloc.h"
#include "scan/rules/scan_rules.h"

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Has the directory a regular file named *.cf? */
static bool has_cf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 3 && strcmp(e->d_name + l - 3, ".cf") == 0) {
			char *p = xasprintf("%s/%s", dir, e->d_name);
			struct stat st;
			found = stat(p, &st) == 0 && S_ISREG(st.st_mode);
			xfree(p);
		}
	}
	closedir(d);
	return found;
}

/* SpamAssassin's version form: digits, a dot, six digits ("4.000001", "3.004006"). */
static bool version_name(const char *s, double *v)
{
	const char *dot = strchr(s, '.');
	if (!dot || dot == s || strlen(dot + 1) != 6)
		return false;
	for (const char *p = s; *p; p++)
		if (p != dot && !isdigit((unsigned char)*p))
			return false;
	*v = strtod(s, NULL);
	return true;
}

/* The newest <state>/<version>/ holding a *.cf file, or NULL. */
static char *newest_update_dir(const char *state)
{
	DIR *d = opendir(state);
	if (!d)
		return NULL;
	char *best = NULL;
	double best_v = -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		double v;
		if (!version_name(e->d_name, &v) || v <= best_v)
			continue;
		char *p = xasprintf("%s/%s", state, e->d_name);
		if (is_dir(p) && has_cf(p)) {
			xfree(best);
			best = p;
			best_v = v;
		} else {
			xfree(p);
		}
	}
	closedir(d);
	return best;
}

size_t scan_rules_sa_find(const char *root, char *paths[SCAN_RULES_SA_PATHS])
{
	const char *r = root ? root : "";
	size_t n = 0;
	char *state = xasprintf("%s" SCAN_RULES_SA_STATE_DIR, r);
	char *rules = newest_update_dir(state);
	xfree(state);
	if (!rules) {
		rules = xasprintf("%s" SCAN_RULES_SA_DEF_DIR, r);
		if (!has_cf(rules)) {
			xfree(rules);
			return 0; /* no rules: the site directory alone is not SpamAssassin's rule set */
		}
	}
	paths[n++] = rules;
	char *site = xasprintf("%s" SCAN_RULES_SA_SITE_DIR, r);
	if (is_dir(site))
		paths[n++] = site;
	else
		xfree(site);
	return n;
}
