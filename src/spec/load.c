/*
 * load.c — pass 1 of the spec loader: YAML nodes → model structs.
 *
 * Every mapping is checked against a table of the keys it may hold (kind, required), so
 * unknown keys, wrong value kinds and missing keys are found in one place with one wording.
 * Values are then copied into the arena-owned model. Nothing here looks across nodes:
 * references between parts of the spec are resolve.c's job.
 *
 * The walk is split by section: load_consumes.c and load_exposes.c build those two, on
 * the node helpers and key-table types below (shared through load_int.h).
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

/* ---- YAML node helpers ------------------------------------------------------------ */

yaml_node_t *cg__ld_node_at(cg__loader *L, int id)
{
    return yaml_document_get_node(&L->doc, id);
}

const char *cg__ld_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int cg__ld_is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

yaml_node_t *cg__ld_map_get(cg__loader *L, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = cg__ld_scalar(cg__ld_node_at(L, p->key));
        if (k && !strcmp(k, key)) return cg__ld_node_at(L, p->value);
    }
    return NULL;
}

size_t cg__ld_seq_len(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE
               ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
               : 0;
}

yaml_node_t *cg__ld_seq_item(cg__loader *L, const yaml_node_t *n, size_t i)
{
    return cg__ld_node_at(L, n->data.sequence.items.start[i]);
}

cg__pos cg__ld_pos_of(const yaml_node_t *n)
{
    return (cg__pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

int cg__ld_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int cg__ld_parse_int(const char *s, long *out)
{
    if (!*s) return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end) return -1;
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

int cg__ld_kind_matches(const yaml_node_t *n, value_kind k)
{
    int b;
    long l;
    switch (k) {
    case K_STR: return n->type == YAML_SCALAR_NODE;
    case K_INT: return cg__ld_is_plain(n) && cg__ld_parse_int(cg__ld_scalar(n), &l) == 0;
    case K_BOOL: return cg__ld_is_plain(n) && cg__ld_parse_bool(cg__ld_scalar(n), &b) == 0;
    case K_MAP: return n->type == YAML_MAPPING_NODE;
    case K_SEQ: return n->type == YAML_SEQUENCE_NODE;
    case K_SCALAR_OR_MAP: return n->type != YAML_SEQUENCE_NODE;
    default: return 1;
    }
}

/* Checks a mapping against its field table. Reports unknown and duplicate keys, values of
 * the wrong kind and missing required keys. Returns 1 when n is a mapping (its fields can
 * then be read, wrong-kinded ones reading as absent), 0 otherwise. */
int cg__ld_check_fields(cg__loader *L, const yaml_node_t *n, const char *what, const field *fields)
{
    if (!n) return 0; /* a value of the wrong kind: cg__ld_get() reported it */
    /* Every mapping the loader reads passes here, so this bounds the whole walk: YAML
     * aliases can make a small document stand for an exponentially large one. */
    if (L->walk_too_big) return 0;
    if (++L->mappings_read > CG_SPEC_MAX_MAPPINGS) {
        cg__spec_error_at(L, n,
                          "the document expands to more than %d mappings (YAML "
                          "aliases?): stopped reading here",
                          CG_SPEC_MAX_MAPPINGS);
        L->walk_too_big = 1;
        return 0;
    }
    if (n->type != YAML_MAPPING_NODE) {
        cg__spec_error_at(L, n, "%s must be a mapping", what);
        return 0;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *vn = cg__ld_node_at(L, p->value);
        if (vn && vn->type == YAML_SCALAR_NODE) L->value_bytes_read += (long)vn->data.scalar.length;
    }
    if (L->value_bytes_read > CG_SPEC_MAX_VALUE_BYTES) {
        cg__spec_error_at(L, n,
                          "the document expands to more than %ld MB of values (YAML "
                          "aliases?): stopped reading here",
                          CG_SPEC_MAX_VALUE_BYTES >> 20);
        L->walk_too_big = 1;
        return 0;
    }
    const char *names[64];
    size_t n_names = 0;
    for (const field *f = fields; f->key && n_names < 64; f++) names[n_names++] = f->key;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = cg__ld_node_at(L, p->key), *vn = cg__ld_node_at(L, p->value);
        const char *k = cg__ld_scalar(kn);
        if (!k) {
            cg__spec_error_at(L, kn, "a key in %s must be a string", what);
            continue;
        }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *earlier = cg__ld_node_at(L, q->key);
            const char *k2 = cg__ld_scalar(earlier);
            if (k2 && !strcmp(k, k2)) {
                cg__spec_error_at(L, kn, "duplicate key '%s' in %s (first at line %d)", k, what,
                                  (int)earlier->start_mark.line + 1);
                break;
            }
        }
        const field *f = fields;
        while (f->key && strcmp(f->key, k)) f++;
        if (!f->key) {
            const char *hint = cg__spec_suggest(k, names, n_names);
            if (hint)
                cg__spec_error_at(L, kn, "unknown key '%s' in %s (did you mean '%s'?)", k, what,
                                  hint);
            else cg__spec_error_at(L, kn, "unknown key '%s' in %s", k, what);
            continue;
        }
        if (!cg__ld_kind_matches(vn, f->kind))
            cg__spec_error_at(L, vn, "'%s' in %s must be %s", k, what, kind_name(f->kind));
    }
    for (const field *f = fields; f->key; f++)
        if (f->required && !cg__ld_map_get(L, n, f->key))
            cg__spec_error_at(L, n, "%s is missing required key '%s'", what, f->key);
    return 1;
}

