/*
 * catalog.c — MCP resources and prompts from the spec model. See catalog.h.
 *
 * The file reads in the order of the five methods it serves: the lists (a directory
 * resource is walked at each resources/list, so files added later show up), then the URI
 * matching that resources/read starts with, the static read with its containment checks,
 * and last prompt rendering. Files are small local reads capped at
 * CG_MCP_RESOURCE_MAX_BYTES; nothing here waits on the network.
 */
#include "mcp/catalog.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/unescape.h"
#include "mcp/jsonrpc.h"

/* --- locations ---------------------------------------------------------------------------- */

/* The file system path a file:/// location names, percent-decoded, in a new string:
 * file:///./x (and file://./x) is relative to the working directory, file:///x absolute. */
static char *location_path(const char *location)
{
    const char *p = location + 7; /* after "file://" */
    if (!strncmp(p, "/./", 3)) p++;
    char *path = strdup(p);
    if (path) cg_unescape_keep_nul(path);
    return path;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *guess_mime(const char *name)
{
    static const char *const map[][2] = {
        {".md", "text/markdown"},      {".markdown", "text/markdown"},
        {".json", "application/json"}, {".yaml", "application/yaml"},
        {".yml", "application/yaml"},  {".txt", "text/plain"},
        {".xml", "application/xml"},   {".html", "text/html"},
        {".htm", "text/html"},         {".csv", "text/csv"},
        {".js", "text/javascript"},    {".css", "text/css"},
    };
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (!strcasecmp(dot, map[i][0])) return map[i][1];
    return "text/plain";
}

/* --- lists ---------------------------------------------------------------------------------- */

static json_t *resource_entry(const cg_mcp_resource *r, const char *uri, const char *mime)
{
    json_t *e = json_pack("{s:s, s:s}", "uri", uri, "name", r->name);
    if (!e) return NULL;
    if (r->title) json_object_set_new(e, "title", json_string(r->title));
    if (r->description) json_object_set_new(e, "description", json_string(r->description));
    if (mime) json_object_set_new(e, "mimeType", json_string(mime));
    return e;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends <uri>/<rel> entries for the regular files under dir (sorted per directory,
 * symbolic links not followed). */
static void walk_dir(const cg_mcp_resource *r, const char *dir, const char *rel, int depth,
                     json_t *out, size_t *count)
{
    if (depth > 16) return;
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue; /* ., .. and hidden files */
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) break;
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], sub[PATH_MAX];
        struct stat st;
        if (*count < CG_MCP_RESOURCE_MAX_FILES &&
            snprintf(path, sizeof path, "%s/%s", dir, names[i]) < (int)sizeof path &&
            snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]) < (int)sizeof sub &&
            lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                walk_dir(r, path, sub, depth + 1, out, count);
            } else if (S_ISREG(st.st_mode)) {
                cg_buf uri = CG_BUF_INIT;
                if (cg_buf_printf(&uri, "%s/%s", r->uri, sub) == 0) {
                    json_array_append_new(
                        out,
                        resource_entry(r, uri.data, r->mime_type ? r->mime_type : guess_mime(sub)));
                    (*count)++;
                }
                cg_buf_free(&uri);
            }
        }
        free(names[i]);
    }
    free(names);
}

json_t *cg_mcp_resources_json(const cg_mcp_adapter *a)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < a->n_resources; i++) {
        const cg_mcp_resource *r = &a->resources[i];
        if (r->location) {
            char *path = location_path(r->location);
            if (path && is_dir(path)) {
                size_t count = 0;
                walk_dir(r, path, "", 0, list, &count);
            } else {
                json_array_append_new(
                    list,
                    resource_entry(r, r->uri,
                                   r->mime_type ? r->mime_type : guess_mime(path ? path : "")));
            }
            free(path);
        } else if (!r->is_template) {
            json_array_append_new(list, resource_entry(r, r->uri, r->mime_type));
        }
    }
    return list;
}

json_t *cg_mcp_resource_templates_json(const cg_mcp_adapter *a)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < a->n_resources; i++) {
        const cg_mcp_resource *r = &a->resources[i];
        if (!r->is_template || r->location) continue;
        json_t *e = json_pack("{s:s, s:s}", "uriTemplate", r->uri, "name", r->name);
        if (e && r->title) json_object_set_new(e, "title", json_string(r->title));
        if (e && r->description) json_object_set_new(e, "description", json_string(r->description));
        if (e && r->mime_type) json_object_set_new(e, "mimeType", json_string(r->mime_type));
        json_array_append_new(list, e);
    }
    return list;
}

