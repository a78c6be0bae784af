/*
 * load_exposes.c — pass 1 of the spec loader for `exposes`: REST, MCP, skill and control
 * adapters, their operations, tools, resources and prompts, and orchestrated steps. The
 * node helpers and key-table types are load_int.h's.
 *
 * Size: one section of the schema with four adapter kinds; each builder is small, and
 * splitting by adapter would scatter the shared tool/operation readers.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/load_int.h"
#include "spec/spec_internal.h"
#include "engine/jsonpath.h"
#include "spec/template.h"

/* ---- exposes ------------------------------------------------------------------------- */

static const field exposed_input_fields[] = {
    {"name", K_STR, 1},        {"in", K_STR, 0},        {"type", K_STR, 0},
    {"description", K_STR, 0}, {"required", K_BOOL, 0}, {"pattern", K_STR, 0},
    {"value", K_STR, 0},       {"label", K_STR, 0},     FIELDS_END};

static void check_exposed_inputs(cg__loader *L, const yaml_node_t *seq)
{
    for (size_t i = 0; i < cg__ld_seq_len(seq); i++) {
        yaml_node_t *in = cg__ld_seq_item(L, seq, i);
        if (cg__ld_check_fields(L, in, "an input parameter", exposed_input_fields)) {
            cg__ld_get_type(L, in, "an input parameter");
            cg__ld_get_enum(L, in, "in", "an input parameter", cg__ld_location_names, 0, 0);
        }
    }
}

static const field rest_op_fields[] = {{"method", K_STR, 1},
                                       {"name", K_STR, 0},
                                       {"description", K_STR, 0},
                                       {"label", K_STR, 0},
                                       {"call", K_STR, 0},
                                       {"with", K_MAP, 0},
                                       {"outputParameters", K_SEQ, 0},
                                       {"inputParameters", K_SEQ, 0},
                                       {"steps", K_SEQ, 0},
                                       {"mappings", K_SEQ, 0},
                                       FIELDS_END};

static const field rest_resource_fields[] = {
    {"path", K_STR, 1},        {"name", K_STR, 0},
    {"description", K_STR, 0}, {"label", K_STR, 0},
    {"operations", K_SEQ, 0},  {"inputParameters", K_SEQ, 0},
    {"forward", K_MAP, 0},     FIELDS_END};

static const field forward_fields[] = {
    {"targetNamespace", K_STR, 1}, {"trustedHeaders", K_SEQ, 0}, FIELDS_END};

/* Records what resolve.c needs about a call: its call:, with: and the inputParameters of
 * the operation or tool it belongs to (a step's arguments are its owner's). */
static void note_call(cg__loader *L, const yaml_node_t *n, const yaml_node_t *owner,
                      cg__call_pos *at)
{
    at->at = cg__ld_pos_of(n);
    yaml_node_t *call = cg__ld_get(L, n, "call", K_STR);
    at->call = call ? cg__ld_pos_of(call) : cg__ld_pos_of(n);
    at->call_text = call ? cg_arena_strdup(L->arena, cg__ld_scalar(call)) : NULL;
    at->with = cg__ld_get(L, n, "with", K_MAP);
    at->inputs = cg__ld_get(L, owner, "inputParameters", K_SEQ);
}

/* ---- orchestration: steps and mappings ----------------------------------------------- */

/* A JSONPath of the orchestration (lookupValue, mapping value), compiled once. */
static const struct cg_jsonpath *compile_path(cg__loader *L, const yaml_node_t *at,
                                              const char *text, const char *what)
{
    if (!text) return NULL;
    char why[200];
    int col = 0;
    const struct cg_jsonpath *p = cg_jsonpath_compile(text, L->arena, why, sizeof why, &col);
    if (!p)
        cg__spec_error_at(L, at, "%s '%s' is not a JSONPath capgate accepts: %s (at character %d)",
                          what, text, why, col);
    return p;
}

static const field step_fields[] = {{"type", K_STR, 1},
                                    {"name", K_STR, 1},
                                    {"call", K_STR, 0},
                                    {"with", K_MAP, 0},
                                    {"index", K_STR, 0},
                                    {"match", K_STR, 0},
                                    {"lookupValue", K_STR, 0},
                                    {"outputParameters", K_SEQ, 0},
                                    {"language", K_STR, 0},
                                    {"location", K_STR, 0},
                                    {"file", K_STR, 0},
                                    {"dependencies", K_SEQ, 0},
                                    FIELDS_END};

static const char *const step_types[] = {"call", "lookup", "script", NULL};
static const char *const script_languages[] = {"javascript", "python", "groovy", NULL};

static void require_step_key(cg__loader *L, const yaml_node_t *n, const char *key, const char *type)
{
    if (!cg__ld_map_get(L, n, key))
        cg__spec_error_at(L, n, "a %s step is missing required key '%s'", type, key);
}

