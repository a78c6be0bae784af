/*
 * shape.c — output parameters filled from the upstream document. See shape.h.
 *
 * Recursion follows the output tree, never the document: the tree's depth is capped by the
 * loader (32 levels), and documents are only walked by the JSONPath evaluator, which is
 * bounded on its own.
 */
#include "engine/shape.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/jsonpath.h"

bool cg_shape_needed(const cg_call *call)
{
    if (call->mock) return true;
    if (call->n_outputs == 0) return false;
    const char *fmt = call->op ? call->op->output_format : NULL;
    bool json = !fmt || !strcmp(fmt, "json");
    return !(json && call->n_outputs == 1 && cg_output_is_passthrough(&call->outputs[0]));
}

static int shape_fail(char *err, size_t errlen, const char *msg, const char *mapping)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", msg, mapping ? ": " : "", mapping ? mapping : "");
    return -1;
}

/* The first max UTF-8 characters of s (a new string). */
static json_t *truncated(const char *s, size_t len, long max)
{
    size_t i = 0;
    long chars = 0;
    while (i < len && chars < max) {
        unsigned char c = (unsigned char)s[i];
        i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        chars++;
    }
    return json_stringn(s, i > len ? len : i);
}

static json_t *number_text(const json_t *v)
{
    char tmp[64];
    if (json_is_integer(v))
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
    return json_string(tmp);
}

/* A number from text: an integer when it is one, else a finite real; NULL otherwise. */
static json_t *text_number(const char *s, bool integer_only)
{
    char *end;
    errno = 0;
    long long ll = strtoll(s, &end, 10);
    if (*s && !*end && !errno) return json_integer(ll);
    if (integer_only) {
        double d = strtod(s, &end);
        return *s && !*end && isfinite(d) && d == floor(d) && fabs(d) < 9.2e18
                   ? json_integer((json_int_t)d)
                   : NULL;
    }
    double d = strtod(s, &end);
    return *s && !*end && isfinite(d) ? json_real(d) : NULL;
}

/* Coerces v (a reference we own, may be NULL) to o's declared type; json null when it
 * cannot be. Returns a new reference. */
static json_t *coerce(const cg_output *o, json_t *v)
{
    json_t *r = NULL;
    if (!v || json_is_null(v)) {
        json_decref(v);
        return json_null();
    }
    if (!o->typed) return v;
    switch (o->type) {
    case CG_TYPE_STRING:
        if (json_is_string(v)) r = json_incref(v);
        else if (json_is_number(v)) r = number_text(v);
        else if (json_is_boolean(v)) r = json_string(json_is_true(v) ? "true" : "false");
        else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            r = text ? json_string(text) : NULL;
            free(text);
        }
        if (r && o->max_length >= 0) {
            json_t *t = truncated(json_string_value(r), json_string_length(r), o->max_length);
            json_decref(r);
            r = t;
        }
        break;
    case CG_TYPE_INTEGER:
        if (json_is_integer(v)) r = json_incref(v);
        else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
                 fabs(json_real_value(v)) < 9.2e18)
            r = json_integer((json_int_t)json_real_value(v));
        else if (json_is_string(v)) r = text_number(json_string_value(v), true);
        break;
    case CG_TYPE_NUMBER:
        if (json_is_number(v)) r = json_incref(v);
        else if (json_is_string(v)) r = text_number(json_string_value(v), false);
        break;
    case CG_TYPE_BOOLEAN:
        if (json_is_boolean(v)) r = json_incref(v);
        else if (json_is_string(v) && !strcmp(json_string_value(v), "true")) r = json_true();
        else if (json_is_string(v) && !strcmp(json_string_value(v), "false")) r = json_false();
        break;
    case CG_TYPE_OBJECT:
        if (json_is_object(v)) r = json_incref(v);
        break;
    case CG_TYPE_ARRAY:
        if (json_is_array(v)) r = json_incref(v);
        break;
    }
    json_decref(v);
    return r ? r : json_null();
}

/* Evaluates o's mapping over node; *found is NULL when nothing matched. */
static int mapped(const cg_output *o, json_t *node, json_t **found, char *err, size_t errlen)
{
    *found = NULL;
    if (!node) return 0;
    cg_jsonpath_result rc = cg_jsonpath_eval(o->path, node, found);
    if (rc == CG_JSONPATH_LIMIT)
        return shape_fail(err, errlen, "the JSONPath visited too many nodes (limit reached)",
                          o->mapping);
    if (rc != CG_JSONPATH_OK) return shape_fail(err, errlen, "out of memory", NULL);
    return 0;
}

