/*
 * jsonpath.c — JSONPath compile and evaluate. See jsonpath.h.
 *
 * A compiled path is one block: the header, the step arrays (the path's own steps, then the
 * relative paths of its filters) and the decoded member names, sized from the expression's
 * length so one pass can fill it. Evaluation of a definite path walks straight down; any
 * other path keeps a node set (borrowed pointers into the document) that each step maps to
 * the next one, `..` steps walking each subtree with an explicit stack.
 */
#include "engine/jsonpath.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ST_NAME, ST_INDEX, ST_WILD, ST_SLICE, ST_FILTER } step_kind;
typedef enum { OP_EXISTS, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } filter_op;
typedef enum { LIT_STRING, LIT_NUMBER, LIT_TRUE, LIT_FALSE, LIT_NULL } lit_kind;

typedef struct step {
    unsigned char kind; /* step_kind */
    bool descend;       /* `..`: apply at every depth */
    const char *name;   /* ST_NAME (NUL-terminated, decoded) */
    long index;         /* ST_INDEX */
    long start, end;    /* ST_SLICE */
    bool has_start, has_end;
    /* ST_FILTER: relative path sub[first .. first+count), op, literal */
    size_t sub_first, sub_count;
    unsigned char op, lit;
    const char *lit_str;
    double lit_num;
} step;

struct cg_jsonpath {
    const char *text;
    bool root_only, definite;
    step *steps;
    size_t n_steps;
    step *sub;
    size_t n_sub;
};

/* ---- compiling ------------------------------------------------------------------------ */

typedef struct parser {
    const char *s, *p;
    char *strings; /* decoded names go here, NUL-terminated */
    cg_jsonpath *out;
    size_t cap_steps;
    char *err;
    size_t errlen;
    int *err_col;
} parser;

static bool perr(parser *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool perr(parser *P, const char *fmt, ...)
{
    if (P->err && P->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(P->err, P->errlen, fmt, ap);
        va_end(ap);
    }
    if (P->err_col) *P->err_col = (int)(P->p - P->s) + 1;
    return false;
}

static void skip_ws(parser *P)
{
    while (*P->p == ' ' || *P->p == '\t') P->p++;
}

static step *new_step(parser *P, bool sub)
{
    size_t *n = sub ? &P->out->n_sub : &P->out->n_steps;
    step *arr = sub ? P->out->sub : P->out->steps;
    if (*n >= P->cap_steps) return NULL;
    step *st = &arr[(*n)++];
    memset(st, 0, sizeof *st);
    return st;
}

/* A quoted string at P->p ('...' or "..."), decoded into the strings area. */
static const char *parse_quoted(parser *P)
{
    char q = *P->p++;
    char *start = P->strings;
    while (*P->p && *P->p != q) {
        if (*P->p == '\\' && P->p[1]) P->p++;
        *P->strings++ = *P->p++;
    }
    if (*P->p != q) return perr(P, "unterminated string"), NULL;
    P->p++;
    *P->strings++ = '\0';
    return start;
}

static bool parse_long(parser *P, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(P->p, &end, 10);
    if (end == P->p || errno) return perr(P, "expected an integer");
    *out = v;
    P->p = end;
    return true;
}

/* A dot name: everything up to '.', '[' or the end (spaces allowed, trailing ones dropped). */
static const char *parse_dot_name(parser *P, const char *stops)
{
    const char *b = P->p;
    while (*P->p && !strchr(stops, *P->p)) P->p++;
    const char *e = P->p;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (e == b) return perr(P, "expected a member name"), NULL;
    char *start = P->strings;
    memcpy(P->strings, b, (size_t)(e - b));
    P->strings += e - b;
    *P->strings++ = '\0';
    return start;
}

static bool parse_literal(parser *P, step *st)
{
    skip_ws(P);
    if (*P->p == '\'' || *P->p == '"') {
        st->lit = LIT_STRING;
        return (st->lit_str = parse_quoted(P)) != NULL;
    }
    static const char *const words[] = {"true", "false", "null"};
    static const lit_kind kinds[] = {LIT_TRUE, LIT_FALSE, LIT_NULL};
    for (int i = 0; i < 3; i++)
        if (!strncmp(P->p, words[i], strlen(words[i]))) {
            st->lit = kinds[i];
            P->p += strlen(words[i]);
            return true;
        }
    char *end;
    st->lit_num = strtod(P->p, &end);
    if (end == P->p) return perr(P, "expected a literal: 'text', a number, true, false or null");
    st->lit = LIT_NUMBER;
    P->p = end;
    return true;
}

/* [?( @path [op literal] )] — P->p is just past "?(". */
static bool parse_filter(parser *P, step *st)
{
    st->kind = ST_FILTER;
    skip_ws(P);
    if (*P->p != '@') return perr(P, "a filter must test a relative path starting with '@'");
    P->p++;
    st->sub_first = P->out->n_sub;
    for (;;) {
        step *sub = NULL;
        if (*P->p == '.') {
            P->p++;
            if (!(sub = new_step(P, true))) return perr(P, "path too long");
            sub->kind = ST_NAME;
            if (!(sub->name = parse_dot_name(P, ".[)=!<> \t&|"))) return false;
        } else if (*P->p == '[') {
            P->p++;
            skip_ws(P);
            if (!(sub = new_step(P, true))) return perr(P, "path too long");
            if (*P->p == '\'' || *P->p == '"') {
                sub->kind = ST_NAME;
                if (!(sub->name = parse_quoted(P))) return false;
            } else {
                sub->kind = ST_INDEX;
                if (!parse_long(P, &sub->index)) return false;
            }
            skip_ws(P);
            if (*P->p++ != ']') return P->p--, perr(P, "expected ']'");
        } else {
            break;
        }
    }
    st->sub_count = P->out->n_sub - st->sub_first;
    skip_ws(P);
    static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">"};
    static const filter_op codes[] = {OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT};
    st->op = OP_EXISTS;
    for (int i = 0; i < 6; i++)
        if (!strncmp(P->p, ops[i], strlen(ops[i]))) {
            st->op = codes[i];
            P->p += strlen(ops[i]);
            if (!parse_literal(P, st)) return false;
            break;
        }
    skip_ws(P);
    if (*P->p == '&' || *P->p == '|')
        return perr(
            P, "filters with && or || are not supported by capgate (one comparison per filter)");
    if (*P->p++ != ')') return P->p--, perr(P, "expected ')' closing the filter");
    return true;
}

