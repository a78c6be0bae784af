/*
 * formats.c — XML, YAML, CSV/TSV/PSV, HTML, Markdown and Avro bodies to JSON. See formats.h.
 *
 * Every converter uses a Debian library for the parsing itself (libxml2, libyaml, libcsv,
 * md4c, avro-c); the code here only maps the parser's events or tree to the JSON shape the
 * reference engine produces. Document trees are walked with explicit stacks or with
 * recursion capped by the parser's own depth limit (libxml2 stops at 256 levels), never with
 * recursion driven by the input alone.
 *
 * Size: six small converters of one concept (a body format to JSON) behind one dispatch, each
 * under 250 lines and sharing the JSON-building helpers at the top.
 */
#include "engine/formats.h"

#include <avro.h>
#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <md4c.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/lazylib.h"

static json_t *fmt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *fmt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

/* ---- YAML (libyaml events) -------------------------------------------------------------- */

static json_t *yaml_scalar(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag)
        return json_stringn(s, n);
    if (n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return json_false();
    char *end;
    errno = 0;
    long long ll = strtoll(s, &end, 10);
    if (!*end && !errno && (isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+'))
        return json_integer(ll);
    double d = strtod(s, &end);
    if (!*end && (isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.') &&
        strspn(s, "0123456789+-.eE") == n)
        return json_real(d);
    return json_stringn(s, n);
}

typedef struct ystack {
    json_t *node[CG_FORMAT_MAX_DEPTH];
    char *key[CG_FORMAT_MAX_DEPTH]; /* mappings: the key waiting for its value */
    int depth;
} ystack;

/* Places v (stolen) into the innermost container, or makes it the root. */
static int yaml_place(ystack *S, json_t **root, json_t *v, const yaml_event_t *ev)
{
    if (!v) return -1;
    if (S->depth == 0) {
        *root = v;
        return 0;
    }
    json_t *top = S->node[S->depth - 1];
    if (json_is_array(top)) return json_array_append_new(top, v);
    char **key = &S->key[S->depth - 1];
    if (!*key) {
        /* a key: scalars only */
        if (!ev || ev->type != YAML_SCALAR_EVENT) {
            json_decref(v);
            return -2;
        }
        *key = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        json_decref(v);
        return *key ? 0 : -1;
    }
    int rc = json_object_set_new(top, *key, v);
    free(*key);
    *key = NULL;
    return rc;
}

/* The first YAML document in text as JSON; NULL with err. */
static json_t *yaml_to_json(const char *text, size_t len, char *err, size_t errlen)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return fmt_fail(err, errlen, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    ystack *S = calloc(1, sizeof *S);
    json_t *root = NULL;
    bool done = false, failed = !S;
    if (!S) fmt_fail(err, errlen, "out of memory");
    while (!done && !failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            fmt_fail(err, errlen, "not valid YAML: %s (line %zu)", p.problem ? p.problem : "error",
                     p.problem_mark.line + 1);
            failed = true;
            break;
        }
        int rc = 0;
        switch (ev.type) {
        case YAML_SCALAR_EVENT: rc = yaml_place(S, &root, yaml_scalar(&ev), &ev); break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (S->depth >= CG_FORMAT_MAX_DEPTH) {
                fmt_fail(err, errlen, "YAML nests deeper than %d levels", CG_FORMAT_MAX_DEPTH);
                failed = true;
                break;
            }
            {
                json_t *c = ev.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
                rc = yaml_place(S, &root, json_incref(c), &ev);
                if (rc == 0) {
                    S->node[S->depth] = c;
                    S->key[S->depth++] = NULL;
                } else {
                    json_decref(c);
                }
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            S->depth--;
            json_decref(S->node[S->depth]);
            free(S->key[S->depth]);
            S->key[S->depth] = NULL;
            break;
        case YAML_ALIAS_EVENT:
            fmt_fail(err, errlen, "YAML aliases (*%s) are not supported",
                     (const char *)ev.data.alias.anchor);
            failed = true;
            break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        if (rc == -2) {
            fmt_fail(err, errlen, "YAML mapping keys must be scalars (line %zu)",
                     ev.start_mark.line + 1);
            failed = true;
        } else if (rc < 0) {
            fmt_fail(err, errlen, "out of memory");
            failed = true;
        }
        yaml_event_delete(&ev);
    }
    while (S && S->depth > 0) {
        S->depth--;
        json_decref(S->node[S->depth]);
        free(S->key[S->depth]);
    }
    free(S);
    yaml_parser_delete(&p);
    if (failed) {
        json_decref(root);
        return NULL;
    }
    return root ? root : json_null();
}

/* ---- XML (libxml2 tree, Jackson XmlMapper shape) ---------------------------------------- */

static bool only_space(const xmlChar *s)
{
    for (; s && *s; s++)
        if (!isspace(*s)) return false;
    return true;
}

/* Depth is bounded by libxml2's own nesting limit (256 without XML_PARSE_HUGE). */
static json_t *xml_element(xmlNode *el, json_t *repeated)
{
    bool has_children = el->properties != NULL;
    cg_buf text = CG_BUF_INIT;
    for (xmlNode *c = el->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) has_children = true;
        else if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            cg_buf_append_str(&text, (const char *)c->content);
    }
    if (!has_children) {
        json_t *s = json_stringn(text.data ? text.data : "", text.len);
        cg_buf_free(&text);
        return s;
    }
    json_t *obj = json_object();
    for (xmlAttr *a = el->properties; a; a = a->next) {
        xmlChar *v = xmlNodeGetContent((xmlNode *)a);
        json_object_set_new(obj, (const char *)a->name, json_string(v ? (const char *)v : ""));
        xmlFree(v);
    }
    for (xmlNode *c = el->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        const char *name = (const char *)c->name;
        json_t *v = xml_element(c, repeated);
        json_t *old = json_object_get(obj, name);
        if (!old) {
            json_object_set_new(obj, name, v);
        } else if (json_is_array(old) && json_object_get(repeated, name) == old) {
            json_array_append_new(old, v);
        } else {
            json_t *arr = json_pack("[O o]", old, v);
            json_object_set_new(obj, name, arr);
            json_object_set(repeated, name, arr); /* remember: this array is ours */
        }
    }
    if (text.len && !only_space((const xmlChar *)text.data))
        json_object_set_new(obj, "", json_stringn(text.data, text.len));
    cg_buf_free(&text);
    return obj;
}

static json_t *xml_to_json(const char *body, size_t len, char *err, size_t errlen)
{
    if (len > (size_t)0x7fffffff) return fmt_fail(err, errlen, "XML body too large");
    xmlDoc *doc = xmlReadMemory(body, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        return fmt_fail(err, errlen, "not valid XML: %s%s(line %d)",
                        e && e->message ? e->message : "parse error", e ? " " : "",
                        e ? e->line : 0);
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    json_t *repeated = json_object();
    json_t *out = root ? xml_element(root, repeated) : json_null();
    json_decref(repeated);
    xmlFreeDoc(doc);
    return out;
}

/* ---- HTML tables (libxml2 HTML parser) --------------------------------------------------- */

/* One compound selector: tag, .class (one), #id. */
typedef struct sel {
    char tag[32], cls[64], id[64];
} sel;

static int parse_selector(const char *s, sel *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ') s++;
        if (!*s) break;
        sel *c = &out[n++];
        memset(c, 0, sizeof *c);
        while (*s && *s != ' ') {
            char kind = (*s == '.' || *s == '#') ? *s++ : 't';
            size_t k = strcspn(s, " .#");
            char *dst = kind == '.' ? c->cls : kind == '#' ? c->id : c->tag;
            size_t cap = kind == 't' ? sizeof c->tag : sizeof c->cls;
            snprintf(dst, cap, "%.*s", (int)k, s);
            s += k;
        }
    }
    return n;
}

static bool has_class(xmlNode *el, const char *cls)
{
    xmlChar *v = xmlGetProp(el, (const xmlChar *)"class");
    bool found = false;
    size_t n = strlen(cls);
    for (const char *p = (const char *)v; p && *p && !found;) {
        while (*p == ' ' || *p == '\t') p++;
        size_t k = strcspn(p, " \t");
        found = k == n && !strncmp(p, cls, n);
        p += k;
    }
    xmlFree(v);
    return found;
}

static bool sel_matches(xmlNode *el, const sel *c)
{
    if (c->tag[0] && strcasecmp((const char *)el->name, c->tag)) return false;
    if (c->cls[0] && !has_class(el, c->cls)) return false;
    if (c->id[0]) {
        xmlChar *v = xmlGetProp(el, (const xmlChar *)"id");
        bool ok = v && !strcmp((const char *)v, c->id);
        xmlFree(v);
        if (!ok) return false;
    }
    return true;
}

/* Does el match the whole descendant chain sels[0..n)? (last compound on el itself) */
static bool chain_matches(xmlNode *el, const sel *sels, int n)
{
    if (!sel_matches(el, &sels[n - 1])) return false;
    int k = n - 2;
    for (xmlNode *a = el->parent; a && k >= 0; a = a->parent)
        if (a->type == XML_ELEMENT_NODE && sel_matches(a, &sels[k])) k--;
    return k < 0;
}

typedef struct elist {
    xmlNode **v;
    size_t n, cap;
} elist;

static int elist_add(elist *l, xmlNode *n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        xmlNode **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
    return 0;
}

/* Every element under from (not from itself) for which want() holds, in document order,
 * walking with parent/next links: no recursion. */
static int collect(xmlNode *from, bool (*want)(xmlNode *, const void *), const void *arg,
                   elist *out)
{
    xmlNode *n = from->children;
    while (n && n != from) {
        if (n->type == XML_ELEMENT_NODE && want(n, arg) && elist_add(out, n) < 0) return -1;
        if (n->children && n->type == XML_ELEMENT_NODE) {
            n = n->children;
            continue;
        }
        while (n != from && !n->next) n = n->parent;
        if (n == from) break;
        n = n->next;
    }
    return 0;
}

static bool is_tag(xmlNode *n, const void *tag)
{
    return !strcasecmp((const char *)n->name, tag);
}

typedef struct chain {
    const sel *sels;
    int n;
} chain;

static bool want_chain(xmlNode *n, const void *arg)
{
    const chain *c = arg;
    return chain_matches(n, c->sels, c->n);
}

/* jsoup's text(): descendant text, whitespace runs collapsed to one space, trimmed. */
static json_t *cell_text(xmlNode *el)
{
    xmlChar *raw = xmlNodeGetContent(el);
    cg_buf b = CG_BUF_INIT;
    bool space = false;
    for (const xmlChar *p = raw; p && *p; p++) {
        if (isspace(*p) || *p == 0xA0) {
            space = b.len > 0;
            continue;
        }
        if (space) cg_buf_append(&b, " ", 1);
        space = false;
        cg_buf_append(&b, p, 1);
    }
    xmlFree(raw);
    json_t *s = json_stringn(b.data ? b.data : "", b.len);
    cg_buf_free(&b);
    return s;
}

static void cells_of(xmlNode *tr, const char *tag, elist *out)
{
    for (xmlNode *c = tr->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcasecmp((const char *)c->name, tag))
            elist_add(out, c);
}

/* A table's rows as objects keyed by its header cells; NULL when it has no header. */
static json_t *html_table(xmlNode *table)
{
    elist trs = {0}, hdr = {0}, heads = {0};
    collect(table, is_tag, "thead", &heads);
    xmlNode *thead = heads.n ? heads.v[0] : NULL;
    free(heads.v);
    collect(thead ? thead : table, is_tag, "tr", &trs);
    if (trs.n) cells_of(trs.v[0], "th", &hdr);
    json_t *headers = json_array();
    bool any = false;
    for (size_t i = 0; i < hdr.n; i++) {
        json_t *t = cell_text(hdr.v[i]);
        any |= json_string_length(t) > 0;
        json_array_append_new(headers, t);
    }
    free(hdr.v);
    trs.n = 0;
    json_t *rows = NULL;
    if (any) {
        elist bodies = {0};
        collect(table, is_tag, "tbody", &bodies);
        for (size_t b = 0; b < bodies.n; b++) collect(bodies.v[b], is_tag, "tr", &trs);
        if (!trs.n) collect(table, is_tag, "tr", &trs);
        free(bodies.v);
        rows = json_array();
        for (size_t r = 0; r < trs.n; r++) {
            elist th = {0}, td = {0};
            cells_of(trs.v[r], "th", &th);
            cells_of(trs.v[r], "td", &td);
            if (!th.n && td.n) {
                json_t *row = json_object();
                for (size_t i = 0; i < json_array_size(headers); i++)
                    json_object_set_new(row, json_string_value(json_array_get(headers, i)),
                                        i < td.n ? cell_text(td.v[i]) : json_string(""));
                json_array_append_new(rows, row);
            }
            free(th.v);
            free(td.v);
        }
    }
    free(trs.v);
    json_decref(headers);
    return rows;
}

static json_t *html_to_json(const char *body, size_t len, const char *selector, char *err,
                            size_t errlen)
{
    if (len > (size_t)0x7fffffff) return fmt_fail(err, errlen, "HTML body too large");
    htmlDocPtr doc = htmlReadMemory(body, (int)len, NULL, "UTF-8",
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET);
    if (!doc) return fmt_fail(err, errlen, "not parseable HTML");
    xmlNode *root = (xmlNode *)doc;
    elist picked = {0}, tables = {0};
    sel sels[8];
    int n = selector ? parse_selector(selector, sels, 8) : 0;
    if (n > 0) {
        chain c = {sels, n};
        collect(root, want_chain, &c, &picked);
        for (size_t i = 0; i < picked.n; i++) {
            if (!strcasecmp((const char *)picked.v[i]->name, "table"))
                elist_add(&tables, picked.v[i]);
            else collect(picked.v[i], is_tag, "table", &tables);
        }
    } else {
        collect(root, is_tag, "table", &tables);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < tables.n; i++) {
        json_t *t = html_table(tables.v[i]);
        if (t) json_array_append_new(arr, t);
    }
    free(picked.v);
    free(tables.v);
    xmlFreeDoc(doc);
    return json_pack("{s:o}", "tables", arr);
}

/* ---- CSV, TSV, PSV (libcsv) -------------------------------------------------------------- */

typedef struct csvctx {
    json_t *header; /* array of names, from the first record */
    json_t *rows;
    json_t *row; /* the record being read */
    size_t col;
} csvctx;

static void csv_field(void *s, size_t n, void *arg)
{
    csvctx *c = arg;
    json_t *v = json_stringn(s ? s : "", s ? n : 0);
    if (!c->header) {
        if (!c->row) c->row = json_array();
        json_array_append_new(c->row, v);
    } else {
        if (!c->row) c->row = json_object();
        if (c->col < json_array_size(c->header))
            json_object_set_new(c->row, json_string_value(json_array_get(c->header, c->col)), v);
        else json_decref(v); /* more fields than the header names: dropped */
    }
    c->col++;
}

static void csv_record(int term, void *arg)
{
    csvctx *c = arg;
    if (!c->header) c->header = c->row ? c->row : json_array();
    else if (c->row) json_array_append_new(c->rows, c->row);
    c->row = NULL;
    c->col = 0;
}

static json_t *delimited_to_json(const char *body, size_t len, unsigned char delim, char *err,
                                 size_t errlen)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL) != 0) return fmt_fail(err, errlen, "out of memory");
    csv_set_delim(&p, delim);
    csvctx c = {NULL, json_array(), NULL, 0};
    json_t *out = NULL;
    if (csv_parse(&p, body, len, csv_field, csv_record, &c) != len ||
        csv_fini(&p, csv_field, csv_record, &c) != 0) {
        fmt_fail(err, errlen, "not valid delimited text: %s", csv_strerror(csv_error(&p)));
        json_decref(c.rows);
    } else {
        out = c.rows;
    }
    json_decref(c.row);
    json_decref(c.header);
    csv_free(&p);
    return out;
}