json_t *cg_mcp_prompts_json(const cg_mcp_adapter *a)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < a->n_prompts; i++) {
        const cg_mcp_prompt *p = &a->prompts[i];
        json_t *e = json_pack("{s:s}", "name", p->name);
        if (!e) break;
        if (p->title) json_object_set_new(e, "title", json_string(p->title));
        if (p->description) json_object_set_new(e, "description", json_string(p->description));
        if (p->n_arguments) {
            json_t *args = json_array();
            for (size_t k = 0; args && k < p->n_arguments; k++) {
                const cg_prompt_argument *pa = &p->arguments[k];
                json_t *ae = json_pack("{s:s, s:b}", "name", pa->name, "required", pa->required);
                if (ae && pa->title) json_object_set_new(ae, "title", json_string(pa->title));
                if (ae && pa->description)
                    json_object_set_new(ae, "description", json_string(pa->description));
                json_array_append_new(args, ae);
            }
            json_object_set_new(e, "arguments", args);
        }
        json_array_append_new(list, e);
    }
    return list;
}

/* --- matching a URI ----------------------------------------------------------------------- */

/* Matches uri against tpl, where {name} stands for one or more characters other than '/'.
 * A placeholder takes the shortest run up to the literal text that follows it (or to the
 * next '/' or the end when nothing follows); then the rest must match. */
static bool template_match(const char *tpl, const char *uri, cg_mcp_uri_param_fn param, void *ctx)
{
    while (*tpl) {
        if (*tpl != '{') {
            if (*tpl++ != *uri++) return false;
            continue;
        }
        const char *close = strchr(tpl, '}');
        if (!close) return false;
        const char *name = tpl + 1;
        size_t name_len = (size_t)(close - name);
        tpl = close + 1;
        size_t lit = strcspn(tpl, "{"); /* the literal text up to the next placeholder */
        size_t n = 0;
        if (lit == 0) {
            n = strcspn(uri, "/");
        } else {
            while (uri[n] && uri[n] != '/' && strncmp(uri + n, tpl, lit)) n++;
            if (strncmp(uri + n, tpl, lit)) return false; /* not in this segment */
        }
        if (n == 0) return false;
        if (param) {
            char *v = strndup(uri, n);
            if (!v) return false;
            size_t vlen = cg_unescape_keep_nul(v);
            bool ok = param(ctx, name, name_len, v, vlen);
            free(v);
            if (!ok) return false;
        }
        uri += n;
    }
    return *uri == 0;
}

const cg_mcp_resource *cg_mcp_resource_find(const cg_mcp_adapter *a, const char *uri,
                                            cg_mcp_uri_param_fn param, void *ctx)
{
    for (size_t i = 0; i < a->n_resources; i++) {
        const cg_mcp_resource *r = &a->resources[i];
        if (r->location) {
            size_t n = strlen(r->uri);
            if (!strncmp(uri, r->uri, n) && (uri[n] == 0 || uri[n] == '/')) return r;
        } else if (!r->is_template) {
            if (!strcmp(uri, r->uri)) return r;
        } else if (template_match(r->uri, uri, NULL, NULL)) {
            return param && !template_match(r->uri, uri, param, ctx) ? NULL : r;
        }
    }
    return NULL;
}

/* --- reading a file ------------------------------------------------------------------------- */

/* Reads a regular file of at most CG_MCP_RESOURCE_MAX_BYTES into out. 0, or -1 with err. */
static int read_file(const char *path, cg_buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        snprintf(err, errlen, "not a regular file");
        return -1;
    }
    if ((unsigned long long)st.st_size > CG_MCP_RESOURCE_MAX_BYTES) {
        fclose(f);
        snprintf(err, errlen, "larger than %u bytes", CG_MCP_RESOURCE_MAX_BYTES);
        return -1;
    }
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (out->len + n > CG_MCP_RESOURCE_MAX_BYTES || cg_buf_append(out, chunk, n) < 0) {
            snprintf(err, errlen, "larger than %u bytes", CG_MCP_RESOURCE_MAX_BYTES);
            rc = -1;
            break;
        }
    if (ferror(f)) {
        snprintf(err, errlen, "read error");
        rc = -1;
    }
    fclose(f);
    return rc;
}

