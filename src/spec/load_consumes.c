/*
 * load_consumes.c — pass 1 of the spec loader for `consumes`: the consumed APIs, their
 * resources, operations, inputs, outputs, request bodies and credentials, and imported
 * consumes files. The node helpers and key-table types are load_int.h's.
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

/* ---- consumes ------------------------------------------------------------------------ */

static const field input_fields[] = {
    {"name", K_STR, 1},        {"in", K_STR, 1},        {"type", K_STR, 0},
    {"description", K_STR, 0}, {"required", K_BOOL, 0}, {"value", K_STR, 0},
    {"template", K_STR, 0},    {"pattern", K_STR, 0},   FIELDS_END};

static void build_input(cg__loader *L, const yaml_node_t *n, cg_input *in)
{
    memset(in, 0, sizeof *in); /* the slot may hold a rejected earlier entry */
    if (!cg__ld_check_fields(L, n, "an input parameter", input_fields)) return;
    cg__pos p = cg__ld_pos_of(n);
    in->line = p.line;
    in->col = p.col;
    in->name = cg__ld_get_str(L, n, "name");
    int loc = cg__ld_get_enum(L, n, "in", "an input parameter", cg__ld_location_names, 0,
                              CG_IN_QUERY);
    in->in = loc >= 0 ? (cg_location)loc : CG_IN_QUERY;
    in->type = cg__ld_get_type(L, n, "an input parameter");
    in->description = cg__ld_get_str(L, n, "description");
    in->required = cg__ld_get_bool(L, n, "required", in->in == CG_IN_PATH);
    in->value = cg__ld_get_template(L, n, "value");
    if (!in->value) in->value = cg__ld_get_template(L, n, "template");
    if (in->in == CG_IN_PATH && !in->required)
        cg__spec_error_at(L, cg__ld_map_get(L, n, "required"),
                          "path parameter '%s' cannot be optional", in->name ? in->name : "");
}

static const field output_fields[] = {{"name", K_STR, 0},
                                      {"type", K_STR, 0},
                                      {"value", K_STR, 0},
                                      {"mapping", K_STR, 0},
                                      {"description", K_STR, 0},
                                      {"properties", K_MAP, 0},
                                      {"items", K_ANY, 0},
                                      {"maxLength", K_INT, 0},
                                      {"const", K_ANY, 0},
                                      {"in", K_STR, 0},
                                      FIELDS_END};

#define MAX_OUTPUT_DEPTH 32

/* `const` as JSON text, for schemas: scalars only (plain YAML scalars keep their type). */
static const char *const_json(cg__loader *L, const yaml_node_t *n)
{
    const char *v = cg__ld_scalar(n);
    if (!v) return NULL;
    int b;
    long l;
    char *end;
    if (cg__ld_is_plain(n) && (cg__ld_parse_bool(v, &b) == 0 || cg__ld_parse_int(v, &l) == 0 ||
                               (*v && (strtod(v, &end), !*end))))
        return cg_arena_strdup(L->arena, !strcasecmp(v, "yes") || !strcasecmp(v, "on")   ? "true"
                                         : !strcasecmp(v, "no") || !strcasecmp(v, "off") ? "false"
                                                                                         : v);
    cg_buf b2 = CG_BUF_INIT;
    cg_buf_append_str(&b2, "\"");
    cg_buf_append_json_escaped(&b2, v, strlen(v));
    cg_buf_append_str(&b2, "\"");
    const char *s = cg_arena_strdup(L->arena, b2.data);
    cg_buf_free(&b2);
    return s;
}

static void build_output(cg__loader *L, const yaml_node_t *o, const char *name, cg_output *op,
                         int depth);

static unsigned long text_hash(const char *s)
{
    unsigned long h = 5381;
    while (*s) h = h * 33 + (unsigned char)*s++;
    return h;
}

/* The compiled path for a mapping text, compiled once per distinct text: YAML aliases can make
 * one node stand for thousands of outputs, and a path's compiled form is immutable. The table
 * (open addressing, grown at half full) lives as long as the load; the paths, in the arena. */
