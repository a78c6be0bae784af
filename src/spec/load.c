/*
 * load.c — pass 1 of the spec loader: YAML nodes → model structs.
 *
 * Every mapping is checked against a table of the keys it may hold (kind, required), so
 * unknown keys, wrong value kinds and missing keys are found in one place with one wording.
 * Values are then copied into the arena-owned model. Nothing here looks across nodes:
 * references between parts of the spec are resolve.c's job.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/spec_internal.h"
#include "spec/template.h"

typedef enum { K_STR, K_INT, K_BOOL, K_MAP, K_SEQ, K_SCALAR_OR_MAP, K_ANY } value_kind;

typedef struct field {
    const char *key;
    value_kind kind;
    int required;
} field;

#define FIELDS_END {NULL, K_ANY, 0}

/* ---- YAML node helpers ------------------------------------------------------------ */

static yaml_node_t *node_at(cg__loader *L, int id)
{
    return yaml_document_get_node(&L->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static yaml_node_t *map_get(cg__loader *L, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = scalar(node_at(L, p->key));
        if (k && !strcmp(k, key))
            return node_at(L, p->value);
    }
    return NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE
               ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start) : 0;
}

static yaml_node_t *seq_item(cg__loader *L, const yaml_node_t *n, size_t i)
{
    return node_at(L, n->data.sequence.items.start[i]);
}

static cg__pos pos_of(const yaml_node_t *n)
{
    return (cg__pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) { *out = 1; return 0; }
        if (!strcasecmp(s, no[i])) { *out = 0; return 0; }
    }
    return -1;
}

static int parse_int(const char *s, long *out)
{
    if (!*s)
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static const char *kind_name(value_kind k)
{
    switch (k) {
    case K_STR: return "a string";
    case K_INT: return "an integer";
    case K_BOOL: return "true or false";
    case K_MAP: return "a mapping";
    case K_SEQ: return "a list";
    case K_SCALAR_OR_MAP: return "a string or a mapping";
    default: return "a value";
    }
}

static int kind_matches(const yaml_node_t *n, value_kind k)
{
    int b;
    long l;
    switch (k) {
    case K_STR: return n->type == YAML_SCALAR_NODE;
    case K_INT: return is_plain(n) && parse_int(scalar(n), &l) == 0;
    case K_BOOL: return is_plain(n) && parse_bool(scalar(n), &b) == 0;
    case K_MAP: return n->type == YAML_MAPPING_NODE;
    case K_SEQ: return n->type == YAML_SEQUENCE_NODE;
    case K_SCALAR_OR_MAP: return n->type != YAML_SEQUENCE_NODE;
    default: return 1;
    }
}

/* Checks a mapping against its field table. Reports unknown and duplicate keys, values of
 * the wrong kind and missing required keys. Returns 1 when n is a mapping (its fields can
 * then be read, wrong-kinded ones reading as absent), 0 otherwise. */
static int check_fields(cg__loader *L, const yaml_node_t *n, const char *what, const field *fields)
{
    if (n->type != YAML_MAPPING_NODE) {
        cg__spec_error_at(L, n, "%s must be a mapping", what);
        return 0;
    }
    const char *names[64];
    size_t n_names = 0;
    for (const field *f = fields; f->key && n_names < 64; f++)
        names[n_names++] = f->key;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node_at(L, p->key), *vn = node_at(L, p->value);
        const char *k = scalar(kn);
        if (!k) {
            cg__spec_error_at(L, kn, "a key in %s must be a string", what);
            continue;
        }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *earlier = node_at(L, q->key);
            const char *k2 = scalar(earlier);
            if (k2 && !strcmp(k, k2)) {
                cg__spec_error_at(L, kn, "duplicate key '%s' in %s (first at line %d)", k, what,
                                  (int)earlier->start_mark.line + 1);
                break;
            }
        }
        const field *f = fields;
        while (f->key && strcmp(f->key, k))
            f++;
        if (!f->key) {
            const char *hint = cg__spec_suggest(k, names, n_names);
            if (hint)
                cg__spec_error_at(L, kn, "unknown key '%s' in %s (did you mean '%s'?)", k, what, hint);
            else
                cg__spec_error_at(L, kn, "unknown key '%s' in %s", k, what);
            continue;
        }
        if (!kind_matches(vn, f->kind))
            cg__spec_error_at(L, vn, "'%s' in %s must be %s", k, what, kind_name(f->kind));
    }
    for (const field *f = fields; f->key; f++)
        if (f->required && !map_get(L, n, f->key))
            cg__spec_error_at(L, n, "%s is missing required key '%s'", what, f->key);
    return 1;
}

/* A field's value when present and of the right kind, else NULL. */
static yaml_node_t *get(cg__loader *L, const yaml_node_t *map, const char *key, value_kind k)
{
    yaml_node_t *v = map_get(L, map, key);
    return v && kind_matches(v, k) ? v : NULL;
}

