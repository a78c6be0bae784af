/*
 * script.c — script steps in a killable child process. See script.h for the contract.
 *
 * Map of the file:
 *   1. loading: language and location resolution, path checks, reading the sources;
 *   2. the JavaScript child: a fork (no exec) running libduktape under a capped allocator
 *      and a seccomp whitelist;
 *   3. the Python child: python3 started with posix_spawn, running a wrapper (PY_WRAPPER)
 *      that sets its rlimits and locks itself down before it reads the script;
 *   4. the parent's side of a job: pipes, pidfd and timeout timer on the caller's loop.
 *
 * Children talk back through one pipe (their fd 1): a status byte, then its payload:
 *   'R' JSON  the value of `result`     'N'  `result` never assigned (JSON null)
 *   'E' text  the script failed         'S'  statement limit     'M'  memory cap
 * Anything else (no bytes, a signal) is judged from the exit status and stderr.
 *
 * Why a process rather than a thread: a thread running an interpreter cannot be killed, a
 * process can; and a process gets rlimits and seccomp of its own. The JavaScript child is a
 * fork, so it needs no interpreter binary of its own: the fork copies this process's page
 * tables on the loop thread (well under a millisecond for a small capgate, some ms for a
 * process of hundreds of MB), and glibc keeps malloc usable in the child.
 *
 * Size: the four parts above share the job struct and the child's pipe protocol; each is under 300
 * lines.
 */
#include "engine/script.h"

#include <duktape.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/buf.h"

#define PYTHON_BIN      "/usr/bin/python3"
#define PY_DIST         "/usr/lib/python3/dist-packages" /* where python3-seccomp lives */
#define MAX_SOURCE      (1u << 20)      /* one script file */
#define MAX_STDERR      4096            /* kept for messages; the rest is read and dropped */
#define PY_BASE_AS      (160u << 20)    /* the interpreter's own address space, over the cap */

typedef struct script_source {
    char *name;                 /* as written in the spec (relative path), or "inline" */
    char *code;
    size_t len;
} script_source;

struct cg_script {
    char *name;
    cg_script_lang lang;
    script_source *src;         /* dependencies in order, then the main script */
    size_t n_src;
};

struct cg_script_job {
    cg_loop *loop;
    const cg_script *script;
    cg_script_done_cb done;
    void *arg;
    pid_t pid;
    int pidfd, out_fd, err_fd;
    cg_buf out, err;
    uint64_t timer;             /* the timeout, or an early failure's report */
    uint64_t reap_timer;        /* retries waitpid when there is no pidfd */
    bool out_eof, err_eof;
    uint64_t start_ns;
    long timeout_ms, statements;
    size_t memory;
    bool timed_out, too_big;
    cg_script_status early;     /* a failure before the child ran, reported from a timer */
    char *early_msg;
};

static atomic_uint_fast64_t stat_exec, stat_err, stat_ns;
static atomic_int_fast64_t stat_last;

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- 1. loading --------------------------------------------------------------------- */

cg_script_lang cg_script_lang_parse(const char *name)
{
    if (!name) return 0;
    if (!strcmp(name, "javascript") || !strcmp(name, "js")) return CG_SCRIPT_JAVASCRIPT;
    if (!strcmp(name, "python")) return CG_SCRIPT_PYTHON;
    if (!strcmp(name, "groovy")) return CG_SCRIPT_GROOVY;
    return 0;
}

