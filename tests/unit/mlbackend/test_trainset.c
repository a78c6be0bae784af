/* Unit tests for src/mlbackend/trainset.c: reading a Label Studio export into training
 * examples (usable annotations counted, the rest skipped; a non-list is an error). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mlbackend/fixture.h"
#include "mlbackend/trainset.h"

static void export_counts_usable_annotations_and_skips_the_rest(void **state)
{
    const char *export_json =
        "[{\"id\":1,\"data\":{\"text\":\"lovely great\"},\"annotations\":["
        "  "
        "{\"was_cancelled\":false,\"result\":[{\"from_name\":\"sentiment\",\"to_name\":\"text\","
        "\"type\":\"choices\",\"value\":{\"choices\":[\"Positive\"]}}]},"
        "  "
        "{\"was_cancelled\":true,\"result\":[{\"from_name\":\"sentiment\",\"type\":\"choices\","
        "\"value\":{\"choices\":[\"Negative\"]}}]},"
        "  "
        "{\"result\":[{\"from_name\":\"sentiment\",\"type\":\"choices\",\"value\":{\"choices\":["
        "\"Positive\",\"Maybe\"]}}]}]},"
        " {\"id\":2,\"data\":{\"text\":\"awful\"},\"annotations\":[{\"result\":["
        "  {\"from_name\":\"other\",\"type\":\"choices\",\"value\":{\"choices\":[\"Positive\"]}},"
        "  {\"from_name\":\"sentiment\",\"type\":\"labels\",\"value\":{\"labels\":[\"Positive\"]}},"
        "  "
        "{\"from_name\":\"sentiment\",\"type\":\"choices\",\"value\":{\"choices\":[\"Negative\"]}}]"
        "}]},"
        " {\"id\":3,\"data\":{\"body\":\"no text field\"},\"annotations\":[{\"result\":[]}]},"
        " {\"id\":4,\"data\":{\"text\":42}},"
        " {\"id\":5,\"data\":{\"text\":\"unlabelled\"},\"annotations\":\"junk\"},"
        " \"not a task\"]";
    cg_labelcfg cfg;
    parse_cfg(&cfg);
    cg_textclf *m = model_for(&cfg);
    json_t *tasks = json_loads(export_json, 0, NULL);
    assert_non_null(tasks);
    cg_trainset_stats st;
    char err[128];
    assert_int_equal(cg_trainset_add_export(m, &cfg, tasks, &st, err, sizeof err), 0);
    assert_int_equal(st.tasks, 6);
    assert_int_equal(st.documents, 3); /* Positive twice for task 1, Negative for task 2 */
    /* cancelled, "Maybe", tasks 3, 4 and the string */
    assert_int_equal(st.skipped, 5);
    assert_int_equal(cg_textclf_n_docs(m), 3);
    assert_int_equal(cg_textclf_predict(m, "awful", 5, NULL), 1);
    json_decref(tasks);
    cg_textclf_free(m);
    cg_labelcfg_free(&cfg);
}

static void export_that_is_not_a_list_is_an_error(void **state)
{
    cg_labelcfg cfg;
    parse_cfg(&cfg);
    cg_textclf *m = model_for(&cfg);
    json_t *obj = json_loads("{\"detail\":\"Invalid token.\"}", 0, NULL);
    cg_trainset_stats st;
    char err[128] = "";
    assert_int_equal(cg_trainset_add_export(m, &cfg, obj, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a JSON list"));
    json_decref(obj);
    cg_textclf_free(m);
    cg_labelcfg_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(export_counts_usable_annotations_and_skips_the_rest),
        cmocka_unit_test(export_that_is_not_a_list_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
