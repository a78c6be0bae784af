/*
 * control.c — the control adapter's management and observability endpoints. See control.h.
 *
 * Every answer is built at once on the loop: nothing here waits on an upstream. The one
 * slow-ish call is POST /config/validate (loading a spec: a few milliseconds for a large
 * one; the body is capped at 1 MiB).
 */
#include "control/control.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/log.h"
#include "net/h1_json.h"
#include "net/h1_server.h"
#include "engine/script.h"
#include "engine/trace.h"

#define MAX_CONTROL_BODY (1u << 20)

struct cg_control {
    cg_h1j_server http;
    cg_control_options opt;
    /* what this worker's answers come from: the shared spec at start, then each reload's */
    const cg_spec *spec;
    const cg_control_adapter *c;
    const cg_control_site *sites; /* NULL: the shared ones (set once every port is bound) */
    size_t n_sites;
};

/* ---- answers -------------------------------------------------------------------- */

/* Control's problem+json also carries the detail as "error" (what its clients read). */
static void problem(cg_h1s_request *rq, int status, const char *slug, const char *title,
                    const char *detail)
{
    cg_h1j_send(rq, status, CG_PROBLEM_TYPE,
                json_pack("{s:s+,s:s,s:i,s:s,s:s,s:s}", "type", "urn:capgate:problem:", slug,
                          "title", title, "status", status, "detail", detail, "error", detail,
                          "instance", cg_h1s_path(rq)));
}

static void not_found(cg_h1s_request *rq)
{
    problem(rq, 404, "not-found", "Not Found",
            "no such endpoint on the control port (or it is not enabled in the spec)");
}

static void iso_time(char *out, size_t n, long long unix_ms)
{
    time_t sec = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", b, (int)(unix_ms % 1000));
}

/* ---- management ----------------------------------------------------------------- */

static json_t *adapters_json(const cg_control *c, const char *state)
{
    json_t *list = json_array();
    const cg_control_site *sites = c->sites ? c->sites : c->opt.shared->sites;
    size_t n = c->sites ? c->n_sites : c->opt.shared->n_sites;
    for (size_t i = 0; i < n; i++) {
        const cg_control_site *s = &sites[i];
        json_t *a = json_pack("{s:s}", "type", s->type);
        if (s->namespace_) json_object_set_new(a, "namespace", json_string(s->namespace_));
        if (s->port > 0) json_object_set_new(a, "port", json_integer(s->port));
        json_object_set_new(a, "state", json_string(state));
        json_array_append_new(list, a);
    }
    return list;
}

/* Adds "reload" (the last reload's outcome) to doc when there was one. */
static json_t *with_reload(const cg_control_shared *sh, json_t *doc)
{
    const char *text = sh->reload_status ? atomic_load(sh->reload_status) : NULL;
    json_t *r = text ? json_loads(text, 0, NULL) : NULL;
    if (r && doc) json_object_set_new(doc, "reload", r);
    else json_decref(r);
    return doc;
}

static void health_ready(cg_control *c, cg_h1s_request *rq)
{
    const cg_control_shared *sh = c->opt.shared;
    int state = atomic_load(&((cg_control_shared *)sh)->state);
    bool up = state == 1;
    json_t *doc = json_pack("{s:s,s:o}", "status", up ? "UP" : "DEGRADED", "adapters",
                            adapters_json(c, state == 2 ? "stopping"
                                             : up       ? "started"
                                                        : "starting"));
    cg_h1j_send(rq, up ? 200 : 503, NULL, with_reload(sh, doc));
}

