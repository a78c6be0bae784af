/*
 * auth.c — Label Studio's token authentication for studio. See app.h.
 *
 * Three credentials are accepted, as Label Studio accepts them:
 *   Authorization: Token <legacy key>   (X-Api-Key: <key> is the same thing)
 *   Authorization: Bearer <access JWT>  (5 minutes, from POST /api/token/refresh/)
 * A personal access token (PAT) is a refresh JWT; it is never sent as a credential itself,
 * only exchanged. A bad or expired Bearer token is ignored (so the 401 says no credentials
 * were provided), exactly as djangorestframework-simplejwt behaves in Label Studio.
 * Credentials are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/jwt_shape.h"
#include "studio/app.h"
#include "studio/jwt.h"

#define ACCESS_TTL_S 300
#define REFRESH_TTL_S (200LL * 365 * 86400)

static void reply_401(cg_http_response *res, const char *detail)
{
    cg_studio_reply_error(res, 401, detail, NULL);
    cg_http_response_header(res, "WWW-Authenticate", "Token");
}

static int64_t claim_user(json_t *claims)
{
    json_t *u = json_object_get(claims, "user_id");
    if (json_is_integer(u)) return json_integer_value(u);
    if (json_is_string(u)) return cg_studio_parse_id(json_string_value(u));
    return 0;
}

/* "Token abc" → legacy key check, DRF TokenAuthentication's messages. */
static int64_t auth_legacy(cg_studio_app *app, const char *rest, cg_http_response *res)
{
    while (*rest == ' ') rest++;
    size_t n = strlen(rest);
    while (n && rest[n - 1] == ' ') n--;
    if (n == 0) {
        reply_401(res, "Invalid token header. No credentials provided.");
        return 0;
    }
    if (memchr(rest, ' ', n)) {
        reply_401(res, "Invalid token header. Token string should not contain spaces.");
        return 0;
    }
    char key[512];
    if (n >= sizeof key) {
        reply_401(res, "Invalid token.");
        return 0;
    }
    memcpy(key, rest, n);
    key[n] = '\0';
    int64_t user = 0;
    int rc = cg_studio_store_user_by_key(app->store, key, &user);
    if (rc < 0) {
        cg_studio_reply_error(res, 500, "database error", NULL);
        return 0;
    }
    if (rc != 0) {
        reply_401(res, "Invalid token.");
        return 0;
    }
    return user;
}

/* "Bearer <jwt>": 0 when not a valid access token (the caller treats it as absent), -1
 * when the reply is already written. */
static int64_t auth_bearer(cg_studio_app *app, const char *token, cg_http_response *res)
{
    while (*token == ' ') token++;
    char err[128];
    json_t *claims = cg_studio_jwt_verify(token, app->jwt_secret, (long long)time(NULL), err,
                                          sizeof err);
    const char *type = json_string_value(json_object_get(claims, "token_type"));
    int64_t user = (type && !strcmp(type, "access")) ? claim_user(claims) : 0;
    json_decref(claims);
    if (!user) return 0;
    if (cg_studio_store_user_exists(app->store, user) != 0) {
        cg_studio_reply(res, 401, json_pack("{s:s}", "detail", "User not found"));
        return -1;
    }
    return user;
}

int64_t cg_studio_authenticate(cg_studio_app *app, const cg_http_request *req,
                               cg_http_response *res)
{
    const char *auth = cg_http_header(req, "Authorization");
    const char *xkey = cg_http_header(req, "X-Api-Key");
    if (auth && !strncasecmp(auth, "Token", 5) && (auth[5] == ' ' || auth[5] == '\0'))
        return auth_legacy(app, auth + 5, res);
    if (auth && !strncasecmp(auth, "Bearer ", 7)) {
        int64_t user = auth_bearer(app, auth + 7, res);
        if (user > 0) return user;
        if (user < 0) return 0;
    } else if (!auth && xkey && cg_jwt_shaped(xkey)) {
        /* X-Api-Key carrying a JWT access token is read as Bearer (Label Studio's JWT
         * middleware does the same); a legacy key is never shaped like a JWT. */
        int64_t user = auth_bearer(app, xkey, res);
        if (user > 0) return user;
        if (user < 0) return 0;
    } else if (!auth && xkey) {
        return auth_legacy(app, xkey, res);
    }
    reply_401(res, "Authentication credentials were not provided.");
    return 0;
}

static char *mint(cg_studio_app *app, int64_t user, const char *type, long long ttl, char jti[33])
{
    if (cg_studio_random_hex(jti, 16) != 0) return NULL;
    long long now = (long long)time(NULL);
    json_t *claims = json_pack("{s:s,s:I,s:I,s:s,s:I}", "token_type", type, "exp",
                               (json_int_t)(now + ttl), "iat", (json_int_t)now, "jti", jti,
                               "user_id", (json_int_t)user);
    char *tok = claims ? cg_studio_jwt_sign(claims, app->jwt_secret) : NULL;
    json_decref(claims);
    return tok;
}

char *cg_studio_pat_mint(cg_studio_app *app, int64_t user)
{
    char jti[33];
    char *tok = mint(app, user, "refresh", REFRESH_TTL_S, jti);
    if (tok &&
        cg_studio_store_pat_add(app->store, jti, user, (int64_t)time(NULL) + REFRESH_TTL_S) != 0) {
        free(tok);
        return NULL;
    }
    return tok;
}

char *cg_studio_pat_refresh(cg_studio_app *app, const char *refresh, char *err, size_t errlen)
{
    json_t *claims = cg_studio_jwt_verify(refresh, app->jwt_secret, (long long)time(NULL), err,
                                          errlen);
    if (!claims) return NULL;
    const char *type = json_string_value(json_object_get(claims, "token_type"));
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    int64_t user = claim_user(claims);
    char *access = NULL;
    if (!type || strcmp(type, "refresh")) {
        snprintf(err, errlen, "Token has wrong type");
    } else if (!jti || cg_studio_store_pat_valid(app->store, jti) != 0) {
        snprintf(err, errlen, "Token is blacklisted");
    } else if (!user || cg_studio_store_user_exists(app->store, user) != 0) {
        snprintf(err, errlen, "User not found");
    } else {
        char ajti[33];
        access = mint(app, user, "access", ACCESS_TTL_S, ajti);
        if (!access) snprintf(err, errlen, "cannot sign token");
    }
    json_decref(claims);
    return access;
}
