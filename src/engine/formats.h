/*
 * formats.h — upstream bodies in other formats, converted to JSON before mapping.
 *
 * A consumed operation's `outputRawFormat` names the format of its answers. Output mappings
 * are JSONPath, so the body is converted first, to the same JSON shape the reference engine's
 * Converter produces:
 *
 *   json      the document (any JSON value)
 *   yaml      the first document; plain scalars typed (null, booleans, numbers), quoted ones
 *             strings; aliases refused (libyaml)
 *   xml       the root element's content, root name dropped (Jackson's XmlMapper): children
 *             and attributes become members (repeated names an array), text-only elements
 *             strings, mixed text under "" (libxml2; no network, no external entities)
 *   csv tsv psv   an array of row objects keyed by the header row, values strings (libcsv)
 *   html      {"tables": [[{header: cell, ...}, ...], ...]}: every <table> (or those the
 *             `outputSchema` CSS selector picks: tag, .class, #id, descendant chains) with a
 *             header row (libxml2's HTML parser)
 *   markdown  {"frontMatter": {...}, "tables": [...], "sections": [{heading, level,
 *             content}]}: GFM tables and top-level headings (md4c; front matter via libyaml);
 *             `outputSchema` keeps only the sections whose heading starts with it
 *   avro      one binary datum decoded with the schema file named by `outputSchema` (avro-c)
 *
 * Nesting deeper than CG_FORMAT_MAX_DEPTH is refused, so later (recursive) JSON handling of
 * the converted document stays bounded.
 */
#ifndef CG_FORMATS_H
#define CG_FORMATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CG_FORMAT_MAX_DEPTH 512

/* Initialises the parsing libraries once per process (libxml2 must be, before threads use
 * it). Safe to call from any thread, any number of times; cg_format_to_json calls it the
 * first time an XML or HTML body comes, so processes that never see one never pay for it
 * (libxml2's initialisation costs about 0.6 MB of RSS). */
void cg_formats_init(void);

/* Loads what converting bodies of this format needs (libxml2, avro-c: see common/lazylib.h)
 * now, so that the first such body is not the one to pay for it on a worker's loop. */
void cg_formats_prepare(const char *format);

/* True for a format cg_format_to_json converts. */
bool cg_format_known(const char *format);

/* Converts body (len bytes) in format ("json" when NULL) to a new JSON document. schema is
 * the operation's outputSchema (may be NULL). NULL on failure, with a message in err that
 * names the format and, when the parser says, the line. */
json_t *cg_format_to_json(const char *format, const char *schema, const char *body, size_t len,
                          char *err, size_t errlen);

#endif
