/*
 * digest.c — RFC 7616 challenge parsing and response computation. See digest.h.
 *
 * The challenge is a list of auth-params (token=token or token="quoted string", comma
 * separated, RFC 9110 §11.2). Parsing stops at the next challenge's scheme name, so a
 * header that joins several challenges yields the first Digest one.
 */
#include "engine/digest.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    return p;
}

static bool is_tchar(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Reads one auth-param at p into name/value. Returns the position after it, or NULL when
 * p does not start a param (end of input, or the next challenge's scheme). */
static const char *next_param(const char *p, char *name, size_t nn, char *value, size_t vn)
{
    p = skip_ws(p);
    size_t i = 0;
    while (is_tchar(*p)) {
        if (i + 1 < nn) name[i++] = *p;
        p++;
    }
    name[i] = '\0';
    const char *q = p;
    while (*q == ' ' || *q == '\t') q++;
    if (!i || *q != '=') return NULL;
    q++;
    while (*q == ' ' || *q == '\t') q++;
    i = 0;
    if (*q == '"') {
        for (q++; *q && *q != '"'; q++) {
            if (*q == '\\' && q[1]) q++;
            if (i + 1 < vn) value[i++] = *q;
        }
        if (*q != '"') return NULL;
        q++;
    } else {
        while (is_tchar(*q)) {
            if (i + 1 < vn) value[i++] = *q;
            q++;
        }
    }
    value[i] = '\0';
    return q;
}

/* true when list (comma-separated tokens) contains word. */
static bool list_has(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') p++;
        size_t len = strcspn(p, ", ");
        if (len == n && !strncasecmp(p, word, n)) return true;
        p += len;
    }
    return false;
}

int cg_digest_parse(const char *h, cg_digest_challenge *c)
{
    memset(c, 0, sizeof *c);
    if (!h) return -1;
    /* find the scheme "Digest" at the start or after a comma */
    const char *p = h;
    for (;;) {
        p = skip_ws(p);
        if (!strncasecmp(p, "Digest", 6) && (p[6] == ' ' || p[6] == '\t')) break;
        const char *comma = strchr(p, ',');
        if (!comma) return -1;
        p = comma + 1;
    }
    p += 6;
    char name[64], value[CG_DIGEST_FIELD_MAX], qop[CG_DIGEST_FIELD_MAX] = "";
    bool have_nonce = false;
    snprintf(c->algorithm, sizeof c->algorithm, "MD5");
    const char *q;
    while ((q = next_param(p, name, sizeof name, value, sizeof value))) {
        p = q;
        if (!strcasecmp(name, "realm")) snprintf(c->realm, sizeof c->realm, "%s", value);
        else if (!strcasecmp(name, "nonce")) {
            snprintf(c->nonce, sizeof c->nonce, "%s", value);
            have_nonce = true;
        } else if (!strcasecmp(name, "opaque")) snprintf(c->opaque, sizeof c->opaque, "%s", value);
        else if (!strcasecmp(name, "algorithm"))
            snprintf(c->algorithm, sizeof c->algorithm, "%.31s", value);
        else if (!strcasecmp(name, "qop")) snprintf(qop, sizeof qop, "%s", value);
        else if (!strcasecmp(name, "stale")) c->stale = !strcasecmp(value, "true");
        else if (!strcasecmp(name, "userhash")) c->userhash = !strcasecmp(value, "true");
    }
    if (!have_nonce || !c->nonce[0]) return -1;
    const char *a = c->algorithm;
    if (!strcasecmp(a, "MD5"))
        ;
    else if (!strcasecmp(a, "MD5-sess")) c->sess = true;
    else if (!strcasecmp(a, "SHA-256")) c->sha256 = true;
    else if (!strcasecmp(a, "SHA-256-sess")) c->sha256 = c->sess = true;
    else return -1;
    if (qop[0]) {
        if (!list_has(qop, "auth")) return -1; /* auth-int only: no body hashing here */
        c->qop_auth = true;
    }
    return 0;
}

/* hex(H(a:b:c...)) of the parts into out (65 bytes). */
static int hash_hex(bool sha256, const char *const *parts, size_t n, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, sha256 ? EVP_sha256() : EVP_md5(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        if (i) ok = EVP_DigestUpdate(ctx, ":", 1);
        if (ok) ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
    }
    if (ok) ok = EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    for (unsigned i = 0; i < len; i++) sprintf(out + 2 * i, "%02x", md[i]);
    out[2 * len] = '\0';
    return 0;
}

/* A value placed inside quotes: no quote, backslash or control byte. */
static bool quotable(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

int cg_digest_authorization(const cg_digest_challenge *c, const char *username,
                            const char *password, const char *method, const char *uri, unsigned nc,
                            const char *cnonce, cg_buf *out)
{
    if (!quotable(username) || !quotable(uri) || !quotable(cnonce) || !quotable(c->realm) ||
        !quotable(c->nonce) || !quotable(c->opaque))
        return -1;
    char ha1[65], ha2[65], resp[65], user[65], ncs[9];
    snprintf(ncs, sizeof ncs, "%08x", nc);
    const char *p1[] = {username, c->realm, password};
    if (hash_hex(c->sha256, p1, 3, ha1) < 0) return -1;
    if (c->sess) {
        const char *ps[] = {ha1, c->nonce, cnonce};
        char tmp[65];
        if (hash_hex(c->sha256, ps, 3, tmp) < 0) return -1;
        memcpy(ha1, tmp, sizeof tmp);
    }
    const char *p2[] = {method, uri};
    if (hash_hex(c->sha256, p2, 2, ha2) < 0) return -1;
    if (c->qop_auth) {
        const char *pr[] = {ha1, c->nonce, ncs, cnonce, "auth", ha2};
        if (hash_hex(c->sha256, pr, 6, resp) < 0) return -1;
    } else {
        const char *pr[] = {ha1, c->nonce, ha2};
        if (hash_hex(c->sha256, pr, 3, resp) < 0) return -1;
    }
    const char *shown = username;
    if (c->userhash) { /* RFC 7616 §3.4.4: H(username:realm) */
        const char *pu[] = {username, c->realm};
        if (hash_hex(c->sha256, pu, 2, user) < 0) return -1;
        shown = user;
    }
    int rc = cg_buf_printf(out,
                           "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                           "algorithm=%s, response=\"%s\"",
                           shown, c->realm, c->nonce, uri, c->algorithm, resp);
    if (rc >= 0 && c->qop_auth)
        rc = cg_buf_printf(out, ", qop=auth, nc=%s, cnonce=\"%s\"", ncs, cnonce);
    if (rc >= 0 && c->opaque[0]) rc = cg_buf_printf(out, ", opaque=\"%s\"", c->opaque);
    if (rc >= 0 && c->userhash) rc = cg_buf_append_str(out, ", userhash=true");
    return rc < 0 ? -1 : 0;
}

int cg_digest_cnonce(char out[33])
{
    unsigned char r[16];
    out[0] = '\0';
    if (RAND_bytes(r, sizeof r) != 1) return -1;
    for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", r[i]);
    out[32] = '\0';
    return 0;
}