static void status_info(cg_control *c, cg_h1s_request *rq)
{
    const cg_control_shared *sh = c->opt.shared;
    long long up_ms = (long long)cg_clock_wall_ms() - sh->started_ms;
    char uptime[64];
    long long h = up_ms / 3600000, m = up_ms / 60000 % 60;
    double s = (double)(up_ms % 60000) / 1000.0;
    /* ISO-8601 duration, as java.time.Duration prints it */
    int n = snprintf(uptime, sizeof uptime, "PT");
    if (h) n += snprintf(uptime + n, sizeof uptime - (size_t)n, "%lldH", h);
    if (m) n += snprintf(uptime + n, sizeof uptime - (size_t)n, "%lldM", m);
    snprintf(uptime + n, sizeof uptime - (size_t)n, "%gS", s);
    json_t *doc = json_pack(
        "{s:{s:s?,s:s?},s:{s:s,s:s,s:b},s:s,s:{s:s},s:o}", "capability", "label", c->spec->label,
        "specVersion", c->spec->naftiko, "engine", "version", CAPGATE_VERSION, "implementation",
        "capgate (C)", "native", 1, "uptime", uptime, "otel", "status",
        cg_trace_on() ? "active" : "inactive", "adapters",
        adapters_json(c, atomic_load(&((cg_control_shared *)sh)->state) == 1 ? "started"
                                                                             : "starting"));
    cg_h1j_send(rq, 200, NULL, with_reload(sh, doc));
}

/* The spec's outline: what it exposes and consumes; no bind values, no credentials. */
static void config_info(cg_control *c, cg_h1s_request *rq)
{
    const cg_control_shared *sh = c->opt.shared;
    const cg_spec *sp = c->spec;
    json_t *consumes = json_array();
    for (size_t i = 0; i < sp->n_consumes; i++)
        json_array_append_new(consumes,
                              json_pack("{s:s?,s:s?}", "namespace", sp->consumes[i].namespace_,
                                        "baseUri", sp->consumes[i].base_uri));
    json_t *doc = json_pack("{s:s?,s:s?,s:s?,s:s?,s:o,s:o}", "file", sh->file, "naftiko",
                            sp->naftiko, "label", sp->label, "description", sp->description,
                            "exposes", adapters_json(c, "configured"), "consumes", consumes);
    cg_h1j_send(rq, 200, NULL, doc);
}

static void config_validate(cg_h1s_request *rq)
{
    size_t len;
    const char *body = cg_h1s_body(rq, &len);
    if (!body || !len) {
        problem(rq, 400, "bad-request", "Bad Request",
                "POST /config/validate takes a capability document (YAML or JSON) as its body");
        return;
    }
    cg_spec *spec = NULL;
    cg_buf errors = CG_BUF_INIT;
    cg_spec_result r = cg_spec_load_string("body", body, len, &spec, &errors);
    cg_spec_free(spec);
    json_t *list = json_array();
    char *line = errors.data, *nl;
    while (line && *line) {
        nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        json_array_append_new(list, json_string(line));
        if (!nl) break;
        line = nl + 1;
    }
    cg_buf_free(&errors);
    cg_h1j_send(rq, r == CG_SPEC_OK ? 200 : 422, NULL,
                json_pack("{s:b,s:o}", "valid", r == CG_SPEC_OK, "errors", list));
}

