/* fuzz_idx — the IDX reader (rt_data_probe, rt_data_load, rt_data_open) on raw files, and
 * gzip files when the input is one (gzdopen reads both). With FUZZ_GZIP the
 * target gzips each file first, so the mutations reach the decompressed
 * header and payload (fuzz_idx_gz).
 * Input: a flags byte, the images file, then optionally "LBLS" and the
 * labels file. Flags: bit 0 checks classes in [0, 10), bit 1 loads with the
 * probed feature count as the expected one (else 0: any). */
#include <zlib.h>

#include "fuzz.h"

#ifdef FUZZ_GZIP
static const char *gz_file(int slot, const uint8_t *data, size_t size)
{
    static uint8_t out[1 << 20];
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = sizeof out;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort(); /* -max_len keeps inputs small */
    size_t len = sizeof out - z.avail_out;
    deflateEnd(&z);
    return fuzz_file(slot, out, len);
}
#define FILE_OF gz_file
#else
#define FILE_OF fuzz_file
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int flags = data[0];
    data++, size--;
    const uint8_t *mark = memmem(data, size, "LBLS", 4);
    size_t im_len = mark ? (size_t)(mark - data) : size;
    rt_source src;
    memset(&src, 0, sizeof src);
    src.kind = RT_SRC_IDX;
    src.images = FILE_OF(0, data, im_len);
    if (mark) src.labels = FILE_OF(1, mark + 4, size - im_len - 4);
    int32_t classes = flags & 1 ? 10 : 0, ylen = mark ? 1 : 0;
    src.classes = classes;

    rt_error err;
    int32_t n = -1, d = -1;
    if (rt_data_probe(&src, &n, &d, &err)) {
        fuzz_check_refusal(&err, src.images, src.labels);
    } else {
        FUZZ_REQUIRE(n > 0 && d > 0, "probe: n %d d %d", (int)n, (int)d);
    }
    int32_t d_expected = flags & 2 && d > 0 ? d : 0;
    rt_dataset ds;
    int rc = rt_data_load(&src, d_expected, ylen, classes, &ds, &err);
    if (rc) {
        fuzz_check_refusal(&err, src.images, src.labels);
        FUZZ_REQUIRE(!ds.x && !ds.y, "a refused load keeps buffers");
    } else {
        FUZZ_REQUIRE(n == ds.n && d == ds.d, "probe %d x %d, load %d x %d", (int)n, (int)d,
                     (int)ds.n, (int)ds.d);
        fuzz_check_dataset(&ds, d_expected, ylen, classes);
    }
    fuzz_check_stored(&src, d_expected, ylen, classes, &ds, rc);
    if (!rc) rt_data_free(&ds);
    return 0;
}