bool cg_script_permitted(int enabled, const char *step, char *err, size_t errlen)
{
    const char *env = getenv("NAFTIKO_SCRIPTING");
    bool on = enabled >= 0 ? enabled != 0 : !(env && !strcasecmp(env, "false"));
    if (!on)
        set_err(err, errlen, "Script step '%s' requires scripting support. Scripting is disabled "
                "via %s Enable it to use script steps.", step ? step : "?",
                enabled >= 0 ? "management.scripting.enabled=false on the control adapter."
                             : "NAFTIKO_SCRIPTING=false.");
    return on;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "file:///a/b%20c" -> "/a/b c" in out; -1 unless a file:/// URI with a sane path. */
static int location_path(const char *uri, char *out, size_t outlen)
{
    if (strncmp(uri, "file://", 7) != 0 || uri[7] != '/') return -1;
    const char *p = uri + 7;
    size_t n = 0;
    for (; *p; p++) {
        char c = *p;
        if (c == '%') {
            int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
            if (l < 0) return -1;
            c = (char)(h * 16 + l);
            p += 2;
        }
        if (c == '\0' || c == '?' || c == '#' || n + 1 >= outlen) return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

/* The reference engine's rule: every segment [a-zA-Z0-9._-]+; "." and ".." refused too. */
static bool safe_relative(const char *rel)
{
    if (!*rel || *rel == '/') return false;
    const char *seg = rel;
    for (const char *p = rel;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t len = (size_t)(p - seg);
            if (len == 0) return false;
            if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p == '\0') return true;
            seg = p + 1;
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
            return false;
        }
    }
}

/* Reads root/rel after checking that its real path stays under root's real path. */
static int read_source(const char *step, const char *root, const char *location, const char *rel,
                       script_source *out, char *err, size_t errlen)
{
    if (!safe_relative(rel)) {
        set_err(err, errlen, "Script step '%s': unsafe script path '%s' (segments must match "
                "[a-zA-Z0-9._-]+, no '.' or '..')", step, rel);
        return -1;
    }
    char joined[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", root, rel) >= sizeof joined ||
        !realpath(joined, real)) {
        set_err(err, errlen, "Script step '%s' cannot read file '%s' from location '%s': %s",
                step, rel, location, strerror(errno ? errno : ENAMETOOLONG));
        return -1;
    }
    size_t rl = strlen(root);
    if (strncmp(real, root, rl) != 0 || (real[rl] != '/' && !(rl == 1 && root[0] == '/'))) {
        set_err(err, errlen, "Script step '%s': file '%s' leaves the location '%s' (symlink)",
                step, rel, location);
        return -1;
    }
    FILE *f = fopen(real, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "Script step '%s' cannot read file '%s' from location '%s': %s",
                step, rel, location, f ? "not a regular file" : strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    if ((uintmax_t)st.st_size > MAX_SOURCE) {
        fclose(f);
        set_err(err, errlen, "Script step '%s': file '%s' is larger than %u bytes", step, rel,
                MAX_SOURCE);
        return -1;
    }
    out->code = malloc((size_t)st.st_size + 1);
    out->name = strdup(rel);
    size_t n = out->code ? fread(out->code, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!out->code || !out->name || n != (size_t)st.st_size) {
        set_err(err, errlen, "Script step '%s' cannot read file '%s'", step, rel);
        return -1;
    }
    out->code[n] = '\0';
    out->len = n;
    return 0;
}

static cg_script_lang resolve_language(const cg_script_spec *spec, const cg_script_settings *set,
                                       const char **lang_name, char *err, size_t errlen)
{
    const char *name = spec->language && *spec->language ? spec->language
                       : set && set->default_language ? set->default_language : NULL;
    if (!name || !*name) {
        set_err(err, errlen, "Script step '%s' has no 'language'. Set 'language' on the step or "
                "configure 'management.scripting.defaultLanguage' on the control adapter.",
                spec->name);
        return 0;
    }
    *lang_name = name;
    cg_script_lang lang = cg_script_lang_parse(name);
    if (!lang) {
        set_err(err, errlen, "Script step '%s': unknown language '%s' (javascript, python)",
                spec->name, name);
        return 0;
    }
    if (set && set->allowed && !(set->allowed & CG_SCRIPT_LANG_BIT(lang))) {
        set_err(err, errlen, "Script step '%s' uses language '%s' which is not in the allowed "
                "languages", spec->name, name);
        return 0;
    }
    if (lang == CG_SCRIPT_GROOVY) {
        set_err(err, errlen, "Script step '%s': language 'groovy' is not supported by capgate "
                "(no embeddable Groovy for C is packaged by Debian); use javascript or python",
                spec->name);
        return 0;
    }
    if (lang == CG_SCRIPT_PYTHON && access(PYTHON_BIN, X_OK) != 0) {
        set_err(err, errlen, "Script step '%s': language 'python' needs %s (Debian python3)",
                spec->name, PYTHON_BIN);
        return 0;
    }
    return lang;
}

cg_script *cg_script_load(const cg_script_spec *spec, const cg_script_settings *set, char *err,
                          size_t errlen)
{
    const char *step = spec->name ? spec->name : "?";
    if (set && set->disabled) {
        set_err(err, errlen, "Script step '%s' requires scripting support. Scripting is disabled "
                "via management.scripting.enabled=false on the control adapter. Enable it to use "
                "script steps.", step);
        return NULL;
    }
    const char *lang_name = NULL;
    cg_script_lang lang = resolve_language(spec, set, &lang_name, err, errlen);
    if (!lang) return NULL;
    bool inline_src = spec->source != NULL;
    if (!inline_src && (!spec->file || !*spec->file)) {
        set_err(err, errlen, "Script step '%s' has no 'file'. Every script step must specify the "
                "script file to execute.", step);
        return NULL;
    }
    const char *location = spec->location && *spec->location ? spec->location
                           : set && set->default_location ? set->default_location : NULL;
    char root[PATH_MAX] = "", path[PATH_MAX];
    if ((!inline_src || spec->n_dependencies) && (!location || !*location)) {
        set_err(err, errlen, "Script step '%s' has no 'location'. Set 'location' on the step or "
                "configure 'management.scripting.defaultLocation' on the control adapter.", step);
        return NULL;
    }
    if (location && *location && (!inline_src || spec->n_dependencies)) {
        if (location_path(location, path, sizeof path) < 0) {
            set_err(err, errlen, "Script step '%s': location '%s' is not a file:/// URI", step,
                    location);
            return NULL;
        }
        if (!realpath(path, root)) {
            set_err(err, errlen, "Script step '%s': location '%s': %s", step, location,
                    strerror(errno));
            return NULL;
        }
    }

    cg_script *s = calloc(1, sizeof *s);
    if (s) s->src = calloc(spec->n_dependencies + 1, sizeof *s->src);
    if (!s || !s->src || !(s->name = strdup(step))) {
        set_err(err, errlen, "Script step '%s': out of memory", step);
        goto script_load_err;
    }
    s->lang = lang;
    for (size_t i = 0; i < spec->n_dependencies; i++, s->n_src++)
        if (read_source(step, root, location, spec->dependencies[i], &s->src[i], err, errlen) < 0)
            goto script_load_err;
    script_source *main_src = &s->src[s->n_src++];
    if (inline_src) {
        main_src->name = strdup("inline");
        main_src->code = strdup(spec->source);
        if (!main_src->name || !main_src->code) {
            set_err(err, errlen, "Script step '%s': out of memory", step);
            goto script_load_err;
        }
        main_src->len = strlen(main_src->code);
    } else if (read_source(step, root, location, spec->file, main_src, err, errlen) < 0) {
        goto script_load_err;
    }
    return s;

script_load_err:
    if (s && s->src && s->n_src < spec->n_dependencies + 1) s->n_src++; /* free the partial one */
    cg_script_free(s);
    return NULL;
}

void cg_script_free(cg_script *s)
{
    if (!s) return;
    for (size_t i = 0; s->src && i < s->n_src; i++) {
        free(s->src[i].name);
        free(s->src[i].code);
    }
    free(s->src);
    free(s->name);
    free(s);
}

cg_script_lang cg_script_language(const cg_script *s) { return s->lang; }
const char *cg_script_name(const cg_script *s) { return s->name; }

/* ---- 2. the JavaScript child ---------------------------------------------------------- */

/* Child-side helpers: only what is safe after fork() and before _exit(). */
static void child_write(const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(1, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(3);
        p += w;
        n -= (size_t)w;
    }
}

static _Noreturn void child_emit(char code, const char *payload, size_t n)
{
    child_write(&code, 1);
    if (payload && n) child_write(payload, n);
    _exit(0);
}

typedef struct js_mem {
    size_t used, cap;
    bool hit;                   /* an allocation was refused: the cap, not the script */
    uint64_t instructions;      /* executed so far (counted JS_GRAIN at a time) */
    uint64_t max_instructions;  /* statement limit x JS_PER_STATEMENT */
    bool over;                  /* the statement limit was reached */
} js_mem;

/* A statement is counted as JS_PER_STATEMENT bytecode instructions (`var x = 1` or
 * `sum += a[i].n` compile to 3 to 5); the executor calls back every JS_GRAIN of them. */
#define JS_PER_STATEMENT 4u
#define JS_GRAIN 256

/* Called by the Duktape executor (script_duktape.c) with the heap's udata after `done`
 * instructions; sets how many run until the next call and says whether to stop. */
int cg__duk_interrupt(void *udata, long done, duk_int_t *next);
int cg__duk_interrupt(void *udata, long done, duk_int_t *next)
{
    js_mem *m = udata;
    if (done > 0) m->instructions += (uint64_t)done;
    *next = JS_GRAIN;
    if (m->instructions > m->max_instructions) m->over = true;
    return m->over;
}

/* Each block carries its size in a 16-byte header (keeps max_align_t alignment). */
#define JS_HDR 16u

static void *js_alloc(void *ud, duk_size_t size)
{
    js_mem *m = ud;
    if (size > m->cap - m->used) {
        m->hit = true;
        return NULL;
    }
    size_t *h = malloc(size + JS_HDR);
    if (!h) {
        m->hit = true;
        return NULL;
    }
    h[0] = size;
    m->used += size;
    return (char *)h + JS_HDR;
}

static void js_free(void *ud, void *ptr)
{
    if (!ptr) return;
    js_mem *m = ud;
    size_t *h = (size_t *)(void *)((char *)ptr - JS_HDR);
    m->used -= h[0];
    free(h);
}

static void *js_realloc(void *ud, void *ptr, duk_size_t size)
{
    if (!ptr) return js_alloc(ud, size);
    if (!size) {
        js_free(ud, ptr);
        return NULL;
    }
    js_mem *m = ud;
    size_t *h = (size_t *)(void *)((char *)ptr - JS_HDR), old = h[0];
    if (size > old && size - old > m->cap - m->used) {
        m->hit = true;
        return NULL;
    }
    size_t *n = realloc(h, size + JS_HDR);
    if (!n) {
        m->hit = true;
        return NULL;
    }
    n[0] = size;
    m->used = m->used - old + size;
    return (char *)n + JS_HDR;
}

static js_mem *js_fatal_mem;

static void js_fatal(void *ud, const char *msg)
{
    if (js_fatal_mem && js_fatal_mem->hit) child_emit('M', NULL, 0);
    child_emit('E', msg, msg ? strlen(msg) : 0);
}

typedef struct js_run_args {
    const cg_script *script;
    const char *context_json;
} js_run_args;

/* Inside duk_safe_call: leaves the JSON text of `result` (or undefined) on the stack. */
static duk_ret_t js_run(duk_context *ctx, void *udata)
{
    js_run_args *a = udata;
    duk_push_global_object(ctx);
    duk_del_prop_string(ctx, -1, "Duktape"); /* info/act/gc: engine internals, not for scripts */
    duk_pop(ctx);
    duk_push_string(ctx, a->context_json);
    duk_json_decode(ctx, -1);
    duk_put_global_string(ctx, "context");
    for (size_t i = 0; i < a->script->n_src; i++) {
        const script_source *src = &a->script->src[i];
        duk_push_string(ctx, src->name);
        duk_compile_lstring_filename(ctx, 0, src->code, src->len);
        duk_call(ctx, 0);
        duk_pop(ctx);
    }
    duk_push_global_object(ctx);
    if (!duk_has_prop_string(ctx, -1, "result")) {
        duk_push_undefined(ctx);
        return 1;
    }
    duk_get_prop_string(ctx, -1, "result");
    if (!duk_is_undefined(ctx, -1)) duk_json_encode(ctx, -1);
    return 1;
}

/* "TypeError: msg\n    at f (file.js:3)\n    at [anon] (duk_x.c:12) internal ..." becomes
 * "TypeError: msg (file.js:3)": the message and the innermost place in a script. */
static _Noreturn void js_emit_error(const char *stack)
{
    char msg[2048];
    const char *nl = strchr(stack, '\n');
    size_t n = nl ? (size_t)(nl - stack) : strlen(stack);
    if (n > 1500) n = 1500;
    memcpy(msg, stack, n);
    while (nl) {
        const char *line = nl + 1;
        nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *open = memchr(line, '(', len);
        const char *close = open ? memchr(open, ')', len - (size_t)(open - line)) : NULL;
        if (!close || (len > 9 && !memcmp(line + len - 9, " internal", 9))) continue;
        size_t plen = (size_t)(close - open) + 1;
        if (plen > 400) plen = 400;
        msg[n++] = ' ';
        memcpy(msg + n, open, plen);
        n += plen;
        break;
    }
    child_emit('E', msg, n);
}

static _Noreturn void js_child(const cg_script *s, const char *context_json, size_t memcap,
                               long statements)
{
    js_mem m = {.cap = memcap, .max_instructions = (uint64_t)statements * JS_PER_STATEMENT};
    js_fatal_mem = &m;
    duk_context *ctx = duk_create_heap(js_alloc, js_realloc, js_free, &m, js_fatal);
    if (!ctx) child_emit('M', NULL, 0);
    js_run_args a = {s, context_json};
    duk_int_t rc = duk_safe_call(ctx, js_run, &a, 0, 1);
    if (m.hit) child_emit('M', NULL, 0);
    if (m.over) child_emit('S', NULL, 0);
    if (rc != DUK_EXEC_SUCCESS) {
        js_emit_error(duk_safe_to_stacktrace(ctx, -1));
    }
    if (duk_is_undefined(ctx, -1)) child_emit('N', NULL, 0);
    duk_size_t n;
    const char *json = duk_get_lstring(ctx, -1, &n);
    if (!json) child_emit('N', NULL, 0); /* a function or symbol: JSON has no such value */
    child_emit('R', json, n);
}

/* Everything a JavaScript child may ask the kernel for; the rest fails with EPERM. */
static int js_seccomp(void)
{
    static const int allow[] = {
        SCMP_SYS(read), SCMP_SYS(close), SCMP_SYS(exit), SCMP_SYS(exit_group),
        SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
        SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(futex), SCMP_SYS(rt_sigreturn),
        SCMP_SYS(rt_sigprocmask), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
        SCMP_SYS(time), SCMP_SYS(getrandom), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
        SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(sched_yield),
        /* sanitizer runtimes (make test-asan) set up signal stacks in a forked child */
        SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(getrlimit),
        /* write on any fd: the child has only its two pipes (and valgrind, under
         * make test-valgrind, its own lock pipe) */
        SCMP_SYS(write),
    };
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!f) return -1;
    int rc = 0;
    for (size_t i = 0; i < sizeof allow / sizeof allow[0] && rc == 0; i++)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allow[i], 0);
    if (rc == 0) rc = seccomp_load(f);
    seccomp_release(f);
    return rc;
}

