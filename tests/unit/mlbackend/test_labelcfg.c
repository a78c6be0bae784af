/* Unit tests for src/mlbackend/labelcfg.c: the <Choices>-over-<Text> configs it accepts
 * and the clear errors for everything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mlbackend/labelcfg.h"

static void parse_ok(const char *xml, cg_labelcfg *cfg)
{
    char err[512] = "";
    int rc = cg_labelcfg_parse(xml, strlen(xml), cfg, err, sizeof err);
    if (rc != 0) fail_msg("refused: %s\n  config: %s", err, xml);
}

/* Asserts the config is refused with a message containing needle. */
static void parse_fails(const char *xml, const char *needle)
{
    char err[512] = "";
    cg_labelcfg cfg;
    int rc = cg_labelcfg_parse(xml, strlen(xml), &cfg, err, sizeof err);
    if (rc == 0) {
        cg_labelcfg_free(&cfg);
        fail_msg("accepted: %s", xml);
    }
    if (!strstr(err, needle)) fail_msg("error \"%s\" lacks \"%s\" for: %s", err, needle, xml);
    assert_null(cfg.text_name);
    assert_null(cfg.choices);
}

static void accepts_the_demo_sentiment_config(void **state)
{
    cg_labelcfg c;
    parse_ok(
        "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"sentiment\" toName=\"text\" "
        "choice=\"single\"><Choice value=\"Positive\"/><Choice value=\"Negative\"/>"
        "<Choice value=\"Neutral\"/></Choices></View>",
        &c);
    assert_string_equal(c.text_name, "text");
    assert_string_equal(c.text_field, "text");
    assert_string_equal(c.choices_name, "sentiment");
    assert_int_equal(c.multiple, 0);
    assert_int_equal(c.n_choices, 3);
    assert_string_equal(c.choices[0], "Positive");
    assert_string_equal(c.choices[2], "Neutral");
    cg_labelcfg_free(&c);
    assert_null(c.choices);
}

static void accepts_any_attribute_order_quotes_spacing_and_layout(void **state)
{
    cg_labelcfg c;
    parse_ok("<?xml version=\"1.0\"?>\n<!-- review classifier -->\n<View style='display:flex'>\n"
             "  <Header value=\"Rate &quot;this&quot;\"/>\n"
             "  <Style>.x { color: red }</Style>\n"
             "  <Choices toName = 'review'  choice='multiple' name='topic' >\n"
             "    <Choice value='R&amp;D'></Choice>\n"
             "    <Choice alias=\"ops\" value=\"Operations &#x26; more\" />\n"
             "    <Choice value=\"caf&#233;\"/>\n"
             "  </Choices>\n"
             "  <Text value=\"$review_body\" name=\"review\"></Text>\n"
             "</View>\n",
             &c);
    assert_string_equal(c.text_name, "review");
    assert_string_equal(c.text_field, "review_body");
    assert_string_equal(c.choices_name, "topic");
    assert_int_equal(c.multiple, 1);
    assert_int_equal(c.n_choices, 3);
    assert_string_equal(c.choices[0], "R&D");
    assert_string_equal(c.choices[1], "ops");
    assert_string_equal(c.choices[2], "caf\xC3\xA9");
    cg_labelcfg_free(&c);
}

static void refuses_other_control_and_object_tags(void **state)
{
    parse_fails("<View><Text name=\"t\" value=\"$t\"/><Labels name=\"l\" toName=\"t\">"
                "<Label value=\"A\"/></Labels></View>",
                "unsupported tag <Labels>");
    parse_fails("<View><Image name=\"i\" value=\"$img\"/><Choices name=\"c\" toName=\"i\">"
                "<Choice value=\"A\"/><Choice value=\"B\"/></Choices></View>",
                "unsupported tag <Image>");
    parse_fails("<View><Text name=\"t\" value=\"$t\"/><TextArea name=\"x\" toName=\"t\"/></View>",
                "unsupported tag <TextArea>");
}

