/*
 * Unit tests for common/lazylib.h: libxml2 is not mapped until first asked for, is loaded
 * once however many threads ask, and the forwarded functions of libxml2 and avro-c work
 * (a document parsed and read, a broken one refused with libxml2's message, an Avro record
 * decoded to JSON, a bad Avro schema refused).
 * Not tested here: a library that cannot be loaded (the sonames are fixed at build time, so
 * a test cannot make one go missing without changing src/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include <avro.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "common/lazylib.h"

/* How many lines of /proc/self/maps name a file containing needle. */
static int mapped(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

static void *ask_xml(void *arg)
{
    char err[128];
    return (void *)(intptr_t)cg_lazylib_xml(err, sizeof err);
}

static void test_xml_loads_on_first_use_once(void **state)
{
    assert_int_equal(mapped("libxml2"), 0); /* not linked: nothing at start-up */
    pthread_t t[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, ask_xml, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        assert_true((intptr_t)ok);
    }
    int after = mapped("libxml2");
    assert_true(after > 0);
    char err[128] = "";
    assert_true(cg_lazylib_xml(err, sizeof err));
    assert_string_equal(err, "");
    assert_int_equal(mapped("libxml2"), after); /* asked again: nothing new mapped */
}

static void test_xml_functions_work(void **state)
{
    assert_true(cg_lazylib_xml(NULL, 0));
    static const char doc_text[] = "<ship imo=\"9074729\"><name>Ever Given</name></ship>";
    xmlDocPtr doc = xmlReadMemory(doc_text, (int)strlen(doc_text), NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    assert_non_null(doc);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->name, "ship");
    xmlChar *imo = xmlGetProp(root, (const xmlChar *)"imo");
    assert_string_equal((const char *)imo, "9074729");
    xmlFree(imo);
    xmlChar *content = xmlNodeGetContent(root);
    assert_string_equal((const char *)content, "Ever Given");
    xmlFree(content);
    xmlFreeDoc(doc);

    static const char broken[] = "<ship><name>Ever</ship>";
    doc = xmlReadMemory(broken, (int)strlen(broken), NULL, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    assert_null(doc);
    const xmlError *e = xmlGetLastError();
    assert_non_null(e);
    assert_non_null(e->message);
    assert_non_null(strstr(e->message, "Premature end of data in tag ship"));
}

static void test_avro_functions_work(void **state)
{
    char err[256] = "";
    assert_true(cg_lazylib_avro(err, sizeof err));
    static const char schema_text[] =
        "{\"type\":\"record\",\"name\":\"Ship\",\"fields\":["
        "{\"name\":\"tonnage\",\"type\":\"long\"},{\"name\":\"name\",\"type\":\"string\"}]}";
    avro_schema_t schema;
    assert_int_equal(avro_schema_from_json_length(schema_text, strlen(schema_text), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    assert_non_null(iface);
    avro_value_t value;
    assert_int_equal(avro_generic_value_new(iface, &value), 0);
    /* tonnage 3 (zig-zag: 6), name "hi" (length 2 zig-zag: 4) */
    static const char bytes[] = {0x06, 0x04, 'h', 'i'};
    avro_reader_t reader = avro_reader_memory(bytes, sizeof bytes);
    assert_int_equal(avro_value_read(reader, &value), 0);
    char *json = NULL;
    assert_int_equal(avro_value_to_json(&value, 1, &json), 0);
    assert_string_equal(json, "{\"tonnage\": 3, \"name\": \"hi\"}");
    free(json);
    avro_reader_free(reader);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);

    avro_schema_t bad;
    assert_int_not_equal(avro_schema_from_json_length("{\"type\":\"nope\"}", 15, &bad), 0);
    assert_true(strlen(avro_strerror()) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_loads_on_first_use_once),
        cmocka_unit_test(test_xml_functions_work),
        cmocka_unit_test(test_avro_functions_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
