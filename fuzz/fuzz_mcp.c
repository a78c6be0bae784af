/*
 * fuzz_mcp.c — libFuzzer target for the MCP protocol core (src/mcp/protocol.c): any bytes
 * as one JSON-RPC message, handled the way both transports handle it, against the shipped
 * capability's 9 tools and against tests/e2e/fixtures/catalog (resources: static files and
 * a directory, a dynamic resource and a template; inline and file prompts), whose
 * file:///./ locations are made absolute so that the fuzzer's working directory stays put.
 *
 * The input is split at the first NUL byte (if any): the part before is the message; the
 * part after is an upstream body. A prepared tools/call is then answered as if the
 * upstream had returned that body with a status taken from its first byte, through both
 * result paths (the JSON tree and the text fast path), which must agree. Also fuzzed: the
 * strict JSON checker, on every input, and the fast way in for plain tools/call messages
 * (cg_mcp_quick_read), which must agree with the general way. Every valid message also goes through the
 * 2026-07-28 core (era.h), as on stdio (no headers) and as on HTTP with headers mirrored
 * from the body, against both adapters.
 */
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/call.h"
#include "mcp/era.h"
#include "mcp/protocol.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CATALOG "tests/e2e/fixtures/catalog"

static cg_spec *spec, *catalog_spec;
static cg_mcp_core *core, *catalog;

/* The catalog fixture with each file:///./ location turned into file:///<its directory>/. */
static cg_spec *load_catalog(void)
{
    char dir[PATH_MAX];
    if (!realpath(CATALOG, dir)) abort();
    FILE *f = fopen(CATALOG "/capability.yaml", "rb");
    if (!f) abort();
    cg_buf in = CG_BUF_INIT, out = CG_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cg_buf_append(&in, chunk, n);
    fclose(f);
    cg_buf_append(&in, "", 1);
    for (const char *p = in.data, *hit; p; p = hit ? hit + 10 : NULL) {
        hit = strstr(p, "file:///./");
        cg_buf_append(&out, p, hit ? (size_t)(hit - p) : strlen(p));
        if (hit) cg_buf_printf(&out, "file://%s/", dir);
    }
    cg_spec *s = NULL;
    if (cg_spec_load_string(CATALOG "/capability.yaml", out.data, out.len, &s, NULL) != CG_SPEC_OK)
        abort();
    cg_buf_free(&in);
    cg_buf_free(&out);
    return s;
}

static void init(void)
{
    if (core) return;
    if (cg_spec_load("capabilities/label-studio-ml.yaml", &spec, NULL) != CG_SPEC_OK) abort();
    cg_mcp_core_options o = {.page_size = 4};
    core = cg_mcp_core_create(spec, &spec->mcp[0], &o);
    catalog_spec = load_catalog();
    catalog = cg_mcp_core_create(catalog_spec, &catalog_spec->mcp[0], NULL);
    if (!core || !catalog) abort();
}

static void answer(cg_mcp_call *c, const char *body, size_t len)
{
    static const int statuses[] = {200, 201, 204, 400, 404, 500};
    cg_call_result res = {.error = CG_CALL_OK,
                          .status = statuses[len ? (unsigned char)body[0] % 6 : 0],
                          .body = (char *)body,
                          .body_len = len};
    json_t *tree = cg_mcp_call_reply(c, &res);
    cg_buf text = CG_BUF_INIT;
    if (cg_mcp_call_reply_text(c, &res, &text) == 0 && tree) {
        json_t *parsed = json_loadb(text.data, text.len, JSON_ALLOW_NUL, NULL);
        /* jansson refuses some valid JSON (\u0000, huge integers) that the fast path passes
         * through verbatim; where jansson reads the body, both paths must say the same */
        json_t *direct = json_loadb(body, len, JSON_DECODE_ANY, NULL);
        if (direct && (!parsed || !json_equal(parsed, tree))) abort();
        json_decref(direct);
        json_decref(parsed);
    }
    cg_buf_free(&text);
    json_decref(tree);
    cg_call_result failed = {.error = CG_CALL_BAD_ARGUMENT, .argument = "id"};
    json_decref(cg_mcp_call_reply(c, &failed));
    json_decref(cg_mcp_call_progress(c, 0, 1, "x"));
    const cg_call *call = &cg_mcp_call_tool(c)->call;
    for (size_t i = 0; i < call->n_arguments; i++) {
        const char *v;
        size_t n;
        if (cg_mcp_call_lookup(c, &call->arguments[i], &v, &n) && memchr(v, 0, n)) abort();
    }
}

/* The fast way in (cg_mcp_quick_read) must prepare exactly the call the general way does,
 * and take only messages the general way would start as they are. */
