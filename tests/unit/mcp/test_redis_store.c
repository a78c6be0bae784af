/* Unit tests for src/mcp/redis_store.c against a real redis-server on a free port: two
 * stores stand for two instances (each with its own session store and event buffer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp_session_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "mcp/redis_store.h"

#define SECRET "unit-redis-secret"

static pid_t redis_pid;
static int redis_port;
static char redis_dir[64];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int start_redis(void **state)
{
    snprintf(redis_dir, sizeof redis_dir, "/tmp/cg-unit-redis-XXXXXX");
    if (!mkdtemp(redis_dir) || (redis_port = free_port()) < 0) return -1;
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", redis_dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !port_open(redis_port); i++) sleep_ms(25);
    if (!port_open(redis_port)) {
        fprintf(stderr, "redis-server did not start (scripts/install-deps.sh installs it)\n");
        return -1;
    }
    return 0;
}

static int stop_redis(void **state)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
    rmdir(redis_dir);
    return 0;
}

static cg_redis_store *connect_store(cg_mcp_sessions *ss)
{
    char url[96], err[200];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", redis_port);
    cg_redis_store *rs = cg_redis_store_start(url, ss, err, sizeof err);
    if (!rs) fprintf(stderr, "%s\n", err);
    for (int i = 0; rs && i < 200 && !cg_redis_store_up(rs); i++) sleep_ms(25);
    return rs;
}

static void bad_urls_are_refused_without_showing_the_password(void **state)
{
    cg_mcp_sessions *ss = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    const char *bad[] = {"rediss://:pw-SECRET@127.0.0.1",
                         "http://127.0.0.1:6379",
                         "redis://:pw-SECRET@127.0.0.1:0",
                         "redis://:pw-SECRET@127.0.0.1:99999",
                         "redis://:pw-SECRET@",
                         "redis://:pw-SECRET@127.0.0.1:6379/x",
                         "redis://:pw-SECRET@127.0.0.1:6379junk",
                         "redis://:pw-SECRET%4@127.0.0.1",
                         "redis://:pw-SECRET%00@127.0.0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[200] = "";
        assert_null(cg_redis_store_start(bad[i], ss, err, sizeof err));
        assert_non_null(strstr(err, "CAPGATE_REDIS_URL"));
        assert_null(strstr(err, "pw-SECRET"));
    }
    char err[200];
    cg_redis_store *rs = cg_redis_store_start("redis://user:pw-SECRET%40x@127.0.0.1:1/3", ss, err,
                                              sizeof err);
    assert_non_null(rs);
    assert_string_equal(cg_redis_store_display(rs), "redis://127.0.0.1:1/3");
    cg_redis_store_stop(rs);
    cg_mcp_sessions_free(ss);
}

/* What an end told by another instance does to a session store (no Redis involved). */
static void mark_ended_ends_held_sessions_and_tombstones_adoptable_ids(void **state)
{
    cg_mcp_sessions *a = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    cg_mcp_sessions *b = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    cg_mcp_sessions *other = cg_mcp_sessions_create_with_secret(0, 0, "another", 7);
    char held[CG_MCP_SESSION_ID_LEN + 1], unseen[CG_MCP_SESSION_ID_LEN + 1],
        own[CG_MCP_SESSION_ID_LEN + 1], foreign[CG_MCP_SESSION_ID_LEN + 1];
    cg_mcp_session *s;
    new_session(a, held);
    new_session(a, unseen);
    new_session(b, own);
    new_session(other, foreign);
    assert_non_null(s = cg_mcp_sessions_find_or_adopt(b, held, NULL));
    cg_mcp_sessions_unlock(b);

    cg_mcp_sessions_mark_ended(b, held);    /* adopted here: ends */
    cg_mcp_sessions_mark_ended(b, unseen);  /* never here: a tombstone keeps it out */
    cg_mcp_sessions_mark_ended(b, own);     /* issued here: ends */
    cg_mcp_sessions_mark_ended(b, foreign); /* not signed with our secret: ignored */
    cg_mcp_sessions_mark_ended(b, "not-an-id");
    assert_null(cg_mcp_sessions_find_or_adopt(b, held, NULL));
    assert_null(cg_mcp_sessions_find_or_adopt(b, unseen, NULL));
    assert_null(cg_mcp_sessions_find(b, own));
    /* the issuer itself still holds the unseen one until told */
    assert_non_null(s = cg_mcp_sessions_find(a, unseen));
    cg_mcp_sessions_unlock(a);
    assert_true(cg_mcp_sessions_adoptable_until(a, held) > (uint64_t)time(NULL) + 86000);
    assert_int_equal(cg_mcp_sessions_adoptable_until(a, "short"), 0);

    cg_mcp_sessions_free(other);
    cg_mcp_sessions_free(b);
    cg_mcp_sessions_free(a);
}

