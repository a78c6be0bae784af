/*
 * Unit tests for engine/steps.h: an orchestrated operation (call, call, lookup, mappings)
 * run on a real loop with the owner's side played by the test: the order calls start in,
 * the lookup's matches, the mapped answer, and each way a run ends early (an upstream
 * error status, no answer, an answer that is not JSON, a call that cannot be built, a
 * lookup over something that is not an array, a cancel).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spec_fixture.h"

#include "engine/steps.h"
#include "spec/template.h"

static const char SPEC[] =
    "naftiko: 1.0.0-alpha2\n"
    "info: {label: Fleet, description: steps unit test}\n"
    "capability:\n"
    "  consumes:\n"
    "  - type: http\n"
    "    namespace: fleet\n"
    "    baseUri: http://127.0.0.1:1\n"
    "    resources:\n"
    "    - name: ship\n"
    "      path: /ships/{{imo_number}}\n"
    "      operations:\n"
    "      - name: get-ship\n"
    "        method: GET\n"
    "        inputParameters:\n"
    "        - {name: imo_number, in: path, required: true}\n"
    "    - name: crew\n"
    "      path: /crew\n"
    "      operations:\n"
    "      - {name: list-crew, method: GET}\n"
    "  exposes:\n"
    "  - type: rest\n"
    "    namespace: docs-api\n"
    "    port: 8080\n"
    "    resources:\n"
    "    - path: /ships/{{imo}}/crew\n"
    "      operations:\n"
    "      - method: GET\n"
    "        inputParameters:\n"
    "        - {name: imo, in: path, type: string, description: IMO number}\n"
    "        steps:\n"
    "        - {name: ship, type: call, call: fleet.get-ship, with: {imo_number: '{{imo}}'}}\n"
    "        - {name: all-crew, type: call, call: fleet.list-crew}\n"
    "        - name: crew\n"
    "          type: lookup\n"
    "          index: all-crew\n"
    "          match: id\n"
    "          lookupValue: $.ship.crew\n"
    "          outputParameters: [name]\n"
    "        mappings:\n"
    "        - {targetName: imo, value: $.ship.imo}\n"
    "        - {targetName: crew, value: $.crew}\n";

typedef struct answer {
    int status;
    const char *body;
    cg_steps_status error;
    const char *message;
} answer;

typedef struct fixture {
    cg_loop *loop;
    cg_spec *spec;
    const cg_call *call;
    cg_steps_run *run;
    answer answers[2];      /* for the steps "ship" and "all-crew" */
    int refuse_start;       /* start_call fails for this step index + 1 */
    int cancel_after_start; /* cancel the run once the first call started */
    char started[64];       /* step names, comma-separated */
    int cancelled_calls;
    int finished;
    cg_steps_status status;
    json_t *mapped;
    char message[512];
    int upstream_status;
} fixture;

static void deliver(cg_loop *loop, void *arg)
{
    fixture *f = arg;
    int i = strcmp(f->started, "ship") ? 1 : 0;
    answer *a = &f->answers[i];
    cg_steps_call_done(f->run, a->status, a->body, a->body ? strlen(a->body) : 0, a->error,
                       a->message);
}

static void stop(cg_loop *loop, void *arg)
{
    cg_loop_break(loop);
}

static int start_call(void *ctx, const cg_step *step, char *err, size_t errlen)
{
    fixture *f = ctx;
    size_t n = strlen(f->started);
    snprintf(f->started + n, sizeof f->started - n, "%s%s", n ? "," : "", step->name);
    int index = strcmp(step->name, "ship") ? 2 : 1;
    if (f->refuse_start == index) {
        snprintf(err, errlen, "cannot build it");
        return -1;
    }
    if (f->cancel_after_start) {
        cg_loop_timer_add(f->loop, 0, stop, f);
        return 0;
    }
    cg_loop_timer_add(f->loop, 0, deliver, f);
    return 0;
}

static void cancel_call(void *ctx)
{
    ((fixture *)ctx)->cancelled_calls++;
}

static json_t *inputs(void *ctx)
{
    return json_pack("{s:s}", "imo", "IMO1");
}

static const char *lookup_input(void *ctx, const char *name, size_t len)
{
    return len == 3 && !memcmp(name, "imo", 3) ? "IMO1" : NULL;
}

static int render(void *ctx, const cg_template *t, cg_buf *out)
{
    return cg_template_render(t, lookup_input, NULL, out) == 0 ? 0 : -1;
}

static void finished(void *ctx, cg_steps_status status, json_t *mapped, const char *message,
                     int upstream_status)
{
    fixture *f = ctx;
    f->finished++;
    f->status = status;
    f->mapped = mapped;
    snprintf(f->message, sizeof f->message, "%s", message ? message : "");
    f->upstream_status = upstream_status;
    f->run = NULL;
    cg_loop_break(f->loop);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!(f->spec = spec_fixture_load("steps.yaml", SPEC, sizeof SPEC - 1))) return -1;
    f->call = &f->spec->rest[0].resources[0].ops[0].call;
    if (f->call->n_steps != 3) return -1;
    f->loop = cg_loop_create(NULL, 0);
    f->answers[0] = (answer){200, "{\"imo\":\"IMO1\",\"crew\":[3,1]}", CG_STEPS_OK, NULL};
    f->answers[1] = (answer){200,
                             "[{\"id\":1,\"name\":\"Ada\",\"rank\":\"master\"},"
                             "{\"id\":2,\"name\":\"Bo\"},{\"id\":3,\"name\":\"Cy\"}]",
                             CG_STEPS_OK, NULL};
    *state = f;
    return f->loop ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    json_decref(f->mapped);
    cg_loop_free(f->loop);
    cg_spec_free(f->spec);
    free(f);
    return 0;
}

