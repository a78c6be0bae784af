/*
 * mlbackend.h — `capgate mlbackend`: a small, real ML backend that speaks Label Studio's
 * ML-backend protocol (GET /health, POST /setup, POST /predict, POST /webhook,
 * GET /versions, GET /metrics).
 *
 * The model is a naive Bayes text classifier (textclf.h) for the most common Label Studio
 * setup, a <Choices> over a <Text> (labelcfg.h). It trains on the project's annotations,
 * fetched from Label Studio's export API (lsclient.h, trainset.h), when Label Studio
 * sends START_TRAINING (and, with --train-every N, after every N annotation events); each
 * run is a new version on disk (modelstore.h). Per-project state and training threads
 * are in projects.h. Protocol details and deviations: docs/mlbackend.md.
 *
 * The server runs on common/httpd.h (one thread per connection), so a request that waits
 * for a training run holds only its own connection.
 */
#ifndef CG_MLBACKEND_H
#define CG_MLBACKEND_H

#include <stddef.h>

#define CG_MLBACKEND_DEFAULT_PORT 9091
#define CG_MLBACKEND_DEFAULT_MODEL_DIR "data/mlbackend"
/* Largest request body accepted (Label Studio sends whole tasks to /predict). */
#define CG_MLBACKEND_MAX_BODY (64u * 1024 * 1024)

typedef struct cg_mlbackend_options {
    const char *listen;          /* IPv4 address; NULL = 127.0.0.1 */
    int port;                    /* 0 = any free port (see cg_mlbackend_port) */
    const char *model_dir;       /* NULL = CG_MLBACKEND_DEFAULT_MODEL_DIR */
    const char *basic_auth_user; /* both set = every route needs HTTP basic auth */
    const char *basic_auth_pass;
    const char *ls_url;     /* overrides /setup's hostname (LABEL_STUDIO_URL) */
    const char *ls_api_key; /* overrides /setup's access_token (LABEL_STUDIO_API_KEY) */
    unsigned train_every;   /* train after this many annotation events; 0 = never */
    double train_wait_s;    /* how long START_TRAINING waits for its run to end */
} cg_mlbackend_options;

typedef struct cg_mlbackend cg_mlbackend;

/* Starts serving. NULL with a message in err when the options are bad or the port cannot
 * be bound. Strings in opt are copied. */
cg_mlbackend *cg_mlbackend_start(const cg_mlbackend_options *opt, char *err, size_t errlen);

/* The port actually bound. */
int cg_mlbackend_port(const cg_mlbackend *b);

/* Stops serving, waits for open requests and training runs, frees everything. NULL is fine. */
void cg_mlbackend_stop(cg_mlbackend *b);

/* The `capgate mlbackend` command: parses flags and the environment, serves until
 * SIGINT or SIGTERM. Returns the process exit status (0, or 2 for bad usage, 1 for
 * start-up failures). */
int cg_mlbackend_main(int argc, char **argv);

#endif