/* ---- Markdown (md4c) ---------------------------------------------------------------------- */

typedef struct mdctx {
    int depth; /* block nesting; top-level blocks are at depth 1 */
    int table_depth;
    json_t *tables, *sections;
    /* table being read */
    json_t *headers, *rows, *cells;
    bool in_head;
    cg_buf cell;
    bool in_cell;
    /* section being read */
    cg_buf heading, content, block;
    bool in_heading, have_heading;
    int level;
    const char *filter;
} mdctx;

static void md_trim_into(cg_buf *dst, const cg_buf *src, const char *sep)
{
    size_t a = 0, b = src->len;
    while (a < b && isspace((unsigned char)src->data[a])) a++;
    while (b > a && isspace((unsigned char)src->data[b - 1])) b--;
    if (b == a) return;
    if (dst->len && sep) cg_buf_append_str(dst, sep);
    cg_buf_append(dst, src->data + a, b - a);
}

static json_t *md_trimmed(const cg_buf *b)
{
    cg_buf t = CG_BUF_INIT;
    md_trim_into(&t, b, NULL);
    json_t *s = json_stringn(t.data ? t.data : "", t.len);
    cg_buf_free(&t);
    return s;
}

static void md_end_section(mdctx *m)
{
    if (!m->have_heading) return;
    json_t *h = md_trimmed(&m->heading);
    const char *hs = json_string_value(h);
    if (!m->filter || !*m->filter || !strncmp(hs, m->filter, strlen(m->filter))) {
        json_t *content = md_trimmed(&m->content);
        json_array_append_new(m->sections, json_pack("{s:o, s:i, s:o}", "heading", h, "level",
                                                     m->level, "content", content));
    } else {
        json_decref(h);
    }
    cg_buf_reset(&m->heading);
    cg_buf_reset(&m->content);
    m->have_heading = false;
}

