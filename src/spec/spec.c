/*
 * spec.c — the spec loader's entry points: read the file, parse YAML, run the two passes
 * (load.c builds, resolve.c connects), and the lookups adapters use at run time.
 *
 * A spec is at most CG_SPEC_MAX_BYTES: capability files are small, and the cap keeps a
 * stray multi-gigabyte file from being parsed at all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/jsonpath.h"
#include "spec/spec_internal.h"

#define CG_SPEC_MAX_BYTES (4u << 20)
/* A YAML subtree turned into JSON may visit at most this many nodes (aliases can make a
 * small document stand for an exponentially large tree) and nest this deep. */
#define CG_SPEC_MAX_JSON_NODES 100000
#define CG_SPEC_MAX_JSON_DEPTH 64

void cg__spec_error(cg__loader *L, int line, int col, const char *fmt, ...)
{
    va_list ap;
    L->n_errors++;
    if (!L->errors) return;
    if (line > 0) cg_buf_printf(L->errors, "%s:%d:%d: ", L->file, line, col);
    else cg_buf_printf(L->errors, "%s: ", L->file);
    va_start(ap, fmt);
    cg_buf_vprintf(L->errors, fmt, ap);
    va_end(ap);
    cg_buf_append(L->errors, "\n", 1);
}

void cg__spec_error_at(cg__loader *L, const yaml_node_t *node, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cg__spec_error(L, (int)node->start_mark.line + 1, (int)node->start_mark.column + 1, "%s", msg);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cg__spec_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i]) continue;
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

/* The file a `file://` location names: file:///./x and file://./x are relative to the
 * working directory (as the reference engine reads them), file:///x is absolute. */
static const char *location_path(const char *location)
{
    const char *p = location + 7;
    if (!strncmp(p, "/./", 3)) return p + 1;
    return p;
}

/* Reads a `location: file://PATH` bind: a flat YAML (or JSON) mapping of strings. A file
 * that cannot be read leaves the keys without values: a start-up warning (see
 * cg_spec_check_binds), as for an unset environment variable. */
static void read_bind_file(cg__loader *L, cg_bind *bd, cg__pos at)
{
    if (strncmp(bd->location, "file://", 7)) {
        cg__spec_error(L, at.line, at.col, "bind location '%s' is not supported (only file://)",
                       bd->location);
        return;
    }
    FILE *f = fopen(location_path(bd->location), "rb");
    if (!f) return;
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        cg__spec_error(L, at.line, at.col, "bind location '%s': YAML error: %s", bd->location,
                       parser.problem ? parser.problem : "unreadable");
        yaml_parser_delete(&parser);
        fclose(f);
        return;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    for (size_t k = 0; k < bd->n_keys; k++) {
        const char *value = NULL;
        if (root && root->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
                 p < root->data.mapping.pairs.top; p++) {
                yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
                yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
                if (kn->type == YAML_SCALAR_NODE && vn->type == YAML_SCALAR_NODE &&
                    !strcmp((char *)kn->data.scalar.value, bd->keys[k].source))
                    value = (const char *)vn->data.scalar.value;
            }
        if (value) bd->keys[k].file_value = cg_arena_strdup(L->arena, value);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
}

/* Screens a document before libyaml sees it: flow collections ([ {) nested deeper than
 * CG_SPEC_MAX_FLOW_DEPTH. libyaml's scanner does work proportional to the nesting for every
 * token, so a 4 MB document of brackets would take minutes; no spec nests like that. Quoted
 * scalars and comments are skipped; returns the 1-based line of the first offending bracket,
 * or 0. */
#define CG_SPEC_MAX_FLOW_DEPTH 200
static int too_deep(const char *s, size_t n)
{
    int depth = 0, line = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n') {
            line++;
        } else if (c == '"' || c == '\'') {
            for (i++; i < n && s[i] != c; i++) {
                if (c == '"' && s[i] == '\\') i++;
                else if (s[i] == '\n') line++;
            }
        } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\n')) {
            while (i + 1 < n && s[i + 1] != '\n') i++;
        } else if (c == '[' || c == '{') {
            if (++depth > CG_SPEC_MAX_FLOW_DEPTH) return line;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* The whole file at path in text (which the caller frees), at most CG_SPEC_MAX_BYTES: 0;
 * 1 when the file is larger; -1 with errno set when it cannot be opened or read. */
static int read_spec_text(const char *path, cg_buf *text)
{
    *text = (cg_buf)CG_BUF_INIT;
    text->max = CG_SPEC_MAX_BYTES + 1;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (cg_buf_append(text, chunk, n) != 0) rc = 1;
    if (rc == 0 && ferror(f)) rc = -1;
    fclose(f);
    if (rc < 0) errno = EIO;
    return rc;
}

int cg__spec_parse_file(cg__loader *L, const char *path, yaml_document_t *doc, int line, int col)
{
    cg_buf text;
    int read = read_spec_text(path, &text);
    if (read < 0) {
        cg__spec_error(L, line, col, "cannot read '%s': %s", path, strerror(errno));
        cg_buf_free(&text);
        return -1;
    }
    if (read > 0) {
        cg__spec_error(L, line, col, "'%s' is larger than %u bytes", path, CG_SPEC_MAX_BYTES);
        cg_buf_free(&text);
        return -1;
    }
    int deep = too_deep(text.data ? text.data : "", text.len);
    if (deep) {
        cg__spec_error(L, line, col, "'%s' nests deeper than %d levels (line %d)", path,
                       CG_SPEC_MAX_FLOW_DEPTH, deep);
        cg_buf_free(&text);
        return -1;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text.data ? text.data : ""),
                                 text.len);
    int ok = yaml_parser_load(&parser, doc);
    if (!ok)
        cg__spec_error(L, line, col, "'%s': YAML error at line %d: %s", path,
                       (int)parser.problem_mark.line + 1,
                       parser.problem ? parser.problem : "malformed");
    yaml_parser_delete(&parser);
    cg_buf_free(&text);
    return ok ? 0 : -1;
}