/* The runner's view of the fixture: its loop, its fake calls and its finish callback. */
static cg_steps_io io_of(fixture *f)
{
    return (cg_steps_io){.ctx = f,
                         .loop = f->loop,
                         .start_call = start_call,
                         .cancel_call = cancel_call,
                         .inputs = inputs,
                         .render = render,
                         .finished = finished};
}

static void run(fixture *f)
{
    cg_steps_io io = io_of(f);
    f->run = cg_steps_start(f->call, &io);
    assert_non_null(f->run);
    assert_int_equal(f->finished, 0);   /* never inside cg_steps_start */
    assert_int_equal(f->started[0], 0); /* the first step starts on the next iteration */
    cg_loop_run(f->loop);
}

static void steps_run_in_order_and_map(void **state)
{
    fixture *f = *state;
    run(f);
    assert_int_equal(f->finished, 1);
    assert_int_equal(f->status, CG_STEPS_OK);
    assert_string_equal(f->started, "ship,all-crew");
    json_t *want = json_loads("{\"imo\":\"IMO1\",\"crew\":[{\"name\":\"Cy\"},{\"name\":\"Ada\"}]}",
                              0, NULL);
    if (!json_equal(f->mapped, want)) {
        char *got = json_dumps(f->mapped, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("mapped: %s", got);
    }
    json_decref(want);
}

static void an_upstream_error_status_ends_the_run(void **state)
{
    fixture *f = *state;
    f->answers[0] = (answer){404, "{\"detail\":\"no such ship\"}", CG_STEPS_OK, NULL};
    run(f);
    assert_int_equal(f->status, CG_STEPS_UPSTREAM);
    assert_int_equal(f->upstream_status, 404);
    assert_string_equal(f->message, "step 'ship' failed: the upstream answered HTTP 404: "
                                    "{\"detail\":\"no such ship\"}");
    assert_string_equal(f->started, "ship"); /* later steps do not run */
    assert_null(f->mapped);
}

static void no_answer_ends_the_run_with_the_owners_error(void **state)
{
    fixture *f = *state;
    f->answers[1] = (answer){0, NULL, CG_STEPS_UPSTREAM, "connection refused"};
    run(f);
    assert_int_equal(f->status, CG_STEPS_UPSTREAM);
    assert_string_equal(f->message, "step 'all-crew' failed: connection refused");
    assert_string_equal(f->started, "ship,all-crew");
}

static void an_answer_that_is_not_json_is_a_bad_answer(void **state)
{
    fixture *f = *state;
    f->answers[0] = (answer){200, "<html>oops", CG_STEPS_OK, NULL};
    run(f);
    assert_int_equal(f->status, CG_STEPS_BAD_ANSWER);
    assert_non_null(strstr(f->message, "step 'ship': the upstream answer is "));
}

static void a_call_that_cannot_be_built_is_an_argument_error(void **state)
{
    fixture *f = *state;
    f->refuse_start = 2;
    run(f);
    assert_int_equal(f->status, CG_STEPS_ARGUMENT);
    assert_string_equal(f->message, "step 'all-crew': cannot build it");
}

static void a_lookup_over_a_non_array_is_a_bad_answer(void **state)
{
    fixture *f = *state;
    f->answers[1] = (answer){200, "{\"id\":1}", CG_STEPS_OK, NULL};
    run(f);
    assert_int_equal(f->status, CG_STEPS_BAD_ANSWER);
    assert_non_null(strstr(f->message, "step 'crew': the index step 'all-crew'"));
}

static void cancel_abandons_the_call_and_never_finishes(void **state)
{
    fixture *f = *state;
    f->cancel_after_start = 1;
    run(f); /* returns when the first call has started */
    assert_string_equal(f->started, "ship");
    cg_steps_cancel(f->run);
    assert_int_equal(f->cancelled_calls, 1);
    cg_loop_timer_add(f->loop, 20, stop, f);
    cg_loop_run(f->loop);
    assert_int_equal(f->finished, 0);

    /* cancelled before the first step started: nothing starts at all */
    f->cancel_after_start = 0;
    f->started[0] = 0;
    cg_steps_io io = io_of(f);
    cg_steps_cancel(cg_steps_start(f->call, &io));
    cg_loop_timer_add(f->loop, 20, stop, f);
    cg_loop_run(f->loop);
    assert_string_equal(f->started, "");
    assert_int_equal(f->finished, 0);
    assert_int_equal(f->cancelled_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(steps_run_in_order_and_map, setup, teardown),
        cmocka_unit_test_setup_teardown(an_upstream_error_status_ends_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(no_answer_ends_the_run_with_the_owners_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_answer_that_is_not_json_is_a_bad_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_call_that_cannot_be_built_is_an_argument_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_lookup_over_a_non_array_is_a_bad_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_abandons_the_call_and_never_finishes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