static void a_session_ended_on_one_instance_ends_on_the_other(void **state)
{
    cg_mcp_sessions *a = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    cg_mcp_sessions *b = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    cg_redis_store *ra = connect_store(a), *rb = connect_store(b);
    assert_true(cg_redis_store_up(ra) && cg_redis_store_up(rb));

    /* issued by a, used on b (adopted) */
    cg_mcp_session *s;
    char id[CG_MCP_SESSION_ID_LEN + 1];
    new_session(a, id);
    assert_non_null(s = cg_mcp_sessions_find_or_adopt(b, id, NULL));
    cg_mcp_sessions_unlock(b);

    assert_true(cg_mcp_sessions_end(a, id));
    assert_null(cg_redis_store_end_session(ra, id, NULL, 0, NULL, NULL));
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        s = cg_mcp_sessions_find_or_adopt(b, id, NULL);
        if (s) cg_mcp_sessions_unlock(b);
        gone = !s;
        if (!gone) sleep_ms(10);
    }
    assert_true(gone);

    /* a third instance that starts later learns it from the set */
    cg_mcp_sessions *c = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    cg_redis_store *rc = connect_store(c);
    assert_true(cg_redis_store_up(rc));
    for (int i = 0; i < 100 && (s = cg_mcp_sessions_find_or_adopt(c, id, NULL)); i++) {
        cg_mcp_sessions_unlock(c);
        sleep_ms(10);
    }
    assert_null(s);

    /* the control: a session nobody ended is still adopted */
    new_session(a, id);
    assert_non_null(s = cg_mcp_sessions_find_or_adopt(c, id, NULL));
    cg_mcp_sessions_unlock(c);

    cg_redis_store_stop(rc);
    cg_redis_store_stop(rb);
    cg_redis_store_stop(ra);
    cg_mcp_sessions_free(c);
    cg_mcp_sessions_free(b);
    cg_mcp_sessions_free(a);
}

typedef struct seen {
    char ids[8][CG_MCP_REPLAY_ID_MAX];
    char data[8][64];
    int n;
} seen;

static void collect(void *ctx, const char *id, const char *data, size_t len)
{
    seen *s = ctx;
    if (s->n == 8) return;
    snprintf(s->ids[s->n], sizeof s->ids[s->n], "%s", id);
    snprintf(s->data[s->n], sizeof s->data[s->n], "%.*s", (int)len, data);
    s->n++;
}

#define SID "5151515151515151515151515151515151515151515151515151515151515151"

/* Replays on rp after last until it has want events (the log takes a moment). */
static cg_mcp_replay_status replay_until(cg_mcp_replay *rp, const char *sid, const char *last,
                                         int want, seen *out)
{
    cg_mcp_replay_status st = CG_MCP_REPLAY_UNKNOWN;
    for (int i = 0; i < 200; i++) {
        memset(out, 0, sizeof *out);
        st = cg_mcp_replay_after(rp, sid, last, collect, out, NULL);
        if (out->n >= want) break;
        sleep_ms(10);
    }
    return st;
}

