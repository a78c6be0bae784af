/*
 * jsonpath.h — JSONPath expressions, compiled once, evaluated over jansson documents.
 *
 * Output parameters map upstream bodies with JSONPath (`mapping: $.a.b[0]`). The spec loader
 * compiles each expression once into a small program (a list of steps); each call evaluates
 * it over the parsed body. The subset is what Naftiko specs and the reference engine's tests
 * use, plus the common Goessner forms:
 *
 *   $  $.            the whole document
 *   .name  ['name']  ["name"]   a member (dot names may contain spaces, as the reference
 *                                engine accepts: $.Display Name)
 *   [n]  [-n]        an array element (negative: from the end)
 *   [*]  .*          every element or member value
 *   [a:b]            a slice (either bound optional, step 1)
 *   ..name  ..*  ..[n]   the same selector applied at every depth (document order)
 *   [?(@.x == 'y')]  a filter: one comparison (== != < <= > >=) of a relative path (@, @.a.b,
 *                    @['a'], @[n]) with a string, number, true, false or null literal, or
 *                    [?(@.x)] for existence
 *
 * Results follow the reference engine (Jayway JsonPath): a definite path (members and indexes
 * only) gives one value or nothing; an indefinite one (wildcard, slice, filter, `..`) gives an
 * array of every match, possibly empty.
 *
 * Evaluation is bounded: no recursion (`..` walks with an explicit stack), and at most
 * CG_JSONPATH_MAX_VISITS nodes are visited per evaluation, so a pathological expression over a
 * large or deep document stops with CG_JSONPATH_LIMIT instead of running away.
 */
#ifndef CG_JSONPATH_H
#define CG_JSONPATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"

#define CG_JSONPATH_MAX_VISITS 20000000u

typedef struct cg_jsonpath cg_jsonpath;

typedef enum {
    CG_JSONPATH_OK = 0,
    CG_JSONPATH_LIMIT, /* the visit budget ran out */
    CG_JSONPATH_NOMEM,
} cg_jsonpath_result;

/* Compiles expr. Returns the program, one block allocated from arena (freed with it) or,
 * when arena is NULL, with malloc (free with cg_jsonpath_free). NULL on a syntax error, with
 * a message in err and the offending column (1-based) in *err_col (either may be NULL). */
cg_jsonpath *cg_jsonpath_compile(const char *expr, cg_arena *arena, char *err, size_t errlen,
                                 int *err_col);
void cg_jsonpath_free(cg_jsonpath *p);

/* True for `$` and `$.`: the whole document. */
bool cg_jsonpath_is_root(const cg_jsonpath *p);
/* True when the path can only select one value (members and indexes only). */
bool cg_jsonpath_is_definite(const cg_jsonpath *p);
/* The expression as written. */
const char *cg_jsonpath_text(const cg_jsonpath *p);

/* Evaluates p over root. *out is a new reference: the value (definite path; NULL when
 * nothing matched) or an array of matches (indefinite path). On LIMIT or NOMEM *out is NULL. */
cg_jsonpath_result cg_jsonpath_eval(const cg_jsonpath *p, json_t *root, json_t **out);

#endif
