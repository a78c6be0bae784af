/*
 * resolve_calls.c — pass 2 of the spec loader for calls: each `call:` to the consumed
 * operation it names, each `with:` entry to a binding for one consumed input, the arguments
 * the exposed operation or tool accepts, and mock mode (no call, static outputs). See
 * resolve.c for the rules of `with:` values.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/resolve_int.h"
#include "spec/spec_internal.h"
#include "spec/template.h"
#include "engine/jsonpath.h"

/* ---- calls ----------------------------------------------------------------------------- */

static const cg_operation *find_called_operation(cg__loader *L, const char *call, cg__pos at)
{
    const cg_spec *S = L->spec;
    const char *dot = strchr(call, '.');
    if (!dot || dot == call || !dot[1] || strchr(dot + 1, '.')) {
        cg__spec_error(L, at.line, at.col,
                       "call '%s' must look like <consumes namespace>.<operation>", call);
        return NULL;
    }
    size_t ns_len = (size_t)(dot - call);
    for (size_t c = 0; c < S->n_consumes; c++) {
        const cg_consumes *api = &S->consumes[c];
        if (!api->namespace_ || strlen(api->namespace_) != ns_len ||
            strncmp(api->namespace_, call, ns_len))
            continue;
        if (L->consumes_broken && L->consumes_broken[c])
            return NULL; /* the failed import was reported; no follow-on message */
        const char *names[256];
        size_t n = 0;
        for (size_t o = 0; o < api->n_ops; o++) {
            if (!strcmp(api->ops[o].name, dot + 1)) return &api->ops[o];
            if (n < 256) names[n++] = api->ops[o].name;
        }
        const char *hint = cg__spec_suggest(dot + 1, names, n);
        cg__spec_error(L, at.line, at.col,
                       "call '%s' names no consumed operation: '%s' has no "
                       "operation '%s'%s%s%s",
                       call, api->namespace_, dot + 1, hint ? " (did you mean '" : "",
                       hint ? hint : "", hint ? "'?)" : "");
        return NULL;
    }
    cg__spec_error(L, at.line, at.col,
                   "call '%s' names no consumed operation: there is no "
                   "consumes namespace '%.*s'",
                   call, (int)ns_len, call);
    return NULL;
}

/* If value is "<prefix>.<name>" with a prefix of this adapter, returns name's offset. A
 * prefix of the other adapter kind is reported. Returns 0 for a literal. */
