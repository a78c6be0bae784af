/*
 * buf.c — growable byte buffer. See buf.h.
 */
#include "common/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int buf_reserve(cg_buf *b, size_t extra)
{
    if (b->max && (extra > b->max || b->len > b->max - extra)) return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int cg_buf_append(cg_buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n) != 0) return -1;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cg_buf_append_str(cg_buf *b, const char *s)
{
    return cg_buf_append(b, s, strlen(s));
}

/* One formatting pass when the text fits in the room the buffer already has (the common
 * case on a reused buffer), a second one into a grown buffer otherwise. */
int cg_buf_vprintf(cg_buf *b, const char *fmt, va_list ap)
{
    if (!b->cap && buf_reserve(b, 0) != 0) return -1;
    size_t room = b->cap - b->len; /* including the terminator */
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(b->data + b->len, room, fmt, copy);
    va_end(copy);
    if (n >= 0 && (size_t)n < room && !(b->max && b->len + (size_t)n > b->max)) {
        b->len += (size_t)n;
        return 0;
    }
    b->data[b->len] = '\0'; /* unchanged on failure */
    if (n < 0 || buf_reserve(b, (size_t)n) != 0) return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int cg_buf_reserve(cg_buf *b, size_t extra)
{
    return buf_reserve(b, extra);
}

int cg_buf_append_uint(cg_buf *b, unsigned long long v)
{
    char digits[24];
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return cg_buf_append(b, digits + i, sizeof digits - i);
}

int cg_buf_append_int(cg_buf *b, long long v)
{
    if (v < 0 && cg_buf_append(b, "-", 1) != 0) return -1;
    return cg_buf_append_uint(b, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
}

int cg_buf_printf(cg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cg_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

size_t cg_utf8_sequence_length(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else return 0;
    if (len > n) return 0;
    unsigned cp = c & (0xFF >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* 1 for the bytes that stand for themselves inside a JSON string: 0x20-0x7F but '"'
 * (0x22) and backslash (0x5C). */
const unsigned char cg_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

int cg_buf_append_json_escaped(cg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const char *p = s, *end = s + n;
    if (buf_reserve(b, n + 16) != 0 && buf_reserve(b, n) != 0) return -1;
    while (p < end) {
        /* copy while the bytes stand for themselves and there is room; then make room for
         * what follows (one byte becomes at most 6 when escaped) */
        char *o = b->data + b->len, *limit = b->data + b->cap - 1; /* the terminator's */
        while (p < end && o < limit && cg_json_plain[(unsigned char)*p]) *o++ = *p++;
        b->len = (size_t)(o - b->data);
        if (p == end) break;
        if (limit - o < 6) {
            if (buf_reserve(b, (size_t)(end - p) + 64) != 0 && buf_reserve(b, 6) != 0) return -1;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        size_t len = 1;
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') {
            *o++ = '\\';
            *o++ = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else if (!(len = cg_utf8_sequence_length((const unsigned char *)p, (size_t)(end - p)))) {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD for a byte that is not UTF-8 */
            o += 3;
            len = 1;
        } else {
            memcpy(o, p, len); /* at most 4 */
            o += len;
        }
        p += len;
        b->len = (size_t)(o - b->data);
    }
    b->data[b->len] = '\0';
    return 0;
}

void cg_buf_reset(cg_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void cg_buf_free(cg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *cg_buf_steal(cg_buf *b)
{
    char *p = b->data ? b->data : strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