/* Each segment of rel must be [A-Za-z0-9._-]+ and neither "." nor "..". */
static bool safe_relative(const char *rel)
{
    for (const char *s = rel;;) {
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (s[n] == 0) return true;
        if (s[n] != '/') return false;
        s += n + 1;
    }
}

json_t *cg_mcp_resource_read_static(const cg_mcp_resource *r, const char *uri, int *code, char *err,
                                    size_t errlen)
{
    *code = CG_JSONRPC_INVALID_PARAMS;
    const char *rel = uri[strlen(r->uri)] == '/' ? uri + strlen(r->uri) + 1 : "";
    if (*rel && !safe_relative(rel)) {
        snprintf(err, errlen, "Invalid path in resource URI: %.200s", uri);
        return NULL;
    }
    json_t *result = NULL;
    char *base = location_path(r->location), *target = NULL;
    char *real_base = base ? realpath(base, NULL) : NULL, *real_target = NULL;
    cg_buf text = CG_BUF_INIT;
    if (!real_base) {
        *code = CG_JSONRPC_INTERNAL_ERROR;
        snprintf(err, errlen, "Resource '%s' cannot be read: %s", r->name, strerror(errno));
        goto read_static_out;
    }
    if (*rel && asprintf(&target, "%s/%s", real_base, rel) < 0) target = NULL;
    real_target = realpath(*rel ? target : real_base, NULL);
    if (!real_target) {
        snprintf(err, errlen, "Unknown resource URI: %.200s", uri);
        goto read_static_out;
    }
    size_t nb = strlen(real_base);
    if (strncmp(real_target, real_base, nb) || (real_target[nb] && real_target[nb] != '/')) {
        snprintf(err, errlen, "Path traversal refused for resource URI: %.200s", uri);
        goto read_static_out;
    }
    if (is_dir(real_target)) {
        snprintf(err, errlen, "Resource URI names a directory, not a file: %.200s", uri);
        goto read_static_out;
    }
    char why[128];
    if (read_file(real_target, &text, why, sizeof why) < 0) {
        *code = CG_JSONRPC_INTERNAL_ERROR;
        snprintf(err, errlen, "Resource '%s' cannot be read: %s", r->name, why);
        goto read_static_out;
    }
    const char *mime = r->mime_type ? r->mime_type : guess_mime(real_target);
    json_t *s = json_stringn(text.data ? text.data : "", text.len);
    json_t *item;
    if (s) {
        item = json_pack("{s:s, s:s, s:o}", "uri", uri, "mimeType", mime, "text", s);
    } else { /* not UTF-8: a base64 blob */
        char *b64 = cg_base64_encode(text.data ? text.data : "", text.len, CG_B64_STD);
        item = b64 ? json_pack("{s:s, s:s, s:s}", "uri", uri, "mimeType",
                               r->mime_type ? r->mime_type : "application/octet-stream", "blob",
                               b64)
                   : NULL;
        free(b64);
    }
    result = item ? json_pack("[o]", item) : NULL;
    if (!result) {
        *code = CG_JSONRPC_INTERNAL_ERROR;
        snprintf(err, errlen, "Internal error");
    }
read_static_out:
    cg_buf_free(&text);
    free(base);
    free(real_base);
    free(target);
    free(real_target);
    return result;
}

/* --- prompts ------------------------------------------------------------------------------- */

const cg_mcp_prompt *cg_mcp_prompt_find(const cg_mcp_adapter *a, const char *name)
{
    for (size_t i = 0; i < a->n_prompts; i++)
        if (!strcmp(a->prompts[i].name, name)) return &a->prompts[i];
    return NULL;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* Appends text with each {{name}} whose name has a value in values replaced by it. */
static int substitute(const char *text, size_t len, const json_t *values, cg_buf *out)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *open = memmem(p, (size_t)(end - p), "{{", 2);
        if (!open) break;
        const char *q = open + 2;
        while (q < end && (*q == ' ')) q++;
        const char *name = q;
        while (q < end && name_char(*q)) q++;
        size_t name_len = (size_t)(q - name);
        while (q < end && (*q == ' ')) q++;
        const json_t *v = NULL;
        if (name_len && end - q >= 2 && q[0] == '}' && q[1] == '}') {
            char key[128];
            if (name_len < sizeof key) {
                memcpy(key, name, name_len);
                key[name_len] = 0;
                v = json_object_get(values, key);
            }
        }
        if (!v) { /* not a placeholder, or no value: keep the text as written */
            if (cg_buf_append(out, p, (size_t)(open + 2 - p)) < 0) return -1;
            p = open + 2;
            continue;
        }
        if (cg_buf_append(out, p, (size_t)(open - p)) < 0 ||
            cg_buf_append(out, json_string_value(v), json_string_length(v)) < 0)
            return -1;
        p = q + 2;
    }
    return cg_buf_append(out, p, (size_t)(end - p));
}

