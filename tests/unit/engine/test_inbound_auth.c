/* Unit tests for src/engine/inbound_auth.c: loading tokens from the list and the file
 * (separators, whitespace, comments, bad bytes, empty sets, unreadable files), matching
 * (exact only, any configured token, tokens of other lengths), how a request's headers are
 * read (Bearer, X-Capgate-Token, other schemes) and that no error message ever holds a
 * token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cmocka.h>

#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/inbound_auth.h"
#include "spec/spec.h"

/* Writes text to a fresh temporary file; returns its path (free it, unlink it). */
static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/capgate-inauth-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static bool matches(const cg_inbound_auth *a, const char *tok)
{
    return cg_inbound_auth_match(a, tok, strlen(tok));
}

/* ---- loading -------------------------------------------------------------------------- */

static void nothing_configured_is_auth_off(void **state)
{
    cg_inbound_auth *a = (cg_inbound_auth *)1;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(NULL, NULL, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_null(a);
    assert_int_equal(cg_inbound_auth_count(NULL), 0);
    assert_false(matches(NULL, "anything"));
    bool fwd = false;
    assert_int_equal(cg_inbound_auth_check(NULL, NULL, NULL, &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd);
    fwd = false;
    assert_int_equal(cg_inbound_auth_check(NULL, "Bearer x", NULL, &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd); /* auth off: the caller's Authorization goes upstream as before */
    cg_inbound_auth_free(NULL);
}

static void list_splits_on_commas_and_trims_whitespace(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(
        cg_inbound_auth_load(" alpha-1 ,\tbeta_2,,gamma.3 , ", NULL, &a, err, sizeof err),
        CG_INBOUND_AUTH_OK);
    assert_non_null(a);
    assert_int_equal(cg_inbound_auth_count(a), 3);
    assert_true(matches(a, "alpha-1"));
    assert_true(matches(a, "beta_2"));
    assert_true(matches(a, "gamma.3"));
    assert_false(matches(a, " alpha-1"));
    assert_false(matches(a, ""));
    cg_inbound_auth_free(a);
}

static void duplicate_tokens_count_once(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    assert_int_equal(cg_inbound_auth_load("same,same, same", NULL, &a, err, sizeof err),
                     CG_INBOUND_AUTH_OK);
    assert_int_equal(cg_inbound_auth_count(a), 1);
    cg_inbound_auth_free(a);
}

static void empty_list_is_an_error_not_auth_off(void **state)
{
    const char *lists[] = {"", " ", ",", " , ,\t"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        cg_inbound_auth *a = (cg_inbound_auth *)1;
        char err[256] = "";
        assert_int_equal(cg_inbound_auth_load(lists[i], NULL, &a, err, sizeof err),
                         CG_INBOUND_AUTH_EEMPTY);
        assert_null(a);
        assert_non_null(strstr(err, "CAPGATE_API_TOKENS"));
        assert_non_null(strstr(err, "no token"));
    }
}

static void list_token_with_a_space_or_control_byte_is_refused_without_echo(void **state)
{
    const char *lists[] = {"QQgood,ZZsec ret", "ZZsecret\x01value",
                           ("QQgood,ZZs\xC3\xA9"
                            "cret")};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        cg_inbound_auth *a = (cg_inbound_auth *)1;
        char err[256] = "";
        assert_int_equal(cg_inbound_auth_load(lists[i], NULL, &a, err, sizeof err),
                         CG_INBOUND_AUTH_EINVALID);
        assert_null(a);
        assert_non_null(strstr(err, "printable ASCII"));
        assert_null(strstr(err, "ZZs"));
        assert_null(strstr(err, "QQgood"));
    }
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    cg_inbound_auth_load("QQgood,ZZsec ret", NULL, &a, err, sizeof err);
    assert_non_null(strstr(err, "item 2"));
}

static void overlong_token_is_refused(void **state)
{
    size_t n = CG_INBOUND_AUTH_MAX_TOKEN_LEN + 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'k', n);
    big[n] = '\0';
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(big, NULL, &a, err, sizeof err),
                     CG_INBOUND_AUTH_EINVALID);
    assert_non_null(strstr(err, "longer than"));
    assert_null(strstr(err, "kkkk"));
    big[n - 1] = '\0'; /* exactly the limit is fine */
    assert_int_equal(cg_inbound_auth_load(big, NULL, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_true(cg_inbound_auth_match(a, big, n - 1));
    cg_inbound_auth_free(a);
    free(big);
}

static void too_many_tokens_are_refused(void **state)
{
    size_t n = CG_INBOUND_AUTH_MAX_TOKENS + 1;
    char *list = malloc(n * 8 + 1), *p = list;
    assert_non_null(list);
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s%06zu", i ? "," : "", i);
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(list, NULL, &a, err, sizeof err),
                     CG_INBOUND_AUTH_EINVALID);
    assert_null(a);
    assert_non_null(strstr(err, "more than"));
    free(list);
}

static void file_skips_blank_lines_and_comments_and_trims(void **state)
{
    char *path = temp_file("# the ops team's tokens\n"
                           "\n"
                           "  file-token-one  \r\n"
                           "\t# indented comment\n"
                           "file-token-two\n"
                           "has#hash\n"
                           "   \n"
                           "last-without-newline");
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(NULL, path, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_int_equal(cg_inbound_auth_count(a), 4);
    assert_true(matches(a, "file-token-one"));
    assert_true(matches(a, "file-token-two"));
    assert_true(matches(a, "has#hash")); /* only whole-line comments */
    assert_true(matches(a, "last-without-newline"));
    assert_false(matches(a, "# the ops team's tokens"));
    assert_false(matches(a, "#"));
    cg_inbound_auth_free(a);
    unlink(path);
    free(path);
}

static void list_and_file_together(void **state)
{
    char *path = temp_file("from-file\n");
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load("from-list", path, &a, err, sizeof err),
                     CG_INBOUND_AUTH_OK);
    assert_int_equal(cg_inbound_auth_count(a), 2);
    assert_true(matches(a, "from-list"));
    assert_true(matches(a, "from-file"));
    cg_inbound_auth_free(a);
    unlink(path);
    free(path);
}

static void file_of_only_comments_is_an_error(void **state)
{
    char *path = temp_file("# nothing yet\n\n   \n");
    cg_inbound_auth *a = (cg_inbound_auth *)1;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(NULL, path, &a, err, sizeof err), CG_INBOUND_AUTH_EEMPTY);
    assert_null(a);
    assert_non_null(strstr(err, "CAPGATE_API_TOKENS_FILE"));
    unlink(path);
    free(path);
    /* a good list does not excuse an empty file */
    path = temp_file("");
    assert_int_equal(cg_inbound_auth_load("fine", path, &a, err, sizeof err),
                     CG_INBOUND_AUTH_EEMPTY);
    assert_null(a);
    unlink(path);
    free(path);
}

