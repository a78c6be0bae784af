/*
 * studio.h — `capgate studio`: a Label Studio–compatible server for the ML-backend API.
 *
 * studio serves, stored in one SQLite file, the part of Label Studio's REST API that the
 * label-studio-ml capability consumes (the 9 /api/ml endpoints) and the few project, task,
 * annotation, prediction, export and token endpoints those need, with Label Studio's paths,
 * field names, status codes and error bodies. It is the embedded default upstream, and a way
 * to test a real ML backend without the Django stack. See docs/studio.md.
 *
 * This header is the module's whole public interface: the subcommand, and an in-process
 * server for tests and embedding.
 */
#ifndef CG_STUDIO_H
#define CG_STUDIO_H

#include <stddef.h>

typedef struct cg_studio cg_studio;

typedef struct cg_studio_options {
    const char *listen;     /* IPv4 address to bind; NULL = 127.0.0.1 */
    int port;               /* 0 = pick a free port; the command's default is 8000 */
    const char *db_path;    /* SQLite file; created with its directory when missing */
    const char *public_url; /* base URL sent to ML backends as `hostname`; NULL = derived */
    const char *api_key;    /* admin legacy key; NULL = stored one, or generate one */
} cg_studio_options;

/* Opens (creating or migrating) the database, resumes unfinished prediction runs and starts
 * serving. Returns NULL with a message in err on failure. When a new admin key was
 * generated, *generated_key (if not NULL) receives a malloc'd copy to show the user once. */
cg_studio *cg_studio_start(const cg_studio_options *opt, char **generated_key, char *err,
                           size_t errlen);

/* The port actually bound. */
int cg_studio_port(const cg_studio *s);

/* Stops serving, lets running prediction batches finish their current commit, closes the
 * database and frees everything. Unfinished runs resume at the next start. NULL is fine. */
void cg_studio_stop(cg_studio *s);

/* `capgate studio [--listen ADDR] [--port N] [--db PATH] [--public-url URL]`; argv[0] is
 * "studio". Serves until SIGINT or SIGTERM. Returns the process exit status. */
int cg_studio_main(int argc, char **argv);

#endif
