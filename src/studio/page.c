/*
 * page.c — studio's page and its static files, embedded in the binary. See page.h.
 *
 * Every answer carries a Content-Security-Policy that allows scripts, styles, images and
 * connections from this origin only (no inline script, no CDN), and the script renders
 * every database value as text.
 */
#include "studio/page.h"

#include <string.h>

#include "common/embed.h"
#include "common/www.h"

CG_EMBED(cg_studio_page_html, "src/studio/www/index.html");
CG_EMBED(cg_studio_page_js, "src/studio/www/studio.js");
CG_EMBED(cg_studio_page_css, "src/studio/www/studio.css");

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

int cg_studio_page_serve(const cg_http_request *req, cg_http_response *res)
{
    static const struct {
        const char *path, *type;
    } files[] = {
        {"/", "text/html; charset=utf-8"},
        {"/static/capgate/studio.js", "text/javascript; charset=utf-8"},
        {"/static/capgate/studio.css", "text/css; charset=utf-8"},
        {"/static/capgate/favicon.svg", "image/svg+xml"},
        {"/static/capgate/page.js", "text/javascript; charset=utf-8"},
        {"/static/capgate/page.css", "text/css; charset=utf-8"},
    };
    const char *data[][2] = {
        {cg_studio_page_html, cg_studio_page_html_end}, {cg_studio_page_js, cg_studio_page_js_end},
        {cg_studio_page_css, cg_studio_page_css_end},   {cg_www_favicon, cg_www_favicon_end},
        {cg_www_page_js, cg_www_page_js_end},           {cg_www_page_css, cg_www_page_css_end},
    };
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) return 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (strcmp(req->path, files[i].path)) continue;
        res->status = 200;
        res->content_type = files[i].type;
        cg_buf_append(&res->body, data[i][0], (size_t)(data[i][1] - data[i][0]));
        cg_http_response_header(res, "Content-Security-Policy", CSP);
        cg_http_response_header(res, "X-Content-Type-Options", "nosniff");
        cg_http_response_header(res, "Cache-Control", "no-store");
        cg_http_response_header(res, "Referrer-Policy", "no-referrer");
        return 1;
    }
    return 0;
}
