/*
 * mlclient.c — blocking calls to ML backends with Label Studio's rules. See mlclient.h.
 *
 * Python requests has a connect timeout and a read timeout (the longest wait for a byte).
 * The blocking client (common/http_client.h, libcurl) has a connect timeout and a total
 * timeout; we set total = connect + read, which matches requests for the small replies ML
 * backends send. Error messages imitate requests'
 * exception text because Label Studio shows that text to users (error_message, the 400 on
 * create), and tests or tools written against Label Studio match on it.
 */
#include "studio/mlclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_client.h"
#include "common/log.h"
#include "common/options.h"
#include "studio/records.h"

#define REPLY_MAX ((size_t)256 << 20) /* largest backend reply we read: 256 MiB */

static double env_seconds(const char *name, double dflt)
{
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    long ms; /* seconds (decimals allowed) or with a suffix, as every option takes them */
    return cg_opt_parse_duration(v, 1000, 1, 86400000 - 1, &ms) == 0 ? (double)ms / 1000.0 : dflt;
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

/* backend url + '/' if missing + route: a path prefix in the URL is kept. */
static char *join_url(const char *base, const char *route)
{
    size_t n = strlen(base);
    char *out = NULL;
    if (!*route) return strdup(base);
    if (asprintf(&out, "%s%s%s", base, (n && base[n - 1] == '/') ? "" : "/", route) < 0)
        return NULL;
    return out;
}

/* requests' "HTTPConnectionPool(host='h', port=p)" prefix for transport errors. */
static void pool_prefix(const char *url, char *out, size_t outlen, char *path, size_t pathlen)
{
    char scheme[16], host[256], port[16], p[1024];
    cg_http_url_parts(url, scheme, host, port, p);
    snprintf(out, outlen, "%sConnectionPool(host='%s', port=%s)",
             !strcmp(scheme, "https") ? "HTTPS" : "HTTP", host, port);
    snprintf(path, pathlen, "%s", p);
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

static void describe_transport_error(const cg_http_answer *a, const char *url, double connect_s,
                                     double read_s, char *out, size_t outlen)
{
    char pool[512], path[1024];
    pool_prefix(url, pool, sizeof pool, path, sizeof path);
    switch (a->outcome) {
    case CG_HTTP_REFUSED:
        snprintf(out, outlen,
                 "%.200s: Max retries exceeded with url: %.200s (Caused by "
                 "NewConnectionError('Failed to establish a new connection: [Errno 111] "
                 "Connection refused'))",
                 pool, path);
        break;
    case CG_HTTP_UNRESOLVED:
        snprintf(out, outlen,
                 "%.200s: Max retries exceeded with url: %.200s (Caused by "
                 "NameResolutionError('Failed to resolve host: %.200s'))",
                 pool, path, a->detail);
        break;
    case CG_HTTP_READ_TIMEOUT:
        snprintf(out, outlen, "%.200s: Read timed out. (read timeout=%g)", pool, read_s);
        break;
    case CG_HTTP_CONNECT_TIMEOUT:
        snprintf(out, outlen,
                 "%.200s: Max retries exceeded with url: %.200s (Caused by "
                 "ConnectTimeoutError('Connection timed out. (connect timeout=%g)'))",
                 pool, path, connect_s);
        break;
    case CG_HTTP_CANCELLED:
        snprintf(out, outlen, "%.200s: request cancelled (studio is stopping)", pool);
        break;
    default:
        snprintf(out, outlen,
                 "%.200s: Max retries exceeded with url: %.200s (Caused by %.100s%s%.200s)", pool,
                 path, a->what, a->detail[0] ? ": " : "", a->detail);
    }
}

int cg_studio_ml_call(const cg_studio_ml_target *t, const char *method, const char *route,
                      const char *body, cg_studio_ml_timeout kind, const atomic_int *cancel,
                      cg_studio_ml_reply *reply)
{
    static const char *const headers[] = {"Content-Type: application/json", "Accept: */*", NULL};
    memset(reply, 0, sizeof *reply);
    char *url = join_url(t->url ? t->url : "", route);
    cg_http_answer a = {.body = CG_BUF_INIT};
    int rc = -1;
    if (!url) {
        snprintf(reply->error, sizeof reply->error, "out of memory");
        goto call_out;
    }
    double connect_s, read_s;
    cg_studio_ml_timeouts(kind, &connect_s, &read_s);
    int basic = t->user && t->user[0] && t->pass && t->pass[0];
    if (basic) connect_s = read_s; /* requests gets a single number then: it applies to both */
    cg_http_request_spec rq = {
        .method = method,
        .url = url,
        .body = !strcmp(method, "POST") ? (body ? body : "") : NULL,
        .headers = headers,
        .user_agent = "heartex/" CG_STUDIO_LS_VERSION,
        .user = basic ? t->user : NULL,
        .pass = basic ? t->pass : NULL,
        .connect_timeout_ms = (long)(connect_s * 1000),
        .timeout_ms = (long)((connect_s + read_s) * 1000),
        .connect_retries = 2, /* connection errors: two retries */
        .max_body = REPLY_MAX,
        .cancel = cancel,
    };
    if (cg_http_fetch(&rq, &a) != 0) {
        describe_transport_error(&a, url, connect_s, read_s, reply->error, sizeof reply->error);
        goto call_out;
    }
    reply->status = a.status;
    if (reply->status < 200 || reply->status > 299) {
        const char *reason = a.reason[0] ? a.reason : default_reason(reply->status);
        snprintf(reply->error, sizeof reply->error, "%ld %s Error: %s for url: %s", reply->status,
                 reply->status >= 500 ? "Server" : "Client", reason, url);
        goto call_out;
    }
    json_error_t je;
    reply->json = json_loadb(a.body.data ? a.body.data : "", a.body.len, JSON_DECODE_ANY, &je);
    if (!reply->json) {
        snprintf(reply->error, sizeof reply->error, "%s (char %d)", je.text, je.position);
        goto call_out;
    }
    rc = 0;
call_out:
    if (rc)
        cg_log(CG_LOG_DEBUG, "studio", "ML backend %s %s failed: %s", method, url ? url : route,
               reply->error);
    cg_http_answer_free(&a);
    free(url);
    return rc;
}

void cg_studio_ml_reply_clear(cg_studio_ml_reply *reply)
{
    json_decref(reply->json);
    reply->json = NULL;
}
