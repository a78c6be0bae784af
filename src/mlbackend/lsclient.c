/*
 * lsclient.c — fetches a project export from Label Studio with libcurl's easy API.
 *
 * One easy handle per call, so calls from different training threads share nothing.
 * Response bodies are collected into a capped cg_buf; an over-cap body aborts the
 * transfer from the write callback. curl_global_init() is the caller's job (the
 * mlbackend command does it once at start-up, before any thread exists).
 */
#include "mlbackend/lsclient.h"

#include "common/jwt_shape.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    cg_buf *b = userp;
    return cg_buf_append(b, data, size * n) == 0 ? size * n : 0;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const int *cancel = clientp;
    return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) ? 1 : 0;
}

/* One HTTP call: method GET when body is NULL, else POST of a JSON body. Fills out and
 * *status. -1 with err on a transport failure. */
static int http_call(const char *url, const char *authorization, const char *body,
                     long timeout_s, const int *cancel, cg_buf *out, long *status, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    int rc = -1;
    char auth[4096];
    if (!h) {
        snprintf(err, errlen, "cannot create an HTTP client");
        return -1;
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (authorization) {
        snprintf(auth, sizeof auth, "Authorization: %s", authorization);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (!hdrs) {
        snprintf(err, errlen, "out of memory");
        goto http_call_out;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "capgate-mlbackend/" CAPGATE_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)cancel);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(err, errlen, "cancelled: the backend is stopping");
        goto http_call_out;
    }
    if (cc == CURLE_WRITE_ERROR) {
        snprintf(err, errlen, "the answer from %s is larger than %zu bytes", url, out->max);
        goto http_call_out;
    }
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "cannot reach %s: %s", url, curl_err[0] ? curl_err : curl_easy_strerror(cc));
        goto http_call_out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    rc = 0;
http_call_out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

/* Writes the Authorization value for api_key into out: exchanges a PAT for an access token. */
static int authorization_for(const char *base, const char *api_key, long timeout_s, const int *cancel,
                             char *out, size_t outlen, char *err, size_t errlen)
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
        snprintf(err, errlen, "exchanging the personal access token at %s failed (HTTP %ld): %.200s",
                 url, status, resp.data ? resp.data : "");
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

int cg_lsclient_export(const char *base_url, const char *api_key, long project,
                       long timeout_s, const int *cancel, cg_buf *out, char *err, size_t errlen)
{
    char base[1024], url[2048], auth[4096];
    size_t n = strlen(base_url);
    while (n && base_url[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof base || (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8))) {
        snprintf(err, errlen, "Label Studio URL '%.200s' is not an http:// or https:// URL", base_url);
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
    if (http_call(url, auth, NULL, timeout_s, cancel, out, &status, err, errlen) != 0)
        return -1;
    if (status / 100 != 2) {
        snprintf(err, errlen, "Label Studio answered HTTP %ld to GET %s: %.200s", status, url,
                 out->data ? out->data : "");
        return -1;
    }
    return 0;
}