static cg_jsonpath *compile_mapping(cg__loader *L, const char *text, char *why, size_t whylen,
                                    int *col)
{
    unsigned long h = text_hash(text);
    for (size_t i = L->n_paths ? h & (L->cap_paths - 1) : 0; L->n_paths;
         i = (i + 1) & (L->cap_paths - 1)) {
        if (!L->paths[i]) break;
        if (!strcmp(cg_jsonpath_text(L->paths[i]), text)) return L->paths[i];
    }
    cg_jsonpath *p = cg_jsonpath_compile(text, L->arena, why, whylen, col);
    if (!p) return NULL;
    if (2 * (L->n_paths + 1) > L->cap_paths) {
        size_t cap = L->cap_paths ? 2 * L->cap_paths : 64;
        cg_jsonpath **t = calloc(cap, sizeof *t);
        if (!t) return p; /* no cache: still correct */
        for (size_t j = 0; j < L->cap_paths; j++) {
            if (!L->paths[j]) continue;
            size_t k = text_hash(cg_jsonpath_text(L->paths[j])) & (cap - 1);
            while (t[k]) k = (k + 1) & (cap - 1);
            t[k] = L->paths[j];
        }
        free(L->paths);
        L->paths = t;
        L->cap_paths = cap;
    }
    size_t k = h & (L->cap_paths - 1);
    while (L->paths[k]) k = (k + 1) & (L->cap_paths - 1);
    L->paths[k] = p;
    L->n_paths++;
    return p;
}

/* The mapping: `mapping`, or an alpha1-style `value: $.x`; compiled once, here. */
static void output_mapping(cg__loader *L, const yaml_node_t *o, cg_output *op)
{
    yaml_node_t *mn = cg__ld_get(L, o, "mapping", K_STR), *vn = cg__ld_get(L, o, "value", K_STR);
    const char *v = cg__ld_scalar(vn);
    if (!mn && v && (!strcmp(v, "$") || !strncmp(v, "$.", 2) || !strncmp(v, "$[", 2)))
        mn = vn; /* naftiko alpha1 wrote mappings as value: $.x */
    else if (vn) op->value = cg__ld_get_template(L, o, "value");
    if (!mn) return;
    char why[200];
    int col = 0;
    op->path = compile_mapping(L, cg__ld_scalar(mn), why, sizeof why, &col);
    if (op->path) {
        op->mapping = cg_jsonpath_text(op->path);
    } else {
        op->mapping = cg_arena_strdup(L->arena, cg__ld_scalar(mn));
        cg__spec_error_at(L, mn,
                          "output mapping '%s' is not a JSONPath capgate accepts: %s "
                          "(at character %d)",
                          cg__ld_scalar(mn), why, col);
    }
}

static void build_output(cg__loader *L, const yaml_node_t *o, const char *name, cg_output *op,
                         int depth)
{
    memset(op, 0, sizeof *op);
    op->max_length = -1;
    if (!cg__ld_check_fields(L, o, "an output parameter", output_fields)) return;
    cg__pos at = cg__ld_pos_of(o);
    op->line = at.line;
    op->col = at.col;
    if (depth > MAX_OUTPUT_DEPTH) {
        cg__spec_error_at(L, o, "output parameters nest deeper than %d levels", MAX_OUTPUT_DEPTH);
        return;
    }
    op->name = name ? name : cg__ld_get_str(L, o, "name");
    op->typed = cg__ld_map_get(L, o, "type") != NULL;
    op->type = cg__ld_get_type(L, o, "an output parameter");
    op->description = cg__ld_get_str(L, o, "description");
    yaml_node_t *cn = cg__ld_map_get(L, o, "const");
    if (cn) op->const_json = const_json(L, cn);
    yaml_node_t *ml = cg__ld_get(L, o, "maxLength", K_INT);
    if (ml) {
        cg__ld_parse_int(cg__ld_scalar(ml), &op->max_length);
        if (op->max_length < 0 || (op->typed && op->type != CG_TYPE_STRING))
            cg__spec_error_at(L, ml, "maxLength applies to string outputs and must be >= 0");
    }
    output_mapping(L, o, op);
    yaml_node_t *props = cg__ld_get(L, o, "properties", K_MAP),
                *items = cg__ld_map_get(L, o, "items");
    if (items && items->type == YAML_SCALAR_NODE) {
        cg__spec_error_at(L, items,
                          "'items' in an output parameter must be a mapping (the "
                          "element's shape) or a list of named fields");
        items = NULL;
    }
    if (props && !op->typed) {
        op->type = CG_TYPE_OBJECT;
        op->typed = true;
    }
    if (items && !op->typed) {
        op->type = CG_TYPE_ARRAY;
        op->typed = true;
    }
    if (props && op->type != CG_TYPE_OBJECT)
        cg__spec_error_at(L, props, "'properties' on a %s output: only objects have properties",
                          cg_type_name(op->type));
    if (items && op->type != CG_TYPE_ARRAY)
        cg__spec_error_at(L, items, "'items' on a %s output: only arrays have items",
                          cg_type_name(op->type));
    if (op->type == CG_TYPE_OBJECT && !props && !op->mapping && !op->value)
        cg__spec_error_at(L, o, "an object output needs 'properties' or a 'mapping'");
    if (props && op->type == CG_TYPE_OBJECT) {
        size_t np = (size_t)(props->data.mapping.pairs.top - props->data.mapping.pairs.start);
        op->properties = cg__ld_alloc_array(L, np, sizeof *op->properties);
        for (size_t i = 0; i < np; i++) {
            yaml_node_pair_t *p = &props->data.mapping.pairs.start[i];
            const char *pname = cg__ld_scalar(cg__ld_node_at(L, p->key));
            yaml_node_t *pv = cg__ld_node_at(L, p->value);
            if (!pname || pv->type != YAML_MAPPING_NODE) {
                cg__spec_error_at(L, pv,
                                  "each property of an object output must be a mapping "
                                  "(type, mapping, ...)");
                continue;
            }
            build_output(L, pv, cg_arena_strdup(L->arena, pname),
                         &op->properties[op->n_properties++], depth + 1);
        }
    }
    if (items && op->type == CG_TYPE_ARRAY) {
        op->items = cg_arena_alloc(L->arena, sizeof *op->items);
        if (items->type == YAML_MAPPING_NODE) {
            build_output(L, items, NULL, op->items, depth + 1);
        } else {
            /* orchestrated style: `items: [{name: a, type: string}, ...]`, each element an
             * object of those fields taken by name */
            cg_output *it = op->items;
            memset(it, 0, sizeof *it);
            it->type = CG_TYPE_OBJECT;
            it->typed = true;
            it->max_length = -1;
            it->line = cg__ld_pos_of(items).line;
            it->col = cg__ld_pos_of(items).col;
            it->properties = cg__ld_alloc_array(L, cg__ld_seq_len(items), sizeof *it->properties);
            for (size_t i = 0; i < cg__ld_seq_len(items); i++) {
                yaml_node_t *fn = cg__ld_seq_item(L, items, i);
                if (fn->type != YAML_MAPPING_NODE || !cg__ld_get(L, fn, "name", K_STR)) {
                    cg__spec_error_at(L, fn, "each field in a list of 'items' needs a 'name'");
                    continue;
                }
                cg_output *f = &it->properties[it->n_properties++];
                build_output(L, fn, NULL, f, depth + 2);
                f->by_name = !f->path && !f->value;
            }
        }
    }
}

