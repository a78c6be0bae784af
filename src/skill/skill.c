/*
 * skill.c — the skill adapter's catalog endpoints. See skill.h.
 *
 * Every answer is built at once from the spec model (and, for /contents, the skill's
 * location directory), so a request never outlives the handler that received it.
 */
#include "skill/skill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "mcp/tool_schema.h"
#include "net/h1_json.h"
#include "net/h1_server.h"

#define MAX_WALK_FILES 10000
#define MAX_WALK_DEPTH 16
#define MAX_FILE_BYTES (16u << 20)

struct cg_skill_http {
    cg_loop *loop;
    cg_h1j_server http;
    cg_skill_options opt;
};

/* ---- answers -------------------------------------------------------------------- */

/* ---- the catalog ---------------------------------------------------------------- */

static const cg_skill *find_skill(const cg_skill_adapter *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->n_skills; i++)
        if (strlen(a->skills[i].name) == len && !memcmp(a->skills[i].name, name, len))
            return &a->skills[i];
    return NULL;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v) json_object_set_new(o, key, json_string(v));
}

static json_t *catalog(const cg_skill_adapter *a)
{
    json_t *list = json_array();
    for (size_t i = 0; i < a->n_skills; i++) {
        const cg_skill *sk = &a->skills[i];
        json_t *e = json_object(), *tools = json_array();
        set_str(e, "name", sk->name);
        json_object_set_new(e, "description",
                            sk->description ? json_string(sk->description) : json_null());
        set_str(e, "license", sk->license);
        for (size_t t = 0; t < sk->n_tools; t++)
            json_array_append_new(tools, json_string(sk->tools[t].name));
        json_object_set_new(e, "tools", tools);
        json_array_append_new(list, e);
    }
    return json_pack("{s:I,s:o}", "count", (json_int_t)a->n_skills, "skills", list);
}

/* The call a derived tool stands for and the mode of its namespace ("rest", "mcp" or
 * "unknown"), as the reference engine's namespaceMode map gives it. */
static const cg_call *source_call(const cg_spec *spec, const cg_skill_tool *t, const char **mode)
{
    *mode = "unknown";
    for (size_t i = 0; i < spec->n_rest; i++) {
        const cg_rest_adapter *r = &spec->rest[i];
        if (!r->namespace_ || strcmp(r->namespace_, t->source_namespace)) continue;
        *mode = "rest";
        for (size_t k = 0; k < r->n_resources; k++)
            for (size_t o = 0; o < r->resources[k].n_ops; o++)
                if (r->resources[k].ops[o].name && t->action &&
                    !strcmp(r->resources[k].ops[o].name, t->action))
                    return &r->resources[k].ops[o].call;
        return NULL;
    }
    for (size_t i = 0; i < spec->n_mcp; i++) {
        const cg_mcp_adapter *m = &spec->mcp[i];
        if (!m->namespace_ || strcmp(m->namespace_, t->source_namespace)) continue;
        *mode = "mcp";
        const cg_tool *tool = t->action ? cg_spec_find_tool(m, t->action) : NULL;
        return tool ? &tool->call : NULL;
    }
    return NULL;
}

static json_t *detail(const cg_spec *spec, const cg_skill *sk)
{
    json_t *d = json_object();
    set_str(d, "name", sk->name);
    json_object_set_new(d, "description",
                        sk->description ? json_string(sk->description) : json_null());
    set_str(d, "license", sk->license);
    set_str(d, "compatibility", sk->compatibility);
    set_str(d, "argument-hint", sk->argument_hint);
    set_str(d, "allowed-tools", sk->allowed_tools);
    if (sk->user_invocable >= 0)
        json_object_set_new(d, "user-invocable", json_boolean(sk->user_invocable));
    if (sk->disable_model_invocation >= 0)
        json_object_set_new(d, "disable-model-invocation",
                            json_boolean(sk->disable_model_invocation));
    if (sk->n_metadata) {
        json_t *md = json_object();
        for (size_t i = 0; i + 1 < sk->n_metadata; i += 2)
            json_object_set_new(md, sk->metadata[i], json_string(sk->metadata[i + 1]));
        json_object_set_new(d, "metadata", md);
    }
    json_t *tools = json_array();
    for (size_t i = 0; i < sk->n_tools; i++) {
        const cg_skill_tool *t = &sk->tools[i];
        json_t *e = json_object();
        set_str(e, "name", t->name);
        json_object_set_new(e, "description",
                            t->description ? json_string(t->description) : json_null());
        if (t->source_namespace) {
            const char *mode;
            const cg_call *call = source_call(spec, t, &mode);
            json_object_set_new(e, "type", json_string("derived"));
            json_object_set_new(e, "invocationRef",
                                json_pack("{s:s,s:s?,s:s}", "targetNamespace", t->source_namespace,
                                          "action", t->action, "mode", mode));
            if (call) json_object_set_new(e, "inputSchema", cg_mcp_input_schema(call));
        } else if (t->instruction) {
            json_object_set_new(e, "type", json_string("instruction"));
            json_object_set_new(e, "instruction", json_string(t->instruction));
        }
        json_array_append_new(tools, e);
    }
    json_object_set_new(d, "tools", tools);
    return d;
}

