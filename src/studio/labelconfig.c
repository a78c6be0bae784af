/*
 * labelconfig.c — Label Studio labeling configs read with libxml2: validation on project
 * create/update, and expansion of minified prediction results. See labelconfig.h.
 *
 * Label Studio validates a config against a JSON schema of its tags and then checks every
 * toName against the names in the config. We keep the two checks its tests pin down (a
 * labeling control needs toName; each toName must name a tag) and accept any other tag,
 * so configs written for newer Label Studio tags are not refused here.
 */
#include "studio/labelconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* Controls whose schema requires toName (TextArea does not: dialogs use it alone). */
static const char *const needs_to_name[] = {
    "Choices",       "Labels",        "RectangleLabels", "PolygonLabels",   "KeyPointLabels",
    "BrushLabels",   "EllipseLabels", "HyperTextLabels", "ParagraphLabels", "TimeSeriesLabels",
    "BitmaskLabels", "Rectangle",     "Polygon",         "KeyPoint",        "Brush",
    "Ellipse",       "Bitmask",       "Rating",          "Number",          "DateTime",
    "Taxonomy",      "Ranker",        "VideoRectangle",  "MagicWand",       NULL,
};

static int in_list(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], name)) return 1;
    return 0;
}

/* Errors from libxml2 go to the message buffer, never to stderr. */
static void quiet_errors(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

void cg_studio_labelcfg_init(void)
{
    xmlInitParser();
}

static xmlDocPtr parse(const char *xml, char *err, size_t errlen)
{
    xmlSetGenericErrorFunc(NULL, quiet_errors);
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "label_config", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !xmlDocGetRootElement(doc)) {
        const xmlError *e = xmlGetLastError();
        snprintf(err, errlen, "%s", e && e->message ? e->message : "not a valid XML document");
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static char *attr(xmlNodePtr n, const char *name)
{
    return (char *)xmlGetProp(n, (const xmlChar *)name);
}

/* Every element's name attribute, in document order. */
static void collect_names(xmlNodePtr n, json_t *names)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        char *name = attr(n, "name");
        if (name) json_array_append_new(names, json_string(name));
        xmlFree(name);
        collect_names(n->children, names);
    }
}

static int names_has(json_t *names, const char *s, size_t len)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) if (strlen(json_string_value(v)) == len &&
                                        !strncmp(json_string_value(v), s, len)) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "['a', 'b']" as Python prints a sorted list of str. */
static void python_list(json_t *names, char *out, size_t outlen)
{
    size_t n = json_array_size(names), used = 0;
    const char **v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        snprintf(out, outlen, "[]");
        return;
    }
    for (size_t i = 0; i < n; i++) v[i] = json_string_value(json_array_get(names, i));
    qsort(v, n, sizeof *v, cmp_str);
    used += (size_t)snprintf(out, outlen, "[");
    for (size_t i = 0; i < n && used < outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%s'%s'", i ? ", " : "", v[i]);
    if (used < outlen) snprintf(out + used, outlen - used, "]");
    free(v);
}

static int check_controls(xmlNodePtr n, json_t *names, char *err, size_t errlen)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        char *name = attr(n, "name"), *to = attr(n, "toName");
        int rc = 0;
        if (name && !to && in_list(needs_to_name, (const char *)n->name)) {
            snprintf(err, errlen, "Validation failed on : 'toName' is a required property");
            rc = -1;
        }
        for (const char *p = to; rc == 0 && p && *p;) {
            size_t len = strcspn(p, ",");
            if (!names_has(names, p, len)) {
                char list[600];
                python_list(names, list, sizeof list);
                snprintf(err, errlen, "toName=\"%.*s\" not found in names: %s",
                         (int)(len > 200 ? 200 : len), p, list);
                rc = -1;
            }
            p += len + (p[len] == ',');
        }
        xmlFree(name);
        xmlFree(to);
        if (rc || check_controls(n->children, names, err, errlen)) return -1;
    }
    return 0;
}

int cg_studio_labelcfg_validate(const char *xml, char *err, size_t errlen)
{
    if (!xml) {
        snprintf(err, errlen, "can only parse strings");
        return -1;
    }
    xmlDocPtr doc = parse(xml, err, errlen);
    if (!doc) return -1;
    json_t *names = json_array();
    xmlNodePtr root = xmlDocGetRootElement(doc);
    collect_names(root, names);
    int rc = check_controls(root, names, err, errlen);
    json_decref(names);
    xmlFreeDoc(doc);
    return rc;
}

/* ---- minified prediction results ------------------------------------------------------- */

/* The first control (a named tag with toName, or a TextArea) accepting result; NULL if none.
 * The new item is {"from_name","to_name","type","value"}. */
static json_t *first_fit(xmlNodePtr n, json_t *result)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        char *name = attr(n, "name"), *to = attr(n, "toName");
        json_t *item = NULL;
        if (name && (to || !strcasecmp((const char *)n->name, "TextArea"))) {
            char type[64];
            snprintf(type, sizeof type, "%s", (const char *)n->name);
            for (char *c = type; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            json_t *value = NULL;
            if (json_is_object(result) && json_object_get(result, type))
                value = json_incref(result);
            else if (json_is_string(result) && !strcmp(type, "choices"))
                value = json_pack("{s:[O]}", "choices", result);
            else if (json_is_string(result) && !strcmp(type, "textarea"))
                value = json_pack("{s:[O]}", "text", result);
            else if (json_is_integer(result) && !strcmp(type, "rating"))
                value = json_pack("{s:O}", "rating", result);
            else if (json_is_number(result) && !strcmp(type, "number"))
                value = json_pack("{s:O}", "number", result);
            if (value)
                item = json_pack("{s:s,s:s,s:s,s:o}", "from_name", name, "to_name", to ? to : "",
                                 "type", type, "value", value);
        }
        xmlFree(name);
        xmlFree(to);
        if (!item) item = first_fit(n->children, result);
        if (item) return item;
    }
    return NULL;
}

json_t *cg_studio_labelcfg_expand_result(const char *xml, json_t *result, char *err, size_t errlen)
{
    if (json_is_array(result)) {
        size_t i;
        json_t *v;
        json_array_foreach(result, i, v)
        {
            if (!json_is_object(v)) {
                snprintf(err, errlen, "Each item in prediction result should be dict");
                return NULL;
            }
        }
        return json_incref(result);
    }
    if (!json_is_object(result) && !json_is_string(result) && !json_is_number(result)) {
        snprintf(err, errlen, "Incorrect format %s for prediction result",
                 json_is_null(result)      ? "NoneType"
                 : json_is_boolean(result) ? "bool"
                                           : "?");
        return NULL;
    }
    xmlDocPtr doc = xml ? parse(xml, err, errlen) : NULL;
    if (!doc) return NULL;
    json_t *item = first_fit(xmlDocGetRootElement(doc), result);
    xmlFreeDoc(doc);
    if (!item) {
        snprintf(err, errlen, "No control tag of the label config takes this result");
        return NULL;
    }
    return json_pack("[o]", item);
}