/* Asks the process to reload as SIGHUP does; the outcome shows later in /health/ready. */
static void config_reload(cg_control *c, cg_h1s_request *rq)
{
    if (!c->opt.shared->request_reload) {
        problem(rq, 501, "not-implemented", "Not Implemented",
                "this process cannot reload its capability: restart it (SIGTERM drains the "
                "calls in flight) to load a changed one");
        return;
    }
    c->opt.shared->request_reload();
    cg_log(CG_LOG_INFO, "control", "reload requested through POST /config/reload");
    cg_h1j_send(rq, 202, NULL,
                json_pack("{s:s,s:s}", "status", "accepted", "detail",
                          "the capability is read again as on SIGHUP; GET /health/ready shows "
                          "the outcome as \"reload\""));
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static void logs(cg_h1s_request *rq, const char *method)
{
    if (!strcmp(method, "PUT")) {
        size_t len;
        const char *body = cg_h1s_body(rq, &len);
        json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
        const char *lvl = json_string_value(json_object_get(j, "level"));
        int found = -1;
        for (int i = 0; lvl && i < 4; i++)
            if (!strcasecmp(lvl, level_names[i]) || (i == 2 && !strcasecmp(lvl, "warning")))
                found = i;
        json_decref(j);
        if (found < 0) {
            problem(rq, 400, "bad-request", "Bad Request",
                    "PUT /logs takes {\"level\": \"debug\" | \"info\" | \"warn\" | \"error\"}");
            return;
        }
        cg_log_set_level((cg_log_level)found);
        cg_log(CG_LOG_WARN, "control", "log level set to %s", level_names[found]);
    }
    int cur = 3;
    for (int i = 0; i < 4; i++)
        if (cg_log_enabled((cg_log_level)i)) {
            cur = i;
            break;
        }
    cg_h1j_send(rq, 200, NULL, json_pack("{s:s}", "level", level_names[cur]));
}

/* ---- scripting ------------------------------------------------------------------ */

static void scripting_get(cg_control *c, cg_h1s_request *rq)
{
    cg_script_policy_view v;
    cg_script_policy_get(c->opt.shared->scripts, &v);
    json_t *doc = json_object();
    json_object_set_new(doc, "enabled", json_boolean(v.enabled));
    if (v.default_location)
        json_object_set_new(doc, "defaultLocation", json_string(v.default_location));
    if (v.default_language)
        json_object_set_new(doc, "defaultLanguage", json_string(v.default_language));
    json_object_set_new(doc, "timeout", json_integer(v.timeout_ms));
    json_object_set_new(doc, "statementLimit", json_integer(v.statement_limit));
    if (v.n_languages) {
        json_t *langs = json_array();
        for (int i = 0; i < v.n_languages; i++)
            json_array_append_new(langs, json_string(v.languages[i]));
        json_object_set_new(doc, "allowedLanguages", langs);
    }
    cg_script_stats st;
    cg_script_stats_get(&st);
    double avg = st.executions ? (double)st.total_ns / 1e6 / (double)st.executions : 0.0;
    json_t *stats = json_pack("{s:I,s:I,s:f}", "totalExecutions", (json_int_t)st.executions,
                              "totalErrors", (json_int_t)st.errors, "averageDurationMs",
                              (double)(long long)(avg * 100.0 + 0.5) / 100.0);
    if (st.last_unix_ms) {
        char when[40];
        iso_time(when, sizeof when, st.last_unix_ms);
        json_object_set_new(stats, "lastExecutionAt", json_string(when));
    }
    json_object_set_new(doc, "stats", stats);
    cg_h1j_send(rq, 200, NULL, doc);
}

static bool known_language(const char *l)
{
    return l && (!strcmp(l, "javascript") || !strcmp(l, "python") || !strcmp(l, "groovy"));
}

/* Checks the whole update first, then applies it at once (all or nothing). */
static void scripting_put(cg_control *c, cg_h1s_request *rq)
{
    size_t len;
    const char *body = cg_h1s_body(rq, &len);
    json_error_t jerr;
    json_t *u = body ? json_loadb(body, len, 0, &jerr) : NULL;
    char msg[256] = "";
    if (!json_is_object(u)) {
        snprintf(msg, sizeof msg, "the body must be a JSON object%s%s", body ? ": " : "",
                 body && !u ? jerr.text : "");
        goto scripting_put_bad;
    }
    cg_script_policy_view v;
    cg_script_policy_get(c->opt.shared->scripts, &v);
    json_t *x;
    if ((x = json_object_get(u, "enabled"))) {
        if (!json_is_boolean(x)) {
            snprintf(msg, sizeof msg, "'enabled' must be true or false");
            goto scripting_put_bad;
        }
        v.enabled = json_is_true(x);
    }
    if ((x = json_object_get(u, "timeout"))) {
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 86400000) {
            snprintf(msg, sizeof msg, "'timeout' must be an integer from 1 to 86400000 (ms)");
            goto scripting_put_bad;
        }
        v.timeout_ms = (long)json_integer_value(x);
    }
    if ((x = json_object_get(u, "statementLimit"))) {
        if (!json_is_integer(x) || json_integer_value(x) < 1) {
            snprintf(msg, sizeof msg,
                     "'statementLimit' must be an integer greater than or equal to 1");
            goto scripting_put_bad;
        }
        v.statement_limit = (long)json_integer_value(x);
    }
    if ((x = json_object_get(u, "defaultLocation"))) {
        const char *loc = json_string_value(x);
        if (!loc || strncmp(loc, "file:///", 8)) {
            snprintf(msg, sizeof msg, "'defaultLocation' must be an absolute file:/// URI");
            goto scripting_put_bad;
        }
        v.default_location = loc;
    }
    if ((x = json_object_get(u, "defaultLanguage"))) {
        if (!known_language(json_string_value(x))) {
            snprintf(msg, sizeof msg,
                     "Unsupported language '%.40s'. Supported: [javascript, "
                     "python, groovy]",
                     json_string_value(x) ? json_string_value(x) : "?");
            goto scripting_put_bad;
        }
        v.default_language = json_string_value(x);
    }
    if ((x = json_object_get(u, "allowedLanguages"))) {
        if (!json_is_array(x) || json_array_size(x) > 3) {
            snprintf(msg, sizeof msg, "'allowedLanguages' must be an array of at most 3 languages");
            goto scripting_put_bad;
        }
        v.n_languages = 0;
        size_t i;
        json_t *l;
        json_array_foreach(x, i, l)
        {
            if (!known_language(json_string_value(l))) {
                snprintf(msg, sizeof msg,
                         "Unsupported language '%.40s'. Supported: [javascript, "
                         "python, groovy]",
                         json_string_value(l) ? json_string_value(l) : "?");
                goto scripting_put_bad;
            }
            v.languages[v.n_languages++] = json_string_value(l);
        }
        v.languages[v.n_languages] = NULL;
    }
    if (cg_script_policy_set(c->opt.shared->scripts, &v) < 0) {
        json_decref(u);
        problem(rq, 500, "internal", "Internal Server Error", "out of memory");
        return;
    }
    json_decref(u);
    cg_log(CG_LOG_INFO, "control", "scripting settings changed through PUT /scripting");
    scripting_get(c, rq);
    return;

scripting_put_bad:
    json_decref(u);
    problem(rq, 400, "bad-request", "Bad Request", msg);
}

