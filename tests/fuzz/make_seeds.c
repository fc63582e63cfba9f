/* make_seeds.c — writes the seed files of the binary formats trainers write
 * themselves (weights, checkpoints, .npy) with the runtime's own writers, so
 * the seeds match the code: build and run by make_corpus.py. Files are
 * prefixed with the target's parameter bytes (see each fuzz_*.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

#define HASH "0123456789abcdef"

/* Prefixes the file at path with the bytes pre[0..npre) in place. */
static void prefix(const char *path, const unsigned char *pre, size_t npre)
{
    FILE *f = fopen(path, "rb");
    if (!f) exit(1);
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(path, "wb");
    if (!f || fwrite(pre, 1, npre, f) != npre || fwrite(buf, 1, len, f) != len) exit(1);
    fclose(f);
}

static void check(int rc, const rt_error *err)
{
    if (rc) {
        fprintf(stderr, "make_seeds: %s\n", err->msg);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *dir = argv[1];
    char path[4096];
    rt_error err;
    real params[16], stats[4] = {0.5f, -1, 2, 0.25f};
    for (int i = 0; i < 16; i++) params[i] = (real)(i * 0.125 - 1);

    /* weights: 3 parameters (b0 = 2) and 2 statistics (b1 = 1) */
    rt_weights w = {params, 3, stats, 2};
    snprintf(path, sizeof path, "%s/weights/valid", dir);
    check(rt_weights_save(path, HASH, &w, &err), &err);
    prefix(path, (const unsigned char[]){2, 1, 0}, 3);
    w.n_stats = 0, w.stats = NULL, w.n_params = 16;
    snprintf(path, sizeof path, "%s/weights/valid-16-params", dir);
    check(rt_weights_save(path, HASH, &w, &err), &err);
    prefix(path, (const unsigned char[]){15, 0, 1}, 3);

    /* checkpoint: 2 parameters (b0 = 1), 4 of state (b1 = 4), 2 statistics
     * and 5 rows (b2 = 1 + 2 * 5), mid-epoch at row 2 */
    int32_t order[5] = {3, 0, 4, 1, 2};
    real state[4] = {1, 2, 3, 4};
    rt_checkpoint c;
    memset(&c, 0, sizeof c);
    c.run.step = 7, c.run.epoch = 1, c.run.pos = 2, c.run.base_lr = 0.1;
    c.run.loss_sum = 1.5, c.run.correct = 1, c.run.seen = 2;
    rt_rng_seed(&c.run.rng, 42);
    c.run.seed = 42;
    c.run.plateau.factor = 0.1, c.run.plateau.patience = 10;
    c.order = order, c.n_order = 5;
    c.params = params, c.n_params = 2;
    c.state = state, c.n_state = 4;
    c.stats = stats, c.n_stats = 2;
    snprintf(path, sizeof path, "%s/checkpoint/valid", dir);
    check(rt_checkpoint_save(path, HASH, &c, &err), &err);
    prefix(path, (const unsigned char[]){1, 4, 11, 0}, 4);
    /* a file whose checksum holds but whose row lies past the data (a
     * regression: the trainer read past its rows) */
    c.run.pos = 9;
    snprintf(path, sizeof path, "%s/checkpoint/pos-past-rows", dir);
    check(rt_checkpoint_save(path, HASH, &c, &err), &err);
    prefix(path, (const unsigned char[]){1, 4, 11, 0}, 4);
    c.n_order = 0, c.order = NULL, c.n_stats = 0, c.stats = NULL, c.run.pos = 0;
    snprintf(path, sizeof path, "%s/checkpoint/valid-no-order", dir);
    check(rt_checkpoint_save(path, HASH, &c, &err), &err);
    prefix(path, (const unsigned char[]){1, 4, 0, 1}, 4);

    /* .npy: [2, 3] and a scalar, in the trainer's element type */
    int64_t dims[2] = {2, 3};
    snprintf(path, sizeof path, "%s/npy/valid-2x3", dir);
    check(rt_npy_write(path, params, 2, dims, &err), &err);
    prefix(path, (const unsigned char[]){6, 0}, 2);
    snprintf(path, sizeof path, "%s/npy/valid-scalar", dir);
    check(rt_npy_write(path, params, 0, dims, &err), &err);
    prefix(path, (const unsigned char[]){1, 0}, 2);
    return 0;
}
