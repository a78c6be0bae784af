/* Unit tests for src/mlbackend/textclf.c: features, the untrained answer, held-out
 * accuracy on demo/sentiment.jsonl, determinism and the JSON round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "mlbackend/textclf.h"

static const char *const LABELS[] = {"Positive", "Negative", "Neutral"};
#define DATASET "demo/sentiment.jsonl"
/* The held-out accuracy the classifier must keep reaching on the fixed split. */
#define MIN_ACCURACY 0.85

typedef struct sample {
    char *text;
    size_t label;
} sample;

typedef struct dataset {
    sample *s;
    size_t n;
} dataset;

static void load_dataset(dataset *d)
{
    FILE *f = fopen(DATASET, "r");
    assert_non_null(f);
    d->s = NULL;
    d->n = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        const char *text = json_string_value(json_object_get(o, "text"));
        const char *label = json_string_value(json_object_get(o, "label"));
        assert_non_null(text);
        assert_non_null(label);
        size_t li = 3;
        for (size_t i = 0; i < 3; i++)
            if (!strcmp(label, LABELS[i])) li = i;
        assert_true(li < 3);
        d->s = realloc(d->s, (d->n + 1) * sizeof *d->s);
        assert_non_null(d->s);
        d->s[d->n].text = strdup(text);
        d->s[d->n].label = li;
        d->n++;
        json_decref(o);
    }
    fclose(f);
}

static void free_dataset(dataset *d)
{
    for (size_t i = 0; i < d->n; i++) free(d->s[i].text);
    free(d->s);
}

static int is_test_row(size_t i)
{
    return i % 5 == 4;
}

static cg_textclf *train_split(const dataset *d)
{
    char err[128];
    cg_textclf *m = cg_textclf_new(LABELS, 3, err, sizeof err);
    assert_non_null(m);
    for (size_t i = 0; i < d->n; i++)
        if (!is_test_row(i))
            assert_int_equal(cg_textclf_add(m, d->s[i].text, strlen(d->s[i].text), d->s[i].label),
                             0);
    return m;
}

static double held_out_accuracy(const cg_textclf *m, const dataset *d)
{
    size_t right = 0, total = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!is_test_row(i)) continue;
        total++;
        right += cg_textclf_predict(m, d->s[i].text, strlen(d->s[i].text), NULL) == d->s[i].label;
    }
    return (double)right / (double)total;
}

static char *dump(const cg_textclf *m)
{
    json_t *j = cg_textclf_to_json(m);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    return s;
}

/* ---- features ---------------------------------------------------------------------- */

typedef struct collected {
    cg_buf out;
} collected;

static void collect(void *ctx, const char *f, size_t n)
{
    collected *c = ctx;
    cg_buf_append(&c->out, f, n);
    cg_buf_append_str(&c->out, "|");
}

static void features_lowercase_split_and_pair(void **state)
{
    collected c = {CG_BUF_INIT};
    const char *t = "Not BAD, caf\xC3\xA9!  x2";
    cg_textclf_features(t, strlen(t), collect, &c);
    assert_string_equal(c.out.data,
                        "not|bad|not bad|caf\xC3\xA9|bad caf\xC3\xA9|x2|caf\xC3\xA9 x2|");
    cg_buf_free(&c.out);
}

static void features_of_empty_and_punctuation_only_text_are_none(void **state)
{
    collected c = {CG_BUF_INIT};
    cg_textclf_features("", 0, collect, &c);
    cg_textclf_features(" .,;!?-- ", 9, collect, &c);
    assert_int_equal(c.out.len, 0);
    cg_buf_free(&c.out);
}

static void features_cut_long_tokens(void **state)
{
    char t[300];
    memset(t, 'a', sizeof t - 1);
    t[sizeof t - 1] = '\0';
    collected c = {CG_BUF_INIT};
    cg_textclf_features(t, strlen(t), collect, &c);
    assert_int_equal(c.out.len, CG_TEXTCLF_MAX_TOKEN + 1);
    cg_buf_free(&c.out);
}

/* ---- model ------------------------------------------------------------------------ */

static void new_refuses_no_labels_and_duplicates(void **state)
{
    char err[128];
    const char *dup[] = {"a", "b", "a"};
    assert_null(cg_textclf_new(LABELS, 0, err, sizeof err));
    assert_null(cg_textclf_new(dup, 3, err, sizeof err));
    assert_non_null(strstr(err, "'a' appears twice"));
}

static void untrained_model_is_uniform_and_picks_first_label(void **state)
{
    char err[128];
    cg_textclf *m = cg_textclf_new(LABELS, 3, err, sizeof err);
    assert_non_null(m);
    double p[3];
    assert_int_equal(cg_textclf_predict(m, "awful awful awful", 17, p), 0);
    for (int i = 0; i < 3; i++) assert_float_equal(p[i], 1.0 / 3.0, 1e-12);
    assert_int_equal(cg_textclf_n_docs(m), 0);
    cg_textclf_free(m);
}

