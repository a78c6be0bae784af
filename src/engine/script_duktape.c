/*
 * script_duktape.c — Debian's Duktape 2.7, built here with an instruction-count hook.
 *
 * Debian's libduktape.so is configured without DUK_USE_INTERRUPT_COUNTER, so nothing can
 * stop or count a running script from inside. This file compiles the single-file source
 * that Debian ships in duktape-dev (/usr/share/duktape/duktape.c, the same release as the
 * packaged library; nothing of it is copied into this repository) with its own
 * configuration plus two switches: the bytecode executor's interrupt counter, and an
 * "execution timeout" check that calls cg__duk_interrupt() (script.c) on every interrupt.
 *
 * The check is a macro expanded inside duk__executor_interrupt(), where the local `ctr`
 * holds the number of instructions until the next interrupt (256K by default) and
 * thr->interrupt_init the number run since the last one: the hook reads the one and sets the
 * other, so scripts are counted at a fine grain. A non-zero return makes Duktape throw a
 * RangeError that no script catch clause can stop (it is re-thrown until the call returns).
 */
#define DUK_COMPILING_DUKTAPE
#include <duk_config.h>

#define DUK_USE_INTERRUPT_COUNTER
#define DUK_USE_EXEC_TIMEOUT_CHECK(udata) cg__duk_interrupt((udata), thr->interrupt_init, &ctr)
int cg__duk_interrupt(void *udata, long done, duk_int_t *next);

/* Duktape's code is its own; our warning set is for ours. */
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
/* Duktape does pointer arithmetic UBSan objects to (a zero offset on NULL in its property
 * code, duk_hobject_props.c): under clang's sanitizer builds (make test-asan, fuzz) its
 * functions keep AddressSanitizer but not UndefinedBehaviorSanitizer. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("undefined"))), apply_to = function)
#endif
#include "/usr/share/duktape/duktape.c"
#if defined(__clang__)
#pragma clang attribute pop
#endif
