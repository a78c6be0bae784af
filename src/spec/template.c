/*
 * template.c — split `{{…}}` templates and `{…}` paths. See template.h.
 */
#include "spec/template.h"

#include <ctype.h>
#include <string.h>

static int is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Appends a part to a growing array allocated from the arena (doubling on powers of 2). */
static int push_part(cg_arena *arena, cg_template_part **parts, size_t *n, const char *text,
                     size_t len, int is_variable)
{
    if ((*n & (*n - 1)) == 0) { /* n is 0 or a power of two: grow */
        size_t cap = *n ? *n * 2 : 2;
        cg_template_part *p = cg_arena_alloc(arena, cap * sizeof *p);
        if (!p) return -1;
        if (*n) memcpy(p, *parts, *n * sizeof *p);
        *parts = p;
    }
    (*parts)[*n] = (cg_template_part){text, len, is_variable != 0};
    (*n)++;
    return 0;
}

cg_template *cg_template_parse(cg_arena *arena, const char *text, const char **error)
{
    *error = NULL;
    cg_template *t = cg_arena_alloc(arena, sizeof *t);
    if (!t || !(t->source = cg_arena_strdup(arena, text))) return NULL;
    const char *s = t->source;
    while (*s) {
        const char *open = strstr(s, "{{");
        if (!open) {
            if (push_part(arena, &t->parts, &t->n_parts, s, strlen(s), 0) != 0) return NULL;
            break;
        }
        if (open > s && push_part(arena, &t->parts, &t->n_parts, s, (size_t)(open - s), 0) != 0)
            return NULL;
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            *error = "unterminated '{{' in template";
            return NULL;
        }
        const char *b = open + 2, *e = close;
        while (b < e && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        if (b == e) {
            *error = "empty '{{}}' in template";
            return NULL;
        }
        for (const char *c = b; c < e; c++)
            if (!is_name_char(*c)) {
                *error = "a template variable may hold only letters, digits, '_', '-' and '.'";
                return NULL;
            }
        if (push_part(arena, &t->parts, &t->n_parts, b, (size_t)(e - b), 1) != 0) return NULL;
        s = close + 2;
    }
    return t;
}

int cg_template_is_literal(const cg_template *t)
{
    for (size_t i = 0; i < t->n_parts; i++)
        if (t->parts[i].is_variable) return 0;
    return 1;
}

int cg_template_render(const cg_template *t, cg_template_lookup lookup, void *ctx, cg_buf *out)
{
    int missing = 0;
    for (size_t i = 0; i < t->n_parts; i++) {
        const cg_template_part *p = &t->parts[i];
        if (!p->is_variable) {
            if (cg_buf_append(out, p->text, p->len) != 0) return -1;
            continue;
        }
        const char *v = lookup ? lookup(ctx, p->text, p->len) : NULL;
        if (!v) {
            missing = 1;
            continue;
        }
        if (cg_buf_append_str(out, v) != 0) return -1;
    }
    return missing;
}

static int push_path_part(cg_arena *arena, cg_path_part **parts, int *n, const char *literal,
                          const char *name)
{
    if ((*n & (*n - 1)) == 0) {
        int cap = *n ? *n * 2 : 2;
        cg_path_part *p = cg_arena_alloc(arena, (size_t)cap * sizeof *p);
        if (!p) return -1;
        if (*n) memcpy(p, *parts, (size_t)*n * sizeof *p);
        *parts = p;
    }
    (*parts)[*n] = (cg_path_part){literal, name, -1};
    (*n)++;
    return 0;
}

int cg_path_parse(cg_arena *arena, const char *path, cg_path_part **out, const char **error)
{
    cg_path_part *parts = NULL;
    int n = 0;
    const char *s = path;
    *error = NULL;
    while (*s) {
        const char *open = strchr(s, '{');
        const char *stray = strchr(s, '}');
        if (stray && (!open || stray < open)) {
            *error = "unbalanced '}' in path";
            return -1;
        }
        if (!open) {
            if (push_path_part(arena, &parts, &n, cg_arena_strdup(arena, s), NULL) != 0) return -1;
            break;
        }
        if (open > s && push_path_part(arena, &parts, &n,
                                       cg_arena_strndup(arena, s, (size_t)(open - s)), NULL) != 0)
            return -1;
        int doubled = open[1] == '{';
        const char *b = open + 1 + doubled;
        const char *e = b;
        while (is_name_char(*e) && *e != '.') e++;
        if (e == b || *e != '}' || (doubled && e[1] != '}')) {
            *error = "a path placeholder must look like {name} or {{name}}";
            return -1;
        }
        if (push_path_part(arena, &parts, &n, NULL, cg_arena_strndup(arena, b, (size_t)(e - b))) !=
            0)
            return -1;
        s = e + 1 + doubled;
    }
    *out = parts;
    return n;
}
