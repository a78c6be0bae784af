/*
 * era.c — MCP revision 2026-07-28, stateless, beside the 2025 sessions. See era.h.
 *
 * A modern request is checked in the order the revision and its conformance suite
 * expect: the _meta envelope first (a request without it cannot say which version it
 * speaks: -32602), then the HTTP headers against the body (-32020), then the version
 * (-32022), then the method. Everything a method does is the protocol core's (protocol.c),
 * run on a throw-away state that counts as initialized; this file only adds what the
 * revision adds to results.
 */
#include "mcp/era.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const modern_methods[] = {
    "tools/list",     "tools/call",   "resources/list", "resources/templates/list",
    "resources/read", "prompts/list", "prompts/get",
};

/* Results that carry ttlMs and cacheScope (CacheableResult in the schema). */
static const char *const cacheable_methods[] = {
    "tools/list", "resources/list", "resources/templates/list", "resources/read", "prompts/list",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, list[i])) return true;
    return false;
}

bool cg_mcp_era_version_modern(const char *version)
{
    return version && !strcmp(version, CG_MCP_MODERN_VERSION);
}

bool cg_mcp_era_version_known(const char *version)
{
    return cg_mcp_era_version_modern(version) || cg_mcp_version_supported(version);
}

json_t *cg_mcp_era_supported_versions(void)
{
    return json_pack("[s, s, s, s]", CG_MCP_MODERN_VERSION, "2025-11-25", "2025-06-18",
                     "2025-03-26");
}

static const json_t *meta_of(const json_t *msg)
{
    return json_object_get(json_object_get(msg, "params"), "_meta");
}

bool cg_mcp_era_is_modern(const json_t *msg, const char *header_version)
{
    if (cg_mcp_era_version_modern(header_version)) return true;
    const json_t *meta = meta_of(msg);
    if (json_is_object(meta) && json_object_get(meta, CG_MCP_META_VERSION)) return true;
    const char *method = json_string_value(json_object_get(msg, "method"));
    return method && !strcmp(method, "server/discover");
}

static const json_t *usable_id(const json_t *msg)
{
    const json_t *id = json_object_get(msg, "id");
    return json_is_string(id) || json_is_integer(id) ? id : NULL;
}

/* Visible ASCII, space and tab only (RFC 9110 field values, no obs-text). */
static bool header_chars_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p > 0x7e) return false;
    return true;
}

json_t *cg_mcp_era_unsupported(const json_t *msg, const char *requested)
{
    if (requested && !header_chars_ok(requested)) requested = NULL; /* not text to echo */
    char text[256];
    snprintf(text, sizeof text,
             "Unsupported protocol version: %.40s (supported: %s, %s; the 2025 revisions after "
             "initialize)",
             requested ? requested : "(none)", CG_MCP_MODERN_VERSION, cg_mcp_supported_versions());
    json_t *data = json_pack("{s:o}", "supported", cg_mcp_era_supported_versions());
    if (data && requested) json_object_set_new(data, "requested", json_string(requested));
    return cg_mcp_error(usable_id(msg), CG_MCP_UNSUPPORTED_VERSION, text, data);
}

/* --- the envelope ------------------------------------------------------------------------ */

/* Why the request's _meta cannot be served, or NULL. */
static const char *meta_problem(const json_t *params, const json_t *meta)
{
    if (!json_is_object(params)) return "a 2026-07-28 request needs params with _meta";
    if (!json_is_object(meta))
        return "_meta is required (protocol version and client capabilities)";
    if (!json_is_string(json_object_get(meta, CG_MCP_META_VERSION)))
        return "_meta." CG_MCP_META_VERSION " must be a string";
    if (!json_is_object(json_object_get(meta, CG_MCP_META_CAPABILITIES)))
        return "_meta." CG_MCP_META_CAPABILITIES " must be an object";
    const json_t *ci = json_object_get(meta, CG_MCP_META_CLIENT_INFO);
    if (ci && !json_is_object(ci)) return "_meta." CG_MCP_META_CLIENT_INFO " must be an object";
    return NULL;
}

/* Decodes "=?base64?B64?=" (strict: whole groups of four, the standard alphabet, padding
 * only at the end) into a new string. NULL when the Base64 is malformed or memory ran
 * out. free() it. */
