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

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "engine/jwt.h"
#include "spec/spec.h"

#define DIGEST_LEN 32
#define MAX_DOC (1u << 20) /* JWKS and metadata documents */

struct cg_inbound_auth {
    unsigned char (*digests)[DIGEST_LEN]; /* SHA-256 of each distinct token */
    size_t n;
    size_t cap;
    /* the scheme an adapter declares */
    cg_auth_type declared;
    char *key_header;                 /* apikey: its header */
    unsigned char secret[DIGEST_LEN]; /* apikey: SHA-256 of the value; basic: of
                                             * base64(user:pass) */
    cg_jwks *jwks;                    /* oauth2 */
    char *issuer, *audience;
    char *challenge, *challenge_invalid; /* oauth2 WWW-Authenticate values */
    char *metadata;                      /* oauth2: RFC 9728 document */
    char *metadata_path;                 /* /.well-known/oauth-protected-resource<path> */
    char *detail_missing;
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
                     "characters (bytes 0x21-0x7E)",
                     var, where);
            return CG_INBOUND_AUTH_EINVALID;
        }
    unsigned char d[DIGEST_LEN];
    if (!sha256(tok, len, d)) {
        snprintf(err, errlen, "%s: cannot hash a token (libcrypto failed)", var);
        return CG_INBOUND_AUTH_ENOMEM;
    }
    for (size_t i = 0; i < a->n; i++)
        if (!memcmp(a->digests[i], d, DIGEST_LEN)) return CG_INBOUND_AUTH_OK; /* a duplicate */
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
    for (const char *p = list;;) {
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
                 "to turn inbound auth off)",
                 var);
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
                 "# comments are ignored)",
                 var);
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
    free(a->key_header);
    cg_jwks_free(a->jwks);
    free(a->issuer);
    free(a->audience);
    free(a->challenge);
    free(a->challenge_invalid);
    free(a->metadata);
    free(a->metadata_path);
    free(a->detail_missing);
    OPENSSL_cleanse(a->secret, sizeof a->secret);
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
    for (size_t i = 0; i < a->n; i++) /* every digest, whatever matched before */
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
        return CG_INBOUND_AUTH_MISSING; /* another scheme: meant for the upstream */
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

/* ---- authentication declared on an exposed adapter ---------------------------------- */

/* A template's value from the spec's binds (env or file); -1 naming what is unset. */
static int resolve_value(const cg_spec *spec, const cg_template *t, cg_buf *out, char *err,
                         size_t errlen, const char *what)
{
    for (size_t i = 0; t && i < t->n_parts; i++) {
        const cg_template_part *p = &t->parts[i];
        if (!p->is_variable) {
            cg_buf_append(out, p->text, p->len);
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)p->len, p->text);
        const char *v = cg_spec_bind_value(spec, name);
        if (!v || !*v) {
            snprintf(err, errlen,
                     "inbound auth: the adapter's %s needs {{%s}}, which has no value "
                     "(set it, or remove the adapter's authentication)",
                     what, name);
            return -1;
        }
        cg_buf_append_str(out, v);
    }
    if (!out->len) {
        snprintf(err, errlen, "inbound auth: the adapter's %s is empty", what);
        return -1;
    }
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    cg_buf *b = arg;
    if (b->len + size * n > MAX_DOC || cg_buf_append(b, data, size * n) < 0) return 0;
    return size * n;
}

/* GETs url (http, https or file) into out, blocking (start-up only). */
static int fetch_doc(const char *url, cg_buf *out, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "inbound auth: cannot start libcurl");
        return -1;
    }
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK || (status && status != 200)) {
        snprintf(err, errlen, "inbound auth: cannot fetch %s: %s", url,
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP status not 200");
        return -1;
    }
    return 0;
}

/* The JWKS: CAPGATE_OAUTH2_JWKS (path or URL), else discovered from the authorization
 * server's metadata (RFC 8414, then OpenID Connect discovery), which may also name the
 * issuer. */
