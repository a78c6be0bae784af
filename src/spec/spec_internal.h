/*
 * spec_internal.h — what the spec loader's files share; not part of the interface.
 *
 * Loading runs in two passes over one loader state:
 *   load.c     YAML document → model structs, checking each mapping's keys, value types,
 *              enums and required fields (everything visible from one node);
 *   resolve.c  cross-references: `call:` and `with:`, duplicate names, routes and ports,
 *              path placeholders, template variables, the arguments each call accepts.
 * Both report problems through cg__spec_error() and keep going, so one run lists them all.
 */
#ifndef CG_SPEC_INTERNAL_H
#define CG_SPEC_INTERNAL_H

#include <yaml.h>

#include "common/arena.h"
#include "spec/spec.h"

/* Where a model element was declared; kept beside the model, only while loading. */
typedef struct cg__pos {
    int line, col;          /* 1-based */
} cg__pos;

/* Positions of the elements resolve.c reports on, parallel to the model's arrays. */
typedef struct cg__op_pos {
    cg__pos at, path;
} cg__op_pos;

typedef struct cg__call_pos {
    cg__pos at;             /* the operation or tool */
    cg__pos call;           /* its call: value */
    const char *call_text;  /* the call: value, or NULL when missing */
    const yaml_node_t *with;        /* its with: mapping, or NULL */
    const yaml_node_t *inputs;      /* its inputParameters: sequence, or NULL */
} cg__call_pos;

typedef struct cg__loader {
    const char *file;
    cg_arena *arena;
    yaml_document_t doc;
    cg_buf *errors;
    int n_errors;
    cg_spec *spec;
    /* positions, indexed like the model: [consumes][op], [rest][resource][op], [mcp][tool] */
    cg__pos *consumes_at;
    cg__pos **resource_at;          /* REST resources */
    cg__op_pos **op_at;             /* consumed operations */
    cg__call_pos ***rest_op_at;
    cg__call_pos **tool_at;
    cg__pos *exposes_at, *port_at;  /* REST adapter i at [i], MCP adapter j at [n_exposes + j] */
    size_t n_exposes;
    cg__pos *bind_at;
} cg__loader;

/* Appends "file:line:col: message" (line 0: "file: message") to the loader's errors. */
void cg__spec_error(cg__loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cg__spec_error_at(cg__loader *L, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Pass 1 and pass 2. Each returns 0, or -1 only when memory ran out. */
int cg__spec_build(cg__loader *L);
int cg__spec_resolve(cg__loader *L);

/* The closest of candidates to word (edit distance ≤ 2), for "did you mean" hints. */
const char *cg__spec_suggest(const char *word, const char *const *candidates, size_t n);

#endif