/* The inside of [...], P->p just past '['. */
static bool parse_bracket(parser *P, step *st)
{
    skip_ws(P);
    if (*P->p == '*') {
        P->p++;
        st->kind = ST_WILD;
    } else if (*P->p == '\'' || *P->p == '"') {
        st->kind = ST_NAME;
        if (!(st->name = parse_quoted(P))) return false;
    } else if (*P->p == '?') {
        P->p++;
        if (*P->p++ != '(') return P->p--, perr(P, "expected '(' after '?'");
        if (!parse_filter(P, st)) return false;
    } else if (*P->p == ':' || *P->p == '-' || isdigit((unsigned char)*P->p)) {
        st->kind = ST_INDEX;
        if (*P->p != ':') {
            if (!parse_long(P, &st->index)) return false;
            st->start = st->index;
            st->has_start = true;
        }
        skip_ws(P);
        if (*P->p == ':') {
            P->p++;
            st->kind = ST_SLICE;
            skip_ws(P);
            if (*P->p == '-' || isdigit((unsigned char)*P->p)) {
                if (!parse_long(P, &st->end)) return false;
                st->has_end = true;
            }
        }
    } else {
        return perr(P, "expected '*', a quoted name, an index, a slice or a filter inside [ ]");
    }
    skip_ws(P);
    if (*P->p == ',') return perr(P, "unions ([a,b]) are not supported by capgate");
    if (*P->p++ != ']') return P->p--, perr(P, "expected ']'");
    return true;
}

static bool parse_path(parser *P)
{
    cg_jsonpath *J = P->out;
    skip_ws(P);
    if (*P->p != '$') return perr(P, "a JSONPath starts with '$'");
    P->p++;
    if (*P->p == '.' && P->p[1] == '\0') {
        P->p++;
        J->root_only = true;
        return true;
    }
    while (*P->p) {
        bool descend = false;
        step *st;
        if (P->p[0] == '.' && P->p[1] == '.') {
            P->p += 2;
            descend = true;
        } else if (*P->p == '.') {
            P->p++;
        } else if (*P->p != '[') {
            return perr(P, "expected '.' or '['");
        }
        if (!(st = new_step(P, false))) return perr(P, "path too long");
        st->descend = descend;
        if (*P->p == '[') {
            P->p++;
            if (!parse_bracket(P, st)) return false;
        } else if (*P->p == '*') {
            P->p++;
            st->kind = ST_WILD;
        } else {
            st->kind = ST_NAME;
            if (!(st->name = parse_dot_name(P, ".["))) return false;
        }
    }
    J->root_only = J->n_steps == 0;
    return true;
}

