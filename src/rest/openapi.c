/*
 * openapi.c — the OpenAPI 3.1 document of a REST adapter, generated from the spec.
 *
 * Built once at start-up with jansson (so every string is escaped correctly) and served
 * as bytes. Each exposed operation becomes an operation with the incoming values the spec
 * derives for it (cg_call.arguments): path and query parameters typed from the consumed
 * inputs, the JSON body as a request body. The credential is not a parameter but a
 * security scheme: the caller's Authorization header is optional, because capgate falls
 * back to its configured credentials. Responses document the pass-through (any upstream
 * status, body and content type) and capgate's own RFC 9457 problems.
 */
#include "rest/rest.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "engine/call.h"

#define SCHEME "upstreamAuthorization"

static const char *schema_type(cg_type t)
{
    switch (t) {
    case CG_TYPE_INTEGER: return "integer";
    case CG_TYPE_NUMBER: return "number";
    case CG_TYPE_BOOLEAN: return "boolean";
    case CG_TYPE_OBJECT: return "object";
    case CG_TYPE_ARRAY: return "array";
    default: return "string";
    }
}

static json_t *problem_response(const char *description)
{
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", description, "content",
                     "application/problem+json", "schema", "$ref", "#/components/schemas/Problem");
}

static json_t *components(bool auth)
{
    json_t *problem = json_pack(
        "{s:s, s:s, s:[s,s,s], s:{s:{s:s, s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s}, s:{s:s},"
        " s:{s:s, s:s, s:{s:s, s:{s:{s:s}, s:{s:s}}}}}}",
        "type", "object", "description", "An RFC 9457 problem produced by capgate itself.",
        "required", "type", "title", "status", "properties", "type", "type", "string", "format",
        "uri-reference", "title", "type", "string", "status", "type", "integer", "format", "int32",
        "detail", "type", "string", "instance", "type", "string", "invalid-params", "type", "array",
        "description", "The parameters at fault.", "items", "type", "object", "properties", "name",
        "type", "string", "reason", "type", "string");
    json_t *responses = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "BadRequest",
        problem_response("A parameter or the body is invalid; nothing was sent upstream."),
        "Unauthorized",
        problem_response("No credentials: neither an Authorization header nor configured ones, or "
                         "the configured token was refused."),
        "NotFound", problem_response("No such route."), "MethodNotAllowed",
        problem_response("The route exists but not with this method; see the Allow header."),
        "TooLarge", problem_response("The request body is over the configured limit."),
        "UnsupportedMediaType", problem_response("The request body is not application/json."),
        "BadGateway",
        problem_response(
            "The upstream API is unreachable or answered with something that is not HTTP."),
        "Unavailable", problem_response("Too many upstream calls are waiting."), "GatewayTimeout",
        problem_response("The upstream API did not answer in time."));
    json_t *c = json_pack("{s:{s:o}, s:o}", "schemas", "Problem", problem, "responses", responses);
    if (c && auth)
        json_object_set_new(
            c, "securitySchemes",
            json_pack("{s:{s:s, s:s, s:s, s:s}}", SCHEME, "type", "apiKey", "in", "header", "name",
                      "Authorization", "description",
                      "Forwarded to the upstream API unchanged when present (for Label Studio: "
                      "'Token <key>' or 'Bearer <access token>'). When absent, capgate uses the "
                      "credentials it was started with."));
    return c;
}

static bool takes_body(const cg_call *call, const cg_argument **arg)
{
    for (size_t i = 0; i < call->n_arguments; i++)
        if (call->arguments[i].in == CG_IN_BODY) {
            *arg = &call->arguments[i];
            return true;
        }
    return false;
}

