/*
 * clock.c — see clock.h.
 */
#include "common/clock.h"

#include <time.h>

static uint64_t ns_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cg_clock_mono_ns(void)
{
    return ns_of(CLOCK_MONOTONIC);
}
uint64_t cg_clock_mono_ms(void)
{
    return ns_of(CLOCK_MONOTONIC) / 1000000u;
}
uint64_t cg_clock_wall_ns(void)
{
    return ns_of(CLOCK_REALTIME);
}
uint64_t cg_clock_wall_ms(void)
{
    return ns_of(CLOCK_REALTIME) / 1000000u;
}
