/*
 * tool_schema.c — MCP tool descriptions from the spec model. See tool_schema.h.
 *
 * Annotations are always emitted in full: a hint the spec leaves out takes the MCP
 * default (readOnly false, destructive true, idempotent false), except openWorldHint,
 * which is true because every capgate tool reaches an external API.
 */
#include "mcp/tool_schema.h"

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
