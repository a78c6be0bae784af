/*
 * buf.c — growable byte buffer. See buf.h.
 */
#include "common/buf.h"

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

int cg_buf_printf(cg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cg_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is invalid. */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
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

int cg_buf_append_json_escaped(cg_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    if (buf_reserve(b, n) != 0) /* at least n bytes come out */
        return -1;
    while (i < n) {
        size_t run = i;
        /* copy the longest run of bytes that need no escaping in one go */
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') run++;
        if (run > i && cg_buf_append(b, p + i, run - i) != 0) return -1;
        i = run;
        if (i >= n) break;
        unsigned char c = p[i];
        int rc;
        if (c == '"') rc = cg_buf_append(b, "\\\"", 2);
        else if (c == '\\') rc = cg_buf_append(b, "\\\\", 2);
        else if (c == '\n') rc = cg_buf_append(b, "\\n", 2);
        else if (c == '\r') rc = cg_buf_append(b, "\\r", 2);
        else if (c == '\t') rc = cg_buf_append(b, "\\t", 2);
        else if (c < 0x20) rc = cg_buf_printf(b, "\\u%04x", c);
        else {
            size_t len = utf8_sequence_length(p + i, n - i);
            if (len == 0) {
                rc = cg_buf_append(b, "\xEF\xBF\xBD", 3);
                len = 1;
            } else {
                rc = cg_buf_append(b, p + i, len);
            }
            if (rc != 0) return -1;
            i += len;
            continue;
        }
        if (rc != 0) return -1;
        i++;
    }
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
