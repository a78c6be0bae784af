/*
 * steps.c — running an orchestrated operation's steps. See steps.h.
 *
 * A run walks call->steps in order. A call step hands over to the owner (io->start_call)
 * and resumes in cg_steps_call_done; a script step hands over to script.c and resumes in
 * on_script; a lookup step runs at once. Every resumption goes through advance(), which
 * either starts the next step or, after the last one, evaluates the mappings and reports.
 * The first step is started from a zero-delay timer so that no report ever happens inside
 * cg_steps_start.
 */
#include "engine/steps.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/formats.h"
#include "engine/jsonpath.h"

struct cg_steps_run {
    const cg_call *call;
    cg_steps_io io;
    json_t *context; /* step name -> result */
    size_t next;     /* index of the step to run next */
    uint64_t timer;
    cg_script *script; /* the script step in progress */
    cg_script_job *script_job;
    int calling; /* a call step is in progress */
};

static void run_free(cg_steps_run *run)
{
    json_decref(run->context);
    cg_script_free(run->script);
    free(run);
}

static void finish(cg_steps_run *run, cg_steps_status status, json_t *mapped, int upstream_status,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void finish(cg_steps_run *run, cg_steps_status status, json_t *mapped, int upstream_status,
                   const char *fmt, ...)
{
    char message[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
    }
    run->io.finished(run->io.ctx, status, mapped, fmt ? message : NULL, upstream_status);
    run_free(run);
}

static const cg_step *current(const cg_steps_run *run)
{
    return &run->call->steps[run->next - 1];
}

static void advance(cg_steps_run *run);

/* Keeps a step's result under its name; takes the reference. */
static int keep(cg_steps_run *run, const cg_step *st, json_t *result)
{
    if (!result) result = json_null();
    return json_object_set_new(run->context, st->name, result);
}

/* ---- lookup ------------------------------------------------------------------------- */

static json_t *project(const json_t *entry, const cg_step *st)
{
    json_t *out = json_object();
    for (size_t f = 0; out && f < st->n_fields; f++) {
        json_t *v = json_object_get(entry, st->fields[f]);
        json_object_set(out, st->fields[f], v ? v : json_null());
    }
    return out;
}

static bool same_value(const json_t *a, const json_t *b)
{
    if (json_equal(a, b)) return true;
    /* "42" and 42 name the same entry: compare scalars as text */
    char *x = json_is_string(a) ? strdup(json_string_value(a)) : json_dumps(a, JSON_ENCODE_ANY);
    char *y = json_is_string(b) ? strdup(json_string_value(b)) : json_dumps(b, JSON_ENCODE_ANY);
    bool same = x && y && !json_is_object(a) && !json_is_array(a) && !strcmp(x, y);
    free(x);
    free(y);
    return same;
}

/* The first entry of table whose match field equals value, projected; NULL when none. */
static json_t *find_entry(const json_t *table, const cg_step *st, const json_t *value)
{
    size_t i;
    json_t *entry;
    json_array_foreach(table, i, entry)
    {
        const json_t *key = json_object_get(entry, st->match);
        if (key && same_value(key, value)) return project(entry, st);
    }
    return NULL;
}

static void run_lookup(cg_steps_run *run, const cg_step *st)
{
    json_t *table = json_object_get(run->context, st->index);
    json_t *wanted = NULL;
    if (cg_jsonpath_eval(st->lookup_path, run->context, &wanted) != CG_JSONPATH_OK) {
        finish(run, CG_STEPS_INTERNAL, NULL, 0,
               "step '%s': lookupValue '%s' visited too many "
               "nodes",
               st->name, st->lookup_value);
        return;
    }
    if (!json_is_array(table)) {
        json_decref(wanted);
        finish(run, CG_STEPS_BAD_ANSWER, NULL, 0,
               "step '%s': the index step '%s' did not give "
               "an array",
               st->name, st->index);
        return;
    }
    json_t *result;
    if (json_is_array(wanted)) {
        result = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(wanted, i, v)
        {
            json_t *hit = find_entry(table, st, v);
            if (hit) json_array_append_new(result, hit);
        }
    } else {
        result = wanted ? find_entry(table, st, wanted) : NULL;
    }
    json_decref(wanted);
    if (keep(run, st, result) < 0) {
        finish(run, CG_STEPS_INTERNAL, NULL, 0, "out of memory");
        return;
    }
    advance(run);
}

/* ---- script ------------------------------------------------------------------------- */

static void on_script(void *arg, cg_script_status status, json_t *result, const char *error)
{
    cg_steps_run *run = arg;
    const cg_step *st = current(run);
    run->script_job = NULL;
    cg_script_free(run->script);
    run->script = NULL;
    if (status != CG_SCRIPT_OK) {
        finish(run, CG_STEPS_SCRIPT, NULL, 0, "%s", error ? error : "the script failed");
        return;
    }
    if (keep(run, st, json_incref(result)) < 0) {
        finish(run, CG_STEPS_INTERNAL, NULL, 0, "out of memory");
        return;
    }
    advance(run);
}

/* The script's `context`: the inputs, every earlier step's result by name, then the step's
 * own with: values (the reference engine's order: later keys win). */
static json_t *script_context(cg_steps_run *run, const cg_step *st)
{
    json_t *ctx = run->io.inputs ? run->io.inputs(run->io.ctx) : json_object();
    if (!ctx) return NULL;
    json_object_update(ctx, run->context);
    for (size_t i = 0; i < st->n_with; i++) {
        cg_buf b = CG_BUF_INIT;
        if (run->io.render(run->io.ctx, st->with[i].binding.literal, &b) == 0)
            json_object_set_new(ctx, st->with[i].name, json_stringn(b.data ? b.data : "", b.len));
        cg_buf_free(&b);
    }
    return ctx;
}

static void run_script(cg_steps_run *run, const cg_step *st)
{
    char err[512];
    cg_script_spec spec = {
        .name = st->name,
        .language = st->language,
        .location = st->location,
        .file = st->file,
        .dependencies = st->dependencies,
        .n_dependencies = st->n_dependencies,
    };
    run->script = cg_script_load(&spec, run->io.scripts, err, sizeof err);
    if (!run->script) {
        finish(run, CG_STEPS_SCRIPT, NULL, 0, "%s", err);
        return;
    }
    json_t *ctx = script_context(run, st);
    run->script_job = ctx ? cg_script_run(run->io.loop, run->script, ctx, &run->io.script_limits,
                                          on_script, run)
                          : NULL;
    json_decref(ctx);
    if (!run->script_job)
        finish(run, CG_STEPS_INTERNAL, NULL, 0, "step '%s': out of memory", st->name);
}

/* ---- the run ------------------------------------------------------------------------ */

/* Sets obj's member at a dotted target ("route.from" → {"route": {"from": v}}); takes v. */
static void set_target(json_t *obj, const char *target, json_t *v)
{
    const char *dot;
    while ((dot = strchr(target, '.')) && dot != target && dot[1]) {
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(dot - target), target);
        json_t *inner = json_object_get(obj, key);
        if (!json_is_object(inner)) {
            inner = json_object();
            json_object_set_new(obj, key, inner);
        }
        obj = inner;
        target = dot + 1;
    }
    json_object_set_new(obj, target, v);
}

