/*
 * options.c — the command-line cursor and the integer, size and duration readers.
 *
 * Numbers are read with strtoll/strtod and checked for errno, an empty number, trailing
 * bytes and range, as curl checks a port: a value is either exactly right or refused with
 * a message that says what was expected.
 */
#include "common/options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cg_opt_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9'))) return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = (long)v;
    return 0;
}

int cg_opt_parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    unsigned long long mult = 1;
    if (!strcasecmp(end, "k")) mult = 1ULL << 10;
    else if (!strcasecmp(end, "m")) mult = 1ULL << 20;
    else if (!strcasecmp(end, "g")) mult = 1ULL << 30;
    else if (*end) return -1;
    if (v > (unsigned long long)SIZE_MAX / mult) return -1;
    v *= mult;
    if (v < min || v > max) return -1;
    *out = (size_t)v;
    return 0;
}

int cg_opt_parse_duration(const char *s, long unit_ms, long min_ms, long max_ms, long *out_ms)
{
    char *end;
    if (!s || ((*s < '0' || *s > '9') && *s != '.')) return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v)) return -1;
    /* only plain decimals: strtod would also take hex and exponents */
    for (const char *p = s; p < end; p++)
        if ((*p < '0' || *p > '9') && *p != '.') return -1;
    double unit = (double)unit_ms;
    if (!strcmp(end, "ms")) unit = 1;
    else if (!strcmp(end, "s")) unit = 1000;
    else if (!strcmp(end, "m")) unit = 60000;
    else if (!strcmp(end, "h")) unit = 3600000;
    else if (*end) return -1;
    double ms = v * unit;
    if (ms < (double)min_ms || ms > (double)max_ms) return -1;
    *out_ms = (long)ms;
    return 0;
}

/* ---- the cursor ---- */

void cg_opts_init(cg_opts *o, const char *command, int argc, char **argv)
{
    *o = (cg_opts){.command = command, .argc = argc, .argv = argv, .i = 0};
}

bool cg_opts_next(cg_opts *o)
{
    o->name = o->inline_value = o->arg = NULL;
    o->name_len = 0;
    if (++o->i >= o->argc) return false;
    const char *a = o->argv[o->i];
    if (!o->only_args && !strcmp(a, "--")) {
        o->only_args = true;
        return cg_opts_next(o);
    }
    if (o->only_args || a[0] != '-' || !a[1]) {
        o->arg = a;
        return true;
    }
    o->name = a;
    const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
    o->name_len = eq ? (size_t)(eq - a) : strlen(a);
    o->inline_value = eq ? eq + 1 : NULL;
    return true;
}

bool cg_opts_is(const cg_opts *o, const char *name)
{
    return o->name && strlen(name) == o->name_len && !strncmp(o->name, name, o->name_len);
}

bool cg_opts_is_help(const cg_opts *o)
{
    return cg_opts_is(o, "--help") || cg_opts_is(o, "-h");
}

const char *cg_opts_value(cg_opts *o)
{
    if (o->inline_value) return o->inline_value;
    if (o->i + 1 >= o->argc) {
        fprintf(stderr, "capgate %s: %.*s: needs a value\n", o->command, (int)o->name_len, o->name);
        return NULL;
    }
    return o->argv[++o->i];
}

int cg_opts_bad(const cg_opts *o, const char *what, const char *value)
{
    fprintf(stderr, "capgate %s: %.*s: expected %s, got '%s'\n", o->command, (int)o->name_len,
            o->name ? o->name : "", what, value ? value : "");
    return -1;
}

const char *cg_opts_nonempty(cg_opts *o, const char *what)
{
    const char *v = cg_opts_value(o);
    if (v && !*v) {
        cg_opts_bad(o, what, v);
        return NULL;
    }
    return v;
}

int cg_opts_listen_port(cg_opts *o, const char **listen, int *port)
{
    if (cg_opts_is(o, "--listen")) return (*listen = cg_opts_value(o)) ? 1 : -1;
    if (!cg_opts_is(o, "--port")) return 0;
    long n;
    if (cg_opts_int(o, 0, 65535, &n) < 0) return -1;
    *port = (int)n;
    return 1;
}

int cg_opts_int(cg_opts *o, long min, long max, long *out)
{
    const char *v = cg_opts_value(o);
    if (!v) return -1;
    if (cg_opt_parse_int(v, min, max, out) == 0) return 0;
    char what[80];
    snprintf(what, sizeof what, "an integer %ld..%ld", min, max);
    return cg_opts_bad(o, what, v);
}

/* 10485760 -> "10m": the largest suffix that divides it. */
static void format_size(char *out, size_t len, size_t n)
{
    static const char suffix[] = "gmk";
    for (int i = 0; i < 3; i++) {
        size_t unit = (size_t)1 << (10 * (3 - i));
        if (n && n % unit == 0) {
            snprintf(out, len, "%zu%c", n / unit, suffix[i]);
            return;
        }
    }
    snprintf(out, len, "%zu", n);
}

int cg_opts_size(cg_opts *o, size_t min, size_t max, size_t *out)
{
    const char *v = cg_opts_value(o);
    if (!v) return -1;
    if (cg_opt_parse_size(v, min, max, out) == 0) return 0;
    char lo[32], hi[32], what[128];
    format_size(lo, sizeof lo, min);
    format_size(hi, sizeof hi, max);
    snprintf(what, sizeof what, "a size %s..%s (bytes, or with a k, m or g suffix)", lo, hi);
    return cg_opts_bad(o, what, v);
}

/* 30000 -> "30s": the largest unit that divides it. */
static void format_duration(char *out, size_t len, long ms)
{
    if (ms && ms % 3600000 == 0) snprintf(out, len, "%ldh", ms / 3600000);
    else if (ms && ms % 60000 == 0) snprintf(out, len, "%ldm", ms / 60000);
    else if (ms && ms % 1000 == 0) snprintf(out, len, "%lds", ms / 1000);
    else snprintf(out, len, "%ldms", ms);
}

int cg_opts_duration(cg_opts *o, long unit_ms, long min_ms, long max_ms, long *out_ms)
{
    const char *v = cg_opts_value(o);
    if (!v) return -1;
    if (cg_opt_parse_duration(v, unit_ms, min_ms, max_ms, out_ms) == 0) return 0;
    char lo[32], hi[32], what[160];
    format_duration(lo, sizeof lo, min_ms);
    format_duration(hi, sizeof hi, max_ms);
    snprintf(what, sizeof what, "a duration %s..%s (%s, or with an ms, s, m or h suffix)", lo, hi,
             unit_ms == 1000 ? "seconds"
             : unit_ms == 1  ? "milliseconds"
                             : "a number");
    return cg_opts_bad(o, what, v);
}

int cg_opts_choice(cg_opts *o, const char *const *words)
{
    const char *v = cg_opts_value(o);
    if (!v) return -1;
    char what[160] = "one of ";
    for (int i = 0; words[i]; i++) {
        if (!strcmp(v, words[i])) return i;
        size_t n = strlen(what);
        snprintf(what + n, sizeof what - n, "%s%s", i ? ", " : "", words[i]);
    }
    return cg_opts_bad(o, what, v);
}

int cg_opts_unknown(const cg_opts *o)
{
    if (o->arg)
        fprintf(stderr, "capgate %s: unexpected argument '%s' (see --help)\n", o->command, o->arg);
    else fprintf(stderr, "capgate %s: unknown option '%s' (see --help)\n", o->command, o->name);
    return -1;
}