static int md_enter(MD_BLOCKTYPE type, void *detail, void *arg)
{
    mdctx *m = arg;
    m->depth++;
    if (m->depth == 2 && type == MD_BLOCK_H) {
        md_end_section(m);
        m->in_heading = true;
        m->have_heading = true;
        m->level = (int)((MD_BLOCK_H_DETAIL *)detail)->level;
    } else if (m->depth == 2 && type != MD_BLOCK_TABLE) {
        cg_buf_reset(&m->block);
    }
    if (type == MD_BLOCK_TABLE) {
        m->table_depth++;
        m->headers = json_array();
        m->rows = json_array();
    } else if (type == MD_BLOCK_THEAD) {
        m->in_head = true;
    } else if (type == MD_BLOCK_TR) {
        m->cells = json_array();
    } else if (type == MD_BLOCK_TH || type == MD_BLOCK_TD) {
        cg_buf_reset(&m->cell);
        m->in_cell = true;
    }
    return 0;
}

static int md_leave(MD_BLOCKTYPE type, void *detail, void *arg)
{
    mdctx *m = arg;
    if (type == MD_BLOCK_TH || type == MD_BLOCK_TD) {
        json_array_append_new(m->cells, md_trimmed(&m->cell));
        m->in_cell = false;
    } else if (type == MD_BLOCK_TR) {
        if (m->in_head) {
            if (!json_array_size(m->headers)) json_array_extend(m->headers, m->cells);
        } else {
            json_t *row = json_object();
            for (size_t i = 0; i < json_array_size(m->headers); i++) {
                json_t *v = json_array_get(m->cells, i);
                json_object_set_new(row, json_string_value(json_array_get(m->headers, i)),
                                    v ? json_incref(v) : json_string(""));
            }
            json_array_append_new(m->rows, row);
        }
        json_decref(m->cells);
        m->cells = NULL;
    } else if (type == MD_BLOCK_THEAD) {
        m->in_head = false;
    } else if (type == MD_BLOCK_TABLE) {
        bool any = false;
        for (size_t i = 0; i < json_array_size(m->headers); i++)
            any |= json_string_length(json_array_get(m->headers, i)) > 0;
        if (any && m->depth == 2) json_array_append(m->tables, m->rows);
        json_decref(m->headers);
        json_decref(m->rows);
        m->headers = m->rows = NULL;
        m->table_depth--;
    }
    if (m->depth == 2 && type == MD_BLOCK_H) {
        m->in_heading = false;
    } else if (m->depth == 2 && type != MD_BLOCK_TABLE && m->have_heading) {
        md_trim_into(&m->content, &m->block, "\n");
    }
    m->depth--;
    return 0;
}

