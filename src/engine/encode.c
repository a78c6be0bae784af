/*
 * encode.c — percent-encoding, strict integers and header screening. See encode.h.
 *
 * These functions are the reason a caller's value can never change an upstream request
 * beyond its own slot, so they are deliberately conservative: encode more than needed,
 * accept less than possible.
 */
#include "engine/encode.h"

#include <string.h>

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int cg_encode_percent(cg_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    bool dots_only = n > 0 && n <= 2 && s[0] == '.' && (n == 1 || s[1] == '.');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) && !dots_only) {
            if (cg_buf_append(out, &s[i], 1) < 0) return -1;
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (cg_buf_append(out, esc, 3) < 0) return -1;
        }
    }
    return 0;
}

bool cg_parse_int64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n) return false;
    if (s[i] == '0' && n - i > 1) return false; /* leading zeros */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false; /* trailing garbage, spaces, NUL */
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) return false; /* out of range */
        v = v * 10 + d;
    }
    if (neg && v == 0) return false; /* "-0" */
    if (out) *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool cg_header_value_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

bool cg_header_name_ok(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (!s || !*s) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (c && strchr(tchar, c));
        if (!ok) return false;
    }
    return true;
}