static const char *get_str(cg__loader *L, const yaml_node_t *map, const char *key)
{
    return cg_arena_strdup(L->arena, scalar(get(L, map, key, K_STR)));
}

static int get_bool(cg__loader *L, const yaml_node_t *map, const char *key, int dflt)
{
    yaml_node_t *v = get(L, map, key, K_BOOL);
    int b = dflt;
    if (v)
        parse_bool(scalar(v), &b);
    return b;
}

/* An enum field: its index in values, dflt when absent, -1 (reported) when not listed. */
static int get_enum(cg__loader *L, const yaml_node_t *map, const char *key, const char *what,
                    const char *const *values, int case_insensitive, int dflt)
{
    yaml_node_t *v = get(L, map, key, K_STR);
    if (!v)
        return map_get(L, map, key) ? -1 : dflt;
    const char *s = scalar(v);
    for (int i = 0; values[i]; i++)
        if (case_insensitive ? !strcasecmp(s, values[i]) : !strcmp(s, values[i]))
            return i;
    cg_buf list = CG_BUF_INIT;
    for (int i = 0; values[i]; i++)
        cg_buf_printf(&list, "%s%s", i ? ", " : "", values[i]);
    cg__spec_error_at(L, v, "'%s' in %s must be one of %s, not '%s'", key, what, list.data, s);
    cg_buf_free(&list);
    return -1;
}

static const cg_template *get_template(cg__loader *L, const yaml_node_t *map, const char *key)
{
    yaml_node_t *v = get(L, map, key, K_STR);
    if (!v)
        return NULL;
    const char *why;
    cg_template *t = cg_template_parse(L->arena, scalar(v), &why);
    if (!t && why)
        cg__spec_error_at(L, v, "'%s': %s", key, why);
    return t;
}

