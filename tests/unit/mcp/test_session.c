/*
 * Unit tests for the MCP session store (src/mcp/session.h): ids, lookup, DELETE, signed ids
 * and adoption by instances sharing the secret, the LRU bound and idle expiry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mcp_session_fixture.h"

#include "mcp/session.h"

static void test_sessions_create_find_end(void **state)
{
    cg_mcp_sessions *store = cg_mcp_sessions_create(0, 0);
    cg_mcp_session *s = cg_mcp_sessions_create_session(store);
    assert_non_null(s);
    char id[CG_MCP_SESSION_ID_LEN + 1];
    memcpy(id, s->id, sizeof id);
    assert_int_equal(strlen(id), 64);
    assert_int_equal(strspn(id, "0123456789abcdef"), 64);
    cg_mcp_sessions_unlock(store);
    cg_mcp_session *t = cg_mcp_sessions_create_session(store);
    assert_string_not_equal(t->id, id);
    cg_mcp_sessions_unlock(store);
    assert_int_equal(cg_mcp_sessions_count(store), 2);
    s = cg_mcp_sessions_find(store, id);
    assert_non_null(s);
    cg_mcp_sessions_unlock(store);
    assert_null(cg_mcp_sessions_find(store, "0000"));
    assert_null(cg_mcp_sessions_find(store, "ZZ"));
    char first = id[0];
    id[0] = first == 'a' ? 'b' : 'a'; /* one character off */
    assert_null(cg_mcp_sessions_find(store, id));
    id[0] = first;
    assert_true(cg_mcp_sessions_end(store, id));
    assert_false(cg_mcp_sessions_end(store, id));
    assert_null(cg_mcp_sessions_find(store, id));
    assert_int_equal(cg_mcp_sessions_count(store), 1);
    cg_mcp_sessions_free(store);
}

static void test_session_ids_are_signed(void **state)
{
    cg_mcp_sessions *a = cg_mcp_sessions_create_with_secret(0, 0, "shared secret", 13);
    cg_mcp_sessions *b = cg_mcp_sessions_create_with_secret(0, 0, "shared secret", 13);
    cg_mcp_sessions *c = cg_mcp_sessions_create_with_secret(0, 0, "another secret", 14);
    char id[CG_MCP_SESSION_ID_LEN + 1];
    new_session(a, id);
    assert_true(cg_mcp_sessions_id_signed(a, id));
    assert_true(cg_mcp_sessions_id_signed(b, id)); /* any instance with the secret */
    assert_false(cg_mcp_sessions_id_signed(c, id));
    assert_null(cg_mcp_sessions_find(b, id)); /* ... but the session lives in a */
    char forged[CG_MCP_SESSION_ID_LEN + 1];
    memcpy(forged, id, sizeof forged);
    forged[CG_MCP_SESSION_ID_LEN - 1] = forged[CG_MCP_SESSION_ID_LEN - 1] == '0' ? '1' : '0';
    assert_false(cg_mcp_sessions_id_signed(a, forged));
    assert_null(cg_mcp_sessions_find(a, forged));
    forged[CG_MCP_SESSION_ID_LEN - 1] = id[CG_MCP_SESSION_ID_LEN - 1];
    forged[0] = forged[0] == '0' ? '1' : '0'; /* the random part changed: MAC fails */
    assert_false(cg_mcp_sessions_id_signed(a, forged));
    assert_false(cg_mcp_sessions_id_signed(a, "ABCDEF"));
    assert_false(cg_mcp_sessions_id_signed(a, NULL));
    assert_non_null(cg_mcp_sessions_find(a, id));
    cg_mcp_sessions_unlock(a);
    cg_mcp_sessions_free(a);
    cg_mcp_sessions_free(b);
    cg_mcp_sessions_free(c);

    setenv("CAPGATE_SESSION_SECRET", "from the environment", 1);
    cg_mcp_sessions *e1 = cg_mcp_sessions_create(0, 0), *e2 = cg_mcp_sessions_create(0, 0);
    unsetenv("CAPGATE_SESSION_SECRET");
    cg_mcp_sessions *r1 = cg_mcp_sessions_create(0, 0);
    new_session(e1, id);
    assert_true(cg_mcp_sessions_id_signed(e2, id));
    assert_false(cg_mcp_sessions_id_signed(r1, id)); /* no secret set: a random one */
    cg_mcp_sessions_free(e1);
    cg_mcp_sessions_free(e2);
    cg_mcp_sessions_free(r1);
}

