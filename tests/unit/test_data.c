/* test_data.c — the data readers: real Fashion-MNIST, IDX and CSV files the
 * test writes into a temporary folder (good and each kind of bad), the
 * committed CSV fixtures in tests/data, the synthetic sources and the
 * in-memory transforms. Error messages are checked by their text. */
#include "rt.h"
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST "/usr/share/datasets/fashion-mnist/"

/* ---- scratch files: everything written goes in one mkdtemp folder ---- */

static char tmpdir[64];
static char paths[64][160];
static int npaths;

static const char *tmp_path(const char *name)
{
    char *p = paths[npaths++];
    snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
    return p;
}

static const char *write_file(const char *name, const void *buf, size_t len)
{
    const char *p = tmp_path(name);
    FILE *fp = fopen(p, "wb");
    if (!fp || fwrite(buf, 1, len, fp) != len || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(2);
    }
    return p;
}

static const char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static const char *write_gz(const char *name, const void *buf, size_t len)
{
    const char *p = tmp_path(name);
    gzFile gz = gzopen(p, "wb");
    if (!gz || gzwrite(gz, buf, (unsigned)len) != (int)len || gzclose(gz) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(2);
    }
    return p;
}

static void remove_tmp(void)
{
    for (int i = 0; i < npaths; i++) remove(paths[i]);
    rmdir(tmpdir);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX header + payload in buf; returns the total length. */
static size_t make_idx(unsigned char *buf, int type, int rank, const uint32_t *dims,
                       const void *payload, size_t plen)
{
    buf[0] = buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) put_be32(buf + 4 + 4 * i, dims[i]);
    size_t h = 4 + 4 * (size_t)rank;
    if (plen) memcpy(buf + h, payload, plen);
    return h + plen;
}

static int contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

static int load_idx(const char *images, const char *labels, int32_t d, int32_t ylen,
                    int32_t classes, rt_dataset *ds, rt_error *err)
{
    rt_source src = {0};
    src.kind = RT_SRC_IDX;
    src.images = images;
    src.labels = labels;
    return rt_data_load(&src, d, ylen, classes, ds, err);
}

static int load_csv(const char *path, int header, const char *label, int label_col, int32_t d,
                    int32_t ylen, int32_t classes, rt_dataset *ds, rt_error *err)
{
    rt_source src = {0};
    src.kind = RT_SRC_CSV;
    src.path = path;
    src.header = header;
    src.label = label;
    src.label_col = label_col;
    return rt_data_load(&src, d, ylen, classes, ds, err);
}

/* A failed load leaves nothing allocated. */
static int is_empty(const rt_dataset *ds)
{
    return ds->x == NULL && ds->y == NULL && ds->n == 0;
}

/* ---- Fashion-MNIST ---- */