/* Allocates n zeroed elements of size sz (n may be 0: returns NULL). */
static void *alloc_array(cg__loader *L, size_t n, size_t sz)
{
    return n ? cg_arena_alloc(L->arena, n * sz) : NULL;
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

static void check_name(cg__loader *L, const yaml_node_t *map, const char *key, const char *what)
{
    yaml_node_t *v = get(L, map, key, K_STR);
    const char *s = scalar(v);
    if (s && (!*s || s[strspn(s, NAME_CHARS)]))
        cg__spec_error_at(L, v, "%s '%s' may hold only letters, digits, '_' and '-'", what, s);
}

/* ---- enums as written in specs ----------------------------------------------------- */

static const char *const location_names[] = {"query", "header", "path", "body", "cookie",
                                             "environment", NULL};
static const char *const type_names[] = {"string", "integer", "number", "boolean", "object",
                                         "array", NULL};
static const char *const auth_names[] = {"none", "apikey", "bearer", "basic", "digest", "oauth2",
                                         NULL};
static const char *const method_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

const char *cg_location_name(cg_location in) { return location_names[in]; }
const char *cg_type_name(cg_type type) { return type_names[type]; }
const char *cg_auth_type_name(cg_auth_type type) { return auth_names[type]; }

static const char *get_method(cg__loader *L, const yaml_node_t *map, const char *what, int required)
{
    int m = get_enum(L, map, "method", what, method_names, 1, required ? -2 : 0);
    return m >= 0 ? method_names[m] : NULL;
}

static cg_type get_type(cg__loader *L, const yaml_node_t *map, const char *what)
{
    int t = get_enum(L, map, "type", what, type_names, 0, CG_TYPE_STRING);
    return t >= 0 ? (cg_type)t : CG_TYPE_STRING;
}

/* ---- binds --------------------------------------------------------------------------- */

static const field bind_fields[] = {
    {"namespace", K_STR, 1}, {"keys", K_MAP, 1}, {"location", K_STR, 0},
    {"description", K_STR, 0}, FIELDS_END};

static void build_binds(cg__loader *L, const yaml_node_t *seq)
{
    cg_spec *S = L->spec;
    size_t n = seq_len(seq), base = S->n_binds;
    cg_bind *all = alloc_array(L, base + n, sizeof *all);
    cg__pos *at = alloc_array(L, base + n, sizeof *at);
    if (base) {
        memcpy(all, S->binds, base * sizeof *all);
        memcpy(at, L->bind_at, base * sizeof *at);
    }
    S->binds = all;
    L->bind_at = at;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *b = seq_item(L, seq, i);
        if (!check_fields(L, b, "a binds entry", bind_fields))
            continue;
        cg_bind *bd = &S->binds[S->n_binds];
        memset(bd, 0, sizeof *bd);
        L->bind_at[S->n_binds++] = pos_of(b);
        bd->namespace_ = get_str(L, b, "namespace");
        bd->location = get_str(L, b, "location");
        check_name(L, b, "namespace", "bind namespace");
        yaml_node_t *keys = get(L, b, "keys", K_MAP);
        size_t nk = keys ? (size_t)(keys->data.mapping.pairs.top - keys->data.mapping.pairs.start) : 0;
        bd->keys = alloc_array(L, nk, sizeof *bd->keys);
        for (size_t k = 0; k < nk; k++) {
            yaml_node_pair_t *p = &keys->data.mapping.pairs.start[k];
            yaml_node_t *kn = node_at(L, p->key), *vn = node_at(L, p->value);
            const char *name = scalar(kn), *src = scalar(vn);
            if (!name || !src) {
                cg__spec_error_at(L, name ? vn : kn, "a bind key and its source must be strings");
                continue;
            }
            if (!(*name >= 'A' && *name <= 'Z') || name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")])
                cg__spec_error_at(L, kn, "bind key '%s' must look like an environment variable "
                                         "(A-Z, 0-9 and '_', starting with a letter)", name);
            bd->keys[bd->n_keys++] = (cg_bind_key){cg_arena_strdup(L->arena, name),
                                                   cg_arena_strdup(L->arena, src), NULL};
        }
    }
}

/* ---- consumes ------------------------------------------------------------------------ */

static const field input_fields[] = {
    {"name", K_STR, 1}, {"in", K_STR, 1}, {"type", K_STR, 0}, {"description", K_STR, 0},
    {"required", K_BOOL, 0}, {"value", K_STR, 0}, {"template", K_STR, 0}, {"pattern", K_STR, 0},
    FIELDS_END};

static void build_input(cg__loader *L, const yaml_node_t *n, cg_input *in)
{
    memset(in, 0, sizeof *in);   /* the slot may hold a rejected earlier entry */
    if (!check_fields(L, n, "an input parameter", input_fields))
        return;
    cg__pos p = pos_of(n);
    in->line = p.line;
    in->col = p.col;
    in->name = get_str(L, n, "name");
    int loc = get_enum(L, n, "in", "an input parameter", location_names, 0, CG_IN_QUERY);
    in->in = loc >= 0 ? (cg_location)loc : CG_IN_QUERY;
    in->type = get_type(L, n, "an input parameter");
    in->description = get_str(L, n, "description");
    in->required = get_bool(L, n, "required", in->in == CG_IN_PATH);
    in->value = get_template(L, n, "value");
    if (!in->value)
        in->value = get_template(L, n, "template");
    if (in->in == CG_IN_PATH && !in->required)
        cg__spec_error_at(L, map_get(L, n, "required"), "path parameter '%s' cannot be optional",
                          in->name ? in->name : "");
}

static const field output_fields[] = {
    {"name", K_STR, 0}, {"type", K_STR, 0}, {"value", K_STR, 0}, {"mapping", K_STR, 0},
    {"description", K_STR, 0}, {"properties", K_MAP, 0}, {"items", K_MAP, 0},
    {"maxLength", K_INT, 0}, FIELDS_END};

static void build_outputs(cg__loader *L, const yaml_node_t *seq, cg_output **out, size_t *n_out)
{
    size_t n = seq_len(seq);
    *out = alloc_array(L, n, sizeof **out);
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *o = seq_item(L, seq, i);
        if (!check_fields(L, o, "an output parameter", output_fields))
            continue;
        cg_output *op = &(*out)[(*n_out)++];
        memset(op, 0, sizeof *op);
        op->name = get_str(L, o, "name");
        op->type = get_type(L, o, "an output parameter");
        op->mapping = get_str(L, o, "mapping");
        if (!op->mapping)
            op->mapping = get_str(L, o, "value");
        if (op->mapping && op->mapping[0] != '$')
            cg__spec_error_at(L, map_get(L, o, map_get(L, o, "mapping") ? "mapping" : "value"),
                              "output mapping '%s' must be a JSONPath starting with '$'",
                              op->mapping);
    }
}

static const field operation_fields[] = {
    {"name", K_STR, 1}, {"method", K_STR, 0}, {"description", K_STR, 0}, {"label", K_STR, 0},
    {"outputRawFormat", K_STR, 0}, {"outputParameters", K_SEQ, 0},
    {"inputParameters", K_SEQ, 0}, FIELDS_END};

static const char *const raw_formats[] = {"json", "xml", "avro", "protobuf", "csv", "tsv",
                                          "psv", "yaml", "html", "markdown", NULL};

