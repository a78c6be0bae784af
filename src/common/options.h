/*
 * options.h — the one command-line parser every `capgate` command uses.
 *
 * A command walks its argv with a cg_opts cursor: `--name VALUE` and `--name=VALUE` both
 * work, `--` ends the options, anything else not starting with '-' is a positional
 * argument. Values are read with one function per kind — an integer, a size in bytes, a
 * duration — and every bad value gets the same message shape on stderr:
 *
 *     capgate serve: --threads: expected an integer 1..64, got 'x'
 *
 * This module is the command line's front end, so unlike the libraries it prints (the
 * cg_opt_parse_* functions underneath print nothing and are what the unit tests call).
 */
#ifndef CG_OPTIONS_H
#define CG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* ---- values (no output) ---- */

/* A whole decimal number in [min, max]: no sign games, no trailing bytes. 0 or -1. */
int cg_opt_parse_int(const char *s, long min, long max, long *out);
/* Bytes, optionally with a k, m or g suffix (powers of 1024, any case), in [min, max]. */
int cg_opt_parse_size(const char *s, size_t min, size_t max, size_t *out);
/* A duration in milliseconds: a number (decimals allowed) with a suffix ms, s, m or h, or
 * bare, in which case it counts unit_ms milliseconds (1 for an option in ms, 1000 for one
 * in seconds). In [min_ms, max_ms]. 0 or -1. */
int cg_opt_parse_duration(const char *s, long unit_ms, long min_ms, long max_ms, long *out_ms);

/* ---- the cursor ---- */

typedef struct cg_opts {
    const char *command; /* "serve": messages start with "capgate serve: " */
    int argc;
    char **argv;
    int i;                    /* argv index of the current item */
    const char *name;         /* the current option ("--threads"), or NULL for a positional */
    size_t name_len;          /* its length without "=VALUE" */
    const char *inline_value; /* the VALUE of --name=VALUE, else NULL */
    const char *arg;          /* the current positional argument, or NULL */
    bool only_args;           /* after "--" */
} cg_opts;

void cg_opts_init(cg_opts *o, const char *command, int argc, char **argv);
/* Moves to the next option or argument: true, or false at the end. argv[0] is skipped. */
bool cg_opts_next(cg_opts *o);
/* Is the current item the option `name` (e.g. "--threads")? */
bool cg_opts_is(const cg_opts *o, const char *name);
/* Is it -h or --help? */
bool cg_opts_is_help(const cg_opts *o);

/* The current option's value (consumed), or NULL after printing "--name: needs a value". */
const char *cg_opts_value(cg_opts *o);
/* The value as an integer / a size / a duration (see above): 0, or -1 after printing
 * "--name: expected ..., got '...'" (or "needs a value"). */
int cg_opts_int(cg_opts *o, long min, long max, long *out);
int cg_opts_size(cg_opts *o, size_t min, size_t max, size_t *out);
int cg_opts_duration(cg_opts *o, long unit_ms, long min_ms, long max_ms, long *out_ms);
/* The value as one of the words in a NULL-terminated list: its index, or -1 after printing
 * "--name: expected one of a, b, got '...'". */
int cg_opts_choice(cg_opts *o, const char *const *words);

/* The value when it is not empty, or NULL after printing "expected WHAT, got ''" (or
 * "needs a value"): for a path or a directory. */
const char *cg_opts_nonempty(cg_opts *o, const char *what);
/* --listen ADDR and --port N (0..65535), which every standalone server takes: 1 when the
 * current item was one of them (its value stored), 0 when it is neither, -1 after printing
 * why its value is bad. */
int cg_opts_listen_port(cg_opts *o, const char **listen, int *port);

/* Prints "capgate CMD: --name: expected WHAT, got 'VALUE'" and returns -1: for checks of
 * the callers' own (a URL, a NS=URL pair, a list that is full). */
int cg_opts_bad(const cg_opts *o, const char *what, const char *value);
/* Prints "capgate CMD: unknown option '--x' (see --help)", or "unexpected argument 'x'"
 * for a positional, and returns -1. */
int cg_opts_unknown(const cg_opts *o);

#endif
