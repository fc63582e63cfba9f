/* fuzz_checkpoint — rt_checkpoint_load. Input: 3 bytes of sizes (parameters
 * 1 + b0 % 8, optimizer state b1 % 8, statistics 2 * (b2 % 2), rows of the
 * data order b2 / 2 % 9), a byte whose bit 0 asks for a correct CRC32 over
 * the file (to get past the checksum), then the file.
 * A checkpoint the loader accepts is one the trainer can go on from: its
 * data order is a permutation of the rows and its position within them. */
#include "fuzz.h"

#define HASH "0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    long n_params = 1 + data[0] % 8, n_state = data[1] % 8, n_stats = 2 * (data[2] % 2);
    int64_t n_order = data[2] / 2 % 9;
    int fix_crc = data[3] & 1;
    data += 4, size -= 4;
    const char *path = fuzz_crc_file(data, size, fix_crc);
    rt_checkpoint c;
    memset(&c, 0, sizeof c);
    c.order = n_order ? malloc((size_t)n_order * sizeof(int32_t)) : NULL;
    c.n_order = n_order;
    c.params = malloc((size_t)n_params * sizeof(real));
    c.n_params = n_params;
    c.state = n_state ? malloc((size_t)n_state * sizeof(real)) : NULL;
    c.n_state = n_state;
    c.stats = n_stats ? malloc((size_t)n_stats * sizeof(real)) : NULL;
    c.n_stats = n_stats;
    rt_error err;
    if (rt_checkpoint_load(path, HASH, &c, &err)) {
        fuzz_check_refusal(&err, path, NULL);
    } else {
        FUZZ_REQUIRE(c.run.pos >= 0 && c.run.pos <= n_order, "pos %lld of %lld rows",
                     (long long)c.run.pos, (long long)n_order);
        FUZZ_REQUIRE(c.run.step >= 0 && c.run.epoch >= 0, "step %lld epoch %lld",
                     (long long)c.run.step, (long long)c.run.epoch);
        int seen[9] = {0};
        for (int64_t i = 0; i < n_order; i++) {
            int32_t r = c.order[i];
            FUZZ_REQUIRE(r >= 0 && r < n_order && !seen[r]++, "order[%lld] = %d", (long long)i,
                         (int)r);
        }
        rt_rng_u32(&c.run.rng); /* the shuffling stream goes on */
    }
    free(c.order);
    free(c.params);
    free(c.state);
    free(c.stats);
    return 0;
}