static void build_step(cg__loader *L, const yaml_node_t *n, const yaml_node_t *owner,
                       const char *owner_ns, int owner_is_rest, cg_step *st)
{
    st->line = cg__ld_pos_of(n).line;
    st->col = cg__ld_pos_of(n).col;
    st->name = cg__ld_get_str(L, n, "name");
    int t = cg__ld_get_enum(L, n, "type", "a step", step_types, 0, -1);
    st->kind = t >= 0 ? (cg_step_kind)t : CG_STEP_CALL;
    switch (t) {
    case CG_STEP_CALL:
        require_step_key(L, n, "call", "call");
        cg__spec_defer_call(L, &st->call, n, owner, owner_ns, owner_is_rest, st->name, NULL);
        break;
    case CG_STEP_LOOKUP:
        require_step_key(L, n, "index", "lookup");
        require_step_key(L, n, "match", "lookup");
        require_step_key(L, n, "lookupValue", "lookup");
        require_step_key(L, n, "outputParameters", "lookup");
        st->index = cg__ld_get_str(L, n, "index");
        st->match = cg__ld_get_str(L, n, "match");
        st->lookup_value = cg__ld_get_str(L, n, "lookupValue");
        st->lookup_path = compile_path(L, cg__ld_map_get(L, n, "lookupValue"), st->lookup_value,
                                       "lookupValue");
        st->fields = cg__ld_get_str_list(L, cg__ld_get(L, n, "outputParameters", K_SEQ),
                                         &st->n_fields, "a lookup output parameter");
        break;
    case CG_STEP_SCRIPT: {
        require_step_key(L, n, "file", "script");
        int lang = cg__ld_get_enum(L, n, "language", "a script step", script_languages, 0, -2);
        st->language = lang >= 0 ? script_languages[lang] : NULL;
        if (lang == 2)
            cg__spec_error_at(L, cg__ld_map_get(L, n, "language"),
                              "script language 'groovy' is not "
                              "supported by capgate (javascript and python are)");
        st->location = cg__ld_get_str(L, n, "location");
        st->file = cg__ld_get_str(L, n, "file");
        st->dependencies = cg__ld_get_str_list(L, cg__ld_get(L, n, "dependencies", K_SEQ),
                                               &st->n_dependencies, "a script dependency");
        yaml_node_t *with = cg__ld_get(L, n, "with", K_MAP);
        size_t nw = with ? (size_t)(with->data.mapping.pairs.top - with->data.mapping.pairs.start)
                         : 0;
        st->with = cg__ld_alloc_array(L, nw, sizeof *st->with);
        for (size_t i = 0; i < nw; i++) {
            yaml_node_pair_t *p = &with->data.mapping.pairs.start[i];
            const char *k = cg__ld_scalar(cg__ld_node_at(L, p->key)),
                       *v = cg__ld_scalar(cg__ld_node_at(L, p->value));
            if (!k || !v) {
                cg__spec_error_at(L, cg__ld_node_at(L, p->value),
                                  "a with entry must map a name to a string or number");
                continue;
            }
            st->with[st->n_with++] = (cg_param){
                cg_arena_strdup(L->arena, k),
                {CG_SOURCE_LITERAL, NULL,
                 cg__ld_parse_template_at(L, cg__ld_node_at(L, p->value), v, "script with")}};
        }
        break;
    }
    default: break;
    }
}

static const field mapping_fields[] = {{"targetName", K_STR, 1}, {"value", K_STR, 1}, FIELDS_END};

/* Orchestrated outputs (and their properties, at any depth) without a mapping take the
 * member of their name: of the mapped object, then of their parent's value. */
static void mark_by_name(cg_output *o)
{
    o->by_name = o->name && !o->path && !o->value;
    for (size_t i = 0; i < o->n_properties; i++) mark_by_name(&o->properties[i]);
    if (o->items) mark_by_name(o->items);
}

/* steps: + mappings: of an operation, tool or resource; 1 when it has steps. */
static int build_orchestration(cg__loader *L, const yaml_node_t *n, const char *owner_ns,
                               int owner_is_rest, cg_call *call)
{
    yaml_node_t *steps = cg__ld_get(L, n, "steps", K_SEQ),
                *maps = cg__ld_get(L, n, "mappings", K_SEQ);
    if (!steps) {
        if (maps)
            cg__spec_error_at(L, cg__ld_map_get(L, n, "mappings"), "'mappings' needs 'steps'");
        return 0;
    }
    if (cg__ld_map_get(L, n, "call"))
        cg__spec_error_at(L, cg__ld_map_get(L, n, "call"),
                          "an operation has either 'call' or 'steps', not both");
    cg_step *st = cg__ld_alloc_array(L, cg__ld_seq_len(steps), sizeof *st);
    size_t ns = 0;
    for (size_t i = 0; i < cg__ld_seq_len(steps); i++) {
        yaml_node_t *sn = cg__ld_seq_item(L, steps, i);
        if (!cg__ld_check_fields(L, sn, "a step", step_fields)) continue;
        build_step(L, sn, n, owner_ns, owner_is_rest, &st[ns]);
        for (size_t j = 0; j < ns && st[ns].name; j++)
            if (st[j].name && !strcmp(st[j].name, st[ns].name))
                cg__spec_error_at(L, sn, "duplicate step name '%s' (first at line %d)", st[ns].name,
                                  st[j].line);
        if (st[ns].kind == CG_STEP_LOOKUP && st[ns].index) {
            int earlier = 0;
            for (size_t j = 0; j < ns; j++)
                earlier |= st[j].name && !strcmp(st[j].name, st[ns].index);
            if (!earlier)
                cg__spec_error_at(L, cg__ld_map_get(L, sn, "index"),
                                  "lookup index '%s' names no earlier "
                                  "step (a step can only read the steps before it)",
                                  st[ns].index);
        }
        ns++;
    }
    call->steps = st;
    call->n_steps = ns;
    cg_mapping *m = cg__ld_alloc_array(L, cg__ld_seq_len(maps), sizeof *m);
    size_t nm = 0;
    for (size_t i = 0; i < cg__ld_seq_len(maps); i++) {
        yaml_node_t *mn = cg__ld_seq_item(L, maps, i);
        if (!cg__ld_check_fields(L, mn, "a mapping", mapping_fields)) continue;
        m[nm].target = cg__ld_get_str(L, mn, "targetName");
        m[nm].value = cg__ld_get_str(L, mn, "value");
        m[nm].path = compile_path(L, cg__ld_map_get(L, mn, "value"), m[nm].value, "mapping value");
        nm++;
    }
    call->mappings = m;
    call->n_mappings = nm;
    /* named outputs without a mapping take the mapped value of their name */
    for (size_t i = 0; i < call->n_outputs; i++) mark_by_name((cg_output *)&call->outputs[i]);
    return 1;
}

