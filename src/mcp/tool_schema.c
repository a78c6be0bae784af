/*
 * tool_schema.c — MCP tool descriptions from the spec model. See tool_schema.h.
 *
 * Annotations are always emitted in full: a hint the spec leaves out takes the MCP
 * default (readOnly false, destructive true, idempotent false), except openWorldHint,
 * which is true because every capgate tool reaches an external API.
 */
#include "mcp/tool_schema.h"

#include <string.h>

static json_t *argument_schema(const cg_argument *arg)
{
    json_t *s = json_object();
    json_object_set_new(s, "type", json_string(cg_type_name(arg->type)));
    if (arg->description)
        json_object_set_new(s, "description", json_string(arg->description));
    return s;
}

static json_t *input_schema(const cg_call *call)
{
    json_t *schema = json_object(), *props = json_object(), *required = json_array();
    json_object_set_new(schema, "type", json_string("object"));
    for (size_t i = 0; i < call->n_arguments; i++) {
        const cg_argument *arg = &call->arguments[i];
        if (arg->is_credential)
            continue;
        json_object_set_new(props, arg->name, argument_schema(arg));
        if (arg->required)
            json_array_append_new(required, json_string(arg->name));
    }
    if (json_object_size(props))
        json_object_set_new(schema, "properties", props);
    else
        json_decref(props);
    if (json_array_size(required))
        json_object_set_new(schema, "required", required);
    else
        json_decref(required);
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
        s = json_object();      /* untyped: any JSON value */
    }
    if (s && o->description)
        json_object_set_new(s, "description", json_string(o->description));
    return s;
}

/* The answer as a whole (before wrapping into structuredContent). */
static json_t *answer_schema(const cg_call *call)
{
    size_t n = call->n_outputs;
    bool all_named = n > 0;
    for (size_t i = 0; i < n; i++)
        all_named &= call->outputs[i].name != NULL;
    if (!call->mock && n == 1)
        return output_schema_of(&call->outputs[0]);
    if (!call->mock && !all_named)
        return json_object();   /* the first output that gives something: any */
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *name = call->outputs[i].name ? call->outputs[i].name : "value";
        json_object_set_new(props, name, output_schema_of(&call->outputs[i]));
        if (!call->mock)    /* a mock leaves out the values that come out null */
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
    if (!call->n_outputs)
        return NULL;
    json_t *a = answer_schema(call);
    if (!a)
        return NULL;
    json_t *type = json_object_get(a, "type");
    const char *t = json_is_string(type) ? json_string_value(type)
                    : json_is_array(type) ? json_string_value(json_array_get(type, 0)) : NULL;
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

static json_t *hint(signed char value, int dflt)
{
    return json_boolean(value < 0 ? dflt : value);
}

static json_t *annotations(const cg_tool *tool)
{
    json_t *a = json_object();
    if (tool->title)
        json_object_set_new(a, "title", json_string(tool->title));
    json_object_set_new(a, "readOnlyHint", hint(tool->hints.read_only, 0));
    json_object_set_new(a, "destructiveHint", hint(tool->hints.destructive, 1));
    json_object_set_new(a, "idempotentHint", hint(tool->hints.idempotent, 0));
    json_object_set_new(a, "openWorldHint", hint(tool->hints.open_world, 1));
    return a;
}

json_t *cg_mcp_tool_json(const cg_tool *tool)
{
    json_t *t = json_object();
    if (!t)
        return NULL;
    json_object_set_new(t, "name", json_string(tool->name));
    if (tool->title)
        json_object_set_new(t, "title", json_string(tool->title));
    json_object_set_new(t, "description", json_string(tool->description ? tool->description : ""));
    json_object_set_new(t, "inputSchema", input_schema(&tool->call));
    json_t *out = cg_mcp_output_schema(&tool->call);
    if (out)
        json_object_set_new(t, "outputSchema", out);
    json_object_set_new(t, "annotations", annotations(tool));
    return t;
}

json_t *cg_mcp_tools_json(const cg_mcp_adapter *mcp)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < mcp->n_tools; i++)
        json_array_append_new(list, cg_mcp_tool_json(&mcp->tools[i]));
    return list;
}
