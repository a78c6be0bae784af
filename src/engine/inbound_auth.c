/*
 * inbound_auth.c — loading API tokens from the environment and checking presented ones.
 * See inbound_auth.h.
 *
 * Loading walks the comma-separated list in place and the file line by line; each token is
 * screened (printable ASCII, at most CG_INBOUND_AUTH_MAX_TOKEN_LEN bytes), hashed with
 * SHA-256 and kept only as its digest; duplicates collapse into one. The file's line
 * buffer is wiped before it is freed, so no plaintext token outlives the load. Error
 * messages name the variable and the item or line number, never the value: not even the
 * file's path, which would be a token itself if the two variables were mixed up.
 *
 * Checking hashes the presented token once and compares the digest with every configured
 * one using CRYPTO_memcmp, OR-ing the results, so a match early in the list costs the
 * same as a match at the end or none at all.
 */
#include "engine/inbound_auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DIGEST_LEN 32

struct cg_inbound_auth {
    unsigned char (*digests)[DIGEST_LEN];   /* SHA-256 of each distinct token */
    size_t n;
    size_t cap;
};

static bool sha256(const char *data, size_t len, unsigned char out[DIGEST_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == DIGEST_LEN;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Adds one token (already trimmed, len > 0). where names it for errors ("item 2"). */
static cg_inbound_auth_result add_token(cg_inbound_auth *a, const char *tok, size_t len,
                                        const char *var, const char *where, char *err,
                                        size_t errlen)
{
    if (len > CG_INBOUND_AUTH_MAX_TOKEN_LEN) {
        snprintf(err, errlen, "%s: %s: a token is longer than %d bytes", var, where,
                 CG_INBOUND_AUTH_MAX_TOKEN_LEN);
        return CG_INBOUND_AUTH_EINVALID;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7e) {
            snprintf(err, errlen,
                     "%s: %s: a token must be printable ASCII without spaces or control "
                     "characters (bytes 0x21-0x7E)", var, where);
            return CG_INBOUND_AUTH_EINVALID;
        }
    unsigned char d[DIGEST_LEN];
    if (!sha256(tok, len, d)) {
        snprintf(err, errlen, "%s: cannot hash a token (libcrypto failed)", var);
        return CG_INBOUND_AUTH_ENOMEM;
    }
    for (size_t i = 0; i < a->n; i++)
        if (!memcmp(a->digests[i], d, DIGEST_LEN)) return CG_INBOUND_AUTH_OK;  /* a duplicate */
    if (a->n == CG_INBOUND_AUTH_MAX_TOKENS) {
        snprintf(err, errlen, "%s: more than %d distinct tokens", var, CG_INBOUND_AUTH_MAX_TOKENS);
        return CG_INBOUND_AUTH_EINVALID;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        void *p = realloc(a->digests, cap * sizeof *a->digests);
        if (!p) {
            snprintf(err, errlen, "%s: out of memory", var);
            return CG_INBOUND_AUTH_ENOMEM;
        }
        a->digests = p;
        a->cap = cap;
    }
    memcpy(a->digests[a->n++], d, DIGEST_LEN);
    return CG_INBOUND_AUTH_OK;
}

static cg_inbound_auth_result load_list(cg_inbound_auth *a, const char *list, char *err,
                                        size_t errlen)
{
    const char *var = CG_INBOUND_AUTH_ENV_TOKENS;
    size_t item = 0, found = 0;
    for (const char *p = list;; ) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        item++;
        const char *s = p, *e = end;
        while (s < e && is_blank(*s)) s++;
        while (e > s && is_blank(e[-1])) e--;
        if (e > s) {
            char where[48];
            snprintf(where, sizeof where, "item %zu", item);
            cg_inbound_auth_result rc = add_token(a, s, (size_t)(e - s), var, where, err, errlen);
            if (rc != CG_INBOUND_AUTH_OK) return rc;
            found++;
        }
        if (!*end) break;
        p = end + 1;
    }
    if (!found) {
        snprintf(err, errlen,
                 "%s is set but holds no token (a comma-separated list is expected; unset it "
                 "to turn inbound auth off)", var);
        return CG_INBOUND_AUTH_EEMPTY;
    }
    return CG_INBOUND_AUTH_OK;
}

static cg_inbound_auth_result load_file(cg_inbound_auth *a, const char *path, char *err,
                                        size_t errlen)
{
    const char *var = CG_INBOUND_AUTH_ENV_FILE;
    cg_inbound_auth_result rc = CG_INBOUND_AUTH_OK;
    char *line = NULL;
    size_t cap = 0, lineno = 0, found = 0;
    FILE *f = *path ? fopen(path, "re") : NULL;
    if (!f) {
        snprintf(err, errlen, "%s: cannot read the file it names: %s", var,
                 *path ? strerror(errno) : "the value is empty");
        return CG_INBOUND_AUTH_EIO;
    }
    errno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        const char *s = line, *e = line + n;
        while (s < e && is_blank(*s)) s++;
        while (e > s && is_blank(e[-1])) e--;
        if (e == s || *s == '#') continue;
        char where[48];
        snprintf(where, sizeof where, "line %zu", lineno);
        rc = add_token(a, s, (size_t)(e - s), var, where, err, errlen);
        if (rc != CG_INBOUND_AUTH_OK) goto load_file_out;
        found++;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read the file it names: %s", var,
                 strerror(errno ? errno : EIO));
        rc = CG_INBOUND_AUTH_EIO;
    } else if (!found) {
        snprintf(err, errlen,
                 "%s: the file holds no token (one per line is expected; blank lines and "
                 "# comments are ignored)", var);
        rc = CG_INBOUND_AUTH_EEMPTY;
    }