static size_t argument_reference(cg__loader *L, const adapter_ctx *ax, const char *value,
                                 const yaml_node_t *vn)
{
    const char *dot = strchr(value, '.');
    if (!dot || !dot[1] || strchr(dot + 1, '.') ||
        strspn(dot + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
            strlen(dot + 1))
        return 0;
    size_t len = (size_t)(dot - value);
    if ((strlen(ax->kind) == len && !strncmp(value, ax->kind, len)) ||
        (ax->namespace_ && strlen(ax->namespace_) == len && !strncmp(value, ax->namespace_, len)))
        return len + 1;
    for (int i = 0; i < L->n_aggregate_ns; i++)
        if (strlen(L->aggregate_ns[i]) == len && !strncmp(value, L->aggregate_ns[i], len))
            return len + 1; /* a function's own namespace, merged into a tool or operation */
    const char *other = ax->is_rest ? "tools" : "rest";
    if (strlen(other) == len && !strncmp(value, other, len))
        cg__spec_error_at(L, vn, "'%s' refers to %s, but this is %s", value,
                          ax->is_rest ? "MCP tool arguments" : "REST request values",
                          ax->is_rest ? "a REST operation (use rest.<name>)"
                                      : "an MCP tool (use tools.<name>)");
    return 0;
}

static int route_has_placeholder(const adapter_ctx *ax, const char *name)
{
    for (size_t i = 0; i < ax->n_route; i++)
        if (ax->route[i].name && !strcmp(ax->route[i].name, name)) return 1;
    return 0;
}

/* A declared exposed inputParameter named name, or NULL. */
static const yaml_node_t *declared_in(cg__loader *L, const yaml_node_t *inputs, const char *name)
{
    if (!inputs || inputs->type != YAML_SEQUENCE_NODE) return NULL;
    for (yaml_node_item_t *i = inputs->data.sequence.items.start;
         i < inputs->data.sequence.items.top; i++) {
        yaml_node_t *in = cg__rs_node_at(L, *i);
        if (in->type != YAML_MAPPING_NODE) continue;
        for (yaml_node_pair_t *p = in->data.mapping.pairs.start; p < in->data.mapping.pairs.top;
             p++) {
            const char *k = cg__rs_scalar_of(cg__rs_node_at(L, p->key)),
                       *v = cg__rs_scalar_of(cg__rs_node_at(L, p->value));
            if (k && v && !strcmp(k, "name") && !strcmp(v, name)) return in;
        }
    }
    return NULL;
}

/* The operation's or tool's declared input named name (REST: also the resource's). */
static const yaml_node_t *declared_input(cg__loader *L, const cg__call_pos *at, const char *name)
{
    const yaml_node_t *in = declared_in(L, at->inputs, name);
    return in ? in : declared_in(L, at->resource_inputs, name);
}

static const char *declared_field(cg__loader *L, const yaml_node_t *in, const char *key)
{
    for (yaml_node_pair_t *p = in->data.mapping.pairs.start; p < in->data.mapping.pairs.top; p++) {
        const char *k = cg__rs_scalar_of(cg__rs_node_at(L, p->key));
        if (k && !strcmp(k, key)) return cg__rs_scalar_of(cg__rs_node_at(L, p->value));
    }
    return NULL;
}

static int template_uses(const cg_template *t, const char *name)
{
    for (size_t i = 0; t && i < t->n_parts; i++)
        if (t->parts[i].is_variable && strlen(name) == t->parts[i].len &&
            !strncmp(t->parts[i].text, name, t->parts[i].len))
            return 1;
    return 0;
}

/* Whether some template of op (path, input values, body) reads the named value. */
static int operation_uses(const cg_operation *op, const char *name)
{
    for (size_t i = 0; i < op->n_path_parts; i++)
        if (op->path_parts[i].name && op->path_parts[i].input < 0 &&
            !strcmp(op->path_parts[i].name, name))
            return 1;
    for (size_t i = 0; i < op->n_inputs; i++)
        if (template_uses(op->inputs[i].value, name)) return 1;
    if (op->body) {
        if (template_uses(op->body->data, name)) return 1;
        for (size_t i = 0; i < op->body->n_parts; i++)
            if (template_uses(op->body->parts[i].value, name)) return 1;
    }
    return 0;
}

static void bind_with_entry(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                            const cg__call_pos *at, const yaml_node_t *kn, const yaml_node_t *vn)
{
    const cg_operation *op = call->op;
    const char *key = cg__rs_scalar_of(kn), *value = cg__rs_scalar_of(vn);
    if (!key || !value) {
        cg__spec_error_at(L, key ? vn : kn,
                          "a with entry must map an input name to a string or number");
        return;
    }
    /* a key that names no input is a parameter for the operation's templates (the
     * reference engine's model); one that nothing reads is kept, unused, unless it looks
     * like a misspelt input name */
    int i = cg__rs_find_input_any(op, key);
    if (i < 0 && !operation_uses(op, key)) {
        const char *names[64];
        size_t n = 0;
        for (size_t k = 0; k < op->n_inputs && n < 64; k++) names[n++] = op->inputs[k].name;
        const char *hint = cg__spec_suggest(key, names, n);
        if (hint) {
            cg__spec_error_at(L, kn,
                              "with '%s' references nothing: operation '%s' has no input "
                              "'%s' (did you mean '%s'?)",
                              key, op->name, key, hint);
            return;
        }
    }
    cg_binding b = {CG_SOURCE_NONE, NULL, NULL};
    size_t off = argument_reference(L, ax, value, vn);
    if (!off) {
        const char *why;
        b.kind = CG_SOURCE_LITERAL;
        b.literal = cg_template_parse(L->arena, value, &why);
        if (!b.literal && why) cg__spec_error_at(L, vn, "with '%s': %s", key, why);
    } else {
        const char *arg = value + off;
        int known = !strcmp(arg, key) || declared_input(L, at, arg) != NULL ||
                    (ax->is_rest && route_has_placeholder(ax, arg));
        if (!known) {
            cg__spec_error_at(L, vn,
                              "with '%s': '%s' references nothing: no input parameter%s or "
                              "consumed input named '%s'",
                              key, value, ax->is_rest ? ", path placeholder" : "", arg);
            return;
        }
        if (ax->is_rest && i >= 0 && op->inputs[i].in == CG_IN_PATH &&
            !route_has_placeholder(ax, arg) && !declared_input(L, at, arg)) {
            cg__spec_error_at(L, vn,
                              "with '%s': '%s' references nothing: the REST path has no "
                              "placeholder {%s}",
                              key, value, arg);
            return;
        }
        b.kind = CG_SOURCE_ARGUMENT;
        b.argument = cg_arena_strdup(L->arena, arg);
    }
    if (i >= 0) call->bindings[i] = b;
    else call->params[call->n_params++] = (cg_param){cg_arena_strdup(L->arena, key), b};
}

static cg_location rest_argument_location(cg__loader *L, const adapter_ctx *ax,
                                          const cg__call_pos *at, const char *name,
                                          const cg_input *in)
{
    static const char *const locs[] = {"query", "header", "path", "body", "cookie", NULL};
    const yaml_node_t *decl = declared_input(L, at, name);
    const char *where = decl ? declared_field(L, decl, "in") : NULL;
    for (int i = 0; where && locs[i]; i++)
        if (!strcmp(where, locs[i])) return (cg_location)i;
    if (route_has_placeholder(ax, name)) return CG_IN_PATH;
    if (in && (in->in == CG_IN_BODY || in->in == CG_IN_HEADER)) return in->in;
    return in ? CG_IN_QUERY : CG_IN_BODY;
}

static cg_type declared_type(cg__loader *L, const yaml_node_t *decl, cg_type dflt)
{
    const char *t = decl ? declared_field(L, decl, "type") : NULL;
    for (int i = 0; t && i <= CG_TYPE_ARRAY; i++)
        if (!strcmp(t, cg_type_name((cg_type)i))) return (cg_type)i;
    return dflt;
}

static int has_argument(const cg_call *call, const char *name)
{
    for (size_t a = 0; a < call->n_arguments; a++)
        if (!strcmp(call->arguments[a].name, name)) return 1;
    return 0;
}

/* A declared REST body input's `value: $.path`, compiled (NULL when it has none). */
static const struct cg_jsonpath *declared_body_path(cg__loader *L, const yaml_node_t *decl)
{
    const char *v = decl ? declared_field(L, decl, "value") : NULL;
    if (!v || v[0] != '$') return NULL;
    char why[200];
    int col = 0;
    const struct cg_jsonpath *p = cg_jsonpath_compile(v, L->arena, why, sizeof why, &col);
    if (!p)
        cg__spec_error_at(L, decl,
                          "input value '%s' is not a JSONPath capgate accepts: %s "
                          "(at character %d)",
                          v, why, col);
    return p;
}

/* An incoming value that feeds no consumed input directly (a template variable, a
 * step's or a mock's input): typed and described by its declaration. */
static void add_declared_argument(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                                  const cg__call_pos *at, const char *name)
{
    if (has_argument(call, name)) return;
    const yaml_node_t *decl = declared_input(L, at, name);
    const char *desc = decl ? declared_field(L, decl, "description") : NULL;
    const char *req = decl ? declared_field(L, decl, "required") : NULL;
    cg_argument *arg = &call->arguments[call->n_arguments++];
    arg->name = cg_arena_strdup(L->arena, name);
    arg->type = declared_type(L, decl, CG_TYPE_STRING);
    arg->description = desc ? cg_arena_strdup(L->arena, desc) : NULL;
    arg->input = -1;
    arg->in = ax->is_rest ? rest_argument_location(L, ax, at, name, NULL) : CG_IN_BODY;
    if (ax->is_rest && arg->in == CG_IN_BODY) arg->body_path = declared_body_path(L, decl);
    /* MCP tool inputs are required unless they say otherwise (the schema's default);
     * REST inputs are optional unless in the path */
    arg->required = ax->is_rest ? arg->in == CG_IN_PATH : !req || strcasecmp(req, "false");
    if (ax->is_rest && req) arg->required = !strcasecmp(req, "true");
    if (ax->is_rest && arg->in == CG_IN_PATH) arg->required = 1;
}

static size_t seq_count(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE
               ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
               : 0;
}

/* Builds call->arguments: the values the consumed inputs take from the request (in the
 * order of the inputs), then the other declared inputs and referenced values. */
static void collect_arguments(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                              const cg__call_pos *at)
{
    const cg_operation *op = call->op;
    size_t n_in = op ? op->n_inputs : 0;
    size_t n_uri = 0;
    for (const char *c = ax->uri; c && (c = strchr(c, '{')); c++) n_uri++;
    size_t cap = n_in + call->n_params + seq_count(at->inputs) + seq_count(at->resource_inputs) +
                 (op ? op->n_path_parts : 0) + n_uri + 1;
    call->arguments = cg_arena_alloc(L->arena, cap * sizeof *call->arguments);
    call->cap_arguments = cap;
    for (size_t i = 0; i < n_in; i++) {
        const cg_binding *b = &call->bindings[i];
        const cg_input *in = &op->inputs[i];
        if (b->kind != CG_SOURCE_ARGUMENT || has_argument(call, b->argument))
            continue; /* one incoming value may feed several inputs */
        const yaml_node_t *decl = declared_input(L, at, b->argument);
        const char *desc = decl ? declared_field(L, decl, "description") : NULL;
        const char *req = decl ? declared_field(L, decl, "required") : NULL;
        cg_argument *arg = &call->arguments[call->n_arguments++];
        arg->name = b->argument;
        arg->type = declared_type(L, decl, in->type);
        arg->description = desc ? cg_arena_strdup(L->arena, desc) : in->description;
        arg->is_credential = in->is_credential;
        arg->required = !in->is_credential &&
                        (req ? !strcasecmp(req, "true") : in->required && !in->value);
        arg->in = ax->is_rest ? rest_argument_location(L, ax, at, b->argument, in) : in->in;
        arg->input = (int)i;
        if (ax->is_rest && arg->in == CG_IN_PATH) arg->required = 1;
        if (ax->is_rest && arg->in == CG_IN_BODY) arg->body_path = declared_body_path(L, decl);
    }
    for (size_t p = 0; p < call->n_params; p++)
        if (call->params[p].binding.kind == CG_SOURCE_ARGUMENT)
            add_declared_argument(L, ax, call, at, call->params[p].binding.argument);
    for (const char *c = ax->uri; c && (c = strchr(c, '{'));) {
        const char *end = strchr(++c, '}');
        if (!end) break;
        char *name = cg_arena_strndup(L->arena, c, (size_t)(end - c));
        if (*name && call->n_arguments < cap) add_declared_argument(L, ax, call, at, name);
        c = end;
    }
    const yaml_node_t *lists[2] = {at->inputs, at->resource_inputs};
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < seq_count(lists[l]); i++) {
            const yaml_node_t *in = cg__rs_node_at(L, lists[l]->data.sequence.items.start[i]);
            const char *name = in->type == YAML_MAPPING_NODE ? declared_field(L, in, "name") : NULL;
            if (name && call->n_arguments < cap) add_declared_argument(L, ax, call, at, name);
        }
}

