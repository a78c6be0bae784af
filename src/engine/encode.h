/*
 * encode.h — the careful little conversions between untrusted values and HTTP slots.
 *
 * Everything a caller sends that ends up in an upstream request goes through one of these:
 * a path value is percent-encoded so that it stays one path segment, a query value so that
 * it stays one query value, a header value is refused when it could end the header line,
 * and an integer is parsed strictly (errno, range, trailing garbage), as curl's
 * Curl_parse_port does. None of them allocate except through the caller's cg_buf.
 */
#ifndef CG_ENCODE_H
#define CG_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Appends s[0..n) percent-encoded: every byte outside RFC 3986 "unreserved"
 * (ALPHA / DIGIT / "-" / "." / "_" / "~") becomes %XX. A value that is "." or ".." is
 * encoded entirely (%2E%2E), so it can never act as a dot segment. 0 or -1 (memory). */
int cg_encode_percent(cg_buf *out, const char *s, size_t n);

/* Parses s[0..n) as a base-10 signed 64-bit integer: optional '-', digits only, no
 * spaces, no '+', no leading zeros beyond a single "0", within int64. true on success. */
bool cg_parse_int64(const char *s, size_t n, int64_t *out);

/* true when s[0..n) may be a header value: no CR, LF or NUL (and no other control
 * character except horizontal tab). */
bool cg_header_value_ok(const char *s, size_t n);

/* true when s is a well-formed header field name (RFC 9110 token). */
bool cg_header_name_ok(const char *s);

#endif
