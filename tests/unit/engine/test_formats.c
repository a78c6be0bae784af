/*
 * test_formats.c — every outputRawFormat converted to the JSON shape the reference engine's
 * Converter gives, and the refusals (broken input, YAML aliases, nesting beyond the cap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <avro.h>

#include "engine/formats.h"

static char *convert(const char *format, const char *schema, const char *body, size_t len)
{
    char err[256] = "";
    json_t *doc = cg_format_to_json(format, schema, body, len, err, sizeof err);
    if (!doc) fail_msg("%s: %s", format, err);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(doc);
    return s;
}

static char *refusal(const char *format, const char *body)
{
    char err[256] = "";
    json_t *doc = cg_format_to_json(format, NULL, body, strlen(body), err, sizeof err);
    if (doc) fail_msg("%s converted: %s", format, body);
    return strdup(err);
}

#define EXPECT(format, schema, body, want)                                                         \
    do {                                                                                           \
        const char *f_ = (format);                                                                 \
        char *g_ = convert(f_, schema, body, strlen(body));                                        \
        if (strcmp(g_, want)) fail_msg("%s\ngot  %s\nwant %s", f_ ? f_ : "(none)", g_, want);      \
        free(g_);                                                                                  \
    } while (0)

#define REFUSED(format, body, fragment)                                                            \
    do {                                                                                           \
        char *e_ = refusal(format, body);                                                          \
        if (!strstr(e_, fragment)) fail_msg("%s: '%s' lacks '%s'", format, e_, fragment);          \
        free(e_);                                                                                  \
    } while (0)

static void test_json(void **state)
{
    EXPECT("json", NULL, "[1, {\"a\": null}]", "[1,{\"a\":null}]");
    EXPECT(NULL, NULL, "\"s\"", "\"s\"");
    REFUSED("json", "{\"a\":", "not valid JSON");
}

static void test_xml(void **state)
{
    /* root name dropped, repeated elements an array, attributes as members, text-only
     * elements strings, mixed text under "" (Jackson XmlMapper's tree) */
    EXPECT("xml", NULL,
           "<?xml version=\"1.0\"?><root><user id=\"7\"><name>Alice</name><email>a@x</email></user>"
           "<user><name>Bob</name></user><note lang=\"en\">hi</note><empty/></root>",
           "{\"user\":[{\"id\":\"7\",\"name\":\"Alice\",\"email\":\"a@x\"},{\"name\":\"Bob\"}],"
           "\"note\":"
           "{\"lang\":\"en\",\"\":\"hi\"},\"empty\":\"\"}");
    REFUSED("xml", "<a><b></a>", "not valid XML");
    /* external entities are not fetched or expanded */
    EXPECT("xml", NULL, "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r><v>&x;</v></r>",
           "{\"v\":\"\"}");
}

static void test_xml_repeated_three(void **state)
{
    EXPECT("xml", NULL, "<r><u>1</u><u>2</u><u>3</u><w>x</w></r>",
           "{\"u\":[\"1\",\"2\",\"3\"],\"w\":\"x\"}");
}

static void test_yaml(void **state)
{
    EXPECT("yaml", NULL, "a: 1\nb: [true, ~, 2.5, '3', x]\nc:\n  d: \"q\"\n",
           "{\"a\":1,\"b\":[true,null,2.5,\"3\",\"x\"],\"c\":{\"d\":\"q\"}}");
    REFUSED("yaml", "a: &x [1]\nb: *x\n", "aliases");
    REFUSED("yaml", "a: [1\n", "not valid YAML");
    /* nesting beyond the cap is refused, not recursed into */
    size_t n = 2 * (CG_FORMAT_MAX_DEPTH + 10);
    char *deep = malloc(n + 1);
    for (size_t i = 0; i < n / 2; i++) deep[i] = '[';
    for (size_t i = n / 2; i < n; i++) deep[i] = ']';
    deep[n] = 0;
    REFUSED("yaml", deep, "deeper than");
    free(deep);
}

static void test_delimited(void **state)
{
    EXPECT("csv", NULL, "id,name,email\n1,\"Smith, Alice\",a@x\n2,Bob,\"b\"\"@x\"\n\n",
           "[{\"id\":\"1\",\"name\":\"Smith, Alice\",\"email\":\"a@x\"},"
           "{\"id\":\"2\",\"name\":\"Bob\",\"email\":\"b\\\"@x\"}]");
    EXPECT("tsv", NULL, "a\tb\r\n1\t2\r\n", "[{\"a\":\"1\",\"b\":\"2\"}]");
    EXPECT("psv", NULL, "a|b\n1|2|extra\n3\n", "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\"}]");
    EXPECT("csv", NULL, "", "[]");
}

