/*
 * script_child.c — the child processes that run script steps (see script.c's map): the
 * JavaScript child (a fork running libduktape under a capped allocator and a seccomp
 * whitelist), the Python child (python3 through posix_spawn and its locking wrapper), and
 * their common set-up. Each reports back on its fd 1 in the protocol script.c describes.
 */
#include "engine/script.h"
#include "engine/script_int.h"

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

_Noreturn void cg__script_child_emit(char code, const char *payload, size_t n)
{
    child_write(&code, 1);
    if (payload && n) child_write(payload, n);
    _exit(0);
}

typedef struct js_mem {
    size_t used, cap;
    bool hit;                  /* an allocation was refused: the cap, not the script */
    uint64_t instructions;     /* executed so far (counted JS_GRAIN at a time) */
    uint64_t max_instructions; /* statement limit x JS_PER_STATEMENT */
    bool over;                 /* the statement limit was reached */
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
    if (js_fatal_mem && js_fatal_mem->hit) cg__script_child_emit('M', NULL, 0);
    cg__script_child_emit('E', msg, msg ? strlen(msg) : 0);
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
    cg__script_child_emit('E', msg, n);
}

_Noreturn void cg__script_js_child(const cg_script *s, const char *context_json, size_t memcap,
                                   long statements)
{
    js_mem m = {.cap = memcap, .max_instructions = (uint64_t)statements * JS_PER_STATEMENT};
    js_fatal_mem = &m;
    duk_context *ctx = duk_create_heap(js_alloc, js_realloc, js_free, &m, js_fatal);
    if (!ctx) cg__script_child_emit('M', NULL, 0);
    js_run_args a = {s, context_json};
    duk_int_t rc = duk_safe_call(ctx, js_run, &a, 0, 1);
    if (m.hit) cg__script_child_emit('M', NULL, 0);
    if (m.over) cg__script_child_emit('S', NULL, 0);
    if (rc != DUK_EXEC_SUCCESS) {
        js_emit_error(duk_safe_to_stacktrace(ctx, -1));
    }
    if (duk_is_undefined(ctx, -1)) cg__script_child_emit('N', NULL, 0);
    duk_size_t n;
    const char *json = duk_get_lstring(ctx, -1, &n);
    if (!json)
        cg__script_child_emit('N', NULL, 0); /* a function or symbol: JSON has no such value */
    cg__script_child_emit('R', json, n);
}

/* Everything a JavaScript child may ask the kernel for; the rest fails with EPERM. */
int cg__script_js_seccomp(void)
{
    static const int allow[] = {
        SCMP_SYS(read),
        SCMP_SYS(close),
        SCMP_SYS(exit),
        SCMP_SYS(exit_group),
        SCMP_SYS(brk),
        SCMP_SYS(mmap),
        SCMP_SYS(munmap),
        SCMP_SYS(mremap),
        SCMP_SYS(madvise),
        SCMP_SYS(mprotect),
        SCMP_SYS(futex),
        SCMP_SYS(rt_sigreturn),
        SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(clock_gettime),
        SCMP_SYS(gettimeofday),
        SCMP_SYS(time),
        SCMP_SYS(getrandom),
        SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),
        SCMP_SYS(getpid),
        SCMP_SYS(gettid),
        SCMP_SYS(sched_yield),
        /* sanitizer runtimes (make test-asan) set up signal stacks in a forked child */
        SCMP_SYS(sigaltstack),
        SCMP_SYS(rt_sigaction),
        SCMP_SYS(getrlimit),
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

/* Runs as `python3 -I -S -B -c cg__script_py_wrapper` with the request on stdin:
 * {"context": ..., "sources": [[name, code], ...], "statementLimit": n}. It imports what
 * scripts may use, installs the seccomp deny list and the audit hook, then runs the sources
 * in one globals dict under a line-counting trace. */
const char cg__script_py_wrapper[] =
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
    "  connect bind listen accept accept4 sendto sendmsg sendmmsg recvfrom recvmsg execve "
    "execveat\n"
    "  fork vfork clone clone3 kill tkill tgkill ptrace process_vm_readv process_vm_writev\n"
    "  mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink "
    "symlinkat\n"
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
int cg__script_python_request(const cg_script *s, json_t *context, long statements)
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
        json_array_append_new(srcs,
                              json_pack("[ss%]", s->src[i].name, s->src[i].code, s->src[i].len));
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
void cg__script_child_fds(int out, int errfd)
{
    static const int sigs[] = {SIGPIPE, SIGTERM, SIGINT,  SIGHUP,
                               SIGCHLD, SIGXCPU, SIGUSR1, SIGUSR2};
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
void cg__script_child_rlimits(long timeout_ms)
{
    rlim_t cpu = (rlim_t)(timeout_ms + 999) / 1000 + 1;
    struct rlimit r = {cpu, cpu + 1};
    setrlimit(RLIMIT_CPU, &r);
    r = (struct rlimit){0, 0};
    setrlimit(RLIMIT_CORE, &r);
}
