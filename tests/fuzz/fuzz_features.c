/* fuzz_features — predict's reader: rt_read_features, which tells .npy, IDX
 * (raw or gzip) and CSV apart by their first bytes.
 * Input: a byte of the feature count expected (0: any, else 1-8), then the
 * file. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int32_t d = data[0] % 9;
    const char *path = fuzz_file(0, data + 1, size - 1);
    rt_dataset ds;
    rt_error err;
    if (rt_read_features(path, d, &ds, &err)) {
        fuzz_check_refusal(&err, path, NULL);
    } else {
        fuzz_check_dataset(&ds, d, 0, 0);
        rt_data_free(&ds);
    }
    return 0;
}