/* ---- 3. the Python child --------------------------------------------------------------- */

/* Runs as `python3 -I -S -B -c PY_WRAPPER` with the request on stdin:
 * {"context": ..., "sources": [[name, code], ...], "statementLimit": n}. It imports what
 * scripts may use, installs the seccomp deny list and the audit hook, then runs the sources
 * in one globals dict under a line-counting trace. */
static const char PY_WRAPPER[] =
    "import sys, os, json, errno, resource\n"
    "cpu, mem = (int(x) for x in sys.argv[1].split())\n"
    "for lim, val in ((resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_AS, (mem, mem)),\n"
    "                 (resource.RLIMIT_FSIZE, (0, 0)), (resource.RLIMIT_CORE, (0, 0)),\n"
    "                 (resource.RLIMIT_NOFILE, (32, 32))):\n"
    "    resource.setrlimit(lim, val)\n"
    "def emit(code, text=''):\n"
    "    data = code.encode() + text.encode('utf-8', 'replace')\n"
    "    while data:\n"
    "        data = data[os.write(1, data):]\n"
    "    os._exit(0)\n"
    "req = json.loads(sys.stdin.buffer.read())\n"
    "import math, re, datetime, collections, functools, itertools, statistics, string\n"
    "import decimal, fractions, random, base64, copy, operator, textwrap, unicodedata\n"
    "import heapq, bisect, time, hashlib, struct, enum, dataclasses, typing\n"
    "sys.path.append('" PY_DIST "')\n"
    "try:\n"
    "    import seccomp\n"
    "except ImportError:\n"
    "    emit('E', 'python script steps need Debian package python3-seccomp')\n"
    "sys.path.pop()\n"
    "DENY = '''open openat openat2 creat open_by_handle_at name_to_handle_at socket socketpair\n"
    "  connect bind listen accept accept4 sendto sendmsg sendmmsg recvfrom recvmsg execve execveat\n"
    "  fork vfork clone clone3 kill tkill tgkill ptrace process_vm_readv process_vm_writev\n"
    "  mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat\n"
    "  chmod fchmod fchmodat chown fchown lchown fchownat truncate ftruncate mknod mknodat\n"
    "  chdir fchdir chroot mount umount2 pivot_root unshare setns memfd_create userfaultfd\n"
    "  io_uring_setup bpf perf_event_open keyctl add_key request_key inotify_init inotify_init1\n"
    "  fanotify_init pidfd_open pidfd_getfd pidfd_send_signal setrlimit prlimit64 personality\n"
    "  uselib swapon swapoff reboot init_module finit_module delete_module acct'''.split()\n"
    "flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)\n"
    "for name in DENY:\n"
    "    try:\n"
    "        flt.add_rule(seccomp.ERRNO(errno.EPERM), name)\n"
    "    except Exception:\n"
    "        pass\n"
    "flt.load()\n"
    "del flt, seccomp\n"
    "BLOCKED = ('open', 'socket.', 'os.system', 'os.exec', 'os.posix_spawn', 'os.spawn',\n"
    "           'os.fork', 'os.forkpty', 'subprocess.', 'ctypes.', 'os.kill', 'os.remove',\n"
    "           'os.rename', 'os.mkdir', 'os.rmdir', 'os.link', 'os.symlink', 'os.truncate',\n"
    "           'os.chmod', 'os.chown', 'os.listdir', 'os.scandir', 'os.chdir', 'shutil.',\n"
    "           'import', 'urllib.', 'http.', 'sys._getframe')\n"
    "def hook(event, args):\n"
    "    if event.startswith(BLOCKED):\n"
    "        what = event if event != 'import' else 'import of module ' + repr(args[0])\n"
    "        if event == 'open' and args: what = 'open(' + repr(args[0]) + ')'\n"
    "        raise PermissionError('script steps may not use ' + what)\n"
    "sys.addaudithook(hook)\n"
    "class StatementLimit(BaseException):\n"
    "    pass\n"
    "limit = req['statementLimit']\n"
    "count = [0]\n"
    "def on_line(frame, event, arg):\n"
    "    if event == 'line':\n"
    "        count[0] += 1\n"
    "        if count[0] > limit:\n"
    "            raise StatementLimit()\n"
    "    return on_line\n"
    "def on_call(frame, event, arg):\n"
    "    return on_line\n"
    "names = set(n for n, _ in req['sources'])\n"
    "scope = {'__name__': '__script__', '__builtins__': __builtins__, 'context': req['context']}\n"
    "sources = req['sources']\n"
    "del req\n"
    "sys.stdout = sys.stderr\n"
    "try:\n"
    "    for name, code in sources:\n"
    "        compiled = compile(code, name, 'exec')\n"
    "        sys.settrace(on_call)\n"
    "        try:\n"
    "            exec(compiled, scope)\n"
    "        finally:\n"
    "            sys.settrace(None)\n"
    "except StatementLimit:\n"
    "    emit('S')\n"
    "except MemoryError:\n"
    "    emit('M')\n"
    "except BaseException as e:\n"
    "    if count[0] > limit: emit('S')\n"
    "    where, tb = '', e.__traceback__\n"
    "    while tb is not None:\n"
    "        if tb.tb_frame.f_code.co_filename in names:\n"
    "            where = ' (%s, line %d)' % (tb.tb_frame.f_code.co_filename, tb.tb_lineno)\n"
    "        tb = tb.tb_next\n"
    "    if isinstance(e, SyntaxError) and e.filename in names:\n"
    "        where = ' (%s, line %s)' % (e.filename, e.lineno)\n"
    "    emit('E', '%s: %s%s' % (type(e).__name__, e, where))\n"
    "if count[0] > limit: emit('S')\n"
    "if 'result' not in scope: emit('N')\n"
    "try:\n"
    "    text = json.dumps(scope['result'], allow_nan=False)\n"
    "except MemoryError:\n"
    "    emit('M')\n"
    "except Exception as e:\n"
    "    emit('E', 'result is not JSON: %s' % e)\n"
    "emit('R', text)\n";

