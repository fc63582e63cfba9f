/* check.h — the unit tests' reporting: one "ok - name" or "not ok - name"
 * line per behaviour, counted by tests/run. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>

static int check_failures;

#define CHECK(cond, name)                                                              \
    do {                                                                               \
        if (cond) {                                                                    \
            printf("ok - %s\n", name);                                                 \
        } else {                                                                       \
            printf("not ok - %s  (%s:%d: %s)\n", name, __FILE__, __LINE__, #cond);    \
            check_failures++;                                                          \
        }                                                                              \
    } while (0)

#define CHECK_DONE() return check_failures ? 1 : 0
#endif
