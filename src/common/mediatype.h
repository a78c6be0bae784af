/*
 * mediatype.h — the one rule for "this body is JSON", used by REST, MCP and studio.
 *
 * The media type of a Content-Type value (before any ';' parameters, spaces and tabs around
 * it ignored, case-insensitive) is JSON when it is application/json or a structured-syntax
 * type application/<subtype>+json (RFC 6839 §3.1). That is what Label Studio's Django REST
 * framework parser takes (it also parses +json bodies; a charset parameter is ignored) and
 * what an MCP client sends (application/json, perhaps with "; charset=utf-8").
 */
#ifndef CG_MEDIATYPE_H
#define CG_MEDIATYPE_H

#include <stdbool.h>

/* Whether the Content-Type value ct (NULL allowed: false) names a JSON body. */
bool cg_mediatype_is_json(const char *ct);

#endif