load_file_out:
    if (line) OPENSSL_cleanse(line, cap);
    free(line);
    fclose(f);
    return rc;
}

cg_inbound_auth_result cg_inbound_auth_load(const char *list, const char *file,
                                            cg_inbound_auth **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!list && !file) return CG_INBOUND_AUTH_OK;
    cg_inbound_auth_result rc = CG_INBOUND_AUTH_ENOMEM;
    cg_inbound_auth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "inbound auth: out of memory");
        goto inbound_auth_load_out;
    }
    rc = CG_INBOUND_AUTH_OK;
    if (list) rc = load_list(a, list, err, errlen);
    if (rc == CG_INBOUND_AUTH_OK && file) rc = load_file(a, file, err, errlen);

inbound_auth_load_out:
    if (rc != CG_INBOUND_AUTH_OK) {
        cg_inbound_auth_free(a);
        return rc;
    }
    *out = a;
    return rc;
}

cg_inbound_auth_result cg_inbound_auth_from_env(cg_inbound_auth **out, char *err, size_t errlen)
{
    return cg_inbound_auth_load(getenv(CG_INBOUND_AUTH_ENV_TOKENS),
                                getenv(CG_INBOUND_AUTH_ENV_FILE), out, err, errlen);
}

void cg_inbound_auth_free(cg_inbound_auth *a)
{
    if (!a) return;
    free(a->digests);
    free(a);
}

size_t cg_inbound_auth_count(const cg_inbound_auth *a)
{
    return a ? a->n : 0;
}

bool cg_inbound_auth_match(const cg_inbound_auth *a, const char *token, size_t len)
{
    if (!a || !token) return false;
    unsigned char d[DIGEST_LEN];
    if (!sha256(token, len, d)) return false;
    int hit = 0;
    for (size_t i = 0; i < a->n; i++)   /* every digest, whatever matched before */
        hit |= CRYPTO_memcmp(d, a->digests[i], DIGEST_LEN) == 0;
    return hit != 0;
}

/* The token in a header value: surrounding spaces and tabs removed. */
static void trim(const char *v, const char **s, size_t *len)
{
    const char *e = v + strlen(v);
    while (*v == ' ' || *v == '\t') v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *s = v;
    *len = (size_t)(e - v);
}

cg_inbound_auth_verdict cg_inbound_auth_check(const cg_inbound_auth *a, const char *authorization,
                                              const char *x_token, bool *forward_authorization)
{
    bool fwd_dummy;
    bool *fwd = forward_authorization ? forward_authorization : &fwd_dummy;
    *fwd = true;
    if (!a) return CG_INBOUND_AUTH_ALLOW;
    const char *tok;
    size_t len;
    if (x_token) {
        trim(x_token, &tok, &len);
        if (len && cg_inbound_auth_match(a, tok, len)) return CG_INBOUND_AUTH_ALLOW;
        *fwd = false;
        return CG_INBOUND_AUTH_INVALID;
    }
    *fwd = false;
    if (!authorization) return CG_INBOUND_AUTH_MISSING;
    trim(authorization, &tok, &len);
    if (len < 6 || strncasecmp(tok, "Bearer", 6) || (len > 6 && tok[6] != ' ' && tok[6] != '\t'))
        return CG_INBOUND_AUTH_MISSING;  /* another scheme: meant for the upstream */
    trim(tok + 6, &tok, &len);
    return len && cg_inbound_auth_match(a, tok, len) ? CG_INBOUND_AUTH_ALLOW
                                                     : CG_INBOUND_AUTH_INVALID;
}

const char *cg_inbound_auth_challenge(cg_inbound_auth_verdict v)
{
    return v == CG_INBOUND_AUTH_INVALID ? "Bearer realm=\"capgate\", error=\"invalid_token\""
                                        : "Bearer realm=\"capgate\"";
}

const char *cg_inbound_auth_detail(cg_inbound_auth_verdict v)
{
    return v == CG_INBOUND_AUTH_INVALID
               ? "the API token presented is not valid for this capgate; send a configured "
                 "token as 'Authorization: Bearer <token>' or 'X-Capgate-Token: <token>'"
               : "this capgate requires an API token: send 'Authorization: Bearer <token>' or "
                 "'X-Capgate-Token: <token>' (tokens are configured with CAPGATE_API_TOKENS or "
                 "CAPGATE_API_TOKENS_FILE)";
}
