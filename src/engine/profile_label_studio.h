/*
 * profile_label_studio.h — the rules that hold for Label Studio's API and no other.
 *
 * The generic engine sends credentials exactly as a spec declares them. Label Studio needs
 * more, and this profile is where it lives, applied only to a consumed API whose namespace
 * starts with "label-studio" or that `--profile NS=label-studio` names:
 *   - an apikey on Authorization that is a bare key goes out as `Token <key>` (a value
 *     that already names a scheme, "Token x" / "Bearer x", goes out as written);
 *   - a key that is a JWT is a personal access token: a refresh token exchanged at
 *     /api/token/refresh/ for a short-lived access token sent as `Bearer <access>`,
 *     cached and renewed (token.h);
 *   - operations whose name or path says predict, train or interactive get the long
 *     timeout (Label Studio waits up to 100 s on the ML backend for them);
 *   - LABEL_STUDIO_URL, when set, is the base URI of every such API.
 */
#ifndef CG_PROFILE_LABEL_STUDIO_H
#define CG_PROFILE_LABEL_STUDIO_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "spec/spec.h"

#define CG_LS_PROFILE_NAME "label-studio"
#define CG_LS_REFRESH_PATH "/api/token/refresh/"
#define CG_LS_ENV_URL "LABEL_STUDIO_URL"

/* true when the profile applies to the consumed namespace ns: it starts with
 * "label-studio", or it is one of named[0..n) (the --profile NS=label-studio options). */
bool cg_ls_profile_applies(const char *ns, const char *const *named, size_t n);

/* true when op is one Label Studio may take long to answer (predict, train, interactive). */
bool cg_ls_is_long_operation(const cg_operation *op);

/* The Authorization value for a configured key. Returns 0 with out set ("Token <key>", or
 * the key as written when it names a scheme), 1 when key is a personal access token to be
 * exchanged (out untouched), -1 when out of memory. */
int cg_ls_authorization(const char *key, cg_buf *out);

/* Parses a --profile value "NS=label-studio": *ns points into value (NUL-terminated there).
 * 0, or -1 with a message in err (unknown profile, no namespace). */
int cg_ls_parse_profile_option(char *value, const char **ns, char *err, size_t errlen);

/* The first of named[0..n) that is no consumed namespace of spec (a typo in --profile),
 * or NULL when they all are. */
const char *cg_ls_unknown_profile(const cg_spec *spec, const char *const *named, size_t n);

#endif
