/*
 * mlbackend.c — the HTTP face of the ML backend: routes, request checks, reply shapes,
 * basic auth, and the `capgate mlbackend` command.
 *
 * Each handler reads one JSON body, checks what it needs with a clear 400 for anything
 * missing or malformed, calls into projects.h, and writes the reply in the shape the
 * Label Studio ML-backend protocol uses (see docs/mlbackend.md). Errors that we produce
 * are {"status": <code>, "detail": "<message>"}, like the reference Python backend's
 * error bodies, minus the traceback. The only state here is the configuration; all
 * per-project state lives in the projects registry.
 */
#include "mlbackend/mlbackend.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base64.h"
#include "common/http_client.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/options.h"
#include "runtime/signals.h"
#include "mlbackend/labelcfg.h"
#include "mlbackend/modelstore.h"
#include "mlbackend/projects.h"

#define MODEL_CLASS "NaiveBayesTextClassifier"
/* model_version answered for a config the model cannot learn (images, NER, …) */
#define UNSUPPORTED_VERSION "unsupported-label-config"
#define TOO_MANY "cannot take another project (out of memory or more than 10000 projects)"

struct cg_mlbackend {
    cg_httpd *httpd;
    cg_mlprojects *projects;
    char *model_dir;
    char *auth_userpass; /* "user:pass" when basic auth is on, else NULL */
    unsigned train_every;
    double train_wait_s;
};

/* ---- replies --------------------------------------------------------------------- */

/* Sends obj (reference taken) as the JSON reply. */
static void reply(cg_http_response *res, int status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(obj);
    if (!s) {
        cg_http_response_json(
            res, 500, "{\"status\":500,\"detail\":\"cannot encode the reply (out of memory)\"}");
        return;
    }
    cg_http_response_json(res, status, s);
    free(s);
}

