/*
 * log.c — JSON lines on stderr. See log.h.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* -1: not yet read from the environment. Atomic: the control port's PUT /logs changes it
 * while every worker reads it. */
static _Atomic int log_level = -1;

static cg_log_level level_from_env(void)
{
    const char *v = getenv("CAPGATE_LOG_LEVEL");
    if (!v) return CG_LOG_INFO;
    if (!strcasecmp(v, "debug")) return CG_LOG_DEBUG;
    if (!strcasecmp(v, "warn") || !strcasecmp(v, "warning")) return CG_LOG_WARN;
    if (!strcasecmp(v, "error")) return CG_LOG_ERROR;
    return CG_LOG_INFO;
}

void cg_log_set_level(cg_log_level level)
{
    log_level = (int)level;
}

int cg_log_enabled(cg_log_level level)
{
    int cur = log_level;
    if (cur < 0) log_level = cur = (int)level_from_env();
    return (int)level >= cur;
}

int cg_log_append_timestamp(cg_buf *b)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    return cg_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         ts.tv_nsec / 1000000);
}

void cg_log_write_line(const cg_buf *line)
{
    cg_buf out = CG_BUF_INIT;
    if (cg_buf_append(&out, line->data ? line->data : "", line->len) == 0 &&
        cg_buf_append(&out, "\n", 1) == 0) {
        size_t off = 0;
        while (off < out.len) {
            ssize_t n = write(STDERR_FILENO, out.data + off, out.len - off);
            if (n <= 0) break;
            off += (size_t)n;
        }
    }
    cg_buf_free(&out);
}

static const char *level_name(cg_log_level level)
{
    switch (level) {
    case CG_LOG_DEBUG: return "debug";
    case CG_LOG_INFO: return "info";
    case CG_LOG_WARN: return "warn";
    default: return "error";
    }
}

void cg_log(cg_log_level level, const char *module, const char *fmt, ...)
{
    if (!cg_log_enabled(level)) return;
    cg_buf msg = CG_BUF_INIT, line = CG_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cg_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    cg_buf_append_str(&line, "{\"ts\":");
    cg_log_append_timestamp(&line);
    cg_buf_printf(&line, ",\"level\":\"%s\",\"module\":\"", level_name(level));
    cg_buf_append_json_escaped(&line, module, strlen(module));
    cg_buf_append_str(&line, "\",\"msg\":\"");
    if (msg.data) cg_buf_append_json_escaped(&line, msg.data, msg.len);
    cg_buf_append_str(&line, "\"}");
    cg_log_write_line(&line);
    cg_buf_free(&msg);
    cg_buf_free(&line);
}

const char *cg_log_redact(const char *credential)
{
    if (!credential || !*credential) return "";
    if (!strncasecmp(credential, "Token ", 6)) return "Token ***";
    if (!strncasecmp(credential, "Bearer ", 7)) return "Bearer ***";
    if (!strncasecmp(credential, "Basic ", 6)) return "Basic ***";
    return "***";
}