static void file_line_with_a_space_names_the_line_not_the_token(void **state)
{
    char *path = temp_file("ok-token\nsecret value here\n");
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(NULL, path, &a, err, sizeof err),
                     CG_INBOUND_AUTH_EINVALID);
    assert_non_null(strstr(err, "line 2"));
    assert_null(strstr(err, "secret"));
    assert_null(strstr(err, "ok-token"));
    unlink(path);
    free(path);
}

static void unreadable_file_is_an_io_error_that_does_not_echo_the_value(void **state)
{
    cg_inbound_auth *a = (cg_inbound_auth *)1;
    char err[256] = "";
    /* someone put a token where the path goes */
    assert_int_equal(cg_inbound_auth_load(NULL, "tok-instead-of-path", &a, err, sizeof err),
                     CG_INBOUND_AUTH_EIO);
    assert_null(a);
    assert_non_null(strstr(err, "CAPGATE_API_TOKENS_FILE"));
    assert_non_null(strstr(err, "No such file"));
    assert_null(strstr(err, "tok-instead"));
    assert_int_equal(cg_inbound_auth_load(NULL, "", &a, err, sizeof err), CG_INBOUND_AUTH_EIO);
    assert_int_equal(cg_inbound_auth_load(NULL, "/tmp", &a, err, sizeof err), CG_INBOUND_AUTH_EIO);
    assert_non_null(strstr(err, "directory"));
    assert_null(a);
}

