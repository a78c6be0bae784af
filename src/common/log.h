/*
 * log.h — one JSON object per line on stderr.
 *
 * Every capgate process logs the same way: {"ts":"2026-11-28T15:00:00.123Z","level":"info",
 * "module":"studio","msg":"..."}. Lines are written with a single write(2), so lines from
 * several threads never interleave. Callers must never pass secrets: cg_log_redact() is
 * the helper for values that might hold one.
 */
#ifndef CG_LOG_H
#define CG_LOG_H

#include "common/buf.h"

typedef enum { CG_LOG_DEBUG, CG_LOG_INFO, CG_LOG_WARN, CG_LOG_ERROR } cg_log_level;

/* Lines below this level are dropped. Default CG_LOG_INFO; CAPGATE_LOG_LEVEL=debug|info|
 * warn|error in the environment sets it at the first call. */
void cg_log_set_level(cg_log_level level);
int cg_log_enabled(cg_log_level level);

/* Logs one message (printf-style) for a module. */
void cg_log(cg_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes buf (one complete JSON object, no newline) plus "\n" to stderr in one write. */
void cg_log_write_line(const cg_buf *line);

/* Appends the "ts" value (RFC 3339 UTC with milliseconds, quoted) to a JSON line. */
int cg_log_append_timestamp(cg_buf *b);

/* Returns a safe rendering of a credential for logs: "Token ***", "Bearer ***", "***". */
const char *cg_log_redact(const char *credential);

#endif