static int with_has_key(cg__loader *L, const cg__call_pos *at, const char *key)
{
    if (!at->with) return 0;
    for (yaml_node_pair_t *p = at->with->data.mapping.pairs.start;
         p < at->with->data.mapping.pairs.top; p++) {
        const char *k = cg__rs_scalar_of(cg__rs_node_at(L, p->key));
        if (k && !strcmp(k, key)) return 1;
    }
    return 0;
}

/* An input the call leaves unfed although the operation needs it is a spec error (unless
 * its with: entry was already reported as broken). */
static void check_required_inputs(cg__loader *L, const cg_call *call, const cg__call_pos *at,
                                  const char *what)
{
    const cg_operation *op = call->op;
    for (size_t i = 0; i < op->n_inputs; i++) {
        const cg_input *in = &op->inputs[i];
        if (in->required && !in->is_credential && !in->value &&
            call->bindings[i].kind == CG_SOURCE_NONE && !with_has_key(L, at, in->name))
            cg__spec_error(L, at->at.line, at->at.col,
                           "%s calls '%s.%s', which requires input '%s', "
                           "but gives it no value (add with: {%s: ...})",
                           what, op->api->namespace_, op->name, in->name, in->name);
    }
}

/* A consumed path placeholder with no `in: path` input takes the call's value of its
 * name: a with: entry or an incoming value. */
