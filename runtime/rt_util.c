/* rt_util.c — the runtime's small shared pieces: error values (rt_fail),
 * the monotonic clock (rt_now) and byte order (files are little-endian). */
#include "rt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

int rt_host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void rt_swap_bytes(void *data, size_t count, size_t size)
{
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t j = 0; j < size / 2; j++) {
            unsigned char t = p[j];
            p[j] = p[size - 1 - j];
            p[size - 1 - j] = t;
        }
}