static int load_jwks(cg_inbound_auth *a, const cg_auth *d, char *err, size_t errlen)
{
    const char *src = getenv(CG_INBOUND_AUTH_ENV_JWKS);
    cg_buf doc = CG_BUF_INIT, url = CG_BUF_INIT;
    int rc = -1;
    if (src && *src) {
        if (strstr(src, "://")) cg_buf_append_str(&url, src);
        else cg_buf_printf(&url, "file://%s%s", src[0] == '/' ? "" : "./", src);
        if (src[0] != '/' && !strstr(src, "://")) { /* curl wants an absolute file path */
            char cwd[4096];
            cg_buf_reset(&url);
            if (getcwd(cwd, sizeof cwd)) cg_buf_printf(&url, "file://%s/%s", cwd, src);
        }
    } else {
        const char *as = d->authorization_server;
        size_t n = strlen(as);
        while (n && as[n - 1] == '/') n--;
        static const char *const wells[] = {"/.well-known/oauth-authorization-server",
                                            "/.well-known/openid-configuration"};
        char e2[256] = "";
        for (int i = 0; i < 2 && !url.len; i++) {
            cg_buf meta = CG_BUF_INIT, murl = CG_BUF_INIT;
            cg_buf_printf(&murl, "%.*s%s", (int)n, as, wells[i]);
            if (fetch_doc(murl.data, &meta, e2, sizeof e2) == 0) {
                json_t *m = json_loadb(meta.data ? meta.data : "", meta.len, 0, NULL);
                const char *j = json_string_value(json_object_get(m, "jwks_uri"));
                const char *iss = json_string_value(json_object_get(m, "issuer"));
                if (j) cg_buf_append_str(&url, j);
                if (j && iss) {
                    free(a->issuer);
                    a->issuer = strdup(iss);
                }
                json_decref(m);
            }
            cg_buf_free(&meta);
            cg_buf_free(&murl);
        }
        if (!url.len) {
            snprintf(err, errlen,
                     "inbound auth: no jwks_uri in %.*s's metadata (%s); set %s to "
                     "the JWKS file or URL",
                     (int)n, as, e2[0] ? e2 : "no jwks_uri", CG_INBOUND_AUTH_ENV_JWKS);
            goto load_jwks_out;
        }
    }
    if (fetch_doc(url.data, &doc, err, errlen) < 0) goto load_jwks_out;
    char jerr[200];
    a->jwks = cg_jwks_parse(doc.data ? doc.data : "", doc.len, jerr, sizeof jerr);
    if (!a->jwks) {
        snprintf(err, errlen, "inbound auth: %s: %s", url.data, jerr);
        goto load_jwks_out;
    }
    rc = 0;
load_jwks_out:
    cg_buf_free(&doc);
    cg_buf_free(&url);
    return rc;
}

/* The RFC 9728 document, its path, and the challenges naming it. */
static int build_metadata(cg_inbound_auth *a, const cg_auth *d)
{
    /* the metadata URL puts the well-known segment between the resource's host and path */
    const char *r = d->resource;
    const char *host = strstr(r, "://");
    const char *path = host ? strchr(host + 3, '/') : NULL;
    size_t origin_len = path ? (size_t)(path - r) : strlen(r);
    const char *rpath = path && strcmp(path, "/") ? path : "";
    cg_buf p = CG_BUF_INIT, url = CG_BUF_INIT, ch = CG_BUF_INIT, chi = CG_BUF_INIT;
    cg_buf_printf(&p, "/.well-known/oauth-protected-resource%s", rpath);
    cg_buf_printf(&url, "%.*s%s", (int)origin_len, r, p.data);
    cg_buf_printf(&ch, "Bearer resource_metadata=\"%s\"", url.data);
    cg_buf_printf(&chi, "Bearer resource_metadata=\"%s\", error=\"invalid_token\"", url.data);
    json_t *doc = json_object();
    json_t *servers = json_array(), *scopes = json_array(), *methods = json_array();
    json_array_append_new(servers, json_string(d->authorization_server));
    for (size_t i = 0; i < d->n_scopes; i++)
        json_array_append_new(scopes, json_string(d->scopes[i]));
    json_array_append_new(methods, json_string("header"));
    json_object_set_new(doc, "resource", json_string(d->resource));
    json_object_set_new(doc, "authorization_servers", servers);
    if (d->n_scopes) json_object_set_new(doc, "scopes_supported", scopes);
    else json_decref(scopes);
    json_object_set_new(doc, "bearer_methods_supported", methods);
    a->metadata = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    a->metadata_path = cg_buf_steal(&p);
    a->challenge = cg_buf_steal(&ch);
    a->challenge_invalid = cg_buf_steal(&chi);
    cg_buf_free(&url);
    return a->metadata && a->metadata_path && a->challenge && a->challenge_invalid ? 0 : -1;
}

