/*
 * page.h — studio's web page at / (Label Studio serves its app there).
 *
 * The page (HTML, CSS, JavaScript embedded in the binary: src/studio/www/) lists projects
 * with their task, annotation and prediction counts, each project's ML backends with state
 * and model versions, and each backend's latest prediction run with live progress, with
 * train and predict-all buttons. It uses studio's own JSON API with studio's own auth (the
 * page asks for the API key and keeps it in the tab), so the page itself needs no token.
 */
#ifndef CG_STUDIO_PAGE_H
#define CG_STUDIO_PAGE_H

#include "common/httpd.h"

/* Answers GET/HEAD of the page and its files (/, /static/capgate/...). Returns 1 when the
 * request was one of them (res is filled), 0 otherwise (res untouched). */
int cg_studio_page_serve(const cg_http_request *req, cg_http_response *res);

#endif