/* The arguments as a JSON object of strings: numbers and booleans become their text; a
 * null is no value. NULL with err when one is unknown, not a scalar, or a required one is
 * missing. */
static json_t *prompt_values(const cg_mcp_prompt *p, const json_t *args, char *err, size_t errlen)
{
    json_t *values = json_object();
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)args, key, v)
    {
        size_t k;
        for (k = 0; k < p->n_arguments && strcmp(p->arguments[k].name, key); k++) {}
        if (k == p->n_arguments) {
            snprintf(err, errlen, "Invalid params: unknown argument '%.100s' for prompt '%.100s'",
                     key, p->name);
            goto prompt_values_fail;
        }
        char num[64];
        json_t *s = NULL;
        if (json_is_string(v)) s = json_stringn(json_string_value(v), json_string_length(v));
        else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            s = json_string(num);
        } else if (json_is_real(v)) {
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
            s = json_string(num);
        } else if (json_is_boolean(v)) s = json_string(json_is_true(v) ? "true" : "false");
        else if (json_is_null(v)) continue;
        else {
            snprintf(err, errlen, "Invalid params: argument '%.100s' must be a string", key);
            goto prompt_values_fail;
        }
        json_object_set_new(values, key, s);
    }
    for (size_t k = 0; k < p->n_arguments; k++)
        if (p->arguments[k].required && !json_object_get(values, p->arguments[k].name)) {
            snprintf(err, errlen,
                     "Invalid params: missing required argument '%.100s' for prompt "
                     "'%.100s'",
                     p->arguments[k].name, p->name);
            goto prompt_values_fail;
        }
    return values;
prompt_values_fail:
    json_decref(values);
    return NULL;
}

static json_t *message(const char *role, const cg_buf *text)
{
    return json_pack("{s:s, s:{s:s, s:s%}}", "role", role, "content", "type", "text", "text",
                     text->data ? text->data : "", text->len);
}

json_t *cg_mcp_prompt_get(const cg_mcp_prompt *p, const json_t *args, int *code, char *err,
                          size_t errlen)
{
    *code = CG_JSONRPC_INVALID_PARAMS;
    err[0] = 0;
    json_t *values = prompt_values(p, args, err, errlen);
    if (!values) return NULL;
    *code = CG_JSONRPC_INTERNAL_ERROR;
    json_t *messages = json_array(), *result = NULL;
    cg_buf text = CG_BUF_INIT;
    if (p->location) {
        char *path = location_path(p->location);
        cg_buf file = CG_BUF_INIT;
        char why[128] = "out of memory";
        if (!path || read_file(path, &file, why, sizeof why) < 0) {
            snprintf(err, errlen, "Prompt '%s' cannot be read (%s): %s", p->name, p->location, why);
        } else if (substitute(file.data ? file.data : "", file.len, values, &text) == 0) {
            json_array_append_new(messages, message("user", &text));
        }
        cg_buf_free(&file);
        free(path);
    } else {
        for (size_t i = 0; i < p->n_messages; i++) {
            const char *src = p->messages[i].content ? p->messages[i].content->source : "";
            cg_buf_reset(&text);
            if (substitute(src, strlen(src), values, &text) < 0) break;
            json_array_append_new(messages, message(p->messages[i].role, &text));
        }
    }
    size_t want = p->location ? 1 : p->n_messages;
    if (messages && json_array_size(messages) == want) {
        result = json_pack("{s:O}", "messages", messages);
        if (result && p->description)
            json_object_set_new(result, "description", json_string(p->description));
    }
    if (!result && !err[0]) snprintf(err, errlen, "Internal error");
    cg_buf_free(&text);
    json_decref(messages);
    json_decref(values);
    return result;
}
