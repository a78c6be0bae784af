/*
 * template.h — `{{variable}}` templates and `{placeholder}` paths, split once at load time.
 *
 * A template is kept as a list of parts (literal text / variable name) so that rendering
 * at request time is a walk over the parts and one lookup per variable, never a re-parse.
 * Rendering never escapes: callers that put a value into a URL or a header encode or
 * screen it themselves (see the engine's request builder).
 */
#ifndef CG_TEMPLATE_H
#define CG_TEMPLATE_H

#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "spec/spec.h"

/* Splits text into a template allocated from arena. On a syntax error (an unterminated
 * "{{", an empty "{{}}") returns NULL and points *error at a static message; *error is
 * NULL when only memory ran out. */
cg_template *cg_template_parse(cg_arena *arena, const char *text, const char **error);

/* Splits a path such as /api/ml/{id} or /api/ml/{{id}} into parts (input = -1). On a
 * syntax error returns -1 and sets *error; otherwise the number of parts in *out. */
int cg_path_parse(cg_arena *arena, const char *path, cg_path_part **out, const char **error);

/* Looks a variable up; returns its value or NULL when it has none. */
typedef const char *(*cg_template_lookup)(void *ctx, const char *name, size_t len);

/* Appends the rendered template to out. A variable with no value renders as "" and makes
 * the call return 1 (so callers can refuse a half-rendered credential); 0 when every
 * variable had a value; -1 when out of memory or over out's limit. */
int cg_template_render(const cg_template *t, cg_template_lookup lookup, void *ctx, cg_buf *out);

/* True when the template has no variables (its source is its value). */
int cg_template_is_literal(const cg_template *t);

#endif