/* The request the wrapper reads, in a memfd that becomes the child's stdin. -1 on failure. */
static int python_request(const cg_script *s, json_t *context, long statements)
{
    json_t *req = json_object(), *srcs = json_array();
    if (!req || !srcs) {
        json_decref(req);
        json_decref(srcs);
        return -1;
    }
    json_object_set(req, "context", context ? context : json_null());
    json_object_set_new(req, "sources", srcs);
    json_object_set_new(req, "statementLimit", json_integer(statements));
    for (size_t i = 0; i < s->n_src; i++)
        json_array_append_new(srcs, json_pack("[ss%]", s->src[i].name, s->src[i].code,
                                              s->src[i].len));
    char *text = json_dumps(req, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(req);
    int fd = text ? memfd_create("capgate-script", MFD_CLOEXEC) : -1;
    size_t len = text ? strlen(text) : 0, off = 0;
    while (fd >= 0 && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            fd = -1;
            break;
        }
        off += (size_t)w;
    }
    free(text);
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* ---- common child set-up -------------------------------------------------------------- */

/* In the forked JavaScript child: default signals, die with the parent, no stdin, stdout
 * and stderr from the given fds and nothing else open. Moves the fds above 2 first, in
 * case one of them is 0-2. */
static void child_fds(int out, int errfd)
{
    static const int sigs[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGXCPU, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fds[3] = {-1, out, errfd};
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0) fds[i] = fcntl(fds[i], F_DUPFD, 10);
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0) dup2(fds[i], i);
        else close(i);
    }
    syscall(SYS_close_range, 3u, ~0u, 0u);
}

