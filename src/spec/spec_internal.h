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
    int line, col; /* 1-based */
} cg__pos;

/* Positions of the elements resolve.c reports on, parallel to the model's arrays. */
typedef struct cg__op_pos {
    cg__pos at, path;
} cg__op_pos;

typedef struct cg__call_pos {
    cg__pos at;                         /* the operation or tool */
    cg__pos call;                       /* its call: value */
    const char *call_text;              /* the call: value, or NULL when missing */
    const yaml_node_t *with;            /* its with: mapping, or NULL */
    const yaml_node_t *inputs;          /* its inputParameters: sequence, or NULL */
    const yaml_node_t *resource_inputs; /* REST: the resource's inputParameters */
} cg__call_pos;

/* A call met while building (a step's or an MCP resource's), resolved in pass 2 like an
 * operation's or tool's. */
typedef struct cg__deferred_call {
    cg_call *call;
    cg__call_pos at;
    const char *namespace_; /* the owning adapter's */
    int is_rest;
    const char *step; /* the step's name, or NULL */
    const char *uri;  /* an MCP resource's URI (its {name}s are arguments) */
} cg__deferred_call;

typedef struct cg__deferred_skill_tool {
    cg_skill_tool *tool;
    cg__pos at;
} cg__deferred_skill_tool;

typedef struct cg__loader {
    const char *file;
    cg_arena *arena;
    yaml_document_t doc;
    cg_buf *errors;
    int n_errors;
    cg_spec *spec;
    /* positions, indexed like the model: [consumes][op], [rest][resource][op], [mcp][tool] */
    cg__pos *consumes_at;
    cg__pos **resource_at; /* REST resources */
    cg__op_pos **op_at;    /* consumed operations */
    cg__call_pos ***rest_op_at;
    cg__call_pos **tool_at;
    cg__pos *exposes_at, *port_at; /* REST adapter i at [i], MCP adapter j at [n_exposes + j] */
    size_t n_exposes;
    cg__pos *bind_at;
    /* shared consumes documents (`import:`): the file being read now and its directory,
     * the chain of files importing it (to refuse cycles), and for each consumes entry
     * whether it came from an import (already resolved there) or failed to (calls into a
     * failed import are not reported again) */
    const char *dir;
    const char *import_chain[8];
    int import_depth;
    unsigned char *consumes_imported, *consumes_broken;
    int consumes_only;          /* the document is a shared consumes document */
    long mappings_read;         /* check_fields calls so far (a bound on the whole walk) */
    long value_bytes_read;      /* scalar value bytes in those mappings (another bound) */
    int walk_too_big;           /* one of the bounds was passed: read nothing more */
    struct cg_jsonpath **paths; /* compiled output mappings by text (load.c compile_mapping) */
    size_t n_paths, cap_paths;
    cg__deferred_call *deferred;
    size_t n_deferred, cap_deferred;
    cg__deferred_skill_tool *skill_tools;
    size_t n_skill_tools, cap_skill_tools;
    const char *aggregate_ns[32]; /* aggregates' namespaces: a function's with: may name
                                     * its arguments <aggregate namespace>.<name> */
    int n_aggregate_ns;
    int failed_refs[64]; /* node ids of operations and tools whose ref: failed
                                 * (reported; skipped so nothing cascades) */
    int n_failed_refs;
    cg_auth scratch_auth; /* exposes authentication until adapters hold their own */
} cg__loader;

/* Appends "file:line:col: message" (line 0: "file: message") to the loader's errors. */
void cg__spec_error(cg__loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cg__spec_error_at(cg__loader *L, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads and parses a YAML file into doc (free with yaml_document_delete). 0, or -1 with
 * one error reported at (line, col) of the current file. */
int cg__spec_parse_file(cg__loader *L, const char *path, yaml_document_t *doc, int line, int col);

/* Pass 2 for one consumes entry (operations, placeholders, credentials); run for an
 * imported entry while its own document is current, so messages name that file. */
void cg__spec_resolve_consumes_entry(cg__loader *L, size_t c);

/* Queues a call for pass 2: n holds its call: and with:, owner the inputParameters its
 * arguments come from. */
void cg__spec_defer_call(cg__loader *L, cg_call *call, const yaml_node_t *n,
                         const yaml_node_t *owner, const char *namespace_, int is_rest,
                         const char *step, const char *uri);
void cg__spec_defer_skill_tool(cg__loader *L, cg_skill_tool *tool, cg__pos at);

/* A YAML subtree as JSON text (plain scalars that read as numbers, booleans or null keep
 * those types), in the arena; NULL (reported) when it is too large or too deep. */
char *cg__yaml_to_json_text(cg__loader *L, const yaml_node_t *n);

/* Pass 1 and pass 2. Each returns 0, or -1 only when memory ran out. */
int cg__spec_build(cg__loader *L);
int cg__spec_resolve(cg__loader *L);

/* The closest of candidates to word (edit distance ≤ 2), for "did you mean" hints. */
const char *cg__spec_suggest(const char *word, const char *const *candidates, size_t n);

#endif
