/*
 * modelstore.c — one JSON file per model version, written atomically.
 *
 * A directory listing is the index: a version exists when "<n>.json" does, and nothing
 * else in the directory matters (temporary files start with '.' and never parse as a
 * number). That keeps the store crash-safe without a manifest to keep in sync.
 */
#include "mlbackend/modelstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The version number of a file name "<n>.json", or 0 for anything else. */
static long version_of(const char *name)
{
    if (name[0] < '1' || name[0] > '9') return 0;
    char *end;
    errno = 0;
    long v = strtol(name, &end, 10);
    if (errno || v <= 0 || strcmp(end, ".json")) return 0;
    return v;
}

static void project_dir(char *out, size_t outlen, const char *dir, long project)
{
    snprintf(out, outlen, "%s/%ld", dir, project);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Reads the version numbers of a project into a new sorted array (*out, free()d by the
 * caller; NULL when there are none). Returns the count, or -1 with err. */
static long read_versions(const char *dir, long project, long **out, char *err, size_t errlen)
{
    char pdir[PATH_MAX];
    project_dir(pdir, sizeof pdir, dir, project);
    *out = NULL;
    DIR *d = opendir(pdir);
    if (!d) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot read model directory %s: %s", pdir, strerror(errno));
        return -1;
    }
    long n = 0, cap = 0, *v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        long ver = version_of(e->d_name);
        if (!ver || n >= CG_MODELSTORE_MAX_VERSIONS) continue;
        if (n == cap) {
            long ncap = cap ? cap * 2 : 16;
            long *grown = realloc(v, (size_t)ncap * sizeof *grown);
            if (!grown) {
                free(v);
                closedir(d);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            v = grown;
            cap = ncap;
        }
        v[n++] = ver;
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_long);
    *out = v;
    return n;
}

long cg_modelstore_latest(const char *dir, long project, char *err, size_t errlen)
{
    long *v;
    long n = read_versions(dir, project, &v, err, errlen);
    long latest = n > 0 ? v[n - 1] : n;
    free(v);
    return latest;
}

int cg_modelstore_list(const char *dir, long project, json_t *out, char *err, size_t errlen)
{
    long *v;
    long n = read_versions(dir, project, &v, err, errlen);
    if (n < 0) return -1;
    for (long i = 0; i < n; i++) {
        char s[24];
        snprintf(s, sizeof s, "%ld", v[i]);
        json_array_append_new(out, json_string(s));
    }
    free(v);
    return 0;
}

/* mkdir -p for a path of at most PATH_MAX bytes. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
        snprintf(err, errlen, "model directory path too long");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
                return -1;
            }
            *s = c;
            if (!c) break;
        }
    }
    return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int cg_modelstore_save(const char *dir, long project, const cg_textclf *m,
                       const cg_trainset_stats *stats, long *version, char *err, size_t errlen)
{
    char pdir[PATH_MAX], tmp[PATH_MAX + 32], final[PATH_MAX + 32], created[32];
    char *text = NULL;
    int fd = -1, rc = -1;
    json_t *doc = NULL;
    tmp[0] = '\0';
    project_dir(pdir, sizeof pdir, dir, project);
    if (make_dirs(pdir, err, errlen) != 0) return -1;
    long latest = cg_modelstore_latest(dir, project, err, errlen);
    if (latest < 0) return -1;
    *version = latest + 1;
    char vs[24];
    snprintf(vs, sizeof vs, "%ld", *version);
    time_t now = time(NULL);
    struct tm tm;
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    doc = json_pack("{s:s, s:I, s:s, s:{s:I, s:I, s:I}, s:o*}", "version", vs, "project",
                    (json_int_t)project, "created_at", created, "trained_on", "tasks",
                    (json_int_t)stats->tasks, "documents", (json_int_t)stats->documents, "skipped",
                    (json_int_t)stats->skipped, "model", cg_textclf_to_json(m));
    if (!doc || !json_object_get(doc, "model") ||
        !(text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT))) {
        snprintf(err, errlen, "out of memory while saving the model");
        goto save_out;
    }
    snprintf(tmp, sizeof tmp, "%s/.%ld.json.%ld.tmp", pdir, *version, (long)getpid());
    snprintf(final, sizeof final, "%s/%ld.json", pdir, *version);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto save_out;
    }
    if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto save_out;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto save_out;
    }
    fd = -1;
    if (rename(tmp, final) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        goto save_out;
    }
    rc = 0;
save_out:
    if (fd >= 0) close(fd);
    if (rc != 0 && tmp[0]) unlink(tmp);
    free(text);
    json_decref(doc);
    return rc;
}

cg_textclf *cg_modelstore_load(const char *dir, long project, long version, char *err,
                               size_t errlen)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%ld/%ld.json", dir, project, version);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        snprintf(err, errlen, "cannot load model %s: %s", path, je.text);
        return NULL;
    }
    char why[256];
    cg_textclf *m = cg_textclf_from_json(json_object_get(doc, "model"), why, sizeof why);
    if (!m) snprintf(err, errlen, "model %s: %s", path, why);
    json_decref(doc);
    return m;
}
