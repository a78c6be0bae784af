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
 * Calls (each `call:` and `with:`, mock mode) are resolved in resolve_calls.c, on
 * resolve_int.h.
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

const char *cg__rs_scalar_of(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *cg__rs_node_at(cg__loader *L, int id)
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
void cg__rs_check_template(cg__loader *L, const cg_template *t, int line, int col,
                           const char *where, const char *const *args, size_t n_args)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_parts; i++) {
        const cg_template_part *p = &t->parts[i];
        if (!p->is_variable || is_bound_variable(L->spec, p->text, p->len) || L->consumes_only)
            continue; /* a shared consumes document's binds are its importer's */
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
        if (op->inputs[i].in == in && !strcmp(op->inputs[i].name, name)) return (int)i;
    return -1;
}

int cg__rs_find_input_any(const cg_operation *op, const char *name)
{
    for (size_t i = 0; i < op->n_inputs; i++)
        if (!strcmp(op->inputs[i].name, name)) return (int)i;
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
            if (why) cg__spec_error(L, pp.line, pp.col, "path '%s': %s", op->path, why);
        } else {
            op->n_path_parts = (size_t)n;
            path_ok = 1;
        }
    }
    for (size_t i = 0; i < op->n_path_parts; i++) {
        cg_path_part *part = &op->path_parts[i];
        if (!part->name) continue;
        part->input = find_input(op, part->name, CG_IN_PATH);
        /* no `in: path` input: the value comes from the call's with: or arguments by
         * name, as the reference engine fills {{x}} (checked per call) */
    }
    const char *names[64];
    size_t n_names = 0;
    for (size_t i = 0; i < op->n_inputs; i++) {
        cg_input *in = &op->inputs[i];
        if (n_names < 64) names[n_names++] = in->name;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(op->inputs[j].name, in->name) && op->inputs[j].in == in->in)
                cg__spec_error(L, in->line, in->col,
                               "duplicate input parameter '%s' in operation '%s'", in->name,
                               op->name);
        in->is_credential = is_credential_input(&c->auth, in);
        if (in->in == CG_IN_PATH) {
            int used = 0;
            for (size_t p = 0; p < op->n_path_parts; p++) used |= op->path_parts[p].input == (int)i;
            if (!used && path_ok)
                cg__spec_error(L, in->line, in->col,
                               "input '%s' is in: path but path '%s' has no "
                               "placeholder {%s}",
                               in->name, op->path, in->name);
        }
        if (in->in == CG_IN_BODY && in->type != CG_TYPE_OBJECT && in->type != CG_TYPE_ARRAY &&
            in->type != CG_TYPE_STRING)
            cg__spec_error(L, in->line, in->col,
                           "body input '%s' must have type object, array "
                           "or string",
                           in->name);
    }
    (void)names; /* input value templates are checked per call (check_call_templates) */
}

void cg__spec_resolve_consumes_entry(cg__loader *L, size_t c)
{
    cg_consumes *api = &L->spec->consumes[c];
    cg__pos at = L->consumes_at[c];
    const cg_auth *auth = &api->auth;
    cg__rs_check_template(L, auth->value, at.line, at.col, "authentication value", NULL, 0);
    cg__rs_check_template(L, auth->token, at.line, at.col, "authentication token", NULL, 0);
    cg__rs_check_template(L, auth->username, at.line, at.col, "authentication username", NULL, 0);
    cg__rs_check_template(L, auth->password, at.line, at.col, "authentication password", NULL, 0);
    for (size_t o = 0; o < api->n_ops; o++) {
        cg_operation *op = &api->ops[o];
        const cg__op_pos *opat = &L->op_at[c][o];
        for (size_t p = 0; p < o; p++)
            if (!strcmp(api->ops[p].name, op->name)) { /* once, against the first */
                cg__spec_error(L, opat->at.line, opat->at.col,
                               "duplicate operation name '%s' in consumes '%s' (first at line %d)",
                               op->name, api->namespace_ ? api->namespace_ : "",
                               L->op_at[c][p].at.line);
                break;
            }
        if (!op->method) op->method = "GET";
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
                cg__spec_error(L, at.line, at.col,
                               "duplicate consumes namespace '%s' (first at line %d)",
                               api->namespace_, L->consumes_at[d].line);
        if (!L->consumes_imported || !L->consumes_imported[c])
            cg__spec_resolve_consumes_entry(L, c);
    }
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
    char **shapes = a->n_resources ? cg_arena_alloc(L->arena, a->n_resources * sizeof *shapes)
                                   : NULL;
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
                cg__spec_error(L, at.line, at.col,
                               "forward targetNamespace '%s' names no "
                               "consumes namespace",
                               res->forward);
            else if (!res->n_path_parts || res->path_parts[res->n_path_parts - 1].literal)
                cg__spec_error(L, at.line, at.col,
                               "a forward path must end with a placeholder "
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
            cg__rs_resolve_call(L, &ax, &op->call, opat, "this REST operation");
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
            cg__spec_error(L, at->at.line, at->at.col,
                           "tool name '%s' must be 1 to 64 characters "
                           "of A-Z, a-z, 0-9, '_' and '-'",
                           tool->name);
        for (size_t u = 0; u < t && tool->name; u++)
            if (a->tools[u].name && !strcmp(a->tools[u].name, tool->name)) {
                cg__spec_error(L, at->at.line, at->at.col,
                               "duplicate tool name '%s' (first at line %d)", tool->name,
                               L->tool_at[ai][u].at.line);
                break; /* once, against the first */
            }
        cg__rs_resolve_call(L, &ax, &tool->call, at, "this tool");
    }
}

