/*
 * unescape.c — %XY decoding that keeps %00 encoded. See unescape.h.
 */
#include "common/unescape.h"

#include <openssl/crypto.h>
#include <stdbool.h>

/* Decodes s in place, keeping %00 and, when keep_slash, %2F encoded. */
static size_t unescape(char *s, bool keep_slash)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = OPENSSL_hexchar2int((unsigned char)r[1])) >= 0 &&
            (lo = OPENSSL_hexchar2int((unsigned char)r[2])) >= 0 && (hi | lo) &&
            !(keep_slash && hi == 2 && lo == 15)) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

size_t cg_unescape_keep_nul(char *s)
{
    return unescape(s, false);
}

size_t cg_unescape_path(char *s)
{
    return unescape(s, true);
}