/* ---- the location's files ------------------------------------------------------- */

bool cg_skill_safe_relpath(const char *rel)
{
    if (!rel || !*rel || strlen(rel) > 1024) return false;
    const char *seg = rel;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || seg[0] == '.') return false;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (c < 0x20 || c == 0x7f || c == '\\') return false;
        }
        if (!end) return true;
        seg = end + 1;
    }
}

static const char *media_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"md", "text/markdown"},      {"txt", "text/plain"},
        {"json", "application/json"}, {"yaml", "application/yaml"},
        {"yml", "application/yaml"},  {"html", "text/html"},
        {"htm", "text/html"},         {"csv", "text/csv"},
        {"xml", "application/xml"},   {"js", "application/javascript"},
        {"py", "text/x-python"},      {"sh", "text/x-shellscript"},
        {"png", "image/png"},         {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},       {"gif", "image/gif"},
        {"svg", "image/svg+xml"},     {"pdf", "application/pdf"},
        {"zip", "application/zip"},
    };
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot + 1, types[i].ext)) return types[i].type;
    return "application/octet-stream";
}

/* The location's directory, opened; -1 when it is not an existing directory. */
static int open_location(const cg_skill *sk)
{
    if (!sk->location || strncmp(sk->location, "file://", 7)) return -1;
    const char *path = sk->location + 7;
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

typedef struct entry {
    char *path; /* relative to the location */
    off_t size;
} entry;

typedef struct walk {
    entry *files;
    size_t n, cap;
} walk;

/* Collects the regular files under dirfd (no symlinks followed, hidden entries skipped);
 * takes dirfd over. */
static int walk_dir(int dirfd, const char *prefix, int depth, walk *w)
{
    if (depth > MAX_WALK_DEPTH) {
        close(dirfd);
        return 0;
    }
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
        char *rel = NULL;
        if (asprintf(&rel, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) < 0) {
            rc = -1;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) rc = walk_dir(sub, rel, depth + 1, w);
            free(rel);
        } else if (S_ISREG(st.st_mode) && w->n < MAX_WALK_FILES) {
            if (w->n == w->cap) {
                size_t cap = w->cap ? 2 * w->cap : 32;
                entry *f = realloc(w->files, cap * sizeof *f);
                if (!f) {
                    free(rel);
                    rc = -1;
                    break;
                }
                w->files = f;
                w->cap = cap;
            }
            w->files[w->n++] = (entry){rel, st.st_size};
        } else {
            free(rel);
        }
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static void contents(cg_h1s_request *rq, const cg_skill *sk)
{
    int fd = open_location(sk);
    if (fd < 0) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 sk->location ? "Location directory not found for skill: %s"
                              : "No location configured for skill: %s",
                 sk->name);
        cg_h1j_problem(rq, 404, "not-found", "Not Found", msg);
        return;
    }
    walk w = {0};
    int rc = walk_dir(fd, "", 0, &w);
    json_t *files = json_array();
    if (rc == 0) {
        if (w.n) qsort(w.files, w.n, sizeof *w.files, by_path);
        for (size_t i = 0; i < w.n; i++) {
            const char *base = strrchr(w.files[i].path, '/');
            json_array_append_new(files, json_pack("{s:s,s:I,s:s}", "path", w.files[i].path, "size",
                                                   (json_int_t)w.files[i].size, "type",
                                                   media_type(base ? base + 1 : w.files[i].path)));
        }
    }
    for (size_t i = 0; i < w.n; i++) free(w.files[i].path);
    free(w.files);
    if (rc < 0) {
        json_decref(files);
        cg_h1j_problem(rq, 500, "internal", "Internal Server Error",
                       "cannot list the skill's location");
        return;
    }
    cg_h1j_send(rq, 200, NULL, json_pack("{s:s,s:o}", "name", sk->name, "files", files));
}

/* Opens rel under the location one segment at a time, never following a symlink. */
static int open_beneath(int dirfd, const char *rel)
{
    char buf[1100];
    snprintf(buf, sizeof buf, "%s", rel);
    int fd = dirfd;
    char *save = NULL;
    for (char *seg = strtok_r(buf, "/", &save); seg;) {
        char *next = strtok_r(NULL, "/", &save);
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (next ? O_DIRECTORY : O_NONBLOCK);
        int nfd = openat(fd, seg, flags);
        if (fd != dirfd) close(fd);
        if (nfd < 0) return -1;
        fd = nfd;
        seg = next;
    }
    return fd == dirfd ? -1 : fd;
}