static void same_call(const cg_mcp_action *a, cg_mcp_call *fast)
{
    if (a->act != CG_MCP_ACT_CALL || cg_mcp_call_tool(a->call) != cg_mcp_call_tool(fast) ||
        !json_equal(cg_mcp_call_id(a->call), cg_mcp_call_id(fast)) ||
        cg_mcp_call_progress_token(a->call))
        abort();
    const cg_call *call = &cg_mcp_call_tool(fast)->call;
    for (size_t i = 0; i < call->n_arguments; i++) {
        const char *v1, *v2;
        size_t n1, n2;
        bool g1 = cg_mcp_call_lookup(a->call, &call->arguments[i], &v1, &n1);
        bool g2 = cg_mcp_call_lookup(fast, &call->arguments[i], &v2, &n2);
        if (g1 != g2 || (g1 && (n1 != n2 || memcmp(v1, v2, n1)))) abort();
    }
    /* both reply alike, 2026-07-28's resultType included */
    cg_call_result res = {.error = CG_CALL_OK, .status = 200, .body = "{}", .body_len = 2};
    json_t *r1 = cg_mcp_call_reply(a->call, &res), *r2 = cg_mcp_call_reply(fast, &res);
    if (!json_equal(r1, r2)) abort();
    json_decref(r1);
    json_decref(r2);
}

static void check_quick(const char *text, size_t len, const json_t *msg)
{
    cg_mcp_quick q;
    if (!cg_mcp_quick_read(text, len, &q)) return;
    if (!msg || cg_mcp_classify(msg, NULL) != CG_MCP_MSG_REQUEST) abort();
    cg_mcp_state st = {.initialize_answered = true, .version = "2025-11-25"};
    const json_t *params = json_object_get(msg, "params");
    const char *name = json_string_value(json_object_get(params, "name"));
    const char *version = json_string_value(
        json_object_get(json_object_get(params, "_meta"), CG_MCP_META_VERSION));
    cg_mcp_era_headers h = {version, "tools/call", name};
    for (int round = 0; round < 6; round++) {
        const cg_mcp_core *c = round & 1 ? catalog : core;
        bool modern = round >= 2;
        const cg_mcp_era_headers *hs = round >= 4 ? &h : NULL;
        cg_mcp_call *fast = modern ? cg_mcp_era_quick_call(c, &q, hs)
                                   : cg_mcp_quick_call(c, &st, &q);
        if (!fast) continue;
        if (modern != cg_mcp_era_is_modern(msg, NULL)) abort();
        cg_mcp_action a;
        int status;
        if (modern) cg_mcp_era_handle(c, msg, hs, &a, &status);
        else cg_mcp_handle(c, &st, msg, &a);
        same_call(&a, fast);
        cg_mcp_action_release(&a);
        cg_mcp_call_free(fast);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    size_t msg_len = nul ? (size_t)(nul - text) : size;
    const char *body = nul ? nul + 1 : "";
    size_t body_len = nul ? size - msg_len - 1 : 0;

    (void)cg_mcp_json_kind(text, size);
    json_t *msg = cg_mcp_parse(text, msg_len, NULL, 0);
    check_quick(text, msg_len, msg);
    if (!msg) return 0;
    cg_mcp_state st = {0};
    if (cg_mcp_classify(msg, NULL) == CG_MCP_MSG_INVALID) {
        json_t *r = cg_mcp_invalid_reply(msg, CG_JSONRPC_INVALID_REQUEST, "x");
        free(cg_mcp_dump(r, NULL));
        json_decref(r);
    } else {
        /* once as the first message of a session, once after initialize, and once more
         * against the catalog */
        for (int round = 0; round < 3; round++) {
            if (round == 1) {
                st.initialize_answered = true;
                strcpy(st.version, "2025-11-25");
            }
            cg_mcp_action a;
            cg_mcp_handle(round == 2 ? catalog : core, &st, msg, &a);
            if (a.reply) free(cg_mcp_dump(a.reply, NULL));
            if (a.act == CG_MCP_ACT_CALL) answer(a.call, body, body_len);
            cg_mcp_action_release(&a);
        }
        const json_t *params = json_object_get(msg, "params");
        const char *name = json_string_value(json_object_get(params, "name"));
        cg_mcp_era_headers h = {json_string_value(json_object_get(json_object_get(params, "_meta"),
                                                                  CG_MCP_META_VERSION)),
                                json_string_value(json_object_get(msg, "method")),
                                name ? name : json_string_value(json_object_get(params, "uri"))};
        for (int round = 0; round < 4; round++) {
            cg_mcp_action a;
            int status;
            cg_mcp_era_handle(round & 1 ? catalog : core, msg, round & 2 ? &h : NULL, &a, &status);
            if (status < 200 || status > 500) abort();
            if (a.reply) free(cg_mcp_dump(a.reply, NULL));
            if (a.act == CG_MCP_ACT_CALL) answer(a.call, body, body_len);
            cg_mcp_action_release(&a);
        }
    }
    json_decref(msg);
    return 0;
}
