/*
 * call_error.c — what a failed call says: each error's HTTP status, title and slug
 * (call.h), and how call.c and call_request.c record one.
 */
#include "engine/call.h"
#include "engine/call_int.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/base64.h"
#include "common/log.h"
#include "engine/digest.h"
#include "engine/encode.h"
#include "engine/profile_label_studio.h"
#include "engine/formats.h"
#include "engine/shape.h"
#include "engine/script_policy.h"
#include "engine/steps.h"
#include "engine/trace.h"
#include "engine/token.h"

/* ---- errors --------------------------------------------------------------------- */

int cg_call_error_status(const cg_call_result *res)
{
    switch (res->error) {
    case CG_CALL_OK: return res->status;
    case CG_CALL_BAD_ARGUMENT: return 400;
    case CG_CALL_NO_CREDENTIALS:
    case CG_CALL_CREDENTIALS_REFUSED: return 401;
    case CG_CALL_UNREACHABLE:
    case CG_CALL_BAD_GATEWAY: return 502;
    case CG_CALL_TIMEOUT: return 504;
    case CG_CALL_OVERLOADED: return 503;
    default: return 500;
    }
}

const char *cg_call_error_title(cg_call_error error)
{
    switch (error) {
    case CG_CALL_OK: return "OK";
    case CG_CALL_BAD_ARGUMENT: return "Invalid request parameter";
    case CG_CALL_NO_CREDENTIALS: return "No credentials";
    case CG_CALL_CREDENTIALS_REFUSED: return "Credentials refused";
    case CG_CALL_UNREACHABLE: return "Upstream unreachable";
    case CG_CALL_BAD_GATEWAY: return "Bad upstream response";
    case CG_CALL_TIMEOUT: return "Upstream timeout";
    case CG_CALL_OVERLOADED: return "Too many upstream calls";
    default: return "Internal error";
    }
}

const char *cg_call_error_slug(cg_call_error error)
{
    switch (error) {
    case CG_CALL_OK: return "ok";
    case CG_CALL_BAD_ARGUMENT: return "bad-argument";
    case CG_CALL_NO_CREDENTIALS: return "no-credentials";
    case CG_CALL_CREDENTIALS_REFUSED: return "credentials-refused";
    case CG_CALL_UNREACHABLE: return "upstream-unreachable";
    case CG_CALL_BAD_GATEWAY: return "bad-upstream-response";
    case CG_CALL_TIMEOUT: return "upstream-timeout";
    case CG_CALL_OVERLOADED: return "overloaded";
    default: return "internal";
    }
}

int cg__call_fail(cg_call_result *r, cg_call_error error, const char *argument, const char *fmt,
                  ...)
{
    r->error = error;
    r->argument = argument;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* The one mapping of upstream transport outcomes to call errors. */
cg_call_error cg__call_from_upstream(cg_upstream_result r)
{
    switch (r) {
    case CG_UPSTREAM_OK: return CG_CALL_OK;
    case CG_UPSTREAM_UNREACHABLE: return CG_CALL_UNREACHABLE;
    case CG_UPSTREAM_TIMEOUT: return CG_CALL_TIMEOUT;
    case CG_UPSTREAM_BAD_RESPONSE: return CG_CALL_BAD_GATEWAY;
    case CG_UPSTREAM_OVERLOADED: return CG_CALL_OVERLOADED;
    default: return CG_CALL_INTERNAL;
    }
}