static void reply_error(cg_http_response *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(cg_http_response *res, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply(res, status, json_pack("{s:i, s:s}", "status", status, "detail", msg));
}

/* The request body as a JSON object, or NULL after replying 400. */
static json_t *body_object(const cg_http_request *req, cg_http_response *res)
{
    json_error_t je;
    json_t *o = json_loadb(req->body, req->body_len, 0, &je);
    if (!o) {
        reply_error(res, 400, "the request body is not JSON: %s (line %d, column %d)", je.text,
                    je.line, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        reply_error(res, 400, "the request body must be a JSON object");
        return NULL;
    }
    return o;
}

/* ---- basic auth ------------------------------------------------------------------ */

/* Compares without an early exit, so timing does not reveal how much matched. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++) diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

static int authorized(const cg_mlbackend *b, const cg_http_request *req)
{
    const char *h = cg_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6)) return 0;
    h += 6;
    while (*h == ' ') h++;
    size_t n = strlen(h), len = 0;
    unsigned char *decoded = n <= 4096 ? cg_base64_decode(h, n, CG_B64_STD, &len) : NULL;
    /* a NUL inside the credentials would cut the comparison short: refuse it */
    int ok = decoded && memchr(decoded, '\0', len) == NULL &&
             same_secret((const char *)decoded, b->auth_userpass);
    if (decoded) {
        OPENSSL_cleanse(decoded, len);
        free(decoded);
    }
    return ok;
}

/* ---- routes ---------------------------------------------------------------------- */

static void handle_health(cg_mlbackend *b, const cg_http_request *req, cg_http_response *res)
{
    reply(res, 200, json_pack("{s:s, s:s}", "status", "UP", "model_class", MODEL_CLASS));
}

static void handle_metrics(cg_mlbackend *b, const cg_http_request *req, cg_http_response *res)
{
    reply(res, 200, json_object());
}

static void handle_setup(cg_mlbackend *b, const cg_http_request *req, cg_http_response *res)
{
    json_t *body = body_object(req, res);
    if (!body) return;
    const char *schema = json_string_value(json_object_get(body, "schema"));
    long id = cg_mlprojects_parse_id(json_object_get(body, "project"));
    char err[512], version[32];
    cg_labelcfg cfg;
    cg_mlproject *p;
    if (!schema) {
        reply_error(res, 400, "\"schema\" (the project's label config) is required");
    } else if (id < 0) {
        reply_error(res, 400,
                    "\"project\" must be a project id such as \"12\" or \"12.1700000000\"");
    } else if (cg_labelcfg_parse(schema, strlen(schema), &cfg, err, sizeof err) != 0) {
        /* As the ML backend SDK: /setup never judges the config (Label Studio would show the
         * backend as broken); predictions for it come back empty, with the reason. */
        cg_log(CG_LOG_WARN, "mlbackend", "project %ld: cannot learn this label config: %s", id,
               err);
        reply(res, 200, json_pack("{s:s}", "model_version", UNSUPPORTED_VERSION));
    } else if (!(p = cg_mlprojects_get(b->projects, id))) {
        cg_labelcfg_free(&cfg);
        reply_error(res, 503, "%s", TOO_MANY);
    } else {
        cg_mlproject_setup(p, &cfg, schema, json_string_value(json_object_get(body, "hostname")),
                           json_string_value(json_object_get(body, "access_token")), version,
                           sizeof version);
        reply(res, 200, json_pack("{s:s}", "model_version", version));
    }
    json_decref(body);
}

static void handle_predict(cg_mlbackend *b, const cg_http_request *req, cg_http_response *res)
{
    json_t *body = body_object(req, res);
    if (!body) return;
    const json_t *tasks = json_object_get(body, "tasks");
    const json_t *jproject = json_object_get(body, "project");
    const char *label_config = json_string_value(json_object_get(body, "label_config"));
    const json_t *context = json_object_get(json_object_get(body, "params"), "context");
    long id = cg_mlprojects_parse_id(jproject);
    char err[512];
    cg_labelcfg cfg = {0};
    int have_cfg = 0;
    cg_mlproject *p = NULL;
    json_t *results = NULL, *one = NULL;
    if (json_is_object(tasks)) /* one task sent as an object, as some clients do */
        tasks = one = json_pack("[O]", tasks);
    if (!json_is_array(tasks)) {
        reply_error(res, 400, "\"tasks\" must be a list of tasks");
        goto predict_out;
    }
    if (jproject && !json_is_null(jproject) && id < 0) {
        reply_error(res, 400,
                    "\"project\" must be a project id such as \"12\" or \"12.1700000000\"");
        goto predict_out;
    }
    if (label_config && *label_config) {
        if (cg_labelcfg_parse(label_config, strlen(label_config), &cfg, err, sizeof err) != 0) {
            cg_log(CG_LOG_WARN, "mlbackend", "predict: cannot serve this label config: %s", err);
            reply(res, 200,
                  json_pack("{s:[],s:s,s:s}", "results", "model_version", UNSUPPORTED_VERSION,
                            "detail", err));
            goto predict_out;
        }
        have_cfg = 1;
    }
    if (id > 0 && !(p = cg_mlprojects_get(b->projects, id))) {
        reply_error(res, 503, "%s", TOO_MANY);
        goto predict_out;
    }
    if (!(results = json_array())) {
        reply_error(res, 500, "out of memory");
        goto predict_out;
    }
    if (cg_mlproject_predict(p, have_cfg ? &cfg : NULL, tasks, context, results, err, sizeof err) !=
        0) {
        reply_error(res, 400, "%s", err);
        goto predict_out;
    }
    reply(res, 200, json_pack("{s:O}", "results", results));
predict_out:
    json_decref(one);
    json_decref(results);
    cg_labelcfg_free(&cfg);
    json_decref(body);
}

static int is_annotation_event(const char *action)
{
    static const char *const events[] = {"ANNOTATION_CREATED", "ANNOTATION_UPDATED",
                                         "ANNOTATION_DELETED", "ANNOTATIONS_CREATED",
                                         "ANNOTATIONS_DELETED"};
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        if (!strcmp(action, events[i])) return 1;
    return 0;
}

static void reply_training(cg_mlproject *p, const cg_mltrain_result *r, cg_http_response *res)
{
    char version[32];
    if (!r->finished) {
        cg_mlproject_version(p, version, sizeof version);
        reply(res, 201,
              json_pack("{s:{s:s, s:s}, s:s}", "result", "training", "running", "model_version",
                        version, "status", "ok"));
    } else if (r->status == 201) {
        snprintf(version, sizeof version, "%ld", r->version);
        reply(res, 201,
              json_pack("{s:{s:s, s:s, s:{s:I, s:I, s:I}}, s:s}", "result", "training", "done",
                        "model_version", version, "trained_on", "tasks", (json_int_t)r->stats.tasks,
                        "documents", (json_int_t)r->stats.documents, "skipped",
                        (json_int_t)r->stats.skipped, "status", "ok"));
    } else {
        reply_error(res, r->status, "training failed: %s", r->error);
    }
}

static void handle_webhook(cg_mlbackend *b, const cg_http_request *req, cg_http_response *res)
{
    json_t *body = body_object(req, res);
    if (!body) return;
    const char *action = json_string_value(json_object_get(body, "action"));
    const json_t *project = json_object_get(body, "project");
    const char *label_config = json_string_value(json_object_get(project, "label_config"));
    long id = cg_mlprojects_parse_id(json_object_get(project, "id"));
    int known = action && (!strcmp(action, "START_TRAINING") || is_annotation_event(action));
    cg_mlproject *p = NULL;
    if (!action) {
        reply_error(res, 400, "\"action\" is required");
    } else if (!known) {
        reply(res, 200, json_pack("{s:s}", "status", "Unknown event"));
    } else if (id < 0) {
        reply_error(res, 400, "%s needs \"project\": {\"id\": <project id>}", action);
    } else if (!(p = cg_mlprojects_get(b->projects, id))) {
        reply_error(res, 503, "%s", TOO_MANY);
    } else if (!strcmp(action, "START_TRAINING")) {
        cg_mltrain_result r;
        cg_mlproject_train(p, label_config, b->train_wait_s, &r);
        reply_training(p, &r, res);
    } else {
        unsigned pending;
        int started = cg_mlproject_note_annotation(p, b->train_every, label_config, &pending);
        char version[32];
        cg_mlproject_version(p, version, sizeof version);
        reply(res, 201,
              json_pack("{s:{s:I, s:I, s:b, s:s}, s:s}", "result", "annotations_since_training",
                        (json_int_t)(started ? 0 : pending), "train_every",
                        (json_int_t)b->train_every, "training_started", started, "model_version",
                        version, "status", "ok"));
    }
    json_decref(body);
}

static void handle_versions(cg_mlbackend *b, const cg_http_request *req, cg_http_response *res)
{
    const char *q = cg_http_query(req, "project");
    long id;
    if (q) {
        json_t *s = json_string(q);
        id = cg_mlprojects_parse_id(s);
        json_decref(s);
        if (id < 0) {
            reply_error(res, 400, "query parameter project must be a project id such as 12");
            return;
        }
    } else {
        id = cg_mlprojects_last_setup(b->projects);
    }
    json_t *versions = json_array();
    char err[512];
    if (!versions) {
        reply_error(res, 500, "out of memory");
        return;
    }
    if (id > 0 && cg_modelstore_list(b->model_dir, id, versions, err, sizeof err) != 0) {
        json_decref(versions);
        reply_error(res, 500, "%s", err);
        return;
    }
    reply(res, 200, json_pack("{s:o}", "versions", versions));
}

typedef void (*route_fn)(cg_mlbackend *b, const cg_http_request *req, cg_http_response *res);

static const struct route {
    const char *method;
    const char *path;
    route_fn fn;
} routes[] = {
    {"GET", "/health", handle_health},    {"GET", "/", handle_health},
    {"POST", "/setup", handle_setup},     {"POST", "/predict", handle_predict},
    {"POST", "/webhook", handle_webhook}, {"GET", "/versions", handle_versions},
    {"GET", "/metrics", handle_metrics},
};

static void on_request(void *ctx, const cg_http_request *req, cg_http_response *res)
{
    cg_mlbackend *b = ctx;
    if (b->auth_userpass && !authorized(b, req)) {
        res->status = 401;
        res->content_type = "text/plain";
        cg_buf_append_str(&res->body, "Unauthorized");
        cg_http_response_header(res, "WWW-Authenticate", "Basic realm=\"Login required\"");
        return;
    }
    const struct route *path_match = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (strcmp(routes[i].path, req->path)) continue;
        path_match = &routes[i];
        if (!strcmp(routes[i].method, req->method)) {
            routes[i].fn(b, req, res);
            if (res->status >= 500)
                cg_log(CG_LOG_ERROR, "mlbackend", "%s %s -> %d", req->method, req->path,
                       res->status);
            return;
        }
    }
    if (path_match) {
        cg_http_response_header(res, "Allow", path_match->method);
        reply_error(res, 405, "%s %s is not supported; use %s", req->method, req->path,
                    path_match->method);
    } else {
        reply_error(res, 404,
                    "no route %s %s (routes: /health /setup /predict /webhook /versions /metrics)",
                    req->method, req->path);
    }
}