static void check_path_values(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                              const cg__call_pos *at, const char *what)
{
    const cg_operation *op = call->op;
    for (size_t i = 0; i < op->n_path_parts; i++) {
        const cg_path_part *part = &op->path_parts[i];
        if (!part->name || part->input >= 0) continue;
        int fed = has_argument(call, part->name);
        for (size_t p = 0; p < call->n_params && !fed; p++)
            fed = !strcmp(call->params[p].name, part->name);
        /* REST: a placeholder of the route of the same name feeds it. MCP: the tool takes it
         * as an argument (the reference engine passes every tool argument to the templates;
         * capgate declares it in the input schema). Either way it becomes a required string
         * argument in the path. */
        if (!fed && (!ax->is_rest || route_has_placeholder(ax, part->name)) &&
            call->n_arguments < call->cap_arguments) {
            call->arguments[call->n_arguments++] = (cg_argument){.name = part->name,
                                                                 .type = CG_TYPE_STRING,
                                                                 .required = true,
                                                                 .in = CG_IN_PATH,
                                                                 .input = -1};
            fed = 1;
        }
        if (!fed)
            cg__spec_error(
                L, at->at.line, at->at.col,
                "%s calls '%s.%s', whose path '%s' needs "
                "{{%s}}, but gives it no value (declare an input or add with: {%s: ...})",
                what, op->api->namespace_, op->name, op->path, part->name, part->name);
    }
}

