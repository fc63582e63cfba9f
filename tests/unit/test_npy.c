/* test_npy.c — NumPy .npy files (rt_npy.c): round trips of every rank,
 * counts as int64, the other float width, and the messages that name the
 * file for a bad magic, Fortran order, a wrong dtype, a truncation. */
#include "files.h"
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_npy(const char *dir)
{
    char path[512], bad[512], tmp[600];
    rt_error err;
    snprintf(path, sizeof path, "%s/a.npy", dir);

    /* npy round trip, rank 2 */
    real w[12], r[12];
    for (int i = 0; i < 12; i++) w[i] = (real)(i * 0.1 - 0.55);
    int64_t dims[2] = {3, 4};
    CHECK(rt_npy_write(path, w, 2, dims, &err) == 0, "npy write succeeds");
    long hsize = file_size(path) - 12 * (long)sizeof(real);
    CHECK(hsize > 0 && hsize % 64 == 0, "npy data starts at a multiple of 64 bytes");
    CHECK(rt_npy_read(path, r, 12, &err) == 0 && memcmp(w, r, sizeof w) == 0,
          "npy write -> read round trip is exact");
    CHECK(rt_npy_read(path, r, 11, &err) == -1 && contains(err.msg, path) &&
              contains(err.msg, "12 elements, expected 11"),
          "npy read rejects an element count mismatch");
    int64_t d1 = 12;
    CHECK(rt_npy_write(path, w, 1, &d1, &err) == 0 && rt_npy_read(path, r, 12, &err) == 0 &&
              memcmp(w, r, sizeof w) == 0,
          "npy round trip for rank 1");
    CHECK(rt_npy_write(path, w, 0, NULL, &err) == 0 && rt_npy_read(path, r, 1, &err) == 0 &&
              r[0] == w[0],
          "npy round trip for rank 0");

    /* counts: int64 on disk, whole numbers >= 0 */
    real cnt = 123456, back = -1;
    char *npy_text = NULL;
    CHECK(rt_npy_write_int64(path, &cnt, 0, NULL, &err) == 0 && (npy_text = read_text(path)) &&
              strstr(npy_text + 10, "'descr': '<i8'") && file_size(path) % 64 == 8,
          "npy count written as '<i8' (torch's int64 buffer)");
    free(npy_text);
    CHECK(rt_npy_read_shaped(path, &back, 0, NULL, 1, &err) == 0 && back == cnt,
          "npy count round trip is exact");
    CHECK(rt_npy_read_shaped(path, &back, 0, NULL, 0, &err) == -1 &&
              contains(err.msg, "unsupported dtype '<i8'"),
          "an integer .npy is refused for a parameter that is not a count");
    cnt = (real)2.5;
    CHECK(rt_npy_write(path, &cnt, 0, NULL, &err) == 0 &&
              rt_npy_read_shaped(path, &back, 0, NULL, 1, &err) == -1 && contains(err.msg, path) &&
              contains(err.msg, "element 0 is 2.5; a count is a whole"),
          "a count that is not a whole number is refused, naming the file");

    /* the other float width converts */
    {
        char hdr[128];
        memset(hdr, ' ', 128);
        memcpy(hdr, "\x93NUMPY\x01\x00\x76\x00", 10);
#ifdef TRAINC_DOUBLE
        const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        float other[3] = {1.5f, -2.25f, 0.1f};
#else
        const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
        double other[3] = {1.5, -2.25, 0.1};
#endif
        memcpy(hdr + 10, dict, strlen(dict));
        hdr[127] = '\n';
        unsigned char buf[128 + sizeof other];
        memcpy(buf, hdr, 128);
        memcpy(buf + 128, other, sizeof other);
        CHECK(write_raw(path, buf, sizeof buf) == 0 && rt_npy_read(path, r, 3, &err) == 0 &&
                  r[0] == (real)1.5 && r[1] == (real)-2.25 && r[2] == (real)other[2],
              "npy read converts the other float width");

        const char *fdict = "{'descr': '<f8', 'fortran_order': True,  'shape': (3,), }";
        memcpy(buf + 10, fdict, strlen(fdict));
        CHECK(write_raw(path, buf, sizeof buf) == 0 && rt_npy_read(path, r, 3, &err) == -1 &&
                  contains(err.msg, path) && contains(err.msg, "Fortran"),
              "npy read rejects Fortran order");
        const char *idict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
        memcpy(buf + 10, idict, strlen(idict));
        CHECK(write_raw(path, buf, sizeof buf) == 0 && rt_npy_read(path, r, 3, &err) == -1 &&
                  contains(err.msg, path) && contains(err.msg, "unsupported dtype '<i4'"),
              "npy read rejects an unsupported dtype");
    }

    /* bad magic and truncation name the file */
    CHECK(rt_npy_write(path, w, 2, dims, &err) == 0, "npy write again");
    FILE *f = fopen(path, "rb");
    unsigned char whole[512];
    size_t got = f ? fread(whole, 1, sizeof whole, f) : 0;
    if (f) fclose(f);
    CHECK(got == (size_t)hsize + sizeof w, "read the npy file back raw");
    snprintf(tmp, sizeof tmp, "%s/bad.npy", dir);
    unsigned char copy[sizeof whole];
    memcpy(copy, whole, got);
    copy[1] = 'X';
    CHECK(write_raw(tmp, copy, got) == 0 && rt_npy_read(tmp, r, 12, &err) == -1 &&
              contains(err.msg, tmp) && contains(err.msg, "bad magic"),
          "npy read rejects a bad magic, naming the file");
    CHECK(write_raw(tmp, whole, got - 5) == 0 && rt_npy_read(tmp, r, 12, &err) == -1 &&
              contains(err.msg, tmp) && contains(err.msg, "truncated"),
          "npy read rejects truncated data, naming the file");
    CHECK(write_raw(tmp, whole, 40) == 0 && rt_npy_read(tmp, r, 12, &err) == -1 &&
              contains(err.msg, tmp) && contains(err.msg, "truncated .npy header"),
          "npy read rejects a truncated header, naming the file");
    snprintf(bad, sizeof bad, "%s/missing.npy", dir);
    CHECK(rt_npy_read(bad, r, 12, &err) == -1 && contains(err.msg, bad) &&
              contains(err.msg, "No such file"),
          "npy read of a missing file names it");
    unlink(tmp);
    unlink(path);
}

int main(void)
{
    in_temp_dir("test_npy", test_npy);
    CHECK_DONE();
}