static void file(cg_h1s_request *rq, const cg_skill *sk, const char *rel)
{
    if (!cg_skill_safe_relpath(rel)) {
        cg_h1j_problem(rq, 400, "bad-path", "Bad Request",
                       "the file path must be relative segments of plain names (no '..', no hidden "
                       "entries)");
        return;
    }
    int dirfd = open_location(sk);
    if (dirfd < 0) {
        cg_h1j_problem(rq, 404, "not-found", "Not Found",
                       sk->location ? "the skill's location directory does not exist"
                                    : "the skill has no location");
        return;
    }
    int fd = open_beneath(dirfd, rel);
    close(dirfd);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        char msg[1200];
        snprintf(msg, sizeof msg, "File not found: %s", rel);
        cg_h1j_problem(rq, 404, "not-found", "Not Found", msg);
        return;
    }
    if ((size_t)st.st_size > MAX_FILE_BYTES) {
        close(fd);
        cg_h1j_problem(rq, 413, "too-large", "Content Too Large", "the file is over 16 MiB");
        return;
    }
    /* a local regular file of bounded size: read it here */
    char *body = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (body && got < (size_t)st.st_size) {
        ssize_t r = read(fd, body + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!body) {
        cg_h1j_problem(rq, 500, "internal", "Internal Server Error", "out of memory");
        return;
    }
    const char *base = strrchr(rel, '/');
    cg_h1j_respond(rq, 200, media_type(base ? base + 1 : rel), body, got);
}

/* ---- routing -------------------------------------------------------------------- */

static void route(void *ctx, cg_h1s_request *rq)
{
    cg_skill_http *s = ctx;
    const char *path = cg_h1s_path(rq), *m = cg_h1s_method(rq);
    if (strncmp(path, "/skills", 7) || (path[7] && path[7] != '/')) {
        cg_h1j_problem(rq, 404, "not-found", "Not Found",
                       "no such endpoint: the skill adapter serves "
                       "/skills, /skills/{name} and /skills/{name}/contents");
        return;
    }
    if (strcmp(m, "GET") && strcmp(m, "HEAD")) {
        cg_h1j_problem(rq, 405, "method-not-allowed", "Method Not Allowed",
                       "the skill catalog is read-only: GET only");
        return;
    }
    const cg_skill_adapter *a = s->opt.adapter;
    const char *rest = path + 7;
    if (!*rest || !strcmp(rest, "/")) {
        cg_h1j_send(rq, 200, NULL, catalog(a));
        return;
    }
    const char *name = rest + 1, *slash = strchr(name, '/');
    size_t nlen = slash ? (size_t)(slash - name) : strlen(name);
    const cg_skill *sk = find_skill(a, name, nlen);
    if (!sk) {
        char msg[300];
        snprintf(msg, sizeof msg, "Skill not found: %.*s", (int)(nlen > 200 ? 200 : nlen), name);
        cg_h1j_problem(rq, 404, "not-found", "Not Found", msg);
        return;
    }
    if (!slash || !slash[1]) cg_h1j_send(rq, 200, NULL, detail(s->opt.spec, sk));
    else if (!strcmp(slash, "/contents") || !strcmp(slash, "/contents/")) contents(rq, sk);
    else if (!strncmp(slash, "/contents/", 10)) file(rq, sk, slash + 10);
    else if (!strcmp(slash, "/download"))
        cg_h1j_problem(rq, 501, "not-implemented", "Not Implemented",
                       "capgate does not build skill archives; list /contents and fetch each file");
    else cg_h1j_problem(rq, 404, "not-found", "Not Found", "no such endpoint under this skill");
}

static void on_done(void *ctx, cg_h1s_request *rq)
{
    cg_skill_http *s = ctx;
    if (s->opt.metrics && cg_h1s_status(rq))
        cg_metrics_count_request(s->opt.metrics, "skill", "GET", cg_h1s_status(rq));
}

cg_skill_http *cg_skill_http_start(cg_loop *loop, const cg_skill_options *opt, char *err,
                                   size_t errlen)
{
    cg_skill_http *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "skill: out of memory");
        return NULL;
    }
    s->loop = loop;
    s->opt = *opt;
    s->http = (cg_h1j_server){
        .too_large = "the skill catalog takes no body", .route = route, .done = on_done, .ctx = s};
    char why[256];
    if (cg_h1j_start(&s->http, loop, opt->address, opt->port, 64 * 1024, opt->idle_timeout_s, why,
                     sizeof why) < 0) {
        snprintf(err, errlen, "skill adapter '%s': %s",
                 opt->adapter->namespace_ ? opt->adapter->namespace_ : "?", why);
        free(s);
        return NULL;
    }
    return s;
}

int cg_skill_http_port(const cg_skill_http *s)
{
    return s->http.port;
}

void cg_skill_http_reload(cg_skill_http *s, const cg_spec *spec, const cg_skill_adapter *adapter)
{
    s->opt.spec = spec;
    s->opt.adapter = adapter;
}

void cg_skill_http_quiesce(cg_skill_http *s)
{
    if (s) cg_h1s_quiesce(s->http.h1);
}

int cg_skill_http_active(const cg_skill_http *s)
{
    (void)s;
    return 0;
}

void cg_skill_http_stop(cg_skill_http *s)
{
    if (!s) return;
    cg_h1s_stop(s->http.h1);
    free(s);
}
