/*
 * resolve.c — pass 2 of the spec loader: everything that connects one part of a spec to
 * another, decided once so that no request ever has to.
 *
 *  - consumed operations: path placeholders ↔ `in: path` inputs, credential inputs;
 *  - exposed adapters: unique namespaces and ports, unique routes and tool names;
 *  - each `call:` → the consumed operation, and each `with:` entry → a binding for one
 *    consumed input (an incoming argument such as rest.id / tools.id, or a literal
 *    template), then the list of arguments the exposed operation or tool accepts;
 *  - template variables: each must name a bound variable or an argument.
 *
 * capgate's rules for `with:` values: "<prefix>.<name>" is a reference to the incoming value
 * <name> when <prefix> is the adapter's kind ("rest" for REST, "tools" for MCP) or its
 * namespace; any other string (or number) is a literal template.
 *
 * Size: every rule that connects two parts of a spec, in one pass over the loader's recorded
 * positions (spec_internal.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/spec_internal.h"
#include "spec/template.h"
#include "engine/jsonpath.h"

static const char *scalar_of(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node_at(cg__loader *L, int id)
{
    return yaml_document_get_node(&L->doc, id);
}

/* ---- template variables ------------------------------------------------------------ */

static int is_bound_variable(const cg_spec *S, const char *name, size_t len)
{
    const char *dot = memchr(name, '.', len);
    for (size_t b = 0; b < S->n_binds; b++) {
        const cg_bind *bd = &S->binds[b];
        size_t ns_len = dot ? (size_t)(dot - name) : 0;
        if (dot && (!bd->namespace_ || strlen(bd->namespace_) != ns_len ||
                    strncmp(bd->namespace_, name, ns_len)))
            continue;
        const char *key = dot ? dot + 1 : name;
        size_t key_len = dot ? len - ns_len - 1 : len;
        for (size_t k = 0; k < bd->n_keys; k++)
            if (strlen(bd->keys[k].name) == key_len && !strncmp(bd->keys[k].name, key, key_len))
                return 1;
    }
    return 0;
}

/* Reports each variable of t that is neither bound nor one of the names in args. */
static void check_template(cg__loader *L, const cg_template *t, int line, int col,
                           const char *where, const char *const *args, size_t n_args)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_parts; i++) {
        const cg_template_part *p = &t->parts[i];
        if (!p->is_variable || is_bound_variable(L->spec, p->text, p->len) || L->consumes_only)
            continue;   /* a shared consumes document's binds are its importer's */
        int found = 0;
        for (size_t a = 0; a < n_args && !found; a++)
            found = strlen(args[a]) == p->len && !strncmp(args[a], p->text, p->len);
        if (!found)
            cg__spec_error(L, line, col, "%s: template variable '%.*s' is not declared in binds",
                           where, (int)p->len, p->text);
    }
}

/* ---- consumed operations ------------------------------------------------------------ */

static int find_input(const cg_operation *op, const char *name, cg_location in)
{
    for (size_t i = 0; i < op->n_inputs; i++)
        if (op->inputs[i].in == in && !strcmp(op->inputs[i].name, name))
            return (int)i;
    return -1;
}

static int find_input_any(const cg_operation *op, const char *name)
{
    for (size_t i = 0; i < op->n_inputs; i++)
        if (!strcmp(op->inputs[i].name, name))
            return (int)i;
    return -1;
}

static int is_credential_input(const cg_auth *auth, const cg_input *in)
{
    if (auth->type == CG_AUTH_APIKEY && auth->key)
        return (auth->in_query ? in->in == CG_IN_QUERY : in->in == CG_IN_HEADER) &&
               !strcasecmp(in->name, auth->key);
    return in->in == CG_IN_HEADER && !strcasecmp(in->name, "Authorization");
}