static void build_rest_forward(cg__loader *L, const yaml_node_t *rn, cg_rest_resource *rr)
{
    yaml_node_t *f = cg__ld_get(L, rn, "forward", K_MAP);
    if (!f || !cg__ld_check_fields(L, f, "forward", forward_fields)) return;
    rr->forward = cg__ld_get_str(L, f, "targetNamespace");
    rr->trusted_headers = cg__ld_get_str_list(L, cg__ld_get(L, f, "trustedHeaders", K_SEQ),
                                              &rr->n_trusted_headers, "a trusted header");
    if (cg__ld_map_get(L, rn, "operations"))
        cg__spec_error_at(L, cg__ld_map_get(L, rn, "operations"),
                          "a resource has either 'operations' "
                          "or 'forward', not both");
}

static void build_rest(cg__loader *L, const yaml_node_t *n, cg_rest_adapter *a, size_t ai)
{
    yaml_node_t *res = cg__ld_get(L, n, "resources", K_SEQ);
    size_t nr = cg__ld_seq_len(res);
    a->resources = cg__ld_alloc_array(L, nr, sizeof *a->resources);
    L->resource_at[ai] = cg__ld_alloc_array(L, nr, sizeof(cg__pos));
    L->rest_op_at[ai] = cg__ld_alloc_array(L, nr, sizeof(cg__call_pos *));
    for (size_t r = 0; r < nr; r++) {
        yaml_node_t *rn = cg__ld_seq_item(L, res, r);
        if (!cg__ld_check_fields(L, rn, "a REST resource", rest_resource_fields)) continue;
        cg_rest_resource *rr = &a->resources[a->n_resources];
        memset(rr, 0, sizeof *rr);
        L->resource_at[ai][a->n_resources] = cg__ld_pos_of(rn);
        rr->path = cg__ld_resource_path(L, rn);
        rr->name = cg__ld_get_str(L, rn, "name");
        rr->description = cg__ld_get_str(L, rn, "description");
        check_exposed_inputs(L, cg__ld_get(L, rn, "inputParameters", K_SEQ));
        build_rest_forward(L, rn, rr);
        if (!rr->forward && !cg__ld_map_get(L, rn, "operations"))
            cg__spec_error_at(
                L, rn, "a REST resource is missing required key 'operations' (or 'forward')");
        yaml_node_t *ops = cg__ld_get(L, rn, "operations", K_SEQ);
        size_t no = cg__ld_seq_len(ops);
        rr->ops = cg__ld_alloc_array(L, no, sizeof *rr->ops);
        L->rest_op_at[ai][a->n_resources] = cg__ld_alloc_array(L, no, sizeof(cg__call_pos));
        for (size_t o = 0; o < no; o++) {
            yaml_node_t *on = cg__ld_seq_item(L, ops, o);
            if (cg__ld_ref_failed(L, on) ||
                !cg__ld_check_fields(L, on, "a REST operation", rest_op_fields))
                continue;
            cg_rest_operation *ro = &rr->ops[rr->n_ops];
            memset(ro, 0, sizeof *ro);
            ro->method = cg__ld_get_method(L, on, "a REST operation", 1);
            ro->name = cg__ld_get_str(L, on, "name");
            ro->description = cg__ld_get_str(L, on, "description");
            check_exposed_inputs(L, cg__ld_get(L, on, "inputParameters", K_SEQ));
            cg__ld_build_outputs(L, cg__ld_get(L, on, "outputParameters", K_SEQ),
                                 (cg_output **)&ro->call.outputs, &ro->call.n_outputs);
            build_orchestration(L, on, a->namespace_, 1, &ro->call);
            note_call(L, on, on, &L->rest_op_at[ai][a->n_resources][rr->n_ops]);
            L->rest_op_at[ai][a->n_resources][rr->n_ops].resource_inputs = cg__ld_get(
                L, rn, "inputParameters", K_SEQ);
            rr->n_ops++;
        }
        a->n_resources++;
    }
}

static const field hints_fields[] = {{"readOnly", K_BOOL, 0},   {"destructive", K_BOOL, 0},
                                     {"idempotent", K_BOOL, 0}, {"openWorld", K_BOOL, 0},
                                     {"label", K_STR, 0},       FIELDS_END};

static signed char get_hint(cg__loader *L, const yaml_node_t *hints, const char *key)
{
    return cg__ld_get(L, hints, key, K_BOOL) ? (signed char)cg__ld_get_bool(L, hints, key, 0) : -1;
}

static const field tool_fields[] = {{"name", K_STR, 1},
                                    {"description", K_STR, 1},
                                    {"label", K_STR, 0},
                                    {"title", K_STR, 0},
                                    {"hints", K_MAP, 0},
                                    {"call", K_STR, 0},
                                    {"with", K_MAP, 0},
                                    {"steps", K_SEQ, 0},
                                    {"mappings", K_SEQ, 0},
                                    {"outputParameters", K_SEQ, 0},
                                    {"inputParameters", K_SEQ, 0},
                                    FIELDS_END};

static const field tool_input_fields[] = {
    {"name", K_STR, 1},      {"type", K_STR, 0},    {"description", K_STR, 0},
    {"required", K_BOOL, 0}, {"in", K_STR, 0},      {"value", K_STR, 0},
    {"label", K_STR, 0},     {"pattern", K_STR, 0}, FIELDS_END};

