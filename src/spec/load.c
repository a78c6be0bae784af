/*
 * load.c — pass 1 of the spec loader: YAML nodes → model structs.
 *
 * Every mapping is checked against a table of the keys it may hold (kind, required), so
 * unknown keys, wrong value kinds and missing keys are found in one place with one wording.
 * Values are then copied into the arena-owned model. Nothing here looks across nodes:
 * references between parts of the spec are resolve.c's job.
 *
 * Size: one key table and builder per spec section, all on the static node helpers at the top; a
 * split by section needs those helpers in spec_internal.h first.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/spec_internal.h"
#include "engine/jsonpath.h"
#include "spec/template.h"

/* More mappings than any real spec has (the largest public one, 3,200 lines, has under 2,000). */
#define CG_SPEC_MAX_MAPPINGS 50000
/* More bytes of scalar values, counted over every mapping the walk reads (aliases counted each
 * time they are read), than any real spec has: what the model copies grows with it. */
#define CG_SPEC_MAX_VALUE_BYTES (8L * 1024 * 1024)

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
    if (!n)
        return 0;       /* a value of the wrong kind: get() reported it */
    /* Every mapping the loader reads passes here, so this bounds the whole walk: YAML
     * aliases can make a small document stand for an exponentially large one. */
    if (L->walk_too_big)
        return 0;
    if (++L->mappings_read > CG_SPEC_MAX_MAPPINGS) {
        cg__spec_error_at(L, n, "the document expands to more than %d mappings (YAML "
                          "aliases?): stopped reading here", CG_SPEC_MAX_MAPPINGS);
        L->walk_too_big = 1;
        return 0;
    }
    if (n->type != YAML_MAPPING_NODE) {
        cg__spec_error_at(L, n, "%s must be a mapping", what);
        return 0;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *vn = node_at(L, p->value);
        if (vn && vn->type == YAML_SCALAR_NODE)
            L->value_bytes_read += (long)vn->data.scalar.length;
    }
    if (L->value_bytes_read > CG_SPEC_MAX_VALUE_BYTES) {
        cg__spec_error_at(L, n, "the document expands to more than %ld MB of values (YAML "
                          "aliases?): stopped reading here", CG_SPEC_MAX_VALUE_BYTES >> 20);
        L->walk_too_big = 1;
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
    {"description", K_STR, 0}, {"properties", K_MAP, 0}, {"items", K_ANY, 0},
    {"maxLength", K_INT, 0}, {"const", K_ANY, 0}, {"in", K_STR, 0}, FIELDS_END};

#define MAX_OUTPUT_DEPTH 32

/* `const` as JSON text, for schemas: scalars only (plain YAML scalars keep their type). */
static const char *const_json(cg__loader *L, const yaml_node_t *n)
{
    const char *v = scalar(n);
    if (!v)
        return NULL;
    int b;
    long l;
    char *end;
    if (is_plain(n) && (parse_bool(v, &b) == 0 || parse_int(v, &l) == 0 ||
                        (*v && (strtod(v, &end), !*end))))
        return cg_arena_strdup(L->arena, !strcasecmp(v, "yes") || !strcasecmp(v, "on") ? "true"
                                         : !strcasecmp(v, "no") || !strcasecmp(v, "off") ? "false" : v);
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
    while (*s)
        h = h * 33 + (unsigned char)*s++;
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
        if (!L->paths[i])
            break;
        if (!strcmp(cg_jsonpath_text(L->paths[i]), text))
            return L->paths[i];
    }
    cg_jsonpath *p = cg_jsonpath_compile(text, L->arena, why, whylen, col);
    if (!p)
        return NULL;
    if (2 * (L->n_paths + 1) > L->cap_paths) {
        size_t cap = L->cap_paths ? 2 * L->cap_paths : 64;
        cg_jsonpath **t = calloc(cap, sizeof *t);
        if (!t)
            return p;       /* no cache: still correct */
        for (size_t j = 0; j < L->cap_paths; j++) {
            if (!L->paths[j])
                continue;
            size_t k = text_hash(cg_jsonpath_text(L->paths[j])) & (cap - 1);
            while (t[k])
                k = (k + 1) & (cap - 1);
            t[k] = L->paths[j];
        }
        free(L->paths);
        L->paths = t;
        L->cap_paths = cap;
    }
    size_t k = h & (L->cap_paths - 1);
    while (L->paths[k])
        k = (k + 1) & (L->cap_paths - 1);
    L->paths[k] = p;
    L->n_paths++;
    return p;
}

/* The mapping: `mapping`, or an alpha1-style `value: $.x`; compiled once, here. */
static void output_mapping(cg__loader *L, const yaml_node_t *o, cg_output *op)
{
    yaml_node_t *mn = get(L, o, "mapping", K_STR), *vn = get(L, o, "value", K_STR);
    const char *v = scalar(vn);
    if (!mn && v && (!strcmp(v, "$") || !strncmp(v, "$.", 2) || !strncmp(v, "$[", 2)))
        mn = vn;        /* naftiko alpha1 wrote mappings as value: $.x */
    else if (vn)
        op->value = get_template(L, o, "value");
    if (!mn)
        return;
    char why[200];
    int col = 0;
    op->path = compile_mapping(L, scalar(mn), why, sizeof why, &col);
    if (op->path) {
        op->mapping = cg_jsonpath_text(op->path);
    } else {
        op->mapping = cg_arena_strdup(L->arena, scalar(mn));
        cg__spec_error_at(L, mn, "output mapping '%s' is not a JSONPath capgate accepts: %s "
                          "(at character %d)", scalar(mn), why, col);
    }
}