static void from_env_reads_both_variables(void **state)
{
    char *path = temp_file("env-file-token\n");
    setenv("CAPGATE_API_TOKENS", "env-list-token", 1);
    setenv("CAPGATE_API_TOKENS_FILE", path, 1);
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_from_env(&a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_int_equal(cg_inbound_auth_count(a), 2);
    assert_true(matches(a, "env-list-token"));
    assert_true(matches(a, "env-file-token"));
    cg_inbound_auth_free(a);
    setenv("CAPGATE_API_TOKENS", "", 1); /* set but empty: an error, not "off" */
    assert_int_equal(cg_inbound_auth_from_env(&a, err, sizeof err), CG_INBOUND_AUTH_EEMPTY);
    unsetenv("CAPGATE_API_TOKENS");
    unsetenv("CAPGATE_API_TOKENS_FILE");
    assert_int_equal(cg_inbound_auth_from_env(&a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_null(a);
    unlink(path);
    free(path);
}

/* ---- matching ------------------------------------------------------------------------- */

static void match_is_exact_whatever_the_length(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    assert_int_equal(cg_inbound_auth_load("s3cret-token,other", NULL, &a, err, sizeof err),
                     CG_INBOUND_AUTH_OK);
    assert_true(matches(a, "s3cret-token"));
    assert_true(matches(a, "other"));
    assert_false(matches(a, "s3cret-toke"));   /* a prefix */
    assert_false(matches(a, "s3cret-token2")); /* longer */
    assert_false(matches(a, "S3CRET-TOKEN"));  /* case matters */
    assert_false(matches(a, "s3cret-tokeN"));  /* last byte */
    assert_false(matches(a, "x"));
    assert_false(cg_inbound_auth_match(a, "s3cret-token\0", 13)); /* a NUL is a byte */
    assert_true(cg_inbound_auth_match(a, "s3cret-token-and-more", 12));
    assert_false(cg_inbound_auth_match(a, NULL, 0));
    cg_inbound_auth_free(a);
}

/* ---- reading a request ------------------------------------------------------------------ */

static void check_bearer_consumes_authorization(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    cg_inbound_auth_load("tok-A,tok-B", NULL, &a, err, sizeof err);
    bool fwd = true;
    assert_int_equal(cg_inbound_auth_check(a, "Bearer tok-A", NULL, &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_false(fwd); /* the inbound token is never forwarded upstream */
    fwd = true;
    assert_int_equal(cg_inbound_auth_check(a, "bearer   tok-B  ", NULL, &fwd),
                     CG_INBOUND_AUTH_ALLOW);
    assert_false(fwd);
    assert_int_equal(cg_inbound_auth_check(a, "BEARER\ttok-A", NULL, NULL), CG_INBOUND_AUTH_ALLOW);
    assert_int_equal(cg_inbound_auth_check(a, "Bearer tok-C", NULL, &fwd), CG_INBOUND_AUTH_INVALID);
    assert_int_equal(cg_inbound_auth_check(a, "Bearer", NULL, &fwd), CG_INBOUND_AUTH_INVALID);
    assert_int_equal(cg_inbound_auth_check(a, "Bearer   ", NULL, &fwd), CG_INBOUND_AUTH_INVALID);
    assert_int_equal(cg_inbound_auth_check(a, "Bearertok-A", NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_int_equal(cg_inbound_auth_check(a, "Bearer tok-A extra", NULL, &fwd),
                     CG_INBOUND_AUTH_INVALID);
    cg_inbound_auth_free(a);
}

static void check_x_capgate_token_leaves_authorization_to_the_upstream(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    cg_inbound_auth_load("tok-A", NULL, &a, err, sizeof err);
    bool fwd = false;
    assert_int_equal(cg_inbound_auth_check(a, "Token label-studio-key", "tok-A", &fwd),
                     CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd);
    fwd = false;
    assert_int_equal(cg_inbound_auth_check(a, NULL, " tok-A ", &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd);
    /* X-Capgate-Token decides when present, even next to a valid Bearer */
    assert_int_equal(cg_inbound_auth_check(a, "Bearer tok-A", "wrong", &fwd),
                     CG_INBOUND_AUTH_INVALID);
    assert_false(fwd);
    assert_int_equal(cg_inbound_auth_check(a, NULL, "", &fwd), CG_INBOUND_AUTH_INVALID);
    cg_inbound_auth_free(a);
}

static void check_without_a_token_is_missing(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    cg_inbound_auth_load("tok-A", NULL, &a, err, sizeof err);
    bool fwd = true;
    assert_int_equal(cg_inbound_auth_check(a, NULL, NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_false(fwd);
    /* a Label Studio key alone is not an inbound token, even if it equals one */
    assert_int_equal(cg_inbound_auth_check(a, "Token tok-A", NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_int_equal(cg_inbound_auth_check(a, "tok-A", NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_int_equal(cg_inbound_auth_check(a, "Basic dXNlcjpwdw==", NULL, &fwd),
                     CG_INBOUND_AUTH_MISSING);
    cg_inbound_auth_free(a);
}

static void challenge_and_detail_never_hold_a_token(void **state)
{
    assert_string_equal(cg_inbound_auth_challenge(CG_INBOUND_AUTH_MISSING),
                        "Bearer realm=\"capgate\"");
    assert_string_equal(cg_inbound_auth_challenge(CG_INBOUND_AUTH_INVALID),
                        "Bearer realm=\"capgate\", error=\"invalid_token\"");
    assert_non_null(strstr(cg_inbound_auth_detail(CG_INBOUND_AUTH_MISSING), "X-Capgate-Token"));
    assert_non_null(strstr(cg_inbound_auth_detail(CG_INBOUND_AUTH_INVALID), "not valid"));
}

/* ---- authentication declared on an adapter ------------------------------------------- */

/* A spec whose REST adapter declares auth_yaml (indented under `authentication:`). */
static cg_spec *spec_with(const char *auth_yaml)
{
    char text[2048];
    snprintf(
        text, sizeof text,
        "naftiko: 1.0.0-alpha2\n"
        "info: {label: t, description: t}\n"
        "binds:\n- namespace: env\n  keys: {IN_USER: IN_USER, IN_PASS: IN_PASS, IN_KEY: IN_KEY}\n"
        "capability:\n  consumes:\n  - type: http\n    namespace: up\n"
        "    baseUri: http://127.0.0.1:9\n    resources:\n    - name: r\n      path: /r\n"
        "      operations:\n      - {name: get, method: GET}\n"
        "  exposes:\n  - type: rest\n    namespace: rest\n    port: 8080\n"
        "    authentication: %s\n"
        "    resources:\n    - path: /r\n      name: r\n      operations:\n"
        "      - {method: GET, name: get, call: up.get}\n",
        auth_yaml);
    cg_spec *spec = NULL;
    cg_buf errors = CG_BUF_INIT;
    cg_spec_result rc = cg_spec_load_string("t.yaml", text, strlen(text), &spec, &errors);
    if (rc != CG_SPEC_OK) fprintf(stderr, "%s", errors.data ? errors.data : "?");
    assert_int_equal(rc, CG_SPEC_OK);
    cg_buf_free(&errors);
    return spec;
}

typedef struct hdrs {
    const char *names[4], *values[4];
} hdrs;

static const char *hdr_lookup(void *ctx, const char *name)
{
    hdrs *h = ctx;
    for (int i = 0; i < 4 && h->names[i]; i++)
        if (!strcasecmp(h->names[i], name)) return h->values[i];
    return NULL;
}

static cg_inbound_auth_verdict verify1(cg_inbound_auth *a, const char *name, const char *value,
                                       bool *fwd)
{
    hdrs h = {{name}, {value}};
    const char *detail = NULL;
    cg_inbound_auth_verdict v = cg_inbound_auth_verify(a, hdr_lookup, &h, fwd, &detail);
    assert_non_null(detail == NULL && v == CG_INBOUND_AUTH_ALLOW ? "" : detail);
    if (value && v != CG_INBOUND_AUTH_ALLOW) assert_null(strstr(detail, value));
    return v;
}

static void declared_basic_and_apikey(void **state)
{
    setenv("IN_USER", "alice", 1);
    setenv("IN_PASS", "s3cret:x", 1);
    setenv("IN_KEY", "key-123", 1);
    cg_spec *spec = spec_with("{type: basic, username: '{{IN_USER}}', password: '{{IN_PASS}}'}");
    cg_inbound_auth *a = NULL;
    char err[320];
    assert_int_equal(cg_inbound_auth_declare(&a, spec, &spec->rest[0].auth, err, sizeof err), 0);
    assert_string_equal(cg_inbound_auth_scheme(a), "basic");
    bool fwd = true;
    /* base64("alice:s3cret:x") */
    assert_int_equal(verify1(a, "Authorization", "Basic YWxpY2U6czNjcmV0Ong=", &fwd),
                     CG_INBOUND_AUTH_ALLOW);
    assert_false(fwd);
    assert_int_equal(verify1(a, "Authorization", "basic  YWxpY2U6czNjcmV0Ong= ", &fwd),
                     CG_INBOUND_AUTH_ALLOW);
    assert_int_equal(verify1(a, "Authorization", "Basic YWxpY2U6d3Jvbmc=", &fwd),
                     CG_INBOUND_AUTH_INVALID);
    assert_int_equal(verify1(a, "Authorization", "Bearer x", &fwd), CG_INBOUND_AUTH_MISSING);
    assert_int_equal(verify1(a, NULL, NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_string_equal(cg_inbound_auth_www_authenticate(a, CG_INBOUND_AUTH_MISSING),
                        "Basic realm=\"capgate\", charset=\"UTF-8\"");
    assert_null(cg_inbound_auth_resource_metadata(a, "/.well-known/oauth-protected-resource"));
    cg_inbound_auth_free(a);
    cg_spec_free(spec);

    spec = spec_with("{type: apikey, key: X-In-Key, value: '{{IN_KEY}}'}");
    a = NULL;
    assert_int_equal(cg_inbound_auth_declare(&a, spec, &spec->rest[0].auth, err, sizeof err), 0);
    assert_int_equal(verify1(a, "x-in-key", "key-123", &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd); /* the caller's Authorization is not the inbound credential */
    assert_int_equal(verify1(a, "X-In-Key", "key-1234", &fwd), CG_INBOUND_AUTH_INVALID);
    assert_int_equal(verify1(a, "Authorization", "Bearer key-123", &fwd), CG_INBOUND_AUTH_MISSING);
    cg_inbound_auth_free(a);
    /* an unset bind stops start-up, naming it */
    unsetenv("IN_KEY");
    a = NULL;
    assert_int_not_equal(cg_inbound_auth_declare(&a, spec, &spec->rest[0].auth, err, sizeof err),
                         0);
    assert_null(a);
    assert_non_null(strstr(err, "IN_KEY"));
    cg_spec_free(spec);
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n), j = 0;
    for (int i = 0; i < len && out[i] != '='; i++)
        out[j++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[j] = '\0';
}

static char *hs256(const unsigned char *key, const char *claims)
{
    char h[128], c[512], input[700], sig[64];
    const char *head = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    b64url((const unsigned char *)head, strlen(head), h);
    b64url((const unsigned char *)claims, strlen(claims), c);
    snprintf(input, sizeof input, "%s.%s", h, c);
    unsigned char mac[32];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), key, 32, (unsigned char *)input, strlen(input), mac, &ml);
    b64url(mac, ml, sig);
    char *out = malloc(strlen(input) + strlen(sig) + 2);
    sprintf(out, "%s.%s", input, sig);
    return out;
}

static void declared_oauth2_with_a_jwks_file(void **state)
{
    unsigned char key[32];
    memset(key, 7, sizeof key);
    char k64[64], doc[256];
    b64url(key, sizeof key, k64);
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"}]}", k64);
    char *path = temp_file(doc);
    setenv(CG_INBOUND_AUTH_ENV_JWKS, path, 1);
    cg_spec *spec = spec_with("{type: oauth2, authorizationServerUri: 'https://as.example', "
                              "resource: 'https://api.example/mcp', scopes: [read, write]}");
    cg_inbound_auth *a = NULL;
    char err[320] = "";
    assert_int_equal(cg_inbound_auth_declare(&a, spec, &spec->rest[0].auth, err, sizeof err), 0);
    char good_claims[256], bad_claims[256];
    long long now = (long long)time(NULL);
    snprintf(good_claims, sizeof good_claims,
             "{\"iss\":\"https://as.example\",\"aud\":\"https://api.example/mcp\",\"exp\":%lld}",
             now + 300);
    snprintf(bad_claims, sizeof bad_claims,
             "{\"iss\":\"https://as.example\",\"aud\":\"https://api.example/mcp\",\"exp\":%lld}",
             now - 300);
    char *good = hs256(key, good_claims), *expired = hs256(key, bad_claims);
    char bearer[1024];
    bool fwd = true;
    snprintf(bearer, sizeof bearer, "Bearer %s", good);
    assert_int_equal(verify1(a, "Authorization", bearer, &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_false(fwd);
    snprintf(bearer, sizeof bearer, "Bearer %s", expired);
    assert_int_equal(verify1(a, "Authorization", bearer, &fwd), CG_INBOUND_AUTH_INVALID);
    assert_string_equal(
        cg_inbound_auth_www_authenticate(a, CG_INBOUND_AUTH_INVALID),
        "Bearer "
        "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource/mcp\", "
        "error=\"invalid_token\"");
    const char *meta = cg_inbound_auth_resource_metadata(
        a, "/.well-known/oauth-protected-resource/mcp");
    assert_non_null(meta);
    assert_non_null(strstr(meta, "\"resource\":\"https://api.example/mcp\""));
    assert_non_null(strstr(meta, "\"authorization_servers\":[\"https://as.example\"]"));
    assert_non_null(strstr(meta, "\"scopes_supported\":[\"read\",\"write\"]"));
    assert_null(cg_inbound_auth_resource_metadata(a, "/.well-known/other"));
    free(good);
    free(expired);
    cg_inbound_auth_free(a);
    /* a JWKS that is missing stops start-up */
    setenv(CG_INBOUND_AUTH_ENV_JWKS, "/nonexistent/jwks.json", 1);
    a = NULL;
    assert_int_not_equal(cg_inbound_auth_declare(&a, spec, &spec->rest[0].auth, err, sizeof err),
                         0);
    assert_null(a);
    unsetenv(CG_INBOUND_AUTH_ENV_JWKS);
    unlink(path);
    free(path);
    cg_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_configured_is_auth_off),
        cmocka_unit_test(list_splits_on_commas_and_trims_whitespace),
        cmocka_unit_test(duplicate_tokens_count_once),
        cmocka_unit_test(empty_list_is_an_error_not_auth_off),
        cmocka_unit_test(list_token_with_a_space_or_control_byte_is_refused_without_echo),
        cmocka_unit_test(overlong_token_is_refused),
        cmocka_unit_test(too_many_tokens_are_refused),
        cmocka_unit_test(file_skips_blank_lines_and_comments_and_trims),
        cmocka_unit_test(list_and_file_together),
        cmocka_unit_test(file_of_only_comments_is_an_error),
        cmocka_unit_test(file_line_with_a_space_names_the_line_not_the_token),
        cmocka_unit_test(unreadable_file_is_an_io_error_that_does_not_echo_the_value),
        cmocka_unit_test(from_env_reads_both_variables),
        cmocka_unit_test(match_is_exact_whatever_the_length),
        cmocka_unit_test(check_bearer_consumes_authorization),
        cmocka_unit_test(check_x_capgate_token_leaves_authorization_to_the_upstream),
        cmocka_unit_test(check_without_a_token_is_missing),
        cmocka_unit_test(challenge_and_detail_never_hold_a_token),
        cmocka_unit_test(declared_basic_and_apikey),
        cmocka_unit_test(declared_oauth2_with_a_jwks_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