cg_jsonpath *cg_jsonpath_compile(const char *expr, cg_arena *arena, char *err, size_t errlen,
                                 int *err_col)
{
    size_t len = strlen(expr);
    /* Every step, filters' relative ones too, starts at a '.' or a '[': room for that many,
     * not one per character (a long mapping that is not a path must not cost 100x its size). */
    size_t cap = 1;
    for (const char *c = expr; *c; c++) cap += *c == '.' || *c == '[';
    size_t size = sizeof(cg_jsonpath) + 2 * cap * sizeof(step) + (len + 1) + 2 * (len + 1);
    cg_jsonpath *J = arena ? cg_arena_alloc(arena, size) : calloc(1, size);
    if (!J) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return NULL;
    }
    J->steps = (step *)(J + 1);
    J->sub = J->steps + cap;
    char *text = (char *)(J->sub + cap);
    memcpy(text, expr, len + 1);
    J->text = text;
    parser P = {text, text, text + len + 1, J, cap, err, errlen, err_col};
    if (!parse_path(&P)) {
        if (!arena) free(J);
        return NULL;
    }
    J->definite = true;
    for (size_t i = 0; i < J->n_steps; i++)
        if (J->steps[i].descend || (J->steps[i].kind != ST_NAME && J->steps[i].kind != ST_INDEX))
            J->definite = false;
    return J;
}

void cg_jsonpath_free(cg_jsonpath *p)
{
    free(p);
}
bool cg_jsonpath_is_root(const cg_jsonpath *p)
{
    return p->root_only;
}
bool cg_jsonpath_is_definite(const cg_jsonpath *p)
{
    return p->definite;
}
const char *cg_jsonpath_text(const cg_jsonpath *p)
{
    return p->text;
}

/* ---- evaluating ----------------------------------------------------------------------- */

typedef struct nodes {
    json_t **v;
    size_t n, cap;
} nodes;

typedef struct evalctx {
    size_t visits;
    cg_jsonpath_result rc;
} evalctx;

static bool push(evalctx *E, nodes *s, json_t *j)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        json_t **v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            E->rc = CG_JSONPATH_NOMEM;
            return false;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = j;
    return true;
}

static bool count_visit(evalctx *E)
{
    if (++E->visits > CG_JSONPATH_MAX_VISITS) {
        E->rc = CG_JSONPATH_LIMIT;
        return false;
    }
    return true;
}

static json_t *index_of(json_t *arr, long i)
{
    long n = (long)json_array_size(arr);
    if (i < 0) i += n;
    return i >= 0 && i < n ? json_array_get(arr, (size_t)i) : NULL;
}

/* Follows a definite step list; NULL when something is missing. */
static json_t *walk(json_t *cur, const step *steps, size_t n)
{
    for (size_t i = 0; cur && i < n; i++)
        cur = steps[i].kind == ST_NAME ? json_object_get(cur, steps[i].name)
              : json_is_array(cur)     ? index_of(cur, steps[i].index)
                                       : NULL;
    return cur;
}