static void build_operation(cg__loader *L, const yaml_node_t *n, const char *resource,
                            const char *path, cg__pos path_at, cg_operation *op, cg__op_pos *at)
{
    memset(op, 0, sizeof *op);   /* the slot may hold a rejected earlier entry */
    if (!check_fields(L, n, "an operation", operation_fields))
        return;
    at->at = pos_of(n);
    at->path = path_at;
    op->name = get_str(L, n, "name");
    check_name(L, n, "name", "operation name");
    op->method = get_method(L, n, "an operation", 0);
    op->description = get_str(L, n, "description");
    op->resource = resource;
    op->path = path;
    int fmt = get_enum(L, n, "outputRawFormat", "an operation", raw_formats, 0, 0);
    op->output_format = raw_formats[fmt >= 0 ? fmt : 0];
    if (fmt > 0)
        cg__spec_error_at(L, map_get(L, n, "outputRawFormat"),
                          "outputRawFormat '%s' is not supported by capgate (only json)",
                          op->output_format);
    yaml_node_t *ins = get(L, n, "inputParameters", K_SEQ);
    size_t ni = seq_len(ins);
    op->inputs = alloc_array(L, ni, sizeof *op->inputs);
    for (size_t i = 0; i < ni; i++) {
        yaml_node_t *in = seq_item(L, ins, i);
        cg_input *ci = &op->inputs[op->n_inputs];
        build_input(L, in, ci);
        if (ci->name)
            op->n_inputs++;
    }
    build_outputs(L, get(L, n, "outputParameters", K_SEQ), &op->outputs, &op->n_outputs);
}

static const field resource_fields[] = {
    {"name", K_STR, 1}, {"path", K_STR, 1}, {"description", K_STR, 0}, {"label", K_STR, 0},
    {"operations", K_SEQ, 1}, FIELDS_END};

static const field auth_fields[] = {
    {"type", K_STR, 1}, {"key", K_STR, 0}, {"value", K_STR, 0}, {"placement", K_STR, 0},
    {"token", K_STR, 0}, {"username", K_STR, 0}, {"password", K_STR, 0},
    {"authorizationServerUri", K_STR, 0}, {"resource", K_STR, 0}, {"scopes", K_SEQ, 0},
    {"audience", K_STR, 0}, {"tokenEndpoint", K_STR, 0}, {"tokenValidation", K_STR, 0},
    {"clientId", K_STR, 0}, {"clientSecret", K_STR, 0}, FIELDS_END};

static void require_auth_field(cg__loader *L, const yaml_node_t *n, const char *key, const char *type)
{
    if (!map_get(L, n, key))
        cg__spec_error_at(L, n, "%s authentication is missing required key '%s'", type, key);
}

/* oauth2: outbound (a consumed API) is a client-credentials client; inbound (an exposed
 * adapter) a resource server validating JWTs (docs/spec-semantics.md). */
static void build_oauth2(cg__loader *L, const yaml_node_t *n, cg_auth *auth, bool inbound)
{
    static const char *const validations[] = {"jwks", "introspection", NULL};
    auth->authorization_server = get_str(L, n, "authorizationServerUri");
    auth->resource = get_str(L, n, "resource");
    auth->audience = get_str(L, n, "audience");
    auth->token_endpoint = get_str(L, n, "tokenEndpoint");
    auth->introspection = get_enum(L, n, "tokenValidation", "authentication", validations, 0, 0) == 1;
    auth->client_id = get_template(L, n, "clientId");
    auth->client_secret = get_template(L, n, "clientSecret");
    yaml_node_t *sc = get(L, n, "scopes", K_SEQ);
    auth->n_scopes = seq_len(sc);
    auth->scopes = alloc_array(L, auth->n_scopes, sizeof *auth->scopes);
    for (size_t i = 0; i < auth->n_scopes; i++)
        auth->scopes[i] = cg_arena_strdup(L->arena, scalar(seq_item(L, sc, i)));
    if (inbound) {
        require_auth_field(L, n, "authorizationServerUri", "oauth2");
        require_auth_field(L, n, "resource", "oauth2");
        if (auth->introspection)
            cg__spec_error_at(L, map_get(L, n, "tokenValidation"),
                              "tokenValidation 'introspection' is not supported by capgate "
                              "(it validates JWTs against the server's JWKS: use 'jwks')");
    } else {
        require_auth_field(L, n, "tokenEndpoint", "oauth2 (client credentials)");
        require_auth_field(L, n, "clientId", "oauth2 (client credentials)");
        require_auth_field(L, n, "clientSecret", "oauth2 (client credentials)");
    }
}

static void build_auth(cg__loader *L, const yaml_node_t *n, cg_auth *auth, bool inbound)
{
    if (!check_fields(L, n, "authentication", auth_fields))
        return;
    int t = get_enum(L, n, "type", "authentication", auth_names, 0, CG_AUTH_NONE);
    auth->type = t >= 0 ? (cg_auth_type)t : CG_AUTH_NONE;
    switch (auth->type) {
    case CG_AUTH_APIKEY: {
        static const char *const placements[] = {"header", "query", NULL};
        require_auth_field(L, n, "key", "apikey");
        require_auth_field(L, n, "value", "apikey");
        auth->key = get_str(L, n, "key");
        auth->value = get_template(L, n, "value");
        auth->in_query = get_enum(L, n, "placement", "authentication", placements, 0, 0) == 1;
        if (inbound && auth->in_query)
            cg__spec_error_at(L, map_get(L, n, "placement"), "an exposed adapter's apikey must "
                              "be a header (capgate does not read inbound keys from the query)");
        break;
    }
    case CG_AUTH_BEARER:
        require_auth_field(L, n, "token", "bearer");
        auth->token = get_template(L, n, "token");
        break;
    case CG_AUTH_BASIC:
    case CG_AUTH_DIGEST:
        require_auth_field(L, n, "username", auth_names[auth->type]);
        require_auth_field(L, n, "password", auth_names[auth->type]);
        auth->username = get_template(L, n, "username");
        auth->password = get_template(L, n, "password");
        if (inbound && auth->type == CG_AUTH_DIGEST)
            cg__spec_error_at(L, map_get(L, n, "type"), "inbound digest authentication is not "
                              "supported by capgate (use bearer, apikey, basic or oauth2)");
        break;
    case CG_AUTH_OAUTH2:
        build_oauth2(L, n, auth, inbound);
        break;
    case CG_AUTH_NONE:
        break;
    }
}

