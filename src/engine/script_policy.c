/*
 * script_policy.c — the process's scripting settings behind one mutex. See script_policy.h.
 */
#include "engine/script_policy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Strings replaced by an update, kept until the policy is freed (see the header). */
typedef struct retired {
    char *s;
    struct retired *next;
} retired;

struct cg_script_policy {
    pthread_mutex_t mu;
    cg_script_policy_view v; /* strings owned (heap), languages are literals */
    retired *old;
};

static const char *const known_languages[] = {"javascript", "python", "groovy"};

/* The literal for a language name, so views can hold it without ownership. */
static const char *language_literal(const char *name)
{
    cg_script_lang l = cg_script_lang_parse(name);
    return l ? known_languages[l - 1] : NULL;
}

static void retire(cg_script_policy *p, const char *s)
{
    if (!s) return;
    retired *r = malloc(sizeof *r);
    if (!r) return; /* leaking one string is better than freeing it under a reader */
    r->s = (char *)s;
    r->next = p->old;
    p->old = r;
}

cg_script_policy *cg_script_policy_create(const cg_control_adapter *c)
{
    cg_script_policy *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->v.enabled = true;
    p->v.timeout_ms = CG_SCRIPT_DEFAULT_TIMEOUT_MS;
    p->v.statement_limit = CG_SCRIPT_DEFAULT_STATEMENTS;
    if (c && c->has_scripting) {
        p->v.enabled = c->scripting;
        p->v.default_location = c->script_location ? strdup(c->script_location) : NULL;
        p->v.default_language = c->script_language ? strdup(c->script_language) : NULL;
        if (c->script_timeout_ms > 0) p->v.timeout_ms = c->script_timeout_ms;
        if (c->script_statement_limit > 0) p->v.statement_limit = c->script_statement_limit;
        for (size_t i = 0; i < c->n_script_languages && p->v.n_languages < 3; i++) {
            const char *lit = language_literal(c->script_languages[i]);
            if (lit) p->v.languages[p->v.n_languages++] = lit;
        }
    }
    return p;
}

void cg_script_policy_free(cg_script_policy *p)
{
    if (!p) return;
    free((char *)p->v.default_location);
    free((char *)p->v.default_language);
    while (p->old) {
        retired *r = p->old;
        p->old = r->next;
        free(r->s);
        free(r);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void cg_script_policy_get(cg_script_policy *p, cg_script_policy_view *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->v;
    pthread_mutex_unlock(&p->mu);
}

int cg_script_policy_set(cg_script_policy *p, const cg_script_policy_view *in)
{
    char *loc = NULL, *lang = NULL;
    if (in->default_location && !(loc = strdup(in->default_location))) return -1;
    if (in->default_language && !(lang = strdup(in->default_language))) {
        free(loc);
        return -1;
    }
    pthread_mutex_lock(&p->mu);
    /* unchanged strings are kept as they are; changed ones retire */
    if (p->v.default_location && loc && !strcmp(p->v.default_location, loc)) {
        free(loc);
        loc = (char *)p->v.default_location;
    } else {
        retire(p, p->v.default_location);
    }
    if (p->v.default_language && lang && !strcmp(p->v.default_language, lang)) {
        free(lang);
        lang = (char *)p->v.default_language;
    } else {
        retire(p, p->v.default_language);
    }
    cg_script_policy_view v = *in;
    v.default_location = loc;
    v.default_language = lang;
    v.n_languages = 0;
    for (int i = 0; i < in->n_languages && v.n_languages < 3; i++) {
        const char *lit = language_literal(in->languages[i]);
        if (lit) v.languages[v.n_languages++] = lit;
    }
    v.languages[v.n_languages] = NULL;
    p->v = v;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void cg_script_policy_snapshot(cg_script_policy *p, cg_script_settings *settings,
                               cg_script_limits *limits)
{
    pthread_mutex_lock(&p->mu);
    settings->disabled = !p->v.enabled;
    settings->default_location = p->v.default_location;
    settings->default_language = p->v.default_language;
    settings->allowed = 0;
    for (int i = 0; i < p->v.n_languages; i++)
        settings->allowed |= CG_SCRIPT_LANG_BIT(cg_script_lang_parse(p->v.languages[i]));
    limits->timeout_ms = p->v.timeout_ms;
    limits->statement_limit = p->v.statement_limit;
    pthread_mutex_unlock(&p->mu);
}
