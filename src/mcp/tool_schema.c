/*
 * tool_schema.c — MCP tool descriptions from the spec model. See tool_schema.h.
 *
 * Annotations say what the spec says and nothing more, as the reference engine writes them:
 * a hint appears when the spec gives it (or the loader derived it from an aggregate
 * function's semantics), annotations.title when the tool has a label, and a tool with
 * neither has no annotations at all, so a client applies MCP's own defaults.
 *
 * Every tool has a top-level title for clients to show: the spec's label, else the first
 * sentence of its description (cut at a word near 60 characters), else its name.
 */
#include "mcp/tool_schema.h"

#include <ctype.h>
#include <string.h>

#include "common/buf.h"

static json_t *argument_schema(const cg_argument *arg)
{
    json_t *s = json_object();
    json_object_set_new(s, "type", json_string(cg_type_name(arg->type)));
    if (arg->description) json_object_set_new(s, "description", json_string(arg->description));
    return s;
}

json_t *cg_mcp_input_schema(const cg_call *call)
{
    json_t *schema = json_object(), *props = json_object(), *required = json_array();
    json_object_set_new(schema, "type", json_string("object"));
    for (size_t i = 0; i < call->n_arguments; i++) {
        const cg_argument *arg = &call->arguments[i];
        if (arg->is_credential) continue;
        json_object_set_new(props, arg->name, argument_schema(arg));
        if (arg->required) json_array_append_new(required, json_string(arg->name));
    }
    if (json_object_size(props)) json_object_set_new(schema, "properties", props);
    else json_decref(props);
    if (json_array_size(required)) json_object_set_new(schema, "required", required);
    else json_decref(required);
    json_object_set_new(schema, "additionalProperties", json_false());
    return schema;
}

/* ---- outputSchema: the shape of structuredContent (see shape.h for the answer) ---------- */

/* {"type": [t, "null"]}: a mapping that finds nothing gives null. */
static json_t *nullable(cg_type t)
{
    return json_pack("{s:[s,s]}", "type", cg_type_name(t), "null");
}

static json_t *output_schema_of(const cg_output *o)
{
    json_t *s;
    if (cg_output_is_passthrough(o)) {
        s = o->typed ? json_pack("{s:s}", "type", cg_type_name(o->type)) : json_object();
    } else if (o->type == CG_TYPE_OBJECT && o->n_properties) {
        json_t *props = json_object(), *req = json_array();
        for (size_t i = 0; i < o->n_properties; i++) {
            const char *name = o->properties[i].name ? o->properties[i].name : "property";
            json_object_set_new(props, name, output_schema_of(&o->properties[i]));
            json_array_append_new(req, json_string(name));
        }
        s = nullable(CG_TYPE_OBJECT);
        json_object_set_new(s, "properties", props);
        json_object_set_new(s, "required", req);
    } else if (o->typed) {
        s = nullable(o->type);
        if (o->type == CG_TYPE_ARRAY && o->items)
            json_object_set_new(s, "items", output_schema_of(o->items));
        if (o->type == CG_TYPE_STRING && o->max_length >= 0)
            json_object_set_new(s, "maxLength", json_integer(o->max_length));
    } else {
        s = json_object(); /* untyped: any JSON value */
    }
    if (s && o->description) json_object_set_new(s, "description", json_string(o->description));
    return s;
}

/* The answer as a whole (before wrapping into structuredContent). */
static json_t *answer_schema(const cg_call *call)
{
    size_t n = call->n_outputs;
    bool all_named = n > 0;
    for (size_t i = 0; i < n; i++) all_named &= call->outputs[i].name != NULL;
    if (!call->mock && n == 1) return output_schema_of(&call->outputs[0]);
    if (!call->mock && !all_named)
        return json_object(); /* the first output that gives something: any */
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *name = call->outputs[i].name ? call->outputs[i].name : "value";
        json_object_set_new(props, name, output_schema_of(&call->outputs[i]));
        if (!call->mock) /* a mock leaves out the values that come out null */
            json_array_append_new(req, json_string(name));
    }
    json_t *s = json_pack("{s:s, s:o}", "type", "object", "properties", props);
    if (json_array_size(req)) json_object_set_new(s, "required", req);
    else json_decref(req);
    return s;
}

/* structuredContent is always an object: the answer itself when it is one, else
 * {"items": array} or {"value": scalar} (protocol.c). Top-level members are not required,
 * so a null answer ({"value": null}) and an empty body ({}) still conform. */