/* ---- YAML subtrees as JSON ------------------------------------------------------------ */

typedef struct json_walk {
    cg__loader *L;
    yaml_document_t *doc;
    long budget;
} json_walk;

static json_t *plain_scalar_json(const char *s)
{
    if (!strcmp(s, "true")) return json_true();
    if (!strcmp(s, "false")) return json_false();
    if (!strcmp(s, "null") || !strcmp(s, "~") || !*s) return json_null();
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (!*end && !errno) return json_integer(i);
    double d = strtod(s, &end);
    if (!*end && end != s) return json_real(d);
    return json_string(s);
}

static json_t *node_json(json_walk *w, const yaml_node_t *n, int depth)
{
    if (--w->budget < 0 || depth > CG_SPEC_MAX_JSON_DEPTH) return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)n->data.scalar.value;
        return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar_json(s)
                                                               : json_string(s);
    }
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start;
             a && i < n->data.sequence.items.top; i++) {
            json_t *v = node_json(w, yaml_document_get_node(w->doc, *i), depth + 1);
            if (!v || json_array_append_new(a, v)) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
            json_t *v = k->type == YAML_SCALAR_NODE
                            ? node_json(w, yaml_document_get_node(w->doc, p->value), depth + 1)
                            : NULL;
            if (!v || json_object_set_new(o, (const char *)k->data.scalar.value, v)) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    default: return NULL;
    }
}

