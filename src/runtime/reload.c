/*
 * reload.c — SIGHUP hot reload: spec generations and each worker's view of them.
 *
 * See the comment on the reload block below for how a generation travels from the main
 * thread to the workers, and when an old one is freed.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "engine/profile_label_studio.h"
#include "mcp/tool_schema.h"
#include "runtime/runtime_int.h"

/* ---- reload: spec generations ----------------------------------------------------
 *
 * SIGHUP makes the main thread load the spec again. If it loads and keeps every port and
 * address, it becomes a new generation, handed to each worker through its wake eventfd.
 * The worker builds a view of it (an engine and a console for that spec) on its own loop
 * thread and points its adapters at it (cg_rest_reload, cg_mcp_http_reload,
 * cg_skill_http_reload, cg_control_reload): requests from then on use the new spec; each
 * request that started before holds the old view (cg_rest_hold) and finishes on it (skill
 * and control answers are built at once: none outlives the turn that swapped them). A
 * retired view is freed once no request holds it and its engine has no call in flight; a
 * generation once no worker's view is on it. The listening sockets and connections are
 * the adapters' own and never move.
 */

void cg__rt_generation_unuse(generation *g)
{
    if (!g || atomic_fetch_sub(&g->users, 1) != 1 || g == &cg__rt.gen0) return;
    for (size_t i = 0; i < MAX_ADAPTERS; i++) free(g->openapi[i]);
    cg_mcp_core_free(g->mcp_core);
    cg_spec_free(g->spec);
    free(g);
}

static void view_free(view *v)
{
    cg_console_stop(v->console);
    cg_engine_free(v->engine);
    cg__rt_generation_unuse(v->g);
    free(v);
}

static void reap_views(cg_loop *loop, void *arg)
{
    worker *w = arg;
    w->reap_timer = 0;
    for (view **p = &w->retired; *p;) {
        view *v = *p;
        if (v->refs == 0 && cg_engine_pending(v->engine) == 0) {
            *p = v->next;
            view_free(v);
        } else {
            p = &v->next;
        }
    }
    /* calls still running on an old engine: look again soon */
    if (w->retired && !w->finishing) w->reap_timer = cg_loop_timer_add(loop, 100, reap_views, w);
}

void cg__rt_view_retain(void *ctx)
{
    ((view *)ctx)->refs++;
}

void cg__rt_view_release(void *ctx)
{
    view *v = ctx;
    worker *w = v->w;
    /* freed from a timer, never inside the request's own callbacks */
    if (--v->refs == 0 && v != w->view && !w->finishing && !w->reap_timer)
        w->reap_timer = cg_loop_timer_add(w->loop, 0, reap_views, w);
}

/* The console for a generation (on the first REST adapter's listener), or NULL. */
cg_console *cg__rt_start_console(cg_engine *engine, const generation *g)
{
    cg_console_options co = {
        .spec = g->spec,
        .rest = &g->spec->rest[0],
        .mcp = cg__rt.mcp ? g->mcp_adapter : NULL,
        .feed = cg__rt.feed,
        .metrics = cg__rt.metrics,
        .auth = cg_inbound_auth_count(cg__rt.auth) > 0,
        .mcp_port = cg__rt.mcp ? cg_mcp_shared_port(cg__rt.mcp) : 0,
    };
    return cg_console_start(engine, &co);
}

