/*
 * script.h — runs the `script` steps of a Naftiko orchestration (JavaScript, Python).
 *
 * The contract is the reference engine's: a script reads one global object, `context` (the
 * caller builds it: the runtime parameters, every earlier step's output under the step's
 * name, then the step's `with` values), and produces its output by assigning the global
 * `result`. Its `dependencies` run first, in order, in the same global scope. A script that
 * never assigns `result` gives JSON null. Groovy is refused at load: Debian packages no
 * embeddable Groovy for C.
 *
 * Every run happens in a child process, so a script can be stopped for sure and cannot
 * reach the engine's files, sockets or memory:
 *   - JavaScript: a fork of this process runs Duktape 2.7 (built from the source Debian
 *     ships in duktape-dev, see script_duktape.c; ES5.1 plus a few ES6 built-ins; no
 *     require, module loader, print, file or network API at all; the `Duktape` global is
 *     removed) with an allocator capped at memory_limit bytes, under a seccomp whitelist
 *     (memory management, write to its pipes, exit: anything else fails with EPERM).
 *   - Python: Debian's /usr/bin/python3 -I -S -B started with posix_spawn (no copy of this
 *     process), an empty environment and only its stdin/out/err open; a wrapper first sets
 *     its rlimits (address space, CPU seconds, no file writes, 32 fds); once it is up (and a fixed set of pure modules is
 *     imported: math, re, json, datetime, collections, statistics, ...) a wrapper installs
 *     a seccomp deny list (python3-seccomp: open, socket, connect, exec, fork, kill, mkdir,
 *     unlink, ...) and an audit hook that turns such attempts, and imports of anything not
 *     preloaded, into PermissionError with a clear message; then it runs the sources.
 * The parent never waits: the child's pipes and its pidfd sit on the caller's cg_loop, a
 * loop timer kills it (SIGKILL) at timeout_ms, and an RLIMIT_CPU backs the timer up.
 *
 * statement_limit: Python counts executed lines (sys.settrace 'line' events), as GraalPy
 * counts statements; JavaScript counts bytecode instructions, four to a statement, through
 * Duktape's executor interrupt. Either way catching the error does not help: the run ends
 * with CG_SCRIPT_STATEMENTS.
 *
 * Cost: a fork per run (JavaScript) or a fork + exec + interpreter start (Python); see
 * docs/spec-semantics.md, "Script steps", for the measured figures.
 *
 * Thread use: cg_script_load/cg_script_free anywhere; a job belongs to the loop that ran it.
 */
#ifndef CG_SCRIPT_H
#define CG_SCRIPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"

typedef enum cg_script_lang {
    CG_SCRIPT_JAVASCRIPT = 1,
    CG_SCRIPT_PYTHON = 2,
    CG_SCRIPT_GROOVY = 3, /* recognised only to be refused */
} cg_script_lang;

/* Bit for cg_script_settings.allowed. */
#define CG_SCRIPT_LANG_BIT(l) (1u << (unsigned)(l))

#define CG_SCRIPT_DEFAULT_TIMEOUT_MS 60000L /* the reference engine's defaults */
#define CG_SCRIPT_DEFAULT_STATEMENTS 100000L
#define CG_SCRIPT_DEFAULT_MEMORY (64u << 20) /* capgate's own: the spec has no memory cap */
#define CG_SCRIPT_MAX_RESULT (16u << 20)     /* a bigger result fails the step */

/* Limits applied to one run; a field <= 0 (0 for memory) takes the default above. */
typedef struct cg_script_limits {
    long timeout_ms;      /* wall clock, from fork to result */
    long statement_limit; /* see above */
    size_t memory_limit;  /* bytes the interpreter may allocate (JS heap / Python AS) */
} cg_script_limits;

/* The control adapter's management.scripting, as far as loading needs it. */
typedef struct cg_script_settings {
    bool disabled;                /* management.scripting.enabled: false (now) */
    const char *default_location; /* file:/// URI, or NULL */
    const char *default_language; /* "javascript" | "python" | "groovy", or NULL */
    unsigned allowed;             /* CG_SCRIPT_LANG_BIT mask; 0 = every language */
} cg_script_settings;

