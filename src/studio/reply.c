/*
 * reply.c — Label Studio's response shapes: compact JSON, the error body, the HTML 404,
 * and request-body parsing as Django REST framework's parsers do it. See app.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "common/mediatype.h"
#include "common/unescape.h"
#include "studio/app.h"
#include "studio/records.h"

void cg_studio_reply(cg_http_response *res, int status, json_t *value)
{
    res->status = status;
    res->content_type = "application/json";
    cg_buf_reset(&res->body);
    char *text = value ? json_dumps(value, CG_STUDIO_JSON | JSON_ENCODE_ANY) : NULL;
    if (text) {
        cg_buf_append_str(&res->body, text);
        free(text);
    } else if (value) {
        res->status = 500;
        cg_buf_append_str(&res->body, "{\"detail\":\"out of memory\"}");
    }
    json_decref(value);
}

void cg_studio_uuid4(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void cg_studio_reply_error(cg_http_response *res, int status, const char *detail,
                           json_t *validation_errors)
{
    char id[37];
    cg_studio_uuid4(id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "status_code", json_integer(status));
    json_object_set_new(o, "version", json_string(CG_STUDIO_LS_VERSION));
    json_object_set_new(o, "detail", json_string(detail ? detail : "Unknown error"));
    json_object_set_new(o, "exc_info", json_null());
    if (validation_errors) json_object_set_new(o, "validation_errors", validation_errors);
    cg_studio_reply(res, status, o);
}

void cg_studio_reply_field_error(cg_http_response *res, const char *field, const char *msg)
{
    cg_studio_reply_error(res, 400, "Validation error", json_pack("{s:[s]}", field, msg));
}

void cg_studio_reply_html404(cg_http_response *res)
{
    res->status = 404;
    res->content_type = "text/html; charset=utf-8";
    cg_buf_reset(&res->body);
    cg_buf_append_str(&res->body,
                      "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n"
                      "</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not "
                      "found on this server.</p>\n</body>\n</html>\n");
}

int64_t cg_studio_parse_id(const char *s)
{
    if (!s || !*s || strlen(s) > 18) return 0;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* Decodes application/x-www-form-urlencoded text in place: '+' is a space, then %XY as
 * everywhere (a %00 stays encoded rather than cutting the value). */
static void form_decode(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '+') *p = ' ';
    cg_unescape_keep_nul(s);
}

static json_t *parse_form(const char *body, size_t len)
{
    char *copy = strndup(body, len);
    json_t *o = json_object();
    if (!copy || !o) {
        free(copy);
        json_decref(o);
        return NULL;
    }
    char *save = NULL;
    for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        char *val = eq ? eq + 1 : (char *)"";
        if (eq) *eq = '\0';
        form_decode(pair);
        if (eq) form_decode(val);
        json_t *s = json_stringn_nocheck(val, strlen(val));
        if (s && *pair) json_object_set_new(o, pair, s);
        else json_decref(s);
    }
    free(copy);
    return o;
}

/* The value of parameter name (e.g. boundary, name) in a header value like
 * `multipart/form-data; boundary=x`, unquoted, into out. 0 when found. */
static int header_param(const char *v, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = strchr(v, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t') q++;
        if (strncasecmp(q, name, nl) || q[nl] != '=') continue;
        q += nl + 1;
        size_t n = *q == '"' ? strcspn(q + 1, "\"") : strcspn(q, "; \t\r\n");
        if (*q == '"') q++;
        if (n == 0 || n >= outlen) return -1;
        memcpy(out, q, n);
        out[n] = '\0';
        return 0;
    }
    return -1;
}

/* multipart/form-data (RFC 7578) as an object of strings: each part's name and its body.
 * File parts (with a filename) are refused: studio stores no uploads. NULL with msg set. */
