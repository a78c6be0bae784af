/*
 * base64.h — base64 (RFC 4648 §4) and base64url (§5) over libcrypto's EVP_EncodeBlock and
 * EVP_DecodeBlock: the one base64 in capgate.
 *
 * Encoding: CG_B64_STD pads with '='; CG_B64_URL uses '-' and '_' and no padding (JWTs).
 * Decoding is strict about the alphabet (a character of the other alphabet, whitespace or a
 * '=' before the end is an error) and lenient about padding: it may be there or not.
 */
#ifndef CG_BASE64_H
#define CG_BASE64_H

#include <stddef.h>

typedef enum { CG_B64_STD, CG_B64_URL } cg_b64_alphabet;

/* Encodes n bytes. A malloc'd, NUL-terminated string, or NULL when out of memory. */
char *cg_base64_encode(const void *data, size_t n, cg_b64_alphabet a);

/* Decodes the n characters at s. A malloc'd buffer of *outlen bytes (plus a NUL, so text
 * can be read as a string), or NULL on bad input or out of memory. */
unsigned char *cg_base64_decode(const char *s, size_t n, cg_b64_alphabet a, size_t *outlen);

#endif