/* CPU seconds (SIGXCPU, then SIGKILL a second later) and no core file. No RLIMIT_FSIZE: the
 * seccomp whitelist has no open at all (and valgrind, under make test-valgrind, writes a
 * file of its own in the child); no RLIMIT_AS: the allocator counts the heap exactly. */
static void child_rlimits(long timeout_ms)
{
    rlim_t cpu = (rlim_t)(timeout_ms + 999) / 1000 + 1;
    struct rlimit r = {cpu, cpu + 1};
    setrlimit(RLIMIT_CPU, &r);
    r = (struct rlimit){0, 0};
    setrlimit(RLIMIT_CORE, &r);
}

/* ---- 4. the parent's side ------------------------------------------------------------- */

static void job_close(cg_script_job *job)
{
    int *fds[] = {&job->out_fd, &job->err_fd, &job->pidfd};
    for (size_t i = 0; i < 3; i++)
        if (*fds[i] >= 0) {
            cg_loop_io_remove(job->loop, *fds[i]);
            close(*fds[i]);
            *fds[i] = -1;
        }
    cg_loop_timer_cancel(job->loop, job->timer);
    cg_loop_timer_cancel(job->loop, job->reap_timer);
    job->timer = job->reap_timer = 0;
    cg_buf_free(&job->out);
    cg_buf_free(&job->err);
    free(job->early_msg);
}