static void resolve_operation(cg__loader *L, cg_consumes *c, cg_operation *op, const cg__op_pos *at)
{
    cg__pos pp = at->path;
    int path_ok = 0;
    if (op->path) {
        const char *why;
        int n = cg_path_parse(L->arena, op->path, &op->path_parts, &why);
        if (n < 0) {
            if (why)
                cg__spec_error(L, pp.line, pp.col, "path '%s': %s", op->path, why);
        } else {
            op->n_path_parts = (size_t)n;
            path_ok = 1;
        }
    }
    for (size_t i = 0; i < op->n_path_parts; i++) {
        cg_path_part *part = &op->path_parts[i];
        if (!part->name)
            continue;
        part->input = find_input(op, part->name, CG_IN_PATH);
        /* no `in: path` input: the value comes from the call's with: or arguments by
         * name, as the reference engine fills {{x}} (checked per call) */
    }
    const char *names[64];
    size_t n_names = 0;
    for (size_t i = 0; i < op->n_inputs; i++) {
        cg_input *in = &op->inputs[i];
        if (n_names < 64)
            names[n_names++] = in->name;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(op->inputs[j].name, in->name) && op->inputs[j].in == in->in)
                cg__spec_error(L, in->line, in->col, "duplicate input parameter '%s' in operation '%s'",
                               in->name, op->name);
        in->is_credential = is_credential_input(&c->auth, in);
        if (in->in == CG_IN_PATH) {
            int used = 0;
            for (size_t p = 0; p < op->n_path_parts; p++)
                used |= op->path_parts[p].input == (int)i;
            if (!used && path_ok)
                cg__spec_error(L, in->line, in->col, "input '%s' is in: path but path '%s' has no "
                               "placeholder {%s}", in->name, op->path, in->name);
        }
        if (in->in == CG_IN_BODY && in->type != CG_TYPE_OBJECT && in->type != CG_TYPE_ARRAY &&
            in->type != CG_TYPE_STRING)
            cg__spec_error(L, in->line, in->col, "body input '%s' must have type object, array "
                           "or string", in->name);
    }
    (void)names;    /* input value templates are checked per call (check_call_templates) */
}

void cg__spec_resolve_consumes_entry(cg__loader *L, size_t c)
{
    cg_consumes *api = &L->spec->consumes[c];
    cg__pos at = L->consumes_at[c];
    const cg_auth *auth = &api->auth;
    check_template(L, auth->value, at.line, at.col, "authentication value", NULL, 0);
    check_template(L, auth->token, at.line, at.col, "authentication token", NULL, 0);
    check_template(L, auth->username, at.line, at.col, "authentication username", NULL, 0);
    check_template(L, auth->password, at.line, at.col, "authentication password", NULL, 0);
    for (size_t o = 0; o < api->n_ops; o++) {
        cg_operation *op = &api->ops[o];
        const cg__op_pos *opat = &L->op_at[c][o];
        for (size_t p = 0; p < o; p++)
            if (!strcmp(api->ops[p].name, op->name)) {   /* once, against the first */
                cg__spec_error(L, opat->at.line, opat->at.col,
                               "duplicate operation name '%s' in consumes '%s' (first at line %d)",
                               op->name, api->namespace_ ? api->namespace_ : "",
                               L->op_at[c][p].at.line);
                break;
            }
        if (!op->method)
            op->method = "GET";
        resolve_operation(L, api, op, opat);
    }
}

static void resolve_consumes(cg__loader *L)
{
    cg_spec *S = L->spec;
    for (size_t c = 0; c < S->n_consumes; c++) {
        cg_consumes *api = &S->consumes[c];
        cg__pos at = L->consumes_at[c];
        for (size_t d = 0; d < c; d++)
            if (api->namespace_ && S->consumes[d].namespace_ &&
                !strcmp(api->namespace_, S->consumes[d].namespace_))
                cg__spec_error(L, at.line, at.col, "duplicate consumes namespace '%s' (first at line %d)",
                               api->namespace_, L->consumes_at[d].line);
        if (!L->consumes_imported || !L->consumes_imported[c])
            cg__spec_resolve_consumes_entry(L, c);
    }
}

/* ---- calls ----------------------------------------------------------------------------- */

typedef struct adapter_ctx {
    const char *kind;           /* "rest" or "tools": the generated dialect's prefix */
    const char *namespace_;
    int is_rest;
    const cg_path_part *route;  /* REST: the resource path's parts */
    size_t n_route;
    const char *uri;            /* MCP resource: its URI, whose {name}s are arguments */
} adapter_ctx;