static json_t *operation(const cg_rest_resource *res, const cg_rest_operation *op,
                         const char *operation_id, bool auth)
{
    const cg_call *call = &op->call;
    json_t *o = json_object();
    json_t *params = json_array();
    const char *desc = op->description ? op->description : op->name;
    json_object_set_new(o, "operationId", json_string(operation_id));
    json_object_set_new(o, "summary", json_string(desc));
    json_object_set_new(o, "description", json_string(desc));
    json_object_set_new(o, "tags", json_pack("[s]", res->name ? res->name : res->path));
    /* path placeholders first, so every template variable is declared */
    for (size_t p = 0; p < res->n_path_parts; p++) {
        if (!res->path_parts[p].name) continue;
        const char *name = res->path_parts[p].name;
        const cg_argument *arg = NULL;
        for (size_t a = 0; a < call->n_arguments; a++)
            if (!strcmp(call->arguments[a].name, name)) arg = &call->arguments[a];
        json_t *prm = json_pack("{s:s, s:s, s:b, s:{s:s}}", "name", name, "in", "path", "required",
                                1, "schema", "type", schema_type(arg ? arg->type : CG_TYPE_STRING));
        if (arg && arg->description)
            json_object_set_new(prm, "description", json_string(arg->description));
        json_array_append_new(params, prm);
    }
    for (size_t a = 0; a < call->n_arguments; a++) {
        const cg_argument *arg = &call->arguments[a];
        if (arg->is_credential || arg->in == CG_IN_PATH || arg->in == CG_IN_BODY) continue;
        if (arg->in != CG_IN_QUERY && arg->in != CG_IN_HEADER) continue;
        json_t *prm = json_pack("{s:s, s:s, s:b, s:{s:s}}", "name", arg->name, "in",
                                arg->in == CG_IN_QUERY ? "query" : "header", "required",
                                arg->required, "schema", "type", schema_type(arg->type));
        if (arg->description)
            json_object_set_new(prm, "description", json_string(arg->description));
        json_array_append_new(params, prm);
    }
    if (json_array_size(params)) json_object_set_new(o, "parameters", params);
    else json_decref(params);

    json_t *responses = json_pack(
        "{s:{s:s, s:{s:{s:{}}}}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}", "2XX",
        "description",
        "The upstream API's answer, passed through: its status, its body "
        "byte for byte and its content type (4XX and 5XX answers from the upstream API are "
        "passed through the same way).",
        "content", "application/json", "schema", "400", "$ref", "#/components/responses/BadRequest",
        "404", "$ref", "#/components/responses/NotFound", "405", "$ref",
        "#/components/responses/MethodNotAllowed", "502", "$ref",
        "#/components/responses/BadGateway", "503", "$ref", "#/components/responses/Unavailable",
        "504", "$ref", "#/components/responses/GatewayTimeout");
    if (auth)
        json_object_set_new(responses, "401",
                            json_pack("{s:s}", "$ref", "#/components/responses/Unauthorized"));
    const cg_argument *body = NULL;
    if (takes_body(call, &body)) {
        json_t *rb = json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", body->required, "content",
                               "application/json", "schema", "type", schema_type(body->type));
        json_object_set_new(rb, "description",
                            json_string(body->description ? body->description
                                                          : "The JSON body, forwarded unchanged."));
        json_object_set_new(o, "requestBody", rb);
        json_object_set_new(responses, "413",
                            json_pack("{s:s}", "$ref", "#/components/responses/TooLarge"));
        json_object_set_new(
            responses, "415",
            json_pack("{s:s}", "$ref", "#/components/responses/UnsupportedMediaType"));
    }
    json_object_set_new(o, "responses", responses);
    if (auth) json_object_set_new(o, "security", json_pack("[{s:[]}, {}]", SCHEME));
    return o;
}

/* The adapter's declared inbound authentication as the security scheme "inbound", required
 * on every operation; the upstream Authorization stays optional beside it only when the
 * inbound credential is in another header (an apikey). */