/* ---- observability -------------------------------------------------------------- */

static void metrics(cg_control *c, cg_h1s_request *rq)
{
    cg_buf b = CG_BUF_INIT;
    if (c->opt.shared->metrics) cg_metrics_render(c->opt.shared->metrics, &b);
    cg_trace_counters tc;
    cg_trace_counters_get(&tc);
    cg_buf_printf(&b,
                  "# HELP capgate_trace_spans_exported_total Spans the OTLP exporter delivered.\n"
                  "# TYPE capgate_trace_spans_exported_total counter\n"
                  "capgate_trace_spans_exported_total %llu\n"
                  "# HELP capgate_trace_spans_dropped_total Spans dropped (queue full or "
                  "collector failure).\n"
                  "# TYPE capgate_trace_spans_dropped_total counter\n"
                  "capgate_trace_spans_dropped_total %llu\n",
                  (unsigned long long)tc.spans_exported, (unsigned long long)tc.spans_dropped);
    cg_h1j_respond_buf(rq, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static void traces(cg_h1s_request *rq, const char *id)
{
    cg_buf b = CG_BUF_INIT;
    if (!id) {
        cg_trace_render_list(&b, cg_h1s_query(rq, "operation"), cg_h1s_query(rq, "status"));
        cg_h1j_respond_buf(rq, 200, "application/json", &b);
        return;
    }
    int found = cg_trace_render_one(&b, id);
    if (found == 1) {
        cg_h1j_respond_buf(rq, 200, "application/json", &b);
        return;
    }
    cg_buf_free(&b);
    char msg[128];
    snprintf(msg, sizeof msg, "Trace not found: %.64s", id);
    problem(rq, 404, "not-found", "Not Found", msg);
}

/* ---- routing -------------------------------------------------------------------- */

static bool method_is(cg_h1s_request *rq, const char *allowed)
{
    const char *m = cg_h1s_method(rq);
    if (!strcmp(m, allowed) || (!strcmp(allowed, "GET") && !strcmp(m, "HEAD"))) return true;
    return false;
}

static void not_allowed(cg_h1s_request *rq, const char *allow)
{
    char msg[96];
    snprintf(msg, sizeof msg, "this endpoint takes %s", allow);
    problem(rq, 405, "method-not-allowed", "Method Not Allowed", msg);
}

static void route(void *ctx, cg_h1s_request *rq)
{
    cg_control *c = ctx;
    const cg_control_adapter *a = c->c;
    const char *p = cg_h1s_path(rq), *m = cg_h1s_method(rq);
    if (a->health && (!strcmp(p, "/health/live") || !strcmp(p, "/health/ready"))) {
        if (!method_is(rq, "GET")) not_allowed(rq, "GET");
        else if (p[8] == 'l') cg_h1j_send(rq, 200, NULL, json_pack("{s:s}", "status", "UP"));
        else health_ready(c, rq);
    } else if (a->info && (!strcmp(p, "/status") || !strcmp(p, "/config"))) {
        if (!method_is(rq, "GET")) not_allowed(rq, "GET");
        else if (p[1] == 's') status_info(c, rq);
        else config_info(c, rq);
    } else if (a->validate && !strcmp(p, "/config/validate")) {
        if (!method_is(rq, "POST")) not_allowed(rq, "POST");
        else config_validate(rq);
    } else if (a->reload && !strcmp(p, "/config/reload")) {
        if (!method_is(rq, "POST")) not_allowed(rq, "POST");
        else config_reload(c, rq);
    } else if (a->logs && !strcmp(p, "/logs")) {
        if (!method_is(rq, "GET") && strcmp(m, "PUT")) not_allowed(rq, "GET, PUT");
        else logs(rq, m);
    } else if (a->logs && !strcmp(p, "/logs/stream")) {
        problem(rq, 501, "not-implemented", "Not Implemented",
                "capgate does not stream its log yet: it writes JSON lines on stderr");
    } else if (a->has_scripting && c->opt.shared->scripts && !strcmp(p, "/scripting")) {
        if (!strcmp(m, "PUT")) scripting_put(c, rq);
        else if (method_is(rq, "GET")) scripting_get(c, rq);
        else not_allowed(rq, "GET, PUT");
    } else if (a->metrics && !strcmp(p, "/metrics")) {
        if (!method_is(rq, "GET")) not_allowed(rq, "GET");
        else metrics(c, rq);
    } else if (a->traces && cg_trace_on() &&
               (!strcmp(p, "/traces") || !strncmp(p, "/traces/", 8))) {
        if (!method_is(rq, "GET")) not_allowed(rq, "GET");
        else traces(rq, p[7] && p[8] ? p + 8 : NULL);
    } else {
        not_found(rq);
    }
}

static void on_done(void *ctx, cg_h1s_request *rq)
{
    cg_control *c = ctx;
    if (c->opt.shared->metrics && cg_h1s_status(rq))
        cg_metrics_count_request(c->opt.shared->metrics, "control", "GET", cg_h1s_status(rq));
}

cg_control *cg_control_start(cg_loop *loop, const cg_control_options *opt, char *err, size_t errlen)
{
    cg_control *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "control: out of memory");
        return NULL;
    }
    c->opt = *opt;
    c->spec = opt->shared->spec;
    c->c = c->spec->control;
    c->http = (cg_h1j_server){.too_large = "the control port takes bodies up to 1 MiB",
                              .route = route,
                              .done = on_done,
                              .ctx = c};
    char why[256];
    if (cg_h1j_start(&c->http, loop, opt->address, opt->port, MAX_CONTROL_BODY, opt->idle_timeout_s,
                     why, sizeof why) < 0) {
        snprintf(err, errlen, "control adapter: %s", why);
        free(c);
        return NULL;
    }
    return c;
}

int cg_control_port(const cg_control *c)
{
    return c->http.port;
}

void cg_control_reload(cg_control *c, const cg_spec *spec, const cg_control_site *sites,
                       size_t n_sites)
{
    c->spec = spec;
    c->c = spec->control;
    c->sites = sites;
    c->n_sites = n_sites;
}

void cg_control_quiesce(cg_control *c)
{
    if (c) cg_h1s_quiesce(c->http.h1);
}

void cg_control_stop(cg_control *c)
{
    if (!c) return;
    cg_h1s_stop(c->http.h1);
    free(c);
}
