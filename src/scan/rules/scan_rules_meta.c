/*
 * scan_rules_meta.c - meta rules: expressions over other rules' hits.
 *
 * Syntax (Perl's, as SpamAssassin evaluates it): rule names (their hit
 * count, 0 when not hit, undefined or disabled), decimal numbers, unary
 * ! and -, * /, + -, < > <= >=, == !=, &&, ||, parentheses, with Perl's
 * precedence. A meta hits when the value is not 0. x / 0 is 0.
 *
 * At the end of a load: rules with a score of 0 are disabled unless an
 * enabled meta needs them; metas are ordered so that metas they depend on
 * come first; metas that are part of (or depend on) a cycle are disabled,
 * counted and logged.
 *
 * Limits: SCAN_RULES_META_TOKENS tokens per expression.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "scan/rules/scan_rules_int.h"

#define SCAN_RULES_META_TOKENS 1024

static int prec(enum meta_op op)
{
	switch (op) {
	case MO_NOT:
	case MO_NEG:
		return 7;
	case MO_MUL:
	case MO_DIV:
		return 6;
	case MO_ADD:
	case MO_SUB:
		return 5;
	case MO_LT:
	case MO_GT:
	case MO_LE:
	case MO_GE:
		return 4;
	case MO_EQ:
	case MO_NE:
		return 3;
	case MO_AND:
		return 2;
	case MO_OR:
		return 1;
	default:
		return 0;
	}
}

static bool is_unary(enum meta_op op)
{
	return op == MO_NOT || op == MO_NEG;
}

/* A binary operator at p: its op and length, or 0. */
static size_t binary_op(const char *p, enum meta_op *op)
{
	static const struct {
		const char *s;
		enum meta_op op;
	} ops[] = { { "&&", MO_AND }, { "||", MO_OR }, { ">=", MO_GE }, { "<=", MO_LE }, { "==", MO_EQ },
		    { "!=", MO_NE },  { "<", MO_LT },  { ">", MO_GT },	 { "+", MO_ADD }, { "-", MO_SUB },
		    { "*", MO_MUL },  { "/", MO_DIV } };
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		size_t l = strlen(ops[i].s);
		if (strncmp(p, ops[i].s, l) == 0) {
			*op = ops[i].op;
			return l;
		}
	}
	return 0;
}

struct meta_build {
	struct meta_tok out[SCAN_RULES_META_TOKENS];
	size_t nout;
	enum meta_op stack[SCAN_RULES_META_TOKENS]; /* MO_RULE marks '(' */
	size_t nstack;
};

static int emit(struct meta_build *b, struct meta_tok t)
{
	if (b->nout == SCAN_RULES_META_TOKENS)
		return -1;
	b->out[b->nout++] = t;
	return 0;
}

static int push_op(struct meta_build *b, enum meta_op op)
{
	/* pop operators of higher precedence (or equal: left-associative binary) */
	while (b->nstack && b->stack[b->nstack - 1] != MO_RULE && !is_unary(op)) {
		enum meta_op top = b->stack[b->nstack - 1];
		if (prec(top) < prec(op))
			break;
		if (emit(b, (struct meta_tok){ .op = top }) < 0)
			return -1;
		b->nstack--;
	}
	if (b->nstack == SCAN_RULES_META_TOKENS)
		return -1;
	b->stack[b->nstack++] = op;
	return 0;
}

/* Stack depth check: every operator has its operands, one value left. */
static bool well_formed(const struct meta_tok *t, size_t n)
{
	long depth = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i].op == MO_RULE || t[i].op == MO_NUM)
			depth++;
		else if (is_unary(t[i].op)) {
			if (depth < 1)
				return false;
		} else {
			if (depth < 2)
				return false;
			depth--;
		}
	}
	return depth == 1;
}

static int tokenize(struct scan_rules *s, struct meta_build *b, const char *p, char *why, size_t whylen)
{
	bool operand = true; /* expecting an operand (or a unary operator, '(') */
	while (*p) {
		enum meta_op op;
		size_t l;
		if (*p == ' ' || *p == '\t') {
			p++;
		} else if (operand && (*p == '!' || *p == '-')) {
			if (push_op(b, *p == '!' ? MO_NOT : MO_NEG) < 0)
				goto too_long;
			p++;
		} else if (operand && *p == '(') {
			if (b->nstack == SCAN_RULES_META_TOKENS)
				goto too_long;
			b->stack[b->nstack++] = MO_RULE;
			p++;
		} else if (operand && ((*p >= '0' && *p <= '9') || *p == '.')) {
			char *end;
			double v = strtod(p, &end);
			if (end == p)
				goto bad;
			p = end;
			if (emit(b, (struct meta_tok){ .op = MO_NUM, .num = v }) < 0)
				goto too_long;
			operand = false;
		} else if (operand && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_')) {
			const char *w = p;
			while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			       *p == '_')
				p++;
			char name[256];
			if ((size_t)(p - w) >= sizeof name)
				goto bad;
			memcpy(name, w, (size_t)(p - w));
			name[p - w] = '\0';
			if (emit(b, (struct meta_tok){ .op = MO_RULE, .arg = rules_lookup(s, name) }) < 0)
				goto too_long;
			operand = false;
		} else if (!operand && *p == ')') {
			while (b->nstack && b->stack[b->nstack - 1] != MO_RULE)
				if (emit(b, (struct meta_tok){ .op = b->stack[--b->nstack] }) < 0)
					goto too_long;
			if (!b->nstack) {
				snprintf(why, whylen, "unbalanced ')'");
				return -1;
			}
			b->nstack--;
			p++;
		} else if (!operand && (l = binary_op(p, &op)) > 0) {
			if (push_op(b, op) < 0)
				goto too_long;
			p += l;
			operand = true;
		} else {
			goto bad;
		}
	}
	while (b->nstack) {
		if (b->stack[b->nstack - 1] == MO_RULE) {
			snprintf(why, whylen, "unbalanced '('");
			return -1;
		}
		if (emit(b, (struct meta_tok){ .op = b->stack[--b->nstack] }) < 0)
			goto too_long;
	}
	return 0;