/* A consumed operation's own named outputs (`value: $.imo_number`), which the reference
 * engine applies in orchestrated steps: each is added to the answer (to each element of an
 * array answer) under its name, so lookups can match on it. */
static int add_step_outputs(const cg_operation *op, json_t *doc)
{
    for (size_t o = 0; o < op->n_outputs; o++) {
        const cg_output *out = &op->outputs[o];
        if (!out->name || !out->path || cg_jsonpath_is_root(out->path)) continue;
        size_t n = json_is_array(doc) ? json_array_size(doc) : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *el = json_is_array(doc) ? json_array_get(doc, i) : doc, *v = NULL;
            if (!json_is_object(el)) continue;
            if (cg_jsonpath_eval(out->path, el, &v) != CG_JSONPATH_OK) return -1;
            json_object_set_new(el, out->name, v ? v : json_null());
        }
    }
    return 0;
}

static void map_and_finish(cg_steps_run *run)
{
    const cg_call *call = run->call;
    json_t *mapped = json_object();
    for (size_t i = 0; mapped && i < call->n_mappings; i++) {
        const cg_mapping *m = &call->mappings[i];
        json_t *v = NULL;
        if (cg_jsonpath_eval(m->path, run->context, &v) != CG_JSONPATH_OK) {
            json_decref(mapped);
            finish(run, CG_STEPS_INTERNAL, NULL, 0, "mapping '%s': '%s' visited too many nodes",
                   m->target, m->value);
            return;
        }
        set_target(mapped, m->target, v ? v : json_null());
    }
    if (!mapped) {
        finish(run, CG_STEPS_INTERNAL, NULL, 0, "out of memory");
        return;
    }
    /* no mappings: the last step's result is the answer */
    if (!call->n_mappings) {
        json_decref(mapped);
        mapped = json_incref(json_object_get(run->context, call->steps[call->n_steps - 1].name));
        if (!mapped) mapped = json_null();
    }
    finish(run, CG_STEPS_OK, mapped, 0, NULL);
}