/* ---- lifecycle ------------------------------------------------------------------- */

cg_mlbackend *cg_mlbackend_start(const cg_mlbackend_options *opt, char *err, size_t errlen)
{
    int has_user = opt->basic_auth_user && *opt->basic_auth_user;
    int has_pass = opt->basic_auth_pass && *opt->basic_auth_pass;
    if (has_user != has_pass) {
        snprintf(err, errlen, "basic auth needs both a user and a password");
        return NULL;
    }
    cg_mlbackend *b = calloc(1, sizeof *b);
    if (!b) goto mlbackend_start_oom;
    b->model_dir = strdup(opt->model_dir ? opt->model_dir : CG_MLBACKEND_DEFAULT_MODEL_DIR);
    if (!b->model_dir) goto mlbackend_start_oom;
    if (has_user) {
        cg_buf up = CG_BUF_INIT;
        if (cg_buf_printf(&up, "%s:%s", opt->basic_auth_user, opt->basic_auth_pass) != 0)
            goto mlbackend_start_oom;
        b->auth_userpass = cg_buf_steal(&up);
    }
    b->train_every = opt->train_every;
    b->train_wait_s = opt->train_wait_s >= 0 ? opt->train_wait_s : 0;
    cg_mlprojects_options popt = {
        .model_dir = b->model_dir,
        .ls_url = opt->ls_url && *opt->ls_url ? opt->ls_url : NULL,
        .ls_api_key = opt->ls_api_key && *opt->ls_api_key ? opt->ls_api_key : NULL,
        .export_timeout_s = 120,
    };
    if (!(b->projects = cg_mlprojects_new(&popt, err, errlen))) goto mlbackend_start_fail;
    b->httpd = cg_httpd_start(opt->listen, opt->port, CG_MLBACKEND_MAX_BODY, on_request, b, err,
                              errlen);
    if (!b->httpd) goto mlbackend_start_fail;
    return b;
mlbackend_start_oom:
    snprintf(err, errlen, "out of memory");
mlbackend_start_fail:
    cg_mlbackend_stop(b);
    return NULL;
}