static const cg_operation *find_called_operation(cg__loader *L, const char *call, cg__pos at)
{
    const cg_spec *S = L->spec;
    const char *dot = strchr(call, '.');
    if (!dot || dot == call || !dot[1] || strchr(dot + 1, '.')) {
        cg__spec_error(L, at.line, at.col, "call '%s' must look like <consumes namespace>.<operation>",
                       call);
        return NULL;
    }
    size_t ns_len = (size_t)(dot - call);
    for (size_t c = 0; c < S->n_consumes; c++) {
        const cg_consumes *api = &S->consumes[c];
        if (!api->namespace_ || strlen(api->namespace_) != ns_len || strncmp(api->namespace_, call, ns_len))
            continue;
        if (L->consumes_broken && L->consumes_broken[c])
            return NULL;    /* the failed import was reported; no follow-on message */
        const char *names[256];
        size_t n = 0;
        for (size_t o = 0; o < api->n_ops; o++) {
            if (!strcmp(api->ops[o].name, dot + 1))
                return &api->ops[o];
            if (n < 256)
                names[n++] = api->ops[o].name;
        }
        const char *hint = cg__spec_suggest(dot + 1, names, n);
        cg__spec_error(L, at.line, at.col, "call '%s' names no consumed operation: '%s' has no "
                       "operation '%s'%s%s%s", call, api->namespace_, dot + 1,
                       hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
        return NULL;
    }
    cg__spec_error(L, at.line, at.col, "call '%s' names no consumed operation: there is no "
                   "consumes namespace '%.*s'", call, (int)ns_len, call);
    return NULL;
}

/* If value is "<prefix>.<name>" with a prefix of this adapter, returns name's offset. A
 * prefix of the other adapter kind is reported. Returns 0 for a literal. */
static size_t argument_reference(cg__loader *L, const adapter_ctx *ax, const char *value,
                                 const yaml_node_t *vn)
{
    const char *dot = strchr(value, '.');
    if (!dot || !dot[1] || strchr(dot + 1, '.') || strspn(dot + 1,
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(dot + 1))
        return 0;
    size_t len = (size_t)(dot - value);
    if ((strlen(ax->kind) == len && !strncmp(value, ax->kind, len)) ||
        (ax->namespace_ && strlen(ax->namespace_) == len && !strncmp(value, ax->namespace_, len)))
        return len + 1;
    for (int i = 0; i < L->n_aggregate_ns; i++)
        if (strlen(L->aggregate_ns[i]) == len && !strncmp(value, L->aggregate_ns[i], len))
            return len + 1;     /* a function's own namespace, merged into a tool or operation */
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
        if (ax->route[i].name && !strcmp(ax->route[i].name, name))
            return 1;
    return 0;
}

/* A declared exposed inputParameter named name, or NULL. */
static const yaml_node_t *declared_in(cg__loader *L, const yaml_node_t *inputs, const char *name)
{
    if (!inputs || inputs->type != YAML_SEQUENCE_NODE)
        return NULL;
    for (yaml_node_item_t *i = inputs->data.sequence.items.start; i < inputs->data.sequence.items.top; i++) {
        yaml_node_t *in = node_at(L, *i);
        if (in->type != YAML_MAPPING_NODE)
            continue;
        for (yaml_node_pair_t *p = in->data.mapping.pairs.start; p < in->data.mapping.pairs.top; p++) {
            const char *k = scalar_of(node_at(L, p->key)), *v = scalar_of(node_at(L, p->value));
            if (k && v && !strcmp(k, "name") && !strcmp(v, name))
                return in;
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
        const char *k = scalar_of(node_at(L, p->key));
        if (k && !strcmp(k, key))
            return scalar_of(node_at(L, p->value));
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
        if (op->path_parts[i].name && op->path_parts[i].input < 0 && !strcmp(op->path_parts[i].name, name))
            return 1;
    for (size_t i = 0; i < op->n_inputs; i++)
        if (template_uses(op->inputs[i].value, name))
            return 1;
    if (op->body) {
        if (template_uses(op->body->data, name))
            return 1;
        for (size_t i = 0; i < op->body->n_parts; i++)
            if (template_uses(op->body->parts[i].value, name))
                return 1;
    }
    return 0;
}

static void bind_with_entry(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                            const cg__call_pos *at, const yaml_node_t *kn, const yaml_node_t *vn)
{
    const cg_operation *op = call->op;
    const char *key = scalar_of(kn), *value = scalar_of(vn);
    if (!key || !value) {
        cg__spec_error_at(L, key ? vn : kn, "a with entry must map an input name to a string or number");
        return;
    }
    /* a key that names no input is a parameter for the operation's templates (the
     * reference engine's model); one that nothing reads is kept, unused, unless it looks
     * like a misspelt input name */
    int i = find_input_any(op, key);
    if (i < 0 && !operation_uses(op, key)) {
        const char *names[64];
        size_t n = 0;
        for (size_t k = 0; k < op->n_inputs && n < 64; k++)
            names[n++] = op->inputs[k].name;
        const char *hint = cg__spec_suggest(key, names, n);
        if (hint) {
            cg__spec_error_at(L, kn, "with '%s' references nothing: operation '%s' has no input "
                              "'%s' (did you mean '%s'?)", key, op->name, key, hint);
            return;
        }
    }
    cg_binding b = {CG_SOURCE_NONE, NULL, NULL};
    size_t off = argument_reference(L, ax, value, vn);
    if (!off) {
        const char *why;
        b.kind = CG_SOURCE_LITERAL;
        b.literal = cg_template_parse(L->arena, value, &why);
        if (!b.literal && why)
            cg__spec_error_at(L, vn, "with '%s': %s", key, why);
    } else {
        const char *arg = value + off;
        int known = !strcmp(arg, key) || declared_input(L, at, arg) != NULL ||
                    (ax->is_rest && route_has_placeholder(ax, arg));
        if (!known) {
            cg__spec_error_at(L, vn, "with '%s': '%s' references nothing: no input parameter%s or "
                              "consumed input named '%s'", key, value,
                              ax->is_rest ? ", path placeholder" : "", arg);
            return;
        }
        if (ax->is_rest && i >= 0 && op->inputs[i].in == CG_IN_PATH &&
            !route_has_placeholder(ax, arg) && !declared_input(L, at, arg)) {
            cg__spec_error_at(L, vn, "with '%s': '%s' references nothing: the REST path has no "
                              "placeholder {%s}", key, value, arg);
            return;
        }
        b.kind = CG_SOURCE_ARGUMENT;
        b.argument = cg_arena_strdup(L->arena, arg);
    }
    if (i >= 0)
        call->bindings[i] = b;
    else
        call->params[call->n_params++] = (cg_param){cg_arena_strdup(L->arena, key), b};
}

static cg_location rest_argument_location(cg__loader *L, const adapter_ctx *ax,
                                          const cg__call_pos *at, const char *name,
                                          const cg_input *in)
{
    static const char *const locs[] = {"query", "header", "path", "body", "cookie", NULL};
    const yaml_node_t *decl = declared_input(L, at, name);
    const char *where = decl ? declared_field(L, decl, "in") : NULL;
    for (int i = 0; where && locs[i]; i++)
        if (!strcmp(where, locs[i]))
            return (cg_location)i;
    if (route_has_placeholder(ax, name))
        return CG_IN_PATH;
    if (in && (in->in == CG_IN_BODY || in->in == CG_IN_HEADER))
        return in->in;
    return in ? CG_IN_QUERY : CG_IN_BODY;
}

static cg_type declared_type(cg__loader *L, const yaml_node_t *decl, cg_type dflt)
{
    const char *t = decl ? declared_field(L, decl, "type") : NULL;
    for (int i = 0; t && i <= CG_TYPE_ARRAY; i++)
        if (!strcmp(t, cg_type_name((cg_type)i)))
            return (cg_type)i;
    return dflt;
}

static int has_argument(const cg_call *call, const char *name)
{
    for (size_t a = 0; a < call->n_arguments; a++)
        if (!strcmp(call->arguments[a].name, name))
            return 1;
    return 0;
}

/* A declared REST body input's `value: $.path`, compiled (NULL when it has none). */
static const struct cg_jsonpath *declared_body_path(cg__loader *L, const yaml_node_t *decl)
{
    const char *v = decl ? declared_field(L, decl, "value") : NULL;
    if (!v || v[0] != '$')
        return NULL;
    char why[200];
    int col = 0;
    const struct cg_jsonpath *p = cg_jsonpath_compile(v, L->arena, why, sizeof why, &col);
    if (!p)
        cg__spec_error_at(L, decl, "input value '%s' is not a JSONPath capgate accepts: %s "
                          "(at character %d)", v, why, col);
    return p;
}

/* An incoming value that feeds no consumed input directly (a template variable, a
 * step's or a mock's input): typed and described by its declaration. */
static void add_declared_argument(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                                  const cg__call_pos *at, const char *name)
{
    if (has_argument(call, name))
        return;
    const yaml_node_t *decl = declared_input(L, at, name);
    const char *desc = decl ? declared_field(L, decl, "description") : NULL;
    const char *req = decl ? declared_field(L, decl, "required") : NULL;
    cg_argument *arg = &call->arguments[call->n_arguments++];
    arg->name = cg_arena_strdup(L->arena, name);
    arg->type = declared_type(L, decl, CG_TYPE_STRING);
    arg->description = desc ? cg_arena_strdup(L->arena, desc) : NULL;
    arg->input = -1;
    arg->in = ax->is_rest ? rest_argument_location(L, ax, at, name, NULL) : CG_IN_BODY;
    if (ax->is_rest && arg->in == CG_IN_BODY)
        arg->body_path = declared_body_path(L, decl);
    /* MCP tool inputs are required unless they say otherwise (the schema's default);
     * REST inputs are optional unless in the path */
    arg->required = ax->is_rest ? arg->in == CG_IN_PATH : !req || strcasecmp(req, "false");
    if (ax->is_rest && req)
        arg->required = !strcasecmp(req, "true");
    if (ax->is_rest && arg->in == CG_IN_PATH)
        arg->required = 1;
}

static size_t seq_count(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE
               ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start) : 0;
}

/* Builds call->arguments: the values the consumed inputs take from the request (in the
 * order of the inputs), then the other declared inputs and referenced values. */
static void collect_arguments(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                              const cg__call_pos *at)
{
    const cg_operation *op = call->op;
    size_t n_in = op ? op->n_inputs : 0;
    size_t n_uri = 0;
    for (const char *c = ax->uri; c && (c = strchr(c, '{')); c++)
        n_uri++;
    size_t cap = n_in + call->n_params + seq_count(at->inputs) + seq_count(at->resource_inputs) +
                 (op ? op->n_path_parts : 0) + n_uri + 1;
    call->arguments = cg_arena_alloc(L->arena, cap * sizeof *call->arguments);
    call->cap_arguments = cap;
    for (size_t i = 0; i < n_in; i++) {
        const cg_binding *b = &call->bindings[i];
        const cg_input *in = &op->inputs[i];
        if (b->kind != CG_SOURCE_ARGUMENT || has_argument(call, b->argument))
            continue;   /* one incoming value may feed several inputs */
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
        if (ax->is_rest && arg->in == CG_IN_PATH)
            arg->required = 1;
        if (ax->is_rest && arg->in == CG_IN_BODY)
            arg->body_path = declared_body_path(L, decl);
    }
    for (size_t p = 0; p < call->n_params; p++)
        if (call->params[p].binding.kind == CG_SOURCE_ARGUMENT)
            add_declared_argument(L, ax, call, at, call->params[p].binding.argument);
    for (const char *c = ax->uri; c && (c = strchr(c, '{')); ) {
        const char *end = strchr(++c, '}');
        if (!end)
            break;
        char *name = cg_arena_strndup(L->arena, c, (size_t)(end - c));
        if (*name && call->n_arguments < cap)
            add_declared_argument(L, ax, call, at, name);
        c = end;
    }
    const yaml_node_t *lists[2] = {at->inputs, at->resource_inputs};
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < seq_count(lists[l]); i++) {
            const yaml_node_t *in = node_at(L, lists[l]->data.sequence.items.start[i]);
            const char *name = in->type == YAML_MAPPING_NODE ? declared_field(L, in, "name") : NULL;
            if (name && call->n_arguments < cap)
                add_declared_argument(L, ax, call, at, name);
        }
}

static int with_has_key(cg__loader *L, const cg__call_pos *at, const char *key)
{
    if (!at->with)
        return 0;
    for (yaml_node_pair_t *p = at->with->data.mapping.pairs.start; p < at->with->data.mapping.pairs.top; p++) {
        const char *k = scalar_of(node_at(L, p->key));
        if (k && !strcmp(k, key))
            return 1;
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
            cg__spec_error(L, at->at.line, at->at.col, "%s calls '%s.%s', which requires input '%s', "
                           "but gives it no value (add with: {%s: ...})", what,
                           op->api->namespace_, op->name, in->name, in->name);
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
        if (!part->name || part->input >= 0)
            continue;
        int fed = has_argument(call, part->name);
        for (size_t p = 0; p < call->n_params && !fed; p++)
            fed = !strcmp(call->params[p].name, part->name);
        if (!fed && ax->is_rest && route_has_placeholder(ax, part->name) &&
            call->n_arguments < call->cap_arguments) {
            cg_argument *arg = &call->arguments[call->n_arguments++];
            *arg = (cg_argument){.name = part->name, .type = CG_TYPE_STRING, .required = true,
                                 .in = CG_IN_PATH, .input = -1};
            fed = 1;
        }
        if (!fed && !ax->is_rest && call->n_arguments < call->cap_arguments) {
            /* MCP: the tool takes it as an argument (the reference engine passes every
             * tool argument to the templates; capgate declares it in the input schema) */
            cg_argument *arg = &call->arguments[call->n_arguments++];
            *arg = (cg_argument){.name = part->name, .type = CG_TYPE_STRING, .required = true,
                                 .in = CG_IN_PATH, .input = -1};
            fed = 1;
        }
        if (!fed)
            cg__spec_error(L, at->at.line, at->at.col, "%s calls '%s.%s', whose path '%s' needs "
                           "{{%s}}, but gives it no value (declare an input or add with: {%s: ...})",
                           what, op->api->namespace_, op->name, op->path, part->name, part->name);
    }
}

/* ---- mock mode: no call, outputs with static values ------------------------------------ */

static bool output_has_value(const cg_output *o)
{
    if (o->value)
        return true;
    for (size_t i = 0; i < o->n_properties; i++)
        if (output_has_value(&o->properties[i]))
            return true;
    return o->items && output_has_value(o->items);
}

/* An operation or tool without `call` or `steps`: mock mode when its outputs carry static
 * values. Its arguments are its declared inputParameters (they feed the values' templates). */
static void resolve_mock(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                         const cg__call_pos *at, const char *what)
{
    bool values = call->n_outputs > 0;
    for (size_t i = 0; i < call->n_outputs; i++)
        values &= output_has_value(&call->outputs[i]);
    if (!values) {
        cg__spec_error(L, at->at.line, at->at.col, "%s has no 'call' or 'steps' (and no "
                       "outputParameters with static values, which would make it a mock)", what);
        return;
    }
    call->mock = true;
    collect_arguments(L, ax, call, at);
}

static void resolve_call(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                         const cg__call_pos *at, const char *what)
{
    if (!at->call_text) {
        if (call->n_steps)
            collect_arguments(L, ax, call, at);     /* orchestrated: the declared inputs */
        else
            resolve_mock(L, ax, call, at, what);
        return;
    }
    call->op = find_called_operation(L, at->call_text, at->call);
    if (!call->op)
        return;
    const cg_operation *op = call->op;
    call->bindings = op->n_inputs ? cg_arena_alloc(L->arena, op->n_inputs * sizeof *call->bindings) : NULL;
    size_t n_with = at->with ? (size_t)(at->with->data.mapping.pairs.top - at->with->data.mapping.pairs.start) : 0;
    call->params = n_with ? cg_arena_alloc(L->arena, n_with * sizeof *call->params) : NULL;
    if (at->with)
        for (yaml_node_pair_t *p = at->with->data.mapping.pairs.start; p < at->with->data.mapping.pairs.top; p++)
            bind_with_entry(L, ax, call, at, node_at(L, p->key), node_at(L, p->value));
    /* reference-engine style: a declared exposed input feeds the consumed input of its name */
    for (size_t i = 0; i < op->n_inputs; i++)
        if (call->bindings[i].kind == CG_SOURCE_NONE && declared_input(L, at, op->inputs[i].name))
            call->bindings[i] = (cg_binding){CG_SOURCE_ARGUMENT, op->inputs[i].name, NULL};
    collect_arguments(L, ax, call, at);
    check_required_inputs(L, call, at, what);
    check_path_values(L, ax, call, at, what);
    const char *names[128];
    size_t n = 0;
    for (size_t a = 0; a < call->n_arguments && n < 128; a++)
        names[n++] = call->arguments[a].name;
    for (size_t p = 0; p < call->n_params && n < 128; p++)
        names[n++] = call->params[p].name;
    for (size_t i = 0; i < op->n_inputs && n < 128; i++)
        names[n++] = op->inputs[i].name;
    for (size_t i = 0; i < op->n_inputs; i++)
        check_template(L, op->inputs[i].value, at->at.line, at->at.col, "input value", names, n);
    for (size_t i = 0; i < op->n_inputs; i++)
        if (call->bindings[i].kind == CG_SOURCE_LITERAL)
            check_template(L, call->bindings[i].literal, at->at.line, at->at.col, "with value", names, n);
    for (size_t p = 0; p < call->n_params; p++)
        if (call->params[p].binding.kind == CG_SOURCE_LITERAL)
            check_template(L, call->params[p].binding.literal, at->at.line, at->at.col, "with value",
                           names, n);
}

/* ---- exposed adapters ------------------------------------------------------------------ */

/* The path with every placeholder written as {} so /a/{id} and /a/{{x}} compare equal. */
static char *route_shape(cg__loader *L, const cg_rest_resource *r)
{
    cg_buf b = CG_BUF_INIT;
    for (size_t i = 0; i < r->n_path_parts; i++)
        cg_buf_append_str(&b, r->path_parts[i].literal ? r->path_parts[i].literal : "{}");
    char *s = cg_arena_strdup(L->arena, b.data ? b.data : "");
    cg_buf_free(&b);
    return s;
}

static void resolve_rest(cg__loader *L, size_t ai)
{
    cg_rest_adapter *a = &L->spec->rest[ai];
    char **shapes = a->n_resources ? cg_arena_alloc(L->arena, a->n_resources * sizeof *shapes) : NULL;
    for (size_t r = 0; r < a->n_resources; r++) {
        cg_rest_resource *res = &a->resources[r];
        cg__pos at = L->resource_at[ai][r];
        const char *why;
        int n = res->path ? cg_path_parse(L->arena, res->path, &res->path_parts, &why) : -1;
        if (n < 0 && res->path && why)
            cg__spec_error(L, at.line, at.col, "REST path '%s': %s", res->path, why);
        res->n_path_parts = n > 0 ? (size_t)n : 0;
        shapes[r] = route_shape(L, res);
        if (res->forward) {
            for (size_t c = 0; c < L->spec->n_consumes && !res->forward_api; c++)
                if (L->spec->consumes[c].namespace_ &&
                    !strcmp(L->spec->consumes[c].namespace_, res->forward))
                    res->forward_api = &L->spec->consumes[c];
            if (!res->forward_api)
                cg__spec_error(L, at.line, at.col, "forward targetNamespace '%s' names no "
                               "consumes namespace", res->forward);
            else if (!res->n_path_parts || res->path_parts[res->n_path_parts - 1].literal)
                cg__spec_error(L, at.line, at.col, "a forward path must end with a placeholder "
                               "for the forwarded rest of the path, e.g. /proxy/{{path}}");
        }
        adapter_ctx ax = {"rest", a->namespace_, 1, res->path_parts, res->n_path_parts, NULL};
        for (size_t o = 0; o < res->n_ops; o++) {
            cg_rest_operation *op = &res->ops[o];
            cg__call_pos *opat = &L->rest_op_at[ai][r][o];
            /* duplicate route: same method on the same path shape, here or earlier */
            for (size_t r2 = 0; r2 <= r && op->method; r2++)
                for (size_t o2 = 0; o2 < (r2 == r ? o : a->resources[r2].n_ops); o2++) {
                    const cg_rest_operation *other = &a->resources[r2].ops[o2];
                    if (other->method && !strcmp(other->method, op->method) &&
                        !strcmp(shapes[r2], shapes[r]))
                        cg__spec_error(L, opat->at.line, opat->at.col,
                                       "duplicate route %s %s (first at line %d)", op->method,
                                       res->path, L->rest_op_at[ai][r2][o2].at.line);
                }
            resolve_call(L, &ax, &op->call, opat, "this REST operation");
        }
    }
}

static int valid_tool_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static void resolve_mcp(cg__loader *L, size_t ai)
{
    cg_mcp_adapter *a = &L->spec->mcp[ai];
    adapter_ctx ax = {"tools", a->namespace_, 0, NULL, 0, NULL};
    for (size_t t = 0; t < a->n_tools; t++) {
        cg_tool *tool = &a->tools[t];
        cg__call_pos *at = &L->tool_at[ai][t];
        if (tool->name && !valid_tool_name(tool->name))
            cg__spec_error(L, at->at.line, at->at.col, "tool name '%s' must be 1 to 64 characters "
                           "of A-Z, a-z, 0-9, '_' and '-'", tool->name);
        for (size_t u = 0; u < t && tool->name; u++)
            if (a->tools[u].name && !strcmp(a->tools[u].name, tool->name)) {
                cg__spec_error(L, at->at.line, at->at.col, "duplicate tool name '%s' (first at line %d)",
                               tool->name, L->tool_at[ai][u].at.line);
                break;      /* once, against the first */
            }
        resolve_call(L, &ax, &tool->call, at, "this tool");
    }
}

/* One exposed adapter as the namespace and port checks see it. */
typedef struct adapter_view {
    const char *ns;
    int port;                   /* 0 for a stdio MCP adapter */
    cg__pos at, port_at;
} adapter_view;

/* Adapter i of the spec's REST adapters followed by its MCP ones. */
static adapter_view adapter_at(const cg__loader *L, size_t i)
{
    const cg_spec *S = L->spec;
    if (i < S->n_rest)
        return (adapter_view){S->rest[i].namespace_, S->rest[i].port, L->exposes_at[i],
                              L->port_at[i]};
    size_t m = i - S->n_rest;
    return (adapter_view){S->mcp[m].namespace_, S->mcp[m].stdio ? 0 : S->mcp[m].port,
                          L->exposes_at[L->n_exposes + m], L->port_at[L->n_exposes + m]};
}

static void check_adapter_namespaces_and_ports(cg__loader *L)
{
    cg_spec *S = L->spec;
    size_t n = S->n_rest + S->n_mcp;
    for (size_t i = 0; i < n; i++) {
        adapter_view a = adapter_at(L, i);
        for (size_t j = 0; j < i; j++) {
            adapter_view b = adapter_at(L, j);
            if (a.ns && b.ns && !strcmp(a.ns, b.ns))
                cg__spec_error(L, a.at.line, a.at.col,
                               "duplicate exposes namespace '%s' (first at line %d)", a.ns,
                               b.at.line);
            if (a.port && a.port == b.port)
                cg__spec_error(L, a.port_at.line, a.port_at.col,
                               "port %d is already used by adapter '%s' (line %d)", a.port,
                               b.ns ? b.ns : "", b.at.line);
        }
        for (size_t c = 0; a.ns && c < S->n_consumes; c++)
            if (S->consumes[c].namespace_ && !strcmp(S->consumes[c].namespace_, a.ns))
                cg__spec_error(L, a.at.line, a.at.col,
                               "exposes namespace '%s' is also a consumes namespace", a.ns);
    }
}

/* ---- calls met while building: steps, MCP resources ------------------------------------- */

/* Makes room for one more element in an arena array of n (capacity *cap), doubling it. */
static int room_for_one(cg__loader *L, void **array, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t grown = *cap ? 2 * *cap : 16;
    void *a = cg_arena_alloc(L->arena, grown * size);
    if (!a)
        return -1;
    if (n)
        memcpy(a, *array, n * size);
    *array = a;
    *cap = grown;
    return 0;
}

void cg__spec_defer_call(cg__loader *L, cg_call *call, const yaml_node_t *n,
                         const yaml_node_t *owner, const char *namespace_, int is_rest,
                         const char *step, const char *uri)
{
    if (room_for_one(L, (void **)&L->deferred, &L->cap_deferred, L->n_deferred,
                     sizeof *L->deferred) < 0)
        return;
    cg__deferred_call *d = &L->deferred[L->n_deferred++];
    memset(d, 0, sizeof *d);
    d->call = call;
    d->namespace_ = namespace_;
    d->is_rest = is_rest;
    d->step = step;
    d->uri = uri;
    d->at.at = (cg__pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
    d->at.call = d->at.at;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = scalar_of(node_at(L, p->key));
        yaml_node_t *v = node_at(L, p->value);
        if (k && !strcmp(k, "call") && scalar_of(v)) {
            d->at.call_text = cg_arena_strdup(L->arena, scalar_of(v));
            d->at.call = (cg__pos){(int)v->start_mark.line + 1, (int)v->start_mark.column + 1};
        } else if (k && !strcmp(k, "with") && v->type == YAML_MAPPING_NODE) {
            d->at.with = v;
        }
    }
    for (yaml_node_pair_t *p = owner->data.mapping.pairs.start; p < owner->data.mapping.pairs.top; p++) {
        const char *k = scalar_of(node_at(L, p->key));
        if (k && !strcmp(k, "inputParameters"))
            d->at.inputs = node_at(L, p->value);
    }
}

void cg__spec_defer_skill_tool(cg__loader *L, cg_skill_tool *tool, cg__pos at)
{
    if (room_for_one(L, (void **)&L->skill_tools, &L->cap_skill_tools, L->n_skill_tools,
                     sizeof *L->skill_tools) < 0)
        return;
    L->skill_tools[L->n_skill_tools++] = (cg__deferred_skill_tool){tool, at};
}

static void resolve_deferred(cg__loader *L)
{
    for (size_t i = 0; i < L->n_deferred; i++) {
        cg__deferred_call *d = &L->deferred[i];
        adapter_ctx ax = {d->is_rest ? "rest" : "tools", d->namespace_, d->is_rest, NULL, 0, d->uri};
        char what[160];
        if (d->step)
            snprintf(what, sizeof what, "step '%s'", d->step);
        else
            snprintf(what, sizeof what, "this resource");
        resolve_call(L, &ax, d->call, &d->at, what);
    }
}

/* A skill tool's from: names a sibling REST operation or MCP tool. */
static void resolve_skill_tools(cg__loader *L)
{
    const cg_spec *S = L->spec;
    for (size_t i = 0; i < L->n_skill_tools; i++) {
        const cg_skill_tool *t = L->skill_tools[i].tool;
        cg__pos at = L->skill_tools[i].at;
        if (!t->source_namespace || !t->action)
            continue;
        int adapter = 0, found = 0;
        for (size_t m = 0; m < S->n_mcp; m++)
            if (S->mcp[m].namespace_ && !strcmp(S->mcp[m].namespace_, t->source_namespace)) {
                adapter = 1;
                found |= cg_spec_find_tool(&S->mcp[m], t->action) != NULL;
            }
        for (size_t r = 0; r < S->n_rest; r++)
            if (S->rest[r].namespace_ && !strcmp(S->rest[r].namespace_, t->source_namespace)) {
                adapter = 1;
                for (size_t k = 0; k < S->rest[r].n_resources; k++)
                    for (size_t o = 0; o < S->rest[r].resources[k].n_ops; o++) {
                        const cg_rest_operation *op = &S->rest[r].resources[k].ops[o];
                        found |= op->name && !strcmp(op->name, t->action);
                    }
            }
        if (!adapter)
            cg__spec_error(L, at.line, at.col, "skill tool '%s': sourceNamespace '%s' names no "
                           "rest or mcp adapter of this capability", t->name ? t->name : "",
                           t->source_namespace);
        else if (!found)
            cg__spec_error(L, at.line, at.col, "skill tool '%s': adapter '%s' has no operation or "
                           "tool named '%s'", t->name ? t->name : "", t->source_namespace, t->action);
    }
}

int cg__spec_resolve(cg__loader *L)
{
    resolve_consumes(L);
    if (L->consumes_only)
        return 0;
    check_adapter_namespaces_and_ports(L);
    for (size_t i = 0; i < L->spec->n_rest; i++)
        resolve_rest(L, i);
    for (size_t i = 0; i < L->spec->n_mcp; i++)
        resolve_mcp(L, i);
    resolve_deferred(L);
    resolve_skill_tools(L);
    return 0;
}
