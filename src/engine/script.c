/*
 * script.c — script steps in a killable child process. See script.h for the contract.
 *
 * Map of the file:
 *   1. loading: language and location resolution, path checks, reading the sources;
 *   2. the JavaScript child: a fork (no exec) running libduktape under a capped allocator
 *      and a seccomp whitelist;
 *   3. the Python child: python3 started with posix_spawn, running a wrapper (cg__script_py_wrapper)
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
 * The children's side (parts 2 and 3 and their common set-up) is script_child.c; the two
 * share the structs in script_int.h.
 */
#include "engine/script.h"
#include "engine/script_int.h"

#include <duktape.h>
#include <openssl/crypto.h>
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

static atomic_uint_fast64_t stat_exec, stat_err, stat_ns;
static atomic_int_fast64_t stat_last;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
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
        set_err(err, errlen,
                "Script step '%s' requires scripting support. Scripting is disabled "
                "via %s Enable it to use script steps.",
                step ? step : "?",
                enabled >= 0 ? "management.scripting.enabled=false on the control adapter."
                             : "NAFTIKO_SCRIPTING=false.");
    return on;
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
            int h = OPENSSL_hexchar2int((unsigned char)p[1]),
                l = h < 0 ? -1 : OPENSSL_hexchar2int((unsigned char)p[2]);
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
        set_err(err, errlen,
                "Script step '%s': unsafe script path '%s' (segments must match "
                "[a-zA-Z0-9._-]+, no '.' or '..')",
                step, rel);
        return -1;
    }
    char joined[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", root, rel) >= sizeof joined ||
        !realpath(joined, real)) {
        set_err(err, errlen, "Script step '%s' cannot read file '%s' from location '%s': %s", step,
                rel, location, strerror(errno ? errno : ENAMETOOLONG));
        return -1;
    }
    size_t rl = strlen(root);
    if (strncmp(real, root, rl) != 0 || (real[rl] != '/' && !(rl == 1 && root[0] == '/'))) {
        set_err(err, errlen, "Script step '%s': file '%s' leaves the location '%s' (symlink)", step,
                rel, location);
        return -1;
    }
    FILE *f = fopen(real, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "Script step '%s' cannot read file '%s' from location '%s': %s", step,
                rel, location, f ? "not a regular file" : strerror(errno));
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
                       : set && set->default_language    ? set->default_language
                                                         : NULL;
    if (!name || !*name) {
        set_err(err, errlen,
                "Script step '%s' has no 'language'. Set 'language' on the step or "
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
        set_err(err, errlen,
                "Script step '%s' uses language '%s' which is not in the allowed "
                "languages",
                spec->name, name);
        return 0;
    }
    if (lang == CG_SCRIPT_GROOVY) {
        set_err(err, errlen,
                "Script step '%s': language 'groovy' is not supported by capgate "
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
        set_err(err, errlen,
                "Script step '%s' requires scripting support. Scripting is disabled "
                "via management.scripting.enabled=false on the control adapter. Enable it to use "
                "script steps.",
                step);
        return NULL;
    }
    const char *lang_name = NULL;
    cg_script_lang lang = resolve_language(spec, set, &lang_name, err, errlen);
    if (!lang) return NULL;
    bool inline_src = spec->source != NULL;
    if (!inline_src && (!spec->file || !*spec->file)) {
        set_err(err, errlen,
                "Script step '%s' has no 'file'. Every script step must specify the "
                "script file to execute.",
                step);
        return NULL;
    }
    const char *location = spec->location && *spec->location ? spec->location
                           : set && set->default_location    ? set->default_location
                                                             : NULL;
    char root[PATH_MAX] = "", path[PATH_MAX];
    if ((!inline_src || spec->n_dependencies) && (!location || !*location)) {
        set_err(err, errlen,
                "Script step '%s' has no 'location'. Set 'location' on the step or "
                "configure 'management.scripting.defaultLocation' on the control adapter.",
                step);
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

cg_script_lang cg_script_language(const cg_script *s)
{
    return s->lang;
}
const char *cg_script_name(const cg_script *s)
{
    return s->name;
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
                              : json_loadb(payload, job->out.len - 1,
                                           JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
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
        snprintf(msg, sizeof msg,
                 "Script step '%s' failed: the interpreter ended without a "
                 "result (exit %d) %s",
                 step, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1,
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
    cg__script_child_fds(out_w, err_w);
    cg__script_child_rlimits(job->timeout_ms);
    if (cg__script_js_seccomp() != 0)
        cg__script_child_emit('E', "cannot install the seccomp filter", 33);
    cg__script_js_child(s, context_json, job->memory, job->statements);
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
    char *argv[] = {(char *)PYTHON_BIN,
                    (char *)"-I",
                    (char *)"-S",
                    (char *)"-B",
                    (char *)"-c",
                    (char *)cg__script_py_wrapper,
                    limits,
                    NULL};
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
    } else if ((in = cg__script_python_request(s, context, job->statements)) < 0) {
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
