/*
 * mail_env.c - envelope container.
 */
#include "mail/mail_env.h"

#include <string.h>

#include "base/arena.h"
#include "base/xalloc.h"

struct mail_env *mail_env_new(void)
{
	struct mail_env *e = xcalloc(1, sizeof *e);
	e->arena = arena_new(2048);
	e->sender = "";
	e->helo = "";
	e->client_addr = "";
	e->client_name = "unknown";
	e->protocol = "ESMTP";
	return e;
}

struct mail_env *mail_env_new_like(const struct mail_env *src)
{
	struct mail_env *e = mail_env_new();
	e->arrival_us = src->arrival_us;
	e->sender = mail_env_strdup(e, src->sender);
	e->helo = mail_env_strdup(e, src->helo);
	e->client_addr = mail_env_strdup(e, src->client_addr);
	e->client_name = mail_env_strdup(e, src->client_name);
	e->protocol = mail_env_strdup(e, src->protocol);
	e->envid = src->envid ? mail_env_strdup(e, src->envid) : NULL;
	e->ret = src->ret;
	e->body = src->body;
	e->smtputf8 = src->smtputf8;
	e->flags = src->flags;
	e->scan = src->scan ? mail_env_strdup(e, src->scan) : NULL;
	return e;
}

void mail_env_free(struct mail_env **ep)
{
	struct mail_env *e = *ep;
	if (!e)
		return;
	arena_free(&e->arena);
	xfree(e->rcpt);
	xfree(e);
	*ep = NULL;
}

char *mail_env_strdup(struct mail_env *env, const char *s)
{
	return arena_strdup(env->arena, s);
}

struct mail_rcpt *mail_env_add_rcpt(struct mail_env *env, const char *addr, const char *orcpt, unsigned notify)
{
	env->rcpt = xgrow(env->rcpt, &env->rcpt_cap, env->nrcpt + 1, sizeof *env->rcpt);
	struct mail_rcpt *r = &env->rcpt[env->nrcpt++];
	memset(r, 0, sizeof *r);
	r->addr = arena_strdup(env->arena, addr);
	r->orcpt = orcpt ? arena_strdup(env->arena, orcpt) : NULL;
	r->notify = notify;
	return r;
}

size_t mail_env_pending(const struct mail_env *env)
{
	size_t n = 0;
	for (size_t i = 0; i < env->nrcpt; i++)
		n += env->rcpt[i].state == MAIL_RCPT_PENDING;
	return n;
}

const char *mail_env_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}