void cg__ld_build_outputs(cg__loader *L, const yaml_node_t *seq, cg_output **out, size_t *n_out)
{
    size_t n = cg__ld_seq_len(seq);
    *out = cg__ld_alloc_array(L, n, sizeof **out);
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *o = cg__ld_seq_item(L, seq, i);
        if (o->type != YAML_MAPPING_NODE) {
            cg__spec_error_at(L, o, "an output parameter must be a mapping");
            continue;
        }
        build_output(L, o, NULL, &(*out)[(*n_out)++], 0);
    }
}

static const field operation_fields[] = {{"name", K_STR, 1},
                                         {"method", K_STR, 0},
                                         {"description", K_STR, 0},
                                         {"label", K_STR, 0},
                                         {"outputRawFormat", K_STR, 0},
                                         {"outputParameters", K_SEQ, 0},
                                         {"outputSchema", K_ANY, 0},
                                         {"inputParameters", K_SEQ, 0},
                                         {"body", K_ANY, 0},
                                         FIELDS_END};

/* ---- request bodies ------------------------------------------------------------------ */

const cg_template *cg__ld_parse_template_at(cg__loader *L, const yaml_node_t *at, const char *text,
                                            const char *what)
{
    const char *why;
    cg_template *t = cg_template_parse(L->arena, text, &why);
    if (!t && why) cg__spec_error_at(L, at, "%s: %s", what, why);
    return t;
}

static const field body_fields[] = {{"type", K_STR, 1}, {"data", K_ANY, 1}, FIELDS_END};
static const field part_fields[] = {{"name", K_STR, 1},
                                    {"value", K_STR, 1},
                                    {"filename", K_STR, 0},
                                    {"contentType", K_STR, 0},
                                    FIELDS_END};
static const char *const body_types[] = {"json",           "text",          "xml", "sparql",
                                         "formUrlEncoded", "multipartForm", NULL};

