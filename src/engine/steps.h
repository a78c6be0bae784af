/*
 * steps.h — orchestrated operations: `steps` (call, lookup, script) run in order, then
 * `mappings` pick the answer out of their results.
 *
 * Each step's result is kept under the step's name in one JSON object, the context:
 *   call    the consumed operation's answer, converted from its outputRawFormat to JSON;
 *   lookup  the entries of an earlier step's array (`index`) whose `match` field equals the
 *           value(s) that `lookupValue` (JSONPath over the context) gives, reduced to the
 *           listed fields: an array when lookupValue gives an array, else one object (or
 *           null when nothing matches);
 *   script  the script's `result` (script.h), run in its own sandboxed child process.
 * Then each mapping `{targetName, value}` evaluates its JSONPath over the context, and the
 * mapped object goes to output shaping (shape.h) like an upstream body would.
 *
 * The runner does no I/O of its own: call steps are started and their answers delivered by
 * the owner (call.c) through cg_steps_io, so this module depends on neither the call layer
 * nor the network. Steps run one at a time on the owner's loop; nothing here blocks. A step
 * that fails ends the run with a message naming it; later steps do not run.
 */
#ifndef CG_STEPS_H
#define CG_STEPS_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "net/loop.h"
#include "engine/script.h"
#include "spec/spec.h"

typedef struct cg_steps_run cg_steps_run;

/* How a run fails; the owner maps these to its own errors. */
typedef enum {
    CG_STEPS_OK = 0,
    CG_STEPS_UPSTREAM,   /* a call step's upstream failed or answered >= 400 */
    CG_STEPS_ARGUMENT,   /* a call step could not be built from the inputs */
    CG_STEPS_BAD_ANSWER, /* a call step's answer could not be read as its format */
    CG_STEPS_SCRIPT,     /* a script step failed or hit a limit */
    CG_STEPS_INTERNAL,   /* out of memory, JSONPath budget */
} cg_steps_status;

typedef struct cg_steps_io {
    void *ctx;
    cg_loop *loop;                     /* for script steps */
    const cg_script_settings *scripts; /* the control adapter's defaults (may be NULL) */
    cg_script_limits script_limits;
    /* Starts call step `step`: 0, then the owner calls cg_steps_call_done later (never
     * inside this call); or -1 with a message in err (the run then fails). */
    int (*start_call)(void *ctx, const cg_step *step, char *err, size_t errlen);
    /* Abandons the call step in progress (the run is being cancelled). */
    void (*cancel_call)(void *ctx);
    /* The exposed operation's inputs as a JSON object (for script contexts); new ref. */
    json_t *(*inputs)(void *ctx);
    /* Renders a template over the exposed operation's inputs into out: 0 or -1. */
    int (*render)(void *ctx, const cg_template *t, cg_buf *out);
    /* The run is over: mapped (new reference) on CG_STEPS_OK, else NULL with message (it
     * names the step). The run is freed after this returns. */
    void (*finished)(void *ctx, cg_steps_status status, json_t *mapped, const char *message,
                     int upstream_status);
} cg_steps_io;

/* Starts the steps of call (call->n_steps > 0). The first step starts on the next loop
 * iteration, so finished() never runs inside this call. NULL when out of memory. */
cg_steps_run *cg_steps_start(const cg_call *call, const cg_steps_io *io);

/* The owner's report of the call step in progress: the upstream's status and body (NULL and
 * 0 with error set when no answer came). */
void cg_steps_call_done(cg_steps_run *run, int status, const char *body, size_t len,
                        cg_steps_status error, const char *message);

/* Stops a run whose finished() has not run: the call or script in progress is abandoned,
 * finished() is never called. */
void cg_steps_cancel(cg_steps_run *run);

#endif