json_t *cg_mcp_output_schema(const cg_call *call)
{
    if (!call->n_outputs) return NULL;
    json_t *a = answer_schema(call);
    if (!a) return NULL;
    json_t *type = json_object_get(a, "type");
    const char *t = json_is_string(type)  ? json_string_value(type)
                    : json_is_array(type) ? json_string_value(json_array_get(type, 0))
                                          : NULL;
    json_t *s;
    if (t && !strcmp(t, "object")) {
        s = json_pack("{s:s}", "type", "object");
        json_t *props = json_object_get(a, "properties");
        if (props) json_object_set(s, "properties", props);
        if (json_object_get(a, "description"))
            json_object_set(s, "description", json_object_get(a, "description"));
        json_decref(a);
    } else if (t) {
        s = json_pack("{s:s, s:{s:o}}", "type", "object", "properties",
                      !strcmp(t, "array") ? "items" : "value", a);
    } else {
        json_decref(a);
        s = json_pack("{s:s}", "type", "object");
    }
    return s;
}

static void hint(json_t *a, const char *key, signed char value)
{
    if (value >= 0) json_object_set_new(a, key, json_boolean(value));
}

/* NULL when the spec gives neither a label nor a hint. */
static json_t *annotations(const cg_tool *tool)
{
    json_t *a = json_object();
    if (!a) return NULL;
    if (tool->title) json_object_set_new(a, "title", json_string(tool->title));
    hint(a, "readOnlyHint", tool->hints.read_only);
    hint(a, "destructiveHint", tool->hints.destructive);
    hint(a, "idempotentHint", tool->hints.idempotent);
    hint(a, "openWorldHint", tool->hints.open_world);
    if (!json_object_size(a)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

#define TITLE_MAX 60

/* The description's first sentence (up to ". ", a newline or the end, without a final
 * period), cut at the last space before TITLE_MAX characters with "..." when longer; the
 * name with '-' and '_' as spaces and each word capitalised when there is no description. */
static json_t *derived_title(const cg_tool *tool)
{
    cg_buf b = CG_BUF_INIT;
    const char *d = tool->description;
    while (d && isspace((unsigned char)*d)) d++;
    if (d && *d) {
        size_t n = 0;
        while (d[n] && d[n] != '\n' &&
               !(d[n] == '.' && (!d[n + 1] || isspace((unsigned char)d[n + 1]))))
            n++;
        while (n && isspace((unsigned char)d[n - 1])) n--;
        if (n > TITLE_MAX) {
            size_t cut = TITLE_MAX;
            while (cut > TITLE_MAX / 2 && d[cut] != ' ') cut--;
            if (d[cut] != ' ') cut = TITLE_MAX;
            while (cut && (d[cut - 1] == ' ' || d[cut - 1] == ',' || d[cut - 1] == ';' ||
                           d[cut - 1] == ':'))
                cut--;
            cg_buf_append(&b, d, cut);
            cg_buf_append_str(&b, "...");
        } else {
            cg_buf_append(&b, d, n);
        }
    } else {
        bool start = true;
        for (const char *p = tool->name; *p; p++) {
            char c = (*p == '-' || *p == '_') ? ' ' : *p;
            if (start && c != ' ') c = (char)toupper((unsigned char)c);
            start = c == ' ';
            cg_buf_append(&b, &c, 1);
        }
    }
    json_t *t = json_stringn(b.data ? b.data : "", b.len);
    cg_buf_free(&b);
    return t;
}

json_t *cg_mcp_tool_json(const cg_tool *tool)
{
    json_t *t = json_object();
    if (!t) return NULL;
    json_object_set_new(t, "name", json_string(tool->name));
    json_object_set_new(t, "title", tool->title ? json_string(tool->title) : derived_title(tool));
    json_object_set_new(t, "description", json_string(tool->description ? tool->description : ""));
    json_object_set_new(t, "inputSchema", cg_mcp_input_schema(&tool->call));
    json_t *out = cg_mcp_output_schema(&tool->call);
    if (out) json_object_set_new(t, "outputSchema", out);
    json_t *a = annotations(tool);
    if (a) json_object_set_new(t, "annotations", a);
    /* any call may run as a task where the capability is declared (2025-11-25, tasks.h) */
    json_object_set_new(t, "execution", json_pack("{s:s}", "taskSupport", "optional"));
    return t;
}

json_t *cg_mcp_tools_json(const cg_mcp_adapter *mcp)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < mcp->n_tools; i++)
        json_array_append_new(list, cg_mcp_tool_json(&mcp->tools[i]));
    return list;
}