static const field consumes_fields[] = {
    {"type", K_STR, 1}, {"namespace", K_STR, 1}, {"baseUri", K_STR, 1},
    {"description", K_STR, 0}, {"label", K_STR, 0}, {"resources", K_SEQ, 1},
    {"authentication", K_MAP, 0}, FIELDS_END};

static const char *const consumes_types[] = {"http", NULL};

static const char *normalize_base_uri(cg__loader *L, const yaml_node_t *n)
{
    yaml_node_t *v = get(L, n, "baseUri", K_STR);
    const char *s = scalar(v);
    if (!s)
        return NULL;
    const char *host = !strncmp(s, "http://", 7) ? s + 7 : !strncmp(s, "https://", 8) ? s + 8 : NULL;
    if (!host || !*host || *host == '/' || strpbrk(s, "{}?# \t\r\n")) {
        cg__spec_error_at(L, v, "baseUri '%s' must be an http:// or https:// URL with a host "
                                "and no placeholders, query or fragment", s);
        return NULL;
    }
    size_t len = strlen(s);
    while (len && s[len - 1] == '/')
        len--;
    return cg_arena_strndup(L->arena, s, len);
}

static void build_consumes_one(cg__loader *L, const yaml_node_t *n, cg_consumes *c, size_t ci)
{
    if (!check_fields(L, n, "a consumes entry", consumes_fields))
        return;
    get_enum(L, n, "type", "a consumes entry", consumes_types, 0, 0);
    c->namespace_ = get_str(L, n, "namespace");
    check_name(L, n, "namespace", "namespace");
    c->base_uri = normalize_base_uri(L, n);
    c->description = get_str(L, n, "description");
    yaml_node_t *auth = get(L, n, "authentication", K_MAP);
    if (auth)
        build_auth(L, auth, &c->auth, false);
    yaml_node_t *res = get(L, n, "resources", K_SEQ);
    size_t n_ops = 0;
    for (size_t r = 0; r < seq_len(res); r++)
        n_ops += seq_len(get(L, seq_item(L, res, r), "operations", K_SEQ));
    c->ops = alloc_array(L, n_ops, sizeof *c->ops);
    L->op_at[ci] = alloc_array(L, n_ops, sizeof(cg__op_pos));
    for (size_t r = 0; r < seq_len(res); r++) {
        yaml_node_t *rn = seq_item(L, res, r);
        if (!check_fields(L, rn, "a resource", resource_fields))
            continue;
        const char *name = get_str(L, rn, "name");
        const char *path = get_str(L, rn, "path");
        yaml_node_t *pn = get(L, rn, "path", K_STR);
        if (path && path[0] != '/')
            cg__spec_error_at(L, pn, "resource path '%s' must start with '/'", path);
        yaml_node_t *ops = get(L, rn, "operations", K_SEQ);
        for (size_t o = 0; o < seq_len(ops); o++) {
            cg_operation *op = &c->ops[c->n_ops];
            build_operation(L, seq_item(L, ops, o), name, path, pn ? pos_of(pn) : pos_of(rn), op,
                            &L->op_at[ci][c->n_ops]);
            op->api = c;
            if (op->name)
                c->n_ops++;
        }
    }
}

static void build_consumes(cg__loader *L, const yaml_node_t *seq)
{
    cg_spec *S = L->spec;
    size_t n = seq_len(seq);
    S->consumes = alloc_array(L, n, sizeof *S->consumes);
    L->consumes_at = alloc_array(L, n, sizeof *L->consumes_at);
    L->op_at = alloc_array(L, n, sizeof *L->op_at);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *c = seq_item(L, seq, i);
        L->consumes_at[S->n_consumes] = pos_of(c);
        build_consumes_one(L, c, &S->consumes[S->n_consumes], S->n_consumes);
        S->n_consumes++;
    }
}

/* ---- exposes ------------------------------------------------------------------------- */

static const field rest_op_fields[] = {
    {"method", K_STR, 1}, {"name", K_STR, 0}, {"description", K_STR, 0}, {"label", K_STR, 0},
    {"call", K_STR, 1}, {"with", K_MAP, 0}, {"outputParameters", K_SEQ, 0},
    {"inputParameters", K_SEQ, 0}, FIELDS_END};

