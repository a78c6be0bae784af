/*
 * httpd.c — synchronous HTTP server on libmicrohttpd, one thread per connection.
 *
 * libmicrohttpd calls the access handler several times per request: first with headers
 * parsed (we allocate the request state), then once per body chunk (we append to a capped
 * buffer), then with no more data (we run the user's handler and queue the response).
 * The state is freed in the request-completed callback, whatever happened.
 */
#include "common/httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/unescape.h"

struct cg_httpd {
    struct MHD_Daemon *daemon;
    cg_httpd_handler handler;
    void *ctx;
    size_t max_body;
    int port;
};

typedef struct request_state {
    cg_buf body;
    int too_large;
} request_state;

const char *cg_http_header(const cg_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->_conn, MHD_HEADER_KIND, name);
}

const char *cg_http_query(const cg_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->_conn, MHD_GET_ARGUMENT_KIND, name);
}

int cg_http_response_header(cg_http_response *res, const char *name, const char *value)
{
    if (res->n_headers >= CG_HTTP_MAX_EXTRA_HEADERS) return -1;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    res->header_names[res->n_headers] = n;
    res->header_values[res->n_headers] = v;
    res->n_headers++;
    return 0;
}

void cg_http_response_json(cg_http_response *res, int status, const char *json)
{
    res->status = status;
    res->content_type = "application/json";
    cg_buf_reset(&res->body);
    cg_buf_append_str(&res->body, json);
}

static void response_free(cg_http_response *res)
{
    cg_buf_free(&res->body);
    for (int i = 0; i < res->n_headers; i++) {
        free(res->header_names[i]);
        free(res->header_values[i]);
    }
}

static enum MHD_Result queue(struct MHD_Connection *conn, cg_http_response *res)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        res->body.len, res->body.data ? res->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (res->content_type && res->body.len > 0)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    for (int i = 0; i < res->n_headers; i++)
        MHD_add_response_header(r, res->header_names[i], res->header_values[i]);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ok;
}

static const char *peer_address(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr) return out;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
    return out;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    cg_httpd *d = cls;
    request_state *st = *req_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->body.max = d->max_body;
        *req_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!st->too_large && cg_buf_append(&st->body, upload_data, *upload_data_size) != 0)
            st->too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    cg_http_response res = {.status = 200, .content_type = "application/json"};
    if (st->too_large) {
        cg_http_response_json(&res, 413, "{\"detail\":\"Request body too large.\"}");
    } else {
        char addr[INET6_ADDRSTRLEN];
        cg_http_request req = {
            .method = method,
            .path = url,
            .body = st->body.data ? st->body.data : "",
            .body_len = st->body.len,
            .remote_addr = peer_address(conn, addr, sizeof addr),
            ._conn = conn,
        };
        d->handler(d->ctx, &req, &res);
    }
    enum MHD_Result ok = queue(conn, &res);
    response_free(&res);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request_state *st = *req_cls;
    if (st) {
        cg_buf_free(&st->body);
        free(st);
        *req_cls = NULL;
    }
}

/* MHD_OPTION_UNESCAPE_CALLBACK: %XY decoding that keeps %00 encoded (common/unescape.h) */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *conn, char *s)
{
    return cg_unescape_keep_nul(s);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_error(void *cls, const char *fmt,
                                                               va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    cg_log(CG_LOG_DEBUG, "httpd", "%s", msg);
}

cg_httpd *cg_httpd_start(const char *address, int port, size_t max_body, cg_httpd_handler handler,
                         void *ctx, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, address ? address : "127.0.0.1", &sa.sin_addr) != 1) {
        snprintf(err, errlen, "invalid listen address '%s' (an IPv4 address is expected)", address);
        return NULL;
    }
    cg_httpd *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->handler = handler;
    d->ctx = ctx;
    d->max_body = max_body;
    d->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, d, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape_keep_nul, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, d,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_END);
    if (!d->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (port in use?)",
                 address ? address : "127.0.0.1", port);
        free(d);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d->daemon, MHD_DAEMON_INFO_BIND_PORT);
    d->port = di ? di->port : port;
    return d;
}

int cg_httpd_port(const cg_httpd *d)
{
    return d->port;
}

void cg_httpd_stop(cg_httpd *d)
{
    if (!d) return;
    MHD_stop_daemon(d->daemon);
    free(d);
}
