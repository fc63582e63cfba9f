/* fuzz_csv — the CSV reader: rt_data_probe, rt_data_load and
 * rt_csv_read_features on the same file.
 * Input: a flags byte, then the file. Flags: bits 0-1 header (0 detect,
 * 1 none, 2 yes), bit 2 the label column by name ("y"), else bits 4-5 its
 * index when bit 3 is set, else no labels; bit 6 classes in [0, 3). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int flags = data[0];
    rt_source src;
    memset(&src, 0, sizeof src);
    src.kind = RT_SRC_CSV;
    src.path = fuzz_file(0, data + 1, size - 1);
    src.header = (flags & 3) == 0 ? -1 : (flags & 3) == 1 ? 0 : 1;
    src.label_col = -1;
    if (flags & 4)
        src.label = "y";
    else if (flags & 8)
        src.label_col = (flags >> 4) & 3;
    int32_t ylen = src.label || src.label_col >= 0 ? 1 : 0;
    int32_t classes = flags & 64 && ylen ? 3 : 0;
    src.classes = classes;

    rt_error err;
    int32_t n = -1, d = -1;
    int probed = rt_data_probe(&src, &n, &d, &err) == 0;
    if (!probed) fuzz_check_refusal(&err, src.path, NULL);
    rt_dataset ds;
    if (rt_data_load(&src, probed ? d : 0, ylen, classes, &ds, &err)) {
        fuzz_check_refusal(&err, src.path, NULL);
        FUZZ_REQUIRE(!ds.x && !ds.y, "a refused load keeps buffers");
    } else {
        if (probed)
            FUZZ_REQUIRE(n == ds.n && d == ds.d, "probe %d x %d, load %d x %d", (int)n, (int)d,
                         (int)ds.n, (int)ds.d);
        fuzz_check_dataset(&ds, probed ? d : 0, ylen, classes);
        rt_data_free(&ds);
    }
    if (rt_csv_read_features(src.path, flags & 128 && probed ? d : 0, &ds, &err)) {
        fuzz_check_refusal(&err, src.path, NULL);
    } else {
        fuzz_check_dataset(&ds, 0, 0, 0);
        rt_data_free(&ds);
    }
    return 0;
}