static void test_fashion_mnist(void)
{
    if (access(FMNIST "t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("ok - fashion-mnist # SKIP not installed\n");
        return;
    }
    rt_error err = {{0}};
    rt_source src = {0};
    src.kind = RT_SRC_IDX;
    src.images = FMNIST "train-images-idx3-ubyte.gz";
    src.labels = FMNIST "train-labels-idx1-ubyte.gz";
    int32_t n = 0, d = 0;
    CHECK(rt_data_probe(&src, &n, &d, &err) == 0 && n == 60000 && d == 784,
          "probe of fashion-mnist train gives 60000 x 784");

    rt_dataset ds;
    int rc = load_idx(FMNIST "t10k-images-idx3-ubyte.gz", FMNIST "t10k-labels-idx1-ubyte.gz", 784,
                      1, 10, &ds, &err);
    CHECK(rc == 0 && ds.n == 10000 && ds.d == 784 && ds.ylen == 1,
          "fashion-mnist t10k loads 10000 x 784 with one label per row");
    if (rc != 0) {
        printf("# %s\n", err.msg);
        return;
    }
    CHECK(ds.y[0] == 9, "first label of fashion-mnist t10k is 9 (ankle boot)");
    int labels_ok = 1, counts[10] = {0};
    for (int i = 0; i < ds.n; i++) {
        real v = ds.y[i];
        if (v != floor(v) || v < 0 || v >= 10)
            labels_ok = 0;
        else
            counts[(int)v]++;
    }
    for (int c = 0; c < 10; c++) labels_ok &= counts[c] == 1000;
    CHECK(labels_ok, "fashion-mnist t10k has 1000 labels of each class");
    int pix_ok = 1;
    real maxv = 0;
    for (long i = 0; i < (long)ds.n * ds.d; i++) {
        real v = ds.x[i];
        if (v != floor(v) || v < 0 || v > 255) pix_ok = 0;
        if (v > maxv) maxv = v;
    }
    CHECK(pix_ok && maxv == 255, "fashion-mnist pixels are raw bytes 0..255");
    rt_data_free(&ds);
    CHECK(is_empty(&ds), "rt_data_free clears the dataset");
}

/* ---- IDX files written by the test ---- */

static unsigned char buf[4096];
static unsigned char buf2[4096];

/* 5 images of 2x3 pixels, pixel = 10 * row + column; labels 3 1 4 1 5 */
static const uint32_t img_dims[3] = {5, 2, 3};
static const uint32_t lab_dims[1] = {5};
static unsigned char pixels[30];
static const unsigned char label_bytes[5] = {3, 1, 4, 1, 5};

static void test_idx_good(void)
{
    rt_error err = {{0}};
    for (int i = 0; i < 30; i++) pixels[i] = (unsigned char)(10 * (i / 6) + i % 6);
    size_t li = make_idx(buf, 0x08, 3, img_dims, pixels, 30);
    size_t ll = make_idx(buf2, 0x08, 1, lab_dims, label_bytes, 5);
    const char *im = write_file("img.idx", buf, li), *lb = write_file("lab.idx", buf2, ll);
    const char *img = write_gz("img.idx.gz", buf, li), *lbg = write_gz("lab.idx.gz", buf2, ll);

    rt_dataset ds;
    int rc = load_idx(im, lb, 6, 1, 6, &ds, &err);
    int ok = rc == 0 && ds.n == 5 && ds.d == 6 && ds.ylen == 1;
    for (int i = 0; ok && i < 30; i++) ok = ds.x[i] == pixels[i];
    for (int i = 0; ok && i < 5; i++) ok = ds.y[i] == label_bytes[i];
    CHECK(ok, "raw IDX images and labels load with their values");
    rt_data_free(&ds);

    rc = load_idx(img, lbg, 6, 1, 6, &ds, &err);
    ok = rc == 0 && ds.n == 5 && ds.d == 6;
    for (int i = 0; ok && i < 30; i++) ok = ds.x[i] == pixels[i];
    for (int i = 0; ok && i < 5; i++) ok = ds.y[i] == label_bytes[i];
    CHECK(ok, "gzip IDX images and labels load with their values");
    rt_data_free(&ds);

    rc = load_idx(im, NULL, 0, 0, 0, &ds, &err);
    CHECK(rc == 0 && ds.n == 5 && ds.d == 6 && ds.ylen == 0 && ds.y == NULL,
          "IDX with ylen 0 needs no labels file and gives y = NULL");
    rt_data_free(&ds);

    rt_source src = {0};
    src.kind = RT_SRC_IDX;
    src.images = img;
    src.labels = lbg;
    int32_t n = 0, d = 0;
    CHECK(rt_data_probe(&src, &n, &d, &err) == 0 && n == 5 && d == 6,
          "probe of a gzip IDX gives rows and features");

    /* float32 big-endian images, rank 2 */
    const float fv[6] = {0.5f, -1.25f, 3e7f, 0, 1, 2};
    unsigned char fb[24];
    for (int i = 0; i < 6; i++) {
        uint32_t u;
        memcpy(&u, &fv[i], 4);
        put_be32(fb + 4 * i, u);
    }
    const uint32_t fdims[2] = {3, 2}, fl_dims[1] = {3};
    const unsigned char fl[3] = {0, 1, 0};
    const char *fim = write_file("f32.idx", buf, make_idx(buf, 0x0D, 2, fdims, fb, 24));
    const char *flb = write_file("f32lab.idx", buf2, make_idx(buf2, 0x08, 1, fl_dims, fl, 3));
    rc = load_idx(fim, flb, 2, 1, 2, &ds, &err);
    ok = rc == 0 && ds.n == 3 && ds.d == 2;
    for (int i = 0; ok && i < 6; i++) ok = ds.x[i] == (real)fv[i];
    CHECK(ok, "float32 IDX (type 0x0D) loads its values");
    rt_data_free(&ds);
}

static void test_idx_bad(void)
{
    rt_error err = {{0}};
    rt_dataset ds = {0};
    char want[512];
    const char *lb =
        write_file("lab5.idx", buf2, make_idx(buf2, 0x08, 1, lab_dims, label_bytes, 5));
    const char *im = write_file("img5.idx", buf, make_idx(buf, 0x08, 3, img_dims, pixels, 30));

    const char *missing = tmp_path("no-such-file.gz");
    int rc = load_idx(missing, lb, 6, 1, 10, &ds, &err);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", missing);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "missing IDX file: 'path: cannot open: No such file or directory'");

    unsigned char bad[16] = {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1};
    const char *magic = write_file("magic.idx", bad, sizeof bad);
    rc = load_idx(magic, lb, 6, 1, 10, &ds, &err);
    snprintf(want, sizeof want, "%s: not an IDX file (magic 0x12345678)", magic);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0, "wrong magic: 'not an IDX file (magic 0x...)'");

    unsigned char badtype[8] = {0, 0, 0x07, 1, 0, 0, 0, 1};
    const char *tp = write_file("type.idx", badtype, sizeof badtype);
    rc = load_idx(tp, lb, 6, 1, 10, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "not an IDX file (magic 0x00000701)"),
          "unknown IDX type byte is not an IDX file");

    const char *tiny = write_file("tiny.idx", bad, 2);
    rc = load_idx(tiny, lb, 6, 1, 10, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "not an IDX file (only 2 bytes)"),
          "two-byte file is not an IDX file");

    size_t len = make_idx(buf, 0x08, 3, img_dims, pixels, 10);
    const char *trunc = write_file("trunc.idx", buf, len);
    rc = load_idx(trunc, lb, 6, 1, 10, &ds, &err);
    snprintf(want, sizeof want, "%s: truncated: expected 30 bytes of pixels, file has 10", trunc);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "truncated raw images: 'truncated: expected 30 bytes of pixels, file has 10'");

    const char *truncgz = write_gz("trunc.idx.gz", buf, len);
    rc = load_idx(truncgz, lb, 6, 1, 10, &ds, &err);
    snprintf(want, sizeof want, "%s: truncated: expected 30 bytes of pixels, file has 10", truncgz);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "truncated gzip images: same message, counted while reading");

    /* a gzip stream cut in the middle */
    size_t full = make_idx(buf, 0x08, 3, img_dims, pixels, 30);
    const char *gz = write_gz("cut.idx.gz", buf, full);
    FILE *fp = fopen(gz, "rb");
    unsigned char gzb[512];
    size_t gzlen = fread(gzb, 1, sizeof gzb, fp);
    fclose(fp);
    const char *cut = write_file("cut2.idx.gz", gzb, gzlen - 12);
    rc = load_idx(cut, lb, 6, 1, 10, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, cut) && contains(err.msg, "truncated") && is_empty(&ds),
          "gzip stream cut short is reported as truncated");

    const char *tl =
        write_file("trunclab.idx", buf2, make_idx(buf2, 0x08, 1, lab_dims, label_bytes, 3));
    rc = load_idx(im, tl, 6, 1, 10, &ds, &err);
    snprintf(want, sizeof want, "%s: truncated: expected 5 bytes of labels, file has 3", tl);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "truncated labels: 'truncated: expected 5 bytes of labels, file has 3'");

    const uint32_t four[1] = {4};
    const char *l4 = write_file("lab4.idx", buf2, make_idx(buf2, 0x08, 1, four, label_bytes, 4));
    rc = load_idx(im, l4, 6, 1, 10, &ds, &err);
    snprintf(want, sizeof want, "%s: 4 labels, but %s has 5 images", l4, im);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0,
          "count mismatch: '4 labels, but ... has 5 images'");
    rt_source src = {0};
    src.kind = RT_SRC_IDX;
    src.images = im;
    src.labels = l4;
    int32_t n, d;
    CHECK(rt_data_probe(&src, &n, &d, &err) == -1 && strcmp(err.msg, want) == 0,
          "probe reports the count mismatch too");

    rc = load_idx(im, lb, 7, 1, 10, &ds, &err);
    snprintf(want, sizeof want, "%s: 6 features per row, the model expects 7", im);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0,
          "wrong feature count: '6 features per row, the model expects 7'");

    rc = load_idx(im, lb, 6, 1, 5, &ds, &err);
    snprintf(want, sizeof want, "%s: index 4: label 5 out of range [0, 5)", lb);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "IDX label out of range: 'index 4: label 5 out of range [0, 5)'");

    rc = load_idx(im, NULL, 6, 1, 10, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "no labels file given"), "labels wanted but none given");

    /* lying headers: no allocation happens before the checks */
    const uint32_t huge_n[3] = {0x80000000u, 28, 28};
    const char *h1 = write_file("huge1.idx", buf, make_idx(buf, 0x08, 3, huge_n, pixels, 30));
    rc = load_idx(h1, NULL, 784, 0, 0, &ds, &err);
    snprintf(want, sizeof want,
             "%s: header claims 2147483648 rows, more than the limit of 2147483647", h1);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0, "header claiming 2^31 rows is refused");

    const uint32_t big_n[3] = {0x7fffffffu, 28, 28};
    const char *h2 = write_file("huge2.idx", buf, make_idx(buf, 0x08, 3, big_n, pixels, 30));
    rc = load_idx(h2, NULL, 784, 0, 0, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, h2) && contains(err.msg, "GiB limit"),
          "header claiming 2^31-1 x 784 hits the allocation limit");
    const char *h2g = write_gz("huge2.idx.gz", buf, make_idx(buf, 0x08, 3, big_n, pixels, 30));
    rc = load_idx(h2g, NULL, 784, 0, 0, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "GiB limit"), "same for a gzip file");

    const uint32_t wide[4] = {2, 65536, 65536, 2};
    const char *h3 = write_file("huge3.idx", buf, make_idx(buf, 0x08, 4, wide, pixels, 30));
    rc = load_idx(h3, NULL, 0, 0, 0, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "values per row"),
          "per-row product overflowing is refused");

    const uint32_t mid_n[3] = {1000000, 28, 28};
    const char *h4 = write_file("huge4.idx", buf, make_idx(buf, 0x08, 3, mid_n, pixels, 30));
    rc = load_idx(h4, NULL, 784, 0, 0, &ds, &err);
    snprintf(want, sizeof want, "%s: truncated: expected 784000000 bytes of pixels, file has 30",
             h4);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "header claiming more rows than the raw file holds is truncated, before allocating");
    const char *h4g = write_gz("huge4.idx.gz", buf, make_idx(buf, 0x08, 3, mid_n, pixels, 30));
    rc = load_idx(h4g, NULL, 784, 0, 0, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "more than a") && contains(err.msg, "gzip file can hold"),
          "gzip file too small for its header is refused before allocating");
}