char *cg__yaml_to_json_text(cg__loader *L, const yaml_node_t *n)
{
    json_walk w = {L, &L->doc, CG_SPEC_MAX_JSON_NODES};
    json_t *j = node_json(&w, n, 0);
    if (!j) {
        cg__spec_error_at(L, n,
                          "this value is too large or too deeply nested (at most %d nodes, "
                          "%d levels)",
                          CG_SPEC_MAX_JSON_NODES, CG_SPEC_MAX_JSON_DEPTH);
        return NULL;
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    char *out = text ? cg_arena_strdup(L->arena, text) : NULL;
    free(text);
    return out;
}

/* "file:LINE:COL: ..." → (LINE, COL); lines without a position sort first, and lines of
 * another file (an imported document's) after this file's, in the order reported. */
static void error_position(const char *line, const char *name, size_t name_len, long *l, long *c)
{
    *l = *c = 0;
    if (strncmp(line, name, name_len) || line[name_len] != ':') {
        *l = 1L << 40;
        return;
    }
    const char *p = line + name_len;
    if (*p == ':') {
        char *end;
        *l = strtol(p + 1, &end, 10);
        if (*end == ':') *c = strtol(end + 1, NULL, 10);
    }
}

typedef struct error_line {
    const char *text;
    size_t len;
    long line, col;
} error_line;

static int compare_error_lines(const void *a, const void *b)
{
    const error_line *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return x->text < y->text ? -1 : x->text > y->text; /* stable: keep report order */
}

/* Appends the loader's messages to out sorted by position, so they read top to bottom. */
static void append_sorted(const char *name, const cg_buf *messages, cg_buf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < messages->len; i++) n += messages->data[i] == '\n';
    error_line *lines = n ? calloc(n, sizeof *lines) : NULL;
    if (!lines) {
        if (messages->len) cg_buf_append(out, messages->data, messages->len);
        return;
    }
    size_t k = 0, name_len = strlen(name);
    for (const char *p = messages->data; k < n; k++) {
        const char *nl = strchr(p, '\n');
        lines[k].text = p;
        lines[k].len = (size_t)(nl - p) + 1;
        error_position(p, name, name_len, &lines[k].line, &lines[k].col);
        p = nl + 1;
    }
    qsort(lines, n, sizeof *lines, compare_error_lines);
    for (k = 0; k < n; k++) /* a node reached twice (a shared aggregate) reports once */
        if (k == 0 || lines[k].len != lines[k - 1].len ||
            memcmp(lines[k].text, lines[k - 1].text, lines[k].len))
            cg_buf_append(out, lines[k].text, lines[k].len);
    free(lines);
}

cg_spec_result cg_spec_load_string(const char *name, const char *text, size_t len, cg_spec **out,
                                   cg_buf *errors)
{
    cg_spec_result rc = CG_SPEC_OK;
    cg_buf messages = CG_BUF_INIT;
    cg__loader L = {.file = name, .errors = errors ? &messages : NULL};
    yaml_parser_t parser;
    int parser_ready = 0, doc_ready = 0;
    *out = NULL;
    if (len > CG_SPEC_MAX_BYTES) {
        cg__spec_error(&L, 0, 0, "the spec is larger than %u bytes", CG_SPEC_MAX_BYTES);
        rc = CG_SPEC_EINVALID;
        goto spec_load_out;
    }
    if (!(L.arena = cg_arena_new()) || !(L.spec = cg_arena_alloc(L.arena, sizeof *L.spec))) {
        rc = CG_SPEC_ENOMEM;
        goto spec_load_out;
    }
    L.spec->_arena = L.arena;
    L.spec->file = cg_arena_strdup(L.arena, name);
    int deep = too_deep(text, len);
    if (deep) {
        cg__spec_error(&L, deep, 1, "the document nests deeper than %d levels",
                       CG_SPEC_MAX_FLOW_DEPTH);
        rc = CG_SPEC_EINVALID;
        goto spec_load_out;
    }
    yaml_parser_initialize(&parser);
    parser_ready = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &L.doc)) {
        if (parser.error == YAML_MEMORY_ERROR) {
            rc = CG_SPEC_ENOMEM;
        } else {
            yaml_mark_t m = parser.problem_mark;
            cg__spec_error(&L, (int)m.line + 1, (int)m.column + 1, "YAML error: %s%s%s",
                           parser.problem ? parser.problem : "malformed document",
                           parser.context ? " " : "", parser.context ? parser.context : "");
            rc = CG_SPEC_EINVALID;
        }
        goto spec_load_out;
    }
    doc_ready = 1;
    cg__spec_build(&L);
    for (size_t b = 0; b < L.spec->n_binds; b++)
        if (L.spec->binds[b].location) read_bind_file(&L, &L.spec->binds[b], L.bind_at[b]);
    cg__spec_resolve(&L); /* also after pass-1 errors: report everything in one run */
    if (L.n_errors) rc = CG_SPEC_EINVALID;

spec_load_out:
    free(L.paths);
    if (doc_ready) yaml_document_delete(&L.doc);
    if (parser_ready) yaml_parser_delete(&parser);
    if (rc == CG_SPEC_OK) *out = L.spec;
    else cg_arena_free(L.arena);
    if (errors) append_sorted(name, &messages, errors);
    cg_buf_free(&messages);
    return rc;
}