static void add_inbound_security(json_t *doc, const cg_auth *a, bool upstream_auth)
{
    json_t *scheme = NULL;
    switch (a->type) {
    case CG_AUTH_BEARER:
        scheme = json_pack("{s:s, s:s}", "type", "http", "scheme", "bearer");
        break;
    case CG_AUTH_BASIC: scheme = json_pack("{s:s, s:s}", "type", "http", "scheme", "basic"); break;
    case CG_AUTH_APIKEY:
        scheme = json_pack("{s:s, s:s, s:s}", "type", "apiKey", "in", "header", "name",
                           a->key ? a->key : "X-API-Key");
        break;
    case CG_AUTH_OAUTH2: {
        json_t *scopes = json_object();
        for (size_t i = 0; i < a->n_scopes; i++)
            json_object_set_new(scopes, a->scopes[i], json_string(a->scopes[i]));
        scheme = json_pack("{s:s, s:s, s:{s:{s:s, s:o}}}", "type", "oauth2", "description",
                           "JWT access tokens of the authorization server, for this resource",
                           "flows", "clientCredentials", "tokenUrl",
                           a->token_endpoint ? a->token_endpoint : a->authorization_server,
                           "scopes", scopes);
        break;
    }
    default: return;
    }
    json_t *components = json_object_get(doc, "components");
    json_t *schemes = json_object_get(components, "securitySchemes");
    if (!schemes) json_object_set_new(components, "securitySchemes", schemes = json_object());
    json_object_set_new(schemes, "inbound", scheme);
    bool both = upstream_auth && a->type == CG_AUTH_APIKEY && a->key &&
                strcasecmp(a->key, "Authorization");
    const char *path, *method;
    json_t *item, *op;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
        json_object_foreach(item, method, op)
    {
        json_object_set_new(op, "security",
                            both ? json_pack("[{s:[], s:[]}, {s:[]}]", "inbound", SCHEME, "inbound")
                                 : json_pack("[{s:[]}]", "inbound"));
        json_object_set_new(json_object_get(op, "responses"), "401",
                            json_pack("{s:s}", "$ref", "#/components/responses/Unauthorized"));
    }
}

static char *lower(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    return d;
}

int cg_rest_openapi(const cg_spec *spec, const cg_rest_adapter *adapter, const char *server_url,
                    cg_buf *out)
{
    bool auth = false;
    for (size_t i = 0; i < spec->n_consumes; i++)
        if (spec->consumes[i].auth.type != CG_AUTH_NONE) auth = true;
    const char *title = spec->label ? spec->label : adapter->namespace_;
    const char *description = adapter->description ? adapter->description
                              : spec->description  ? spec->description
                                                   : title;
    json_t *doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}", "openapi", "3.1.0", "info",
                            "title", title, "version", CAPGATE_VERSION, "description", description,
                            "servers", "url", server_url ? server_url : "http://127.0.0.1:8080",
                            "description", "capgate serve");
    if (!doc) return -1;
    json_t *tags = json_array(), *paths = json_object();
    json_t *ids = json_object(); /* operationIds used so far */
    for (size_t r = 0; r < adapter->n_resources; r++) {
        const cg_rest_resource *res = &adapter->resources[r];
        json_t *tag = json_pack("{s:s}", "name", res->name ? res->name : res->path);
        if (res->description)
            json_object_set_new(tag, "description", json_string(res->description));
        json_array_append_new(tags, tag);
        json_t *item = json_object_get(paths, res->path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, res->path, item);
        }
        for (size_t k = 0; k < res->n_ops; k++) {
            const cg_rest_operation *op = &res->ops[k];
            char id[256];
            snprintf(id, sizeof id, "%s", op->name ? op->name : op->method);
            if (json_object_get(ids, id))
                snprintf(id, sizeof id, "%s-%s", res->name ? res->name : "op",
                         op->name ? op->name : op->method);
            json_object_set_new(ids, id, json_true());
            char *m = lower(op->method);
            if (m) json_object_set_new(item, m, operation(res, op, id, auth));
            free(m);
        }
    }
    json_decref(ids);
    json_object_set_new(doc, "tags", tags);
    json_object_set_new(doc, "paths", paths);
    json_object_set_new(doc, "components", components(auth));
    add_inbound_security(doc, &adapter->auth, auth);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text) return -1;
    int rc = cg_buf_append_str(out, text);
    free(text);
    return rc;
}