static void build_tool(cg__loader *L, const yaml_node_t *tn, const char *ns, cg_tool *tool,
                       cg__call_pos *at)
{
    tool->name = cg__ld_get_str(L, tn, "name");
    tool->description = cg__ld_get_str(L, tn, "description");
    tool->title = cg__ld_get_str(L, tn, "title");
    if (!tool->title) tool->title = cg__ld_get_str(L, tn, "label");
    yaml_node_t *hints = cg__ld_get(L, tn, "hints", K_MAP);
    tool->hints = (cg_tool_hints){-1, -1, -1, -1};
    if (hints && cg__ld_check_fields(L, hints, "hints", hints_fields)) {
        tool->hints.read_only = get_hint(L, hints, "readOnly");
        tool->hints.destructive = get_hint(L, hints, "destructive");
        tool->hints.idempotent = get_hint(L, hints, "idempotent");
        tool->hints.open_world = get_hint(L, hints, "openWorld");
        if (!tool->title) tool->title = cg__ld_get_str(L, hints, "label");
    }
    yaml_node_t *ins = cg__ld_get(L, tn, "inputParameters", K_SEQ);
    for (size_t i = 0; i < cg__ld_seq_len(ins); i++) {
        yaml_node_t *in = cg__ld_seq_item(L, ins, i);
        if (cg__ld_check_fields(L, in, "a tool input parameter", tool_input_fields))
            cg__ld_get_type(L, in, "a tool input parameter");
    }
    cg__ld_build_outputs(L, cg__ld_get(L, tn, "outputParameters", K_SEQ),
                         (cg_output **)&tool->call.outputs, &tool->call.n_outputs);
    build_orchestration(L, tn, ns, 0, &tool->call);
    note_call(L, tn, tn, at);
}

static const field mcp_resource_fields[] = {{"name", K_STR, 1},
                                            {"label", K_STR, 0},
                                            {"uri", K_STR, 1},
                                            {"description", K_STR, 0},
                                            {"mimeType", K_STR, 0},
                                            {"call", K_STR, 0},
                                            {"with", K_MAP, 0},
                                            {"steps", K_SEQ, 0},
                                            {"mappings", K_SEQ, 0},
                                            {"outputParameters", K_SEQ, 0},
                                            {"location", K_STR, 0},
                                            {"inputParameters", K_SEQ, 0},
                                            FIELDS_END};

static void build_mcp_resources(cg__loader *L, const yaml_node_t *seq, cg_mcp_adapter *a)
{
    a->resources = cg__ld_alloc_array(L, cg__ld_seq_len(seq), sizeof *a->resources);
    for (size_t i = 0; i < cg__ld_seq_len(seq); i++) {
        yaml_node_t *rn = cg__ld_seq_item(L, seq, i);
        if (!cg__ld_check_fields(L, rn, "an MCP resource", mcp_resource_fields)) continue;
        cg_mcp_resource *r = &a->resources[a->n_resources++];
        r->line = cg__ld_pos_of(rn).line;
        r->col = cg__ld_pos_of(rn).col;
        r->name = cg__ld_get_str(L, rn, "name");
        r->title = cg__ld_get_str(L, rn, "label");
        r->uri = cg__ld_get_str(L, rn, "uri");
        r->description = cg__ld_get_str(L, rn, "description");
        r->mime_type = cg__ld_get_str(L, rn, "mimeType");
        r->location = cg__ld_get_str(L, rn, "location");
        r->is_template = r->uri && strchr(r->uri, '{');
        int dynamic = cg__ld_map_get(L, rn, "call") || cg__ld_map_get(L, rn, "steps");
        if (r->location && dynamic)
            cg__spec_error_at(L, cg__ld_map_get(L, rn, "location"),
                              "an MCP resource is either static "
                              "(location) or dynamic (call or steps), not both");
        else if (!r->location && !dynamic)
            cg__spec_error_at(L, rn,
                              "an MCP resource needs 'location' (static) or 'call'/'steps' "
                              "(dynamic)");
        if (r->location && strncmp(r->location, "file:///", 8))
            cg__spec_error_at(L, cg__ld_map_get(L, rn, "location"),
                              "resource location '%s' must be a "
                              "file:/// URI",
                              r->location);
        cg__ld_build_outputs(L, cg__ld_get(L, rn, "outputParameters", K_SEQ),
                             (cg_output **)&r->call.outputs, &r->call.n_outputs);
        build_orchestration(L, rn, a->namespace_, 0, &r->call);
        if (cg__ld_map_get(L, rn, "call"))
            cg__spec_defer_call(L, &r->call, rn, rn, a->namespace_, 0, NULL, r->uri);
    }
}

static const field prompt_fields[] = {{"name", K_STR, 1},
                                      {"label", K_STR, 0},
                                      {"description", K_STR, 0},
                                      {"arguments", K_SEQ, 0},
                                      {"template", K_SEQ, 0},
                                      {"location", K_STR, 0},
                                      FIELDS_END};
static const field prompt_arg_fields[] = {{"name", K_STR, 1},
                                          {"label", K_STR, 0},
                                          {"description", K_STR, 0},
                                          {"required", K_BOOL, 0},
                                          FIELDS_END};
static const field prompt_message_fields[] = {
    {"role", K_STR, 1}, {"content", K_STR, 1}, FIELDS_END};
static const char *const prompt_roles[] = {"user", "assistant", NULL};

