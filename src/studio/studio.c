/*
 * studio.c — `capgate studio`: options, start and stop, and the request router.
 *
 * A request first meets the route table below, as Django's URL resolver would: an unknown
 * path or a non-integer id gets Django's HTML 404 before any authentication. A matched route
 * then authenticates (except the token-refresh endpoint and /health), checks the method
 * (DRF's 405 with an Allow header) and calls its handler in ml_api.c, lsapi.c or
 * items_api.c.
 *
 * Lifecycle: start opens the store (migrating it), settles the admin key and the JWT secret,
 * resumes unfinished predict-all runs, then starts the HTTP server. The command blocks
 * SIGINT and SIGTERM in every thread and waits for them with sigwait, so shutdown runs on the
 * main thread, in order: stop accepting, stop the runners, close the store.
 */
#include "studio/studio.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_client.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/options.h"
#include "runtime/signals.h"
#include "studio/app.h"
#include "studio/jwt.h"
#include "studio/labelconfig.h"
#include "studio/page.h"

#define MAX_BODY ((size_t)512 << 20) /* imports of 100,000+ tasks fit */

struct cg_studio {
    cg_studio_app app;
    cg_httpd *httpd;
};

/* ---- routing ---------------------------------------------------------------------------- */

/* What a handler gets: the matched route's id segment (0 when none) and the user. */
typedef struct route_call {
    cg_studio_app *app;
    int64_t id;
    const cg_http_request *req;
    cg_http_response *res;
    int64_t user;
} route_call;

typedef void (*route_handler)(const route_call *c);

typedef struct route {
    const char *pattern;   /* '#' is one all-digit path segment */
    const char *methods;   /* allowed, space-separated, for the Allow header */
    route_handler handler; /* called once the method is allowed */
    int slash_ok;          /* a trailing '/' also matches */
    int public_;           /* no authentication */
} route;

#define IS(m) (!strcmp(c->req->method, (m)))

static void h_health(const route_call *c)
{
    cg_studio_reply(c->res, 200, json_pack("{s:s}", "status", "UP"));
}

static void h_ml(const route_call *c)
{
    if (IS("GET")) cg_studio_api_ml_list(c->app, c->req, c->res);
    else cg_studio_api_ml_create(c->app, c->req, c->res);
}

static void h_ml_id(const route_call *c)
{
    if (IS("GET")) cg_studio_api_ml_get(c->app, c->id, c->res);
    else if (IS("DELETE")) cg_studio_api_ml_delete(c->app, c->id, c->res);
    else cg_studio_api_ml_update(c->app, c->id, c->req, c->res);
}

static void h_ml_interactive(const route_call *c)
{
    cg_studio_api_ml_interactive(c->app, c->id, c->req, c->res);
}

static void h_ml_predict(const route_call *c)
{
    if (IS("GET")) cg_studio_api_ml_predict_status(c->app, c->id, c->res);
    else cg_studio_api_ml_predict(c->app, c->id, c->req, c->res);
}

static void h_ml_predict_test(const route_call *c)
{
    cg_studio_api_ml_predict_test(c->app, c->id, c->req, c->res);
}

static void h_ml_train(const route_call *c)
{
    cg_studio_api_ml_train(c->app, c->id, c->res);
}
static void h_ml_versions(const route_call *c)
{
    cg_studio_api_ml_versions(c->app, c->id, c->res);
}

static void h_projects(const route_call *c)
{
    if (IS("GET")) cg_studio_api_projects_list(c->app, c->req, c->res);
    else cg_studio_api_projects_create(c->app, c->req, c->res, c->user);
}

static void h_project(const route_call *c)
{
    if (IS("GET")) cg_studio_api_project_get(c->app, c->id, c->res);
    else cg_studio_api_project_update(c->app, c->id, c->req, c->res);
}

static void h_project_import(const route_call *c)
{
    cg_studio_api_project_import(c->app, c->id, c->req, c->res, c->user);
}

static void h_project_import_predictions(const route_call *c)
{
    cg_studio_api_project_import_predictions(c->app, c->id, c->req, c->res);
}

static void h_project_tasks(const route_call *c)
{
    cg_studio_api_project_tasks(c->app, c->id, c->req, c->res);
}

static void h_project_next(const route_call *c)
{
    cg_studio_api_project_next(c->app, c->id, c->res);
}

static void h_project_export(const route_call *c)
{
    cg_studio_api_project_export(c->app, c->id, c->req, c->res);
}

static void h_tasks(const route_call *c)
{
    if (IS("GET")) cg_studio_api_tasks_list(c->app, c->req, c->res);
    else cg_studio_api_tasks_create(c->app, c->req, c->res);
}

static void h_task(const route_call *c)
{
    if (IS("GET")) cg_studio_api_task_get(c->app, c->id, c->res);
    else cg_studio_api_task_update(c->app, c->id, c->req, c->res);
}