/* One script step, as the spec writes it. */
typedef struct cg_script_spec {
    const char *name;                /* step name, used in every message */
    const char *language;            /* NULL or "" = settings->default_language */
    const char *location;            /* file:/// directory; NULL or "" = default */
    const char *file;                /* main script, relative to location */
    const char *const *dependencies; /* relative to location, run before file */
    size_t n_dependencies;
    const char *source; /* inline main source instead of `file` (capgate
                                         * extension, no location needed); NULL normally */
} cg_script_spec;

typedef struct cg_script cg_script;
typedef struct cg_script_job cg_script_job;

typedef enum cg_script_status {
    CG_SCRIPT_OK = 0,     /* result is the value of `result` (JSON null if unset) */
    CG_SCRIPT_FAILED,     /* the script threw, or its result is not JSON */
    CG_SCRIPT_TIMEOUT,    /* wall-clock timeout or CPU rlimit */
    CG_SCRIPT_STATEMENTS, /* statement limit */
    CG_SCRIPT_MEMORY,     /* memory cap */
    CG_SCRIPT_INTERNAL,   /* fork/pipe failure, interpreter missing or crashed */
} cg_script_status;

/* Called once per run on the run's loop, never inside cg_script_run. On CG_SCRIPT_OK
 * result is the script's result (borrowed: json_incref it to keep it) and error is NULL;
 * otherwise result is NULL and error reads "Script step 'NAME' exceeded the timeout limit
 * (3000 ms)" and the like (the reference engine's wording). */
typedef void (*cg_script_done_cb)(void *arg, cg_script_status status, json_t *result,
                                  const char *error);

/* Resolves language and location against the settings, refuses what the reference engine
 * refuses (no file, no location, no language, a language outside `allowed`) and Groovy,
 * checks every path (segments [A-Za-z0-9._-]+, no "..", no symlink out of the location)
 * and reads the sources. NULL with a message naming the step in err on failure. */
cg_script *cg_script_load(const cg_script_spec *spec, const cg_script_settings *settings, char *err,
                          size_t errlen);

/* Frees a loaded script; no job may still be running it. NULL is ignored. */
void cg_script_free(cg_script *script);

cg_script_lang cg_script_language(const cg_script *script);
const char *cg_script_name(const cg_script *script);

/* The reference engine's on/off switch: `enabled` is management.scripting.enabled (1 or 0)
 * or -1 when the spec does not set it, in which case the NAFTIKO_SCRIPTING environment
 * variable decides ("false", any case, turns scripting off). When scripting is off, writes
 * the reference engine's message for step `step` into err and returns false. */
bool cg_script_permitted(int enabled, const char *step, char *err, size_t errlen);

/* Parses "javascript" (or "js"), "python", "groovy". 0 when unknown. */
cg_script_lang cg_script_lang_parse(const char *name);

/* Starts one run of script with `context` (any JSON; borrowed, copied before returning)
 * and `limits` (NULL: all defaults). Returns the job, or NULL when out of memory (then
 * done() is not called). Failures after that (fork, pipes) are reported through done(), as
 * CG_SCRIPT_INTERNAL. script must outlive the job. */
cg_script_job *cg_script_run(cg_loop *loop, const cg_script *script, json_t *context,
                             const cg_script_limits *limits, cg_script_done_cb done, void *arg);

/* Stops a job whose done() has not run yet: kills and reaps its child and frees it at once;
 * done() is never called. Call it on the job's loop, and before freeing that loop. */
void cg_script_cancel(cg_script_job *job);

/* Process-wide counters for the control adapter's /scripting (reference: stats). */
typedef struct cg_script_stats {
    uint64_t executions;  /* runs finished (any status; cancelled runs not counted) */
    uint64_t errors;      /* runs finished with a status other than CG_SCRIPT_OK */
    uint64_t total_ns;    /* summed wall-clock duration */
    int64_t last_unix_ms; /* end of the last run, 0 if none */
} cg_script_stats;

void cg_script_stats_get(cg_script_stats *out);

#endif