static void build_mcp_prompts(cg__loader *L, const yaml_node_t *seq, cg_mcp_adapter *a)
{
    a->prompts = cg__ld_alloc_array(L, cg__ld_seq_len(seq), sizeof *a->prompts);
    for (size_t i = 0; i < cg__ld_seq_len(seq); i++) {
        yaml_node_t *pn = cg__ld_seq_item(L, seq, i);
        if (!cg__ld_check_fields(L, pn, "an MCP prompt", prompt_fields)) continue;
        cg_mcp_prompt *p = &a->prompts[a->n_prompts++];
        p->name = cg__ld_get_str(L, pn, "name");
        p->title = cg__ld_get_str(L, pn, "label");
        p->description = cg__ld_get_str(L, pn, "description");
        p->location = cg__ld_get_str(L, pn, "location");
        yaml_node_t *args = cg__ld_get(L, pn, "arguments", K_SEQ),
                    *tpl = cg__ld_get(L, pn, "template", K_SEQ);
        if (!!p->location == !!tpl)
            cg__spec_error_at(L, pn,
                              "an MCP prompt needs exactly one of 'template' (inline "
                              "messages) and 'location' (a file)");
        if (p->location && strncmp(p->location, "file:///", 8))
            cg__spec_error_at(L, cg__ld_map_get(L, pn, "location"),
                              "prompt location '%s' must be a "
                              "file:/// URI",
                              p->location);
        p->arguments = cg__ld_alloc_array(L, cg__ld_seq_len(args), sizeof *p->arguments);
        for (size_t k = 0; k < cg__ld_seq_len(args); k++) {
            yaml_node_t *an = cg__ld_seq_item(L, args, k);
            if (!cg__ld_check_fields(L, an, "a prompt argument", prompt_arg_fields)) continue;
            p->arguments[p->n_arguments++] = (cg_prompt_argument){
                cg__ld_get_str(L, an, "name"), cg__ld_get_str(L, an, "label"),
                cg__ld_get_str(L, an, "description"), cg__ld_get_bool(L, an, "required", 1)};
        }
        p->messages = cg__ld_alloc_array(L, cg__ld_seq_len(tpl), sizeof *p->messages);
        for (size_t k = 0; k < cg__ld_seq_len(tpl); k++) {
            yaml_node_t *mn = cg__ld_seq_item(L, tpl, k);
            if (!cg__ld_check_fields(L, mn, "a prompt message", prompt_message_fields)) continue;
            int role = cg__ld_get_enum(L, mn, "role", "a prompt message", prompt_roles, 0, 0);
            yaml_node_t *cn = cg__ld_get(L, mn, "content", K_STR);
            p->messages[p->n_messages++] = (cg_prompt_message){
                prompt_roles[role >= 0 ? role : 0],
                cn ? cg__ld_parse_template_at(L, cn, cg__ld_scalar(cn), "prompt content") : NULL};
        }
    }
}

static void build_mcp(cg__loader *L, const yaml_node_t *n, cg_mcp_adapter *a, size_t ai)
{
    yaml_node_t *tools = cg__ld_get(L, n, "tools", K_SEQ);
    size_t nt = cg__ld_seq_len(tools);
    a->tools = cg__ld_alloc_array(L, nt, sizeof *a->tools);
    L->tool_at[ai] = cg__ld_alloc_array(L, nt, sizeof(cg__call_pos));
    for (size_t t = 0; t < nt; t++) {
        yaml_node_t *tn = cg__ld_seq_item(L, tools, t);
        if (cg__ld_ref_failed(L, tn) || !cg__ld_check_fields(L, tn, "an MCP tool", tool_fields))
            continue;
        cg_tool *tool = &a->tools[a->n_tools];
        memset(tool, 0, sizeof *tool);
        build_tool(L, tn, a->namespace_, tool, &L->tool_at[ai][a->n_tools]);
        a->n_tools++;
    }
    build_mcp_resources(L, cg__ld_get(L, n, "resources", K_SEQ), a);
    build_mcp_prompts(L, cg__ld_get(L, n, "prompts", K_SEQ), a);
}

/* ---- skill and control adapters ------------------------------------------------------- */

static const field skill_fields[] = {{"name", K_STR, 1},
                                     {"description", K_STR, 1},
                                     {"license", K_STR, 0},
                                     {"compatibility", K_STR, 0},
                                     {"metadata", K_MAP, 0},
                                     {"allowed-tools", K_STR, 0},
                                     {"argument-hint", K_STR, 0},
                                     {"user-invocable", K_BOOL, 0},
                                     {"disable-model-invocation", K_BOOL, 0},
                                     {"location", K_STR, 0},
                                     {"tools", K_SEQ, 0},
                                     FIELDS_END};
static const field skill_tool_fields[] = {{"name", K_STR, 1},
                                          {"description", K_STR, 1},
                                          {"from", K_MAP, 0},
                                          {"instruction", K_STR, 0},
                                          FIELDS_END};
static const field skill_from_fields[] = {
    {"sourceNamespace", K_STR, 1}, {"action", K_STR, 1}, FIELDS_END};

static void build_skill_tools(cg__loader *L, const yaml_node_t *seq, cg_skill *sk)
{
    sk->tools = cg__ld_alloc_array(L, cg__ld_seq_len(seq), sizeof *sk->tools);
    for (size_t i = 0; i < cg__ld_seq_len(seq); i++) {
        yaml_node_t *tn = cg__ld_seq_item(L, seq, i);
        if (!cg__ld_check_fields(L, tn, "a skill tool", skill_tool_fields)) continue;
        cg_skill_tool *t = &sk->tools[sk->n_tools++];
        t->name = cg__ld_get_str(L, tn, "name");
        cg__ld_check_name(L, tn, "name", "skill tool name");
        t->description = cg__ld_get_str(L, tn, "description");
        t->instruction = cg__ld_get_str(L, tn, "instruction");
        yaml_node_t *from = cg__ld_get(L, tn, "from", K_MAP);
        if (!!from == !!t->instruction)
            cg__spec_error_at(L, tn,
                              "a skill tool needs exactly one of 'from' (a sibling "
                              "adapter's operation or tool) and 'instruction' (a file)");
        if (from && cg__ld_check_fields(L, from, "from", skill_from_fields)) {
            t->source_namespace = cg__ld_get_str(L, from, "sourceNamespace");
            t->action = cg__ld_get_str(L, from, "action");
            cg__spec_defer_skill_tool(L, t, cg__ld_pos_of(from));
        }
        if (t->instruction && !sk->location)
            cg__spec_error_at(L, cg__ld_map_get(L, tn, "instruction"),
                              "an instruction tool needs the "
                              "skill's 'location'");
    }
}