/* Scale-out: an instance sharing the secret continues another's session. */
static void test_sessions_adopted_across_instances(void **state)
{
    cg_mcp_sessions *a = cg_mcp_sessions_create_with_secret(0, 0, "shared secret", 13);
    cg_mcp_sessions *b = cg_mcp_sessions_create_with_secret(0, 0, "shared secret", 13);
    cg_mcp_sessions *c = cg_mcp_sessions_create_with_secret(0, 0, "another secret", 14);
    cg_mcp_sessions *r = cg_mcp_sessions_create_with_secret(0, 0, NULL, 0); /* random secret */
    cg_mcp_session *s;
    char id[CG_MCP_SESSION_ID_LEN + 1];
    new_session(a, id);

    s = cg_mcp_sessions_find_or_adopt(b, id, "2025-06-18");
    assert_non_null(s);
    assert_true(s->adopted);
    assert_true(s->state.initialized && s->state.initialize_answered);
    assert_string_equal(s->state.version, "2025-06-18");
    cg_mcp_sessions_unlock(b);
    assert_non_null(cg_mcp_sessions_find(b, id)); /* now held by b */
    cg_mcp_sessions_unlock(b);
    assert_int_equal(cg_mcp_sessions_count(b), 1);
    assert_null(cg_mcp_sessions_find_or_adopt(c, id, NULL)); /* other secret */

    /* no version named: 2025-03-26, as the transport spec says to assume */
    cg_mcp_sessions *d = cg_mcp_sessions_create_with_secret(0, 0, "shared secret", 13);
    s = cg_mcp_sessions_find_or_adopt(d, id, "1999-01-01");
    assert_string_equal(s->state.version, "2025-03-26");
    cg_mcp_sessions_unlock(d);

    /* a DELETE leaves a tombstone: this instance refuses the id from then on */
    assert_true(cg_mcp_sessions_end(b, id));
    assert_null(cg_mcp_sessions_find_or_adopt(b, id, NULL));
    assert_null(cg_mcp_sessions_find(b, id));
    assert_false(cg_mcp_sessions_end(b, id));

    /* its own ids are never adopted back: a session that ended on a stays ended */
    s = cg_mcp_sessions_create_session(a);
    char own[CG_MCP_SESSION_ID_LEN + 1];
    memcpy(own, s->id, sizeof own);
    cg_mcp_sessions_remove_locked(a, s);
    cg_mcp_sessions_unlock(a);
    assert_null(cg_mcp_sessions_find_or_adopt(a, own, NULL));
    s = cg_mcp_sessions_find_or_adopt(b, own, NULL); /* ... but another instance may */
    assert_non_null(s);
    cg_mcp_sessions_unlock(b);

    /* tampered ids are never adopted */
    char forged[CG_MCP_SESSION_ID_LEN + 1];
    memcpy(forged, id, sizeof forged);
    forged[5] = forged[5] == '0' ? '1' : '0';
    assert_null(cg_mcp_sessions_find_or_adopt(d, forged, NULL));

    /* without a configured secret nothing is adopted, not even its own expired ids */
    s = cg_mcp_sessions_create_session(r);
    memcpy(id, s->id, sizeof id);
    cg_mcp_sessions_remove_locked(r, s);
    cg_mcp_sessions_unlock(r);
    assert_null(cg_mcp_sessions_find_or_adopt(r, id, NULL));

    cg_mcp_sessions_free(a);
    cg_mcp_sessions_free(b);
    cg_mcp_sessions_free(c);
    cg_mcp_sessions_free(d);
    cg_mcp_sessions_free(r);
}