static void build_body_parts(cg__loader *L, const yaml_node_t *data, cg_body *b)
{
    if (data->type == YAML_MAPPING_NODE) { /* form fields: name -> value */
        size_t n = (size_t)(data->data.mapping.pairs.top - data->data.mapping.pairs.start);
        b->parts = cg__ld_alloc_array(L, n, sizeof *b->parts);
        for (yaml_node_pair_t *p = data->data.mapping.pairs.start; p < data->data.mapping.pairs.top;
             p++) {
            yaml_node_t *kn = cg__ld_node_at(L, p->key), *vn = cg__ld_node_at(L, p->value);
            if (!cg__ld_scalar(kn) || !cg__ld_scalar(vn)) {
                cg__spec_error_at(L, vn, "a form field must map a name to a string");
                continue;
            }
            b->parts[b->n_parts++] = (cg_body_part){
                cg_arena_strdup(L->arena, cg__ld_scalar(kn)),
                cg__ld_parse_template_at(L, vn, cg__ld_scalar(vn), "form field"), NULL, NULL};
        }
        return;
    }
    b->parts = cg__ld_alloc_array(L, cg__ld_seq_len(data), sizeof *b->parts);
    for (size_t i = 0; i < cg__ld_seq_len(data); i++) {
        yaml_node_t *pn = cg__ld_seq_item(L, data, i);
        if (!cg__ld_check_fields(L, pn, "a multipart part", part_fields) ||
            !cg__ld_get(L, pn, "value", K_STR))
            continue;
        b->parts[b->n_parts++] = (cg_body_part){
            cg__ld_get_str(L, pn, "name"),
            cg__ld_parse_template_at(L, cg__ld_get(L, pn, "value", K_STR),
                                     cg__ld_scalar(cg__ld_get(L, pn, "value", K_STR)),
                                     "multipart part"),
            cg__ld_get_str(L, pn, "filename"), cg__ld_get_str(L, pn, "contentType")};
    }
}

static const cg_body *build_body(cg__loader *L, const yaml_node_t *n)
{
    cg_body *b = cg_arena_alloc(L->arena, sizeof *b);
    if (n->type == YAML_SCALAR_NODE) {
        b->kind = CG_BODY_RAW;
        b->data = cg__ld_parse_template_at(L, n, cg__ld_scalar(n), "body");
        return b;
    }
    if (!cg__ld_check_fields(L, n, "a body", body_fields)) return NULL;
    int t = cg__ld_get_enum(L, n, "type", "a body", body_types, 0, -1);
    yaml_node_t *data = cg__ld_map_get(L, n, "data");
    if (t < 0 || !data) return NULL;
    static const cg_body_kind kinds[] = {CG_BODY_JSON,   CG_BODY_TEXT, CG_BODY_XML,
                                         CG_BODY_SPARQL, CG_BODY_FORM, CG_BODY_MULTIPART};
    b->kind = kinds[t];
    if (data->type == YAML_SCALAR_NODE && b->kind != CG_BODY_MULTIPART) {
        b->data = cg__ld_parse_template_at(L, data, cg__ld_scalar(data), "body data");
    } else if (b->kind == CG_BODY_JSON) {
        char *text = cg__yaml_to_json_text(L, data);
        b->data = text ? cg__ld_parse_template_at(L, data, text, "body data") : NULL;
    } else if ((b->kind == CG_BODY_FORM && data->type == YAML_MAPPING_NODE) ||
               (b->kind == CG_BODY_MULTIPART && data->type == YAML_SEQUENCE_NODE)) {
        build_body_parts(L, data, b);
    } else {
        cg__spec_error_at(L, data, "'data' of a %s body must be %s", body_types[t],
                          b->kind == CG_BODY_MULTIPART ? "a list of parts"
                          : b->kind == CG_BODY_FORM    ? "a string or a mapping of fields"
                                                       : "a string");
        return NULL;
    }
    return b;
}

static const char *const raw_formats[] = {"json", "xml",  "avro", "protobuf", "csv", "tsv",
                                          "psv",  "yaml", "html", "markdown", NULL};

static void build_operation(cg__loader *L, const yaml_node_t *n, const char *resource,
                            const char *path, cg__pos path_at, cg_operation *op, cg__op_pos *at)
{
    memset(op, 0, sizeof *op); /* the slot may hold a rejected earlier entry */
    if (!cg__ld_check_fields(L, n, "an operation", operation_fields)) return;
    at->at = cg__ld_pos_of(n);
    at->path = path_at;
    op->name = cg__ld_get_str(L, n, "name");
    cg__ld_check_name(L, n, "name", "operation name");
    op->method = cg__ld_get_method(L, n, "an operation", 0);
    op->description = cg__ld_get_str(L, n, "description");
    op->resource = resource;
    op->path = path;
    int fmt = cg__ld_get_enum(L, n, "outputRawFormat", "an operation", raw_formats, 0, 0);
    op->output_format = raw_formats[fmt >= 0 ? fmt : 0];
    op->output_schema = cg__ld_get_str(L, n, "outputSchema");
    if (fmt > 0 && !strcmp(op->output_format, "protobuf"))
        cg__spec_error_at(
            L, cg__ld_map_get(L, n, "outputRawFormat"),
            "outputRawFormat 'protobuf' is not supported by capgate: decoding needs "
            "the message types compiled ahead of time (protobuf-c has no run-time "
            ".proto parser); convert upstream or use json, avro, xml, yaml, csv, tsv, "
            "psv, html or markdown");
    if (fmt > 0 && !strcmp(op->output_format, "avro") && !op->output_schema)
        cg__spec_error_at(
            L, cg__ld_map_get(L, n, "outputRawFormat"),
            "outputRawFormat 'avro' needs 'outputSchema': the Avro schema file (.avsc)");
    yaml_node_t *ins = cg__ld_get(L, n, "inputParameters", K_SEQ);
    size_t ni = cg__ld_seq_len(ins);
    op->inputs = cg__ld_alloc_array(L, ni, sizeof *op->inputs);
    for (size_t i = 0; i < ni; i++) {
        yaml_node_t *in = cg__ld_seq_item(L, ins, i);
        cg_input *ci = &op->inputs[op->n_inputs];
        build_input(L, in, ci);
        if (ci->name) op->n_inputs++;
    }
    cg__ld_build_outputs(L, cg__ld_get(L, n, "outputParameters", K_SEQ), &op->outputs,
                         &op->n_outputs);
    yaml_node_t *body = cg__ld_map_get(L, n, "body");
    if (body) op->body = build_body(L, body);
}