/* ---- CSV ---- */

static void test_csv_good(void)
{
    rt_error err = {{0}};
    rt_dataset ds;
    const char *tiny = TESTS_DIR "/data/tiny.csv";

    int rc = load_csv(tiny, -1, "species", -1, 2, 1, 3, &ds, &err);
    int ok = rc == 0 && ds.n == 4 && ds.d == 2 && ds.ylen == 1;
    if (ok) {
        ok = ds.x[0] == (real)5.1 && ds.x[1] == (real)1.4 && ds.x[6] == (real)5.8 && ds.y[0] == 0 &&
             ds.y[2] == 1 && ds.y[3] == 2;
    }
    CHECK(ok, "CSV label by name, with spaces, \\r\\n and blank trailing lines");
    rt_data_free(&ds);

    rc = load_csv(tiny, 1, NULL, 0, 2, 1, 0, &ds, &err);
    ok = rc == 0 && ds.n == 4 && ds.d == 2 && ds.x[0] == (real)1.4 && ds.x[1] == 0 &&
         ds.y[0] == (real)5.1;
    CHECK(ok, "CSV label by index (first column), explicit header, regression labels");
    rt_data_free(&ds);

    const char *nohdr = write_text("nohdr.csv", "1e-3,-2.5,1\n+4,.5E2,0\n");
    rc = load_csv(nohdr, -1, NULL, 2, 2, 1, 2, &ds, &err);
    ok = rc == 0 && ds.n == 2 && ds.x[0] == (real)1e-3 && ds.x[1] == (real)-2.5 && ds.x[2] == 4 &&
         ds.x[3] == 50 && ds.y[0] == 1 && ds.y[1] == 0;
    CHECK(ok, "CSV header auto-detect: numeric first row is data; 1e-3, -2.5, +4, .5E2 parse");
    rt_data_free(&ds);

    rc = load_csv(nohdr, -1, NULL, -1, 3, 0, 0, &ds, &err);
    CHECK(rc == 0 && ds.n == 2 && ds.d == 3 && ds.ylen == 0 && ds.y == NULL,
          "CSV with no label column and ylen 0 gives all columns as features");
    rt_data_free(&ds);

    rc = load_csv(nohdr, -1, NULL, 2, 2, 0, 0, &ds, &err);
    CHECK(rc == 0 && ds.d == 2 && ds.y == NULL, "CSV with a label column but ylen 0 drops it");
    rt_data_free(&ds);

    rt_source src = {0};
    src.kind = RT_SRC_CSV;
    src.path = tiny;
    src.header = -1;
    src.label = "species";
    int32_t n = 0, d = 0;
    CHECK(rt_data_probe(&src, &n, &d, &err) == 0 && n == 4 && d == 2,
          "probe of a CSV counts rows and features without the label");

    const char *quoted = write_text("quoted.csv", "\"a\",\"b\",\"y\"\n1,2,1\n");
    rc = load_csv(quoted, -1, "y", -1, 2, 1, 2, &ds, &err);
    CHECK(rc == 0 && ds.n == 1 && ds.y[0] == 1, "quoted header names match the label name");
    rt_data_free(&ds);

    /* 100000 columns: no fixed line buffer anywhere */
    const int wide = 100000;
    size_t cap = (size_t)wide * 8 * 3 + 64, len = 0;
    char *text = malloc(cap);
    for (int r = 0; r < 3; r++) {
        for (int j = 0; j < wide; j++)
            len += (size_t)snprintf(text + len, cap - len, j ? ",%d" : "%d", (r * 7 + j) % 1000);
        text[len++] = '\n';
    }
    text[len] = '\0';
    const char *widep = write_text("wide.csv", text);
    free(text);
    rc = rt_csv_read_features(widep, wide, &ds, &err);
    CHECK(rc == 0 && ds.n == 3 && ds.d == wide &&
              ds.x[(size_t)2 * wide + 99999] == (14 + 99999) % 1000,
          "CSV with 100000 columns per line");
    rt_data_free(&ds);

    const char *feats = write_text("feats.csv", "f1,f2,f3\n1,2,3\n4,5,6\n");
    rc = rt_csv_read_features(feats, 3, &ds, &err);
    CHECK(rc == 0 && ds.n == 2 && ds.d == 3 && ds.ylen == 0 && ds.x[5] == 6,
          "rt_csv_read_features skips a detected header");
    rt_data_free(&ds);
    rc = rt_csv_read_features(feats, 4, &ds, &err);
    char want[512];
    snprintf(want, sizeof want, "%s: 3 features per row, the model expects 4", feats);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "rt_csv_read_features: '3 features per row, the model expects 4'");
}