/* A field's value when present and of the right kind, else NULL. */
yaml_node_t *cg__ld_get(cg__loader *L, const yaml_node_t *map, const char *key, value_kind k)
{
    yaml_node_t *v = cg__ld_map_get(L, map, key);
    return v && cg__ld_kind_matches(v, k) ? v : NULL;
}

const char *cg__ld_get_str(cg__loader *L, const yaml_node_t *map, const char *key)
{
    return cg_arena_strdup(L->arena, cg__ld_scalar(cg__ld_get(L, map, key, K_STR)));
}

int cg__ld_get_bool(cg__loader *L, const yaml_node_t *map, const char *key, int dflt)
{
    yaml_node_t *v = cg__ld_get(L, map, key, K_BOOL);
    int b = dflt;
    if (v) cg__ld_parse_bool(cg__ld_scalar(v), &b);
    return b;
}

/* An enum field: its index in values, dflt when absent, -1 (reported) when not listed. */
int cg__ld_get_enum(cg__loader *L, const yaml_node_t *map, const char *key, const char *what,
                    const char *const *values, int case_insensitive, int dflt)
{
    yaml_node_t *v = cg__ld_get(L, map, key, K_STR);
    if (!v) return cg__ld_map_get(L, map, key) ? -1 : dflt;
    const char *s = cg__ld_scalar(v);
    for (int i = 0; values[i]; i++)
        if (case_insensitive ? !strcasecmp(s, values[i]) : !strcmp(s, values[i])) return i;
    cg_buf list = CG_BUF_INIT;
    for (int i = 0; values[i]; i++) cg_buf_printf(&list, "%s%s", i ? ", " : "", values[i]);
    cg__spec_error_at(L, v, "'%s' in %s must be one of %s, not '%s'", key, what, list.data, s);
    cg_buf_free(&list);
    return -1;
}

const cg_template *cg__ld_get_template(cg__loader *L, const yaml_node_t *map, const char *key)
{
    yaml_node_t *v = cg__ld_get(L, map, key, K_STR);
    if (!v) return NULL;
    const char *why;
    cg_template *t = cg_template_parse(L->arena, cg__ld_scalar(v), &why);
    if (!t && why) cg__spec_error_at(L, v, "'%s': %s", key, why);
    return t;
}