static void advance(cg_steps_run *run)
{
    if (run->next == run->call->n_steps) {
        map_and_finish(run);
        return;
    }
    const cg_step *st = &run->call->steps[run->next++];
    switch (st->kind) {
    case CG_STEP_CALL: {
        char err[320] = "";
        run->calling = 1;
        if (run->io.start_call(run->io.ctx, st, err, sizeof err) < 0) {
            run->calling = 0;
            finish(run, CG_STEPS_ARGUMENT, NULL, 0, "step '%s': %s", st->name, err);
        }
        break;
    }
    case CG_STEP_LOOKUP: run_lookup(run, st); break;
    case CG_STEP_SCRIPT: run_script(run, st); break;
    }
}

static void on_start(cg_loop *loop, void *arg)
{
    cg_steps_run *run = arg;
    run->timer = 0;
    advance(run);
}

cg_steps_run *cg_steps_start(const cg_call *call, const cg_steps_io *io)
{
    cg_steps_run *run = calloc(1, sizeof *run);
    if (!run) return NULL;
    run->call = call;
    run->io = *io;
    run->context = json_object();
    run->timer = run->context ? cg_loop_timer_add(io->loop, 0, on_start, run) : 0;
    if (!run->timer) {
        run_free(run);
        return NULL;
    }
    return run;
}

void cg_steps_call_done(cg_steps_run *run, int status, const char *body, size_t len,
                        cg_steps_status error, const char *message)
{
    const cg_step *st = current(run);
    run->calling = 0;
    if (error != CG_STEPS_OK) {
        finish(run, error, NULL, status, "step '%s' failed: %s", st->name,
               message ? message : "no answer");
        return;
    }
    if (status >= 400) {
        finish(run, CG_STEPS_UPSTREAM, NULL, status,
               "step '%s' failed: the upstream answered "
               "HTTP %d%s%.*s",
               st->name, status, len ? ": " : "", (int)(len > 200 ? 200 : len), body ? body : "");
        return;
    }
    json_t *doc = NULL;
    if (len) {
        char err[256] = "";
        const cg_operation *op = st->call.op;
        doc = cg_format_to_json(op->output_format, op->output_schema, body, len, err, sizeof err);
        if (!doc) {
            finish(run, CG_STEPS_BAD_ANSWER, NULL, status, "step '%s': the upstream answer is %s",
                   st->name, err);
            return;
        }
    }
    if (doc && add_step_outputs(st->call.op, doc) < 0) {
        json_decref(doc);
        finish(run, CG_STEPS_INTERNAL, NULL, 0,
               "step '%s': an output mapping visited too many "
               "nodes",
               st->name);
        return;
    }
    if (keep(run, st, doc) < 0) {
        finish(run, CG_STEPS_INTERNAL, NULL, 0, "out of memory");
        return;
    }
    advance(run);
}

void cg_steps_cancel(cg_steps_run *run)
{
    if (!run) return;
    if (run->timer) cg_loop_timer_cancel(run->io.loop, run->timer);
    if (run->script_job) cg_script_cancel(run->script_job);
    if (run->calling && run->io.cancel_call) run->io.cancel_call(run->io.ctx);
    run_free(run);
}