static void build_output(cg__loader *L, const yaml_node_t *o, const char *name, cg_output *op,
                         int depth)
{
    memset(op, 0, sizeof *op);
    op->max_length = -1;
    if (!check_fields(L, o, "an output parameter", output_fields))
        return;
    cg__pos at = pos_of(o);
    op->line = at.line;
    op->col = at.col;
    if (depth > MAX_OUTPUT_DEPTH) {
        cg__spec_error_at(L, o, "output parameters nest deeper than %d levels", MAX_OUTPUT_DEPTH);
        return;
    }
    op->name = name ? name : get_str(L, o, "name");
    op->typed = map_get(L, o, "type") != NULL;
    op->type = get_type(L, o, "an output parameter");
    op->description = get_str(L, o, "description");
    yaml_node_t *cn = map_get(L, o, "const");
    if (cn)
        op->const_json = const_json(L, cn);
    yaml_node_t *ml = get(L, o, "maxLength", K_INT);
    if (ml) {
        parse_int(scalar(ml), &op->max_length);
        if (op->max_length < 0 || (op->typed && op->type != CG_TYPE_STRING))
            cg__spec_error_at(L, ml, "maxLength applies to string outputs and must be >= 0");
    }
    output_mapping(L, o, op);
    yaml_node_t *props = get(L, o, "properties", K_MAP), *items = map_get(L, o, "items");
    if (items && items->type == YAML_SCALAR_NODE) {
        cg__spec_error_at(L, items, "'items' in an output parameter must be a mapping (the "
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
        op->properties = alloc_array(L, np, sizeof *op->properties);
        for (size_t i = 0; i < np; i++) {
            yaml_node_pair_t *p = &props->data.mapping.pairs.start[i];
            const char *pname = scalar(node_at(L, p->key));
            yaml_node_t *pv = node_at(L, p->value);
            if (!pname || pv->type != YAML_MAPPING_NODE) {
                cg__spec_error_at(L, pv, "each property of an object output must be a mapping "
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
            it->line = pos_of(items).line;
            it->col = pos_of(items).col;
            it->properties = alloc_array(L, seq_len(items), sizeof *it->properties);
            for (size_t i = 0; i < seq_len(items); i++) {
                yaml_node_t *fn = seq_item(L, items, i);
                if (fn->type != YAML_MAPPING_NODE || !get(L, fn, "name", K_STR)) {
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

static void build_outputs(cg__loader *L, const yaml_node_t *seq, cg_output **out, size_t *n_out)
{
    size_t n = seq_len(seq);
    *out = alloc_array(L, n, sizeof **out);
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *o = seq_item(L, seq, i);
        if (o->type != YAML_MAPPING_NODE) {
            cg__spec_error_at(L, o, "an output parameter must be a mapping");
            continue;
        }
        build_output(L, o, NULL, &(*out)[(*n_out)++], 0);
    }
}

static const field operation_fields[] = {
    {"name", K_STR, 1}, {"method", K_STR, 0}, {"description", K_STR, 0}, {"label", K_STR, 0},
    {"outputRawFormat", K_STR, 0}, {"outputParameters", K_SEQ, 0}, {"outputSchema", K_ANY, 0},
    {"inputParameters", K_SEQ, 0}, {"body", K_ANY, 0}, FIELDS_END};

/* ---- request bodies ------------------------------------------------------------------ */

static const cg_template *parse_template_at(cg__loader *L, const yaml_node_t *at, const char *text,
                                            const char *what)
{
    const char *why;
    cg_template *t = cg_template_parse(L->arena, text, &why);
    if (!t && why)
        cg__spec_error_at(L, at, "%s: %s", what, why);
    return t;
}

static const field body_fields[] = {{"type", K_STR, 1}, {"data", K_ANY, 1}, FIELDS_END};
static const field part_fields[] = {
    {"name", K_STR, 1}, {"value", K_STR, 1}, {"filename", K_STR, 0}, {"contentType", K_STR, 0},
    FIELDS_END};
static const char *const body_types[] = {"json", "text", "xml", "sparql", "formUrlEncoded",
                                         "multipartForm", NULL};

static void build_body_parts(cg__loader *L, const yaml_node_t *data, cg_body *b)
{
    if (data->type == YAML_MAPPING_NODE) {      /* form fields: name -> value */
        size_t n = (size_t)(data->data.mapping.pairs.top - data->data.mapping.pairs.start);
        b->parts = alloc_array(L, n, sizeof *b->parts);
        for (yaml_node_pair_t *p = data->data.mapping.pairs.start; p < data->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = node_at(L, p->key), *vn = node_at(L, p->value);
            if (!scalar(kn) || !scalar(vn)) {
                cg__spec_error_at(L, vn, "a form field must map a name to a string");
                continue;
            }
            b->parts[b->n_parts++] = (cg_body_part){cg_arena_strdup(L->arena, scalar(kn)),
                parse_template_at(L, vn, scalar(vn), "form field"), NULL, NULL};
        }
        return;
    }
    b->parts = alloc_array(L, seq_len(data), sizeof *b->parts);
    for (size_t i = 0; i < seq_len(data); i++) {
        yaml_node_t *pn = seq_item(L, data, i);
        if (!check_fields(L, pn, "a multipart part", part_fields) || !get(L, pn, "value", K_STR))
            continue;
        b->parts[b->n_parts++] = (cg_body_part){get_str(L, pn, "name"),
            parse_template_at(L, get(L, pn, "value", K_STR), scalar(get(L, pn, "value", K_STR)),
                              "multipart part"),
            get_str(L, pn, "filename"), get_str(L, pn, "contentType")};
    }
}

static const cg_body *build_body(cg__loader *L, const yaml_node_t *n)
{
    cg_body *b = cg_arena_alloc(L->arena, sizeof *b);
    if (n->type == YAML_SCALAR_NODE) {
        b->kind = CG_BODY_RAW;
        b->data = parse_template_at(L, n, scalar(n), "body");
        return b;
    }
    if (!check_fields(L, n, "a body", body_fields))
        return NULL;
    int t = get_enum(L, n, "type", "a body", body_types, 0, -1);
    yaml_node_t *data = map_get(L, n, "data");
    if (t < 0 || !data)
        return NULL;
    static const cg_body_kind kinds[] = {CG_BODY_JSON, CG_BODY_TEXT, CG_BODY_XML, CG_BODY_SPARQL,
                                         CG_BODY_FORM, CG_BODY_MULTIPART};
    b->kind = kinds[t];
    if (data->type == YAML_SCALAR_NODE && b->kind != CG_BODY_MULTIPART) {
        b->data = parse_template_at(L, data, scalar(data), "body data");
    } else if (b->kind == CG_BODY_JSON) {
        char *text = cg__yaml_to_json_text(L, data);
        b->data = text ? parse_template_at(L, data, text, "body data") : NULL;
    } else if ((b->kind == CG_BODY_FORM && data->type == YAML_MAPPING_NODE) ||
               (b->kind == CG_BODY_MULTIPART && data->type == YAML_SEQUENCE_NODE)) {
        build_body_parts(L, data, b);
    } else {
        cg__spec_error_at(L, data, "'data' of a %s body must be %s", body_types[t],
                          b->kind == CG_BODY_MULTIPART ? "a list of parts"
                          : b->kind == CG_BODY_FORM ? "a string or a mapping of fields"
                                                    : "a string");
        return NULL;
    }
    return b;
}

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
    op->output_schema = get_str(L, n, "outputSchema");
    if (fmt > 0 && !strcmp(op->output_format, "protobuf"))
        cg__spec_error_at(L, map_get(L, n, "outputRawFormat"),
                          "outputRawFormat 'protobuf' is not supported by capgate: decoding needs "
                          "the message types compiled ahead of time (protobuf-c has no run-time "
                          ".proto parser); convert upstream or use json, avro, xml, yaml, csv, tsv, "
                          "psv, html or markdown");
    if (fmt > 0 && !strcmp(op->output_format, "avro") && !op->output_schema)
        cg__spec_error_at(L, map_get(L, n, "outputRawFormat"),
                          "outputRawFormat 'avro' needs 'outputSchema': the Avro schema file (.avsc)");
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
    yaml_node_t *body = map_get(L, n, "body");
    if (body)
        op->body = build_body(L, body);
}

static const field resource_fields[] = {
    {"name", K_STR, 1}, {"path", K_STR, 1}, {"description", K_STR, 0}, {"label", K_STR, 0},
    {"operations", K_SEQ, 1}, {"inputParameters", K_SEQ, 0}, FIELDS_END};

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
    {"description", K_STR, 0}, {"label", K_STR, 0}, {"resources", K_SEQ, 0},
    {"authentication", K_MAP, 0}, {"inputParameters", K_SEQ, 0}, FIELDS_END};

static const field import_fields[] = {
    {"import", K_STR, 1}, {"location", K_STR, 1}, {"as", K_STR, 0}, {"description", K_STR, 0},
    FIELDS_END};

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
    if (len && s[len - 1] == '/') {
        /* as the reference engine refuses it (#184): resource paths bring their own '/' */
        cg__spec_error_at(L, v, "baseUri '%s' must not end with '/' (resource paths start "
                                "with one)", s);
        return NULL;
    }
    return cg_arena_strndup(L->arena, s, len);
}

/* A resource path as written, with a leading '/' added when the spec leaves it out (the
 * schema allows both "ships" and "/ships"). */
static const char *resource_path(cg__loader *L, const yaml_node_t *rn)
{
    const char *path = scalar(get(L, rn, "path", K_STR));
    if (!path)
        return NULL;
    return path[0] == '/' ? cg_arena_strdup(L->arena, path) : cg_arena_printf(L->arena, "/%s", path);
}

/* Inputs declared above operations: on a consumes entry or a resource. */
typedef struct shared_inputs {
    cg_input *inputs;
    size_t n;
} shared_inputs;

static shared_inputs build_shared_inputs(cg__loader *L, const yaml_node_t *seq)
{
    shared_inputs si = {alloc_array(L, seq_len(seq), sizeof(cg_input)), 0};
    for (size_t i = 0; i < seq_len(seq); i++) {
        build_input(L, seq_item(L, seq, i), &si.inputs[si.n]);
        if (si.inputs[si.n].name)
            si.n++;
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
    for (size_t l = 0; l < n_levels; l++)
        n += levels[l].n;
    if (n == op->n_inputs)
        return;
    cg_input *all = alloc_array(L, n, sizeof *all);
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
            if (!shadowed)
                all[k++] = *in;
        }
    if (op->n_inputs)
        memcpy(all + k, op->inputs, op->n_inputs * sizeof *all);
    op->inputs = all;
    op->n_inputs += k;
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
    shared_inputs levels[2] = {build_shared_inputs(L, get(L, n, "inputParameters", K_SEQ))};
    c->inputs = levels[0].inputs;
    c->n_inputs = levels[0].n;
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
        const char *path = resource_path(L, rn);
        yaml_node_t *pn = get(L, rn, "path", K_STR);
        levels[1] = build_shared_inputs(L, get(L, rn, "inputParameters", K_SEQ));
        yaml_node_t *ops = get(L, rn, "operations", K_SEQ);
        for (size_t o = 0; o < seq_len(ops); o++) {
            cg_operation *op = &c->ops[c->n_ops];
            build_operation(L, seq_item(L, ops, o), name, path, pn ? pos_of(pn) : pos_of(rn), op,
                            &L->op_at[ci][c->n_ops]);
            op->api = c;
            if (!op->name)
                continue;
            add_shared_inputs(L, op, levels, 2);
            c->n_ops++;
        }
    }
}

/* The directory part of path ("." when it has none), in the arena. */
static const char *dir_of(cg__loader *L, const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? cg_arena_strndup(L->arena, path, (size_t)(slash - path) + (slash == path))
                 : ".";
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
    if (!check_fields(L, n, "an imported consumes entry", import_fields))
        return 0;
    const char *ns = scalar(get(L, n, "import", K_STR));
    const char *location = scalar(get(L, n, "location", K_STR));
    const char *alias = scalar(get(L, n, "as", K_STR));
    if (!ns || !location)
        return 0;   /* a missing or non-string key, already reported */
    c->namespace_ = cg_arena_strdup(L->arena, alias ? alias : ns);
    yaml_node_t *loc = map_get(L, n, "location");
    const char *rel = location;
    while (!strncmp(rel, "./", 2))
        rel += 2;
    const char *path = location[0] == '/' ? cg_arena_strdup(L->arena, location)
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
    if (cg__spec_parse_file(L, path, &doc, pos_of(loc).line, pos_of(loc).col) < 0)
        return 0;
    /* swap the imported document in */
    yaml_document_t saved_doc = L->doc;
    const char *saved_file = L->file, *saved_dir = L->dir;
    int saved_errors = L->n_errors, found = 0;
    L->import_chain[L->import_depth++] = saved_file;
    L->doc = doc;
    L->file = path;
    L->dir = dir_of(L, path);
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    yaml_node_t *list = root ? get(L, root, "consumes", K_SEQ) : NULL;
    if (!list && root)     /* a whole capability: its consumes entries */
        list = get(L, get(L, root, "capability", K_MAP), "consumes", K_SEQ);
    if (!list) {
        cg__spec_error(L, 1, 1, "imported by %s: has no consumes entries (neither top-level "
                       "'consumes' nor 'capability.consumes')", saved_file);
    } else {
        for (size_t i = 0; i < seq_len(list) && !found; i++) {
            yaml_node_t *e = seq_item(L, list, i);
            int chained = map_get(L, e, "import") != NULL;
            const char *ens = scalar(get(L, e, chained ? "as" : "namespace", K_STR));
            if (!ens && chained)
                ens = scalar(get(L, e, "import", K_STR));
            if (!ens || strcmp(ens, ns))
                continue;
            found = 1;
            if (chained) {          /* the shared document imports it in turn */
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
        cg__spec_error_at(L, map_get(L, n, "import"), "'%s' has no consumes entry with namespace "
                          "'%s'", location, ns);
    return found > 0 && L->n_errors == saved_errors;
}

static void build_consumes(cg__loader *L, const yaml_node_t *seq)
{
    cg_spec *S = L->spec;
    size_t n = seq_len(seq);
    S->consumes = alloc_array(L, n, sizeof *S->consumes);
    L->consumes_at = alloc_array(L, n, sizeof *L->consumes_at);
    L->op_at = alloc_array(L, n, sizeof *L->op_at);
    L->consumes_imported = alloc_array(L, n, 1);
    L->consumes_broken = alloc_array(L, n, 1);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *c = seq_item(L, seq, i);
        size_t ci = S->n_consumes;
        L->consumes_at[ci] = pos_of(c);
        if (map_get(L, c, "import") || map_get(L, c, "location")) {
            L->consumes_imported[ci] = 1;
            L->consumes_broken[ci] = !build_import(L, c, &S->consumes[ci], ci);
        } else {
            build_consumes_one(L, c, &S->consumes[ci], ci);
        }
        S->n_consumes++;
    }
}

static int ref_failed(cg__loader *L, const yaml_node_t *n);

/* ---- exposes ------------------------------------------------------------------------- */

static const field exposed_input_fields[] = {
    {"name", K_STR, 1}, {"in", K_STR, 0}, {"type", K_STR, 0}, {"description", K_STR, 0},
    {"required", K_BOOL, 0}, {"pattern", K_STR, 0}, {"value", K_STR, 0}, {"label", K_STR, 0},
    FIELDS_END};

static void check_exposed_inputs(cg__loader *L, const yaml_node_t *seq)
{
    for (size_t i = 0; i < seq_len(seq); i++) {
        yaml_node_t *in = seq_item(L, seq, i);
        if (check_fields(L, in, "an input parameter", exposed_input_fields)) {
            get_type(L, in, "an input parameter");
            get_enum(L, in, "in", "an input parameter", location_names, 0, 0);
        }
    }
}

static const field rest_op_fields[] = {
    {"method", K_STR, 1}, {"name", K_STR, 0}, {"description", K_STR, 0}, {"label", K_STR, 0},
    {"call", K_STR, 0}, {"with", K_MAP, 0}, {"outputParameters", K_SEQ, 0},
    {"inputParameters", K_SEQ, 0}, {"steps", K_SEQ, 0}, {"mappings", K_SEQ, 0}, FIELDS_END};

static const field rest_resource_fields[] = {
    {"path", K_STR, 1}, {"name", K_STR, 0}, {"description", K_STR, 0}, {"label", K_STR, 0},
    {"operations", K_SEQ, 0}, {"inputParameters", K_SEQ, 0}, {"forward", K_MAP, 0}, FIELDS_END};

static const field forward_fields[] = {
    {"targetNamespace", K_STR, 1}, {"trustedHeaders", K_SEQ, 0}, FIELDS_END};

/* Records what resolve.c needs about a call: its call:, with: and the inputParameters of
 * the operation or tool it belongs to (a step's arguments are its owner's). */
static void note_call(cg__loader *L, const yaml_node_t *n, const yaml_node_t *owner, cg__call_pos *at)
{
    at->at = pos_of(n);
    yaml_node_t *call = get(L, n, "call", K_STR);
    at->call = call ? pos_of(call) : pos_of(n);
    at->call_text = call ? cg_arena_strdup(L->arena, scalar(call)) : NULL;
    at->with = get(L, n, "with", K_MAP);
    at->inputs = get(L, owner, "inputParameters", K_SEQ);
}

/* ---- orchestration: steps and mappings ----------------------------------------------- */

/* A JSONPath of the orchestration (lookupValue, mapping value), compiled once. */
static const struct cg_jsonpath *compile_path(cg__loader *L, const yaml_node_t *at, const char *text,
                                              const char *what)
{
    if (!text)
        return NULL;
    char why[200];
    int col = 0;
    const struct cg_jsonpath *p = cg_jsonpath_compile(text, L->arena, why, sizeof why, &col);
    if (!p)
        cg__spec_error_at(L, at, "%s '%s' is not a JSONPath capgate accepts: %s (at character %d)",
                          what, text, why, col);
    return p;
}

static const field step_fields[] = {
    {"type", K_STR, 1}, {"name", K_STR, 1}, {"call", K_STR, 0}, {"with", K_MAP, 0},
    {"index", K_STR, 0}, {"match", K_STR, 0}, {"lookupValue", K_STR, 0},
    {"outputParameters", K_SEQ, 0}, {"language", K_STR, 0}, {"location", K_STR, 0},
    {"file", K_STR, 0}, {"dependencies", K_SEQ, 0}, FIELDS_END};

static const char *const step_types[] = {"call", "lookup", "script", NULL};
static const char *const script_languages[] = {"javascript", "python", "groovy", NULL};

static const char **get_str_list(cg__loader *L, const yaml_node_t *seq, size_t *n, const char *what)
{
    const char **out = alloc_array(L, seq_len(seq), sizeof *out);
    *n = 0;
    for (size_t i = 0; i < seq_len(seq); i++) {
        const char *v = scalar(seq_item(L, seq, i));
        if (v)
            out[(*n)++] = cg_arena_strdup(L->arena, v);
        else
            cg__spec_error_at(L, seq_item(L, seq, i), "%s must be a string", what);
    }
    return out;
}

static void require_step_key(cg__loader *L, const yaml_node_t *n, const char *key, const char *type)
{
    if (!map_get(L, n, key))
        cg__spec_error_at(L, n, "a %s step is missing required key '%s'", type, key);
}

static void build_step(cg__loader *L, const yaml_node_t *n, const yaml_node_t *owner,
                       const char *owner_ns, int owner_is_rest, cg_step *st)
{
    st->line = pos_of(n).line;
    st->col = pos_of(n).col;
    st->name = get_str(L, n, "name");
    int t = get_enum(L, n, "type", "a step", step_types, 0, -1);
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
        st->index = get_str(L, n, "index");
        st->match = get_str(L, n, "match");
        st->lookup_value = get_str(L, n, "lookupValue");
        st->lookup_path = compile_path(L, map_get(L, n, "lookupValue"), st->lookup_value,
                                       "lookupValue");
        st->fields = get_str_list(L, get(L, n, "outputParameters", K_SEQ), &st->n_fields,
                                  "a lookup output parameter");
        break;
    case CG_STEP_SCRIPT: {
        require_step_key(L, n, "file", "script");
        int lang = get_enum(L, n, "language", "a script step", script_languages, 0, -2);
        st->language = lang >= 0 ? script_languages[lang] : NULL;
        if (lang == 2)
            cg__spec_error_at(L, map_get(L, n, "language"), "script language 'groovy' is not "
                              "supported by capgate (javascript and python are)");
        st->location = get_str(L, n, "location");
        st->file = get_str(L, n, "file");
        st->dependencies = get_str_list(L, get(L, n, "dependencies", K_SEQ), &st->n_dependencies,
                                        "a script dependency");
        yaml_node_t *with = get(L, n, "with", K_MAP);
        size_t nw = with ? (size_t)(with->data.mapping.pairs.top - with->data.mapping.pairs.start) : 0;
        st->with = alloc_array(L, nw, sizeof *st->with);
        for (size_t i = 0; i < nw; i++) {
            yaml_node_pair_t *p = &with->data.mapping.pairs.start[i];
            const char *k = scalar(node_at(L, p->key)), *v = scalar(node_at(L, p->value));
            if (!k || !v) {
                cg__spec_error_at(L, node_at(L, p->value), "a with entry must map a name to a string or number");
                continue;
            }
            st->with[st->n_with++] = (cg_param){cg_arena_strdup(L->arena, k), {CG_SOURCE_LITERAL,
                NULL, parse_template_at(L, node_at(L, p->value), v, "script with")}};
        }
        break;
    }
    default:
        break;
    }
}

static const field mapping_fields[] = {{"targetName", K_STR, 1}, {"value", K_STR, 1}, FIELDS_END};

/* Orchestrated outputs (and their properties, at any depth) without a mapping take the
 * member of their name: of the mapped object, then of their parent's value. */
static void mark_by_name(cg_output *o)
{
    o->by_name = o->name && !o->path && !o->value;
    for (size_t i = 0; i < o->n_properties; i++)
        mark_by_name(&o->properties[i]);
    if (o->items)
        mark_by_name(o->items);
}

/* steps: + mappings: of an operation, tool or resource; 1 when it has steps. */
static int build_orchestration(cg__loader *L, const yaml_node_t *n, const char *owner_ns,
                               int owner_is_rest, cg_call *call)
{
    yaml_node_t *steps = get(L, n, "steps", K_SEQ), *maps = get(L, n, "mappings", K_SEQ);
    if (!steps) {
        if (maps)
            cg__spec_error_at(L, map_get(L, n, "mappings"), "'mappings' needs 'steps'");
        return 0;
    }
    if (map_get(L, n, "call"))
        cg__spec_error_at(L, map_get(L, n, "call"), "an operation has either 'call' or 'steps', not both");
    cg_step *st = alloc_array(L, seq_len(steps), sizeof *st);
    size_t ns = 0;
    for (size_t i = 0; i < seq_len(steps); i++) {
        yaml_node_t *sn = seq_item(L, steps, i);
        if (!check_fields(L, sn, "a step", step_fields))
            continue;
        build_step(L, sn, n, owner_ns, owner_is_rest, &st[ns]);
        for (size_t j = 0; j < ns && st[ns].name; j++)
            if (st[j].name && !strcmp(st[j].name, st[ns].name))
                cg__spec_error_at(L, sn, "duplicate step name '%s' (first at line %d)",
                                  st[ns].name, st[j].line);
        if (st[ns].kind == CG_STEP_LOOKUP && st[ns].index) {
            int earlier = 0;
            for (size_t j = 0; j < ns; j++)
                earlier |= st[j].name && !strcmp(st[j].name, st[ns].index);
            if (!earlier)
                cg__spec_error_at(L, map_get(L, sn, "index"), "lookup index '%s' names no earlier "
                                  "step (a step can only read the steps before it)", st[ns].index);
        }
        ns++;
    }
    call->steps = st;
    call->n_steps = ns;
    cg_mapping *m = alloc_array(L, seq_len(maps), sizeof *m);
    size_t nm = 0;
    for (size_t i = 0; i < seq_len(maps); i++) {
        yaml_node_t *mn = seq_item(L, maps, i);
        if (!check_fields(L, mn, "a mapping", mapping_fields))
            continue;
        m[nm].target = get_str(L, mn, "targetName");
        m[nm].value = get_str(L, mn, "value");
        m[nm].path = compile_path(L, map_get(L, mn, "value"), m[nm].value, "mapping value");
        nm++;
    }
    call->mappings = m;
    call->n_mappings = nm;
    /* named outputs without a mapping take the mapped value of their name */
    for (size_t i = 0; i < call->n_outputs; i++)
        mark_by_name((cg_output *)&call->outputs[i]);
    return 1;
}

static void build_rest_forward(cg__loader *L, const yaml_node_t *rn, cg_rest_resource *rr)
{
    yaml_node_t *f = get(L, rn, "forward", K_MAP);
    if (!f || !check_fields(L, f, "forward", forward_fields))
        return;
    rr->forward = get_str(L, f, "targetNamespace");
    rr->trusted_headers = get_str_list(L, get(L, f, "trustedHeaders", K_SEQ),
                                       &rr->n_trusted_headers, "a trusted header");
    if (map_get(L, rn, "operations"))
        cg__spec_error_at(L, map_get(L, rn, "operations"), "a resource has either 'operations' "
                          "or 'forward', not both");
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
        if (!check_fields(L, rn, "a REST resource", rest_resource_fields))
            continue;
        cg_rest_resource *rr = &a->resources[a->n_resources];
        memset(rr, 0, sizeof *rr);
        L->resource_at[ai][a->n_resources] = pos_of(rn);
        rr->path = resource_path(L, rn);
        rr->name = get_str(L, rn, "name");
        rr->description = get_str(L, rn, "description");
        check_exposed_inputs(L, get(L, rn, "inputParameters", K_SEQ));
        build_rest_forward(L, rn, rr);
        if (!rr->forward && !map_get(L, rn, "operations"))
            cg__spec_error_at(L, rn, "a REST resource is missing required key 'operations' (or 'forward')");
        yaml_node_t *ops = get(L, rn, "operations", K_SEQ);
        size_t no = seq_len(ops);
        rr->ops = alloc_array(L, no, sizeof *rr->ops);
        L->rest_op_at[ai][a->n_resources] = alloc_array(L, no, sizeof(cg__call_pos));
        for (size_t o = 0; o < no; o++) {
            yaml_node_t *on = seq_item(L, ops, o);
            if (ref_failed(L, on) || !check_fields(L, on, "a REST operation", rest_op_fields))
                continue;
            cg_rest_operation *ro = &rr->ops[rr->n_ops];
            memset(ro, 0, sizeof *ro);
            ro->method = get_method(L, on, "a REST operation", 1);
            ro->name = get_str(L, on, "name");
            ro->description = get_str(L, on, "description");
            check_exposed_inputs(L, get(L, on, "inputParameters", K_SEQ));
            build_outputs(L, get(L, on, "outputParameters", K_SEQ),
                          (cg_output **)&ro->call.outputs, &ro->call.n_outputs);
            build_orchestration(L, on, a->namespace_, 1, &ro->call);
            note_call(L, on, on, &L->rest_op_at[ai][a->n_resources][rr->n_ops]);
            L->rest_op_at[ai][a->n_resources][rr->n_ops].resource_inputs =
                get(L, rn, "inputParameters", K_SEQ);
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
    {"hints", K_MAP, 0}, {"call", K_STR, 0}, {"with", K_MAP, 0}, {"steps", K_SEQ, 0},
    {"mappings", K_SEQ, 0}, {"outputParameters", K_SEQ, 0}, {"inputParameters", K_SEQ, 0},
    FIELDS_END};

static const field tool_input_fields[] = {
    {"name", K_STR, 1}, {"type", K_STR, 0}, {"description", K_STR, 0}, {"required", K_BOOL, 0},
    {"in", K_STR, 0}, {"value", K_STR, 0}, {"label", K_STR, 0}, {"pattern", K_STR, 0},
    FIELDS_END};

static void build_tool(cg__loader *L, const yaml_node_t *tn, const char *ns, cg_tool *tool,
                       cg__call_pos *at)
{
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
    yaml_node_t *ins = get(L, tn, "inputParameters", K_SEQ);
    for (size_t i = 0; i < seq_len(ins); i++) {
        yaml_node_t *in = seq_item(L, ins, i);
        if (check_fields(L, in, "a tool input parameter", tool_input_fields))
            get_type(L, in, "a tool input parameter");
    }
    build_outputs(L, get(L, tn, "outputParameters", K_SEQ), (cg_output **)&tool->call.outputs,
                  &tool->call.n_outputs);
    build_orchestration(L, tn, ns, 0, &tool->call);
    note_call(L, tn, tn, at);
}

static const field mcp_resource_fields[] = {
    {"name", K_STR, 1}, {"label", K_STR, 0}, {"uri", K_STR, 1}, {"description", K_STR, 0},
    {"mimeType", K_STR, 0}, {"call", K_STR, 0}, {"with", K_MAP, 0}, {"steps", K_SEQ, 0},
    {"mappings", K_SEQ, 0}, {"outputParameters", K_SEQ, 0}, {"location", K_STR, 0},
    {"inputParameters", K_SEQ, 0}, FIELDS_END};

static void build_mcp_resources(cg__loader *L, const yaml_node_t *seq, cg_mcp_adapter *a)
{
    a->resources = alloc_array(L, seq_len(seq), sizeof *a->resources);
    for (size_t i = 0; i < seq_len(seq); i++) {
        yaml_node_t *rn = seq_item(L, seq, i);
        if (!check_fields(L, rn, "an MCP resource", mcp_resource_fields))
            continue;
        cg_mcp_resource *r = &a->resources[a->n_resources++];
        r->line = pos_of(rn).line;
        r->col = pos_of(rn).col;
        r->name = get_str(L, rn, "name");
        r->title = get_str(L, rn, "label");
        r->uri = get_str(L, rn, "uri");
        r->description = get_str(L, rn, "description");
        r->mime_type = get_str(L, rn, "mimeType");
        r->location = get_str(L, rn, "location");
        r->is_template = r->uri && strchr(r->uri, '{');
        int dynamic = map_get(L, rn, "call") || map_get(L, rn, "steps");
        if (r->location && dynamic)
            cg__spec_error_at(L, map_get(L, rn, "location"), "an MCP resource is either static "
                              "(location) or dynamic (call or steps), not both");
        else if (!r->location && !dynamic)
            cg__spec_error_at(L, rn, "an MCP resource needs 'location' (static) or 'call'/'steps' "
                              "(dynamic)");
        if (r->location && strncmp(r->location, "file:///", 8))
            cg__spec_error_at(L, map_get(L, rn, "location"), "resource location '%s' must be a "
                              "file:/// URI", r->location);
        build_outputs(L, get(L, rn, "outputParameters", K_SEQ), (cg_output **)&r->call.outputs,
                      &r->call.n_outputs);
        build_orchestration(L, rn, a->namespace_, 0, &r->call);
        if (map_get(L, rn, "call"))
            cg__spec_defer_call(L, &r->call, rn, rn, a->namespace_, 0, NULL, r->uri);
    }
}

static const field prompt_fields[] = {
    {"name", K_STR, 1}, {"label", K_STR, 0}, {"description", K_STR, 0}, {"arguments", K_SEQ, 0},
    {"template", K_SEQ, 0}, {"location", K_STR, 0}, FIELDS_END};
static const field prompt_arg_fields[] = {
    {"name", K_STR, 1}, {"label", K_STR, 0}, {"description", K_STR, 0}, {"required", K_BOOL, 0},
    FIELDS_END};
static const field prompt_message_fields[] = {{"role", K_STR, 1}, {"content", K_STR, 1}, FIELDS_END};
static const char *const prompt_roles[] = {"user", "assistant", NULL};

static void build_mcp_prompts(cg__loader *L, const yaml_node_t *seq, cg_mcp_adapter *a)
{
    a->prompts = alloc_array(L, seq_len(seq), sizeof *a->prompts);
    for (size_t i = 0; i < seq_len(seq); i++) {
        yaml_node_t *pn = seq_item(L, seq, i);
        if (!check_fields(L, pn, "an MCP prompt", prompt_fields))
            continue;
        cg_mcp_prompt *p = &a->prompts[a->n_prompts++];
        p->name = get_str(L, pn, "name");
        p->title = get_str(L, pn, "label");
        p->description = get_str(L, pn, "description");
        p->location = get_str(L, pn, "location");
        yaml_node_t *args = get(L, pn, "arguments", K_SEQ), *tpl = get(L, pn, "template", K_SEQ);
        if (!!p->location == !!tpl)
            cg__spec_error_at(L, pn, "an MCP prompt needs exactly one of 'template' (inline "
                              "messages) and 'location' (a file)");
        if (p->location && strncmp(p->location, "file:///", 8))
            cg__spec_error_at(L, map_get(L, pn, "location"), "prompt location '%s' must be a "
                              "file:/// URI", p->location);
        p->arguments = alloc_array(L, seq_len(args), sizeof *p->arguments);
        for (size_t k = 0; k < seq_len(args); k++) {
            yaml_node_t *an = seq_item(L, args, k);
            if (!check_fields(L, an, "a prompt argument", prompt_arg_fields))
                continue;
            p->arguments[p->n_arguments++] = (cg_prompt_argument){get_str(L, an, "name"),
                get_str(L, an, "label"), get_str(L, an, "description"),
                get_bool(L, an, "required", 1)};
        }
        p->messages = alloc_array(L, seq_len(tpl), sizeof *p->messages);
        for (size_t k = 0; k < seq_len(tpl); k++) {
            yaml_node_t *mn = seq_item(L, tpl, k);
            if (!check_fields(L, mn, "a prompt message", prompt_message_fields))
                continue;
            int role = get_enum(L, mn, "role", "a prompt message", prompt_roles, 0, 0);
            yaml_node_t *cn = get(L, mn, "content", K_STR);
            p->messages[p->n_messages++] = (cg_prompt_message){prompt_roles[role >= 0 ? role : 0],
                cn ? parse_template_at(L, cn, scalar(cn), "prompt content") : NULL};
        }
    }
}

static void build_mcp(cg__loader *L, const yaml_node_t *n, cg_mcp_adapter *a, size_t ai)
{
    yaml_node_t *tools = get(L, n, "tools", K_SEQ);
    size_t nt = seq_len(tools);
    a->tools = alloc_array(L, nt, sizeof *a->tools);
    L->tool_at[ai] = alloc_array(L, nt, sizeof(cg__call_pos));
    for (size_t t = 0; t < nt; t++) {
        yaml_node_t *tn = seq_item(L, tools, t);
        if (ref_failed(L, tn) || !check_fields(L, tn, "an MCP tool", tool_fields))
            continue;
        cg_tool *tool = &a->tools[a->n_tools];
        memset(tool, 0, sizeof *tool);
        build_tool(L, tn, a->namespace_, tool, &L->tool_at[ai][a->n_tools]);
        a->n_tools++;
    }
    build_mcp_resources(L, get(L, n, "resources", K_SEQ), a);
    build_mcp_prompts(L, get(L, n, "prompts", K_SEQ), a);
}

/* ---- skill and control adapters ------------------------------------------------------- */

static const field skill_fields[] = {
    {"name", K_STR, 1}, {"description", K_STR, 1}, {"license", K_STR, 0},
    {"compatibility", K_STR, 0}, {"metadata", K_MAP, 0}, {"allowed-tools", K_STR, 0},
    {"argument-hint", K_STR, 0}, {"user-invocable", K_BOOL, 0},
    {"disable-model-invocation", K_BOOL, 0}, {"location", K_STR, 0}, {"tools", K_SEQ, 0},
    FIELDS_END};
static const field skill_tool_fields[] = {
    {"name", K_STR, 1}, {"description", K_STR, 1}, {"from", K_MAP, 0}, {"instruction", K_STR, 0},
    FIELDS_END};
static const field skill_from_fields[] = {
    {"sourceNamespace", K_STR, 1}, {"action", K_STR, 1}, FIELDS_END};

static void build_skill_tools(cg__loader *L, const yaml_node_t *seq, cg_skill *sk)
{
    sk->tools = alloc_array(L, seq_len(seq), sizeof *sk->tools);
    for (size_t i = 0; i < seq_len(seq); i++) {
        yaml_node_t *tn = seq_item(L, seq, i);
        if (!check_fields(L, tn, "a skill tool", skill_tool_fields))
            continue;
        cg_skill_tool *t = &sk->tools[sk->n_tools++];
        t->name = get_str(L, tn, "name");
        check_name(L, tn, "name", "skill tool name");
        t->description = get_str(L, tn, "description");
        t->instruction = get_str(L, tn, "instruction");
        yaml_node_t *from = get(L, tn, "from", K_MAP);
        if (!!from == !!t->instruction)
            cg__spec_error_at(L, tn, "a skill tool needs exactly one of 'from' (a sibling "
                              "adapter's operation or tool) and 'instruction' (a file)");
        if (from && check_fields(L, from, "from", skill_from_fields)) {
            t->source_namespace = get_str(L, from, "sourceNamespace");
            t->action = get_str(L, from, "action");
            cg__spec_defer_skill_tool(L, t, pos_of(from));
        }
        if (t->instruction && !sk->location)
            cg__spec_error_at(L, map_get(L, tn, "instruction"), "an instruction tool needs the "
                              "skill's 'location'");
    }
}

static void build_skill_adapter(cg__loader *L, const yaml_node_t *n, cg_skill_adapter *a)
{
    yaml_node_t *skills = get(L, n, "skills", K_SEQ);
    a->skills = alloc_array(L, seq_len(skills), sizeof *a->skills);
    for (size_t i = 0; i < seq_len(skills); i++) {
        yaml_node_t *sn = seq_item(L, skills, i);
        if (!check_fields(L, sn, "a skill", skill_fields))
            continue;
        cg_skill *sk = &a->skills[a->n_skills++];
        sk->name = get_str(L, sn, "name");
        check_name(L, sn, "name", "skill name");
        for (size_t j = 0; j + 1 < a->n_skills && sk->name; j++)
            if (a->skills[j].name && !strcmp(a->skills[j].name, sk->name))
                cg__spec_error_at(L, sn, "duplicate skill name '%s'", sk->name);
        sk->description = get_str(L, sn, "description");
        sk->license = get_str(L, sn, "license");
        sk->compatibility = get_str(L, sn, "compatibility");
        sk->allowed_tools = get_str(L, sn, "allowed-tools");
        sk->argument_hint = get_str(L, sn, "argument-hint");
        sk->user_invocable = get_hint(L, sn, "user-invocable");
        sk->disable_model_invocation = get_hint(L, sn, "disable-model-invocation");
        sk->location = get_str(L, sn, "location");
        if (sk->location && strncmp(sk->location, "file:///", 8))
            cg__spec_error_at(L, map_get(L, sn, "location"), "skill location '%s' must be a "
                              "file:/// URI", sk->location);
        yaml_node_t *md = get(L, sn, "metadata", K_MAP);
        size_t nm = md ? (size_t)(md->data.mapping.pairs.top - md->data.mapping.pairs.start) : 0;
        sk->metadata = alloc_array(L, 2 * nm, sizeof *sk->metadata);
        for (size_t k = 0; k < nm; k++) {
            yaml_node_pair_t *p = &md->data.mapping.pairs.start[k];
            const char *key = scalar(node_at(L, p->key)), *v = scalar(node_at(L, p->value));
            if (!key || !v) {
                cg__spec_error_at(L, node_at(L, p->value), "skill metadata values must be strings");
                continue;
            }
            sk->metadata[sk->n_metadata++] = cg_arena_strdup(L->arena, key);
            sk->metadata[sk->n_metadata++] = cg_arena_strdup(L->arena, v);
        }
        build_skill_tools(L, get(L, sn, "tools", K_SEQ), sk);
    }
}

static const field control_fields[] = {
    {"type", K_STR, 1}, {"address", K_STR, 0}, {"port", K_INT, 1}, {"authentication", K_MAP, 0},
    {"management", K_MAP, 0}, {"observability", K_MAP, 0}, {"namespace", K_STR, 0},
    {"description", K_STR, 0}, FIELDS_END};
static const field management_fields[] = {
    {"health", K_BOOL, 0}, {"info", K_BOOL, 0}, {"reload", K_BOOL, 0}, {"validate", K_BOOL, 0},
    {"logs", K_ANY, 0}, {"scripting", K_MAP, 0}, FIELDS_END};
static const field logs_fields[] = {
    {"level-control", K_BOOL, 0}, {"stream", K_BOOL, 0}, {"max-subscribers", K_INT, 0}, FIELDS_END};
static const field scripting_fields[] = {
    {"enabled", K_BOOL, 0}, {"defaultLocation", K_STR, 0}, {"defaultLanguage", K_STR, 0},
    {"timeout", K_INT, 0}, {"statementLimit", K_INT, 0}, {"allowedLanguages", K_SEQ, 0},
    FIELDS_END};
static const field observability_fields[] = {
    {"enabled", K_BOOL, 0}, {"metrics", K_MAP, 0}, {"traces", K_MAP, 0}, {"exporters", K_MAP, 0},
    FIELDS_END};
static const field local_fields[] = {{"enabled", K_BOOL, 0}, {"buffer-size", K_INT, 0}, FIELDS_END};
static const field metrics_fields[] = {{"local", K_MAP, 0}, FIELDS_END};
static const field traces_fields[] = {
    {"sampling", K_ANY, 0}, {"propagation", K_STR, 0}, {"local", K_MAP, 0}, FIELDS_END};
static const field exporters_fields[] = {{"otlp", K_MAP, 0}, FIELDS_END};
static const field otlp_fields[] = {{"endpoint", K_STR, 1}, FIELDS_END};

static long get_long(cg__loader *L, const yaml_node_t *map, const char *key, long dflt)
{
    long v = dflt;
    yaml_node_t *n = get(L, map, key, K_INT);
    if (n)
        parse_int(scalar(n), &v);
    return v;
}

static void build_control_management(cg__loader *L, const yaml_node_t *m, cg_control_adapter *c)
{
    c->health = true;
    if (!m || !check_fields(L, m, "management", management_fields))
        return;
    c->health = get_bool(L, m, "health", 1);
    c->info = get_bool(L, m, "info", 0);
    c->reload = get_bool(L, m, "reload", 0);
    c->validate = get_bool(L, m, "validate", 0);
    yaml_node_t *logs = map_get(L, m, "logs");
    c->log_max_subscribers = 8;
    if (logs && kind_matches(logs, K_BOOL)) {
        c->logs = c->log_level_control = c->log_stream = get_bool(L, m, "logs", 0);
    } else if (logs && check_fields(L, logs, "logs", logs_fields)) {
        c->log_level_control = get_bool(L, logs, "level-control", 1);
        c->log_stream = get_bool(L, logs, "stream", 1);
        c->logs = c->log_level_control || c->log_stream;
        c->log_max_subscribers = (int)get_long(L, logs, "max-subscribers", 8);
    }
    yaml_node_t *sc = get(L, m, "scripting", K_MAP);
    if (sc && check_fields(L, sc, "scripting", scripting_fields)) {
        c->has_scripting = true;
        c->scripting = get_bool(L, sc, "enabled", 1);
        c->script_location = get_str(L, sc, "defaultLocation");
        c->script_language = get_str(L, sc, "defaultLanguage");
        c->script_timeout_ms = get_long(L, sc, "timeout", 0);
        c->script_statement_limit = get_long(L, sc, "statementLimit", 0);
        c->script_languages = get_str_list(L, get(L, sc, "allowedLanguages", K_SEQ),
                                           &c->n_script_languages, "a language");
    }
}

static void build_control_observability(cg__loader *L, const yaml_node_t *o, cg_control_adapter *c)
{
    c->trace_sampling = 1.0;
    c->trace_buffer = 100;
    /* no observability block: metrics and traces on, as in the reference engine */
    c->observability = c->metrics = c->traces = !o;
    if (!o || !check_fields(L, o, "observability", observability_fields))
        return;
    c->observability = get_bool(L, o, "enabled", 1);
    yaml_node_t *m = get(L, o, "metrics", K_MAP), *t = get(L, o, "traces", K_MAP);
    c->metrics = c->observability;
    if (m && check_fields(L, m, "metrics", metrics_fields)) {
        yaml_node_t *local = get(L, m, "local", K_MAP);
        if (local && check_fields(L, local, "local", local_fields))
            c->metrics = c->observability && get_bool(L, local, "enabled", 1);
    }
    c->traces = c->observability;
    if (t && check_fields(L, t, "traces", traces_fields)) {
        const char *smp = scalar(get(L, t, "sampling", K_STR));
        if (smp) {
            char *end;
            double d = strtod(smp, &end);
            if (*end || d < 0 || d > 1)
                cg__spec_error_at(L, map_get(L, t, "sampling"), "'sampling' must be a number "
                                  "from 0 to 1, not '%s'", smp);
            else
                c->trace_sampling = d;
        }
        c->trace_propagation = get_str(L, t, "propagation");
        yaml_node_t *local = get(L, t, "local", K_MAP);
        if (local && check_fields(L, local, "local", local_fields)) {
            c->traces = c->observability && get_bool(L, local, "enabled", 1);
            c->trace_buffer = (int)get_long(L, local, "buffer-size", 100);
        }
    }
    yaml_node_t *ex = get(L, o, "exporters", K_MAP);
    if (ex && check_fields(L, ex, "exporters", exporters_fields)) {
        yaml_node_t *otlp = get(L, ex, "otlp", K_MAP);
        if (otlp && check_fields(L, otlp, "otlp", otlp_fields))
            c->otlp_endpoint = get_str(L, otlp, "endpoint");
    }
}

static const field exposes_fields[] = {
    {"type", K_STR, 1}, {"namespace", K_STR, 1}, {"port", K_INT, 0}, {"address", K_STR, 0},
    {"description", K_STR, 0}, {"label", K_STR, 0}, {"resources", K_SEQ, 0},
    {"tools", K_SEQ, 0}, {"prompts", K_SEQ, 0}, {"transport", K_STR, 0},
    {"authentication", K_MAP, 0}, {"skills", K_SEQ, 0}, FIELDS_END};

static const char *const exposes_types[] = {"rest", "mcp", "skill", "control", NULL};

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

static void build_rest_entry(cg__loader *L, const yaml_node_t *e, size_t n)
{
    cg_spec *S = L->spec;
    cg_rest_adapter *a = &S->rest[S->n_rest];
    yaml_node_t *port = map_get(L, e, "port");
    L->exposes_at[S->n_rest] = pos_of(e);
    L->port_at[S->n_rest] = port ? pos_of(port) : pos_of(e);
    a->namespace_ = get_str(L, e, "namespace");
    a->port = get_port(L, e, "a REST adapter");
    a->address = get_str(L, e, "address");
    a->description = get_str(L, e, "description");
    if (get(L, e, "authentication", K_MAP))
        build_auth(L, get(L, e, "authentication", K_MAP), &a->auth, true);
    if (!port)
        cg__spec_error_at(L, e, "a REST adapter is missing required key 'port'");
    if (map_get(L, e, "tools"))
        cg__spec_error_at(L, map_get(L, e, "tools"), "'tools' belongs to an mcp adapter, not rest");
    build_rest(L, e, a, S->n_rest);
    S->n_rest++;
    (void)n;
}

static void build_mcp_entry(cg__loader *L, const yaml_node_t *e, size_t n)
{
    cg_spec *S = L->spec;
    cg_mcp_adapter *a = &S->mcp[S->n_mcp];
    yaml_node_t *port = map_get(L, e, "port");
    L->exposes_at[n + S->n_mcp] = pos_of(e);
    L->port_at[n + S->n_mcp] = port ? pos_of(port) : pos_of(e);
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
    build_mcp(L, e, a, S->n_mcp);
    S->n_mcp++;
}

static void build_skill_entry(cg__loader *L, const yaml_node_t *e)
{
    cg_spec *S = L->spec;
    cg_skill_adapter *a = &S->skill[S->n_skill++];
    a->namespace_ = get_str(L, e, "namespace");
    a->address = get_str(L, e, "address");
    a->description = get_str(L, e, "description");
    a->port = get_port(L, e, "a skill adapter");
    if (!map_get(L, e, "port"))
        cg__spec_error_at(L, e, "a skill adapter is missing required key 'port'");
    if (!map_get(L, e, "skills"))
        cg__spec_error_at(L, e, "a skill adapter is missing required key 'skills'");
    build_skill_adapter(L, e, a);
}

static void build_control_entry(cg__loader *L, const yaml_node_t *e)
{
    cg_spec *S = L->spec;
    if (!check_fields(L, e, "a control adapter", control_fields))
        return;
    if (S->control) {
        cg__spec_error_at(L, e, "a capability has at most one control adapter");
        return;
    }
    cg_control_adapter *c = S->control = cg_arena_alloc(L->arena, sizeof *c);
    c->port = get_port(L, e, "a control adapter");
    c->address = get_str(L, e, "address");
    build_control_management(L, get(L, e, "management", K_MAP), c);
    build_control_observability(L, get(L, e, "observability", K_MAP), c);
}

static void build_exposes(cg__loader *L, const yaml_node_t *seq)
{
    cg_spec *S = L->spec;
    size_t n = seq_len(seq);
    S->rest = alloc_array(L, n, sizeof *S->rest);
    S->mcp = alloc_array(L, n, sizeof *S->mcp);
    S->skill = alloc_array(L, n, sizeof *S->skill);
    L->n_exposes = n;
    L->exposes_at = alloc_array(L, 2 * n, sizeof(cg__pos));
    L->port_at = alloc_array(L, 2 * n, sizeof(cg__pos));
    L->resource_at = alloc_array(L, n, sizeof *L->resource_at);
    L->rest_op_at = alloc_array(L, n, sizeof *L->rest_op_at);
    L->tool_at = alloc_array(L, n, sizeof *L->tool_at);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *e = seq_item(L, seq, i);
        if (e->type != YAML_MAPPING_NODE) {
            cg__spec_error_at(L, e, "an exposes entry must be a mapping");
            continue;
        }
        int type = get_enum(L, e, "type", "an exposes entry", exposes_types, 0, -2);
        if (type == -2) {
            cg__spec_error_at(L, e, "an exposes entry is missing required key 'type'");
            continue;
        }
        if (type == 3) {
            build_control_entry(L, e);
            continue;
        }
        if (type < 0 || !check_fields(L, e, "an exposes entry", exposes_fields))
            continue;
        if (type == 2 && map_get(L, e, "authentication"))  /* rest/mcp: in their entries */
            build_auth(L, get(L, e, "authentication", K_MAP), &L->scratch_auth, true);
        if (type == 0)
            build_rest_entry(L, e, n);
        else if (type == 1)
            build_mcp_entry(L, e, n);
        else
            build_skill_entry(L, e);
    }
}

/* ---- aggregates: shared functions that operations and tools `ref` ------------------------ */

static const field aggregate_fields[] = {
    {"label", K_STR, 0}, {"namespace", K_STR, 1}, {"functions", K_SEQ, 1},
    {"description", K_STR, 0}, FIELDS_END};
static const field function_fields[] = {
    {"name", K_STR, 1}, {"description", K_STR, 0}, {"semantics", K_MAP, 0},
    {"inputParameters", K_SEQ, 0}, {"call", K_STR, 0}, {"with", K_MAP, 0}, {"steps", K_SEQ, 0},
    {"mappings", K_SEQ, 0}, {"outputParameters", K_SEQ, 0}, FIELDS_END};
static const field semantics_fields[] = {
    {"safe", K_BOOL, 0}, {"idempotent", K_BOOL, 0}, {"cacheable", K_BOOL, 0}, FIELDS_END};

static void build_aggregates(cg__loader *L, const yaml_node_t *seq)
{
    for (size_t i = 0; i < seq_len(seq); i++) {
        yaml_node_t *an = seq_item(L, seq, i);
        if (!check_fields(L, an, "an aggregate", aggregate_fields))
            continue;
        check_name(L, an, "namespace", "aggregate namespace");
        const char *ns = get_str(L, an, "namespace");
        if (ns && L->n_aggregate_ns < (int)(sizeof L->aggregate_ns / sizeof *L->aggregate_ns))
            L->aggregate_ns[L->n_aggregate_ns++] = ns;
        yaml_node_t *fns = get(L, an, "functions", K_SEQ);
        for (size_t f = 0; f < seq_len(fns); f++) {
            yaml_node_t *fn = seq_item(L, fns, f);
            if (!check_fields(L, fn, "an aggregate function", function_fields))
                continue;
            yaml_node_t *sem = get(L, fn, "semantics", K_MAP);
            if (sem)
                check_fields(L, sem, "semantics", semantics_fields);
            if (map_get(L, fn, "call") && map_get(L, fn, "steps"))
                cg__spec_error_at(L, map_get(L, fn, "steps"), "a function has either 'call' or "
                                  "'steps', not both");
        }
    }
}

/* Node ids: adding nodes to the document may move every yaml_node_t, so the expansion
 * below holds ids and looks nodes up again after each addition. */
typedef struct pair_ids {
    int key, value;
} pair_ids;

static int node_id_of(cg__loader *L, const yaml_node_t *n)
{
    return (int)(n - L->doc.nodes.start) + 1;
}

static int ref_failed(cg__loader *L, const yaml_node_t *n)
{
    for (int i = 0; i < L->n_failed_refs; i++)
        if (L->failed_refs[i] == node_id_of(L, n))
            return 1;
    return 0;
}

static int find_function(cg__loader *L, int aggregates, const char *ref)
{
    const char *dot = strchr(ref, '.');
    if (!dot)
        return 0;
    yaml_node_t *seq = node_at(L, aggregates);
    for (size_t i = 0; i < seq_len(seq); i++) {
        yaml_node_t *an = seq_item(L, seq, i);
        const char *ns = scalar(get(L, an, "namespace", K_STR));
        if (!ns || strlen(ns) != (size_t)(dot - ref) || strncmp(ns, ref, (size_t)(dot - ref)))
            continue;
        yaml_node_t *fns = get(L, an, "functions", K_SEQ);
        for (size_t f = 0; f < seq_len(fns); f++) {
            yaml_node_t *fn = seq_item(L, fns, f);
            const char *name = scalar(get(L, fn, "name", K_STR));
            if (name && !strcmp(name, dot + 1))
                return node_id_of(L, fn);
        }
    }
    return 0;
}

static size_t collect_pairs(cg__loader *L, int id, pair_ids *out, size_t max)
{
    yaml_node_t *n = id ? node_at(L, id) : NULL;
    size_t k = 0;
    if (!n || n->type != YAML_MAPPING_NODE)
        return 0;       /* (a malformed field: reported when the merged node is checked) */
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top && k < max; p++)
        out[k++] = (pair_ids){p->key, p->value};
    return k;
}

static int pairs_have(cg__loader *L, const pair_ids *pairs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (scalar(node_at(L, pairs[i].key)) && !strcmp(scalar(node_at(L, pairs[i].key)), key))
            return pairs[i].value;
    return 0;
}

static int add_scalar(cg__loader *L, const char *text)
{
    return yaml_document_add_scalar(&L->doc, NULL, (yaml_char_t *)text, -1, YAML_PLAIN_SCALAR_STYLE);
}

/* libyaml asserts on a zero id (an addition that ran out of memory): skip such a pair. */
static void add_pair(cg__loader *L, int map, int key, int value)
{
    if (map && key && value)
        yaml_document_append_mapping_pair(&L->doc, map, key, value);
}

/* An MCP tool's hints: its own, and for the ones it leaves out, what the function's
 * semantics say (safe: read-only and not destructive; idempotent). */
static int merged_hints(cg__loader *L, int own, int semantics)
{
    pair_ids own_pairs[16], sem[8];
    if (own && node_at(L, own)->type != YAML_MAPPING_NODE)
        return own;     /* malformed: left for check_fields to report */
    size_t n_own = own ? collect_pairs(L, own, own_pairs, 16) : 0;
    size_t n_sem = collect_pairs(L, semantics, sem, 8);
    int safe = pairs_have(L, sem, n_sem, "safe"), idem = pairs_have(L, sem, n_sem, "idempotent");
    int hints = yaml_document_add_mapping(&L->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
    if (!hints)
        return own;
    for (size_t i = 0; i < n_own; i++)
        add_pair(L, hints, own_pairs[i].key, own_pairs[i].value);
    int b;
    if (safe && !pairs_have(L, own_pairs, n_own, "readOnly"))
        add_pair(L, hints, add_scalar(L, "readOnly"), safe);
    if (safe && !pairs_have(L, own_pairs, n_own, "destructive") &&
        parse_bool(scalar(node_at(L, safe)), &b) == 0)
        add_pair(L, hints, add_scalar(L, "destructive"),
                                          add_scalar(L, b ? "false" : "true"));
    if (idem && !pairs_have(L, own_pairs, n_own, "idempotent"))
        add_pair(L, hints, add_scalar(L, "idempotent"), idem);
    return hints;
}

/* Replaces the operation or tool at items[i] of sequence seq by a new mapping: its own
 * fields, then the function's for those it leaves out ("explicit fields override"). */
static void expand_ref(cg__loader *L, int seq, size_t i, int aggregates, int is_tool)
{
    int id = node_at(L, seq)->data.sequence.items.start[i];
    yaml_node_t *n = node_at(L, id);
    yaml_node_t *refn = get(L, n, "ref", K_STR);
    if (!refn)
        return;
    const char *ref = scalar(refn);
    int fn = aggregates ? find_function(L, aggregates, ref) : 0;
    if (!fn) {
        cg__spec_error_at(L, refn, "ref '%s' names no aggregate function (expected "
                          "<aggregate namespace>.<function name>)", ref);
        if (L->n_failed_refs < (int)(sizeof L->failed_refs / sizeof *L->failed_refs))
            L->failed_refs[L->n_failed_refs++] = id;
        return;
    }
    static const char *const inherited[] = {"name", "description", "inputParameters", "call",
                                            "with", "steps", "mappings", "outputParameters", NULL};
    pair_ids own[32], fun[32];
    size_t n_own = collect_pairs(L, id, own, 32), n_fun = collect_pairs(L, fn, fun, 32);
    int merged = yaml_document_add_mapping(&L->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
    if (!merged)
        return;
    int own_hints = 0, semantics = pairs_have(L, fun, n_fun, "semantics");
    for (size_t k = 0; k < n_own; k++) {
        const char *key = scalar(node_at(L, own[k].key));
        if (key && !strcmp(key, "ref"))
            continue;
        if (key && !strcmp(key, "hints") && is_tool && semantics) {
            own_hints = own[k].value;
            continue;
        }
        add_pair(L, merged, own[k].key, own[k].value);
    }
    for (int k = 0; inherited[k]; k++) {
        if (pairs_have(L, own, n_own, inherited[k]) || (!is_tool && !strcmp(inherited[k], "name")))
            continue;
        int v = pairs_have(L, fun, n_fun, inherited[k]);
        if (v)
            add_pair(L, merged, add_scalar(L, inherited[k]), v);
    }
    if (is_tool && semantics)
        add_pair(L, merged, add_scalar(L, "hints"),
                                          merged_hints(L, own_hints, semantics));
    node_at(L, seq)->data.sequence.items.start[i] = merged;
}

/* Before the adapters are built: every `ref:` becomes the operation or tool it stands for. */
static void expand_refs(cg__loader *L, const yaml_node_t *cap)
{
    yaml_node_t *aggs = get(L, cap, "aggregates", K_SEQ);
    int aggregates = aggs ? node_id_of(L, aggs) : 0;
    yaml_node_t *exposes = get(L, cap, "exposes", K_SEQ);
    if (!exposes)
        return;
    int ex = node_id_of(L, exposes);
    for (size_t e = 0; e < seq_len(node_at(L, ex)); e++) {
        int eid = node_at(L, ex)->data.sequence.items.start[e];
        yaml_node_t *tools = get(L, node_at(L, eid), "tools", K_SEQ);
        if (tools) {
            int tid = node_id_of(L, tools);
            for (size_t t = 0; t < seq_len(node_at(L, tid)); t++)
                expand_ref(L, tid, t, aggregates, 1);
        }
        yaml_node_t *res = get(L, node_at(L, eid), "resources", K_SEQ);
        int rid = res ? node_id_of(L, res) : 0;
        for (size_t r = 0; rid && r < seq_len(node_at(L, rid)); r++) {
            yaml_node_t *ops = get(L, seq_item(L, node_at(L, rid), r), "operations", K_SEQ);
            if (!ops)
                continue;
            int oid = node_id_of(L, ops);
            for (size_t o = 0; o < seq_len(node_at(L, oid)); o++)
                expand_ref(L, oid, o, aggregates, 0);
        }
    }
}

/* ---- the document ------------------------------------------------------------------ */

/* The key that names the spec language and the versions capgate reads under it: Naftiko's
 * alpha releases (alpha2 and alpha3 differ only in the version constant) and the renamed
 * project's `ikanos:` documents of the same structure. */
static const field root_fields[] = {
    {"naftiko", K_STR, 0}, {"ikanos", K_STR, 0}, {"info", K_MAP, 0}, {"binds", K_SEQ, 0},
    {"capability", K_MAP, 0}, {"consumes", K_SEQ, 0}, FIELDS_END};

static const char *const naftiko_versions[] = {"1.0.0-alpha1", "1.0.0-alpha2", "1.0.0-alpha3", NULL};
static const char *const ikanos_versions[] = {"1.0.0-beta1", "1.0.0-beta2", "1.0.0-beta3",
                                              "1.0.0-beta4", "1.0.0-beta5", NULL};

static const field info_fields[] = {
    {"label", K_STR, 0}, {"description", K_STR, 0}, {"tags", K_SEQ, 0}, {"created", K_STR, 0},
    {"modified", K_STR, 0}, {"stakeholders", K_SEQ, 0}, {"display", K_ANY, 0},
    {"version", K_STR, 0}, {"name", K_STR, 0}, FIELDS_END};

static const field capability_fields[] = {
    {"consumes", K_SEQ, 0}, {"exposes", K_SEQ, 0}, {"binds", K_SEQ, 0},
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

/* Checks the version key; 0 when the document is not one capgate reads (reported once:
 * nothing else is checked then, since a foreign dialect would only cascade). */
static int check_version(cg__loader *L, const yaml_node_t *root)
{
    yaml_node_t *nv = get(L, root, "naftiko", K_STR), *iv = get(L, root, "ikanos", K_STR);
    yaml_node_t *v = nv ? nv : iv;
    const char *const *known = nv ? naftiko_versions : ikanos_versions;
    if (nv && iv) {
        cg__spec_error_at(L, iv, "a document has either 'naftiko' or 'ikanos', not both");
        return 0;
    }
    if (!v) {
        if (!map_get(L, root, "naftiko") && !map_get(L, root, "ikanos"))
            cg__spec_error_at(L, root, "the document is missing required key 'naftiko' "
                                       "(the spec version, e.g. naftiko: \"1.0.0-alpha2\")");
        return 0;
    }
    const char *ver = scalar(v);
    for (int i = 0; known[i]; i++)
        if (!strcmp(ver, known[i])) {
            L->spec->naftiko = cg_arena_strdup(L->arena, ver);
            return 1;
        }
    cg_buf list = CG_BUF_INIT;
    for (int i = 0; known[i]; i++)
        cg_buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
    cg__spec_error_at(L, v, "%s version '%s' is not supported (capgate reads %s)",
                      nv ? "naftiko" : "ikanos", ver, list.data);
    cg_buf_free(&list);
    return 0;
}

int cg__spec_build(cg__loader *L)
{
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    L->dir = dir_of(L, L->file);
    if (!root) {
        cg__spec_error(L, 1, 1, "the document is empty");
        return 0;
    }
    if (root->type != YAML_MAPPING_NODE) {
        cg__spec_error_at(L, root, "the document must be a mapping");
        return 0;
    }
    if (!check_version(L, root))
        return 0;
    if (!check_fields(L, root, "the document", root_fields))
        return 0;
    yaml_node_t *info = get(L, root, "info", K_MAP);
    if (info)
        build_info(L, info);
    if (get(L, root, "binds", K_SEQ))
        build_binds(L, get(L, root, "binds", K_SEQ));
    yaml_node_t *cap = get(L, root, "capability", K_MAP);
    yaml_node_t *shared = get(L, root, "consumes", K_SEQ);
    if (cap && shared) {
        cg__spec_error_at(L, map_get(L, root, "consumes"), "a document has either 'capability' or "
                          "top-level 'consumes' (a shared consumes document), not both");
        return 0;
    }
    if (shared) {           /* a consumes-only document, validated on its own */
        L->consumes_only = 1;
        build_consumes(L, shared);
        return 0;
    }
    if (!cap) {
        cg__spec_error_at(L, root, "the document is missing required key 'capability' (or "
                                   "top-level 'consumes' for a shared consumes document)");
        return 0;
    }
    if (!check_fields(L, cap, "capability", capability_fields))
        return 0;
    if (get(L, cap, "binds", K_SEQ))
        build_binds(L, get(L, cap, "binds", K_SEQ));
    if (get(L, cap, "consumes", K_SEQ))
        build_consumes(L, get(L, cap, "consumes", K_SEQ));
    if (get(L, cap, "aggregates", K_SEQ))
        build_aggregates(L, get(L, cap, "aggregates", K_SEQ));
    expand_refs(L, cap);
    cap = get(L, yaml_document_get_root_node(&L->doc), "capability", K_MAP);   /* nodes moved */
    if (!map_get(L, cap, "exposes")) {
        cg__spec_error_at(L, cap, "capability is missing required key 'exposes' (a capability "
                                  "must expose at least one adapter)");
        return 0;
    }
    build_exposes(L, get(L, cap, "exposes", K_SEQ));
    return 0;
}