/* Allocates n zeroed elements of size sz (n may be 0: returns NULL). */
void *cg__ld_alloc_array(cg__loader *L, size_t n, size_t sz)
{
    return n ? cg_arena_alloc(L->arena, n * sz) : NULL;
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

void cg__ld_check_name(cg__loader *L, const yaml_node_t *map, const char *key, const char *what)
{
    yaml_node_t *v = cg__ld_get(L, map, key, K_STR);
    const char *s = cg__ld_scalar(v);
    if (s && (!*s || s[strspn(s, NAME_CHARS)]))
        cg__spec_error_at(L, v, "%s '%s' may hold only letters, digits, '_' and '-'", what, s);
}

const char **cg__ld_get_str_list(cg__loader *L, const yaml_node_t *seq, size_t *n, const char *what)
{
    const char **out = cg__ld_alloc_array(L, cg__ld_seq_len(seq), sizeof *out);
    *n = 0;
    for (size_t i = 0; i < cg__ld_seq_len(seq); i++) {
        const char *v = cg__ld_scalar(cg__ld_seq_item(L, seq, i));
        if (v) out[(*n)++] = cg_arena_strdup(L->arena, v);
        else cg__spec_error_at(L, cg__ld_seq_item(L, seq, i), "%s must be a string", what);
    }
    return out;
}

long cg__ld_get_long(cg__loader *L, const yaml_node_t *map, const char *key, long dflt)
{
    long v = dflt;
    yaml_node_t *n = cg__ld_get(L, map, key, K_INT);
    if (n) cg__ld_parse_int(cg__ld_scalar(n), &v);
    return v;
}

/* ---- enums as written in specs ----------------------------------------------------- */

const char *const cg__ld_location_names[] = {"query",  "header",      "path", "body",
                                             "cookie", "environment", NULL};
static const char *const type_names[] = {"string", "integer", "number", "boolean",
                                         "object", "array",   NULL};
const char *const cg__ld_auth_names[] = {"none",   "apikey", "bearer", "basic",
                                         "digest", "oauth2", NULL};
static const char *const method_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

const char *cg_location_name(cg_location in)
{
    return cg__ld_location_names[in];
}
const char *cg_type_name(cg_type type)
{
    return type_names[type];
}
const char *cg_auth_type_name(cg_auth_type type)
{
    return cg__ld_auth_names[type];
}

const char *cg__ld_get_method(cg__loader *L, const yaml_node_t *map, const char *what, int required)
{
    int m = cg__ld_get_enum(L, map, "method", what, method_names, 1, required ? -2 : 0);
    return m >= 0 ? method_names[m] : NULL;
}

cg_type cg__ld_get_type(cg__loader *L, const yaml_node_t *map, const char *what)
{
    int t = cg__ld_get_enum(L, map, "type", what, type_names, 0, CG_TYPE_STRING);
    return t >= 0 ? (cg_type)t : CG_TYPE_STRING;
}

/* ---- binds --------------------------------------------------------------------------- */

static const field bind_fields[] = {{"namespace", K_STR, 1},
                                    {"keys", K_MAP, 1},
                                    {"location", K_STR, 0},
                                    {"description", K_STR, 0},
                                    FIELDS_END};

static void build_binds(cg__loader *L, const yaml_node_t *seq)
{
    cg_spec *S = L->spec;
    size_t n = cg__ld_seq_len(seq), base = S->n_binds;
    cg_bind *all = cg__ld_alloc_array(L, base + n, sizeof *all);
    cg__pos *at = cg__ld_alloc_array(L, base + n, sizeof *at);
    if (base) {
        memcpy(all, S->binds, base * sizeof *all);
        memcpy(at, L->bind_at, base * sizeof *at);
    }
    S->binds = all;
    L->bind_at = at;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *b = cg__ld_seq_item(L, seq, i);
        if (!cg__ld_check_fields(L, b, "a binds entry", bind_fields)) continue;
        cg_bind *bd = &S->binds[S->n_binds];
        memset(bd, 0, sizeof *bd);
        L->bind_at[S->n_binds++] = cg__ld_pos_of(b);
        bd->namespace_ = cg__ld_get_str(L, b, "namespace");
        bd->location = cg__ld_get_str(L, b, "location");
        cg__ld_check_name(L, b, "namespace", "bind namespace");
        yaml_node_t *keys = cg__ld_get(L, b, "keys", K_MAP);
        size_t nk = keys ? (size_t)(keys->data.mapping.pairs.top - keys->data.mapping.pairs.start)
                         : 0;
        bd->keys = cg__ld_alloc_array(L, nk, sizeof *bd->keys);
        for (size_t k = 0; k < nk; k++) {
            yaml_node_pair_t *p = &keys->data.mapping.pairs.start[k];
            yaml_node_t *kn = cg__ld_node_at(L, p->key), *vn = cg__ld_node_at(L, p->value);
            const char *name = cg__ld_scalar(kn), *src = cg__ld_scalar(vn);
            if (!name || !src) {
                cg__spec_error_at(L, name ? vn : kn, "a bind key and its source must be strings");
                continue;
            }
            if (!(*name >= 'A' && *name <= 'Z') ||
                name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")])
                cg__spec_error_at(L, kn,
                                  "bind key '%s' must look like an environment variable "
                                  "(A-Z, 0-9 and '_', starting with a letter)",
                                  name);
            bd->keys[bd->n_keys++] = (cg_bind_key){cg_arena_strdup(L->arena, name),
                                                   cg_arena_strdup(L->arena, src), NULL};
        }
    }
}

/* ---- aggregates: shared functions that operations and tools `ref` ------------------------ */

static const field aggregate_fields[] = {{"label", K_STR, 0},
                                         {"namespace", K_STR, 1},
                                         {"functions", K_SEQ, 1},
                                         {"description", K_STR, 0},
                                         FIELDS_END};
static const field function_fields[] = {{"name", K_STR, 1},
                                        {"description", K_STR, 0},
                                        {"semantics", K_MAP, 0},
                                        {"inputParameters", K_SEQ, 0},
                                        {"call", K_STR, 0},
                                        {"with", K_MAP, 0},
                                        {"steps", K_SEQ, 0},
                                        {"mappings", K_SEQ, 0},
                                        {"outputParameters", K_SEQ, 0},
                                        FIELDS_END};
static const field semantics_fields[] = {
    {"safe", K_BOOL, 0}, {"idempotent", K_BOOL, 0}, {"cacheable", K_BOOL, 0}, FIELDS_END};

static void build_aggregates(cg__loader *L, const yaml_node_t *seq)
{
    for (size_t i = 0; i < cg__ld_seq_len(seq); i++) {
        yaml_node_t *an = cg__ld_seq_item(L, seq, i);
        if (!cg__ld_check_fields(L, an, "an aggregate", aggregate_fields)) continue;
        cg__ld_check_name(L, an, "namespace", "aggregate namespace");
        const char *ns = cg__ld_get_str(L, an, "namespace");
        if (ns && L->n_aggregate_ns < (int)(sizeof L->aggregate_ns / sizeof *L->aggregate_ns))
            L->aggregate_ns[L->n_aggregate_ns++] = ns;
        yaml_node_t *fns = cg__ld_get(L, an, "functions", K_SEQ);
        for (size_t f = 0; f < cg__ld_seq_len(fns); f++) {
            yaml_node_t *fn = cg__ld_seq_item(L, fns, f);
            if (!cg__ld_check_fields(L, fn, "an aggregate function", function_fields)) continue;
            yaml_node_t *sem = cg__ld_get(L, fn, "semantics", K_MAP);
            if (sem) cg__ld_check_fields(L, sem, "semantics", semantics_fields);
            if (cg__ld_map_get(L, fn, "call") && cg__ld_map_get(L, fn, "steps"))
                cg__spec_error_at(L, cg__ld_map_get(L, fn, "steps"),
                                  "a function has either 'call' or "
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

int cg__ld_ref_failed(cg__loader *L, const yaml_node_t *n)
{
    for (int i = 0; i < L->n_failed_refs; i++)
        if (L->failed_refs[i] == node_id_of(L, n)) return 1;
    return 0;
}

static int find_function(cg__loader *L, int aggregates, const char *ref)
{
    const char *dot = strchr(ref, '.');
    if (!dot) return 0;
    yaml_node_t *seq = cg__ld_node_at(L, aggregates);
    for (size_t i = 0; i < cg__ld_seq_len(seq); i++) {
        yaml_node_t *an = cg__ld_seq_item(L, seq, i);
        const char *ns = cg__ld_scalar(cg__ld_get(L, an, "namespace", K_STR));
        if (!ns || strlen(ns) != (size_t)(dot - ref) || strncmp(ns, ref, (size_t)(dot - ref)))
            continue;
        yaml_node_t *fns = cg__ld_get(L, an, "functions", K_SEQ);
        for (size_t f = 0; f < cg__ld_seq_len(fns); f++) {
            yaml_node_t *fn = cg__ld_seq_item(L, fns, f);
            const char *name = cg__ld_scalar(cg__ld_get(L, fn, "name", K_STR));
            if (name && !strcmp(name, dot + 1)) return node_id_of(L, fn);
        }
    }
    return 0;
}

static size_t collect_pairs(cg__loader *L, int id, pair_ids *out, size_t max)
{
    yaml_node_t *n = id ? cg__ld_node_at(L, id) : NULL;
    size_t k = 0;
    if (!n || n->type != YAML_MAPPING_NODE)
        return 0; /* (a malformed field: reported when the merged node is checked) */
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top && k < max; p++)
        out[k++] = (pair_ids){p->key, p->value};
    return k;
}

static int pairs_have(cg__loader *L, const pair_ids *pairs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (cg__ld_scalar(cg__ld_node_at(L, pairs[i].key)) &&
            !strcmp(cg__ld_scalar(cg__ld_node_at(L, pairs[i].key)), key))
            return pairs[i].value;
    return 0;
}

static int add_scalar(cg__loader *L, const char *text)
{
    return yaml_document_add_scalar(&L->doc, NULL, (yaml_char_t *)text, -1,
                                    YAML_PLAIN_SCALAR_STYLE);
}

/* libyaml asserts on a zero id (an addition that ran out of memory): skip such a pair. */
static void add_pair(cg__loader *L, int map, int key, int value)
{
    if (map && key && value) yaml_document_append_mapping_pair(&L->doc, map, key, value);
}

/* An MCP tool's hints: its own, and for the ones it leaves out, what the function's
 * semantics say (safe: read-only and not destructive; idempotent). */
static int merged_hints(cg__loader *L, int own, int semantics)
{
    pair_ids own_pairs[16], sem[8];
    if (own && cg__ld_node_at(L, own)->type != YAML_MAPPING_NODE)
        return own; /* malformed: left for check_fields to report */
    size_t n_own = own ? collect_pairs(L, own, own_pairs, 16) : 0;
    size_t n_sem = collect_pairs(L, semantics, sem, 8);
    int safe = pairs_have(L, sem, n_sem, "safe"), idem = pairs_have(L, sem, n_sem, "idempotent");
    int hints = yaml_document_add_mapping(&L->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
    if (!hints) return own;
    for (size_t i = 0; i < n_own; i++) add_pair(L, hints, own_pairs[i].key, own_pairs[i].value);
    int b;
    if (safe && !pairs_have(L, own_pairs, n_own, "readOnly"))
        add_pair(L, hints, add_scalar(L, "readOnly"), safe);
    if (safe && !pairs_have(L, own_pairs, n_own, "destructive") &&
        cg__ld_parse_bool(cg__ld_scalar(cg__ld_node_at(L, safe)), &b) == 0)
        add_pair(L, hints, add_scalar(L, "destructive"), add_scalar(L, b ? "false" : "true"));
    if (idem && !pairs_have(L, own_pairs, n_own, "idempotent"))
        add_pair(L, hints, add_scalar(L, "idempotent"), idem);
    return hints;
}

/* Replaces the operation or tool at items[i] of sequence seq by a new mapping: its own
 * fields, then the function's for those it leaves out ("explicit fields override"). */
static void expand_ref(cg__loader *L, int seq, size_t i, int aggregates, int is_tool)
{
    int id = cg__ld_node_at(L, seq)->data.sequence.items.start[i];
    yaml_node_t *n = cg__ld_node_at(L, id);
    yaml_node_t *refn = cg__ld_get(L, n, "ref", K_STR);
    if (!refn) return;
    const char *ref = cg__ld_scalar(refn);
    int fn = aggregates ? find_function(L, aggregates, ref) : 0;
    if (!fn) {
        cg__spec_error_at(L, refn,
                          "ref '%s' names no aggregate function (expected "
                          "<aggregate namespace>.<function name>)",
                          ref);
        if (L->n_failed_refs < (int)(sizeof L->failed_refs / sizeof *L->failed_refs))
            L->failed_refs[L->n_failed_refs++] = id;
        return;
    }
    static const char *const inherited[] = {
        "name",  "description", "inputParameters",  "call", "with",
        "steps", "mappings",    "outputParameters", NULL};
    pair_ids own[32], fun[32];
    size_t n_own = collect_pairs(L, id, own, 32), n_fun = collect_pairs(L, fn, fun, 32);
    int merged = yaml_document_add_mapping(&L->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
    if (!merged) return;
    int own_hints = 0, semantics = pairs_have(L, fun, n_fun, "semantics");
    for (size_t k = 0; k < n_own; k++) {
        const char *key = cg__ld_scalar(cg__ld_node_at(L, own[k].key));
        if (key && !strcmp(key, "ref")) continue;
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
        if (v) add_pair(L, merged, add_scalar(L, inherited[k]), v);
    }
    if (is_tool && semantics)
        add_pair(L, merged, add_scalar(L, "hints"), merged_hints(L, own_hints, semantics));
    cg__ld_node_at(L, seq)->data.sequence.items.start[i] = merged;
}

/* Before the adapters are built: every `ref:` becomes the operation or tool it stands for. */
static void expand_refs(cg__loader *L, const yaml_node_t *cap)
{
    yaml_node_t *aggs = cg__ld_get(L, cap, "aggregates", K_SEQ);
    int aggregates = aggs ? node_id_of(L, aggs) : 0;
    yaml_node_t *exposes = cg__ld_get(L, cap, "exposes", K_SEQ);
    if (!exposes) return;
    int ex = node_id_of(L, exposes);
    for (size_t e = 0; e < cg__ld_seq_len(cg__ld_node_at(L, ex)); e++) {
        int eid = cg__ld_node_at(L, ex)->data.sequence.items.start[e];
        yaml_node_t *tools = cg__ld_get(L, cg__ld_node_at(L, eid), "tools", K_SEQ);
        if (tools) {
            int tid = node_id_of(L, tools);
            for (size_t t = 0; t < cg__ld_seq_len(cg__ld_node_at(L, tid)); t++)
                expand_ref(L, tid, t, aggregates, 1);
        }
        yaml_node_t *res = cg__ld_get(L, cg__ld_node_at(L, eid), "resources", K_SEQ);
        int rid = res ? node_id_of(L, res) : 0;
        for (size_t r = 0; rid && r < cg__ld_seq_len(cg__ld_node_at(L, rid)); r++) {
            yaml_node_t *ops = cg__ld_get(L, cg__ld_seq_item(L, cg__ld_node_at(L, rid), r),
                                          "operations", K_SEQ);
            if (!ops) continue;
            int oid = node_id_of(L, ops);
            for (size_t o = 0; o < cg__ld_seq_len(cg__ld_node_at(L, oid)); o++)
                expand_ref(L, oid, o, aggregates, 0);
        }
    }
}

/* ---- the document ------------------------------------------------------------------ */

/* The key that names the spec language and the versions capgate reads under it: Naftiko's
 * alpha releases (alpha2 and alpha3 differ only in the version constant) and the renamed
 * project's `ikanos:` documents of the same structure. */
static const field root_fields[] = {
    {"naftiko", K_STR, 0},    {"ikanos", K_STR, 0},   {"info", K_MAP, 0}, {"binds", K_SEQ, 0},
    {"capability", K_MAP, 0}, {"consumes", K_SEQ, 0}, FIELDS_END};

static const char *const naftiko_versions[] = {"1.0.0-alpha1", "1.0.0-alpha2", "1.0.0-alpha3",
                                               NULL};
static const char *const ikanos_versions[] = {"1.0.0-beta1", "1.0.0-beta2", "1.0.0-beta3",
                                              "1.0.0-beta4", "1.0.0-beta5", NULL};

static const field info_fields[] = {{"label", K_STR, 0},    {"description", K_STR, 0},
                                    {"tags", K_SEQ, 0},     {"created", K_STR, 0},
                                    {"modified", K_STR, 0}, {"stakeholders", K_SEQ, 0},
                                    {"display", K_ANY, 0},  {"version", K_STR, 0},
                                    {"name", K_STR, 0},     FIELDS_END};

static const field capability_fields[] = {{"consumes", K_SEQ, 0},
                                          {"exposes", K_SEQ, 0},
                                          {"binds", K_SEQ, 0},
                                          {"aggregates", K_SEQ, 0},
                                          FIELDS_END};

static void build_info(cg__loader *L, const yaml_node_t *info)
{
    cg_spec *S = L->spec;
    if (!cg__ld_check_fields(L, info, "info", info_fields)) return;
    S->label = cg__ld_get_str(L, info, "label");
    S->description = cg__ld_get_str(L, info, "description");
    yaml_node_t *tags = cg__ld_get(L, info, "tags", K_SEQ);
    S->tags = cg__ld_alloc_array(L, cg__ld_seq_len(tags), sizeof *S->tags);
    for (size_t i = 0; i < cg__ld_seq_len(tags); i++) {
        const char *t = cg__ld_scalar(cg__ld_seq_item(L, tags, i));
        if (t) S->tags[S->n_tags++] = cg_arena_strdup(L->arena, t);
        else cg__spec_error_at(L, cg__ld_seq_item(L, tags, i), "a tag must be a string");
    }
}

/* Checks the version key; 0 when the document is not one capgate reads (reported once:
 * nothing else is checked then, since a foreign dialect would only cascade). */
static int check_version(cg__loader *L, const yaml_node_t *root)
{
    yaml_node_t *nv = cg__ld_get(L, root, "naftiko", K_STR),
                *iv = cg__ld_get(L, root, "ikanos", K_STR);
    yaml_node_t *v = nv ? nv : iv;
    const char *const *known = nv ? naftiko_versions : ikanos_versions;
    if (nv && iv) {
        cg__spec_error_at(L, iv, "a document has either 'naftiko' or 'ikanos', not both");
        return 0;
    }
    if (!v) {
        if (!cg__ld_map_get(L, root, "naftiko") && !cg__ld_map_get(L, root, "ikanos"))
            cg__spec_error_at(L, root,
                              "the document is missing required key 'naftiko' "
                              "(the spec version, e.g. naftiko: \"1.0.0-alpha2\")");
        return 0;
    }
    const char *ver = cg__ld_scalar(v);
    for (int i = 0; known[i]; i++)
        if (!strcmp(ver, known[i])) {
            L->spec->naftiko = cg_arena_strdup(L->arena, ver);
            return 1;
        }
    cg_buf list = CG_BUF_INIT;
    for (int i = 0; known[i]; i++) cg_buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
    cg__spec_error_at(L, v, "%s version '%s' is not supported (capgate reads %s)",
                      nv ? "naftiko" : "ikanos", ver, list.data);
    cg_buf_free(&list);
    return 0;
}

int cg__spec_build(cg__loader *L)
{
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    L->dir = cg__ld_dir_of(L, L->file);
    if (!root) {
        cg__spec_error(L, 1, 1, "the document is empty");
        return 0;
    }
    if (root->type != YAML_MAPPING_NODE) {
        cg__spec_error_at(L, root, "the document must be a mapping");
        return 0;
    }
    if (!check_version(L, root)) return 0;
    if (!cg__ld_check_fields(L, root, "the document", root_fields)) return 0;
    yaml_node_t *info = cg__ld_get(L, root, "info", K_MAP);
    if (info) build_info(L, info);
    if (cg__ld_get(L, root, "binds", K_SEQ)) build_binds(L, cg__ld_get(L, root, "binds", K_SEQ));
    yaml_node_t *cap = cg__ld_get(L, root, "capability", K_MAP);
    yaml_node_t *shared = cg__ld_get(L, root, "consumes", K_SEQ);
    if (cap && shared) {
        cg__spec_error_at(L, cg__ld_map_get(L, root, "consumes"),
                          "a document has either 'capability' or "
                          "top-level 'consumes' (a shared consumes document), not both");
        return 0;
    }
    if (shared) { /* a consumes-only document, validated on its own */
        L->consumes_only = 1;
        cg__ld_build_consumes(L, shared);
        return 0;
    }
    if (!cap) {
        cg__spec_error_at(L, root,
                          "the document is missing required key 'capability' (or "
                          "top-level 'consumes' for a shared consumes document)");
        return 0;
    }
    if (!cg__ld_check_fields(L, cap, "capability", capability_fields)) return 0;
    if (cg__ld_get(L, cap, "binds", K_SEQ)) build_binds(L, cg__ld_get(L, cap, "binds", K_SEQ));
    if (cg__ld_get(L, cap, "consumes", K_SEQ))
        cg__ld_build_consumes(L, cg__ld_get(L, cap, "consumes", K_SEQ));
    if (cg__ld_get(L, cap, "aggregates", K_SEQ))
        build_aggregates(L, cg__ld_get(L, cap, "aggregates", K_SEQ));
    expand_refs(L, cap);
    cap = cg__ld_get(L, yaml_document_get_root_node(&L->doc), "capability",
                     K_MAP); /* nodes moved */
    if (!cg__ld_map_get(L, cap, "exposes")) {
        cg__spec_error_at(L, cap,
                          "capability is missing required key 'exposes' (a capability "
                          "must expose at least one adapter)");
        return 0;
    }
    cg__ld_build_exposes(L, cg__ld_get(L, cap, "exposes", K_SEQ));
    return 0;
}
