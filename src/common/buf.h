/*
 * buf.h — a growable byte buffer, always NUL-terminated.
 *
 * A cg_buf owns its bytes. Appends grow it geometrically; an append that would pass
 * `max` (0 = no limit) fails with -1 and leaves the buffer as it was, so callers can cap
 * request bodies and documents before they parse them.
 */
#ifndef CG_BUF_H
#define CG_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct cg_buf {
    char *data; /* bytes, NUL-terminated when cap > 0; NULL when empty and unallocated */
    size_t len; /* bytes in use, not counting the terminator */
    size_t cap; /* bytes allocated */
    size_t max; /* largest allowed len; 0 = unlimited */
} cg_buf;

#define CG_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Append n bytes / a C string / printf-formatted text. 0 on success, -1 when out of
 * memory or over max (the buffer is unchanged). */
int cg_buf_append(cg_buf *b, const void *data, size_t n);
int cg_buf_append_str(cg_buf *b, const char *s);
int cg_buf_printf(cg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cg_buf_vprintf(cg_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Makes room for extra more bytes (one allocation instead of several as the buffer grows).
 * 0, or -1 when out of memory or over max (the buffer is unchanged). */
int cg_buf_reserve(cg_buf *b, size_t extra);
/* Appends v in decimal (no printf: for hot paths). */
int cg_buf_append_uint(cg_buf *b, unsigned long long v);
int cg_buf_append_int(cg_buf *b, long long v);

/* Appends s as the inside of a JSON string (no surrounding quotes), escaping as RFC 8259
 * requires; invalid UTF-8 bytes become U+FFFD. */
int cg_buf_append_json_escaped(cg_buf *b, const char *s, size_t n);
/* Non-zero for the bytes that stand for themselves inside a JSON string: not '"',
 * backslash, a control character or part of a UTF-8 sequence (a table: the tight loops of
 * the JSON scanners and escaping test one byte with one load). */
extern const unsigned char cg_json_plain[256];
/* Length of the valid UTF-8 sequence at s (at most n bytes): no overlong forms, surrogates
 * or code points past U+10FFFF; 0 when it is not one. */
size_t cg_utf8_sequence_length(const unsigned char *s, size_t n);

/* Empties the buffer but keeps its memory. */
void cg_buf_reset(cg_buf *b);

/* Frees the memory; the buffer is empty and reusable afterwards. */
void cg_buf_free(cg_buf *b);

/* Hands the bytes to the caller (free() them) and empties the buffer. Never NULL unless out
 * of memory: an empty buffer gives "". */
char *cg_buf_steal(cg_buf *b);

#endif
