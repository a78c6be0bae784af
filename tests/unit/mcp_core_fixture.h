/*
 * tests/unit/mcp_core_fixture.h — the MCP protocol core over a spec's first MCP adapter,
 * with the per-session state a test drives: the fixture test_protocol and test_era share,
 * with the reply reader and the canned upstream answer both use.
 * Header-only (static inline); cmocka must be included first. Run from the repository
 * root (make unit does).
 */
#ifndef CG_TEST_MCP_CORE_FIXTURE_H
#define CG_TEST_MCP_CORE_FIXTURE_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/call.h"
#include "mcp/protocol.h"
#include "spec_fixture.h"

#define SHIPPED "capabilities/label-studio-ml.yaml"
#define CATALOG_DIR "tests/e2e/fixtures/catalog"

typedef struct core_fixture {
    cg_spec *spec;
    cg_mcp_core *core;
    cg_mcp_state st;
} core_fixture;

/* Loads the spec at path and makes its core with o (NULL: the defaults): 0, or -1. */
static inline int core_fixture_setup(void **state, const char *path, const cg_mcp_core_options *o)
{
    core_fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (!(f->spec = spec_fixture_load(path, NULL, 0))) return -1;
    f->core = cg_mcp_core_create(f->spec, &f->spec->mcp[0], o);
    return f->core ? 0 : -1;
}

static inline int core_fixture_teardown(void **state)
{
    core_fixture *f = *state;
    cg_mcp_core_free(f->core);
    cg_spec_free(f->spec);
    free(f);
    return 0;
}

/* The catalog fixture (resources and prompts), run from its own directory as capgate would
 * be: its file:///./ locations are relative to it. */
static inline int core_fixture_setup_catalog(void **state, const cg_mcp_core_options *o)
{
    return core_fixture_setup(state, CATALOG_DIR "/capability.yaml", o) == 0 &&
                   chdir(CATALOG_DIR) == 0
               ? 0
               : -1;
}

static inline int core_fixture_teardown_catalog(void **state)
{
    int rc = chdir("../../../..");
    core_fixture_teardown(state);
    return rc;
}

/* The member key of a JSON-RPC reply's result. */
static inline const json_t *result_of(const json_t *reply, const char *key)
{
    return json_object_get(json_object_get(reply, "result"), key);
}

/* An upstream answer as the engine hands it to the MCP core: status and body. */
static inline cg_call_result upstream(int status, const char *body)
{
    return (cg_call_result){.error = CG_CALL_OK,
                            .status = status,
                            .body = (char *)body,
                            .body_len = body ? strlen(body) : 0};
}

#endif