/* ---- mock mode: no call, outputs with static values ------------------------------------ */

static bool output_has_value(const cg_output *o)
{
    if (o->value) return true;
    for (size_t i = 0; i < o->n_properties; i++)
        if (output_has_value(&o->properties[i])) return true;
    return o->items && output_has_value(o->items);
}

/* An operation or tool without `call` or `steps`: mock mode when its outputs carry static
 * values. Its arguments are its declared inputParameters (they feed the values' templates). */
static void resolve_mock(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                         const cg__call_pos *at, const char *what)
{
    bool values = call->n_outputs > 0;
    for (size_t i = 0; i < call->n_outputs; i++) values &= output_has_value(&call->outputs[i]);
    if (!values) {
        cg__spec_error(L, at->at.line, at->at.col,
                       "%s has no 'call' or 'steps' (and no "
                       "outputParameters with static values, which would make it a mock)",
                       what);
        return;
    }
    call->mock = true;
    collect_arguments(L, ax, call, at);
}

void cg__rs_resolve_call(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                         const cg__call_pos *at, const char *what)
{
    if (!at->call_text) {
        if (call->n_steps)
            collect_arguments(L, ax, call, at); /* orchestrated: the declared inputs */
        else resolve_mock(L, ax, call, at, what);
        return;
    }
    call->op = find_called_operation(L, at->call_text, at->call);
    if (!call->op) return;
    const cg_operation *op = call->op;
    call->bindings = op->n_inputs ? cg_arena_alloc(L->arena, op->n_inputs * sizeof *call->bindings)
                                  : NULL;
    size_t n_with = at->with ? (size_t)(at->with->data.mapping.pairs.top -
                                        at->with->data.mapping.pairs.start)
                             : 0;
    call->params = n_with ? cg_arena_alloc(L->arena, n_with * sizeof *call->params) : NULL;
    if (at->with)
        for (yaml_node_pair_t *p = at->with->data.mapping.pairs.start;
             p < at->with->data.mapping.pairs.top; p++)
            bind_with_entry(L, ax, call, at, cg__rs_node_at(L, p->key),
                            cg__rs_node_at(L, p->value));
    /* reference-engine style: a declared exposed input feeds the consumed input of its name */
    for (size_t i = 0; i < op->n_inputs; i++)
        if (call->bindings[i].kind == CG_SOURCE_NONE && declared_input(L, at, op->inputs[i].name))
            call->bindings[i] = (cg_binding){CG_SOURCE_ARGUMENT, op->inputs[i].name, NULL};
    collect_arguments(L, ax, call, at);
    check_required_inputs(L, call, at, what);
    check_path_values(L, ax, call, at, what);
    const char *names[128];
    size_t n = 0;
    for (size_t a = 0; a < call->n_arguments && n < 128; a++) names[n++] = call->arguments[a].name;
    for (size_t p = 0; p < call->n_params && n < 128; p++) names[n++] = call->params[p].name;
    for (size_t i = 0; i < op->n_inputs && n < 128; i++) names[n++] = op->inputs[i].name;
    for (size_t i = 0; i < op->n_inputs; i++)
        cg__rs_check_template(L, op->inputs[i].value, at->at.line, at->at.col, "input value", names,
                              n);
    for (size_t i = 0; i < op->n_inputs; i++)
        if (call->bindings[i].kind == CG_SOURCE_LITERAL)
            cg__rs_check_template(L, call->bindings[i].literal, at->at.line, at->at.col,
                                  "with value", names, n);
    for (size_t p = 0; p < call->n_params; p++)
        if (call->params[p].binding.kind == CG_SOURCE_LITERAL)
            cg__rs_check_template(L, call->params[p].binding.literal, at->at.line, at->at.col,
                                  "with value", names, n);
}
