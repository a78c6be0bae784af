/* Unit tests for src/engine/script.c: real child processes driven by a real cg_loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tempdir.h"

#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/loop.h"
#include "engine/script.h"

/* ---- fixtures ----------------------------------------------------------------------- */

static char dir[256];      /* a scripts directory made for this run */
static char location[300]; /* its file:/// URI */

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_dir(void **state)
{
    if (tempdir_make(dir, sizeof dir, "script") != 0) return -1;
    snprintf(location, sizeof location, "file://%s", dir);
    char lib[300];
    snprintf(lib, sizeof lib, "%s/lib", dir);
    mkdir(lib, 0700);
    /* The reference engine's examples, written afresh with the same contract. */
    put("lib/people.js",
        "function keepWhere(list, key, want) {\n"
        "  return list.filter(function (x) { return x[key] === want; });\n"
        "}\n"
        "function only(list, keys) {\n"
        "  return list.map(function (x) {\n"
        "    var o = {}; keys.forEach(function (k) { o[k] = x[k]; }); return o; });\n"
        "}\n");
    put("active-members.js", "var users = keepWhere(context['list-members'], 'type', 'User');\n"
                             "result = only(users, ['login', 'id']);\n");
    put("totals.js", "var orders = context['get-orders'], sum = 0;\n"
                     "for (var i = 0; i < orders.length; i++) sum += orders[i].amount;\n"
                     "result = { totalAmount: sum, orderCount: orders.length };\n");
    put("threshold.js", "result = context['fetch-items'].filter(function (it) {\n"
                        "  return it.stock < context.threshold; });\n");
    put("nothing.js", "var unused = context['some-step'];\n");
    put("broken.js", "var a = 1;\nundefinedFunction();\n");
    put("lib/stats.py", "def summary(values):\n"
                        "    return {'average': sum(values) / len(values), 'min': min(values),\n"
                        "            'max': max(values), 'count': len(values)}\n");
    put("readings.py", "temps = [r['temperature'] for r in context['fetch-readings']]\n"
                       "result = summary(temps)\n");
    put("members.py", "result = [{'login': m['login'], 'id': m['id']}\n"
                      "          for m in context['list-members'] if m['type'] == 'User']\n");
    put("nothing.py", "unused = context.get('some-step')\n");
    char link[512];
    snprintf(link, sizeof link, "%s/escape.js", dir);
    if (symlink("/etc/hostname", link) != 0) return -1;
    return 0;
}

static int teardown_dir(void **state)
{
    return tempdir_remove(dir);
}

/* One run to completion on a fresh loop; a 20 ms ticker counts how often the loop ran. */
typedef struct outcome {
    cg_script_status status;
    json_t *result;
    char error[1024];
    bool called;
    int ticks;
    uint64_t ms;
    uint64_t last_tick, max_gap; /* ms: the longest the loop went without running a timer */
} outcome;

static void on_done(void *arg, cg_script_status st, json_t *result, const char *error)
{
    outcome *o = arg;
    assert_false(o->called);
    o->called = true;
    o->status = st;
    o->result = result ? json_incref(result) : NULL;
    if (error) snprintf(o->error, sizeof o->error, "%s", error);
}

typedef struct ticker {
    outcome *o;
    int *pending;
} ticker;

static uint64_t mono_ms(void);

