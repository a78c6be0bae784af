/*
 * unescape.h — URL decoding that never yields a NUL byte.
 *
 * Path and query values are decoded from %XY and then read as C strings, so a decoded %00
 * would silently cut "7%00junk" to "7". This decodes every %XY except %00, which stays as
 * the three characters "%00" and so fails any value check like other junk. Used by
 * net/h1_server (the REST and MCP adapters), by common/httpd (studio, mlbackend) and by
 * studio's form bodies. Hex digits are read by libcrypto's OPENSSL_hexchar2int (either case).
 */
#ifndef CG_UNESCAPE_H
#define CG_UNESCAPE_H

#include <stddef.h>

/* Decodes s in place; returns the new length. */
size_t cg_unescape_keep_nul(char *s);

/* The same for a path that is yet to be routed: %2F (either case) also stays encoded, so
 * an encoded slash can never split a segment ("7%2Fversions" is one segment). The router
 * decodes each captured value once more with cg_unescape_keep_nul. */
size_t cg_unescape_path(char *s);

#endif