static void events_written_on_one_instance_replay_on_the_other(void **state)
{
    cg_mcp_sessions *a = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    cg_mcp_sessions *b = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    cg_redis_store *ra = connect_store(a), *rb = connect_store(b);
    assert_true(cg_redis_store_up(ra) && cg_redis_store_up(rb));
    cg_mcp_replay *pa = cg_redis_store_replay(ra, NULL), *pb = cg_redis_store_replay(rb, NULL);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_null(cg_redis_store_replay(ra, NULL)); /* one per store */

    cg_mcp_replay_stream st;
    char primer[CG_MCP_REPLAY_ID_MAX], id1[CG_MCP_REPLAY_ID_MAX], id2[CG_MCP_REPLAY_ID_MAX],
        id3[CG_MCP_REPLAY_ID_MAX];
    assert_int_equal(cg_mcp_replay_open(pa, SID, &st, primer), 0);
    assert_int_equal(cg_mcp_replay_append(pa, &st, "{\"p\":1}", 7, false, id1), 0);
    assert_int_equal(cg_mcp_replay_append(pa, &st, "{\"p\":2}", 7, false, id2), 0);

    seen got;
    assert_int_equal(replay_until(pb, SID, primer, 2, &got), CG_MCP_REPLAY_OPEN);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.ids[0], id1);
    assert_string_equal(got.data[1], "{\"p\":2}");

    /* the result comes after the client reconnected on b: a poll there gets it */
    assert_int_equal(cg_mcp_replay_append(pa, &st, "{\"result\":{}}", 13, true, id3), 0);
    assert_int_equal(replay_until(pb, SID, id2, 1, &got), CG_MCP_REPLAY_ENDED);
    assert_string_equal(got.ids[0], id3);
    assert_string_equal(got.data[0], "{\"result\":{}}");

    /* another session's id never replays it */
    memset(&got, 0, sizeof got);
    assert_int_equal(
        cg_mcp_replay_after(pb, "6262626262626262626262626262626262626262626262626262626262626262",
                            primer, collect, &got, NULL),
        CG_MCP_REPLAY_UNKNOWN);
    assert_int_equal(got.n, 0);

    /* forgetting the session on a forgets it on b */
    cg_mcp_replay_forget_session(pa, SID);
    cg_mcp_replay_status s = CG_MCP_REPLAY_OPEN;
    for (int i = 0; i < 200 && s != CG_MCP_REPLAY_UNKNOWN; i++) {
        memset(&got, 0, sizeof got);
        s = cg_mcp_replay_after(pb, SID, primer, collect, &got, NULL);
        if (s != CG_MCP_REPLAY_UNKNOWN) sleep_ms(10);
    }
    assert_int_equal(s, CG_MCP_REPLAY_UNKNOWN);

    cg_mcp_replay_free(pb);
    cg_mcp_replay_free(pa);
    cg_redis_store_stop(rb);
    cg_redis_store_stop(ra);
    cg_mcp_sessions_free(b);
    cg_mcp_sessions_free(a);
}

/* Last: it kills the server. */
static void redis_going_away_never_blocks_and_keeps_things_local(void **state)
{
    cg_mcp_sessions *a = cg_mcp_sessions_create_with_secret(0, 0, SECRET, strlen(SECRET));
    cg_redis_store *ra = connect_store(a);
    assert_true(cg_redis_store_up(ra));
    cg_mcp_replay *pa = cg_redis_store_replay(ra, NULL);
    stop_redis(state);
    for (int i = 0; i < 200 && cg_redis_store_up(ra); i++) sleep_ms(10);
    assert_false(cg_redis_store_up(ra));

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cg_mcp_replay_stream st;
    char primer[CG_MCP_REPLAY_ID_MAX], id1[CG_MCP_REPLAY_ID_MAX];
    assert_int_equal(cg_mcp_replay_open(pa, SID, &st, primer), 0);
    assert_int_equal(cg_mcp_replay_append(pa, &st, "x", 1, true, id1), 0);
    char id[CG_MCP_SESSION_ID_LEN + 1];
    new_session(a, id);
    assert_true(cg_mcp_sessions_end(a, id));
    assert_null(cg_redis_store_end_session(ra, id, NULL, 0, NULL, NULL));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
    assert_true(us < 50000); /* nothing waited for Redis */

    seen got = {0};
    assert_int_equal(cg_mcp_replay_after(pa, SID, primer, collect, &got, NULL),
                     CG_MCP_REPLAY_ENDED);
    assert_int_equal(got.n, 1);

    cg_mcp_replay_free(pa);
    cg_redis_store_stop(ra);
    cg_mcp_sessions_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_urls_are_refused_without_showing_the_password),
        cmocka_unit_test(mark_ended_ends_held_sessions_and_tombstones_adoptable_ids),
        cmocka_unit_test(a_session_ended_on_one_instance_ends_on_the_other),
        cmocka_unit_test(events_written_on_one_instance_replay_on_the_other),
        cmocka_unit_test(redis_going_away_never_blocks_and_keeps_things_local),
    };
    return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