/* On the worker's thread: new requests go to generation g. */
static void apply_generation(worker *w, generation *g)
{
    char err[256] = "out of memory";
    view *v = calloc(1, sizeof *v);
    cg_engine *engine = v ? cg_engine_create(w->loop, g->spec, &w->opt->engine, cg__rt.metrics, err,
                                             sizeof err)
                          : NULL;
    cg_console *console = engine && cg__rt.n_rest ? cg__rt_start_console(engine, g) : NULL;
    if (!engine || (cg__rt.n_rest && !console)) {
        cg_log(CG_LOG_ERROR, w->opt->command,
               "worker %d: reload to generation %u failed "
               "(%s); it keeps the previous spec",
               w->index, g->number, err);
        cg_engine_free(engine);
        free(v);
        cg__rt_generation_unuse(g);
        return;
    }
    *v = (view){.w = w, .g = g, .engine = engine, .console = console, .refs = 1};
    for (size_t i = 0; i < cg__rt.n_rest; i++) {
        cg_rest_options ro = {
            .spec = g->spec,
            .adapter = &g->spec->rest[i],
            .openapi = g->openapi[i],
            .openapi_len = g->openapi_len[i],
            .console = i == 0 ? console : NULL,
            .hold = {cg__rt_view_retain, cg__rt_view_release, v},
        };
        cg_rest_reload(w->rest[i], engine, &ro);
    }
    if (w->mcp) cg_mcp_http_reload(w->mcp, engine, g->mcp_core, g->tools_changed);
    for (size_t i = 0; i < cg__rt.n_skill; i++)
        cg_skill_http_reload(w->skill[i], g->spec, &g->spec->skill[i]);
    if (w->control) cg_control_reload(w->control, g->spec, g->sites, g->n_sites);
    view *old = w->view;
    w->view = v;
    w->engine = engine;
    w->console = console;
    cg_console_quiesce(old->console); /* its live streams end; the page reconnects */
    old->next = w->retired;
    w->retired = old;
    cg__rt_view_release(old);
}

static void on_wake(cg_loop *loop, int fd, unsigned events, void *arg)
{
    worker *w = arg;
    uint64_t n;
    while (read(fd, &n, sizeof n) > 0) {}
    generation *g = atomic_exchange(&w->next_gen, NULL);
    if (g) apply_generation(w, g);
}

