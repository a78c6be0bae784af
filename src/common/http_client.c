/*
 * http_client.c — see http_client.h.
 */
#include "common/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

int cg_http_client_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void cg_http_client_cleanup(void)
{
    curl_global_cleanup();
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cg_http_answer *a = userdata;
    return cg_buf_append(&a->body, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/* Keeps the reason phrase of each status line (the last one wins: 100-continue, redirects). */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cg_http_answer *a = userdata;
    size_t n = size * nmemb;
    if (n > 9 && !strncmp(ptr, "HTTP/", 5)) {
        const char *sp = memchr(ptr, ' ', n); /* before the code */
        const char *sp2 = sp ? memchr(sp + 1, ' ', n - (size_t)(sp + 1 - ptr)) : NULL;
        size_t len = 0;
        if (sp2) {
            const char *r = sp2 + 1;
            while (r + len < ptr + n && r[len] != '\r' && r[len] != '\n' &&
                   len < sizeof a->reason - 1)
                len++;
            memcpy(a->reason, r, len);
        }
        a->reason[len] = '\0';
    }
    return n;
}

static int on_progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const atomic_int *cancel = p;
    return cancel && atomic_load(cancel) ? 1 : 0;
}

static struct curl_slist *header_list(const cg_http_request_spec *rq)
{
    struct curl_slist *l = curl_slist_append(NULL, "Expect:"); /* never wait for 100-continue */
    for (const char *const *h = rq->headers; l && h && *h; h++) {
        struct curl_slist *n = curl_slist_append(l, *h);
        if (!n) {
            curl_slist_free_all(l);
            return NULL;
        }
        l = n;
    }
    return l;
}

static void set_method(CURL *h, const cg_http_request_spec *rq)
{
    const char *m = rq->method ? rq->method : rq->body ? "POST" : "GET";
    if (!strcmp(m, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    } else if (strcmp(m, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
        if (rq->body) curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
    }
}

static cg_http_outcome outcome_of(CURLcode cc, CURL *h)
{
    double connected = 0;
    switch (cc) {
    case CURLE_OK: return CG_HTTP_OK;
    case CURLE_COULDNT_CONNECT: return CG_HTTP_REFUSED;
    case CURLE_COULDNT_RESOLVE_HOST: return CG_HTTP_UNRESOLVED;
    case CURLE_ABORTED_BY_CALLBACK: return CG_HTTP_CANCELLED;
    case CURLE_WRITE_ERROR: return CG_HTTP_TOO_LARGE;
    case CURLE_OPERATION_TIMEDOUT:
        curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &connected);
        return connected > 0 ? CG_HTTP_READ_TIMEOUT : CG_HTTP_CONNECT_TIMEOUT;
    default: return CG_HTTP_FAILED;
    }
}

int cg_http_fetch(const cg_http_request_spec *rq, cg_http_answer *a)
{
    memset(a, 0, sizeof *a);
    a->body.max = rq->max_body;
    a->what = "";
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = h ? header_list(rq) : NULL;
    if (!h || !hdrs) {
        a->outcome = CG_HTTP_FAILED;
        a->what = "out of memory";
        curl_slist_free_all(hdrs);
        if (h) curl_easy_cleanup(h);
        return -1;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (rq->user_agent) curl_easy_setopt(h, CURLOPT_USERAGENT, rq->user_agent);
    if (rq->connect_timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms);
    if (rq->timeout_ms > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    if (rq->accept_encoding) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)rq->cancel);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (rq->user && rq->pass) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, rq->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, rq->pass);
    }
    set_method(h, rq);
    CURLcode cc = CURLE_OK;
    for (int attempt = 0; attempt <= rq->connect_retries; attempt++) {
        cg_buf_reset(&a->body);
        a->reason[0] = errbuf[0] = '\0';
        cc = curl_easy_perform(h);
        if (cc != CURLE_COULDNT_CONNECT || (rq->cancel && atomic_load(rq->cancel))) break;
    }
    a->outcome = outcome_of(cc, h);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    } else {
        a->what = curl_easy_strerror(cc);
        snprintf(a->detail, sizeof a->detail, "%s", errbuf);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return cc == CURLE_OK ? 0 : -1;
}

void cg_http_answer_free(cg_http_answer *a)
{
    cg_buf_free(&a->body);
}

void cg_http_url_parts(const char *url, char scheme[16], char host[256], char port[16],
                       char path[1024])
{
    CURLU *u = curl_url();
    char *s = NULL, *h = NULL, *p = NULL, *pa = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_SCHEME, &s, 0);
        curl_url_get(u, CURLUPART_HOST, &h, 0);
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT);
        curl_url_get(u, CURLUPART_PATH, &pa, 0);
    }
    snprintf(scheme, 16, "%s", s ? s : "?");
    snprintf(host, 256, "%s", h ? h : "?");
    snprintf(port, 16, "%s", p ? p : "?");
    snprintf(path, 1024, "%s", pa ? pa : "/");
    curl_free(s);
    curl_free(h);
    curl_free(p);
    curl_free(pa);
    curl_url_cleanup(u);
}