static json_t *parse_multipart(const char *body, size_t len, const char *boundary, char *msg,
                               size_t msglen)
{
    char delim[96];
    int dl = snprintf(delim, sizeof delim, "--%s", boundary);
    json_t *o = json_object();
    const char *end = body + len;
    const char *p = memmem(body, len, delim, (size_t)dl);
    while (o && p) {
        p += dl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return o; /* the closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') break;
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) break;
        char name[256] = "", fname[8];
        for (const char *h = p; h < hend;) {
            const char *eol = memmem(h, (size_t)(hend - h), "\r\n", 2);
            size_t hl = eol ? (size_t)(eol - h) : (size_t)(hend - h);
            if (hl > 20 && !strncasecmp(h, "Content-Disposition:", 20)) {
                char line[1024];
                snprintf(line, sizeof line, "%.*s", (int)hl, h);
                if (header_param(line, "name", name, sizeof name) != 0) name[0] = '\0';
                if (header_param(line, "filename", fname, sizeof fname) == 0 ||
                    strstr(line, "filename=")) {
                    snprintf(msg, msglen,
                             "File uploads are not supported: send the field "
                             "values only.");
                    json_decref(o);
                    return NULL;
                }
            }
            h += hl + 2;
        }
        const char *val = hend + 4;
        char crlf_delim[100];
        int cl = snprintf(crlf_delim, sizeof crlf_delim, "\r\n%s", delim);
        const char *next = memmem(val, (size_t)(end - val), crlf_delim, (size_t)cl);
        if (!next || !*name) break;
        json_object_set_new(o, name, json_stringn_nocheck(val, (size_t)(next - val)));
        p = next + 2;
    }
    snprintf(msg, msglen, "Multipart form parse error - Invalid boundary in multipart: None");
    json_decref(o);
    return NULL;
}

int cg_studio_body_is_form(const cg_http_request *req)
{
    const char *ct = cg_http_header(req, "Content-Type");
    return ct && (!strncasecmp(ct, "application/x-www-form-urlencoded", 33) ||
                  !strncasecmp(ct, "multipart/form-data", 19));
}

json_t *cg_studio_parse_body(const cg_http_request *req, cg_http_response *res)
{
    const char *ct = cg_http_header(req, "Content-Type");
    if (req->body_len == 0 || !ct) return json_object();
    char media[128];
    size_t n = strcspn(ct, ";");
    snprintf(media, sizeof media, "%.*s", (int)(n < sizeof media ? n : sizeof media - 1), ct);
    while (n && isspace((unsigned char)media[strlen(media) - 1])) media[strlen(media) - 1] = '\0';
    if (cg_mediatype_is_json(ct)) {
        json_error_t je;
        json_t *v = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &je);
        if (!v) {
            char detail[300];
            snprintf(detail, sizeof detail, "JSON parse error - %s: line %d column %d (char %d)",
                     je.text, je.line, je.column, je.position);
            cg_studio_reply_error(res, 400, detail, NULL);
        }
        return v;
    }
    if (!strcasecmp(media, "application/x-www-form-urlencoded")) {
        json_t *v = parse_form(req->body, req->body_len);
        if (!v) cg_studio_reply_error(res, 500, "out of memory", NULL);
        return v;
    }
    if (!strcasecmp(media, "multipart/form-data")) {
        char boundary[72], msg[160];
        json_t *v = NULL;
        if (header_param(ct, "boundary", boundary, sizeof boundary) != 0)
            snprintf(msg, sizeof msg,
                     "Multipart form parse error - Invalid boundary in "
                     "multipart: None");
        else v = parse_multipart(req->body, req->body_len, boundary, msg, sizeof msg);
        if (!v) cg_studio_reply_error(res, 400, msg, NULL);
        return v;
    }
    char detail[200];
    snprintf(detail, sizeof detail, "Unsupported media type \"%s\" in request.", media);
    cg_studio_reply_error(res, 415, detail, NULL);
    return NULL;
}

void cg_studio_reply_lookup_error(cg_http_response *res, int rc, const char *not_found)
{
    cg_studio_reply_error(res, rc < 0 ? 500 : 404, rc < 0 ? "database error" : not_found, NULL);
}

int cg_studio_project_or_404(cg_studio_app *app, int64_t id, cg_studio_project *p,
                             cg_http_response *res)
{
    cg_studio_project tmp;
    int rc = cg_studio_store_project_get(app->store, id, p ? p : &tmp);
    if (rc != 0) {
        cg_studio_reply_lookup_error(res, rc, "No Project matches the given query.");
        return -1;
    }
    if (!p) cg_studio_project_clear(&tmp);
    return 0;
}

void cg_studio_add_error(json_t *errors, const char *field, const char *msg)
{
    json_t *list = json_object_get(errors, field);
    if (!list) {
        list = json_array();
        json_object_set_new(errors, field, list);
    }
    json_array_append_new(list, json_string(msg));
}

const char *cg_studio_py_type(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "dict";
    case JSON_ARRAY: return "list";
    case JSON_STRING: return "str";
    case JSON_INTEGER: return "int";
    case JSON_REAL: return "float";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "NoneType";
    }
}

json_t *cg_studio_object_body(const cg_http_request *req, cg_http_response *res)
{
    json_t *body = cg_studio_parse_body(req, res);
    if (body && !json_is_object(body)) {
        char msg[120];
        snprintf(msg, sizeof msg, "Invalid data. Expected a dictionary, but got %s.",
                 cg_studio_py_type(body));
        cg_studio_reply_error(res, 400, "Validation error",
                              json_pack("{s:[s]}", "non_field_errors", msg));
        json_decref(body);
        return NULL;
    }
    return body;
}