static char *base64_decoded(const char *b, size_t bn, size_t *len)
{
    if (bn % 4) return NULL;
    for (size_t i = 0; i < bn; i++) {
        char c = b[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '+' || c == '/';
        bool pad = c == '=' && i >= bn - 2 && (i == bn - 1 || b[bn - 1] == '=');
        if (!alpha && !pad) return NULL;
    }
    unsigned char *out = malloc(bn / 4 * 3 + 1);
    if (!out) return NULL;
    int got = bn ? EVP_DecodeBlock(out, (const unsigned char *)b, (int)bn) : 0;
    if (got < 0) {
        free(out);
        return NULL;
    }
    size_t pads = bn && b[bn - 1] == '=' ? (b[bn - 2] == '=' ? 2 : 1) : 0;
    *len = (size_t)got - pads;
    out[*len] = 0;
    return (char *)out;
}

static json_t *mismatch(const json_t *msg, const char *header, const char *what, const char *body)
{
    char text[400];
    snprintf(text, sizeof text, "Header mismatch: the %s header %s%s%.100s%s", header, what,
             body ? " '" : "", body ? body : "", body ? "'" : "");
    return cg_mcp_error(usable_id(msg), CG_MCP_HEADER_MISMATCH, text, NULL);
}

/* Compares one header with its body value, without the optional whitespace around the
 * header's value (RFC 9110 §5.5); decode: the value may be "=?base64?...?=". NULL when
 * they agree, else the -32020 reply. No allocation unless the value is Base64. */
static json_t *check_header(const json_t *msg, const char *header, const char *value,
                            const char *body, bool decode)
{
    if (!value) return mismatch(msg, header, "is required; the body says", body);
    if (!header_chars_ok(value))
        return mismatch(msg, header, "holds characters a header value cannot carry", NULL);
    while (*value == ' ' || *value == '\t') value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t')) n--;
    static const char pre[] = "=?base64?", suf[] = "?=";
    const size_t pn = sizeof pre - 1, sn = sizeof suf - 1;
    char *decoded = NULL;
    if (decode && n >= pn + sn && !memcmp(value, pre, pn) && !memcmp(value + n - sn, suf, sn)) {
        decoded = base64_decoded(value + pn, n - pn - sn, &n);
        if (!decoded)
            return mismatch(msg, header, "is not valid Base64 in =?base64?...?= form", NULL);
        value = decoded;
    }
    bool same = n == strlen(body) && !memcmp(value, body, n);
    free(decoded);
    return same ? NULL : mismatch(msg, header, "does not match the body value", body);
}

/* The request metadata headers against the body (streamable-http.mdx, "Server Validation"). */
static json_t *check_headers(const json_t *msg, const char *method, const json_t *params,
                             const char *version, const cg_mcp_era_headers *h)
{
    json_t *e = check_header(msg, "MCP-Protocol-Version", h->version, version, false);
    if (!e) e = check_header(msg, "Mcp-Method", h->method, method, false);
    if (e) return e;
    const char *key = !strcmp(method, "resources/read")                                 ? "uri"
                      : !strcmp(method, "tools/call") || !strcmp(method, "prompts/get") ? "name"
                                                                                        : NULL;
    const char *name = key ? json_string_value(json_object_get(params, key)) : NULL;
    return name ? check_header(msg, "Mcp-Name", h->name, name, true) : NULL;
}

/* --- methods ------------------------------------------------------------------------------ */

static void set_cache_hints(const cg_mcp_core *core, json_t *result)
{
    json_object_set_new(result, "ttlMs", json_integer(CG_MCP_LIST_TTL_MS));
    json_object_set_new(result, "cacheScope",
                        json_string(cg_mcp_core_lists_private(core) ? "private" : "public"));
}

/* server/discover: versions, capabilities and identity (server/discover.mdx). logging is
 * not declared: 2026-07-28 sets the level per request and this server sends no log
 * notifications on a stateless request. listChanged is false everywhere: under 2026-07-28
 * change notifications travel on subscriptions/listen, which this server does not offer;
 * a reload reaches these clients through ttlMs instead (the 2025 sessions get
 * notifications/tools/list_changed on their GET stream). */
static json_t *discover(const cg_mcp_core *core, const json_t *msg)
{
    json_t *caps = cg_mcp_core_capabilities(core);
    if (caps) json_object_del(caps, "logging");
    const char *key;
    json_t *cap;
    json_object_foreach(caps, key,
                        cap) if (json_is_object(cap) && json_object_get(cap, "listChanged"))
        json_object_set_new(cap, "listChanged", json_false());
    json_t *r = json_pack("{s:s, s:o, s:o, s:{s:o}}", "resultType", "complete", "supportedVersions",
                          cg_mcp_era_supported_versions(), "capabilities", caps, "_meta",
                          CG_MCP_META_SERVER_INFO, cg_mcp_core_server_info(core));
    const char *instructions = cg_mcp_core_adapter(core)->description;
    if (r && instructions) json_object_set_new(r, "instructions", json_string(instructions));
    if (r) set_cache_hints(core, r);
    return r ? cg_mcp_result(usable_id(msg), r) : NULL;
}

/* What 2026-07-28 adds to what the core answered. */
static void decorate(const cg_mcp_core *core, const char *method, const json_t *params,
                     cg_mcp_action *out, int *status)
{
    if (out->act == CG_MCP_ACT_CALL) {
        cg_mcp_call_set_modern(out->call);
        return;
    }
    json_t *result = json_object_get(out->reply, "result");
    if (result) {
        json_object_set_new(result, "resultType", json_string("complete"));
        if (in_list(method, cacheable_methods,
                    sizeof cacheable_methods / sizeof *cacheable_methods))
            set_cache_hints(core, result);
        return;
    }
    json_t *error = json_object_get(out->reply, "error");
    json_int_t code = json_integer_value(json_object_get(error, "code"));
    if (code == CG_JSONRPC_METHOD_NOT_FOUND) *status = 404;
    const char *uri = json_string_value(json_object_get(params, "uri"));
    if (code == CG_JSONRPC_INVALID_PARAMS && !strcmp(method, "resources/read") && uri &&
        !json_object_get(error, "data"))
        json_object_set_new(error, "data", json_pack("{s:s}", "uri", uri)); /* SEP-2164 */
}

/* The member key of the quick message's _meta, or NULL. */
static const cg_mcp_quick_arg *meta_member(const cg_mcp_quick *q, const char *key)
{
    for (size_t i = 0; i < q->n_meta; i++)
        if (q->meta[i].key_len == strlen(key) && !memcmp(q->meta[i].key, key, q->meta[i].key_len))
            return &q->meta[i];
    return NULL;
}

static bool slice_equals(const char *s, size_t n, const char *z)
{
    return z && strlen(z) == n && !memcmp(s, z, n);
}

cg_mcp_call *cg_mcp_era_quick_call(const cg_mcp_core *core, const cg_mcp_quick *q,
                                   const cg_mcp_era_headers *headers)
{
    const cg_mcp_quick_arg *v = meta_member(q, CG_MCP_META_VERSION);
    const cg_mcp_quick_arg *caps = meta_member(q, CG_MCP_META_CAPABILITIES);
    const cg_mcp_quick_arg *info = meta_member(q, CG_MCP_META_CLIENT_INFO);
    if (!v || v->kind != '"' || !slice_equals(v->value, v->value_len, CG_MCP_MODERN_VERSION) ||
        !caps || caps->kind != '{' || (info && info->kind != '{') ||
        q->n_meta != 2u + (info != NULL))
        return NULL;
    if (headers &&
        (!headers->version || strcmp(headers->version, CG_MCP_MODERN_VERSION) || !headers->method ||
         strcmp(headers->method, "tools/call") ||
         !slice_equals(q->name, q->name_len, headers->name) || !header_chars_ok(headers->name)))
        return NULL;
    cg_mcp_quick bare = *q; /* the _meta read: the call itself is the core's */
    bare.has_meta = false;
    bare.n_meta = 0;
    cg_mcp_state st = {.initialize_answered = true, .initialized = true};
    snprintf(st.version, sizeof st.version, "%s", CG_MCP_MODERN_VERSION);
    cg_mcp_call *c = cg_mcp_quick_call(core, &st, &bare);
    if (c) cg_mcp_call_set_modern(c);
    return c;
}

void cg_mcp_era_handle(const cg_mcp_core *core, const json_t *msg,
                       const cg_mcp_era_headers *headers, cg_mcp_action *out, int *status)
{
    memset(out, 0, sizeof *out);
    *status = 200;
    const json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const json_t *params = json_object_get(msg, "params");
    out->method = method;
    if (!method) return;
    if (!id) { /* notifications: only notifications/cancelled means something (stdio) */
        *status = 202;
        cg_mcp_state st = {.initialize_answered = true, .initialized = true};
        cg_mcp_handle(core, &st, msg, out);
        return;
    }

    out->act = CG_MCP_ACT_REPLY;
    const json_t *meta = meta_of(msg);
    const char *why = meta_problem(params, meta);
    if (why) {
        char text[200];
        snprintf(text, sizeof text, "Invalid params: %s", why);
        out->reply = cg_mcp_error(usable_id(msg), CG_JSONRPC_INVALID_PARAMS, text, NULL);
        *status = 400;
    } else {
        const char *version = json_string_value(json_object_get(meta, CG_MCP_META_VERSION));
        if (headers && (out->reply = check_headers(msg, method, params, version, headers))) {
            *status = 400;
        } else if (!cg_mcp_era_version_modern(version)) {
            out->reply = cg_mcp_era_unsupported(msg, version);
            *status = 400;
        } else if (!strcmp(method, "server/discover")) {
            out->reply = discover(core, msg);
        } else if (!in_list(method, modern_methods,
                            sizeof modern_methods / sizeof *modern_methods)) {
            char text[220];
            snprintf(text, sizeof text, "Method not found: %.150s (not part of %s)", method,
                     CG_MCP_MODERN_VERSION);
            out->reply = cg_mcp_error(id, CG_JSONRPC_METHOD_NOT_FOUND, text, NULL);
            *status = 404;
        } else {
            cg_mcp_state st = {.initialize_answered = true, .initialized = true};
            snprintf(st.version, sizeof st.version, "%s", CG_MCP_MODERN_VERSION);
            cg_mcp_handle(core, &st, msg, out);
            decorate(core, method, params, out, status);
        }
    }
    if (out->act == CG_MCP_ACT_REPLY && !out->reply) {
        out->reply = cg_mcp_error(usable_id(msg), CG_JSONRPC_INTERNAL_ERROR, "Internal error",
                                  NULL);
        *status = 500;
    }
}
