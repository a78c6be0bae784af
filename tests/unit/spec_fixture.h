/*
 * tests/unit/spec_fixture.h — a spec loaded for a unit test, from a file or from text, with
 * the loader's messages printed when it does not load. Header-only (static inline),
 * included by the test programs that need it; cmocka must be included first.
 */
#ifndef CG_TEST_SPEC_FIXTURE_H
#define CG_TEST_SPEC_FIXTURE_H

#include <stddef.h>

#include "common/buf.h"
#include "spec/spec.h"

/* The spec text (called name in messages) or, when text is NULL, the file name, loaded;
 * NULL after printing the loader's messages. */
static inline cg_spec *spec_fixture_load(const char *name, const char *text, size_t len)
{
    cg_spec *spec = NULL;
    cg_buf errors = CG_BUF_INIT;
    cg_spec_result rc = text ? cg_spec_load_string(name, text, len, &spec, &errors)
                             : cg_spec_load(name, &spec, &errors);
    if (rc != CG_SPEC_OK) print_error("%s", errors.data ? errors.data : "load failed\n");
    cg_buf_free(&errors);
    return rc == CG_SPEC_OK ? spec : NULL;
}

#endif
