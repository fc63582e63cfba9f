/* fuzz_npydata — the .npy data source (data = npy { ... }): rt_data_probe and
 * rt_data_load (and rt_data_open: mapped) on a features file and a labels file.
 * Input: a flags byte, 2 bytes (little-endian) of the features file's
 * length, the features file, then the labels file. Flags: bit 0 no labels
 * file, bit 1 two label values per row (else class indices), bit 2 classes
 * in [0, 3), bit 3 expect 4 features per row. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int flags = data[0];
    size_t xlen = (size_t)(data[1] | data[2] << 8);
    data += 3, size -= 3;
    if (xlen > size) xlen = size;
    rt_source src;
    memset(&src, 0, sizeof src);
    src.kind = RT_SRC_NPY;
    src.images = fuzz_file(0, data, xlen);
    src.labels = flags & 1 ? NULL : fuzz_file(1, data + xlen, size - xlen);
    int32_t ylen = flags & 1 ? 0 : flags & 2 ? 2 : 1;
    int32_t classes = ylen == 1 && flags & 4 ? 3 : 0;
    src.classes = classes;
    src.ylen = ylen;

    rt_error err;
    int32_t n = -1, d = -1;
    int probed = rt_data_probe(&src, &n, &d, &err) == 0;
    if (!probed) fuzz_check_refusal(&err, src.images, src.labels);
    rt_dataset ds;
    int32_t d_expected = flags & 8 ? 4 : probed ? d : 0;
    int rc = rt_data_load(&src, d_expected, ylen, classes, &ds, &err);
    if (rc) {
        fuzz_check_refusal(&err, src.images, src.labels);
    } else {
        if (probed) FUZZ_REQUIRE(n == ds.n, "probe %d rows, load %d", (int)n, (int)ds.n);
        fuzz_check_dataset(&ds, d_expected, ylen, classes);
    }
    fuzz_check_stored(&src, d_expected, ylen, classes, &ds, rc);
    if (!rc) rt_data_free(&ds);
    return 0;
}
