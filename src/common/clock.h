/*
 * clock.h — the one clock reader: monotonic time for timeouts and durations, wall time for
 * timestamps that leave the process.
 */
#ifndef CG_CLOCK_H
#define CG_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds / nanoseconds: only differences mean anything. */
uint64_t cg_clock_mono_ms(void);
uint64_t cg_clock_mono_ns(void);

/* CLOCK_REALTIME (since the epoch) in milliseconds / nanoseconds. */
uint64_t cg_clock_wall_ms(void);
uint64_t cg_clock_wall_ns(void);

#endif
