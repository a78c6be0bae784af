/*
 * mlclient.c — blocking calls to ML backends with Label Studio's rules. See mlclient.h.
 *
 * Python requests has a connect timeout and a read timeout (the longest wait for a byte).
 * libcurl has a connect timeout and a total timeout; we set total = connect + read, which
 * matches requests for the small replies ML backends send. Error messages imitate requests'
 * exception text because Label Studio shows that text to users (error_message, the 400 on
 * create), and tests or tools written against Label Studio match on it.
 */
#include "studio/mlclient.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "studio/studio.h"

#define REPLY_MAX ((size_t)256 << 20)   /* largest backend reply we read: 256 MiB */

int cg_studio_ml_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static double env_seconds(const char *name, double dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    double d = strtod(v, &end);
    return (end != v && *end == '\0' && d > 0 && d < 86400) ? d : dflt;
}

void cg_studio_ml_timeouts(cg_studio_ml_timeout kind, double *connect_s, double *read_s)
{
    *connect_s = env_seconds("ML_CONNECTION_TIMEOUT", 1.0);
    switch (kind) {
    case CG_ML_HEALTH: *read_s = env_seconds("ML_TIMEOUT_HEALTH", 1.0); break;
    case CG_ML_SETUP: *read_s = env_seconds("ML_TIMEOUT_SETUP", 3.0); break;
    default: *read_s = env_seconds("ML_TIMEOUT_PREDICT", 100.0); break;
    }
}

typedef struct call_state {
    cg_buf body;
    char reason[128];           /* reason phrase of the last status line */
    const volatile int *cancel;
} call_state;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    call_state *cs = userdata;
    return cg_buf_append(&cs->body, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    call_state *cs = userdata;
    size_t n = size * nmemb;
    if (n > 9 && !strncmp(ptr, "HTTP/", 5)) {
        const char *sp = memchr(ptr, ' ', n);                 /* before the code */
        const char *sp2 = sp ? memchr(sp + 1, ' ', n - (size_t)(sp + 1 - ptr)) : NULL;
        size_t len = 0;
        if (sp2) {
            const char *r = sp2 + 1;
            while (r + len < ptr + n && r[len] != '\r' && r[len] != '\n' && len < sizeof cs->reason - 1)
                len++;
            memcpy(cs->reason, r, len);
        }
        cs->reason[len] = '\0';
    }
    return n;
}

static int on_progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const call_state *cs = p;
    return cs->cancel && *cs->cancel ? 1 : 0;
}

/* backend url + '/' if missing + route: a path prefix in the URL is kept. */
static char *join_url(const char *base, const char *route)
{
    size_t n = strlen(base);
    char *out = NULL;
    if (!*route)
        return strdup(base);
    if (asprintf(&out, "%s%s%s", base, (n && base[n - 1] == '/') ? "" : "/", route) < 0)
        return NULL;
    return out;
}

/* requests' "HTTPConnectionPool(host='h', port=p)" prefix for transport errors. */
static void pool_prefix(const char *url, char *out, size_t outlen, char *path, size_t pathlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *p = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
        curl_url_get(u, CURLUPART_HOST, &host, 0);
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
        curl_url_get(u, CURLUPART_PATH, &p, 0);
    }
    snprintf(out, outlen, "%sConnectionPool(host='%s', port=%s)",
             scheme && !strcmp(scheme, "https") ? "HTTPS" : "HTTP", host ? host : "?",
             port ? port : "?");
    snprintf(path, pathlen, "%s", p ? p : "/");
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(p);
    curl_url_cleanup(u);
}

static const char *default_reason(long status)
{
    switch (status) {
    case 400: return "BAD REQUEST";
    case 401: return "UNAUTHORIZED";
    case 403: return "FORBIDDEN";
    case 404: return "NOT FOUND";
    case 405: return "METHOD NOT ALLOWED";
    case 500: return "INTERNAL SERVER ERROR";
    case 502: return "BAD GATEWAY";
    case 503: return "SERVICE UNAVAILABLE";
    default: return "";
    }
}

