/* rt_util.c — the runtime's small shared pieces: error values (rt_fail) and
 * the monotonic clock (rt_now). */
#include "rt.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int rt_fail(rt_error *err, const char *fmt, ...)
{
    /* Callers write `return rt_fail(err, ...)`, so a NULL err (caller does
     * not want the text) must still yield -1. */
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

double rt_now(void)
{
    struct timespec ts;
    /* MONOTONIC: wall-clock jumps (NTP, suspend tweaks) must not bend timings. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