/* Reads what is there; returns true at end of file. The result is capped (over the cap the
 * child is killed), stderr keeps its first MAX_STDERR bytes. */
static bool job_drain(cg_script_job *job, int fd)
{
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        if (fd == job->out_fd) {
            if (cg_buf_append(&job->out, chunk, (size_t)n) < 0 && !job->too_big) {
                job->too_big = true;
                kill(job->pid, SIGKILL);
            }
        } else if (job->err.len < MAX_STDERR) {
            size_t room = MAX_STDERR - job->err.len;
            cg_buf_append(&job->err, chunk, (size_t)n < room ? (size_t)n : room);
        }
    }
}

static void job_try_reap(cg_script_job *job);

static void on_pipe(cg_loop *loop, int fd, unsigned events, void *arg)
{
    cg_script_job *job = arg;
    if (!job_drain(job, fd)) return;
    cg_loop_io_remove(loop, fd);
    if (fd == job->out_fd) job->out_eof = true;
    else job->err_eof = true;
    /* without a pidfd, both pipes closing is the sign the child is ending */
    if (job->pidfd < 0 && job->out_eof && job->err_eof) job_try_reap(job);
}

static void job_finish(cg_script_job *job, cg_script_status st, json_t *result, const char *msg)
{
    uint64_t ns = cg_clock_mono_ns() - job->start_ns;
    atomic_fetch_add(&stat_exec, 1);
    if (st != CG_SCRIPT_OK) atomic_fetch_add(&stat_err, 1);
    atomic_fetch_add(&stat_ns, ns);
    atomic_store(&stat_last, (int_fast64_t)(cg_clock_wall_ns() / 1000000u));
    job_close(job);
    job->done(job->arg, st, result, msg);
    free(job);
}