static const field rest_resource_fields[] = {
    {"path", K_STR, 1}, {"name", K_STR, 0}, {"description", K_STR, 0}, {"label", K_STR, 0},
    {"operations", K_SEQ, 1}, FIELDS_END};

/* Records what resolve.c needs about an operation or tool: call, with, inputParameters. */
static void note_call(cg__loader *L, const yaml_node_t *n, cg__call_pos *at)
{
    at->at = pos_of(n);
    yaml_node_t *call = get(L, n, "call", K_STR);
    at->call = call ? pos_of(call) : pos_of(n);
    at->call_text = call ? cg_arena_strdup(L->arena, scalar(call)) : NULL;
    at->with = get(L, n, "with", K_MAP);
    at->inputs = get(L, n, "inputParameters", K_SEQ);
}

static void refuse_unsupported(cg__loader *L, const yaml_node_t *n, const char *key, const char *what)
{
    yaml_node_t *v = map_get(L, n, key);
    if (v)
        cg__spec_error_at(L, v, "'%s' (%s) is not supported by capgate yet", key, what);
}

/* steps: and ref: (orchestrated operations, aggregates) are reported as unsupported;
 * returns 1 when n uses either, so the caller skips it. */
static int refuse_orchestration(cg__loader *L, const yaml_node_t *n)
{
    refuse_unsupported(L, n, "steps", "orchestrated mode");
    refuse_unsupported(L, n, "ref", "aggregate references");
    return map_get(L, n, "steps") || map_get(L, n, "ref");
}

static void build_rest(cg__loader *L, const yaml_node_t *n, cg_rest_adapter *a, size_t ai)
{
    yaml_node_t *res = get(L, n, "resources", K_SEQ);
    size_t nr = seq_len(res);
    a->resources = alloc_array(L, nr, sizeof *a->resources);
    L->resource_at[ai] = alloc_array(L, nr, sizeof(cg__pos));
    L->rest_op_at[ai] = alloc_array(L, nr, sizeof(cg__call_pos *));
    for (size_t r = 0; r < nr; r++) {
        yaml_node_t *rn = seq_item(L, res, r);
        refuse_unsupported(L, rn, "forward", "forward proxy mode");
        if (map_get(L, rn, "forward"))
            continue;
        if (!check_fields(L, rn, "a REST resource", rest_resource_fields))
            continue;
        cg_rest_resource *rr = &a->resources[a->n_resources];
        memset(rr, 0, sizeof *rr);
        L->resource_at[ai][a->n_resources] = pos_of(rn);
        rr->path = get_str(L, rn, "path");
        rr->name = get_str(L, rn, "name");
        rr->description = get_str(L, rn, "description");
        if (rr->path && rr->path[0] != '/')
            cg__spec_error_at(L, map_get(L, rn, "path"), "REST path '%s' must start with '/'", rr->path);
        yaml_node_t *ops = get(L, rn, "operations", K_SEQ);
        size_t no = seq_len(ops);
        rr->ops = alloc_array(L, no, sizeof *rr->ops);
        L->rest_op_at[ai][a->n_resources] = alloc_array(L, no, sizeof(cg__call_pos));
        for (size_t o = 0; o < no; o++) {
            yaml_node_t *on = seq_item(L, ops, o);
            if (refuse_orchestration(L, on))
                continue;
            if (!check_fields(L, on, "a REST operation", rest_op_fields))
                continue;
            cg_rest_operation *ro = &rr->ops[rr->n_ops];
            memset(ro, 0, sizeof *ro);
            ro->method = get_method(L, on, "a REST operation", 1);
            ro->name = get_str(L, on, "name");
            ro->description = get_str(L, on, "description");
            build_outputs(L, get(L, on, "outputParameters", K_SEQ),
                          (cg_output **)&ro->call.outputs, &ro->call.n_outputs);
            note_call(L, on, &L->rest_op_at[ai][a->n_resources][rr->n_ops]);
            rr->n_ops++;
        }
        a->n_resources++;
    }
}

static const field hints_fields[] = {
    {"readOnly", K_BOOL, 0}, {"destructive", K_BOOL, 0}, {"idempotent", K_BOOL, 0},
    {"openWorld", K_BOOL, 0}, {"label", K_STR, 0}, FIELDS_END};

static signed char get_hint(cg__loader *L, const yaml_node_t *hints, const char *key)
{
    return get(L, hints, key, K_BOOL) ? (signed char)get_bool(L, hints, key, 0) : -1;
}

static const field tool_fields[] = {
    {"name", K_STR, 1}, {"description", K_STR, 1}, {"label", K_STR, 0}, {"title", K_STR, 0},
    {"hints", K_MAP, 0}, {"call", K_STR, 1}, {"with", K_MAP, 0},
    {"outputParameters", K_SEQ, 0}, {"inputParameters", K_SEQ, 0}, FIELDS_END};

