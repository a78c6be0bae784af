/*
 * tool_schema.h — an MCP tool's description as tools/list shows it, built from the spec.
 *
 * Both `capgate tools` and the MCP adapter's tools/list use this, so what the CLI prints
 * is exactly what clients see. The inputSchema is self-contained (no $ref), lists the
 * call's arguments with their types and descriptions, and never includes credentials.
 */
#ifndef CG_TOOL_SCHEMA_H
#define CG_TOOL_SCHEMA_H

#include <jansson.h>

#include "spec/spec.h"

/* A new JSON object {name, title, description, inputSchema, outputSchema?, annotations?}; the caller
 * owns the reference. NULL when out of memory. */
json_t *cg_mcp_tool_json(const cg_tool *tool);

/* The outputSchema of a call with outputParameters (derived from the output tree, describing
 * structuredContent as protocol.c wraps the answer), or NULL when it has none. New reference. */
json_t *cg_mcp_output_schema(const cg_call *call);

/* The inputSchema of a call: an object schema of its arguments (types, descriptions, which
 * are required; never credentials) that admits no others. New reference. The skill
 * adapter's catalog shows derived tools with the same schema. */
json_t *cg_mcp_input_schema(const cg_call *call);

/* A new JSON array of every tool of the adapter, in spec order. */
json_t *cg_mcp_tools_json(const cg_mcp_adapter *mcp);

#endif