cg_spec_result cg_spec_load(const char *path, cg_spec **out, cg_buf *errors)
{
    *out = NULL;
    cg_buf text;
    int read = read_spec_text(path, &text);
    cg_spec_result rc;
    if (read < 0) {
        if (errors) cg_buf_printf(errors, "%s: cannot read: %s\n", path, strerror(errno));
        rc = CG_SPEC_EIO;
    } else if (read > 0) {
        if (errors)
            cg_buf_printf(errors, "%s: the spec is larger than %u bytes\n", path,
                          CG_SPEC_MAX_BYTES);
        rc = CG_SPEC_EINVALID;
    } else {
        rc = cg_spec_load_string(path, text.data ? text.data : "", text.len, out, errors);
    }
    cg_buf_free(&text);
    return rc;
}

void cg_spec_free(cg_spec *spec)
{
    if (spec) cg_arena_free(spec->_arena);
}

const cg_operation *cg_spec_find_operation(const cg_spec *spec, const char *namespace_,
                                           const char *name)
{
    for (size_t c = 0; c < spec->n_consumes; c++) {
        const cg_consumes *api = &spec->consumes[c];
        if (!api->namespace_ || strcmp(api->namespace_, namespace_)) continue;
        for (size_t o = 0; o < api->n_ops; o++)
            if (api->ops[o].name && !strcmp(api->ops[o].name, name)) /* unnamed: reported */
                return &api->ops[o];
    }
    return NULL;
}

const cg_tool *cg_spec_find_tool(const cg_mcp_adapter *mcp, const char *name)
{
    for (size_t t = 0; t < mcp->n_tools; t++)
        if (mcp->tools[t].name && !strcmp(mcp->tools[t].name, name)) /* unnamed: reported */
            return &mcp->tools[t];
    return NULL;
}

static const cg_bind_key *find_bind_key(const cg_spec *spec, const char *name,
                                        const cg_bind **owner)
{
    const char *dot = strchr(name, '.');
    for (size_t b = 0; b < spec->n_binds; b++) {
        const cg_bind *bd = &spec->binds[b];
        if (dot && (!bd->namespace_ || strlen(bd->namespace_) != (size_t)(dot - name) ||
                    strncmp(bd->namespace_, name, (size_t)(dot - name))))
            continue;
        const char *key = dot ? dot + 1 : name;
        for (size_t k = 0; k < bd->n_keys; k++)
            if (!strcmp(bd->keys[k].name, key)) {
                *owner = bd;
                return &bd->keys[k];
            }
    }
    return NULL;
}

const char *cg_spec_bind_value(const cg_spec *spec, const char *name)
{
    const cg_bind *bd;
    const cg_bind_key *key = find_bind_key(spec, name, &bd);
    if (!key) return NULL;
    if (bd->location) return key->file_value;
    const char *v = getenv(key->source);
    return v && *v ? v : NULL;
}

int cg_spec_check_binds(const cg_spec *spec, cg_buf *warnings)
{
    int n = 0;
    for (size_t b = 0; b < spec->n_binds; b++) {
        const cg_bind *bd = &spec->binds[b];
        for (size_t k = 0; k < bd->n_keys; k++) {
            const char *v = bd->location ? bd->keys[k].file_value : getenv(bd->keys[k].source);
            if (v && *v) continue;
            n++;
            if (!warnings) continue;
            if (bd->location)
                cg_buf_printf(warnings,
                              "%s: bound variable %s.%s has no value: %s has no key "
                              "'%s' (or cannot be read; file:///./ is relative to the working "
                              "directory)\n",
                              spec->file, bd->namespace_ ? bd->namespace_ : "", bd->keys[k].name,
                              bd->location, bd->keys[k].source);
            else
                cg_buf_printf(warnings,
                              "%s: bound variable %s.%s has no value: environment "
                              "variable %s is not set\n",
                              spec->file, bd->namespace_ ? bd->namespace_ : "", bd->keys[k].name,
                              bd->keys[k].source);
        }
    }
    return n;
}

bool cg_output_is_passthrough(const cg_output *o)
{
    return o->path && cg_jsonpath_is_root(o->path) && !o->value && !o->n_properties && !o->items;
}
