/*
 * shape.h — building an exposed answer from the upstream body and the output parameters.
 *
 * An exposed operation or tool declares `outputParameters` (a tree, see cg_output in
 * spec.h). shape fills that tree from the upstream document: each JSONPath `mapping` is
 * evaluated relative to its context (the body at the top, the element inside an array's
 * `items`, the mapped object inside an object with a mapping), a mapping that finds nothing
 * gives null, each value is coerced to its declared type, strings are cut to `maxLength`.
 * Static `value`s (Mustache over the call's inputs) win over mappings; with no `call` at all
 * they are the whole answer (mock mode).
 *
 * The top-level answer: one output → its value; several named outputs → an object of them
 * (mock mode: every output, nulls left out, as the reference engine's mock does).
 *
 * Passthrough: when the only output maps `$`/`$.` (no value, properties or items) and the
 * upstream speaks JSON, or there are no outputs, nothing is parsed: the body goes out byte
 * for byte (cg_shape_needed says false).
 *
 * docs/spec-semantics.md "Output shaping" lists where this differs from the reference engine.
 */
#ifndef CG_SHAPE_H
#define CG_SHAPE_H

#include <jansson.h>
#include <stdbool.h>

#include "common/buf.h"
#include "spec/spec.h"

/* False when the call's answer is the upstream body untouched (no parse). */
bool cg_shape_needed(const cg_call *call);

/* Renders a value template (the call's inputs and bound variables) into out. 0 or -1. */
typedef int (*cg_shape_render)(void *ctx, const cg_template *t, cg_buf *out);

/* Builds the answer for call from doc (the upstream body as JSON; NULL in mock mode).
 * Returns 0 with *out a new reference, or -1 with a message in err (a JSONPath that ran out
 * of its visit budget, out of memory). */
int cg_shape_answer(const cg_call *call, json_t *doc, cg_shape_render render, void *ctx,
                    json_t **out, char *err, size_t errlen);

/* One output's value from a context node: exposed for tests. New reference (json null when
 * nothing). -1 only on failure, as above. */
int cg_shape_output(const cg_output *o, json_t *ctx_node, cg_shape_render render, void *ctx,
                    json_t **out, char *err, size_t errlen);

#endif
