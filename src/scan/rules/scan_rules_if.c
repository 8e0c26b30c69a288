/*
 * scan_rules_if.c - the conditions of rule files: which SpamAssassin
 * plugins this engine emulates, and the expressions of "if EXPR"
 * (version, plugin(NAME), can(FEATURE), numbers, comparisons, !, && and
 * ||, parentheses), evaluated as SpamAssassin 4.000001 would.
 *
 * A plugin is present only when loaded with loadplugin/tryplugin AND
 * emulated here (table below; the loader keeps which were loaded); can()
 * is true only for the features this engine really has. Pure functions:
 * no state, no I/O; the blocks themselves (if/ifplugin/else/endif) are
 * the loader's (scan_rules_parse.c).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "scan/rules/scan_rules_int.h"

#define SA_VERSION 4.000001

/* Plugins whose rule types and evals this engine handles (in part: the
 * evals it lacks are counted as unsupported). */
static const char *const emulated_plugins[] = {
	"Mail::SpamAssassin::Plugin::Check",	  "Mail::SpamAssassin::Plugin::HeaderEval",
	"Mail::SpamAssassin::Plugin::BodyEval",	  "Mail::SpamAssassin::Plugin::MIMEEval",
	"Mail::SpamAssassin::Plugin::DNSEval",	  "Mail::SpamAssassin::Plugin::RelayEval",
	"Mail::SpamAssassin::Plugin::URIEval",	  "Mail::SpamAssassin::Plugin::HTMLEval",
	"Mail::SpamAssassin::Plugin::WLBLEval",	  "Mail::SpamAssassin::Plugin::Rule2XSBody",
	"Mail::SpamAssassin::Plugin::MIMEHeader", "Mail::SpamAssassin::Plugin::FreeMail",
	"Mail::SpamAssassin::Plugin::ReplaceTags", "Mail::SpamAssassin::Plugin::Bayes",
	"Mail::SpamAssassin::Plugin::AutoLearnThreshold",
};
_Static_assert(sizeof emulated_plugins / sizeof emulated_plugins[0] == RULES_NPLUGINS, "RULES_NPLUGINS");

/* can() features that are true here. */
static const char *const features[] = {
	"Mail::SpamAssassin::Conf::feature_bug6558_free",
	"Mail::SpamAssassin::Conf::feature_welcomelist_blocklist",
	"Mail::SpamAssassin::Conf::perl_min_version_5010000",
	"Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length",
	"Mail::SpamAssassin::Plugin::MIMEEval::has_check_for_ascii_text_illegal",
	"Mail::SpamAssassin::Conf::feature_bayes_stopwords",
};


struct ifexpr {
	const bool *plugin; /* [RULES_NPLUGINS]: loaded */
	const char *p;
	bool bad;
};

static void ifx_space(struct ifexpr *x)
{
	x->p += strspn(x->p, " \t");
}

int rules_if_plugin(const char *name)
{
	for (size_t i = 0; i < RULES_NPLUGINS; i++)
		if (strcmp(name, emulated_plugins[i]) == 0)
			return (int)i;
	return -1;
}

static double ifx_or(struct ifexpr *x);

/* "word(argument)" */
static double ifx_call(struct ifexpr *x, const char *fn, size_t fnlen)
{
	ifx_space(x);
	if (*x->p != '(') {
		x->bad = true;
		return 0;
	}
	const char *a = ++x->p;
	const char *e = strchr(a, ')');
	if (!e) {
		x->bad = true;
		return 0;
	}
	char arg[200];
	str_ncopy(arg, sizeof arg, a, (size_t)(e - a));
	str_trim(arg);
	x->p = e + 1;
	if (fnlen == 6 && strncmp(fn, "plugin", 6) == 0) {
		int i = rules_if_plugin(arg);
		return i >= 0 && x->plugin[i];
	}
	if (fnlen == 3 && strncmp(fn, "can", 3) == 0) {
		for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
			if (strcmp(arg, features[i]) == 0)
				return 1;
		return 0;
	}
	x->bad = true;
	return 0;
}

static double ifx_primary(struct ifexpr *x)
{
	ifx_space(x);
	if (*x->p == '!') {
		x->p++;
		return !ifx_primary(x);
	}
	if (*x->p == '(') {
		x->p++;
		double v = ifx_or(x);
		ifx_space(x);
		if (*x->p != ')')
			x->bad = true;
		else
			x->p++;
		return v;
	}
	if ((*x->p >= '0' && *x->p <= '9') || *x->p == '.') {
		char *end;
		double v = strtod(x->p, &end);
		x->p = end;
		return v;
	}
	const char *w = x->p;
	while ((*x->p >= 'a' && *x->p <= 'z') || *x->p == '_')
		x->p++;
	size_t wl = (size_t)(x->p - w);
	if (wl == 7 && strncmp(w, "version", 7) == 0)
		return SA_VERSION;
	if (wl)
		return ifx_call(x, w, wl);
	x->bad = true;
	return 0;
}

static double ifx_cmp(struct ifexpr *x)
{
	double a = ifx_primary(x);
	ifx_space(x);
	const char *p = x->p;
	int op = 0;
	if (strncmp(p, ">=", 2) == 0 || strncmp(p, "<=", 2) == 0 || strncmp(p, "==", 2) == 0 ||
	    strncmp(p, "!=", 2) == 0)
		op = p[0] * 256 + p[1], x->p += 2;
	else if (*p == '<' || *p == '>')
		op = *p, x->p++;
	if (!op)
		return a;
	double b = ifx_primary(x);
	switch (op) {
	case '>' * 256 + '=':
		return a >= b;
	case '<' * 256 + '=':
		return a <= b;
	case '=' * 256 + '=':
		return a == b;
	case '!' * 256 + '=':
		return a != b;
	case '<':
		return a < b;
	default:
		return a > b;
	}
}

/* or (level 0) over and (level 1) over comparisons */
static double ifx_logic(struct ifexpr *x, int level)
{
	const char *op = level == 0 ? "||" : "&&";
	double v = level == 0 ? ifx_logic(x, 1) : ifx_cmp(x);
	for (;;) {
		ifx_space(x);
		if (strncmp(x->p, op, 2) != 0)
			return v;
		x->p += 2;
		double w = level == 0 ? ifx_logic(x, 1) : ifx_cmp(x);
		v = level == 0 ? (v || w) : (v && w);
	}
}

static double ifx_or(struct ifexpr *x)
{
	return ifx_logic(x, 0);
}

int rules_if_eval(const char *expr, const bool *plugin, bool *out)
{
	struct ifexpr x = { plugin, expr, false };
	double v = ifx_or(&x);
	ifx_space(&x);
	if (x.bad || *x.p)
		return -1;
	*out = v != 0;
	return 0;
}
