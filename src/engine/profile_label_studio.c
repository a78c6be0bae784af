/*
 * profile_label_studio.c — Label Studio's own rules, kept out of the generic engine. See
 * profile_label_studio.h. The personal access token exchange itself is token.c's.
 */
#include "engine/profile_label_studio.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/jwt_shape.h"
#include "engine/token.h"

bool cg_ls_profile_applies(const char *ns, const char *const *named, size_t n)
{
    if (!ns) return false;
    if (!strncmp(ns, CG_LS_PROFILE_NAME, strlen(CG_LS_PROFILE_NAME))) return true;
    for (size_t i = 0; i < n; i++)
        if (named[i] && !strcmp(named[i], ns)) return true;
    return false;
}

bool cg_ls_is_long_operation(const cg_operation *op)
{
    static const char *const words[] = {"predict", "train", "interactive"};
    for (size_t i = 0; i < 3; i++)
        if (strcasestr(op->name, words[i]) || (op->path && strcasestr(op->path, words[i])))
            return true;
    return false;
}

int cg_ls_authorization(const char *key, cg_buf *out)
{
    if (strchr(key, ' ')) return cg_buf_append_str(out, key) < 0 ? -1 : 0;
    if (cg_jwt_shaped(key)) return 1;
    return cg_buf_append_str(out, "Token ") < 0 || cg_buf_append_str(out, key) < 0 ? -1 : 0;
}

int cg_ls_parse_profile_option(char *value, const char **ns, char *err, size_t errlen)
{
    char *eq = strchr(value, '=');
    if (!eq || eq == value) {
        snprintf(err, errlen, "--profile takes NAMESPACE=label-studio, not '%s'", value);
        return -1;
    }
    *eq = '\0';
    if (strcmp(eq + 1, CG_LS_PROFILE_NAME)) {
        snprintf(err, errlen, "unknown profile '%s' (capgate has: %s)", eq + 1, CG_LS_PROFILE_NAME);
        return -1;
    }
    *ns = value;
    return 0;
}

const char *cg_ls_unknown_profile(const cg_spec *spec, const char *const *named, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t c = 0; c < spec->n_consumes && !found; c++)
            found = spec->consumes[c].namespace_ && !strcmp(spec->consumes[c].namespace_, named[i]);
        if (!found) return named[i];
    }
    return NULL;
}
