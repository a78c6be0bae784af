/*
 * catalog.h — an MCP adapter's resources and prompts, as MCP lists, reads and renders them.
 *
 * The protocol core (protocol.c) answers resources/list, resources/templates/list,
 * resources/read, prompts/list and prompts/get with these. Everything here is local:
 * listing, matching a URI to the resource that serves it, reading a static resource's file
 * and rendering a prompt. A dynamic resource's read goes through the operation call like a
 * tool's, which the transports start (protocol.h, cg_mcp_call).
 *
 * Static resources (`location: file:///...`) serve a file, or every regular file under a
 * directory: the directory's files are listed as <uri>/<relative path> and read by that URI.
 * file:///./x is relative to the working directory, file:///x absolute (as for binds).
 * A read resolves symbolic links and refuses any path that leaves the location, any segment
 * other than [A-Za-z0-9._-]+ (so no "..", no encoded characters) and files over
 * CG_MCP_RESOURCE_MAX_BYTES.
 *
 * Ownership: every json_t returned is a new reference.
 */
#ifndef CG_MCP_CATALOG_H
#define CG_MCP_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "spec/spec.h"

/* Largest static resource or prompt file served (bytes). */
#define CG_MCP_RESOURCE_MAX_BYTES (1024u * 1024u)
/* Most files a directory resource lists (the walk stops there, and at depth 16). */
#define CG_MCP_RESOURCE_MAX_FILES 1000

/* The `resources` array of resources/list: every concrete resource (no template), static
 * directories expanded to one entry per file. NULL when out of memory. */
json_t *cg_mcp_resources_json(const cg_mcp_adapter *a);

/* The `resourceTemplates` array of resources/templates/list. */
json_t *cg_mcp_resource_templates_json(const cg_mcp_adapter *a);

/* The `prompts` array of prompts/list. */
json_t *cg_mcp_prompts_json(const cg_mcp_adapter *a);

/* Called once per {placeholder} of a matched URI template, with the percent-decoded value.
 * Returns false to give up (out of memory). */
typedef bool (*cg_mcp_uri_param_fn)(void *ctx, const char *name, size_t name_len, const char *value,
                                    size_t value_len);

/* The resource that serves uri, or NULL. A static resource serves its uri and, for a
 * directory, <uri>/<path>; a dynamic one its uri, or every URI its template matches (a
 * {name} matches one or more characters other than '/'), and then param is called for
 * each placeholder (param may be NULL). */
const cg_mcp_resource *cg_mcp_resource_find(const cg_mcp_adapter *a, const char *uri,
                                            cg_mcp_uri_param_fn param, void *ctx);

/* The `contents` array of resources/read for a static resource: the file's text (or a
 * base64 blob when it is not UTF-8) with its mimeType (the spec's, else guessed from the
 * file name). NULL when it cannot be read: *code is then CG_JSONRPC_INVALID_PARAMS (a bad
 * or unknown path) or CG_JSONRPC_INTERNAL_ERROR, and err says why. */
json_t *cg_mcp_resource_read_static(const cg_mcp_resource *r, const char *uri, int *code, char *err,
                                    size_t errlen);

/* The prompt named name, or NULL. */
const cg_mcp_prompt *cg_mcp_prompt_find(const cg_mcp_adapter *a, const char *name);

/* The GetPromptResult of prompt p with args (a JSON object of strings, or NULL): each
 * {{argument}} replaced by its value, verbatim (a value's own {{...}} is not expanded);
 * a placeholder with no value stays as written. NULL on a refusal: *code is then
 * CG_JSONRPC_INVALID_PARAMS (a missing required argument, an unknown one, a value that is
 * not a string) or CG_JSONRPC_INTERNAL_ERROR (the prompt's file cannot be read), and err
 * says why. */
json_t *cg_mcp_prompt_get(const cg_mcp_prompt *p, const json_t *args, int *code, char *err,
                          size_t errlen);

#endif
