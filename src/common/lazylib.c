/*
 * lazylib.c — libxml2 and avro-c on first use. See lazylib.h.
 *
 * Each forwarder below has the library's own prototype (from its header), so a signature
 * that changed would fail to compile here rather than misbehave. The sonames come from the
 * build (Makefile: CG_LIBXML2_SONAME, CG_LIBAVRO_SONAME).
 */
#include "common/lazylib.h"

#include <avro.h>
#include <dlfcn.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"

#ifndef CG_LIBXML2_SONAME
#define CG_LIBXML2_SONAME "libxml2.so.2"
#endif
#ifndef CG_LIBAVRO_SONAME
#define CG_LIBAVRO_SONAME "libavro.so.23"
#endif

typedef struct lib {
    const char *soname;
    pthread_once_t once;
    void *handle;
    char why[256]; /* dlerror() when it could not be loaded */
} lib;

static lib xml_lib = {CG_LIBXML2_SONAME, PTHREAD_ONCE_INIT, NULL, ""};
static lib avro_lib = {CG_LIBAVRO_SONAME, PTHREAD_ONCE_INIT, NULL, ""};

/* libxml2's xmlFree is a variable (the deallocator it was set up with): ours starts as
 * libxml2's default and takes libxml2's value once it is loaded. */
xmlFreeFunc xmlFree = free;

static void load(lib *l)
{
    l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!l->handle) {
        const char *e = dlerror();
        snprintf(l->why, sizeof l->why, "%s", e ? e : "cannot be loaded");
        return;
    }
    if (l == &xml_lib) {
        xmlFreeFunc *f = (xmlFreeFunc *)dlsym(l->handle, "xmlFree");
        if (f && *f) xmlFree = *f;
    }
}
static void load_xml(void)
{
    load(&xml_lib);
}
static void load_avro(void)
{
    load(&avro_lib);
}

static bool ready(lib *l, char *err, size_t errlen)
{
    pthread_once(&l->once, l == &xml_lib ? load_xml : load_avro);
    if (!l->handle && err && errlen) snprintf(err, errlen, "%s", l->why);
    return l->handle != NULL;
}

bool cg_lazylib_xml(char *err, size_t errlen)
{
    return ready(&xml_lib, err, errlen);
}
bool cg_lazylib_avro(char *err, size_t errlen)
{
    return ready(&avro_lib, err, errlen);
}

/* The library's symbol name; never returns NULL (see lazylib.h). */
static void *sym(lib *l, const char *name)
{
    void *p = ready(l, NULL, 0) ? dlsym(l->handle, name) : NULL;
    if (!p) {
        cg_log(CG_LOG_ERROR, "lazylib", "%s: %s", l->soname, l->handle ? name : l->why);
        abort();
    }
    return p;
}

/* One forwarder: the function pointer is looked up once and kept. */
#define RESOLVE(lib_, name)                                                                        \
    static __typeof__(&name) fn;                                                                   \
    __typeof__(&name) f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);                                  \
    if (!f) {                                                                                      \
        f = (__typeof__(&name))sym(&lib_, #name);                                                  \
        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);                                                \
    }
#define FORWARD(lib_, ret, name, params, args)                                                     \
    ret name params                                                                                \
    {                                                                                              \
        RESOLVE(lib_, name)                                                                        \
        return f args;                                                                             \
    }
#define FORWARD_VOID(lib_, name, params, args)                                                     \
    void name params                                                                               \
    {                                                                                              \
        RESOLVE(lib_, name)                                                                        \
        f args;                                                                                    \
    }

/* ---- libxml2 ---- */
FORWARD_VOID(xml_lib, xmlInitParser, (void), ())
FORWARD(xml_lib, xmlDocPtr, xmlReadMemory,
        (const char *buffer, int size, const char *URL, const char *encoding, int options),
        (buffer, size, URL, encoding, options))
FORWARD(xml_lib, htmlDocPtr, htmlReadMemory,
        (const char *buffer, int size, const char *URL, const char *encoding, int options),
        (buffer, size, URL, encoding, options))
FORWARD_VOID(xml_lib, xmlFreeDoc, (xmlDocPtr cur), (cur))
FORWARD(xml_lib, xmlNodePtr, xmlDocGetRootElement, (const xmlDoc *doc), (doc))
FORWARD(xml_lib, xmlChar *, xmlGetProp, (const xmlNode *node, const xmlChar *name), (node, name))
FORWARD(xml_lib, xmlChar *, xmlNodeGetContent, (const xmlNode *cur), (cur))
FORWARD(xml_lib, xmlErrorPtr, xmlGetLastError, (void), ())
FORWARD_VOID(xml_lib, xmlSetGenericErrorFunc, (void *ctx, xmlGenericErrorFunc handler),
             (ctx, handler))

/* ---- avro-c ---- */
FORWARD(avro_lib, int, avro_schema_from_json_length,
        (const char *jsontext, size_t length, avro_schema_t *schema), (jsontext, length, schema))
FORWARD(avro_lib, const char *, avro_strerror, (void), ())
FORWARD(avro_lib, avro_value_iface_t *, avro_generic_class_from_schema, (avro_schema_t schema),
        (schema))
FORWARD(avro_lib, avro_reader_t, avro_reader_memory, (const char *buf, int64_t len), (buf, len))
FORWARD(avro_lib, int, avro_generic_value_new, (avro_value_iface_t * iface, avro_value_t *dest),
        (iface, dest))
FORWARD(avro_lib, int, avro_value_read, (avro_reader_t reader, avro_value_t *dest), (reader, dest))
FORWARD(avro_lib, int, avro_value_to_json,
        (const avro_value_t *value, int one_line, char **json_str), (value, one_line, json_str))
FORWARD_VOID(avro_lib, avro_value_decref, (avro_value_t * value), (value))
FORWARD_VOID(avro_lib, avro_reader_free, (avro_reader_t reader), (reader))
FORWARD(avro_lib, int, avro_schema_decref, (avro_schema_t schema), (schema))