static void describe_transport_error(CURLcode rc, CURL *h, const char *url, double connect_s,
                                     double read_s, const char *errbuf, char *out, size_t outlen)
{
    char pool[512], path[1024];
    pool_prefix(url, pool, sizeof pool, path, sizeof path);
    double connected = 0;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &connected);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        snprintf(out, outlen, "%.200s: Max retries exceeded with url: %.200s (Caused by "
                 "NewConnectionError('Failed to establish a new connection: [Errno 111] "
                 "Connection refused'))", pool, path);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(out, outlen, "%.200s: Max retries exceeded with url: %.200s (Caused by "
                 "NameResolutionError('Failed to resolve host: %.200s'))", pool, path, errbuf);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (connected > 0)
            snprintf(out, outlen, "%.200s: Read timed out. (read timeout=%g)", pool, read_s);
        else
            snprintf(out, outlen, "%.200s: Max retries exceeded with url: %.200s (Caused by "
                     "ConnectTimeoutError('Connection timed out. (connect timeout=%g)'))",
                     pool, path, connect_s);
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(out, outlen, "%.200s: request cancelled (studio is stopping)", pool);
        break;
    default:
        snprintf(out, outlen, "%.200s: Max retries exceeded with url: %.200s (Caused by %.100s%s%.200s)", pool,
                 path, curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
    }
}

int cg_studio_ml_call(const cg_studio_ml_target *t, const char *method, const char *route,
                      const char *body, cg_studio_ml_timeout kind, const volatile int *cancel,
                      cg_studio_ml_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    char *url = join_url(t->url ? t->url : "", route);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    call_state cs = {.body = CG_BUF_INIT, .cancel = cancel};
    cs.body.max = REPLY_MAX;
    int rc = -1;
    if (!url || !h) {
        snprintf(reply->error, sizeof reply->error, "out of memory");
        goto call_out;
    }
    double connect_s, read_s;
    cg_studio_ml_timeouts(kind, &connect_s, &read_s);
    int basic = t->user && t->user[0] && t->pass && t->pass[0];
    if (basic)
        connect_s = read_s;   /* requests gets a single number then: it applies to both */
    char errbuf[CURL_ERROR_SIZE] = "";
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: */*");
    hdrs = curl_slist_append(hdrs, "Expect:");   /* requests never waits for 100-continue */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "heartex/" CG_STUDIO_LS_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_s * 1000));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)((connect_s + read_s) * 1000));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &cs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &cs);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &cs);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (basic) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, t->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, t->pass);
    }
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    } else if (strcmp(method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode cc = CURLE_OK;
    for (int attempt = 0; attempt < 3; attempt++) {   /* connection errors: two retries */
        cg_buf_reset(&cs.body);
        errbuf[0] = '\0';
        cc = curl_easy_perform(h);
        if (cc != CURLE_COULDNT_CONNECT || (cancel && *cancel))
            break;
    }
    if (cc != CURLE_OK) {
        describe_transport_error(cc, h, url, connect_s, read_s, errbuf, reply->error,
                                 sizeof reply->error);
        goto call_out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
    if (reply->status < 200 || reply->status > 299) {
        const char *reason = cs.reason[0] ? cs.reason : default_reason(reply->status);
        snprintf(reply->error, sizeof reply->error, "%ld %s Error: %s for url: %s",
                 reply->status, reply->status >= 500 ? "Server" : "Client", reason, url);
        goto call_out;
    }
    json_error_t je;
    reply->json = json_loadb(cs.body.data ? cs.body.data : "", cs.body.len, JSON_DECODE_ANY, &je);
    if (!reply->json) {
        snprintf(reply->error, sizeof reply->error, "%s (char %d)", je.text, je.position);
        goto call_out;
    }
    rc = 0;
call_out:
    if (rc)
        cg_log(CG_LOG_DEBUG, "studio", "ML backend %s %s failed: %s", method,
               url ? url : route, reply->error);
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    cg_buf_free(&cs.body);
    free(url);
    return rc;
}

void cg_studio_ml_reply_clear(cg_studio_ml_reply *reply)
{
    json_decref(reply->json);
    reply->json = NULL;
}
