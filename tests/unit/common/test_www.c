/*
 * Unit tests for common/www.h: the embedded page files are exactly the files in
 * src/common/www/ (so a rebuilt binary never serves a stale copy), and each is what its
 * name says (script, style sheet, SVG).
 * Run from the repository root (make unit does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/www.h"

static void same_as_file(const char *start, const char *end, const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *data = malloc((size_t)size + 1);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    assert_true(size > 0);
    assert_int_equal(end - start, size);
    assert_memory_equal(start, data, (size_t)size);
    free(data);
}

static void embedded_files_match_the_sources(void **state)
{
    same_as_file(cg_www_page_js, cg_www_page_js_end, "src/common/www/page.js");
    same_as_file(cg_www_page_css, cg_www_page_css_end, "src/common/www/page.css");
    same_as_file(cg_www_favicon, cg_www_favicon_end, "src/common/www/favicon.svg");
}

static void each_file_is_what_its_name_says(void **state)
{
    size_t n = (size_t)(cg_www_favicon_end - cg_www_favicon);
    char *svg = strndup(cg_www_favicon, n);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
    char *css = strndup(cg_www_page_css, (size_t)(cg_www_page_css_end - cg_www_page_css));
    assert_non_null(strchr(css, '{'));
    assert_null(strstr(css, "<script"));
    free(css);
    char *js = strndup(cg_www_page_js, (size_t)(cg_www_page_js_end - cg_www_page_js));
    assert_non_null(strstr(js, "function"));
    free(js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embedded_files_match_the_sources),
        cmocka_unit_test(each_file_is_what_its_name_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
