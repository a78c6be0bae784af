/*
 * labelconfig.h — what studio needs to know of a Label Studio labeling config (private to
 * src/studio): whether a project may have it, and how a minified prediction result maps
 * onto its control tags.
 *
 * The XML is read with libxml2 (no network, no entity expansion). A control tag is one that
 * produces results (Choices, Labels, TextArea, …); its `toName` names the object tag(s) it
 * labels. Validation follows Label Studio's messages:
 *   - null config                 "can only parse strings"
 *   - a labeling control without toName
 *                                 "Validation failed on : 'toName' is a required property"
 *   - a toName naming no tag      "toName=\"x\" not found in names: ['a', 'b']"
 *   - broken XML                  libxml2's message
 */
#ifndef CG_STUDIO_LABELCONFIG_H
#define CG_STUDIO_LABELCONFIG_H

#include <jansson.h>
#include <stddef.h>

/* Initialises libxml2 once, before any thread parses (call at start). */
void cg_studio_labelcfg_init(void);

/* 0 when xml is a config Label Studio accepts; -1 with the message in err. */
int cg_studio_labelcfg_validate(const char *xml, char *err, size_t errlen);

/* A prediction's result as stored: a list is kept as is (each item must be an object); a
 * string or integer goes to the first single-valued control (Choices, TextArea, Rating,
 * Number) whose type fits; an object goes to the first control whose type is one of its
 * keys (as Label Studio's Prediction.prepare_prediction_result). New reference, or NULL
 * with the message in err. */
json_t *cg_studio_labelcfg_expand_result(const char *xml, json_t *result, char *err, size_t errlen);

#endif