static void test_csv_bad(void)
{
    rt_error err = {{0}};
    rt_dataset ds = {0};
    char want[512];

    const char *p = TESTS_DIR "/data/bad_cell.csv";
    int rc = load_csv(p, -1, "label", -1, 2, 1, 2, &ds, &err);
    snprintf(want, sizeof want, "%s: line 3: column 2: 'abc' is not a number", p);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "non-numeric cell: 'line 3: column 2: 'abc' is not a number'");

    p = TESTS_DIR "/data/nan.csv";
    rc = load_csv(p, -1, NULL, -1, 2, 0, 0, &ds, &err);
    snprintf(want, sizeof want, "%s: line 2: column 2: 'nan' is not a number", p);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0, "nan is not accepted");

    const char *inf = write_text("inf.csv", "1,1e999\n");
    rc = load_csv(inf, 0, NULL, -1, 2, 0, 0, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "line 1: column 2: '1e999' is out of range"),
          "a number too large for real is out of range");

    const char *hex = write_text("hex.csv", "1,0x10\n");
    rc = load_csv(hex, 0, NULL, -1, 2, 0, 0, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "'0x10' is not a number"), "hex numbers are refused");

    const char *empty_cell = write_text("emptycell.csv", "1,2\n3,\n");
    rc = load_csv(empty_cell, 0, NULL, -1, 2, 0, 0, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "line 2: column 2: empty cell"), "empty cell is reported");

    p = TESTS_DIR "/data/ragged.csv";
    rc = load_csv(p, -1, NULL, 2, 2, 1, 2, &ds, &err);
    snprintf(want, sizeof want,
             "%s: line 3: 2 cells, expected 3 (line 2 before it has 3, no line after it)", p);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "ragged row: 'line 3: 2 cells, expected 3' and the rows around it");

    p = TESTS_DIR "/data/label_range.csv";
    rc = load_csv(p, -1, "y", -1, 1, 1, 10, &ds, &err);
    snprintf(want, sizeof want, "%s: line 4: label 10 out of range [0, 10)", p);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0 && is_empty(&ds),
          "CSV label out of range: 'line 4: label 10 out of range [0, 10)'");

    const char *frac = write_text("frac.csv", "x,y\n1,0.5\n");
    rc = load_csv(frac, -1, "y", -1, 1, 1, 2, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "line 2: label 0.5 is not an integer class in [0, 2)"),
          "non-integer class label is refused");

    const char *empty = write_text("empty.csv", "");
    rc = load_csv(empty, -1, NULL, -1, 0, 0, 0, &ds, &err);
    snprintf(want, sizeof want, "%s: no data rows", empty);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0, "empty CSV: 'no data rows'");

    const char *hdr_only = write_text("hdronly.csv", "a,b,y\n\n");
    rc = load_csv(hdr_only, -1, "y", -1, 2, 1, 2, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "no data rows"), "header-only CSV: 'no data rows'");

    rc = load_csv(TESTS_DIR "/data/tiny.csv", -1, "kind", -1, 2, 1, 3, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "no column named 'kind'"), "unknown label name");

    const char *nohdr = write_text("nohdr2.csv", "1,2,1\n");
    rc = load_csv(nohdr, -1, "y", -1, 2, 1, 2, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "needs a header row"), "label by name needs a header");

    rc = load_csv(nohdr, -1, NULL, 3, 2, 1, 2, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "label column 3 out of range: rows have 3 columns"),
          "label index past the last column");

    rc = load_csv(nohdr, -1, NULL, -1, 2, 1, 2, &ds, &err);
    CHECK(rc == -1 && contains(err.msg, "no label column given"), "labels wanted, no column");

    rc = load_csv(nohdr, -1, NULL, 2, 3, 1, 2, &ds, &err);
    snprintf(want, sizeof want, "%s: 2 features per row, the model expects 3", nohdr);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0, "CSV wrong feature count");

    const char *missing = tmp_path("missing.csv");
    rc = load_csv(missing, -1, NULL, -1, 0, 0, 0, &ds, &err);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", missing);
    CHECK(rc == -1 && strcmp(err.msg, want) == 0, "missing CSV: 'cannot open: No such file...'");
}