static void h_task_annotations(const route_call *c)
{
    cg_studio_api_task_annotations(c->app, c->id, c->req, c->res, c->user);
}

static void h_annotation(const route_call *c)
{
    cg_studio_api_annotation(c->app, c->id, c->req, c->res);
}

static void h_predictions(const route_call *c)
{
    if (IS("GET")) cg_studio_api_predictions(c->app, c->req, c->res);
    else cg_studio_api_predictions_create(c->app, c->req, c->res);
}

static void h_prediction(const route_call *c)
{
    cg_studio_api_prediction(c->app, c->id, c->req, c->res);
}

static void h_token(const route_call *c)
{
    if (IS("GET")) cg_studio_api_token_list(c->app, c->res, c->user);
    else cg_studio_api_token_create(c->app, c->res, c->user);
}

static void h_token_refresh(const route_call *c)
{
    cg_studio_api_token_refresh(c->app, c->req, c->res);
}

static void h_token_blacklist(const route_call *c)
{
    cg_studio_api_token_blacklist(c->app, c->req, c->res);
}

static void h_token_rotate(const route_call *c)
{
    cg_studio_api_token_rotate(c->app, c->req, c->res, c->user);
}

#undef IS

/* First match wins. To add a page or route: write its handler above and add a row. */
static const route routes[] = {
    {"/health", "GET", h_health, 1, 1},
    {"/api/ml", "GET, POST", h_ml, 1, 0},
    {"/api/ml/#", "GET, PUT, PATCH, DELETE", h_ml_id, 0, 0},
    {"/api/ml/#/interactive-annotating", "POST", h_ml_interactive, 0, 0},
    {"/api/ml/#/predict", "GET, POST", h_ml_predict, 0, 0},
    {"/api/ml/#/predict/test", "POST", h_ml_predict_test, 0, 0},
    {"/api/ml/#/train", "POST", h_ml_train, 0, 0},
    {"/api/ml/#/versions", "GET", h_ml_versions, 0, 0},
    {"/api/projects", "GET, POST", h_projects, 1, 0},
    {"/api/projects/#", "GET, PATCH", h_project, 1, 0},
    {"/api/projects/#/import", "POST", h_project_import, 1, 0},
    {"/api/projects/#/import/predictions", "POST", h_project_import_predictions, 1, 0},
    {"/api/projects/#/tasks", "GET", h_project_tasks, 1, 0},
    {"/api/projects/#/next", "GET", h_project_next, 1, 0},
    {"/api/projects/#/export", "GET", h_project_export, 1, 0},
    {"/api/tasks", "GET, POST", h_tasks, 1, 0},
    {"/api/tasks/#", "GET, PATCH", h_task, 1, 0},
    {"/api/tasks/#/annotations", "GET, POST", h_task_annotations, 1, 0},
    {"/api/annotations/#", "GET, PUT, PATCH, DELETE", h_annotation, 1, 0},
    {"/api/predictions", "GET, POST", h_predictions, 1, 0},
    {"/api/predictions/#", "GET, PUT, PATCH, DELETE", h_prediction, 1, 0},
    {"/api/token", "GET, POST", h_token, 1, 0},
    {"/api/token/refresh", "POST", h_token_refresh, 1, 1},
    {"/api/token/blacklist", "POST", h_token_blacklist, 1, 0},
    {"/api/token/rotate", "POST", h_token_rotate, 1, 0},
};

