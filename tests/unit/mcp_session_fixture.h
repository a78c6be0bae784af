/*
 * tests/unit/mcp_session_fixture.h — a new MCP session's id, as the session-store tests
 * (test_session, test_redis_store) take it. Header-only (static inline); cmocka must be
 * included first.
 */
#ifndef CG_TEST_MCP_SESSION_FIXTURE_H
#define CG_TEST_MCP_SESSION_FIXTURE_H

#include <string.h>

#include "mcp/session.h"

/* Creates a session in store and copies its id into id; the store is unlocked after. */
static inline void new_session(cg_mcp_sessions *store, char id[CG_MCP_SESSION_ID_LEN + 1])
{
    cg_mcp_session *s = cg_mcp_sessions_create_session(store);
    assert_non_null(s);
    memcpy(id, s->id, CG_MCP_SESSION_ID_LEN + 1);
    cg_mcp_sessions_unlock(store);
}

#endif