/* ---- synthetic sources ---- */

static int same_data(const rt_dataset *a, const rt_dataset *b)
{
    if (a->n != b->n || a->d != b->d || a->ylen != b->ylen) return 0;
    if (memcmp(a->x, b->x, (size_t)a->n * a->d * sizeof(real)) != 0) return 0;
    return a->ylen == 0 || memcmp(a->y, b->y, (size_t)a->n * a->ylen * sizeof(real)) == 0;
}

/* CSV as it comes (issue 13): quotes, detected delimiters, names */
static void test_csv_as_it_comes(void)
{
    rt_error err = {{0}};
    rt_dataset ds;
    rt_source src = {0};
    src.kind = RT_SRC_CSV;
    src.header = -1;
    src.label_col = RT_CSV_LAST;

    src.path = write_text("quoted_cells.csv", "\"a, b\";\"c \"\"q\"\"\";y\r\n\"1.5\";2;\"x;z\"\r\n3;4;w\r\n");
    rt_csv_info info;
    int rc = rt_csv_inspect(&src, 1, &info, &err);
    CHECK(rc == 0 && info.sep == ';' && info.header && info.rows == 2 && info.features == 2 &&
              info.n_names == 2 && !strcmp(info.names[0], "w") && !strcmp(info.names[1], "x;z"),
          "quoted cells hold the delimiter and doubled quotes; ';' detected; names sorted");
    if (rc == 0) rt_csv_info_free(&info);

    src.path = write_text("numeric_names.csv", "x,y\n1,10\n2,9\n3,1\n4,9.0\n");
    rc = rt_csv_inspect(&src, 1, &info, &err);
    CHECK(rc == 0 && info.labels_numeric && info.n_names == 3 && !strcmp(info.names[0], "1") &&
              !strcmp(info.names[1], "9") && !strcmp(info.names[2], "10"),
          "numeric labels are sorted by value, 9 and 9.0 once");
    if (rc == 0) rt_csv_info_free(&info);

    static const char *const neg_pos[] = {"neg", "pos"};
    src.path = write_text("index_labels.csv", "1,0\n2,1\n3,pos\n");
    src.class_names = neg_pos;
    src.n_class_names = 2;
    rc = rt_data_load(&src, 1, 1, 2, &ds, &err);
    CHECK(rc == 0 && ds.n == 3 && ds.y[0] == 0 && ds.y[1] == 1 && ds.y[2] == 1,
          "with names that are not numbers, a label 0 or 1 is the class index");
    if (rc == 0) rt_data_free(&ds);

    src.path = write_text("tab_names.csv", "5.1\t3.5\tsetosa\n4.9\t3.0\tversicolor\n");
    static const char *const iris[] = {"setosa", "versicolor"};
    src.class_names = iris;
    rc = rt_data_load(&src, 2, 1, 2, &ds, &err);
    CHECK(rc == 0 && ds.n == 2 && ds.x[2] == (real)4.9 && ds.y[1] == 1,
          "tabs detected; a first row whose label is a name is data, not a header");
    if (rc == 0) rt_data_free(&ds);

    src.path = write_text("title.csv", "title,x,y,z,w\na,b,c,d,e,f,g\n1,2,3,4,5,6,7\n1,2,3,4,5,6,7\n");
    rc = rt_data_load(&src, 0, 1, 2, &ds, &err);
    char want[512];
    snprintf(want, sizeof want,
             "%s: line 2: 7 cells, expected 5: line 1 has 5 cells, but lines 2 to 4 have 7", src.path);
    CHECK(rc == -1 && !strncmp(err.msg, want, strlen(want)) && is_empty(&ds),
          "a title line: 'line 1 has 5 cells, but lines 2 to 4 have 7'");
}