static const field resource_fields[] = {
    {"name", K_STR, 1},  {"path", K_STR, 1},       {"description", K_STR, 0},
    {"label", K_STR, 0}, {"operations", K_SEQ, 1}, {"inputParameters", K_SEQ, 0},
    FIELDS_END};

static const field auth_fields[] = {{"type", K_STR, 1},
                                    {"key", K_STR, 0},
                                    {"value", K_STR, 0},
                                    {"placement", K_STR, 0},
                                    {"token", K_STR, 0},
                                    {"username", K_STR, 0},
                                    {"password", K_STR, 0},
                                    {"authorizationServerUri", K_STR, 0},
                                    {"resource", K_STR, 0},
                                    {"scopes", K_SEQ, 0},
                                    {"audience", K_STR, 0},
                                    {"tokenEndpoint", K_STR, 0},
                                    {"tokenValidation", K_STR, 0},
                                    {"clientId", K_STR, 0},
                                    {"clientSecret", K_STR, 0},
                                    FIELDS_END};

static void require_auth_field(cg__loader *L, const yaml_node_t *n, const char *key,
                               const char *type)
{
    if (!cg__ld_map_get(L, n, key))
        cg__spec_error_at(L, n, "%s authentication is missing required key '%s'", type, key);
}

/* oauth2: outbound (a consumed API) is a client-credentials client; inbound (an exposed
 * adapter) a resource server validating JWTs (docs/spec-semantics.md). */
static void build_oauth2(cg__loader *L, const yaml_node_t *n, cg_auth *auth, bool inbound)
{
    static const char *const validations[] = {"jwks", "introspection", NULL};
    auth->authorization_server = cg__ld_get_str(L, n, "authorizationServerUri");
    auth->resource = cg__ld_get_str(L, n, "resource");
    auth->audience = cg__ld_get_str(L, n, "audience");
    auth->token_endpoint = cg__ld_get_str(L, n, "tokenEndpoint");
    auth->introspection = cg__ld_get_enum(L, n, "tokenValidation", "authentication", validations, 0,
                                          0) == 1;
    auth->client_id = cg__ld_get_template(L, n, "clientId");
    auth->client_secret = cg__ld_get_template(L, n, "clientSecret");
    yaml_node_t *sc = cg__ld_get(L, n, "scopes", K_SEQ);
    auth->n_scopes = cg__ld_seq_len(sc);
    auth->scopes = cg__ld_alloc_array(L, auth->n_scopes, sizeof *auth->scopes);
    for (size_t i = 0; i < auth->n_scopes; i++)
        auth->scopes[i] = cg_arena_strdup(L->arena, cg__ld_scalar(cg__ld_seq_item(L, sc, i)));
    if (inbound) {
        require_auth_field(L, n, "authorizationServerUri", "oauth2");
        require_auth_field(L, n, "resource", "oauth2");
        if (auth->introspection)
            cg__spec_error_at(L, cg__ld_map_get(L, n, "tokenValidation"),
                              "tokenValidation 'introspection' is not supported by capgate "
                              "(it validates JWTs against the server's JWKS: use 'jwks')");
    } else {
        require_auth_field(L, n, "tokenEndpoint", "oauth2 (client credentials)");
        require_auth_field(L, n, "clientId", "oauth2 (client credentials)");
        require_auth_field(L, n, "clientSecret", "oauth2 (client credentials)");
    }
}