static void build_skill_adapter(cg__loader *L, const yaml_node_t *n, cg_skill_adapter *a)
{
    yaml_node_t *skills = cg__ld_get(L, n, "skills", K_SEQ);
    a->skills = cg__ld_alloc_array(L, cg__ld_seq_len(skills), sizeof *a->skills);
    for (size_t i = 0; i < cg__ld_seq_len(skills); i++) {
        yaml_node_t *sn = cg__ld_seq_item(L, skills, i);
        if (!cg__ld_check_fields(L, sn, "a skill", skill_fields)) continue;
        cg_skill *sk = &a->skills[a->n_skills++];
        sk->name = cg__ld_get_str(L, sn, "name");
        cg__ld_check_name(L, sn, "name", "skill name");
        for (size_t j = 0; j + 1 < a->n_skills && sk->name; j++)
            if (a->skills[j].name && !strcmp(a->skills[j].name, sk->name))
                cg__spec_error_at(L, sn, "duplicate skill name '%s'", sk->name);
        sk->description = cg__ld_get_str(L, sn, "description");
        sk->license = cg__ld_get_str(L, sn, "license");
        sk->compatibility = cg__ld_get_str(L, sn, "compatibility");
        sk->allowed_tools = cg__ld_get_str(L, sn, "allowed-tools");
        sk->argument_hint = cg__ld_get_str(L, sn, "argument-hint");
        sk->user_invocable = get_hint(L, sn, "user-invocable");
        sk->disable_model_invocation = get_hint(L, sn, "disable-model-invocation");
        sk->location = cg__ld_get_str(L, sn, "location");
        if (sk->location && strncmp(sk->location, "file:///", 8))
            cg__spec_error_at(L, cg__ld_map_get(L, sn, "location"),
                              "skill location '%s' must be a "
                              "file:/// URI",
                              sk->location);
        yaml_node_t *md = cg__ld_get(L, sn, "metadata", K_MAP);
        size_t nm = md ? (size_t)(md->data.mapping.pairs.top - md->data.mapping.pairs.start) : 0;
        sk->metadata = cg__ld_alloc_array(L, 2 * nm, sizeof *sk->metadata);
        for (size_t k = 0; k < nm; k++) {
            yaml_node_pair_t *p = &md->data.mapping.pairs.start[k];
            const char *key = cg__ld_scalar(cg__ld_node_at(L, p->key)),
                       *v = cg__ld_scalar(cg__ld_node_at(L, p->value));
            if (!key || !v) {
                cg__spec_error_at(L, cg__ld_node_at(L, p->value),
                                  "skill metadata values must be strings");
                continue;
            }
            sk->metadata[sk->n_metadata++] = cg_arena_strdup(L->arena, key);
            sk->metadata[sk->n_metadata++] = cg_arena_strdup(L->arena, v);
        }
        build_skill_tools(L, cg__ld_get(L, sn, "tools", K_SEQ), sk);
    }
}

static const field control_fields[] = {
    {"type", K_STR, 1},           {"address", K_STR, 0},     {"port", K_INT, 1},
    {"authentication", K_MAP, 0}, {"management", K_MAP, 0},  {"observability", K_MAP, 0},
    {"namespace", K_STR, 0},      {"description", K_STR, 0}, FIELDS_END};
static const field management_fields[] = {{"health", K_BOOL, 0},
                                          {"info", K_BOOL, 0},
                                          {"reload", K_BOOL, 0},
                                          {"validate", K_BOOL, 0},
                                          {"logs", K_ANY, 0},
                                          {"scripting", K_MAP, 0},
                                          FIELDS_END};
static const field logs_fields[] = {
    {"level-control", K_BOOL, 0}, {"stream", K_BOOL, 0}, {"max-subscribers", K_INT, 0}, FIELDS_END};
static const field scripting_fields[] = {{"enabled", K_BOOL, 0},
                                         {"defaultLocation", K_STR, 0},
                                         {"defaultLanguage", K_STR, 0},
                                         {"timeout", K_INT, 0},
                                         {"statementLimit", K_INT, 0},
                                         {"allowedLanguages", K_SEQ, 0},
                                         FIELDS_END};
static const field observability_fields[] = {{"enabled", K_BOOL, 0},
                                             {"metrics", K_MAP, 0},
                                             {"traces", K_MAP, 0},
                                             {"exporters", K_MAP, 0},
                                             FIELDS_END};
static const field local_fields[] = {{"enabled", K_BOOL, 0}, {"buffer-size", K_INT, 0}, FIELDS_END};
static const field metrics_fields[] = {{"local", K_MAP, 0}, FIELDS_END};
static const field traces_fields[] = {
    {"sampling", K_ANY, 0}, {"propagation", K_STR, 0}, {"local", K_MAP, 0}, FIELDS_END};
static const field exporters_fields[] = {{"otlp", K_MAP, 0}, FIELDS_END};
static const field otlp_fields[] = {{"endpoint", K_STR, 1}, FIELDS_END};