int cg_mlbackend_port(const cg_mlbackend *b)
{
    return cg_httpd_port(b->httpd);
}

void cg_mlbackend_stop(cg_mlbackend *b)
{
    if (!b) return;
    if (b->projects) cg_mlprojects_cancel(b->projects);
    cg_httpd_stop(b->httpd);
    cg_mlprojects_free(b->projects);
    free(b->model_dir);
    if (b->auth_userpass) {
        memset(b->auth_userpass, 0, strlen(b->auth_userpass));
        free(b->auth_userpass);
    }
    free(b);
}

/* ---- the command ----------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: capgate mlbackend [--listen ADDR] [--port N] [--model-dir DIR]\n"
        "                         [--basic-auth-user U --basic-auth-pass P]\n"
        "                         [--train-every N] [--train-wait SECONDS]\n\n"
        "A Label Studio ML backend: a naive Bayes text classifier for <Choices> over <Text>.\n\n"
        "  --listen ADDR        IPv4 address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
        "  --port N             port (default %d; 0 picks a free one)\n"
        "  --model-dir DIR      where model versions are kept (default %s)\n"
        "  --basic-auth-user U  require HTTP basic auth on every route (env BASIC_AUTH_USER)\n"
        "  --basic-auth-pass P  its password (env BASIC_AUTH_PASS)\n"
        "  --train-every N      also train after every N annotation events (default 0: only\n"
        "                       when Label Studio sends START_TRAINING)\n"
        "  --train-wait S       how long a START_TRAINING request waits for its run before\n"
        "                       answering \"running\" (default 30)\n\n"
        "environment: LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY override the hostname and\n"
        "access_token that Label Studio sends to /setup (a personal access token is exchanged\n"
        "for a Bearer token). Logs are JSON lines on stderr (CAPGATE_LOG_LEVEL).\n",
        CG_MLBACKEND_DEFAULT_PORT, CG_MLBACKEND_DEFAULT_MODEL_DIR);
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int cg_mlbackend_main(int argc, char **argv)
{
    cg_mlbackend_options opt = {
        .port = CG_MLBACKEND_DEFAULT_PORT,
        .model_dir = CG_MLBACKEND_DEFAULT_MODEL_DIR,
        .basic_auth_user = env_or_null("BASIC_AUTH_USER"),
        .basic_auth_pass = env_or_null("BASIC_AUTH_PASS"),
        .ls_url = env_or_null("LABEL_STUDIO_URL"),
        .ls_api_key = env_or_null("LABEL_STUDIO_API_KEY"),
        .train_wait_s = 30,
    };
    cg_opts c;
    cg_opts_init(&c, "mlbackend", argc, argv);
    while (cg_opts_next(&c)) {
        long n;
        int took = cg_opts_listen_port(&c, &opt.listen, &opt.port);
        if (took) {
            if (took < 0) return 2;
        } else if (cg_opts_is_help(&c)) {
            usage(stdout);
            return 0;
        } else if (cg_opts_is(&c, "--model-dir")) {
            if (!(opt.model_dir = cg_opts_nonempty(&c, "a directory"))) return 2;
        } else if (cg_opts_is(&c, "--basic-auth-user")) {
            if (!(opt.basic_auth_user = cg_opts_value(&c))) return 2;
        } else if (cg_opts_is(&c, "--basic-auth-pass")) {
            if (!(opt.basic_auth_pass = cg_opts_value(&c))) return 2;
        } else if (cg_opts_is(&c, "--train-every")) {
            if (cg_opts_int(&c, 0, 1000000, &n) < 0) return 2;
            opt.train_every = (unsigned)n;
        } else if (cg_opts_is(&c, "--train-wait")) {
            if (cg_opts_duration(&c, 1000, 0, 86400000, &n) < 0) return 2;
            opt.train_wait_s = (double)n / 1000.0;
        } else {
            cg_opts_unknown(&c);
            usage(stderr);
            return 2;
        }
    }

    /* Signals are taken by sigwait() below; every thread started from here on inherits
     * the mask, so none of them is interrupted. */
    sigset_t stop_signals;
    cg_signals_block(&stop_signals, false);
    if (cg_http_client_init() != 0) {
        fprintf(stderr, "capgate mlbackend: cannot initialise libcurl\n");
        return 1;
    }

    char err[512];
    cg_mlbackend *b = cg_mlbackend_start(&opt, err, sizeof err);
    if (!b) {
        fprintf(stderr, "capgate mlbackend: %s\n", err);
        cg_http_client_cleanup();
        return 1;
    }
    cg_log(CG_LOG_INFO, "mlbackend",
           "listening on http://%s:%d (models in %s, basic auth %s, train every %u annotations%s)",
           opt.listen ? opt.listen : "127.0.0.1", cg_mlbackend_port(b), opt.model_dir,
           opt.basic_auth_user ? "on" : "off", opt.train_every, opt.train_every ? "" : " = off");
    int sig = cg_signals_wait(&stop_signals);
    cg_log(CG_LOG_INFO, "mlbackend", "stopping on %s", cg_signals_name(sig));
    cg_mlbackend_stop(b);
    cg_http_client_cleanup();
    return 0;
}