/* One exposed adapter as the namespace and port checks see it. */
typedef struct adapter_view {
    const char *ns;
    int port; /* 0 for a stdio MCP adapter */
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
    if (n < *cap) return 0;
    size_t grown = *cap ? 2 * *cap : 16;
    void *a = cg_arena_alloc(L->arena, grown * size);
    if (!a) return -1;
    if (n) memcpy(a, *array, n * size);
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
        const char *k = cg__rs_scalar_of(cg__rs_node_at(L, p->key));
        yaml_node_t *v = cg__rs_node_at(L, p->value);
        if (k && !strcmp(k, "call") && cg__rs_scalar_of(v)) {
            d->at.call_text = cg_arena_strdup(L->arena, cg__rs_scalar_of(v));
            d->at.call = (cg__pos){(int)v->start_mark.line + 1, (int)v->start_mark.column + 1};
        } else if (k && !strcmp(k, "with") && v->type == YAML_MAPPING_NODE) {
            d->at.with = v;
        }
    }
    for (yaml_node_pair_t *p = owner->data.mapping.pairs.start; p < owner->data.mapping.pairs.top;
         p++) {
        const char *k = cg__rs_scalar_of(cg__rs_node_at(L, p->key));
        if (k && !strcmp(k, "inputParameters")) d->at.inputs = cg__rs_node_at(L, p->value);
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
        adapter_ctx ax = {
            d->is_rest ? "rest" : "tools", d->namespace_, d->is_rest, NULL, 0, d->uri};
        char what[160];
        if (d->step) snprintf(what, sizeof what, "step '%s'", d->step);
        else snprintf(what, sizeof what, "this resource");
        cg__rs_resolve_call(L, &ax, d->call, &d->at, what);
    }
}

/* A skill tool's from: names a sibling REST operation or MCP tool. */
static void resolve_skill_tools(cg__loader *L)
{
    const cg_spec *S = L->spec;
    for (size_t i = 0; i < L->n_skill_tools; i++) {
        const cg_skill_tool *t = L->skill_tools[i].tool;
        cg__pos at = L->skill_tools[i].at;
        if (!t->source_namespace || !t->action) continue;
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
            cg__spec_error(L, at.line, at.col,
                           "skill tool '%s': sourceNamespace '%s' names no "
                           "rest or mcp adapter of this capability",
                           t->name ? t->name : "", t->source_namespace);
        else if (!found)
            cg__spec_error(L, at.line, at.col,
                           "skill tool '%s': adapter '%s' has no operation or "
                           "tool named '%s'",
                           t->name ? t->name : "", t->source_namespace, t->action);
    }
}

int cg__spec_resolve(cg__loader *L)
{
    resolve_consumes(L);
    if (L->consumes_only) return 0;
    check_adapter_namespaces_and_ports(L);
    for (size_t i = 0; i < L->spec->n_rest; i++) resolve_rest(L, i);
    for (size_t i = 0; i < L->spec->n_mcp; i++) resolve_mcp(L, i);
    resolve_deferred(L);
    resolve_skill_tools(L);
    return 0;
}