static void build_control_management(cg__loader *L, const yaml_node_t *m, cg_control_adapter *c)
{
    c->health = true;
    if (!m || !cg__ld_check_fields(L, m, "management", management_fields)) return;
    c->health = cg__ld_get_bool(L, m, "health", 1);
    c->info = cg__ld_get_bool(L, m, "info", 0);
    c->reload = cg__ld_get_bool(L, m, "reload", 0);
    c->validate = cg__ld_get_bool(L, m, "validate", 0);
    yaml_node_t *logs = cg__ld_map_get(L, m, "logs");
    c->log_max_subscribers = 8;
    if (logs && cg__ld_kind_matches(logs, K_BOOL)) {
        c->logs = c->log_level_control = c->log_stream = cg__ld_get_bool(L, m, "logs", 0);
    } else if (logs && cg__ld_check_fields(L, logs, "logs", logs_fields)) {
        c->log_level_control = cg__ld_get_bool(L, logs, "level-control", 1);
        c->log_stream = cg__ld_get_bool(L, logs, "stream", 1);
        c->logs = c->log_level_control || c->log_stream;
        c->log_max_subscribers = (int)cg__ld_get_long(L, logs, "max-subscribers", 8);
    }
    yaml_node_t *sc = cg__ld_get(L, m, "scripting", K_MAP);
    if (sc && cg__ld_check_fields(L, sc, "scripting", scripting_fields)) {
        c->has_scripting = true;
        c->scripting = cg__ld_get_bool(L, sc, "enabled", 1);
        c->script_location = cg__ld_get_str(L, sc, "defaultLocation");
        c->script_language = cg__ld_get_str(L, sc, "defaultLanguage");
        c->script_timeout_ms = cg__ld_get_long(L, sc, "timeout", 0);
        c->script_statement_limit = cg__ld_get_long(L, sc, "statementLimit", 0);
        c->script_languages = cg__ld_get_str_list(L, cg__ld_get(L, sc, "allowedLanguages", K_SEQ),
                                                  &c->n_script_languages, "a language");
    }
}

static void build_control_observability(cg__loader *L, const yaml_node_t *o, cg_control_adapter *c)
{
    c->trace_sampling = 1.0;
    c->trace_buffer = 100;
    /* no observability block: metrics and traces on, as in the reference engine */
    c->observability = c->metrics = c->traces = !o;
    if (!o || !cg__ld_check_fields(L, o, "observability", observability_fields)) return;
    c->observability = cg__ld_get_bool(L, o, "enabled", 1);
    yaml_node_t *m = cg__ld_get(L, o, "metrics", K_MAP), *t = cg__ld_get(L, o, "traces", K_MAP);
    c->metrics = c->observability;
    if (m && cg__ld_check_fields(L, m, "metrics", metrics_fields)) {
        yaml_node_t *local = cg__ld_get(L, m, "local", K_MAP);
        if (local && cg__ld_check_fields(L, local, "local", local_fields))
            c->metrics = c->observability && cg__ld_get_bool(L, local, "enabled", 1);
    }
    c->traces = c->observability;
    if (t && cg__ld_check_fields(L, t, "traces", traces_fields)) {
        const char *smp = cg__ld_scalar(cg__ld_get(L, t, "sampling", K_STR));
        if (smp) {
            char *end;
            double d = strtod(smp, &end);
            if (*end || d < 0 || d > 1)
                cg__spec_error_at(L, cg__ld_map_get(L, t, "sampling"),
                                  "'sampling' must be a number "
                                  "from 0 to 1, not '%s'",
                                  smp);
            else c->trace_sampling = d;
        }
        c->trace_propagation = cg__ld_get_str(L, t, "propagation");
        yaml_node_t *local = cg__ld_get(L, t, "local", K_MAP);
        if (local && cg__ld_check_fields(L, local, "local", local_fields)) {
            c->traces = c->observability && cg__ld_get_bool(L, local, "enabled", 1);
            c->trace_buffer = (int)cg__ld_get_long(L, local, "buffer-size", 100);
        }
    }
    yaml_node_t *ex = cg__ld_get(L, o, "exporters", K_MAP);
    if (ex && cg__ld_check_fields(L, ex, "exporters", exporters_fields)) {
        yaml_node_t *otlp = cg__ld_get(L, ex, "otlp", K_MAP);
        if (otlp && cg__ld_check_fields(L, otlp, "otlp", otlp_fields))
            c->otlp_endpoint = cg__ld_get_str(L, otlp, "endpoint");
    }
}

static const field exposes_fields[] = {{"type", K_STR, 1},
                                       {"namespace", K_STR, 1},
                                       {"port", K_INT, 0},
                                       {"address", K_STR, 0},
                                       {"description", K_STR, 0},
                                       {"label", K_STR, 0},
                                       {"resources", K_SEQ, 0},
                                       {"tools", K_SEQ, 0},
                                       {"prompts", K_SEQ, 0},
                                       {"transport", K_STR, 0},
                                       {"authentication", K_MAP, 0},
                                       {"skills", K_SEQ, 0},
                                       FIELDS_END};

static const char *const exposes_types[] = {"rest", "mcp", "skill", "control", NULL};

static int get_port(cg__loader *L, const yaml_node_t *n, const char *what)
{
    yaml_node_t *v = cg__ld_get(L, n, "port", K_INT);
    long port = 0;
    if (!v) return 0;
    cg__ld_parse_int(cg__ld_scalar(v), &port);
    if (port < 1 || port > 65535) {
        cg__spec_error_at(L, v, "'port' in %s must be between 1 and 65535, not %ld", what, port);
        return 0;
    }
    return (int)port;
}