static int cmp_num(double a, double b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

static bool filter_matches(const cg_jsonpath *J, const step *st, json_t *cand)
{
    json_t *v = walk(cand, J->sub + st->sub_first, st->sub_count);
    if (st->op == OP_EXISTS) return v != NULL;
    if (!v) return false;
    int c;
    bool comparable = true;
    if (st->lit == LIT_NUMBER && json_is_number(v)) {
        c = cmp_num(json_number_value(v), st->lit_num);
    } else if (st->lit == LIT_STRING && json_is_string(v)) {
        c = strcmp(json_string_value(v), st->lit_str);
    } else if ((st->lit == LIT_TRUE && json_is_boolean(v)) ||
               (st->lit == LIT_FALSE && json_is_boolean(v))) {
        c = json_is_true(v) == (st->lit == LIT_TRUE) ? 0 : 1;
        comparable = st->op == OP_EQ || st->op == OP_NE;
    } else if (st->lit == LIT_NULL && json_is_null(v)) {
        c = 0;
        comparable = st->op == OP_EQ || st->op == OP_NE;
    } else {
        return st->op == OP_NE; /* different types: only != holds */
    }
    if (!comparable) return false;
    switch (st->op) {
    case OP_EQ: return c == 0;
    case OP_NE: return c != 0;
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* Applies one step's selector (not its `..`) to node, appending matches to out. */
static bool select_step(evalctx *E, const cg_jsonpath *J, const step *st, json_t *node, nodes *out)
{
    switch (st->kind) {
    case ST_NAME: {
        json_t *v = json_object_get(node, st->name);
        return !v || push(E, out, v);
    }
    case ST_INDEX: {
        json_t *v = json_is_array(node) ? index_of(node, st->index) : NULL;
        return !v || push(E, out, v);
    }
    case ST_SLICE: {
        if (!json_is_array(node)) return true;
        long n = (long)json_array_size(node);
        long a = st->has_start ? st->start : 0, b = st->has_end ? st->end : n;
        if (a < 0) a += n;
        if (b < 0) b += n;
        if (a < 0) a = 0;
        if (b > n) b = n;
        for (long i = a; i < b; i++)
            if (!count_visit(E) || !push(E, out, json_array_get(node, (size_t)i))) return false;
        return true;
    }
    default: { /* ST_WILD, ST_FILTER: every element or member value */
        size_t i;
        const char *k;
        json_t *v;
        if (json_is_array(node)) {
            json_array_foreach(node, i, v)
            {
                if (!count_visit(E)) return false;
                if ((st->kind == ST_WILD || filter_matches(J, st, v)) && !push(E, out, v))
                    return false;
            }
        } else if (json_is_object(node)) {
            json_object_foreach(node, k, v)
            {
                if (!count_visit(E)) return false;
                if ((st->kind == ST_WILD || filter_matches(J, st, v)) && !push(E, out, v))
                    return false;
            }
        }
        return true;
    }
    }
}

/* `..`: the selector at node and at every node below it, in document order. */
static bool select_descend(evalctx *E, const cg_jsonpath *J, const step *st, json_t *node,
                           nodes *out, nodes *stack)
{
    stack->n = 0;
    if (!push(E, stack, node)) return false;
    while (stack->n) {
        json_t *cur = stack->v[--stack->n];
        if (!count_visit(E) || !select_step(E, J, st, cur, out)) return false;
        size_t mark = stack->n, i;
        const char *k;
        json_t *v;
        if (json_is_array(cur)) {
            json_array_foreach(cur, i,
                               v) if (json_is_array(v) ||
                                      json_is_object(v)) if (!push(E, stack, v)) return false;
        } else if (json_is_object(cur)) {
            json_object_foreach(cur, k,
                                v) if (json_is_array(v) ||
                                       json_is_object(v)) if (!push(E, stack, v)) return false;
        }
        /* children were pushed in order: reverse them so the first is visited first */
        for (size_t a = mark, b = stack->n; b > a + 1; a++, b--) {
            json_t *t = stack->v[a];
            stack->v[a] = stack->v[b - 1];
            stack->v[b - 1] = t;
        }
    }
    return true;
}

cg_jsonpath_result cg_jsonpath_eval(const cg_jsonpath *J, json_t *root, json_t **out)
{
    *out = NULL;
    if (J->root_only) {
        *out = json_incref(root);
        return CG_JSONPATH_OK;
    }
    if (J->definite) {
        *out = json_incref(walk(root, J->steps, J->n_steps));
        return CG_JSONPATH_OK;
    }
    evalctx E = {0, CG_JSONPATH_OK};
    nodes cur = {0}, next = {0}, stack = {0};
    bool ok = push(&E, &cur, root);
    for (size_t s = 0; ok && s < J->n_steps; s++) {
        const step *st = &J->steps[s];
        next.n = 0;
        for (size_t i = 0; ok && i < cur.n; i++)
            ok = st->descend ? select_descend(&E, J, st, cur.v[i], &next, &stack)
                             : select_step(&E, J, st, cur.v[i], &next);
        nodes t = cur;
        cur = next;
        next = t;
    }
    if (ok) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < cur.n; i++)
            if (json_array_append(arr, cur.v[i]) < 0) {
                json_decref(arr);
                arr = NULL;
            }
        if (!arr) E.rc = CG_JSONPATH_NOMEM;
        *out = arr;
    }
    free(cur.v);
    free(next.v);
    free(stack.v);
    return E.rc;
}