void cg__ld_build_auth(cg__loader *L, const yaml_node_t *n, cg_auth *auth, bool inbound)
{
    if (!cg__ld_check_fields(L, n, "authentication", auth_fields)) return;
    int t = cg__ld_get_enum(L, n, "type", "authentication", cg__ld_auth_names, 0, CG_AUTH_NONE);
    auth->type = t >= 0 ? (cg_auth_type)t : CG_AUTH_NONE;
    switch (auth->type) {
    case CG_AUTH_APIKEY: {
        static const char *const placements[] = {"header", "query", NULL};
        require_auth_field(L, n, "key", "apikey");
        require_auth_field(L, n, "value", "apikey");
        auth->key = cg__ld_get_str(L, n, "key");
        auth->value = cg__ld_get_template(L, n, "value");
        auth->in_query = cg__ld_get_enum(L, n, "placement", "authentication", placements, 0, 0) ==
                         1;
        if (inbound && auth->in_query)
            cg__spec_error_at(L, cg__ld_map_get(L, n, "placement"),
                              "an exposed adapter's apikey must "
                              "be a header (capgate does not read inbound keys from the query)");
        break;
    }
    case CG_AUTH_BEARER:
        require_auth_field(L, n, "token", "bearer");
        auth->token = cg__ld_get_template(L, n, "token");
        break;
    case CG_AUTH_BASIC:
    case CG_AUTH_DIGEST:
        require_auth_field(L, n, "username", cg__ld_auth_names[auth->type]);
        require_auth_field(L, n, "password", cg__ld_auth_names[auth->type]);
        auth->username = cg__ld_get_template(L, n, "username");
        auth->password = cg__ld_get_template(L, n, "password");
        if (inbound && auth->type == CG_AUTH_DIGEST)
            cg__spec_error_at(L, cg__ld_map_get(L, n, "type"),
                              "inbound digest authentication is not "
                              "supported by capgate (use bearer, apikey, basic or oauth2)");
        break;
    case CG_AUTH_OAUTH2: build_oauth2(L, n, auth, inbound); break;
    case CG_AUTH_NONE: break;
    }
}

static const field consumes_fields[] = {
    {"type", K_STR, 1},           {"namespace", K_STR, 1},       {"baseUri", K_STR, 1},
    {"description", K_STR, 0},    {"label", K_STR, 0},           {"resources", K_SEQ, 0},
    {"authentication", K_MAP, 0}, {"inputParameters", K_SEQ, 0}, FIELDS_END};

static const field import_fields[] = {{"import", K_STR, 1},
                                      {"location", K_STR, 1},
                                      {"as", K_STR, 0},
                                      {"description", K_STR, 0},
                                      FIELDS_END};

static const char *const consumes_types[] = {"http", NULL};

static const char *normalize_base_uri(cg__loader *L, const yaml_node_t *n)
{
    yaml_node_t *v = cg__ld_get(L, n, "baseUri", K_STR);
    const char *s = cg__ld_scalar(v);
    if (!s) return NULL;
    const char *host = !strncmp(s, "http://", 7)    ? s + 7
                       : !strncmp(s, "https://", 8) ? s + 8
                                                    : NULL;
    if (!host || !*host || *host == '/' || strpbrk(s, "{}?# \t\r\n")) {
        cg__spec_error_at(L, v,
                          "baseUri '%s' must be an http:// or https:// URL with a host "
                          "and no placeholders, query or fragment",
                          s);
        return NULL;
    }
    size_t len = strlen(s);
    if (len && s[len - 1] == '/') {
        /* as the reference engine refuses it (#184): resource paths bring their own '/' */
        cg__spec_error_at(L, v,
                          "baseUri '%s' must not end with '/' (resource paths start "
                          "with one)",
                          s);
        return NULL;
    }
    return cg_arena_strndup(L->arena, s, len);
}

/* A resource path as written, with a leading '/' added when the spec leaves it out (the
 * schema allows both "ships" and "/ships"). */
const char *cg__ld_resource_path(cg__loader *L, const yaml_node_t *rn)
{
    const char *path = cg__ld_scalar(cg__ld_get(L, rn, "path", K_STR));
    if (!path) return NULL;
    return path[0] == '/' ? cg_arena_strdup(L->arena, path)
                          : cg_arena_printf(L->arena, "/%s", path);
}

/* Inputs declared above operations: on a consumes entry or a resource. */
typedef struct shared_inputs {
    cg_input *inputs;
    size_t n;
} shared_inputs;

static shared_inputs build_shared_inputs(cg__loader *L, const yaml_node_t *seq)
{
    shared_inputs si = {cg__ld_alloc_array(L, cg__ld_seq_len(seq), sizeof(cg_input)), 0};
    for (size_t i = 0; i < cg__ld_seq_len(seq); i++) {
        build_input(L, cg__ld_seq_item(L, seq, i), &si.inputs[si.n]);
        if (si.inputs[si.n].name) si.n++;
    }
    return si;
}

/* The consumes entry's inputs, then the resource's, apply to each of its operations before
 * the operation's own; a later level's input of the same name and location replaces an
 * earlier one. */