bad:
	snprintf(why, whylen, "unexpected \"%.20s\" in expression", p);
	return -1;
too_long:
	snprintf(why, whylen, "expression longer than %d tokens", SCAN_RULES_META_TOKENS);
	return -1;
}

int rules_meta_parse(struct scan_rules *s, size_t idx, const char *expr, char *why, size_t whylen)
{
	struct meta_build *b = xmalloc(sizeof *b);
	b->nout = b->nstack = 0;
	int rc = tokenize(s, b, expr, why, whylen);
	if (rc == 0 && !well_formed(b->out, b->nout)) {
		snprintf(why, whylen, "malformed expression");
		rc = -1;
	}
	if (rc == 0) {
		struct rule *r = &s->rules[idx]; /* after rules_lookup() may have moved it */
		r->meta = xmalloc(b->nout * sizeof *r->meta);
		memcpy(r->meta, b->out, b->nout * sizeof *r->meta);
		r->nmeta = b->nout;
	}
	xfree(b);
	return rc;
}

double rules_meta_eval(const struct rule *r, const unsigned *hits)
{
	double st[SCAN_RULES_META_TOKENS];
	size_t n = 0;
	for (size_t i = 0; i < r->nmeta; i++) {
		const struct meta_tok *t = &r->meta[i];
		double a, b;
		switch (t->op) {
		case MO_RULE:
			st[n++] = hits[t->arg];
			continue;
		case MO_NUM:
			st[n++] = t->num;
			continue;
		case MO_NOT:
			st[n - 1] = st[n - 1] == 0;
			continue;
		case MO_NEG:
			st[n - 1] = -st[n - 1];
			continue;
		default:
			break;
		}
		b = st[--n];
		a = st[n - 1];
		double v;
		switch (t->op) {
		case MO_MUL:
			v = a * b;
			break;
		case MO_DIV:
			v = b == 0 ? 0 : a / b;
			break;
		case MO_ADD:
			v = a + b;
			break;
		case MO_SUB:
			v = a - b;
			break;
		case MO_LT:
			v = a < b;
			break;
		case MO_GT:
			v = a > b;
			break;
		case MO_LE:
			v = a <= b;
			break;
		case MO_GE:
			v = a >= b;
			break;
		case MO_EQ:
			v = a == b;
			break;
		case MO_NE:
			v = a != b;
			break;
		case MO_AND:
			v = a != 0 && b != 0;
			break;
		default: /* MO_OR */
			v = a != 0 || b != 0;
			break;
		}
		st[n - 1] = v;
	}
	return n ? st[0] : 0;
}

/* Enable what is scored and, transitively, what enabled metas need. */
static void mark_needed(struct scan_rules *s)
{
	size_t *work = xmalloc((s->nrules + 1) * sizeof *work);
	bool *want = xcalloc(s->nrules + 1, sizeof *want);
	size_t nw = 0;
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		if (r->defined && r->enabled && (r->score != 0 || r->score_b != 0)) {
			want[i] = true;
			work[nw++] = i;
		}
	}
	while (nw) {
		struct rule *r = &s->rules[work[--nw]];
		if (r->type != RT_META)
			continue;
		for (size_t k = 0; k < r->nmeta; k++) {
			size_t d = r->meta[k].arg;
			if (r->meta[k].op != MO_RULE || want[d])
				continue;
			if (!s->rules[d].defined) {
				s->st.meta_unknown++;
				continue;
			}
			if (s->rules[d].enabled) {
				want[d] = true;
				work[nw++] = d;
			}
		}
	}
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		if (r->defined && r->enabled && !want[i]) {
			r->enabled = false;
			s->st.zero_score++;
		}
	}
	xfree(want);
	xfree(work);
}

/* Order enabled metas: a meta comes after the enabled metas it reads.
 * Whatever cannot be placed is in or behind a cycle. */
static void order_metas(struct scan_rules *s)
{
	size_t nm = 0;
	for (size_t i = 0; i < s->nrules; i++)
		nm += s->rules[i].enabled && s->rules[i].type == RT_META;
	s->meta_order = xmalloc((nm + 1) * sizeof *s->meta_order);
	bool *placed = xcalloc(s->nrules + 1, sizeof *placed);
	bool progress = true;
	while (progress) {
		progress = false;
		for (size_t i = 0; i < s->nrules; i++) {
			struct rule *r = &s->rules[i];
			if (!r->enabled || r->type != RT_META || placed[i])
				continue;
			bool ready = true;
			for (size_t k = 0; k < r->nmeta && ready; k++) {
				size_t d = r->meta[k].arg;
				if (r->meta[k].op == MO_RULE && s->rules[d].enabled && s->rules[d].type == RT_META &&
				    !placed[d])
					ready = false;
			}
			if (ready) {
				placed[i] = true;
				s->meta_order[s->nmeta_order++] = i;
				progress = true;
			}
		}
	}
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		if (r->enabled && r->type == RT_META && !placed[i]) {
			log_warn("event=rules_meta_cycle rule=%s at=%s action=disabled", r->name, r->file);
			r->enabled = false;
			s->st.meta_cycle++;
		}
	}
	xfree(placed);
}

void rules_meta_finish(struct scan_rules *s)
{
	mark_needed(s);
	order_metas(s);
}
