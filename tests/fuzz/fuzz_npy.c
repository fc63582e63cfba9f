/* fuzz_npy — rt_npy_read. Input: the element count the caller expects
 * (2 bytes, little-endian, below 1024), then the file. The destination is
 * exactly that many values, so a write past it is an ASan report. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int64_t count = (data[0] | data[1] << 8) % 1024;
    const char *path = fuzz_file(0, data + 2, size - 2);
    real *dst = malloc((size_t)count * sizeof(real) + (count == 0));
    rt_error err;
    if (rt_npy_read(path, dst, count, &err)) fuzz_check_refusal(&err, path, NULL);
    free(dst);
    return 0;
}