static void build_mcp(cg__loader *L, const yaml_node_t *n, cg_mcp_adapter *a, size_t ai)
{
    yaml_node_t *tools = get(L, n, "tools", K_SEQ);
    size_t nt = seq_len(tools);
    a->tools = alloc_array(L, nt, sizeof *a->tools);
    L->tool_at[ai] = alloc_array(L, nt, sizeof(cg__call_pos));
    for (size_t t = 0; t < nt; t++) {
        yaml_node_t *tn = seq_item(L, tools, t);
        if (refuse_orchestration(L, tn))
            continue;
        if (!check_fields(L, tn, "an MCP tool", tool_fields))
            continue;
        cg_tool *tool = &a->tools[a->n_tools];
        memset(tool, 0, sizeof *tool);
        tool->name = get_str(L, tn, "name");
        tool->description = get_str(L, tn, "description");
        tool->title = get_str(L, tn, "title");
        if (!tool->title)
            tool->title = get_str(L, tn, "label");
        yaml_node_t *hints = get(L, tn, "hints", K_MAP);
        tool->hints = (cg_tool_hints){-1, -1, -1, -1};
        if (hints && check_fields(L, hints, "hints", hints_fields)) {
            tool->hints.read_only = get_hint(L, hints, "readOnly");
            tool->hints.destructive = get_hint(L, hints, "destructive");
            tool->hints.idempotent = get_hint(L, hints, "idempotent");
            tool->hints.open_world = get_hint(L, hints, "openWorld");
            if (!tool->title)
                tool->title = get_str(L, hints, "label");
        }
        build_outputs(L, get(L, tn, "outputParameters", K_SEQ), (cg_output **)&tool->call.outputs,
                      &tool->call.n_outputs);
        note_call(L, tn, &L->tool_at[ai][a->n_tools]);
        a->n_tools++;
    }
}

static const field exposes_fields[] = {
    {"type", K_STR, 1}, {"namespace", K_STR, 1}, {"port", K_INT, 0}, {"address", K_STR, 0},
    {"description", K_STR, 0}, {"label", K_STR, 0}, {"resources", K_SEQ, 0},
    {"tools", K_SEQ, 0}, {"transport", K_STR, 0}, {"authentication", K_MAP, 0}, FIELDS_END};

static const char *const exposes_types[] = {"rest", "mcp", NULL};

static int get_port(cg__loader *L, const yaml_node_t *n, const char *what)
{
    yaml_node_t *v = get(L, n, "port", K_INT);
    long port = 0;
    if (!v)
        return 0;
    parse_int(scalar(v), &port);
    if (port < 1 || port > 65535) {
        cg__spec_error_at(L, v, "'port' in %s must be between 1 and 65535, not %ld", what, port);
        return 0;
    }
    return (int)port;
}

static void build_exposes(cg__loader *L, const yaml_node_t *seq)
{
    cg_spec *S = L->spec;
    size_t n = seq_len(seq);
    S->rest = alloc_array(L, n, sizeof *S->rest);
    S->mcp = alloc_array(L, n, sizeof *S->mcp);
    L->n_exposes = n;
    L->exposes_at = alloc_array(L, 2 * n, sizeof(cg__pos));
    L->port_at = alloc_array(L, 2 * n, sizeof(cg__pos));
    L->resource_at = alloc_array(L, n, sizeof *L->resource_at);
    L->rest_op_at = alloc_array(L, n, sizeof *L->rest_op_at);
    L->tool_at = alloc_array(L, n, sizeof *L->tool_at);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *e = seq_item(L, seq, i);
        yaml_node_t *tn = get(L, e, "type", K_STR);
        const char *t = scalar(tn);
        if (t && (!strcmp(t, "skill") || !strcmp(t, "control"))) {
            cg__spec_error_at(L, tn, "exposes type '%s' is not supported by capgate "
                                     "(it serves rest and mcp)", t);
            continue;
        }
        if (!check_fields(L, e, "an exposes entry", exposes_fields))
            continue;
        int type = get_enum(L, e, "type", "an exposes entry", exposes_types, 0, -1);
        yaml_node_t *port = map_get(L, e, "port");
        cg__pos port_at = port ? pos_of(port) : pos_of(e);
        if (type == 0) {
            cg_rest_adapter *a = &S->rest[S->n_rest];
            L->exposes_at[S->n_rest] = pos_of(e);
            L->port_at[S->n_rest] = port_at;
            a->namespace_ = get_str(L, e, "namespace");
            a->port = get_port(L, e, "a REST adapter");
            a->address = get_str(L, e, "address");
            a->description = get_str(L, e, "description");
            if (get(L, e, "authentication", K_MAP))
                build_auth(L, get(L, e, "authentication", K_MAP), &a->auth, true);
            if (!port)
                cg__spec_error_at(L, e, "a REST adapter is missing required key 'port'");
            if (!map_get(L, e, "resources"))
                cg__spec_error_at(L, e, "a REST adapter is missing required key 'resources'");
            if (map_get(L, e, "tools"))
                cg__spec_error_at(L, map_get(L, e, "tools"), "'tools' belongs to an mcp adapter, not rest");
            build_rest(L, e, a, S->n_rest);
            S->n_rest++;
        } else if (type == 1) {
            cg_mcp_adapter *a = &S->mcp[S->n_mcp];
            L->exposes_at[n + S->n_mcp] = pos_of(e);
            L->port_at[n + S->n_mcp] = port_at;
            a->namespace_ = get_str(L, e, "namespace");
            a->address = get_str(L, e, "address");
            a->description = get_str(L, e, "description");
            if (get(L, e, "authentication", K_MAP))
                build_auth(L, get(L, e, "authentication", K_MAP), &a->auth, true);
            static const char *const transports[] = {"http", "stdio", NULL};
            a->stdio = get_enum(L, e, "transport", "an mcp adapter", transports, 0, 0) == 1;
            a->port = get_port(L, e, "an mcp adapter");
            if (a->stdio && port)
                cg__spec_error_at(L, port, "an mcp adapter with transport stdio has no port");
            if (!a->stdio && !port)
                cg__spec_error_at(L, e, "an mcp adapter with transport http is missing required key 'port'");
            if (!map_get(L, e, "tools"))
                cg__spec_error_at(L, e, "an mcp adapter is missing required key 'tools'");
            if (map_get(L, e, "resources"))
                cg__spec_error_at(L, map_get(L, e, "resources"), "'resources' belongs to a rest adapter, not mcp");
            build_mcp(L, e, a, S->n_mcp);
            S->n_mcp++;
        }
    }
}