static void add_shared_inputs(cg__loader *L, cg_operation *op, const shared_inputs *levels,
                              size_t n_levels)
{
    size_t n = op->n_inputs;
    for (size_t l = 0; l < n_levels; l++) n += levels[l].n;
    if (n == op->n_inputs) return;
    cg_input *all = cg__ld_alloc_array(L, n, sizeof *all);
    size_t k = 0;
    for (size_t l = 0; l < n_levels; l++)
        for (size_t i = 0; i < levels[l].n; i++) {
            const cg_input *in = &levels[l].inputs[i];
            int shadowed = 0;
            for (size_t j = 0; j < op->n_inputs && !shadowed; j++)
                shadowed = op->inputs[j].in == in->in && !strcmp(op->inputs[j].name, in->name);
            for (size_t j = 0; j < k && !shadowed; j++)
                if (all[j].in == in->in && !strcmp(all[j].name, in->name))
                    all[j] = *in, shadowed = 1;
            if (!shadowed) all[k++] = *in;
        }
    if (op->n_inputs) memcpy(all + k, op->inputs, op->n_inputs * sizeof *all);
    op->inputs = all;
    op->n_inputs += k;
}

static void build_consumes_one(cg__loader *L, const yaml_node_t *n, cg_consumes *c, size_t ci)
{
    if (!cg__ld_check_fields(L, n, "a consumes entry", consumes_fields)) return;
    cg__ld_get_enum(L, n, "type", "a consumes entry", consumes_types, 0, 0);
    c->namespace_ = cg__ld_get_str(L, n, "namespace");
    cg__ld_check_name(L, n, "namespace", "namespace");
    c->base_uri = normalize_base_uri(L, n);
    c->description = cg__ld_get_str(L, n, "description");
    yaml_node_t *auth = cg__ld_get(L, n, "authentication", K_MAP);
    if (auth) cg__ld_build_auth(L, auth, &c->auth, false);
    shared_inputs levels[2] = {build_shared_inputs(L, cg__ld_get(L, n, "inputParameters", K_SEQ))};
    c->inputs = levels[0].inputs;
    c->n_inputs = levels[0].n;
    yaml_node_t *res = cg__ld_get(L, n, "resources", K_SEQ);
    size_t n_ops = 0;
    for (size_t r = 0; r < cg__ld_seq_len(res); r++)
        n_ops += cg__ld_seq_len(cg__ld_get(L, cg__ld_seq_item(L, res, r), "operations", K_SEQ));
    c->ops = cg__ld_alloc_array(L, n_ops, sizeof *c->ops);
    L->op_at[ci] = cg__ld_alloc_array(L, n_ops, sizeof(cg__op_pos));
    for (size_t r = 0; r < cg__ld_seq_len(res); r++) {
        yaml_node_t *rn = cg__ld_seq_item(L, res, r);
        if (!cg__ld_check_fields(L, rn, "a resource", resource_fields)) continue;
        const char *name = cg__ld_get_str(L, rn, "name");
        const char *path = cg__ld_resource_path(L, rn);
        yaml_node_t *pn = cg__ld_get(L, rn, "path", K_STR);
        levels[1] = build_shared_inputs(L, cg__ld_get(L, rn, "inputParameters", K_SEQ));
        yaml_node_t *ops = cg__ld_get(L, rn, "operations", K_SEQ);
        for (size_t o = 0; o < cg__ld_seq_len(ops); o++) {
            cg_operation *op = &c->ops[c->n_ops];
            build_operation(L, cg__ld_seq_item(L, ops, o), name, path,
                            pn ? cg__ld_pos_of(pn) : cg__ld_pos_of(rn), op,
                            &L->op_at[ci][c->n_ops]);
            op->api = c;
            if (!op->name) continue;
            add_shared_inputs(L, op, levels, 2);
            c->n_ops++;
        }
    }
}

/* The directory part of path ("." when it has none), in the arena. */
const char *cg__ld_dir_of(cg__loader *L, const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? cg_arena_strndup(L->arena, path, (size_t)(slash - path) + (slash == path)) : ".";
}

static int same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) ? !strcmp(ra, rb) : !strcmp(a, b);
}

static int build_import(cg__loader *L, const yaml_node_t *n, cg_consumes *c, size_t ci);

/* `- import: NS, location: FILE [as: ALIAS]`: the consumes entry of namespace NS in the
 * shared consumes document FILE (relative to the importing file), built and resolved with
 * that file current so its messages name it. Returns 0 when the entry could not be had
 * (reported once; calls into it are then not reported again). */
