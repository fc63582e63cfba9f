/* fuzz_csv — the CSV reader: rt_data_probe, rt_data_load and
 * rt_csv_read_features on the same file; then rt_csv_inspect (the sorted
 * label names), a load with class names and chosen or dropped columns, and
 * predict's reading of a file like the training one (rt_csv_read_like).
 * Input: a flags byte, then the file. Flags: bits 0-1 header (0 detect,
 * 1 none, 2 yes), bit 2 the label column by name ("y"), else bits 4-5 its
 * index when bit 3 is set, else no labels; bit 6 classes in [0, 3). */
#include "fuzz.h"

/* The label column's distinct values: sorted, each once. */
static void check_names(const rt_source *src, int32_t ylen)
{
    rt_csv_info info;
    rt_error err;
    if (rt_csv_inspect(src, ylen > 0, &info, &err)) {
        fuzz_check_refusal(&err, src->path, NULL);
        return;
    }
    FUZZ_REQUIRE(info.rows > 0 && info.features > 0 && info.columns > info.features - 1,
                 "rows %d features %d columns %d", (int)info.rows, (int)info.features,
                 (int)info.columns);
    FUZZ_REQUIRE(ylen > 0 || info.n_names == 0, "names without labels");
    for (int k = 1; k < info.n_names; k++)
        FUZZ_REQUIRE(info.labels_numeric || strcmp(info.names[k - 1], info.names[k]) < 0,
                     "names not sorted: '%s' before '%s'", info.names[k - 1], info.names[k]);
    rt_csv_info_free(&info);
}

/* Class names a, b, c; columns chosen (bit 7) or one dropped; the same
 * source read as predict reads a file like it (bit 5: the label required). */
static void check_columns(const rt_source *src, int flags, int32_t ylen)
{
    static const char *const names[] = {"a", "b", "c"};
    static const rt_column cols[] = {{"a", 0}, {NULL, 1}, {NULL, RT_CSV_LAST}};
    rt_source s = *src;
    s.class_names = names;
    s.n_class_names = 3;
    s.classes = ylen ? 3 : 0;
    if (flags & 128)
        s.features = cols, s.n_features = 2;
    else
        s.drop = cols + 1, s.n_drop = 1;
    rt_dataset ds;
    rt_error err;
    if (rt_data_load(&s, 0, ylen, ylen ? 3 : 0, &ds, &err)) {
        fuzz_check_refusal(&err, s.path, NULL);
        FUZZ_REQUIRE(!ds.x && !ds.y, "a refused load keeps buffers");
    } else {
        fuzz_check_dataset(&ds, 0, ylen, ylen ? 3 : 0);
        FUZZ_REQUIRE(!(flags & 128) || ds.d == 2, "features { a, 1 } gave %d", (int)ds.d);
        rt_data_free(&ds);
    }
    if (rt_csv_read_like(s.path, &s, flags & 32, flags & 64 ? 2 : 0, &ds, &err)) {
        fuzz_check_refusal(&err, s.path, NULL);
    } else {
        fuzz_check_dataset(&ds, flags & 64 ? 2 : 0, 0, 0);
        rt_data_free(&ds);
    }
}

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
    check_names(&src, ylen);
    check_columns(&src, flags, ylen);
    return 0;
}
