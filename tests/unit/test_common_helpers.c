/*
 * test_common_helpers.c — the shared helpers every command uses: src/common/base64 (on
 * libcrypto), clock, mediatype (the one JSON content-type rule) and jwt_shape (the one
 * "is this key a JWT" rule) and threadlist (joined, never detached, threads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/base64.h"
#include "common/clock.h"
#include "common/jwt_shape.h"
#include "common/mediatype.h"
#include "common/threadlist.h"

static void base64_matches_rfc4648_vectors(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = cg_base64_encode(plain[i], strlen(plain[i]), CG_B64_STD);
        assert_string_equal(e, std[i]);
        size_t n = 99;
        unsigned char *d = cg_base64_decode(e, strlen(e), CG_B64_STD, &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        assert_int_equal(d[n], 0);
        free(e);
        free(d);
    }
}

static void base64url_round_trips_without_padding(void **state)
{
    const unsigned char in[] = {0xfb, 0xff, 0x00, 'a', 'b'};
    for (size_t n = 0; n <= sizeof in; n++) {
        char *enc = cg_base64_encode(in, n, CG_B64_URL);
        assert_null(strpbrk(enc, "+/="));
        size_t len = 99;
        unsigned char *dec = cg_base64_decode(enc, strlen(enc), CG_B64_URL, &len);
        assert_non_null(dec);
        assert_int_equal(len, n);
        assert_memory_equal(dec, in, n);
        free(enc);
        free(dec);
    }
    size_t len;
    unsigned char *d = cg_base64_decode("-_8=", 4, CG_B64_URL, &len);   /* padding allowed */
    assert_non_null(d);
    assert_int_equal(len, 2);
    assert_int_equal(d[0], 0xfb);
    assert_int_equal(d[1], 0xff);
    free(d);
}

static void base64_refuses_bad_input(void **state)
{
    size_t len;
    assert_null(cg_base64_decode("ab+c", 4, CG_B64_URL, &len));   /* other alphabet */
    assert_null(cg_base64_decode("ab-c", 4, CG_B64_STD, &len));
    assert_null(cg_base64_decode("a", 1, CG_B64_STD, &len));      /* cannot be base64 */
    assert_null(cg_base64_decode("Zm 9v", 5, CG_B64_STD, &len));  /* whitespace */
    assert_null(cg_base64_decode("Zg=a", 4, CG_B64_STD, &len));   /* '=' inside */
    assert_null(cg_base64_decode("Zm8==", 5, CG_B64_STD, &len));  /* padding that does not fit */
    unsigned char *d = cg_base64_decode("Zg", 2, CG_B64_STD, &len); /* padding optional */
    assert_non_null(d);
    assert_string_equal((char *)d, "f");
    free(d);
}

static void clock_is_monotonic_and_wall_is_the_epoch(void **state)
{
    uint64_t a = cg_clock_mono_ns(), b = cg_clock_mono_ns();
    assert_true(b >= a);
    struct timespec pause = {0, 20 * 1000000};
    uint64_t m0 = cg_clock_mono_ms();
    nanosleep(&pause, NULL);
    assert_true(cg_clock_mono_ms() - m0 >= 19);
    uint64_t wall = cg_clock_wall_ms() / 1000u;
    uint64_t now = (uint64_t)time(NULL);
    assert_true(wall + 1 >= now && wall <= now + 1);
    assert_true(cg_clock_wall_ns() / 1000000000u + 1 >= now);
}

static void json_media_types(void **state)
{
    assert_true(cg_mediatype_is_json("application/json"));
    assert_true(cg_mediatype_is_json("Application/JSON; charset=utf-8"));
    assert_true(cg_mediatype_is_json("  application/json ;charset=utf-8"));
    assert_true(cg_mediatype_is_json("application/merge-patch+json"));
    assert_true(cg_mediatype_is_json("application/vnd.api+json; ext=x"));
    assert_false(cg_mediatype_is_json(NULL));
    assert_false(cg_mediatype_is_json(""));
    assert_false(cg_mediatype_is_json("text/plain"));
    assert_false(cg_mediatype_is_json("application/jsonx"));
    assert_false(cg_mediatype_is_json("application/+json"));
    assert_false(cg_mediatype_is_json("text/x+json"));
    assert_false(cg_mediatype_is_json("application/json foo"));
    assert_false(cg_mediatype_is_json("application/x-www-form-urlencoded"));
}

static void jwt_shape_follows_the_sdk_rule(void **state)
{
    assert_true(cg_jwt_shaped("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x"));
    assert_false(cg_jwt_shaped("0123456789abcdef0123456789abcdef01234567"));
    assert_false(cg_jwt_shaped("eyJa.b"));
    assert_false(cg_jwt_shaped("eyJa..c"));
    assert_false(cg_jwt_shaped("eyJa.b.c.d"));
    assert_false(cg_jwt_shaped("eyJa.b c.d"));
    assert_false(cg_jwt_shaped("eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoxfQ."));   /* no signature */
    assert_false(cg_jwt_shaped("abc.def.ghi"));
    assert_false(cg_jwt_shaped(""));
    assert_false(cg_jwt_shaped(NULL));
}

typedef struct job {
    cg_thread_node node;        /* first, as threadlist.h asks */
    atomic_int *go;             /* the thread ends once this is set */
    atomic_int *released;
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    while (!atomic_load(j->go))
        usleep(1000);
    cg_threads_done(&j->node);
    return NULL;
}

static atomic_int released_count;

static void release_job(cg_thread_node *n)
{
    atomic_fetch_add(&released_count, 1);
    free(n);
}

static void threadlist_reaps_only_finished_threads_and_joins_the_rest(void **state)
{
    atomic_int go_a = 0, go_b = 0;
    cg_thread_node *list = NULL;
    atomic_store(&released_count, 0);
    for (int i = 0; i < 3; i++) {
        job *j = calloc(1, sizeof *j);
        j->go = i == 0 ? &go_a : &go_b;
        assert_int_equal(cg_threads_start(&list, &j->node, job_main), 0);
    }
    cg_threads_reap(&list, release_job);                /* nobody is done yet */
    assert_int_equal(atomic_load(&released_count), 0);
    atomic_store(&go_a, 1);
    while (!atomic_load(&list->next->next->done))       /* the first started is last */
        usleep(1000);
    cg_threads_reap(&list, release_job);
    assert_int_equal(atomic_load(&released_count), 1);
    assert_non_null(list);
    assert_non_null(list->next);
    assert_null(list->next->next);
    atomic_store(&go_b, 1);
    cg_threads_join_all(list, release_job);             /* waits for the two still going */
    assert_int_equal(atomic_load(&released_count), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_matches_rfc4648_vectors),
        cmocka_unit_test(base64url_round_trips_without_padding),
        cmocka_unit_test(base64_refuses_bad_input),
        cmocka_unit_test(clock_is_monotonic_and_wall_is_the_epoch),
        cmocka_unit_test(json_media_types),
        cmocka_unit_test(jwt_shape_follows_the_sdk_rule),
        cmocka_unit_test(threadlist_reaps_only_finished_threads_and_joins_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