/* self: an output without a mapping stands for the context node itself (array items). */
static int output_value(const cg_output *o, json_t *node, bool self, cg_shape_render render,
                        void *ctx, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (o->value) {
        cg_buf b = CG_BUF_INIT;
        if (!render || render(ctx, o->value, &b) < 0) {
            cg_buf_free(&b);
            return shape_fail(err, errlen, "out of memory", NULL);
        }
        json_t *s = json_stringn(b.data ? b.data : "", b.len);
        cg_buf_free(&b);
        *out = coerce(o, s);
        return 0;
    }
    json_t *base = NULL;
    if (o->path) {
        if (mapped(o, node, &base, err, errlen) < 0) return -1;
    } else if (o->by_name && o->name) {
        base = json_incref(json_object_get(node, o->name));
    } else if (self || (o->type == CG_TYPE_OBJECT && o->n_properties)) {
        base = json_incref(node);
    }
    if (o->type == CG_TYPE_OBJECT && o->n_properties) {
        /* (no document at all, in mock mode: the properties' values still make it) */
        if ((o->path || node) && (!base || !(json_is_object(base) || json_is_array(base)))) {
            json_decref(base);
            *out = json_null();
            return 0;
        }
        json_t *obj = json_object();
        for (size_t i = 0; obj && i < o->n_properties; i++) {
            json_t *pv;
            if (output_value(&o->properties[i], base, false, render, ctx, &pv, err, errlen) < 0) {
                json_decref(obj);
                json_decref(base);
                return -1;
            }
            json_object_set_new(obj, o->properties[i].name ? o->properties[i].name : "property",
                                pv);
        }
        json_decref(base);
        if (!obj) return shape_fail(err, errlen, "out of memory", NULL);
        *out = obj;
        return 0;
    }
    if (o->type == CG_TYPE_ARRAY && o->items && json_is_array(base)) {
        json_t *arr = json_array();
        size_t i;
        json_t *el;
        json_array_foreach(base, i, el)
        {
            json_t *iv;
            if (!arr || output_value(o->items, el, true, render, ctx, &iv, err, errlen) < 0) {
                json_decref(arr);
                json_decref(base);
                return arr ? -1 : shape_fail(err, errlen, "out of memory", NULL);
            }
            json_array_append_new(arr, iv);
        }
        json_decref(base);
        *out = arr;
        return 0;
    }
    *out = coerce(o, base);
    return 0;
}

int cg_shape_output(const cg_output *o, json_t *ctx_node, cg_shape_render render, void *ctx,
                    json_t **out, char *err, size_t errlen)
{
    return output_value(o, ctx_node, false, render, ctx, out, err, errlen);
}

int cg_shape_answer(const cg_call *call, json_t *doc, cg_shape_render render, void *ctx,
                    json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    size_t n = call->n_outputs;
    bool all_named = n > 0;
    for (size_t i = 0; i < n; i++) all_named &= call->outputs[i].name != NULL;
    if (!call->mock && n == 1)
        return output_value(&call->outputs[0], doc, false, render, ctx, out, err, errlen);
    if (call->mock || all_named) {
        json_t *obj = json_object();
        for (size_t i = 0; obj && i < n; i++) {
            json_t *v;
            if (output_value(&call->outputs[i], doc, false, render, ctx, &v, err, errlen) < 0) {
                json_decref(obj);
                return -1;
            }
            if (call->mock && json_is_null(v)) {
                json_decref(v);
                continue;
            }
            json_object_set_new(obj, call->outputs[i].name ? call->outputs[i].name : "value", v);
        }
        if (!obj) return shape_fail(err, errlen, "out of memory", NULL);
        *out = obj;
        return 0;
    }
    /* several outputs, some unnamed: the first that gives something (the reference's rule) */
    for (size_t i = 0; i < n; i++) {
        json_t *v;
        if (output_value(&call->outputs[i], doc, false, render, ctx, &v, err, errlen) < 0)
            return -1;
        if (!json_is_null(v) || i + 1 == n) {
            *out = v;
            return 0;
        }
        json_decref(v);
    }
    *out = json_null();
    return 0;
}