static int md_span(MD_SPANTYPE type, void *detail, void *arg)
{
    return 0;
}

static int md_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *arg)
{
    mdctx *m = arg;
    const char *s = text;
    size_t n = size;
    if (type == MD_TEXT_SOFTBR) s = " ", n = 1;
    else if (type == MD_TEXT_BR) s = "\n", n = 1;
    else if (type == MD_TEXT_HTML) return 0;
    cg_buf *dst = m->in_cell       ? &m->cell
                  : m->in_heading  ? &m->heading
                  : m->table_depth ? NULL
                                   : &m->block;
    if (dst) cg_buf_append(dst, s, n);
    return 0;
}

static json_t *markdown_to_json(const char *body, size_t len, const char *filter, char *err,
                                size_t errlen)
{
    /* front matter: "---\n" YAML "\n---\n" at the very start (CRLF read as LF) */
    cg_buf norm = CG_BUF_INIT;
    for (size_t i = 0; i < len; i++)
        if (!(body[i] == '\r' && i + 1 < len && body[i + 1] == '\n'))
            cg_buf_append(&norm, &body[i], 1);
    const char *text = norm.data ? norm.data : "";
    size_t tlen = norm.len;
    json_t *front = NULL;
    if (tlen >= 4 && !strncmp(text, "---\n", 4)) {
        const char *end = memmem(text + 3, tlen - 3, "\n---\n", 5);
        if (end) {
            json_t *fm = yaml_to_json(text + 4, (size_t)(end - (text + 4)), err, errlen);
            if (!fm) {
                cg_buf_free(&norm);
                return NULL;
            }
            if (json_is_object(fm)) front = fm;
            else json_decref(fm);
            size_t skip = (size_t)(end + 5 - text);
            text += skip;
            tlen -= skip;
        }
    }
    mdctx m = {0};
    m.tables = json_array();
    m.sections = json_array();
    m.filter = filter;
    MD_PARSER parser = {0,       MD_FLAG_TABLES, md_enter, md_leave, md_span,
                        md_span, md_text,        NULL,     NULL};
    int rc = md_parse(text, (MD_SIZE)tlen, &parser, &m);
    md_end_section(&m);
    json_decref(m.headers);
    json_decref(m.rows);
    json_decref(m.cells);
    cg_buf_free(&m.cell);
    cg_buf_free(&m.heading);
    cg_buf_free(&m.content);
    cg_buf_free(&m.block);
    cg_buf_free(&norm);
    if (rc != 0) {
        json_decref(front);
        json_decref(m.tables);
        json_decref(m.sections);
        return fmt_fail(err, errlen, "not parseable Markdown");
    }
    return json_pack("{s:o, s:o, s:o}", "frontMatter", front ? front : json_object(), "tables",
                     m.tables, "sections", m.sections);
}