static const char *html =
    "<html><body><table><tr><th>Other</th></tr><tr><td>o</td></tr></table>"
    "<section class=\"inventory\"><table class=\"products big\">"
    "<thead><tr><th>Name</th><th>Price</th><th>Stock</th></tr></thead>"
    "<tbody><tr><td>Widget</td><td>$42</td><td>150</td></tr>"
    "<tr><td> Gadget\n  Pro </td><td>$99</td></tr></tbody></table></section></body></html>";

static void test_html(void **state)
{
    EXPECT("html", "table.products", html,
           "{\"tables\":[[{\"Name\":\"Widget\",\"Price\":\"$42\",\"Stock\":\"150\"},"
           "{\"Name\":\"Gadget Pro\",\"Price\":\"$99\",\"Stock\":\"\"}]]}");
    EXPECT("html", "section.inventory", html,
           "{\"tables\":[[{\"Name\":\"Widget\",\"Price\":\"$42\",\"Stock\":\"150\"},"
           "{\"Name\":\"Gadget Pro\",\"Price\":\"$99\",\"Stock\":\"\"}]]}");
    EXPECT("html", NULL, html,
           "{\"tables\":[[{\"Other\":\"o\"}],[{\"Name\":\"Widget\",\"Price\":\"$42\",\"Stock\":"
           "\"150\"},"
           "{\"Name\":\"Gadget Pro\",\"Price\":\"$99\",\"Stock\":\"\"}]]}");
    EXPECT("html", "#nothing", html, "{\"tables\":[]}");
}

static const char *markdown =
    "---\ntitle: Notes\nversion: 2.1.0\n---\n\n## Overview\nThis release adds **tables**\nfor "
    "markdown.\n\n"
    "| Feature | Status |\n|---------|--------|\n| HTML support | GA |\n| Markdown | Beta |\n\n"
    "## Next\n- one\n- two\n";

static void test_markdown(void **state)
{
    EXPECT("markdown", NULL, markdown,
           "{\"frontMatter\":{\"title\":\"Notes\",\"version\":\"2.1.0\"},\"tables\":[[{\"Feature\":"
           "\"HTML support\",\"Status\":\"GA\"},{\"Feature\":\"Markdown\",\"Status\":\"Beta\"}]],"
           "\"sections\":[{\"heading\":\"Overview\",\"level\":2,\"content\":\"This release adds "
           "tables "
           "for markdown.\"},{\"heading\":\"Next\",\"level\":2,\"content\":\"onetwo\"}]}");
    EXPECT("markdown", "Next", "# Top\ntext\n# Next one\nmore\n",
           "{\"frontMatter\":{},\"tables\":[],\"sections\":[{\"heading\":\"Next one\",\"level\":1,"
           "\"content\":\"more\"}]}");
}

static void test_avro(void **state)
{
    static const char *schema_json =
        "{\"type\":\"record\",\"name\":\"Ship\",\"fields\":[{\"name\":\"imo\",\"type\":\"string\"},"
        "{\"name\":\"tonnage\",\"type\":\"long\"}]}";
    char path[] = "/tmp/test_formats_avscXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, schema_json, strlen(schema_json)), (ssize_t)strlen(schema_json));
    close(fd);
    /* encode one datum with avro-c itself */
    avro_schema_t schema;
    assert_int_equal(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec, field;
    avro_generic_value_new(iface, &rec);
    avro_value_get_by_name(&rec, "imo", &field, NULL);
    avro_value_set_string(&field, "IMO-1");
    avro_value_get_by_name(&rec, "tonnage", &field, NULL);
    avro_value_set_long(&field, 42000);
    char buf[256];
    avro_writer_t w = avro_writer_memory(buf, sizeof buf);
    assert_int_equal(avro_value_write(w, &rec), 0);
    size_t len = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    char *got = convert("avro", path, buf, len);
    assert_string_equal(got, "{\"imo\":\"IMO-1\",\"tonnage\":42000}");
    free(got);
    char err[256];
    assert_null(cg_format_to_json("avro", path, "\x01", 1, err, sizeof err));
    assert_non_null(strstr(err, "not a valid Avro datum"));
    assert_null(cg_format_to_json("avro", "/nonexistent.avsc", buf, len, err, sizeof err));
    assert_non_null(strstr(err, "cannot be read"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_xml),
        cmocka_unit_test(test_xml_repeated_three),
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_delimited),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_avro),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
