/*
 * tests/unit/tempdir.h — a fresh directory under /tmp for a unit test's files, and its
 * removal with everything in it (nftw, no shell), or with just a SQLite database's files
 * (to prove nothing else was left). Header-only (static inline).
 */
#ifndef CG_TEST_TEMPDIR_H
#define CG_TEST_TEMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes /tmp/cg-NAME-XXXXXX and puts its path in dir: 0, or -1. */
static inline int tempdir_make(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "/tmp/cg-%s-XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

static inline int tempdir_remove_one(const char *path, const struct stat *st, int type,
                                     struct FTW *ftw)
{
    return remove(path);
}

/* Removes dir and everything below it (links are removed, not followed): 0, or -1. */
static inline int tempdir_remove(const char *dir)
{
    return nftw(dir, tempdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes the SQLite database at db with its -wal, -shm and -journal files, then dir, which
 * must be empty by then: 0, or -1 when anything else was left behind. */
static inline int tempdir_remove_db(const char *dir, const char *db)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", db, suffixes[i]);
        unlink(p);
    }
    return rmdir(dir);
}

#endif