static void test_synthetic(void)
{
    rt_error err = {{0}};
    rt_dataset a, b;
    rt_source src = {0};
    int32_t n, d;

    src.kind = RT_SRC_XOR;
    src.n = 4;
    int rc = rt_data_load(&src, 2, 1, 2, &a, &err);
    const real want_x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, want_y[4] = {0, 1, 1, 0};
    CHECK(rc == 0 && a.n == 4 && memcmp(a.x, want_x, sizeof want_x) == 0 &&
              memcmp(a.y, want_y, sizeof want_y) == 0,
          "xor gives the 4 points in order");
    rt_data_free(&a);
    src.n = 0;
    CHECK(rt_data_probe(&src, &n, &d, &err) == 0 && n == 4 && d == 2,
          "xor probe with n = 0: 4 x 2");

    src.n = 40;
    src.noise = 0.1;
    src.seed = 7;
    rt_data_load(&src, 2, 1, 2, &a, &err);
    rt_data_load(&src, 2, 1, 2, &b, &err);
    int near = 1;
    for (int i = 0; i < 40; i++)
        near &= fabs(a.x[2 * i] - want_x[2 * (i % 4)]) < 0.6 && a.y[i] == want_y[i % 4];
    CHECK(same_data(&a, &b) && near && a.x[0] != 0,
          "noisy xor: same seed, same data; near the 4 points");
    rt_data_free(&a);
    rt_data_free(&b);

    src.kind = RT_SRC_SPIRALS;
    src.n = 200;
    src.noise = 0.02;
    rt_data_load(&src, 2, 1, 2, &a, &err);
    rt_data_load(&src, 2, 1, 2, &b, &err);
    int alt = 1;
    for (int i = 0; i < a.n; i++) alt &= a.y[i] == i % 2;
    CHECK(same_data(&a, &b) && alt, "spirals: deterministic, classes alternate 0/1");
    rt_data_free(&b);
    src.seed = 8;
    rt_data_load(&src, 2, 1, 2, &b, &err);
    CHECK(!same_data(&a, &b), "spirals: another seed, other data");
    /* not linearly separable: the two classes' means are both near the origin */
    double m0x = 0, m1x = 0;
    for (int i = 0; i < a.n; i++) *(i % 2 ? &m1x : &m0x) += a.x[2 * i];
    CHECK(fabs(m0x + m1x) / a.n < 0.2, "spirals are symmetric about the origin");
    rt_data_free(&a);
    rt_data_free(&b);

    rc = rt_data_load(&src, 2, 1, 1, &a, &err);
    CHECK(rc == -1 && contains(err.msg, "spirals: index 1: label 1 out of range [0, 1)") &&
              is_empty(&a),
          "synthetic labels are checked against classes");

    src.kind = RT_SRC_LINREG;
    src.n = 50;
    src.d = 5;
    src.noise = 0;
    src.seed = 1;
    src.wseed = 99;
    rc = rt_data_load(&src, 5, 1, 0, &a, &err);
    CHECK(rc == 0 && a.n == 50 && a.d == 5 && a.ylen == 1, "linreg shape is n x d with one target");
    src.seed = 2;
    rt_data_load(&src, 5, 1, 0, &b, &err);
    /* w* drawn as rt_data.c documents: d normals from a generator seeded with wseed */
    rt_rng wr;
    rt_rng_seed(&wr, 99);
    double w[5];
    for (int j = 0; j < 5; j++) w[j] = rt_rng_normal(&wr);
    int exact = 1;
    for (const rt_dataset *ds = &a; ds; ds = ds == &a ? &b : NULL)
        for (int i = 0; i < ds->n; i++) {
            double dot = 0;
            for (int j = 0; j < 5; j++) dot += (double)ds->x[i * 5 + j] * w[j];
            exact &= ds->y[i] == (real)dot;
        }
    CHECK(exact && memcmp(a.x, b.x, 5 * sizeof(real)) != 0,
          "linreg train and test (different seeds) share w* from wseed: y = X w*");
    rt_data_free(&a);
    rt_data_free(&b);

    src.noise = 0.5;
    rc = rt_data_load(&src, 5, 0, 0, &a, &err);
    CHECK(rc == 0 && a.y == NULL && a.ylen == 0, "synthetic source with ylen 0 has y = NULL");
    rt_data_free(&a);

    rc = rt_data_load(&src, 4, 1, 0, &a, &err);
    CHECK(rc == -1 && strcmp(err.msg, "linreg: 5 features per row, the model expects 4") == 0,
          "linreg wrong feature count");
}