static void build_rest_entry(cg__loader *L, const yaml_node_t *e, size_t n)
{
    cg_spec *S = L->spec;
    cg_rest_adapter *a = &S->rest[S->n_rest];
    yaml_node_t *port = cg__ld_map_get(L, e, "port");
    L->exposes_at[S->n_rest] = cg__ld_pos_of(e);
    L->port_at[S->n_rest] = port ? cg__ld_pos_of(port) : cg__ld_pos_of(e);
    a->namespace_ = cg__ld_get_str(L, e, "namespace");
    a->port = get_port(L, e, "a REST adapter");
    a->address = cg__ld_get_str(L, e, "address");
    a->description = cg__ld_get_str(L, e, "description");
    if (cg__ld_get(L, e, "authentication", K_MAP))
        cg__ld_build_auth(L, cg__ld_get(L, e, "authentication", K_MAP), &a->auth, true);
    if (!port) cg__spec_error_at(L, e, "a REST adapter is missing required key 'port'");
    if (cg__ld_map_get(L, e, "tools"))
        cg__spec_error_at(L, cg__ld_map_get(L, e, "tools"),
                          "'tools' belongs to an mcp adapter, not rest");
    build_rest(L, e, a, S->n_rest);
    S->n_rest++;
    (void)n;
}

static void build_mcp_entry(cg__loader *L, const yaml_node_t *e, size_t n)
{
    cg_spec *S = L->spec;
    cg_mcp_adapter *a = &S->mcp[S->n_mcp];
    yaml_node_t *port = cg__ld_map_get(L, e, "port");
    L->exposes_at[n + S->n_mcp] = cg__ld_pos_of(e);
    L->port_at[n + S->n_mcp] = port ? cg__ld_pos_of(port) : cg__ld_pos_of(e);
    a->namespace_ = cg__ld_get_str(L, e, "namespace");
    a->address = cg__ld_get_str(L, e, "address");
    a->description = cg__ld_get_str(L, e, "description");
    if (cg__ld_get(L, e, "authentication", K_MAP))
        cg__ld_build_auth(L, cg__ld_get(L, e, "authentication", K_MAP), &a->auth, true);
    static const char *const transports[] = {"http", "stdio", NULL};
    a->stdio = cg__ld_get_enum(L, e, "transport", "an mcp adapter", transports, 0, 0) == 1;
    a->port = get_port(L, e, "an mcp adapter");
    if (a->stdio && port)
        cg__spec_error_at(L, port, "an mcp adapter with transport stdio has no port");
    if (!a->stdio && !port)
        cg__spec_error_at(L, e,
                          "an mcp adapter with transport http is missing required key 'port'");
    if (!cg__ld_map_get(L, e, "tools"))
        cg__spec_error_at(L, e, "an mcp adapter is missing required key 'tools'");
    build_mcp(L, e, a, S->n_mcp);
    S->n_mcp++;
}

static void build_skill_entry(cg__loader *L, const yaml_node_t *e)
{
    cg_spec *S = L->spec;
    cg_skill_adapter *a = &S->skill[S->n_skill++];
    a->namespace_ = cg__ld_get_str(L, e, "namespace");
    a->address = cg__ld_get_str(L, e, "address");
    a->description = cg__ld_get_str(L, e, "description");
    a->port = get_port(L, e, "a skill adapter");
    if (!cg__ld_map_get(L, e, "port"))
        cg__spec_error_at(L, e, "a skill adapter is missing required key 'port'");
    if (!cg__ld_map_get(L, e, "skills"))
        cg__spec_error_at(L, e, "a skill adapter is missing required key 'skills'");
    build_skill_adapter(L, e, a);
}

static void build_control_entry(cg__loader *L, const yaml_node_t *e)
{
    cg_spec *S = L->spec;
    if (!cg__ld_check_fields(L, e, "a control adapter", control_fields)) return;
    if (S->control) {
        cg__spec_error_at(L, e, "a capability has at most one control adapter");
        return;
    }
    cg_control_adapter *c = S->control = cg_arena_alloc(L->arena, sizeof *c);
    c->port = get_port(L, e, "a control adapter");
    c->address = cg__ld_get_str(L, e, "address");
    build_control_management(L, cg__ld_get(L, e, "management", K_MAP), c);
    build_control_observability(L, cg__ld_get(L, e, "observability", K_MAP), c);
}

void cg__ld_build_exposes(cg__loader *L, const yaml_node_t *seq)
{
    cg_spec *S = L->spec;
    size_t n = cg__ld_seq_len(seq);
    S->rest = cg__ld_alloc_array(L, n, sizeof *S->rest);
    S->mcp = cg__ld_alloc_array(L, n, sizeof *S->mcp);
    S->skill = cg__ld_alloc_array(L, n, sizeof *S->skill);
    L->n_exposes = n;
    L->exposes_at = cg__ld_alloc_array(L, 2 * n, sizeof(cg__pos));
    L->port_at = cg__ld_alloc_array(L, 2 * n, sizeof(cg__pos));
    L->resource_at = cg__ld_alloc_array(L, n, sizeof *L->resource_at);
    L->rest_op_at = cg__ld_alloc_array(L, n, sizeof *L->rest_op_at);
    L->tool_at = cg__ld_alloc_array(L, n, sizeof *L->tool_at);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *e = cg__ld_seq_item(L, seq, i);
        if (e->type != YAML_MAPPING_NODE) {
            cg__spec_error_at(L, e, "an exposes entry must be a mapping");
            continue;
        }
        int type = cg__ld_get_enum(L, e, "type", "an exposes entry", exposes_types, 0, -2);
        if (type == -2) {
            cg__spec_error_at(L, e, "an exposes entry is missing required key 'type'");
            continue;
        }
        if (type == 3) {
            build_control_entry(L, e);
            continue;
        }
        if (type < 0 || !cg__ld_check_fields(L, e, "an exposes entry", exposes_fields)) continue;
        if (type == 2 && cg__ld_map_get(L, e, "authentication")) /* rest/mcp: in their entries */
            cg__ld_build_auth(L, cg__ld_get(L, e, "authentication", K_MAP), &L->scratch_auth, true);
        if (type == 0) build_rest_entry(L, e, n);
        else if (type == 1) build_mcp_entry(L, e, n);
        else build_skill_entry(L, e);
    }
}