cg_inbound_auth_result cg_inbound_auth_declare(cg_inbound_auth **ap, const cg_spec *spec,
                                               const cg_auth *d, char *err, size_t errlen)
{
    if (!d || d->type == CG_AUTH_NONE) return CG_INBOUND_AUTH_OK;
    cg_inbound_auth *a = *ap ? *ap : calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "inbound auth: out of memory");
        return CG_INBOUND_AUTH_ENOMEM;
    }
    cg_inbound_auth_result rc = CG_INBOUND_AUTH_EINVALID;
    cg_buf v = CG_BUF_INIT, u = CG_BUF_INIT, b64 = CG_BUF_INIT;
    a->declared = d->type;
    switch (d->type) {
    case CG_AUTH_BEARER:
        if (resolve_value(spec, d->token, &v, err, errlen, "bearer token") < 0) goto declare_out;
        rc = add_token(a, v.data, v.len, "inbound auth", "the adapter's bearer token", err, errlen);
        a->declared = CG_AUTH_NONE; /* checked with the tokens */
        break;
    case CG_AUTH_APIKEY:
        if (resolve_value(spec, d->value, &v, err, errlen, "apikey value") < 0) goto declare_out;
        a->key_header = strdup(d->key ? d->key : "X-API-Key");
        sha256(v.data, v.len, a->secret);
        rc = a->key_header ? CG_INBOUND_AUTH_OK : CG_INBOUND_AUTH_ENOMEM;
        cg_buf_printf(&b64, "this adapter requires its API key in the %s header", a->key_header);
        break;
    case CG_AUTH_BASIC: {
        if (resolve_value(spec, d->username, &u, err, errlen, "basic username") < 0 ||
            resolve_value(spec, d->password, &v, err, errlen, "basic password") < 0)
            goto declare_out;
        cg_buf_append(&u, ":", 1);
        cg_buf_append(&u, v.data, v.len);
        char *enc = cg_base64_encode(u.data, u.len, CG_B64_STD);
        if (!enc) goto declare_out;
        size_t len = strlen(enc);
        sha256(enc, len, a->secret);
        OPENSSL_cleanse(enc, len);
        free(enc);
        rc = CG_INBOUND_AUTH_OK;
        cg_buf_append_str(&b64, "this adapter requires HTTP Basic authentication "
                                "('Authorization: Basic ...')");
        break;
    }
    case CG_AUTH_OAUTH2:
        a->issuer = strdup(d->authorization_server);
        a->audience = strdup(d->audience ? d->audience : d->resource);
        if (!a->issuer || !a->audience || build_metadata(a, d) < 0) {
            rc = CG_INBOUND_AUTH_ENOMEM;
            goto declare_out;
        }
        if (load_jwks(a, d, err, errlen) < 0) {
            rc = CG_INBOUND_AUTH_EIO;
            goto declare_out;
        }
        rc = CG_INBOUND_AUTH_OK;
        cg_buf_append_str(&b64, "this adapter requires an OAuth 2 access token: send "
                                "'Authorization: Bearer <JWT>' (see the resource metadata in "
                                "WWW-Authenticate)");
        break;
    default:
        snprintf(err, errlen, "inbound auth: %s is not supported on an exposed adapter",
                 cg_auth_type_name(d->type));
        goto declare_out;
    }
    if (b64.len) a->detail_missing = cg_buf_steal(&b64);

declare_out:
    if (v.data) OPENSSL_cleanse(v.data, v.len);
    if (u.data) OPENSSL_cleanse(u.data, u.len);
    cg_buf_free(&v);
    cg_buf_free(&u);
    cg_buf_free(&b64);
    if (rc != CG_INBOUND_AUTH_OK) {
        if (!*ap) cg_inbound_auth_free(a);
        return rc;
    }
    *ap = a;
    return rc;
}

static bool digest_equals(const unsigned char secret[DIGEST_LEN], const char *s, size_t n)
{
    unsigned char d[DIGEST_LEN];
    return sha256(s, n, d) && CRYPTO_memcmp(d, secret, DIGEST_LEN) == 0;
}

/* The credential after "Scheme " in an Authorization value, or NULL for another scheme. */
static const char *after_scheme(const char *authorization, const char *scheme, size_t *len)
{
    const char *tok;
    size_t n, sl = strlen(scheme);
    trim(authorization, &tok, &n);
    if (n <= sl || strncasecmp(tok, scheme, sl) || (tok[sl] != ' ' && tok[sl] != '\t')) return NULL;
    const char *v = tok + sl;
    while (*v == ' ' || *v == '\t') v++;
    *len = (size_t)(tok + n - v);
    return v;
}

