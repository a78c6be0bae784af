/*
 * lazylib.h — libxml2 and avro-c, loaded the first time they are used.
 *
 * Why: linked the ordinary way, libxml2 (with ICU and libstdc++) and avro-c (with snappy and
 * libstdc++) are mapped and relocated at start-up — every one of them is linked with
 * BIND_NOW — which costs every capgate process ~2.3 MB of resident memory although only a
 * body in XML, HTML or Avro, or a Label Studio labeling config, ever needs them. capgate is
 * not linked against them; lazylib.c defines the few functions of theirs that capgate calls,
 * each of which loads its library (dlopen, once) and forwards the call.
 *
 * Call cg_lazylib_xml / cg_lazylib_avro before a conversion: false (with the reason in err)
 * when the library cannot be loaded, and the caller answers with that error. A forwarded
 * call whose library cannot be loaded logs why and aborts, as the dynamic loader would have
 * refused to start the process before.
 */
#ifndef CG_LAZYLIB_H
#define CG_LAZYLIB_H

#include <stdbool.h>
#include <stddef.h>

bool cg_lazylib_xml(char *err, size_t errlen);
bool cg_lazylib_avro(char *err, size_t errlen);

#endif