static void tiny_training_set_learns_the_obvious(void **state)
{
    char err[128];
    cg_textclf *m = cg_textclf_new(LABELS, 3, err, sizeof err);
    assert_int_equal(cg_textclf_add(m, "great lovely", 12, 0), 0);
    assert_int_equal(cg_textclf_add(m, "awful broken", 12, 1), 0);
    assert_int_equal(cg_textclf_add(m, "okay fine", 9, 2), 0);
    assert_int_equal(cg_textclf_add(m, "x", 1, 3), -1);
    double p[3];
    assert_int_equal(cg_textclf_predict(m, "so lovely", 9, p), 0);
    assert_true(p[0] > p[1] && p[0] > p[2]);
    assert_float_equal(p[0] + p[1] + p[2], 1.0, 1e-9);
    assert_int_equal(cg_textclf_predict(m, "Broken!", 7, NULL), 1);
    assert_int_equal(cg_textclf_predict(m, "it is fine", 10, NULL), 2);
    /* Nothing known: the (equal) priors decide, ties go to the first label. */
    assert_int_equal(cg_textclf_predict(m, "zzz", 3, p), 0);
    assert_float_equal(p[0], 1.0 / 3.0, 1e-9);
    cg_textclf_free(m);
}

static void held_out_accuracy_is_at_least_the_threshold(void **state)
{
    dataset d;
    load_dataset(&d);
    assert_true(d.n >= 300);
    cg_textclf *m = train_split(&d);
    double acc = held_out_accuracy(m, &d);
    printf("# held-out accuracy on %s: %.4f (%zu features)\n", DATASET, acc,
           cg_textclf_n_features(m));
    assert_true(acc >= MIN_ACCURACY);
    cg_textclf_free(m);
    free_dataset(&d);
}

/* a and b are the same model: the same JSON, and the same answer for the texts of d from
 * first on, every step-th. */
static void assert_same_model(const cg_textclf *a, const cg_textclf *b, const dataset *d,
                              size_t first, size_t step)
{
    char *ja = dump(a), *jb = dump(b);
    assert_string_equal(ja, jb);
    for (size_t i = first; i < d->n; i += step) {
        double pa[3], pb[3];
        size_t n = strlen(d->s[i].text);
        assert_int_equal(cg_textclf_predict(a, d->s[i].text, n, pa),
                         cg_textclf_predict(b, d->s[i].text, n, pb));
        assert_memory_equal(pa, pb, sizeof pa);
    }
    free(ja);
    free(jb);
}

static void training_is_deterministic(void **state)
{
    dataset d;
    load_dataset(&d);
    cg_textclf *a = train_split(&d), *b = train_split(&d);
    assert_same_model(a, b, &d, 0, 7);
    cg_textclf_free(a);
    cg_textclf_free(b);
    free_dataset(&d);
}

static void json_round_trip_keeps_predictions(void **state)
{
    dataset d;
    load_dataset(&d);
    cg_textclf *a = train_split(&d);
    json_t *j = cg_textclf_to_json(a);
    char err[128];
    cg_textclf *b = cg_textclf_from_json(j, err, sizeof err);
    assert_non_null(b);
    json_decref(j);
    assert_same_model(a, b, &d, 4, d.n); /* the text of d.s[4] */
    assert_int_equal(cg_textclf_n_docs(a), cg_textclf_n_docs(b));
    assert_float_equal(held_out_accuracy(a, &d), held_out_accuracy(b, &d), 0);
    cg_textclf_free(a);
    cg_textclf_free(b);
    free_dataset(&d);
}

static void from_json_rejects_malformed_models(void **state)
{
    static const char *const bad[] = {
        "{}",
        "{\"format\":\"other/1\",\"labels\":[\"a\"],\"class_docs\":[1],\"vocab\":{}}",
        "{\"format\":\"capgate-textclf/1\",\"labels\":[],\"class_docs\":[],\"vocab\":{}}",
        "{\"format\":\"capgate-textclf/1\",\"labels\":[\"a\",1],\"class_docs\":[1,1],\"vocab\":{}}",
        "{\"format\":\"capgate-textclf/"
        "1\",\"labels\":[\"a\",\"a\"],\"class_docs\":[1,1],\"vocab\":{}}",
        "{\"format\":\"capgate-textclf/"
        "1\",\"labels\":[\"a\",\"b\"],\"class_docs\":[1],\"vocab\":{}}",
        "{\"format\":\"capgate-textclf/"
        "1\",\"labels\":[\"a\",\"b\"],\"class_docs\":[1,-1],\"vocab\":{}}",
        "{\"format\":\"capgate-textclf/"
        "1\",\"labels\":[\"a\",\"b\"],\"class_docs\":[1,1],\"vocab\":[]}",
        "{\"format\":\"capgate-textclf/"
        "1\",\"labels\":[\"a\",\"b\"],\"class_docs\":[1,1],\"vocab\":{\"x\":[1]}}",
        "{\"format\":\"capgate-textclf/"
        "1\",\"labels\":[\"a\",\"b\"],\"class_docs\":[1,1],\"vocab\":{\"x\":[1,\"2\"]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        char err[160] = "";
        cg_textclf *m = cg_textclf_from_json(j, err, sizeof err);
        if (m) fail_msg("accepted model %zu: %s", i, bad[i]);
        assert_true(err[0] != '\0');
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(features_lowercase_split_and_pair),
        cmocka_unit_test(features_of_empty_and_punctuation_only_text_are_none),
        cmocka_unit_test(features_cut_long_tokens),
        cmocka_unit_test(new_refuses_no_labels_and_duplicates),
        cmocka_unit_test(untrained_model_is_uniform_and_picks_first_label),
        cmocka_unit_test(tiny_training_set_learns_the_obvious),
        cmocka_unit_test(held_out_accuracy_is_at_least_the_threshold),
        cmocka_unit_test(training_is_deterministic),
        cmocka_unit_test(json_round_trip_keeps_predictions),
        cmocka_unit_test(from_json_rejects_malformed_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