cg_inbound_auth_verdict cg_inbound_auth_verify(const cg_inbound_auth *a,
                                               cg_inbound_header_fn header, void *ctx,
                                               bool *forward_authorization, const char **detail)
{
    bool fwd_dummy;
    const char *det_dummy;
    bool *fwd = forward_authorization ? forward_authorization : &fwd_dummy;
    const char **det = detail ? detail : &det_dummy;
    *fwd = true;
    if (!a) return CG_INBOUND_AUTH_ALLOW;
    const char *authz = header(ctx, "Authorization");
    cg_inbound_auth_verdict v = CG_INBOUND_AUTH_MISSING;
    if (a->n > 0) {
        v = cg_inbound_auth_check(a, authz, header(ctx, CG_INBOUND_AUTH_HEADER), fwd);
        *det = cg_inbound_auth_detail(v);
        if (v == CG_INBOUND_AUTH_ALLOW || a->declared == CG_AUTH_NONE) return v;
    }
    *fwd = true;
    const char *cred;
    size_t len = 0;
    switch (a->declared) {
    case CG_AUTH_APIKEY:
        cred = header(ctx, a->key_header);
        if (!strcasecmp(a->key_header, "Authorization")) *fwd = false;
        if (!cred) v = CG_INBOUND_AUTH_MISSING;
        else
            v = digest_equals(a->secret, cred, strlen(cred)) ? CG_INBOUND_AUTH_ALLOW
                                                             : CG_INBOUND_AUTH_INVALID;
        if (v == CG_INBOUND_AUTH_INVALID)
            *det = "the API key presented is not valid for this adapter";
        break;
    case CG_AUTH_BASIC:
        cred = authz ? after_scheme(authz, "Basic", &len) : NULL;
        if (cred) *fwd = false;
        v = !cred                                 ? CG_INBOUND_AUTH_MISSING
            : digest_equals(a->secret, cred, len) ? CG_INBOUND_AUTH_ALLOW
                                                  : CG_INBOUND_AUTH_INVALID;
        if (v == CG_INBOUND_AUTH_INVALID)
            *det = "the username or password is not valid for this adapter";
        break;
    case CG_AUTH_OAUTH2: {
        cred = authz ? after_scheme(authz, "Bearer", &len) : NULL;
        if (!cred) {
            v = CG_INBOUND_AUTH_MISSING;
            break;
        }
        *fwd = false;
        cg_jwt_expect x = {.issuer = a->issuer,
                           .audience = a->audience,
                           .now = (long long)time(NULL),
                           .leeway_s = 30};
        cg_jwt_result r = cg_jwt_verify(a->jwks, cred, len, &x);
        v = r == CG_JWT_OK ? CG_INBOUND_AUTH_ALLOW : CG_INBOUND_AUTH_INVALID;
        if (v == CG_INBOUND_AUTH_INVALID) *det = cg_jwt_result_text(r);
        break;
    }
    default: break;
    }
    if (v == CG_INBOUND_AUTH_MISSING) {
        *fwd = a->declared == CG_AUTH_APIKEY && strcasecmp(a->key_header, "Authorization");
        *det = a->detail_missing ? a->detail_missing : cg_inbound_auth_detail(v);
    }
    if (v != CG_INBOUND_AUTH_ALLOW && a->declared != CG_AUTH_APIKEY) *fwd = false;
    return v;
}

const char *cg_inbound_auth_www_authenticate(const cg_inbound_auth *a, cg_inbound_auth_verdict v)
{
    if (a && a->declared == CG_AUTH_OAUTH2)
        return v == CG_INBOUND_AUTH_INVALID ? a->challenge_invalid : a->challenge;
    if (a && a->declared == CG_AUTH_BASIC) return "Basic realm=\"capgate\", charset=\"UTF-8\"";
    if (a && a->declared == CG_AUTH_APIKEY) return "ApiKey realm=\"capgate\"";
    return cg_inbound_auth_challenge(v);
}

const char *cg_inbound_auth_resource_metadata(const cg_inbound_auth *a, const char *path)
{
    if (!a || a->declared != CG_AUTH_OAUTH2 || !path) return NULL;
    static const char base[] = "/.well-known/oauth-protected-resource";
    if (!strcmp(path, base) || !strcmp(path, a->metadata_path)) return a->metadata;
    return NULL;
}

const char *cg_inbound_auth_scheme(const cg_inbound_auth *a)
{
    return a && a->declared != CG_AUTH_NONE ? cg_auth_type_name(a->declared) : NULL;
}
