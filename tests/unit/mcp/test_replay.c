/* Unit tests for src/mcp/replay.c: the resumable event buffer's in-memory backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/replay.h"

#define SID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

typedef struct seen {
    char ids[16][CG_MCP_REPLAY_ID_MAX];
    char data[16][64];
    int n;
} seen;

static void collect(void *ctx, const char *id, const char *data, size_t len)
{
    seen *s = ctx;
    if (s->n == 16) return;
    snprintf(s->ids[s->n], sizeof s->ids[s->n], "%s", id);
    snprintf(s->data[s->n], sizeof s->data[s->n], "%.*s", (int)len, data);
    s->n++;
}

static void replay_ids_name_their_stream_and_replay_what_follows(void **state)
{
    cg_mcp_replay *rp = cg_mcp_replay_create(NULL);
    assert_non_null(rp);
    cg_mcp_replay_stream st;
    char primer[CG_MCP_REPLAY_ID_MAX], id1[CG_MCP_REPLAY_ID_MAX], id2[CG_MCP_REPLAY_ID_MAX];
    assert_int_equal(cg_mcp_replay_open(rp, SID_A, &st, primer), 0);
    assert_int_equal(strlen(st.id), CG_MCP_REPLAY_STREAM_LEN);
    char want[CG_MCP_REPLAY_ID_MAX];
    snprintf(want, sizeof want, "%s-0", st.id);
    assert_string_equal(primer, want);
    assert_int_equal(cg_mcp_replay_append(rp, &st, "{\"a\":1}", 7, false, id1), 0);
    assert_int_equal(cg_mcp_replay_append(rp, &st, "{\"b\":2}", 7, true, id2), 0);
    snprintf(want, sizeof want, "%s-2", st.id);
    assert_string_equal(id2, want);

    seen s = {0};
    cg_mcp_replay_stream at;
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, primer, collect, &s, &at), CG_MCP_REPLAY_ENDED);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], id1);
    assert_string_equal(s.data[1], "{\"b\":2}");
    assert_int_equal(at.seq, 2);

    memset(&s, 0, sizeof s);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, id1, collect, &s, NULL), CG_MCP_REPLAY_ENDED);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], id2);
    cg_mcp_replay_free(rp);
}

static void replay_refuses_another_session_and_unknown_ids(void **state)
{
    cg_mcp_replay *rp = cg_mcp_replay_create(NULL);
    cg_mcp_replay_stream st;
    char primer[CG_MCP_REPLAY_ID_MAX], id[CG_MCP_REPLAY_ID_MAX];
    cg_mcp_replay_open(rp, SID_A, &st, primer);
    cg_mcp_replay_append(rp, &st, "x", 1, false, id);
    seen s = {0};
    assert_int_equal(cg_mcp_replay_after(rp, SID_B, primer, collect, &s, NULL),
                     CG_MCP_REPLAY_UNKNOWN);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, "17", collect, &s, NULL),
                     CG_MCP_REPLAY_UNKNOWN);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, "0123456789abcdef-1", collect, &s, NULL),
                     CG_MCP_REPLAY_UNKNOWN);
    assert_int_equal(s.n, 0);
    /* still open: replayed, more may come */
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, primer, collect, &s, NULL), CG_MCP_REPLAY_OPEN);
    assert_int_equal(s.n, 1);
    /* the session ends: its streams go */
    cg_mcp_replay_forget_session(rp, SID_A);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, primer, collect, &s, NULL),
                     CG_MCP_REPLAY_UNKNOWN);
    cg_mcp_replay_free(rp);
}

static void replay_keeps_a_bounded_tail_per_stream(void **state)
{
    cg_mcp_replay_limits lim = {.stream_events = 3};
    cg_mcp_replay *rp = cg_mcp_replay_create(&lim);
    cg_mcp_replay_stream st;
    char primer[CG_MCP_REPLAY_ID_MAX], id[5][CG_MCP_REPLAY_ID_MAX];
    cg_mcp_replay_open(rp, SID_A, &st, primer);
    for (int i = 0; i < 5; i++) cg_mcp_replay_append(rp, &st, "e", 1, i == 4, id[i]);
    seen s = {0};
    /* events 1 and 2 are gone: resuming before them would lose some, so it is refused */
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, primer, collect, &s, NULL),
                     CG_MCP_REPLAY_UNKNOWN);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, id[0], collect, &s, NULL),
                     CG_MCP_REPLAY_UNKNOWN);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, id[1], collect, &s, NULL), CG_MCP_REPLAY_ENDED);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.ids[2], id[4]);
    cg_mcp_replay_free(rp);
}

static void replay_evicts_the_oldest_stream_past_the_process_limits(void **state)
{
    cg_mcp_replay_limits lim = {.max_streams = 2, .total_bytes = 10};
    cg_mcp_replay *rp = cg_mcp_replay_create(&lim);
    cg_mcp_replay_stream a, b, c;
    char pa[CG_MCP_REPLAY_ID_MAX], pb[CG_MCP_REPLAY_ID_MAX], pc[CG_MCP_REPLAY_ID_MAX];
    char id[CG_MCP_REPLAY_ID_MAX];
    cg_mcp_replay_open(rp, SID_A, &a, pa);
    cg_mcp_replay_open(rp, SID_A, &b, pb);
    cg_mcp_replay_open(rp, SID_A, &c, pc);
    seen s = {0};
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, pa, collect, &s, NULL), CG_MCP_REPLAY_UNKNOWN);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, pb, collect, &s, NULL), CG_MCP_REPLAY_OPEN);
    /* bytes: b's 8 + c's 8 pass 10, and b was written longest ago */
    assert_int_equal(cg_mcp_replay_append(rp, &b, "12345678", 8, false, id), 0);
    assert_int_equal(cg_mcp_replay_append(rp, &c, "12345678", 8, false, id), 0);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, pb, collect, &s, NULL), CG_MCP_REPLAY_UNKNOWN);
    assert_int_equal(cg_mcp_replay_after(rp, SID_A, pc, collect, &s, NULL), CG_MCP_REPLAY_OPEN);
    cg_mcp_replay_free(rp);
}

static void replay_parses_only_well_formed_ids(void **state)
{
    char stream[CG_MCP_REPLAY_STREAM_LEN + 1];
    unsigned long long seq;
    assert_true(cg_mcp_replay_parse_id("0123456789abcdef-42", stream, &seq));
    assert_string_equal(stream, "0123456789abcdef");
    assert_int_equal(seq, 42);
    assert_false(cg_mcp_replay_parse_id("0123456789ABCDEF-1", stream, &seq));
    assert_false(cg_mcp_replay_parse_id("0123456789abcdef-", stream, &seq));
    assert_false(cg_mcp_replay_parse_id("0123456789abcdef-1x", stream, &seq));
    assert_false(cg_mcp_replay_parse_id("0123456789abcde-1", stream, &seq));
    assert_false(cg_mcp_replay_parse_id("0123456789abcdef-99999999999999999999", stream, &seq));
    assert_false(cg_mcp_replay_parse_id(NULL, stream, &seq));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replay_ids_name_their_stream_and_replay_what_follows),
        cmocka_unit_test(replay_refuses_another_session_and_unknown_ids),
        cmocka_unit_test(replay_keeps_a_bounded_tail_per_stream),
        cmocka_unit_test(replay_evicts_the_oldest_stream_past_the_process_limits),
        cmocka_unit_test(replay_parses_only_well_formed_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