/* ---- Avro (avro-c) ------------------------------------------------------------------------ */

static json_t *avro_to_json(const char *body, size_t len, const char *schema_file, char *err,
                            size_t errlen)
{
    FILE *f = schema_file ? fopen(schema_file, "rb") : NULL;
    if (!f)
        return fmt_fail(err, errlen, "Avro schema file '%s' cannot be read: %s",
                        schema_file ? schema_file : "", strerror(errno));
    cg_buf s = CG_BUF_INIT;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0 && s.len < (1u << 20))
        cg_buf_append(&s, tmp, got);
    fclose(f);
    avro_schema_t schema = NULL;
    json_t *out = NULL;
    if (avro_schema_from_json_length(s.data ? s.data : "", s.len, &schema) != 0) {
        cg_buf_free(&s);
        return fmt_fail(err, errlen, "Avro schema '%s' is not valid: %s", schema_file,
                        avro_strerror());
    }
    cg_buf_free(&s);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t value;
    avro_reader_t reader = avro_reader_memory(body, (int64_t)len);
    if (!iface || avro_generic_value_new(iface, &value) != 0) {
        fmt_fail(err, errlen, "out of memory");
    } else {
        char *text = NULL;
        if (avro_value_read(reader, &value) != 0)
            fmt_fail(err, errlen, "not a valid Avro datum for the schema: %s", avro_strerror());
        else if (avro_value_to_json(&value, 1, &text) != 0)
            fmt_fail(err, errlen, "Avro datum cannot be written as JSON: %s", avro_strerror());
        else out = json_loads(text, JSON_DECODE_ANY, NULL);
        free(text);
        avro_value_decref(&value);
    }
    avro_reader_free(reader);
    if (iface) avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return out;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libraries(void)
{
    xmlInitParser();
}