static void on_tick(cg_loop *loop, void *arg)
{
    ticker *t = arg;
    uint64_t now = mono_ms();
    if (t->o->last_tick && now - t->o->last_tick > t->o->max_gap)
        t->o->max_gap = now - t->o->last_tick;
    t->o->last_tick = now;
    t->o->ticks++;
    if (*t->pending == 0) cg_loop_break(loop);
    else cg_loop_timer_add(loop, 20, on_tick, t);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_done_count(void *arg, cg_script_status st, json_t *result, const char *error);

typedef struct counted {
    outcome o;
    int *pending;
} counted;

static void on_done_count(void *arg, cg_script_status st, json_t *result, const char *error)
{
    counted *c = arg;
    on_done(&c->o, st, result, error);
    (*c->pending)--;
}

static void expect_status(const outcome *o, cg_script_status want)
{
    if (o->status != want) fail_msg("status %d, want %d: %s", o->status, want, o->error);
}

static outcome run(cg_script *s, const char *context, long timeout_ms, long statements,
                   size_t memory)
{
    cg_loop *loop = cg_loop_create(NULL, 0);
    assert_non_null(loop);
    json_t *ctx = json_loads(context, JSON_DECODE_ANY, NULL);
    assert_non_null(ctx);
    int pending = 1;
    counted c = {.pending = &pending};
    cg_script_limits lim = {timeout_ms, statements, memory};
    uint64_t t0 = mono_ms();
    cg_script_job *job = cg_script_run(loop, s, ctx, &lim, on_done_count, &c);
    assert_non_null(job);
    json_decref(ctx);
    assert_false(c.o.called); /* never inside cg_script_run */
    ticker t = {&c.o, &pending};
    cg_loop_timer_add(loop, 20, on_tick, &t);
    assert_int_equal(cg_loop_run(loop), 0);
    c.o.ms = mono_ms() - t0;
    cg_loop_free(loop);
    assert_true(c.o.called);
    return c.o;
}

static cg_script *load(const char *lang, const char *file, const char *const *deps, size_t ndeps,
                       const char *source)
{
    cg_script_spec spec = {.name = "step",
                           .language = lang,
                           .location = location,
                           .file = file,
                           .dependencies = deps,
                           .n_dependencies = ndeps,
                           .source = source};
    char err[512] = "";
    cg_script *s = cg_script_load(&spec, NULL, err, sizeof err);
    if (!s) fail_msg("load %s: %s", file ? file : "inline", err);
    return s;
}

static void expect_load_error(const cg_script_spec *spec, const cg_script_settings *set,
                              const char *needle)
{
    char err[512] = "";
    cg_script *s = cg_script_load(spec, set, err, sizeof err);
    if (s) {
        cg_script_free(s);
        fail_msg("loaded, expected an error with '%s'", needle);
    }
    if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
}

static void expect_json(json_t *got, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    if (!got || !json_equal(got, w)) {
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        fail_msg("result %s, want %s", g ? g : "(null)", want);
    }
    json_decref(w);
}

/* Runs inline SOURCE in LANG with a budget of 1000 statements: its status must be WANT and,
 * when RESULT is not NULL, its result that JSON. Returns how long it ran, in ms. */
static uint64_t expect_under_statement_limit(const char *lang, const char *source,
                                             cg_script_status want, const char *result)
{
    cg_script *s = load(lang, NULL, NULL, 0, source);
    outcome o = run(s, "{}", 10000, 1000, 0);
    expect_status(&o, want);
    if (want == CG_SCRIPT_STATEMENTS)
        assert_string_equal(o.error, "Script step 'step' exceeded the statement limit (1000)");
    if (result) expect_json(o.result, result);
    json_decref(o.result);
    cg_script_free(s);
    return o.ms;
}

static const char *MEMBERS =
    "{\"list-members\": [{\"login\": \"alice\", \"id\": 1, \"type\": \"User\"},"
    " {\"login\": \"ci-bot\", \"id\": 2, \"type\": \"Bot\"},"
    " {\"login\": \"bob\", \"id\": 3, \"type\": \"User\"}]}";

/* ---- JavaScript ---------------------------------------------------------------------- */

static void js_runs_reference_examples(void **state)
{
    const char *deps[] = {"lib/people.js"};
    cg_script *s = load("javascript", "active-members.js", deps, 1, NULL);
    outcome o = run(s, MEMBERS, 5000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    expect_json(o.result, "[{\"login\":\"alice\",\"id\":1},{\"login\":\"bob\",\"id\":3}]");
    json_decref(o.result);
    cg_script_free(s);
}

static void js_takes_defaults_and_with_values(void **state)
{
    cg_script_spec spec = {.name = "totals", .file = "totals.js"};
    cg_script_settings set = {.default_location = location, .default_language = "javascript"};
    char err[256];
    cg_script *s = cg_script_load(&spec, &set, err, sizeof err);
    assert_non_null(s);
    outcome o = run(s, "{\"get-orders\": [{\"amount\": 10.5}, {\"amount\": 20}, {\"amount\": 30}]}",
                    5000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    expect_json(o.result, "{\"totalAmount\": 60.5, \"orderCount\": 3}");
    json_decref(o.result);
    cg_script_free(s);

    s = load("javascript", "threshold.js", NULL, 0, NULL);
    o = run(s,
            "{\"threshold\": 10, \"fetch-items\": [{\"name\": \"Widget\", \"stock\": 3},"
            " {\"name\": \"Bolt\", \"stock\": 50}, {\"name\": \"Gizmo\", \"stock\": 9}]}",
            5000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    expect_json(o.result,
                "[{\"name\": \"Widget\", \"stock\": 3}, {\"name\": \"Gizmo\", \"stock\": 9}]");
    json_decref(o.result);
    cg_script_free(s);
}

static void js_without_result_gives_null(void **state)
{
    cg_script *s = load("javascript", "nothing.js", NULL, 0, NULL);
    outcome o = run(s, "{\"some-step\": 1}", 5000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    assert_true(json_is_null(o.result));
    json_decref(o.result);
    cg_script_free(s);
}

static void js_error_names_step_and_file(void **state)
{
    cg_script *s = load("javascript", "broken.js", NULL, 0, NULL);
    outcome o = run(s, "{}", 5000, 0, 0);
    expect_status(&o, CG_SCRIPT_FAILED);
    assert_null(o.result);
    assert_non_null(strstr(o.error, "Script step 'step' failed: ReferenceError"));
    if (!strstr(o.error, "broken.js:2")) fail_msg("%s", o.error);
    cg_script_free(s);
}

static void js_has_no_host_api(void **state)
{
    cg_script *s = load("javascript", NULL, NULL, 0,
                        "result = [typeof require, typeof load, typeof print, typeof Duktape,"
                        " typeof process, typeof module, typeof java, typeof XMLHttpRequest,"
                        " typeof fetch, typeof readFile];");
    outcome o = run(s, "{}", 5000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    expect_json(o.result, "[\"undefined\",\"undefined\",\"undefined\",\"undefined\",\"undefined\","
                          "\"undefined\",\"undefined\",\"undefined\",\"undefined\",\"undefined\"]");
    json_decref(o.result);
    cg_script_free(s);

    s = load("javascript", NULL, NULL, 0, "import fs from 'fs'; result = 1;");
    o = run(s, "{}", 5000, 0, 0);
    expect_status(&o, CG_SCRIPT_FAILED);
    assert_non_null(strstr(o.error, "SyntaxError"));
    cg_script_free(s);
}

static void js_endless_loop_is_stopped_at_timeout_and_loop_keeps_running(void **state)
{
    cg_script *s = load("javascript", NULL, NULL, 0, "while (true) { var x = 1; }");
    outcome o = run(s, "{}", 400, 1000000000L, 0);
    expect_status(&o, CG_SCRIPT_TIMEOUT);
    assert_string_equal(o.error, "Script step 'step' exceeded the timeout limit (400 ms)");
    assert_true(o.ms >= 400 && o.ms < 3000);
    /* the 20 ms ticker ran all along: the loop never waited for the script (a blocked loop
     * would show one gap of 400 ms) */
    if (o.ticks < 5 || o.max_gap >= 200)
        fail_msg("%d ticks, longest gap %llu ms", o.ticks, (unsigned long long)o.max_gap);
    cg_script_free(s);
}

static void js_statement_limit_is_enforced(void **state)
{
    assert_true(expect_under_statement_limit("javascript", "while (true) { var x = 1; }",
                                             CG_SCRIPT_STATEMENTS, NULL) < 2000);
    /* catching the error does not help: Duktape re-throws it up to the top */
    expect_under_statement_limit(
        "javascript",
        "for (;;) { try { while (true) {} } catch (e) { result = 'caught'; } finally {} }",
        CG_SCRIPT_STATEMENTS, NULL);
    /* well under it: a 100-iteration loop with a 1000-statement budget */
    expect_under_statement_limit("javascript",
                                 "var t = 0; for (var i = 0; i < 100; i++) t += i; result = t;",
                                 CG_SCRIPT_OK, "4950");
}

static void js_allocation_loop_hits_the_memory_cap(void **state)
{
    cg_script *s = load(
        "javascript", NULL, NULL, 0,
        "var a = [], s = new Array(1025).join('x'); while (true) { a.push(s + a.length); }");
    outcome o = run(s, "{}", 10000, 1000000000L, 8u << 20);
    expect_status(&o, CG_SCRIPT_MEMORY);
    assert_string_equal(o.error, "Script step 'step' exceeded the memory limit (8388608 bytes)");
    assert_true(o.ms < 8000); /* the cap, not the 10 s timeout */
    cg_script_free(s);
}

static void js_unjsonable_result_and_big_context(void **state)
{
    cg_script *s = load("javascript", NULL, NULL, 0, "result = function () {};");
    outcome o = run(s, "{}", 5000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    assert_true(json_is_null(o.result));
    json_decref(o.result);
    cg_script_free(s);

    /* a context far bigger than a pipe buffer, echoed back */
    json_t *big = json_array();
    for (int i = 0; i < 20000; i++)
        json_array_append_new(big, json_pack("{si ss}", "i", i, "s", "abcdefgh"));
    json_t *doc = json_pack("{so}", "rows", big);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    s = load("javascript", NULL, NULL, 0,
             "result = context.rows.length + ':' + JSON.stringify(context).length;");
    o = run(s, text, 5000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    char want[64];
    snprintf(want, sizeof want, "\"20000:%zu\"", strlen(text));
    expect_json(o.result, want);
    json_decref(o.result);
    free(text);
    cg_script_free(s);
}

/* ---- Python --------------------------------------------------------------------------- */

static void py_runs_reference_examples(void **state)
{
    const char *deps[] = {"lib/stats.py"};
    cg_script *s = load("python", "readings.py", deps, 1, NULL);
    outcome o = run(s,
                    "{\"fetch-readings\": [{\"temperature\": 20}, {\"temperature\": 25},"
                    " {\"temperature\": 30}]}",
                    10000, 0, 0);
    if (o.status != CG_SCRIPT_OK) fail_msg("%s", o.error);
    expect_json(o.result, "{\"average\": 25.0, \"min\": 20, \"max\": 30, \"count\": 3}");
    json_decref(o.result);
    cg_script_free(s);

    s = load("python", "members.py", NULL, 0, NULL);
    o = run(s, MEMBERS, 10000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    expect_json(o.result, "[{\"login\":\"alice\",\"id\":1},{\"login\":\"bob\",\"id\":3}]");
    json_decref(o.result);
    cg_script_free(s);

    s = load("python", "nothing.py", NULL, 0, NULL);
    o = run(s, "{}", 10000, 0, 0);
    expect_status(&o, CG_SCRIPT_OK);
    assert_true(json_is_null(o.result));
    json_decref(o.result);
    cg_script_free(s);
}

static void py_preloaded_modules_import_and_output_is_bounded(void **state)
{
    cg_script *s = load(
        "python", NULL, NULL, 0,
        "import math, json, statistics, re\nfrom collections import Counter\n"
        "print('chatter goes to stderr, not into the result')\n"
        "c = Counter(re.findall('[a-z]+', context['text']))\n"
        "result = {'mean': statistics.mean([1, 2, 3, 4]), 'top': c.most_common(1)[0][0],"
        " 'pi': round(math.pi, 2), 'j': json.loads('[1]')}\n");
    outcome o = run(s, "{\"text\": \"b a b c b\"}", 10000, 0, 0);
    if (o.status != CG_SCRIPT_OK) fail_msg("%s", o.error);
    expect_json(o.result, "{\"mean\": 2.5, \"top\": \"b\", \"pi\": 3.14, \"j\": [1]}");
    json_decref(o.result);
    cg_script_free(s);

    /* a result over the 16 MiB cap: the child is killed, the step fails */
    s = load("python", NULL, NULL, 0, "result = 'x' * (20 << 20)\n");
    o = run(s, "{}", 10000, 0, 256u << 20);
    expect_status(&o, CG_SCRIPT_FAILED);
    assert_non_null(strstr(o.error, "its result is larger than"));
    cg_script_free(s);
}

static void py_statement_limit_is_enforced(void **state)
{
    expect_under_statement_limit("python", "while True:\n    pass\n", CG_SCRIPT_STATEMENTS, NULL);
    /* catching the limit does not help */
    expect_under_statement_limit("python",
                                 "n = 0\nwhile n < 5000:\n    try:\n        n += 1\n"
                                 "    except BaseException:\n        pass\nresult = n\n",
                                 CG_SCRIPT_STATEMENTS, NULL);
    /* under the limit: fine */
    expect_under_statement_limit("python", "t = 0\nfor i in range(100):\n    t += i\nresult = t\n",
                                 CG_SCRIPT_OK, "4950");
}

static void py_endless_loop_without_lines_is_stopped_at_timeout(void **state)
{
    /* one statement that never ends: only the clock can stop it */
    cg_script *s = load("python", NULL, NULL, 0, "x = sum(range(10**12))\n");
    outcome o = run(s, "{}", 500, 100000, 0);
    expect_status(&o, CG_SCRIPT_TIMEOUT);
    assert_string_equal(o.error, "Script step 'step' exceeded the timeout limit (500 ms)");
    if (o.ticks < 5 || o.max_gap >= 250)
        fail_msg("%d ticks, longest gap %llu ms", o.ticks, (unsigned long long)o.max_gap);
    cg_script_free(s);
}

static void py_allocation_loop_hits_the_memory_cap(void **state)
{
    cg_script *s = load("python", NULL, NULL, 0,
                        "a = []\nwhile True:\n    a.append(bytearray(1 << 20))\n");
    outcome o = run(s, "{}", 10000, 10000000, 32u << 20);
    expect_status(&o, CG_SCRIPT_MEMORY);
    assert_non_null(strstr(o.error, "exceeded the memory limit"));
    cg_script_free(s);
}

static void expect_py_fails(const char *source, const char *needle)
{
    cg_script *s = load("python", NULL, NULL, 0, source);
    outcome o = run(s, "{}", 10000, 0, 0);
    if (o.status != CG_SCRIPT_FAILED || !strstr(o.error, needle))
        fail_msg("%s: status %d, error '%s', want '%s'", source, o.status, o.error, needle);
    json_decref(o.result);
    cg_script_free(s);
}

static void py_cannot_reach_files_sockets_or_processes(void **state)
{
    expect_py_fails(
        "result = open('/etc/passwd').read()\n",
        "PermissionError: script steps may not use open('/etc/passwd') (inline, line 1)");
    expect_py_fails("import socket\n", "import of module 'socket'");
    expect_py_fails("import os\nresult = os.system('id')\n", "may not use os.system");
    expect_py_fails("import os\nresult = os.listdir('/')\n", "may not use os.listdir");
    expect_py_fails("import os\nfd = os.open('/etc/passwd', os.O_RDONLY)\n", "may not use open");
    expect_py_fails("import os\nresult = os.fork()\n", "may not use os.fork");
    expect_py_fails("import os\nresult = os.environ\n", "result is not JSON");
    /* past the audit hook, the kernel says no: _io.open is the C function under open() */
    expect_py_fails("import _io\nf = _io.FileIO('/etc/passwd')\n", "PermissionError");
    expect_py_fails("import _socket\ns = _socket.socket()\n", "PermissionError");
    expect_py_fails("import posix\nresult = posix.open('/etc/passwd', 0)\n", "PermissionError");
    /* no audit event for mkfifo: the seccomp filter refuses it in the kernel */
    expect_py_fails("import os\nos.mkfifo('/tmp/capgate-script-fifo')\n",
                    "PermissionError: [Errno 1] Operation not permitted");
    expect_py_fails("1/0\n", "ZeroDivisionError: division by zero (inline, line 1)");
    expect_py_fails("def f(:\n", "SyntaxError");
    expect_py_fails("result = 2 ** 70\n", "unreadable result");
}

/* ---- loading ---------------------------------------------------------------------------- */

static void load_refuses_what_it_cannot_run_safely(void **state)
{
    cg_script_spec spec = {
        .name = "s", .language = "groovy", .location = location, .file = "x.groovy"};
    expect_load_error(&spec, NULL, "language 'groovy' is not supported");
    spec.language = "javascript";
    spec.file = "../etc/passwd";
    expect_load_error(&spec, NULL, "unsafe script path '../etc/passwd'");
    spec.file = "/etc/passwd";
    expect_load_error(&spec, NULL, "unsafe script path");
    spec.file = "lib/./people.js";
    expect_load_error(&spec, NULL, "unsafe script path");
    spec.file = "escape.js";
    expect_load_error(&spec, NULL, "leaves the location");
    spec.file = "missing.js";
    expect_load_error(&spec, NULL, "cannot read file 'missing.js' from location");
    const char *deps[] = {"lib/missing.js"};
    spec.file = "totals.js";
    spec.dependencies = deps;
    spec.n_dependencies = 1;
    expect_load_error(&spec, NULL, "cannot read file 'lib/missing.js'");
    spec.n_dependencies = 0;
    spec.location = "http://example.com/scripts";
    expect_load_error(&spec, NULL, "is not a file:/// URI");
    spec.location = NULL;
    expect_load_error(&spec, NULL, "has no 'location'");
    spec.location = location;
    spec.file = NULL;
    expect_load_error(&spec, NULL, "has no 'file'");
    spec.file = "totals.js";
    spec.language = NULL;
    expect_load_error(&spec, NULL, "has no 'language'");
    spec.language = "python";
    cg_script_settings set = {.allowed = CG_SCRIPT_LANG_BIT(CG_SCRIPT_JAVASCRIPT)};
    expect_load_error(&spec, &set, "not in the allowed languages");
    spec.language = "ruby";
    expect_load_error(&spec, NULL, "unknown language 'ruby'");
}

static void permitted_follows_setting_then_environment(void **state)
{
    char err[256] = "";
    unsetenv("NAFTIKO_SCRIPTING");
    assert_true(cg_script_permitted(-1, "s", err, sizeof err));
    assert_true(cg_script_permitted(1, "s", err, sizeof err));
    assert_false(cg_script_permitted(0, "s", err, sizeof err));
    assert_string_equal(err,
                        "Script step 's' requires scripting support. Scripting is disabled via "
                        "management.scripting.enabled=false on the control adapter. Enable it "
                        "to use script steps.");
    setenv("NAFTIKO_SCRIPTING", "FALSE", 1);
    assert_false(cg_script_permitted(-1, "s", err, sizeof err));
    assert_non_null(strstr(err, "via NAFTIKO_SCRIPTING=false."));
    assert_true(cg_script_permitted(1, "s", err, sizeof err)); /* the spec wins */
    unsetenv("NAFTIKO_SCRIPTING");
}

/* ---- jobs ------------------------------------------------------------------------------- */

static void on_done_never(void *arg, cg_script_status st, json_t *result, const char *error)
{
    fail_msg("done() after cancel");
}

static void on_stop_after(cg_loop *loop, void *arg)
{
    cg_loop_break(loop);
}

static void cancel_kills_and_never_calls_back(void **state)
{
    cg_script *js = load("javascript", NULL, NULL, 0, "while (true) {}");
    cg_script *py = load("python", NULL, NULL, 0, "while True:\n    pass\n");
    cg_loop *loop = cg_loop_create(NULL, 0);
    cg_script_stats before, after;
    cg_script_stats_get(&before);
    cg_script_limits lim = {0, 1000000000L, 0};
    cg_script_job *a = cg_script_run(loop, js, NULL, &lim, on_done_never, NULL);
    cg_script_job *b = cg_script_run(loop, py, NULL, &lim, on_done_never, NULL);
    assert_non_null(a);
    assert_non_null(b);
    cg_loop_timer_add(loop, 100, on_stop_after, NULL);
    cg_loop_run(loop);
    uint64_t t0 = mono_ms();
    cg_script_cancel(a);
    cg_script_cancel(b);
    assert_true(mono_ms() - t0 < 200);
    cg_loop_timer_add(loop, 50, on_stop_after, NULL);
    cg_loop_run(loop); /* nothing left on the loop calls back */
    cg_loop_free(loop);
    cg_script_stats_get(&after);
    assert_int_equal(after.executions, before.executions);
    cg_script_free(js);
    cg_script_free(py);
}

static void runs_in_parallel_and_counts_stats(void **state)
{
    cg_script *js = load("javascript", NULL, NULL, 0, "result = context.n * 2;");
    cg_script *py = load("python", NULL, NULL, 0, "result = context['n'] * 3\n");
    cg_script *bad = load("javascript", NULL, NULL, 0, "throw new Error('no');");
    cg_loop *loop = cg_loop_create(NULL, 0);
    cg_script_stats before, after;
    cg_script_stats_get(&before);
    enum { N = 8 };
    counted c[N];
    int pending = N;
    memset(c, 0, sizeof c);
    for (int i = 0; i < N; i++) {
        c[i].pending = &pending;
        json_t *ctx = json_pack("{si}", "n", i);
        cg_script *s = i == N - 1 ? bad : i % 2 ? py : js;
        assert_non_null(cg_script_run(loop, s, ctx, NULL, on_done_count, &c[i]));
        json_decref(ctx);
    }
    outcome tick_o = {0};
    ticker t = {&tick_o, &pending};
    cg_loop_timer_add(loop, 20, on_tick, &t);
    cg_loop_run(loop);
    cg_loop_free(loop);
    for (int i = 0; i < N - 1; i++) {
        expect_status(&c[i].o, CG_SCRIPT_OK);
        assert_int_equal(json_integer_value(c[i].o.result), i * (i % 2 ? 3 : 2));
        json_decref(c[i].o.result);
    }
    expect_status(&c[N - 1].o, CG_SCRIPT_FAILED);
    assert_non_null(strstr(c[N - 1].o.error, "Error: no"));
    cg_script_stats_get(&after);
    assert_int_equal(after.executions - before.executions, N);
    assert_int_equal(after.errors - before.errors, 1);
    assert_true(after.total_ns > before.total_ns);
    assert_true(after.last_unix_ms > 0);
    cg_script_free(js);
    cg_script_free(py);
    cg_script_free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(js_runs_reference_examples),
        cmocka_unit_test(js_takes_defaults_and_with_values),
        cmocka_unit_test(js_without_result_gives_null),
        cmocka_unit_test(js_error_names_step_and_file),
        cmocka_unit_test(js_has_no_host_api),
        cmocka_unit_test(js_endless_loop_is_stopped_at_timeout_and_loop_keeps_running),
        cmocka_unit_test(js_statement_limit_is_enforced),
        cmocka_unit_test(js_allocation_loop_hits_the_memory_cap),
        cmocka_unit_test(js_unjsonable_result_and_big_context),
        cmocka_unit_test(py_runs_reference_examples),
        cmocka_unit_test(py_preloaded_modules_import_and_output_is_bounded),
        cmocka_unit_test(py_statement_limit_is_enforced),
        cmocka_unit_test(py_endless_loop_without_lines_is_stopped_at_timeout),
        cmocka_unit_test(py_allocation_loop_hits_the_memory_cap),
        cmocka_unit_test(py_cannot_reach_files_sockets_or_processes),
        cmocka_unit_test(load_refuses_what_it_cannot_run_safely),
        cmocka_unit_test(permitted_follows_setting_then_environment),
        cmocka_unit_test(cancel_kills_and_never_calls_back),
        cmocka_unit_test(runs_in_parallel_and_counts_stats),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