/* ---- transforms ---- */

static void test_transforms(void)
{
    rt_error err = {{0}};
    rt_dataset ds, va;
    rt_source src = {0};
    src.kind = RT_SRC_LINREG;
    src.n = 10;
    src.d = 3;
    src.seed = 5;
    src.wseed = 6;
    rt_data_load(&src, 3, 1, 0, &ds, &err);
    real x0[30], y0[10];
    memcpy(x0, ds.x, sizeof x0);
    memcpy(y0, ds.y, sizeof y0);

    int32_t idx[3] = {7, 0, 7};
    real bx[9], by[3];
    rt_data_gather(&ds, idx, 3, bx, by);
    CHECK(memcmp(bx, x0 + 21, 3 * sizeof(real)) == 0 && memcmp(bx + 3, x0, 3 * sizeof(real)) == 0 &&
              by[0] == y0[7] && by[1] == y0[0] && by[2] == y0[7],
          "gather copies the chosen rows and labels");

    /* the old tail split as views: the first 7 rows train, the last 3 validate */
    static const int32_t last3[3] = {7, 8, 9};
    rt_dataset tr = rt_data_view(&ds, NULL, 7);
    va = rt_data_view(&ds, last3, 3);
    int32_t all3[3] = {0, 1, 2};
    real vx[9], vy[3];
    rt_data_gather(&va, all3, 3, vx, vy);
    CHECK(tr.n == 7 && va.n == 3 && va.d == 3 && va.ylen == 1 &&
              memcmp(vx, x0 + 21, 9 * sizeof(real)) == 0 &&
              memcmp(vy, y0 + 7, 3 * sizeof(real)) == 0,
          "a view gathers the rows it names, sharing the data");
    rt_data_free(&va);
    CHECK(ds.x != NULL && memcmp(ds.x, x0, sizeof x0) == 0, "freeing a view leaves its data");

    real mean[3], sd[3];
    rt_standardize_fit(&tr, mean, sd);
    double m = 0, v = 0;
    for (int i = 0; i < 7; i++) m += x0[i * 3 + 1];
    m /= 7;
    for (int i = 0; i < 7; i++) v += (x0[i * 3 + 1] - m) * (x0[i * 3 + 1] - m);
    CHECK(fabs(mean[1] - m) < 1e-6 && fabs(sd[1] - sqrt(v / 7)) < 1e-6,
          "standardize_fit: mean and population std per feature (tolerance 1e-6: float rounding)");
    rt_standardize_apply(&ds, mean, sd);
    double m2 = 0, v2 = 0;
    for (int i = 0; i < 7; i++) m2 += ds.x[i * 3 + 2];
    for (int i = 0; i < 7; i++) v2 += ds.x[i * 3 + 2] * ds.x[i * 3 + 2];
    CHECK(fabs(m2 / 7) < 1e-5 && fabs(v2 / 7 - 1) < 1e-5,
          "standardized features have mean 0, std 1");
    rt_data_free(&ds);

    rt_dataset c = {0};
    real cx[4] = {2, 5, 2, 7};
    c.n = 2;
    c.d = 2;
    c.x = cx;
    rt_standardize_fit(&c, mean, sd);
    CHECK(mean[0] == 2 && sd[0] == 1 && mean[1] == 6 && sd[1] == 1,
          "a constant feature gets std 1");
    rt_data_scale(&c, 0.5);
    CHECK(cx[0] == 1 && cx[1] == 2.5 && cx[3] == 3.5, "scale multiplies every feature");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/trainc-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_fashion_mnist();
    test_idx_good();
    test_idx_bad();
    test_csv_good();
    test_csv_bad();
    test_csv_as_it_comes();
    test_synthetic();
    test_transforms();
    remove_tmp();
    CHECK_DONE();
}