void cg_formats_init(void)
{
    pthread_once(&init_once, init_libraries);
}

void cg_formats_prepare(const char *format)
{
    if (format && (!strcmp(format, "xml") || !strcmp(format, "html"))) {
        if (cg_lazylib_xml(NULL, 0)) cg_formats_init();
    } else if (format && !strcmp(format, "avro")) {
        cg_lazylib_avro(NULL, 0);
    }
}

static const char *const known[] = {"json", "yaml", "xml",      "csv",  "tsv",
                                    "psv",  "html", "markdown", "avro", NULL};

bool cg_format_known(const char *format)
{
    for (int i = 0; known[i]; i++)
        if (!strcmp(format, known[i])) return true;
    return false;
}

json_t *cg_format_to_json(const char *format, const char *schema, const char *body, size_t len,
                          char *err, size_t errlen)
{
    if (!format || !strcmp(format, "json")) {
        json_error_t e;
        json_t *doc = json_loadb(body, len, JSON_DECODE_ANY, &e);
        return doc ? doc
                   : fmt_fail(err, errlen, "not valid JSON: %s (line %d, column %d)", e.text,
                              e.line, e.column);
    }
    if (!strcmp(format, "yaml")) return yaml_to_json(body, len, err, errlen);
    /* libxml2 and avro-c are loaded on first use (common/lazylib.h) */
    char why[256];
    if ((!strcmp(format, "xml") || !strcmp(format, "html")) && !cg_lazylib_xml(why, sizeof why))
        return fmt_fail(err, errlen, "%s bodies need libxml2, which cannot be loaded: %s", format,
                        why);
    if (!strcmp(format, "avro") && !cg_lazylib_avro(why, sizeof why))
        return fmt_fail(err, errlen, "Avro bodies need avro-c, which cannot be loaded: %s", why);
    if (!strcmp(format, "xml") || !strcmp(format, "html")) cg_formats_init();
    if (!strcmp(format, "xml")) return xml_to_json(body, len, err, errlen);
    if (!strcmp(format, "csv")) return delimited_to_json(body, len, ',', err, errlen);
    if (!strcmp(format, "tsv")) return delimited_to_json(body, len, '\t', err, errlen);
    if (!strcmp(format, "psv")) return delimited_to_json(body, len, '|', err, errlen);
    if (!strcmp(format, "html")) return html_to_json(body, len, schema, err, errlen);
    if (!strcmp(format, "markdown")) return markdown_to_json(body, len, schema, err, errlen);
    if (!strcmp(format, "avro")) return avro_to_json(body, len, schema, err, errlen);
    return fmt_fail(err, errlen, "outputRawFormat '%s' is not supported", format);
}
