/* init_dump.c — prints runtime draws for tests/test_init_torch.py to compare
 * with PyTorch and NumPy. Usage: init_dump SEED SPEC..., one rng seeded once
 * and drawn in SPEC order; each value is printed as a C99 hex float (exact).
 *   u:N:A:B  rt_init_uniform of N elements on [A, B)
 *   r53:N    N draws of rt_rng_uniform53 */
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dump_uniform(rt_rng *rng, const char *spec)
{
    char *end;
    long n = strtol(spec, &end, 10);
    if (*end != ':' || n < 0) return -1;
    double a = strtod(end + 1, &end);
    if (*end != ':') return -1;
    double b = strtod(end + 1, &end);
    if (*end != '\0') return -1;
    real *p = malloc(((size_t)n + 1) * sizeof *p);
    if (!p) return -1;
    rt_init_uniform(rng, p, n, a, b);
    for (long i = 0; i < n; i++) printf("%a\n", (double)p[i]);
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: init_dump SEED u:N:A:B|r53:N ...\n");
        return 2;
    }
    rt_rng rng;
    rt_rng_seed(&rng, (uint32_t)strtoul(argv[1], NULL, 10));
    printf("%s\n", RT_REAL_NAME);
    for (int k = 2; k < argc; k++) {
        int rc = -1;
        if (strncmp(argv[k], "u:", 2) == 0) {
            rc = dump_uniform(&rng, argv[k] + 2);
        } else if (strncmp(argv[k], "r53:", 4) == 0) {
            long n = strtol(argv[k] + 4, NULL, 10);
            for (long i = 0; i < n; i++) printf("%a\n", rt_rng_uniform53(&rng));
            rc = 0;
        }
        if (rc != 0) {
            fprintf(stderr, "init_dump: bad spec '%s'\n", argv[k]);
            return 2;
        }
    }
    return 0;
}