static int build_import(cg__loader *L, const yaml_node_t *n, cg_consumes *c, size_t ci)
{
    if (!cg__ld_check_fields(L, n, "an imported consumes entry", import_fields)) return 0;
    const char *ns = cg__ld_scalar(cg__ld_get(L, n, "import", K_STR));
    const char *location = cg__ld_scalar(cg__ld_get(L, n, "location", K_STR));
    const char *alias = cg__ld_scalar(cg__ld_get(L, n, "as", K_STR));
    if (!ns || !location) return 0; /* a missing or non-string key, already reported */
    c->namespace_ = cg_arena_strdup(L->arena, alias ? alias : ns);
    yaml_node_t *loc = cg__ld_map_get(L, n, "location");
    const char *rel = location;
    while (!strncmp(rel, "./", 2)) rel += 2;
    const char *path = location[0] == '/'     ? cg_arena_strdup(L->arena, location)
                       : !strcmp(L->dir, ".") ? cg_arena_strdup(L->arena, rel)
                                              : cg_arena_printf(L->arena, "%s/%s", L->dir, rel);
    for (int i = 0; i < L->import_depth; i++)
        if (same_file(L->import_chain[i], path)) {
            cg__spec_error_at(L, loc, "import cycle: '%s' imports itself (through %s)", location,
                              L->import_chain[L->import_depth - 1]);
            return 0;
        }
    if (L->import_depth >= (int)(sizeof L->import_chain / sizeof *L->import_chain)) {
        cg__spec_error_at(L, loc, "imports nest deeper than %d documents",
                          (int)(sizeof L->import_chain / sizeof *L->import_chain));
        return 0;
    }
    yaml_document_t doc;
    if (cg__spec_parse_file(L, path, &doc, cg__ld_pos_of(loc).line, cg__ld_pos_of(loc).col) < 0)
        return 0;
    /* swap the imported document in */
    yaml_document_t saved_doc = L->doc;
    const char *saved_file = L->file, *saved_dir = L->dir;
    int saved_errors = L->n_errors, found = 0;
    L->import_chain[L->import_depth++] = saved_file;
    L->doc = doc;
    L->file = path;
    L->dir = cg__ld_dir_of(L, path);
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    yaml_node_t *list = root ? cg__ld_get(L, root, "consumes", K_SEQ) : NULL;
    if (!list && root) /* a whole capability: its consumes entries */
        list = cg__ld_get(L, cg__ld_get(L, root, "capability", K_MAP), "consumes", K_SEQ);
    if (!list) {
        cg__spec_error(L, 1, 1,
                       "imported by %s: has no consumes entries (neither top-level "
                       "'consumes' nor 'capability.consumes')",
                       saved_file);
    } else {
        for (size_t i = 0; i < cg__ld_seq_len(list) && !found; i++) {
            yaml_node_t *e = cg__ld_seq_item(L, list, i);
            int chained = cg__ld_map_get(L, e, "import") != NULL;
            const char *ens = cg__ld_scalar(cg__ld_get(L, e, chained ? "as" : "namespace", K_STR));
            if (!ens && chained) ens = cg__ld_scalar(cg__ld_get(L, e, "import", K_STR));
            if (!ens || strcmp(ens, ns)) continue;
            found = 1;
            if (chained) { /* the shared document imports it in turn */
                found = build_import(L, e, c, ci) ? 1 : -1;
            } else {
                build_consumes_one(L, e, c, ci);
                cg__spec_resolve_consumes_entry(L, ci);
            }
            c->namespace_ = cg_arena_strdup(L->arena, alias ? alias : ns);
        }
    }
    L->doc = saved_doc;
    L->file = saved_file;
    L->dir = saved_dir;
    L->import_depth--;
    yaml_document_delete(&doc);
    if (list && !found)
        cg__spec_error_at(L, cg__ld_map_get(L, n, "import"),
                          "'%s' has no consumes entry with namespace "
                          "'%s'",
                          location, ns);
    return found > 0 && L->n_errors == saved_errors;
}

void cg__ld_build_consumes(cg__loader *L, const yaml_node_t *seq)
{
    cg_spec *S = L->spec;
    size_t n = cg__ld_seq_len(seq);
    S->consumes = cg__ld_alloc_array(L, n, sizeof *S->consumes);
    L->consumes_at = cg__ld_alloc_array(L, n, sizeof *L->consumes_at);
    L->op_at = cg__ld_alloc_array(L, n, sizeof *L->op_at);
    L->consumes_imported = cg__ld_alloc_array(L, n, 1);
    L->consumes_broken = cg__ld_alloc_array(L, n, 1);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *c = cg__ld_seq_item(L, seq, i);
        size_t ci = S->n_consumes;
        L->consumes_at[ci] = cg__ld_pos_of(c);
        if (cg__ld_map_get(L, c, "import") || cg__ld_map_get(L, c, "location")) {
            L->consumes_imported[ci] = 1;
            L->consumes_broken[ci] = !build_import(L, c, &S->consumes[ci], ci);
        } else {
            build_consumes_one(L, c, &S->consumes[ci], ci);
        }
        S->n_consumes++;
    }
}