/* ---- the document ------------------------------------------------------------------ */

static const field root_fields[] = {
    {"naftiko", K_STR, 1}, {"info", K_MAP, 1}, {"binds", K_SEQ, 0}, {"capability", K_MAP, 1},
    FIELDS_END};

static const field info_fields[] = {
    {"label", K_STR, 1}, {"description", K_STR, 1}, {"tags", K_SEQ, 0}, {"created", K_STR, 0},
    {"modified", K_STR, 0}, {"stakeholders", K_SEQ, 0}, FIELDS_END};

static const field capability_fields[] = {
    {"consumes", K_SEQ, 1}, {"exposes", K_SEQ, 1}, {"binds", K_SEQ, 0},
    {"aggregates", K_SEQ, 0}, FIELDS_END};

static void build_info(cg__loader *L, const yaml_node_t *info)
{
    cg_spec *S = L->spec;
    if (!check_fields(L, info, "info", info_fields))
        return;
    S->label = get_str(L, info, "label");
    S->description = get_str(L, info, "description");
    yaml_node_t *tags = get(L, info, "tags", K_SEQ);
    S->tags = alloc_array(L, seq_len(tags), sizeof *S->tags);
    for (size_t i = 0; i < seq_len(tags); i++) {
        const char *t = scalar(seq_item(L, tags, i));
        if (t)
            S->tags[S->n_tags++] = cg_arena_strdup(L->arena, t);
        else
            cg__spec_error_at(L, seq_item(L, tags, i), "a tag must be a string");
    }
}

int cg__spec_build(cg__loader *L)
{
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    if (!root) {
        cg__spec_error(L, 1, 1, "the document is empty");
        return 0;
    }
    if (!check_fields(L, root, "the document", root_fields))
        return 0;
    cg_spec *S = L->spec;
    yaml_node_t *version = get(L, root, "naftiko", K_STR);
    S->naftiko = scalar(version) ? cg_arena_strdup(L->arena, scalar(version)) : NULL;
    if (S->naftiko && strcmp(S->naftiko, "1.0.0-alpha2") && strcmp(S->naftiko, "1.0.0-alpha1"))
        cg__spec_error_at(L, version, "naftiko version '%s' is not supported "
                                      "(capgate reads 1.0.0-alpha2)", S->naftiko);
    yaml_node_t *info = get(L, root, "info", K_MAP);
    if (info)
        build_info(L, info);
    if (get(L, root, "binds", K_SEQ))
        build_binds(L, get(L, root, "binds", K_SEQ));
    yaml_node_t *cap = get(L, root, "capability", K_MAP);
    if (!cap || !check_fields(L, cap, "capability", capability_fields))
        return 0;
    refuse_unsupported(L, cap, "aggregates", "reusable aggregates");
    if (get(L, cap, "binds", K_SEQ))
        build_binds(L, get(L, cap, "binds", K_SEQ));
    build_consumes(L, get(L, cap, "consumes", K_SEQ));
    build_exposes(L, get(L, cap, "exposes", K_SEQ));
    if (S->n_rest + S->n_mcp == 0 && get(L, cap, "exposes", K_SEQ))
        cg__spec_error_at(L, map_get(L, cap, "exposes"), "capability exposes no rest or mcp adapter");
    return 0;
}
