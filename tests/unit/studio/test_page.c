/*
 * Unit tests for studio/page.h (src/studio/page.c): the embedded page and its files, served
 * through a real common/httpd.h server on loopback. Each file comes back byte for byte as
 * it is in the source tree (src/studio/www, src/common/www) with its type and the security
 * headers; every file the page links to is served; the page has no inline script (the CSP
 * allows none); HEAD is served, other methods and other paths are left to the caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loopback.h"

#include "common/httpd.h"
#include "studio/page.h"

typedef struct fixture {
    cg_httpd *d;
    int port;
} fixture;

/* The page, else 404 "{}" (as studio's own router does after it). */
static void handler(void *ctx, const cg_http_request *req, cg_http_response *res)
{
    if (!cg_studio_page_serve(req, res)) cg_http_response_json(res, 404, "{\"detail\":\"none\"}");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    f->d = cg_httpd_start(NULL, 0, 1024, handler, f, err, sizeof err);
    if (!f->d) {
        print_error("%s\n", err);
        return -1;
    }
    f->port = cg_httpd_port(f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_httpd_stop(f->d);
    free(f);
    return 0;
}

/* A file of the source tree, whole (malloc'd; *len set). */
static char *read_source(const char *path, size_t *len)
{
    FILE *in = fopen(path, "rb");
    if (!in) fail_msg("cannot read %s (run from the repository root)", path);
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, in), (size_t)n);
    data[n] = '\0';
    fclose(in);
    *len = (size_t)n;
    return data;
}

typedef struct answer {
    int status;
    char head[2048];
    const char *body; /* in loopback_exchange's buffer */
} answer;

static answer get(const fixture *f, const char *method, const char *path)
{
    char req[256];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             method, path);
    const char *raw = loopback_exchange(f->port, req, 5);
    answer a = {0};
    sscanf(raw, "HTTP/1.1 %d", &a.status);
    a.body = loopback_body(raw);
    snprintf(a.head, sizeof a.head, "%.*s", (int)(a.body - raw), raw);
    return a;
}

static void has_header(const answer *a, const char *line)
{
    if (!strcasestr(a->head, line)) fail_msg("no '%s' in:\n%s", line, a->head);
}

static void every_file_byte_for_byte_with_its_type(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *path, *source, *type;
    } files[] = {
        {"/", "src/studio/www/index.html", "text/html; charset=utf-8"},
        {"/static/capgate/studio.js", "src/studio/www/studio.js", "text/javascript; charset=utf-8"},
        {"/static/capgate/studio.css", "src/studio/www/studio.css", "text/css; charset=utf-8"},
        {"/static/capgate/favicon.svg", "src/common/www/favicon.svg", "image/svg+xml"},
        {"/static/capgate/page.js", "src/common/www/page.js", "text/javascript; charset=utf-8"},
        {"/static/capgate/page.css", "src/common/www/page.css", "text/css; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t len;
        char *want = read_source(files[i].source, &len);
        answer a = get(f, "GET", files[i].path);
        assert_int_equal(a.status, 200);
        char line[128];
        snprintf(line, sizeof line, "\r\nContent-Type: %s\r\n", files[i].type);
        has_header(&a, line);
        snprintf(line, sizeof line, "\r\nContent-Length: %zu\r\n", len);
        has_header(&a, line);
        has_header(&a, "\r\nContent-Security-Policy: default-src 'none'; script-src 'self';");
        has_header(&a, "\r\nX-Content-Type-Options: nosniff\r\n");
        has_header(&a, "\r\nCache-Control: no-store\r\n");
        has_header(&a, "\r\nReferrer-Policy: no-referrer\r\n");
        assert_int_equal(strlen(a.body), len);
        assert_memory_equal(a.body, want, len);
        free(want);
    }
}

static void the_page_links_only_to_files_it_serves(void **state)
{
    fixture *f = *state;
    size_t len;
    char *html = read_source("src/studio/www/index.html", &len);
    int links = 0;
    for (const char *p = html; (p = strstr(p, "=\"/")) != NULL; p += 3) {
        if (strncmp(p - 3, "src", 3) && strncmp(p - 4, "href", 4)) continue;
        char path[256];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(p + 2, "\"?#"), p + 2);
        answer a = get(f, "GET", path);
        if (a.status != 200) fail_msg("the page links to %s, which is %d", path, a.status);
        links++;
    }
    assert_true(links >= 4); /* the icon, two stylesheets, two scripts */
    /* no inline script: every <script has a src */
    for (const char *p = html; (p = strstr(p, "<script")) != NULL; p++) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        char tag[256];
        snprintf(tag, sizeof tag, "%.*s", (int)(end - p), p);
        if (!strstr(tag, " src=\"/static/")) fail_msg("an inline script: %s", tag);
    }
    assert_null(strstr(html, " onclick="));
    assert_null(strstr(html, " onload="));
    free(html);
}

static void other_methods_and_paths_are_not_the_pages(void **state)
{
    fixture *f = *state;
    answer a = get(f, "HEAD", "/static/capgate/studio.css");
    assert_int_equal(a.status, 200);
    has_header(&a, "\r\nContent-Type: text/css; charset=utf-8\r\n");
    assert_string_equal(a.body, "");

    static const char *const paths[] = {"/index.html", "/static/capgate/", "/static/capgate/x.js",
                                        "/static/capgate/studio.js/", "/api/projects"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        a = get(f, "GET", paths[i]);
        if (a.status != 404) fail_msg("%s answered %d", paths[i], a.status);
    }
    a = get(f, "POST", "/");
    assert_int_equal(a.status, 404);
    assert_string_equal(a.body, "{\"detail\":\"none\"}");

    /* called directly: 0, and the response untouched */
    cg_http_request rq = {.method = "DELETE", .path = "/", .body = ""};
    cg_http_response res = {.status = 299, .body = CG_BUF_INIT};
    assert_int_equal(cg_studio_page_serve(&rq, &res), 0);
    assert_int_equal(res.status, 299);
    assert_int_equal(res.body.len, 0);
    assert_int_equal(res.n_headers, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_file_byte_for_byte_with_its_type),
        cmocka_unit_test(the_page_links_only_to_files_it_serves),
        cmocka_unit_test(other_methods_and_paths_are_not_the_pages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