/* The child is gone: read what it left, judge, report. */
static void job_judge(cg_script_job *job, int wstatus)
{
    const char *step = job->script->name;
    char msg[MAX_STDERR + 512];
    cg_script_status st = CG_SCRIPT_INTERNAL;
    json_t *result = NULL;
    const char *code = job->out.len ? job->out.data : "";
    const char *payload = job->out.len ? job->out.data + 1 : "";
    /* the tail of stderr, on one line, for messages about a crashed interpreter */
    for (size_t i = 0; i < job->err.len; i++)
        if (job->err.data[i] == '\n' || job->err.data[i] == '\r') job->err.data[i] = ' ';

    if (job->timed_out) {
        st = CG_SCRIPT_TIMEOUT;
        snprintf(msg, sizeof msg, "Script step '%s' exceeded the timeout limit (%ld ms)", step,
                 job->timeout_ms);
    } else if (job->too_big) {
        st = CG_SCRIPT_FAILED;
        snprintf(msg, sizeof msg, "Script step '%s' failed: its result is larger than %u bytes",
                 step, CG_SCRIPT_MAX_RESULT);
    } else if (*code == 'R' || *code == 'N') {
        json_error_t jerr;
        result = *code == 'N' ? json_null()
                 : json_loadb(payload, job->out.len - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        st = result ? CG_SCRIPT_OK : CG_SCRIPT_FAILED; /* e.g. an integer past 64 bits */
        if (!result)
            snprintf(msg, sizeof msg, "Script step '%s' failed: unreadable result (%s)", step,
                     jerr.text);
    } else if (*code == 'E') {
        st = CG_SCRIPT_FAILED;
        snprintf(msg, sizeof msg, "Script step '%s' failed: %.*s", step,
                 (int)(job->out.len - 1 > 2048 ? 2048 : job->out.len - 1), payload);
    } else if (*code == 'S') {
        st = CG_SCRIPT_STATEMENTS;
        snprintf(msg, sizeof msg, "Script step '%s' exceeded the statement limit (%ld)", step,
                 job->statements);
    } else if (*code == 'M' || (job->err.len && strstr(job->err.data, "MemoryError"))) {
        st = CG_SCRIPT_MEMORY;
        snprintf(msg, sizeof msg, "Script step '%s' exceeded the memory limit (%zu bytes)", step,
                 job->memory);
    } else if (WIFSIGNALED(wstatus) &&
               (WTERMSIG(wstatus) == SIGXCPU || WTERMSIG(wstatus) == SIGKILL)) {
        st = CG_SCRIPT_TIMEOUT; /* RLIMIT_CPU: soft limit SIGXCPU, hard limit SIGKILL */
        snprintf(msg, sizeof msg, "Script step '%s' exceeded the timeout limit (%ld ms of CPU)",
                 step, job->timeout_ms);
    } else if (WIFSIGNALED(wstatus)) {
        snprintf(msg, sizeof msg, "Script step '%s' failed: the interpreter died (signal %d) %s",
                 step, WTERMSIG(wstatus), job->err.len ? job->err.data : "");
    } else {
        snprintf(msg, sizeof msg, "Script step '%s' failed: the interpreter ended without a "
                 "result (exit %d) %s", step, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1,
                 job->err.len ? job->err.data : "");
    }
    job_finish(job, st, result, st == CG_SCRIPT_OK ? NULL : msg);
    json_decref(result);
}

static void on_reap_timer(cg_loop *loop, void *arg)
{
    cg_script_job *job = arg;
    job->reap_timer = 0;
    job_try_reap(job);
}

/* Collects the child if it has ended (then reports and frees the job). */
static void job_try_reap(cg_script_job *job)
{
    int wstatus = 0;
    pid_t r = 0;
    if (job->pid <= 0) return;
    do r = waitpid(job->pid, &wstatus, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) { /* not yet: a spurious wake-up, or pipes closed just before the exit */
        if (job->pidfd < 0 && !job->reap_timer)
            job->reap_timer = cg_loop_timer_add(job->loop, 2, on_reap_timer, job);
        return;
    }
    job->pid = 0;
    if (job->out_fd >= 0) job_drain(job, job->out_fd);
    if (job->err_fd >= 0) job_drain(job, job->err_fd);
    job_judge(job, wstatus);
}

static void on_exit_fd(cg_loop *loop, int fd, unsigned events, void *arg)
{
    job_try_reap(arg);
}

static void on_timeout(cg_loop *loop, void *arg)
{
    cg_script_job *job = arg;
    job->timer = 0;
    job->timed_out = true;
    if (job->pid > 0) kill(job->pid, SIGKILL); /* the pidfd then reports the exit */
}

static void on_early(cg_loop *loop, void *arg)
{
    cg_script_job *job = arg;
    job->timer = 0;
    char msg[512];
    snprintf(msg, sizeof msg, "Script step '%s' failed: %s", job->script->name,
             job->early_msg ? job->early_msg : "out of memory");
    job_finish(job, job->early, NULL, msg);
}

static cg_script_job *job_fail_later(cg_script_job *job, const char *what)
{
    char text[256];
    snprintf(text, sizeof text, "%s: %s", what, strerror(errno));
    job->early = CG_SCRIPT_INTERNAL;
    job->early_msg = strdup(text);
    job->timer = cg_loop_timer_add(job->loop, 0, on_early, job);
    if (!job->timer) {
        job_close(job);
        free(job);
        return NULL;
    }
    return job;
}

static void js_child_start(const cg_script *s, const char *context_json, cg_script_job *job,
                           int out_w, int err_w)
{
    child_fds(out_w, err_w);
    child_rlimits(job->timeout_ms);
    if (js_seccomp() != 0) child_emit('E', "cannot install the seccomp filter", 33);
    js_child(s, context_json, job->memory, job->statements);
}

/* Starts python3 with posix_spawn (a vfork: no copy of this process's page tables, which a
 * fork of a big process pays for), stdin/out/err from the given fds, nothing else open,
 * signals at their defaults. The wrapper applies the rlimits itself, first thing, before it
 * reads the script. 0 or an errno. */
static int py_spawn(int in, const cg_script_job *job, int out_w, int err_w, pid_t *pid)
{
    char limits[64];
    snprintf(limits, sizeof limits, "%ld %llu", (job->timeout_ms + 999) / 1000 + 1,
             (unsigned long long)job->memory + PY_BASE_AS);
    char *argv[] = {(char *)PYTHON_BIN, (char *)"-I", (char *)"-S", (char *)"-B", (char *)"-c",
                    (char *)PY_WRAPPER, limits, NULL};
    char *envp[] = {(char *)"LANG=C.UTF-8", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    posix_spawn_file_actions_adddup2(&fa, err_w, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    int rc = posix_spawn(pid, PYTHON_BIN, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

/* An fd moved above 2 (so the child's dup2 onto 0-2 cannot clobber another), or -1. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > 2) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

cg_script_job *cg_script_run(cg_loop *loop, const cg_script *s, json_t *context,
                             const cg_script_limits *lim, cg_script_done_cb done, void *arg)
{
    cg_script_job *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    job->loop = loop;
    job->script = s;
    job->done = done;
    job->arg = arg;
    job->pidfd = job->out_fd = job->err_fd = -1;
    job->out.max = CG_SCRIPT_MAX_RESULT + 1;
    job->timeout_ms = lim && lim->timeout_ms > 0 ? lim->timeout_ms : CG_SCRIPT_DEFAULT_TIMEOUT_MS;
    job->statements = lim && lim->statement_limit > 0 ? lim->statement_limit
                                                      : CG_SCRIPT_DEFAULT_STATEMENTS;
    job->memory = lim && lim->memory_limit ? lim->memory_limit : CG_SCRIPT_DEFAULT_MEMORY;
    job->start_ns = cg_clock_mono_ns();

    /* what the child reads: JS gets the context text through fork's copy of memory */
    char *context_json = NULL;
    int in = -1;
    if (s->lang == CG_SCRIPT_JAVASCRIPT) {
        context_json = json_dumps(context ? context : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        if (!context_json) return job_fail_later(job, "context");
    } else if ((in = python_request(s, context, job->statements)) < 0) {
        return job_fail_later(job, "request");
    }
    int outp[2], errp[2];
    if (pipe2(outp, O_CLOEXEC) < 0) {
        free(context_json);
        if (in >= 0) close(in);
        return job_fail_later(job, "pipe");
    }
    if (pipe2(errp, O_CLOEXEC) < 0) {
        close(outp[0]);
        close(outp[1]);
        free(context_json);
        if (in >= 0) close(in);
        return job_fail_later(job, "pipe");
    }
    pid_t pid = -1;
    int saved = 0;
    if (s->lang == CG_SCRIPT_JAVASCRIPT) {
        pid = fork();
        if (pid == 0) js_child_start(s, context_json, job, outp[1], errp[1]);
        saved = errno;
    } else {
        in = above_stdio(in);
        outp[1] = above_stdio(outp[1]);
        errp[1] = above_stdio(errp[1]);
        saved = in < 0 || outp[1] < 0 || errp[1] < 0 ? EMFILE
                : py_spawn(in, job, outp[1], errp[1], &pid);
        if (saved) pid = -1;
    }
    free(context_json);
    if (in >= 0) close(in);
    if (outp[1] >= 0) close(outp[1]);
    if (errp[1] >= 0) close(errp[1]);
    job->out_fd = outp[0];
    job->err_fd = errp[0];
    if (pid < 0) {
        errno = saved;
        return job_fail_later(job, s->lang == CG_SCRIPT_JAVASCRIPT ? "fork" : "spawn " PYTHON_BIN);
    }
    job->pid = pid;
    /* pidfd_open needs Linux 5.3 (and is unknown to valgrind): without it the pipes' end
     * of file and a short reap timer tell when the child is gone */
    job->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    fcntl(job->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(job->err_fd, F_SETFL, O_NONBLOCK);
    if ((job->pidfd >= 0 && cg_loop_io_set(loop, job->pidfd, CG_LOOP_READ, on_exit_fd, job) < 0) ||
        cg_loop_io_set(loop, job->out_fd, CG_LOOP_READ, on_pipe, job) < 0 ||
        cg_loop_io_set(loop, job->err_fd, CG_LOOP_READ, on_pipe, job) < 0 ||
        !(job->timer = cg_loop_timer_add(loop, job->timeout_ms, on_timeout, job))) {
        saved = errno;
        cg_loop_io_remove(loop, job->pidfd);
        cg_loop_io_remove(loop, job->out_fd);
        cg_loop_io_remove(loop, job->err_fd);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        job->pid = 0;
        errno = saved;
        return job_fail_later(job, "watch");
    }
    return job;
}

void cg_script_cancel(cg_script_job *job)
{
    if (!job) return;
    if (job->pid > 0) {
        kill(job->pid, SIGKILL);
        while (waitpid(job->pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    job_close(job);
    free(job);
}

void cg_script_stats_get(cg_script_stats *out)
{
    out->executions = atomic_load(&stat_exec);
    out->errors = atomic_load(&stat_err);
    out->total_ns = atomic_load(&stat_ns);
    out->last_unix_ms = atomic_load(&stat_last);
}