/* An id older than CAPGATE_SESSION_MAX_AGE is not adopted. */
static void test_sessions_adoption_max_age(void **state)
{
    setenv("CAPGATE_SESSION_SECRET", "age test", 1);
    setenv("CAPGATE_SESSION_MAX_AGE", "1", 1);
    cg_mcp_sessions *a = cg_mcp_sessions_create(0, 0);
    cg_mcp_sessions *b = cg_mcp_sessions_create(0, 0);
    unsetenv("CAPGATE_SESSION_MAX_AGE");
    unsetenv("CAPGATE_SESSION_SECRET");
    char id[CG_MCP_SESSION_ID_LEN + 1];
    new_session(a, id);
    sleep(3);
    assert_null(cg_mcp_sessions_find_or_adopt(b, id, NULL));
    assert_non_null(cg_mcp_sessions_find(a, id)); /* its own instance still holds it */
    cg_mcp_sessions_unlock(a);
    cg_mcp_sessions_free(a);
    cg_mcp_sessions_free(b);
}

static void test_sessions_bounded_lru(void **state)
{
    cg_mcp_sessions *store = cg_mcp_sessions_create(3, 0);
    char ids[4][CG_MCP_SESSION_ID_LEN + 1];
    for (int i = 0; i < 4; i++) {
        cg_mcp_session *s = cg_mcp_sessions_create_session(store);
        memcpy(ids[i], s->id, sizeof ids[i]);
        s->last_used_ms -= (uint64_t)(10 - i); /* older first */
        cg_mcp_sessions_unlock(store);
        if (i == 2) { /* touch the first: the second becomes the least recently used */
            cg_mcp_session *first = cg_mcp_sessions_find(store, ids[0]);
            first->last_used_ms += 100;
            cg_mcp_sessions_unlock(store);
        }
    }
    assert_int_equal(cg_mcp_sessions_count(store), 3);
    assert_null(cg_mcp_sessions_find(store, ids[1]));
    for (int i = 0; i < 4; i++) {
        if (i == 1) continue;
        assert_non_null(cg_mcp_sessions_find(store, ids[i]));
        cg_mcp_sessions_unlock(store);
    }
    cg_mcp_sessions_free(store);
}

static void test_sessions_expire_when_idle(void **state)
{
    cg_mcp_sessions *store = cg_mcp_sessions_create(0, 1);
    cg_mcp_session *s = cg_mcp_sessions_create_session(store);
    char id[CG_MCP_SESSION_ID_LEN + 1];
    memcpy(id, s->id, sizeof id);
    s->last_used_ms -= 1500; /* as if idle for 1.5 s */
    cg_mcp_sessions_unlock(store);
    assert_null(cg_mcp_sessions_find(store, id));
    assert_int_equal(cg_mcp_sessions_count(store), 0);
    /* a session with an open GET stream does not expire */
    s = cg_mcp_sessions_create_session(store);
    memcpy(id, s->id, sizeof id);
    s->last_used_ms -= 1500;
    s->get_streams = 1;
    cg_mcp_sessions_unlock(store);
    assert_non_null(cg_mcp_sessions_find(store, id));
    cg_mcp_sessions_unlock(store);
    cg_mcp_sessions_free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sessions_create_find_end),
        cmocka_unit_test(test_session_ids_are_signed),
        cmocka_unit_test(test_sessions_adopted_across_instances),
        cmocka_unit_test(test_sessions_adoption_max_age),
        cmocka_unit_test(test_sessions_bounded_lru),
        cmocka_unit_test(test_sessions_expire_when_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