/* The worker's first view (generation 1) and its wake eventfd. 0, or -1 with err. */
int cg__rt_views_start(worker *w, char *err, size_t errlen)
{
    w->view = calloc(1, sizeof *w->view);
    if (!w->view) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *w->view = (view){.w = w, .g = &cg__rt.gen0, .engine = w->engine, .refs = 1};
    atomic_fetch_add(&cg__rt.gen0.users, 1);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0 || cg_loop_io_set(w->loop, w->wake_fd, CG_LOOP_READ, on_wake, w) < 0) {
        snprintf(err, errlen, "cannot create an eventfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* After the adapters stopped (no request holds a view any more): every view goes. */
void cg__rt_views_finish(worker *w)
{
    w->finishing = true;
    cg_loop_timer_cancel(w->loop, w->reap_timer);
    if (w->wake_fd > 0) {
        cg_loop_io_remove(w->loop, w->wake_fd);
        close(w->wake_fd);
    }
    w->wake_fd = -1;
    cg__rt_generation_unuse(atomic_exchange(&w->next_gen, NULL)); /* sent, never applied */
    for (view *v = w->retired, *next; v; v = next) {
        next = v->next;
        view_free(v);
    }
    w->retired = NULL;
    if (w->view) {
        w->view->engine = NULL; /* w->engine and w->console: worker_finish frees them */
        w->view->console = NULL;
        view_free(w->view);
    }
    w->view = NULL;
}

/* Records the outcome /readyz shows as "reload" and logs it. */
static void reload_report(const serve_options *o, unsigned number, const char *error)
{
    json_t *st = json_pack("{s:s, s:I, s:s}", "status", error ? "failed" : "ok", "generation",
                           (json_int_t)number, "file", o->file);
    if (st && error) json_object_set_new(st, "error", json_string(error));
    char *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
    json_decref(st);
    if (text) {
        unsigned slot = cg__rt.n_statuses++ % 64;
        atomic_store(&cg__rt.reload_status, text);
        free(cg__rt.statuses[slot]);
        cg__rt.statuses[slot] = text;
    }
    if (error)
        cg_log(CG_LOG_ERROR, o->command, "SIGHUP: %s not applied, still serving generation %u: %s",
               o->file, number, error);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* The skill and control adapters of spec against those bound: the same number on the same
 * ports and addresses, and the tracing they started (process-wide) unchanged. NULL, or why
 * not (in buf). */
static const char *skill_control_refusal(const cg_spec *spec, const serve_options *o, char *buf,
                                         size_t len)
{
    size_t n_skill = spec->n_skill < MAX_ADAPTERS ? spec->n_skill : MAX_ADAPTERS;
    if (n_skill != cg__rt.n_skill) {
        snprintf(buf, len,
                 "it has %zu skill adapters, not %zu; adapters come and go only with a restart",
                 n_skill, cg__rt.n_skill);
        return buf;
    }
    for (size_t i = 0; i < n_skill; i++) {
        const cg_skill_adapter *a = &spec->skill[i], *was = cg__rt.skill[i].adapter;
        bool port_fixed = i == 0 && o->skill_port >= 0;
        if ((!port_fixed && a->port != was->port) ||
            strcmp(cg__rt_bind_address(a->address), cg__rt_bind_address(was->address))) {
            snprintf(buf, len,
                     "the skill adapter %s moves to %s:%d; ports and addresses change only "
                     "with a restart",
                     a->namespace_ ? a->namespace_ : "", cg__rt_bind_address(a->address), a->port);
            return buf;
        }
    }
    const cg_control_adapter *c = spec->control, *was = cg__rt.spec->control;
    if (!c != !was) {
        snprintf(buf, len, "the control adapter %s; adapters come and go only with a restart",
                 c ? "is new" : "is gone");
        return buf;
    }
    if (!c) return NULL;
    if ((o->control_port < 0 && c->port != was->port) ||
        strcmp(cg__rt_bind_address(c->address), cg__rt_bind_address(was->address))) {
        snprintf(buf, len,
                 "the control adapter moves to %s:%d; ports and addresses change only with a "
                 "restart",
                 cg__rt_bind_address(c->address), c->port);
        return buf;
    }
    /* tracing is process-wide, started once from the control adapter (runtime.c) */
    bool on = c->observability && (c->traces || c->otlp_endpoint),
         was_on = was->observability && (was->traces || was->otlp_endpoint);
    if (on != was_on ||
        (on && (c->traces != was->traces || (c->traces && c->trace_buffer != was->trace_buffer) ||
                c->trace_sampling != was->trace_sampling ||
                !same_str(c->otlp_endpoint, was->otlp_endpoint)))) {
        snprintf(buf, len,
                 "the control adapter's traces (on/off, sampling, buffer size, OTLP exporter) "
                 "change only with a restart");
        return buf;
    }
    return NULL;
}

/* Can spec replace the running one? Ports, addresses and the set of adapters stay as they
 * were bound. NULL, or why not (in buf). */
static const char *reload_refusal(const cg_spec *spec, const serve_options *o, char *buf,
                                  size_t len)
{
    const char *unknown = cg_ls_unknown_profile(spec, o->profiles, o->n_profiles);
    if (unknown) {
        snprintf(buf, len, "--profile %s=label-studio: it consumes no API named '%s'", unknown,
                 unknown);
        return buf;
    }
    const cg_mcp_adapter *m = cg__rt_pick_mcp(spec, o);
    if (!m != !cg__rt.mcp) {
        snprintf(buf, len, "the MCP adapter %s; adapters come and go only with a restart",
                 m ? "is new" : "is gone");
        return buf;
    }
    if (m && ((o->mcp_port < 0 && m->port != cg__rt.mcp_adapter->port) ||
              (!o->listen_addr && strcmp(cg__rt_bind_address(m->address),
                                         cg__rt_bind_address(cg__rt.mcp_adapter->address))))) {
        snprintf(buf, len,
                 "the MCP adapter moves to %s:%d; ports and addresses change only "
                 "with a restart",
                 cg__rt_bind_address(m->address), m->port);
        return buf;
    }
    if (o->mcp_only) return NULL;
    size_t n_rest = spec->n_rest < MAX_ADAPTERS ? spec->n_rest : MAX_ADAPTERS;
    if (n_rest != cg__rt.n_rest) {
        snprintf(buf, len,
                 "it has %zu REST adapters, not %zu; adapters come and go only with "
                 "a restart",
                 n_rest, cg__rt.n_rest);
        return buf;
    }
    for (size_t i = 0; i < n_rest; i++) {
        const cg_rest_adapter *a = &spec->rest[i], *was = cg__rt.rest[i].adapter;
        bool port_fixed = i == 0 && o->listen_port >= 0;
        if ((!port_fixed && a->port != was->port) ||
            (!o->listen_addr &&
             strcmp(cg__rt_bind_address(a->address), cg__rt_bind_address(was->address)))) {
            snprintf(buf, len,
                     "the REST adapter %s moves to %s:%d; ports and addresses change "
                     "only with a restart",
                     a->namespace_ ? a->namespace_ : "", cg__rt_bind_address(a->address), a->port);
            return buf;
        }
    }
    return skill_control_refusal(spec, o, buf, len);
}

/* The adapters as the control port lists them: gen0's ports (they never move) and types,
 * with g's namespaces (an adapter may be renamed). */
static void build_sites(generation *g)
{
    size_t rest = 0, skill = 0;
    for (size_t i = 0; i < cg__rt.gen0.n_sites; i++) {
        cg_control_site s = cg__rt.gen0.sites[i];
        if (!strcmp(s.type, "rest")) s.namespace_ = g->spec->rest[rest++].namespace_;
        else if (!strcmp(s.type, "skill")) s.namespace_ = g->spec->skill[skill++].namespace_;
        else if (!strcmp(s.type, "mcp") && g->mcp_adapter)
            s.namespace_ = g->mcp_adapter->namespace_;
        g->sites[g->n_sites++] = s;
    }
}

/* The derived parts of a new generation: OpenAPI documents on the bound ports, the MCP
 * core, whether the tools changed, the control port's adapter list. 0, or -1 (memory). */
static int build_generation(generation *g, const serve_options *o)
{
    for (size_t i = 0; i < cg__rt.n_rest; i++) {
        const rest_site *rs = &cg__rt.rest[i];
        cg_buf doc = CG_BUF_INIT, url = CG_BUF_INIT;
        cg_buf_printf(&url, strchr(rs->address, ':') ? "http://[%s]:%d" : "http://%s:%d",
                      rs->address, rs->port);
        int rc = url.data ? cg_rest_openapi(g->spec, &g->spec->rest[i], url.data, &doc) : -1;
        cg_buf_free(&url);
        if (rc < 0) {
            cg_buf_free(&doc);
            return -1;
        }
        g->openapi_len[i] = doc.len;
        g->openapi[i] = cg_buf_steal(&doc);
    }
    g->mcp_adapter = cg__rt.mcp ? cg__rt_pick_mcp(g->spec, o) : NULL;
    if (g->mcp_adapter) {
        if (!(g->mcp_core = cg_mcp_shared_core_create(cg__rt.mcp, g->spec, g->mcp_adapter)))
            return -1;
        json_t *before = cg_mcp_tools_json(cg__rt.gen->mcp_adapter);
        json_t *after = cg_mcp_tools_json(g->mcp_adapter);
        g->tools_changed = !before || !after || !json_equal(before, after);
        json_decref(before);
        json_decref(after);
    }
    build_sites(g);
    return 0;
}

/* The scripting settings a control adapter declares, as a policy view (strings borrowed
 * from a policy the caller frees). */
static bool scripting_of(const cg_control_adapter *c, cg_script_policy **p,
                         cg_script_policy_view *v)
{
    *p = cg_script_policy_create(c);
    if (*p) cg_script_policy_get(*p, v);
    return *p != NULL;
}

static bool same_scripting(const cg_script_policy_view *a, const cg_script_policy_view *b)
{
    if (a->enabled != b->enabled || a->timeout_ms != b->timeout_ms ||
        a->statement_limit != b->statement_limit || a->n_languages != b->n_languages ||
        !same_str(a->default_location, b->default_location) ||
        !same_str(a->default_language, b->default_language))
        return false;
    for (int i = 0; i < a->n_languages; i++)
        if (!same_str(a->languages[i], b->languages[i])) return false;
    return true;
}

/* When the new spec's management.scripting differs from the running one's, its settings
 * replace the process's (also those PUT /scripting set); when it is the same, they stay. */
static void reload_scripting(const cg_spec *before, const cg_spec *after, const char *cmd)
{
    if (!cg__rt.scripts || !after->control) return;
    cg_script_policy *pb = NULL, *pa = NULL;
    cg_script_policy_view vb, va;
    if (scripting_of(before->control, &pb, &vb) && scripting_of(after->control, &pa, &va) &&
        !same_scripting(&vb, &va)) {
        if (cg_script_policy_set(cg__rt.scripts, &va) < 0)
            cg_log(CG_LOG_ERROR, cmd, "SIGHUP: out of memory: the scripting settings stay");
        else cg_log(CG_LOG_INFO, cmd, "SIGHUP: the spec's scripting settings apply");
    }
    cg_script_policy_free(pb);
    cg_script_policy_free(pa);
}

/* SIGHUP: re-reads the spec (with its imports and bind files) and, when it loads and fits
 * the ports already bound, hands it to every worker. */
void cg__rt_reload(serve_options *o, worker *workers, int started)
{
    unsigned current = cg__rt.gen->number;
    cg_spec *spec = NULL;
    cg_buf errors = CG_BUF_INIT;
    if (cg_spec_load(o->file, &spec, &errors) != CG_SPEC_OK) {
        /* every cause on its own line in the log; the first in /readyz */
        char *line = errors.data, *nl;
        while (line && (nl = strchr(line, '\n'))) {
            *nl = '\0';
            if (*line) cg_log(CG_LOG_ERROR, o->command, "SIGHUP: %s", line);
            line = nl + 1;
        }
        char first[512];
        snprintf(first, sizeof first, "%s does not load: %s", o->file,
                 errors.data && *errors.data ? errors.data : "cannot read it");
        reload_report(o, current, first);
        cg_buf_free(&errors);
        return;
    }
    cg_buf_free(&errors);
    char why[512];
    if (reload_refusal(spec, o, why, sizeof why)) {
        reload_report(o, current, why);
        cg_spec_free(spec);
        return;
    }
    generation *g = calloc(1, sizeof *g);
    if (g) {
        g->spec = spec;
        g->number = current + 1;
        atomic_init(&g->users, 1);
    }
    if (!g || build_generation(g, o) < 0) {
        reload_report(o, current, "out of memory");
        if (g) {
            atomic_store(&g->users, 1);
            cg__rt_generation_unuse(g);
        } else {
            cg_spec_free(spec);
        }
        return;
    }
    reload_scripting(cg__rt.gen->spec, spec, o->command); /* before any request sees spec */
    /* and /readyz says so before any worker serves it: whoever gets an answer from the new
     * generation then reads its number there */
    reload_report(o, g->number, NULL);
    /* one use per worker it is sent to, one as the current generation */
    atomic_fetch_add(&g->users, started);
    for (int i = 0; i < started; i++) {
        cg__rt_generation_unuse(atomic_exchange(&workers[i].next_gen, g)); /* one not yet taken */
        uint64_t one = 1;
        if (write(workers[i].wake_fd, &one, sizeof one) < 0)
            cg_log(CG_LOG_ERROR, o->command, "SIGHUP: cannot wake worker %d", i);
    }
    generation *old = cg__rt.gen;
    cg__rt.gen = g;
    cg__rt_generation_unuse(old);
    size_t routes = 0, skills = 0;
    for (size_t i = 0; i < spec->n_rest; i++)
        for (size_t k = 0; k < spec->rest[i].n_resources; k++)
            routes += spec->rest[i].resources[k].n_ops;
    for (size_t i = 0; i < cg__rt.n_skill; i++) skills += spec->skill[i].n_skills;
    char more[64] = "";
    if (cg__rt.n_skill) snprintf(more, sizeof more, ", %zu skills", skills);
    cg_log(CG_LOG_INFO, o->command,
           "SIGHUP: reloaded %s as generation %u: %zu REST operations, "
           "%zu MCP tools%s%s",
           o->file, g->number, routes, g->mcp_adapter ? g->mcp_adapter->n_tools : 0,
           !g->mcp_adapter    ? ""
           : g->tools_changed ? " (tools changed: list_changed sent)"
                              : " (tools unchanged)",
           more);
}
