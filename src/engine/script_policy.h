/*
 * script_policy.h — the control adapter's scripting settings, changeable while serving.
 *
 * One cg_script_policy per process, created from the spec's management.scripting and shared
 * by every worker. The control adapter's PUT /scripting changes it; the engine takes a
 * snapshot when an orchestrated call starts, so a call runs with one consistent set of
 * settings (no torn reads: every read and write holds the policy's mutex) and later calls
 * see the change. Strings handed out in a snapshot stay valid until the policy is freed:
 * an update never frees the strings it replaces (updates are rare operator actions).
 */
#ifndef CG_SCRIPT_POLICY_H
#define CG_SCRIPT_POLICY_H

#include <stdbool.h>

#include "engine/script.h"
#include "spec/spec.h"

typedef struct cg_script_policy cg_script_policy;

/* The settings as the control adapter shows them (GET /scripting). */
typedef struct cg_script_policy_view {
    bool enabled;
    const char *default_location; /* NULL when unset */
    const char *default_language; /* NULL when unset */
    long timeout_ms;              /* effective: the default when the spec sets none */
    long statement_limit;
    const char *languages[4]; /* allowedLanguages in order, NULL-terminated */
    int n_languages;
} cg_script_policy_view;

/* From the control adapter's scripting settings (c may be NULL: defaults, enabled). */
cg_script_policy *cg_script_policy_create(const cg_control_adapter *c);
void cg_script_policy_free(cg_script_policy *p);

void cg_script_policy_get(cg_script_policy *p, cg_script_policy_view *out);

/* Replaces the settings with *in (strings are copied). 0, or -1 when out of memory (then
 * nothing changed). The caller validates the values. */
int cg_script_policy_set(cg_script_policy *p, const cg_script_policy_view *in);

/* What one run needs: settings for cg_script_load and limits for cg_script_run. */
void cg_script_policy_snapshot(cg_script_policy *p, cg_script_settings *settings,
                               cg_script_limits *limits);

#endif
