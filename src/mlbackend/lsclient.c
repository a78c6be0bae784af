/*
 * lsclient.c — fetches a project export from Label Studio through the blocking client
 * (common/http_client.h).
 *
 * Response bodies are capped (an over-cap body aborts the transfer). cg_http_client_init()
 * is the caller's job (the mlbackend command does it once at start-up, before any thread
 * exists).
 */
#include "mlbackend/lsclient.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_client.h"
#include "common/jwt_shape.h"

/* One HTTP call: GET when body is NULL, else POST of a JSON body. Fills out and *status.
 * -1 with err on a transport failure. */
static int http_call(const char *url, const char *authorization, const char *body, long timeout_s,
                     const atomic_int *cancel, cg_buf *out, long *status, char *err, size_t errlen)
{
    char auth[4096] = "";
    const char *headers[] = {"Accept: application/json", NULL, NULL};
    size_t n = 1;
    if (body) headers[n++] = "Content-Type: application/json";
    if (authorization) {
        snprintf(auth, sizeof auth, "Authorization: %s", authorization);
        headers[n] = auth;
    }
    cg_http_request_spec rq = {
        .url = url,
        .body = body,
        .headers = headers,
        .user_agent = "capgate-mlbackend/" CAPGATE_VERSION,
        .connect_timeout_ms = 10000,
        .timeout_ms = timeout_s * 1000,
        .accept_encoding = 1,
        .max_body = out->max,
        .cancel = cancel,
    };
    cg_http_answer a;
    int rc = cg_http_fetch(&rq, &a);
    if (rc == 0) {
        *status = a.status;
        cg_buf_free(out);
        *out = a.body; /* hand the body over; its max is out's */
        return 0;
    }
    if (a.outcome == CG_HTTP_CANCELLED) snprintf(err, errlen, "cancelled: the backend is stopping");
    else if (a.outcome == CG_HTTP_TOO_LARGE)
        snprintf(err, errlen, "the answer from %s is larger than %zu bytes", url, out->max);
    else snprintf(err, errlen, "cannot reach %s: %s", url, a.detail[0] ? a.detail : a.what);
    cg_http_answer_free(&a);
    return -1;
}

/* Writes the Authorization value for api_key into out: exchanges a PAT for an access token. */
static int authorization_for(const char *base, const char *api_key, long timeout_s,
                             const atomic_int *cancel, char *out, size_t outlen, char *err,
                             size_t errlen)
{
    if (!strncmp(api_key, "Token ", 6) || !strncmp(api_key, "Bearer ", 7)) {
        snprintf(out, outlen, "%s", api_key);
        return 0;
    }
    if (!cg_jwt_shaped(api_key)) {
        snprintf(out, outlen, "Token %s", api_key);
        return 0;
    }
    char url[2048];
    snprintf(url, sizeof url, "%s/api/token/refresh/", base);
    json_t *req = json_pack("{s:s}", "refresh", api_key);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    cg_buf resp = {.max = 1024 * 1024};
    long status = 0;
    int rc = -1;
    if (!body) {
        snprintf(err, errlen, "out of memory");
        goto authorization_out;
    }
    if (http_call(url, NULL, body, timeout_s, cancel, &resp, &status, err, errlen) != 0)
        goto authorization_out;
    json_t *j = json_loads(resp.data ? resp.data : "", 0, NULL);
    const char *access = json_string_value(json_object_get(j, "access"));
    if (status / 100 != 2 || !access) {
        snprintf(err, errlen,
                 "exchanging the personal access token at %s failed (HTTP %ld): %.200s", url,
                 status, resp.data ? resp.data : "");
    } else if ((size_t)snprintf(out, outlen, "Bearer %s", access) >= outlen) {
        snprintf(err, errlen, "the access token from %s is too long", url);
    } else {
        rc = 0;
    }
    json_decref(j);
authorization_out:
    free(body);
    cg_buf_free(&resp);
    return rc;
}

int cg_lsclient_export(const char *base_url, const char *api_key, long project, long timeout_s,
                       const atomic_int *cancel, cg_buf *out, char *err, size_t errlen)
{
    char base[1024], url[2048], auth[4096];
    size_t n = strlen(base_url);
    while (n && base_url[n - 1] == '/') n--;
    if (n == 0 || n >= sizeof base ||
        (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8))) {
        snprintf(err, errlen, "Label Studio URL '%.200s' is not an http:// or https:// URL",
                 base_url);
        return -1;
    }
    memcpy(base, base_url, n);
    base[n] = '\0';
    if (!api_key || !*api_key) {
        snprintf(err, errlen, "no Label Studio API key: set LABEL_STUDIO_API_KEY");
        return -1;
    }
    if (authorization_for(base, api_key, timeout_s, cancel, auth, sizeof auth, err, errlen) != 0)
        return -1;
    snprintf(url, sizeof url, "%s/api/projects/%ld/export?exportType=JSON", base, project);
    out->max = CG_LSCLIENT_MAX_EXPORT;
    long status = 0;
    if (http_call(url, auth, NULL, timeout_s, cancel, out, &status, err, errlen) != 0) return -1;
    if (status / 100 != 2) {
        snprintf(err, errlen, "Label Studio answered HTTP %ld to GET %s: %.200s", status, url,
                 out->data ? out->data : "");
        return -1;
    }
    return 0;
}