/* Matches path against pattern; the '#' segment's value goes to *id. */
static int route_match(const route *r, const char *path, int64_t *id)
{
    const char *p = r->pattern, *s = path;
    while (*p) {
        if (*p == '#') {
            size_t n = strcspn(s, "/");
            if (n == 0 || n > 18 || strspn(s, "0123456789") < n) return 0;
            char num[24];
            memcpy(num, s, n);
            num[n] = '\0';
            *id = cg_studio_parse_id(num);
            if (*id == 0) return 0;
            s += n;
            p++;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    return *s == '\0' || (r->slash_ok && s[0] == '/' && s[1] == '\0');
}

static int method_allowed(const route *r, const char *method)
{
    size_t n = strlen(method);
    for (const char *m = r->methods; (m = strstr(m, method)); m += n)
        if ((m == r->methods || m[-1] == ' ') && (m[n] == ',' || m[n] == '\0')) return 1;
    return 0;
}

static void on_request(void *ctx, const cg_http_request *req, cg_http_response *res)
{
    cg_studio_app *app = ctx;
    const route *r = NULL;
    int64_t id = 0;
    if (cg_studio_page_serve(req, res)) /* the web page at / (studio/page.h) */
        return;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !r; i++)
        if (route_match(&routes[i], req->path, &id)) r = &routes[i];
    if (!r) {
        cg_studio_reply_html404(res);
        return;
    }
    int64_t user = 0;
    if (!r->public_ && !(user = cg_studio_authenticate(app, req, res))) return;
    if (!method_allowed(r, req->method)) {
        char detail[96];
        snprintf(detail, sizeof detail, "Method \"%.20s\" not allowed.", req->method);
        cg_studio_reply_error(res, 405, detail, NULL);
        cg_http_response_header(res, "Allow", r->methods);
        return;
    }
    route_call call = {app, id, req, res, user};
    r->handler(&call);
    cg_log(CG_LOG_DEBUG, "studio", "%s %s -> %d", req->method, req->path, res->status);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* The admin key: the given one (LABEL_STUDIO_API_KEY) wins; else the stored one; else a new
 * 40-hex key, returned in *generated. */
static int settle_admin_key(cg_studio_app *app, const char *given, char **generated, char *err,
                            size_t errlen)
{
    char *stored = NULL;
    if (given && *given) {
        if (strlen(given) >= sizeof app->admin_key || strpbrk(given, " \t\r\n")) {
            snprintf(err, errlen,
                     "LABEL_STUDIO_API_KEY must be one word of at most %zu "
                     "characters",
                     sizeof app->admin_key - 1);
            return -1;
        }
        snprintf(app->admin_key, sizeof app->admin_key, "%s", given);
        return cg_studio_store_admin_set_key(app->store, given) == 0 ? 0 : -1;
    }
    int rc = cg_studio_store_admin_key(app->store, &stored);
    if (rc == 0) {
        snprintf(app->admin_key, sizeof app->admin_key, "%s", stored);
        free(stored);
        return 0;
    }
    if (rc < 0 || cg_studio_random_hex(app->admin_key, 20) != 0 ||
        cg_studio_store_admin_set_key(app->store, app->admin_key) != 0) {
        snprintf(err, errlen, "cannot create the admin key");
        return -1;
    }
    if (generated) *generated = strdup(app->admin_key);
    return 0;
}

static int settle_jwt_secret(cg_studio_app *app, char *err, size_t errlen)
{
    char *stored = NULL;
    int rc = cg_studio_store_meta_get(app->store, "jwt_secret", &stored);
    if (rc == 0 && strlen(stored) == 64) {
        memcpy(app->jwt_secret, stored, 65);
        free(stored);
        return 0;
    }
    free(stored);
    if (rc < 0 || cg_studio_random_hex(app->jwt_secret, 32) != 0 ||
        cg_studio_store_meta_set(app->store, "jwt_secret", app->jwt_secret) != 0) {
        snprintf(err, errlen, "cannot create the token signing secret");
        return -1;
    }
    return 0;
}

static void set_public_url(cg_studio_app *app, const cg_studio_options *opt, int port)
{
    if (opt->public_url && *opt->public_url) {
        size_t n = strlen(opt->public_url);
        while (n > 1 && opt->public_url[n - 1] == '/') n--;
        snprintf(app->public_url, sizeof app->public_url, "%.*s", (int)n, opt->public_url);
    } else {
        const char *host = opt->listen && strcmp(opt->listen, "0.0.0.0") ? opt->listen
                                                                         : "127.0.0.1";
        snprintf(app->public_url, sizeof app->public_url, "http://%s:%d", host, port);
    }
}

cg_studio *cg_studio_start(const cg_studio_options *opt, char **generated_key, char *err,
                           size_t errlen)
{
    if (generated_key) *generated_key = NULL;
    cg_studio *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cg_studio_app *app = &s->app;
    cg_studio_labelcfg_init();
    if (cg_http_client_init() != 0) {
        snprintf(err, errlen, "cannot initialise libcurl");
        goto start_out;
    }
    if (cg_studio_store_open(opt->db_path ? opt->db_path : "data/studio.db", &app->store, err,
                             errlen) != 0 ||
        settle_jwt_secret(app, err, errlen) != 0 ||
        settle_admin_key(app, opt->api_key, generated_key, err, errlen) != 0)
        goto start_out;
    /* Everything a request handler or a worker reads is settled before the first request
     * can arrive; only with port 0 is the public URL known after binding. */
    app->jobs = cg_studio_jobs_create(app);
    app->conn = (cg_studio_conn){.store = app->store,
                                 .public_url = app->public_url,
                                 .admin_key = app->admin_key,
                                 .stopping = &app->stopping,
                                 .webhooks = cg_studio_webhooks_create()};
    if (!app->jobs || !app->conn.webhooks) {
        snprintf(err, errlen, "out of memory");
        goto start_out;
    }
    if (opt->port) set_public_url(app, opt, opt->port);
    s->httpd = cg_httpd_start(opt->listen, opt->port, MAX_BODY, on_request, app, err, errlen);
    if (!s->httpd) goto start_out;
    if (!opt->port) set_public_url(app, opt, cg_httpd_port(s->httpd));
    if (cg_studio_jobs_resume(app->jobs) != 0) {
        snprintf(err, errlen, "cannot resume unfinished prediction runs");
        goto start_out;
    }
    return s;
start_out:
    if (generated_key) {
        free(*generated_key);
        *generated_key = NULL;
    }
    cg_studio_stop(s);
    return NULL;
}

int cg_studio_port(const cg_studio *s)
{
    return cg_httpd_port(s->httpd);
}

void cg_studio_stop(cg_studio *s)
{
    if (!s) return;
    atomic_store(&s->app.stopping, 1);
    cg_httpd_stop(s->httpd); /* no request is running after this */
    cg_studio_jobs_stop(s->app.jobs);
    cg_studio_webhooks_stop(s->app.conn.webhooks); /* before the store they read goes */
    cg_studio_store_close(s->app.store);
    free(s);
}

/* ---- the command -------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: capgate studio [--listen ADDR] [--port N] [--db PATH] [--public-url URL]\n\n"
        "Serves a Label Studio-compatible API (ML backends, projects, tasks, annotations,\n"
        "predictions, export, tokens) stored in SQLite, so capgate runs without Label Studio.\n\n"
        "  --listen ADDR      IPv4 address to bind (default 127.0.0.1)\n"
        "  --port N           port (default 8000)\n"
        "  --db PATH          SQLite database file (default data/studio.db)\n"
        "  --public-url URL   this server's base URL as ML backends reach it, sent to their\n"
        "                     /setup as hostname (default http://ADDR:PORT)\n"
        "  -h, --help         this help\n\n"
        "environment:\n"
        "  LABEL_STUDIO_API_KEY   the admin's API key (Authorization: Token <key>); when unset\n"
        "                         one is generated on first start, stored and printed once\n"
        "  ML_TIMEOUT_HEALTH, ML_TIMEOUT_SETUP, ML_TIMEOUT_PREDICT, ML_CONNECTION_TIMEOUT\n"
        "                         seconds for calls to ML backends (1, 3, 100; connect 1)\n"
        "  ML_BLOCK_LOCAL_IP      true: refuse ML backends on loopback or private addresses\n"
        "                         (default off, as in Label Studio)\n\n"
        "See docs/studio.md.\n");
}

int cg_studio_main(int argc, char **argv)
{
    cg_studio_options opt = {.listen = "127.0.0.1", .port = 8000, .db_path = "data/studio.db"};
    cg_opts c;
    cg_opts_init(&c, "studio", argc, argv);
    while (cg_opts_next(&c)) {
        int took = cg_opts_listen_port(&c, &opt.listen, &opt.port);
        if (took) {
            if (took < 0) return 2;
        } else if (cg_opts_is_help(&c)) {
            usage(stdout);
            return 0;
        } else if (cg_opts_is(&c, "--db")) {
            if (!(opt.db_path = cg_opts_nonempty(&c, "a path"))) return 2;
        } else if (cg_opts_is(&c, "--public-url")) {
            if (!(opt.public_url = cg_opts_value(&c))) return 2;
            if (strncmp(opt.public_url, "http://", 7) && strncmp(opt.public_url, "https://", 8)) {
                cg_opts_bad(&c, "an http:// or https:// URL", opt.public_url);
                return 2;
            }
        } else {
            cg_opts_unknown(&c);
            usage(stderr);
            return 2;
        }
    }
    opt.api_key = getenv("LABEL_STUDIO_API_KEY");

    /* Block the stop signals in every thread; the main thread waits for them below. */
    sigset_t stop;
    cg_signals_block(&stop, false);

    char err[512] = "", *generated = NULL;
    cg_studio *s = cg_studio_start(&opt, &generated, err, sizeof err);
    if (!s) {
        fprintf(stderr, "capgate studio: %s\n", err);
        return 1;
    }
    if (generated) {
        /* Shown once, on stdout (never in the log): the user needs it to call the API. */
        printf("capgate studio: generated the admin API key (shown only now): %s\n"
               "  use it as 'Authorization: Token %s' or set LABEL_STUDIO_API_KEY\n",
               generated, generated);
        fflush(stdout);
        free(generated);
    }
    cg_log(CG_LOG_INFO, "studio", "listening on http://%s:%d (database %s, public URL %s)",
           opt.listen, cg_studio_port(s), opt.db_path, s->app.public_url);
    int sig = cg_signals_wait(&stop);
    cg_log(CG_LOG_INFO, "studio", "received %s, stopping", cg_signals_name(sig));
    cg_studio_stop(s);
    cg_log(CG_LOG_INFO, "studio", "stopped");
    return 0;
}
