/*
 * resolve_int.h — what pass 2 of the spec loader shares between resolve.c and
 * resolve_calls.c (private to them): the adapter context a call is resolved in, and the
 * functions one defines for the other.
 */
#ifndef CG_SPEC_RESOLVE_INT_H
#define CG_SPEC_RESOLVE_INT_H

#include "spec/spec_internal.h"

typedef struct adapter_ctx {
    const char *kind; /* "rest" or "tools": the generated dialect's prefix */
    const char *namespace_;
    int is_rest;
    const cg_path_part *route; /* REST: the resource path's parts */
    size_t n_route;
    const char *uri; /* MCP resource: its URI, whose {name}s are arguments */
} adapter_ctx;

const char *cg__rs_scalar_of(const yaml_node_t *n);
yaml_node_t *cg__rs_node_at(cg__loader *L, int id);
void cg__rs_check_template(cg__loader *L, const cg_template *t, int line, int col,
                           const char *where, const char *const *args, size_t n_args);
int cg__rs_find_input_any(const cg_operation *op, const char *name);
void cg__rs_resolve_call(cg__loader *L, const adapter_ctx *ax, cg_call *call,
                         const cg__call_pos *at, const char *what);

#endif
