/*
 * modelstore.h — model versions on disk: <dir>/<project>/<version>.json.
 *
 * Versions are the integers 1, 2, 3, ... per project (as strings on the wire), so they
 * sort and compare the obvious way and "the latest" is the largest file name. Each file
 * is written once, atomically (temporary file, fsync, rename), and never changed; old
 * versions stay so that /versions can list them and a restart can reload the latest.
 *
 * A file holds {"version": "3", "project": 12, "created_at": "2026-11-28T15:00:00Z",
 * "trained_on": {"tasks": 40, "documents": 41, "skipped": 2}, "model": {<textclf>}}.
 */
#ifndef CG_MODELSTORE_H
#define CG_MODELSTORE_H

#include <jansson.h>

#include "mlbackend/textclf.h"
#include "mlbackend/trainset.h"

/* Most versions listed by cg_modelstore_list(). */
#define CG_MODELSTORE_MAX_VERSIONS 100000

/* The latest version number of a project (0 when it has none, or the directory does not
 * exist). -1 with err when the directory cannot be read. */
long cg_modelstore_latest(const char *dir, long project, char *err, size_t errlen);

/* Appends the project's versions, ascending, as JSON strings to the array `out`.
 * 0 on success (none is fine), -1 with err when the directory cannot be read. */
int cg_modelstore_list(const char *dir, long project, json_t *out, char *err, size_t errlen);

/* Saves m as the next version (latest + 1), creating directories as needed; writes the
 * new number to *version. The caller serializes saves per project. 0 or -1 with err. */
int cg_modelstore_save(const char *dir, long project, const cg_textclf *m,
                       const cg_trainset_stats *stats, long *version, char *err, size_t errlen);

/* Loads one version. NULL with err when missing or malformed. */
cg_textclf *cg_modelstore_load(const char *dir, long project, long version, char *err,
                               size_t errlen);

#endif
