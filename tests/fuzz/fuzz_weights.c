/* fuzz_weights — rt_weights_load. Input: 2 bytes of sizes (parameters
 * 1 + b0 % 16; statistics 2 * (b1 % 3)), a byte whose bit 0 asks the target
 * to write a correct CRC32 over the file before reading it (so mutations get
 * past the checksum to the code behind it), then the file. */
#include "fuzz.h"

#define HASH "0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    long n_params = 1 + data[0] % 16, n_stats = 2 * (data[1] % 3);
    int fix_crc = data[2] & 1;
    data += 3, size -= 3;
    const char *path = fuzz_crc_file(data, size, fix_crc);
    rt_weights w = {malloc((size_t)n_params * sizeof(real)), n_params,
                    n_stats ? malloc((size_t)n_stats * sizeof(real)) : NULL, n_stats};
    rt_error err;
    if (rt_weights_load(path, HASH, &w, &err)) fuzz_check_refusal(&err, path, NULL);
    free(w.params);
    free(w.stats);
    return 0;
}