static void refuses_incomplete_or_inconsistent_configs(void **state)
{
    parse_fails("<View><Text name=\"t\" value=\"$t\"/></View>", "no <Choices>");
    parse_fails("<View><Choices name=\"c\" toName=\"t\"><Choice value=\"A\"/><Choice value=\"B\"/>"
                "</Choices></View>",
                "no <Text>");
    parse_fails("<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"other\">"
                "<Choice value=\"A\"/><Choice value=\"B\"/></Choices></View>",
                "must name the <Text> \"t\"");
    parse_fails("<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"t\">"
                "<Choice value=\"A\"/></Choices></View>",
                "at least two");
    parse_fails("<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"t\">"
                "<Choice value=\"A\"/><Choice value=\"A\"/></Choices></View>",
                "appears twice");
    parse_fails("<View><Text name=\"t\" value=\"plain\"/></View>", "\"$field\"");
    parse_fails("<View><Text name=\"t\" value=\"$t\" valueType=\"url\"/></View>", "valueType");
    parse_fails("<View><Text name=\"t\" value=\"$t\"/><Text name=\"u\" value=\"$u\"/></View>",
                "a second <Text>");
    parse_fails("<View><Choice value=\"A\"/></View>", "outside <Choices>");
    parse_fails("<View><Text value=\"$t\"/></View>", "needs a name");
    parse_fails(
        "<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"t\" choice=\"many\">"
        "<Choice value=\"A\"/><Choice value=\"B\"/></Choices></View>",
        "choice=\"many\"");
}

static void refuses_broken_xml_naming_the_line(void **state)
{
    parse_fails("", "no <Text>");
    parse_fails("<View>\n<Text name=\"t\" value=\"$t\"/>\n</Choices>",
                "line 3: </Choices> does not close <View>");
    parse_fails("<View><Text name=\"t\" value=\"$t\"/>", "<View> is never closed");
    parse_fails("<View><Text name=t value=\"$t\"/></View>", "must be quoted");
    parse_fails("<View><Text name=\"t\" value=\"$t/></View>", "'<' inside an attribute value");
    parse_fails("<View><Text name=\"t\" value=\"$t\"", "unterminated");
    parse_fails("<View><Text name=\"t\"value=\"$t\"/></View>", "expected a space");
    parse_fails("<View><Text name=\"t\" name=\"u\" value=\"$t\"/></View>", "appears twice");
    parse_fails("<View><Header value=\"a &nbsp; b\"/></View>", "unknown entity");
    parse_fails("<View><Header value=\"a & b\"/></View>", "does not start an entity");
    parse_fails("<View><Header value=\"&#0;\"/></View>", "bad character reference");
    parse_fails("<!DOCTYPE x><View/>", "DOCTYPE");
    parse_fails("<View><!-- open", "unterminated comment");
    parse_fails("<View", "unterminated <View> tag");
    parse_fails("<1View/>", "expected tag name");
}

static void refuses_deep_nesting_and_nul_bytes(void **state)
{
    char xml[1024] = "";
    for (int i = 0; i < 40; i++) strcat(xml, "<View>");
    parse_fails(xml, "nested deeper");
    char err[128];
    cg_labelcfg c;
    assert_int_equal(cg_labelcfg_parse("<View>\0</View>", 14, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));
    parse_fails("<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"t\">"
                "<Choice value=\"A\xff\"/><Choice value=\"B\"/></Choices></View>",
                "not valid UTF-8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_the_demo_sentiment_config),
        cmocka_unit_test(accepts_any_attribute_order_quotes_spacing_and_layout),
        cmocka_unit_test(refuses_other_control_and_object_tags),
        cmocka_unit_test(refuses_incomplete_or_inconsistent_configs),
        cmocka_unit_test(refuses_broken_xml_naming_the_line),
        cmocka_unit_test(refuses_deep_nesting_and_nul_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
