/*
 * Unit tests for studio/labelconfig.h: labeling configs validated with Label Studio's own
 * messages (null, a control without toName, a toName naming nothing, broken XML, nested
 * tags, several toNames), and minified prediction results expanded onto the config's
 * controls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "studio/labelconfig.h"

static void labelcfg_validates_like_label_studio(void **state)
{
    char err[300];
    assert_int_equal(cg_studio_labelcfg_validate("<View><Text name=\"t\" value=\"$t\"/>"
                                                 "<Choices name=\"c\" toName=\"t\"/></View>",
                                                 err, sizeof err),
                     0);
    assert_int_equal(cg_studio_labelcfg_validate("<View></View>", err, sizeof err), 0);
    assert_int_equal(cg_studio_labelcfg_validate(NULL, err, sizeof err), -1);
    assert_string_equal(err, "can only parse strings");
    assert_int_equal(cg_studio_labelcfg_validate("<View><Text name=\"b\" value=\"$t\"/>"
                                                 "<Choices name=\"a\" toName=\"b,zz\"/></View>",
                                                 err, sizeof err),
                     -1);
    assert_string_equal(err, "toName=\"zz\" not found in names: ['a', 'b']");
    assert_int_equal(
        cg_studio_labelcfg_validate("<View><Labels name=\"l\"/></View>", err, sizeof err), -1);
    assert_string_equal(err, "Validation failed on : 'toName' is a required property");
    /* a TextArea may stand alone (dialog configs) */
    assert_int_equal(
        cg_studio_labelcfg_validate("<View><TextArea name=\"a\"/></View>", err, sizeof err), 0);
    assert_int_equal(cg_studio_labelcfg_validate("<View><Text", err, sizeof err), -1);
    assert_true(strlen(err) > 0);
}

static void labelcfg_expands_minified_results(void **state)
{
    const char *cfg =
        "<View><Text name=\"t\" value=\"$t\"/><Rating name=\"r\" toName=\"t\"/>"
        "<Choices name=\"c\" toName=\"t\"/><TextArea name=\"x\" toName=\"t\"/></View>";
    char err[200];
    json_t *in = json_string("pos");
    json_t *r = cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err);
    json_t *want = json_pack("[{s:s,s:s,s:s,s:{s:[s]}}]", "from_name", "c", "to_name", "t", "type",
                             "choices", "value", "choices", "pos");
    assert_true(json_equal(r, want));
    json_decref(r);
    json_decref(want);
    json_decref(in);
    in = json_integer(4); /* an integer goes to the Rating */
    r = cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "type")), "rating");
    json_decref(r);
    json_decref(in);
    in = json_pack("{s:[s]}", "text", "free"); /* an object: the control of its key */
    r = cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err);
    assert_null(r); /* no control's type is "text" */
    json_decref(in);
    in = json_pack("{s:[s]}", "textarea", "free");
    r = cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "from_name")), "x");
    json_decref(r);
    json_decref(in);
    in = json_pack("[i]", 1);
    assert_null(cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err));
    assert_string_equal(err, "Each item in prediction result should be dict");
    json_decref(in);
    in = json_true();
    assert_null(cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err));
    json_decref(in);
}

static void labelcfg_messages_for_nested_and_listed_names(void **state)
{
    char err[700];
    /* controls nested in layout tags are checked too, names anywhere count */
    assert_int_equal(cg_studio_labelcfg_validate(
                         "<View><View><Image name=\"img\" value=\"$image\"/></View>"
                         "<Header value=\"Pick\"/><View><RectangleLabels name=\"box\" "
                         "toName=\"img\"><Label value=\"Cat\"/></RectangleLabels></View></View>",
                         err, sizeof err),
                     0);
    assert_int_equal(cg_studio_labelcfg_validate(
                         "<View><Text name=\"t\" value=\"$t\"/><View><Rating name=\"r\"/>"
                         "</View></View>",
                         err, sizeof err),
                     -1);
    assert_string_equal(err, "Validation failed on : 'toName' is a required property");
    /* several toNames: each must exist; the names are listed sorted, as Python prints */
    assert_int_equal(cg_studio_labelcfg_validate(
                         "<View><Text name=\"zeta\" value=\"$a\"/><Text name=\"alpha\" "
                         "value=\"$b\"/><Choices name=\"mid\" toName=\"zeta,alpha\"/></View>",
                         err, sizeof err),
                     0);
    assert_int_equal(cg_studio_labelcfg_validate(
                         "<View><Text name=\"zeta\" value=\"$a\"/><Text name=\"alpha\" "
                         "value=\"$b\"/><Choices name=\"mid\" toName=\"alpha,beta\"/></View>",
                         err, sizeof err),
                     -1);
    assert_string_equal(err, "toName=\"beta\" not found in names: ['alpha', 'mid', 'zeta']");
    /* an unknown tag without toName is accepted (newer Label Studio tags) */
    assert_int_equal(
        cg_studio_labelcfg_validate("<View><Gizmo name=\"g\"/></View>", err, sizeof err), 0);
    /* broken XML: libxml2's message, without a trailing newline */
    assert_int_equal(cg_studio_labelcfg_validate("<View><Text name=\"t\"></View>", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "Premature end of data in tag View"));
    assert_true(err[strlen(err) - 1] != '\n');
    assert_int_equal(cg_studio_labelcfg_validate("", err, sizeof err), -1);
    assert_true(strlen(err) > 0);
}

static void labelcfg_expands_numbers_and_keeps_lists(void **state)
{
    const char *cfg = "<View><Text name=\"t\" value=\"$t\"/><Number name=\"n\" toName=\"t\"/>"
                      "</View>";
    char err[200];
    json_t *in = json_real(2.5);
    json_t *r = cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err);
    json_t *want = json_pack("[{s:s,s:s,s:s,s:{s:f}}]", "from_name", "n", "to_name", "t", "type",
                             "number", "value", "number", 2.5);
    assert_true(json_equal(r, want));
    json_decref(want);
    json_decref(r);
    json_decref(in);
    /* a list of objects is kept as it is */
    in = json_pack("[{s:s}]", "anything", "goes");
    r = cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err);
    assert_true(json_equal(r, in));
    json_decref(r);
    json_decref(in);
    /* a string with no control it fits */
    in = json_string("pos");
    assert_null(cg_studio_labelcfg_expand_result(cfg, in, err, sizeof err));
    assert_true(strlen(err) > 0);
    json_decref(in);
}

int main(void)
{
    cg_studio_labelcfg_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(labelcfg_validates_like_label_studio),
        cmocka_unit_test(labelcfg_expands_minified_results),
        cmocka_unit_test(labelcfg_messages_for_nested_and_listed_names),
        cmocka_unit_test(labelcfg_expands_numbers_and_keeps_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
