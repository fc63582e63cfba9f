/* test_split.c — the rows a training file holds out (rt_split_rows):
 * stratified shares within a row per class, disjoint parts in file order,
 * the same draw for the same seed, the test rows independent of the
 * validation fraction, the tails of order = "tail", the refusals; and the
 * features kept as stored (rt_data_open: IDX bytes, .npy mapped or read with
 * pread) against the same files read as real (rt_data_load), row for row,
 * scaled and standardised on gathering as the in-place transforms did. */
#include "rt.h"
#include "check.h"
#include "files.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- the split ---- */

typedef struct parts {
    int32_t train[4096], valid[4096], test[4096];
    int32_t nt, nv, ne;
} parts;

static int split(const rt_split *s, const int32_t *cls, int k, int32_t n, parts *p, rt_error *err)
{
    p->ne = s->n_test, p->nv = s->n_valid, p->nt = n - s->n_test - s->n_valid;
    return rt_split_rows(s, cls, k, n, p->train, p->valid, p->test, err);
}

/* every row in exactly one part, each part increasing */
static int disjoint_sorted(const parts *p, int32_t n)
{
    static int seen[4096];
    memset(seen, 0, sizeof seen);
    const int32_t *a[3] = {p->train, p->valid, p->test};
    const int32_t m[3] = {p->nt, p->nv, p->ne};
    for (int k = 0; k < 3; k++)
        for (int32_t i = 0; i < m[k]; i++) {
            if (a[k][i] < 0 || a[k][i] >= n || seen[a[k][i]]++) return 0;
            if (i && a[k][i] <= a[k][i - 1]) return 0;
        }
    for (int32_t i = 0; i < n; i++)
        if (seen[i] != 1) return 0;
    return 1;
}

/* each class's rows in a part within one row of count * part / n */
static int proportional(const int32_t *rows, int32_t m, const int32_t *cls, int k, int32_t n)
{
    int32_t count[64] = {0}, got[64] = {0};
    for (int32_t i = 0; i < n; i++) count[cls[i]]++;
    for (int32_t i = 0; i < m; i++) got[cls[rows[i]]]++;
    for (int c = 0; c < k; c++) {
        double want = (double)count[c] * m / n;
        if (got[c] < floor(want) || got[c] > ceil(want)) return 0;
    }
    return 1;
}

static int same(const int32_t *a, const int32_t *b, int32_t m)
{
    return memcmp(a, b, sizeof(int32_t) * (size_t)m) == 0;
}

static void test_split_rows(void)
{
    static int32_t cls[4096];
    static parts p, q;
    rt_error err = {{0}};
    /* a class-sorted file: 50 rows of class 0, 30 of 1, 20 of 2 */
    for (int32_t i = 0; i < 100; i++) cls[i] = i < 50 ? 0 : i < 80 ? 1 : 2;
    rt_split s = {.n_test = 20, .n_valid = 10, .seed = 1};
    int rc = split(&s, cls, 3, 100, &p, &err);
    CHECK(rc == 0 && disjoint_sorted(&p, 100), "split: every row in one part, each in file order");
    CHECK(proportional(p.test, 20, cls, 3, 100) && proportional(p.valid, 10, cls, 3, 100),
          "split: each class gives its share of test and validation rows, within one row");
    int classes_in_valid[3] = {0};
    for (int32_t i = 0; i < p.nv; i++) classes_in_valid[cls[p.valid[i]]] = 1;
    CHECK(classes_in_valid[0] && classes_in_valid[1] && classes_in_valid[2],
          "split: a class-sorted file's validation rows hold every class");
    split(&s, cls, 3, 100, &q, &err);
    CHECK(same(p.train, q.train, 70) && same(p.valid, q.valid, 10) && same(p.test, q.test, 20),
          "split: the same seed draws the same rows");
    s.seed = 2;
    split(&s, cls, 3, 100, &q, &err);
    CHECK(!same(p.test, q.test, 20), "split: another seed draws other rows");
    s.seed = 1, s.n_valid = 0;
    split(&s, cls, 3, 100, &q, &err);
    CHECK(same(p.test, q.test, 20),
          "split: the test rows do not depend on the validation fraction");

    /* order = "tail": the last rows, test last, validation before it */
    rt_split t = {.n_test = 20, .n_valid = 10, .test_tail = 1, .valid_tail = 1, .seed = 1};
    rc = split(&t, cls, 3, 100, &p, &err);
    int tail = rc == 0;
    for (int32_t i = 0; i < 70; i++) tail &= p.train[i] == i;
    for (int32_t i = 0; i < 10; i++) tail &= p.valid[i] == 70 + i;
    for (int32_t i = 0; i < 20; i++) tail &= p.test[i] == 80 + i;
    CHECK(tail, "split: order = \"tail\" holds out the last rows (test last), unshuffled");
    t.n_test = 0;
    rc = split(&t, cls, 3, 100, &p, &err);
    tail = rc == 0;
    for (int32_t i = 0; i < 90; i++) tail &= p.train[i] == i;
    for (int32_t i = 0; i < 10; i++) tail &= p.valid[i] == 90 + i;
    CHECK(tail, "split: valid = { order = \"tail\" } alone is the old split: the last rows");
    /* a drawn test set and the validation rows from the end */
    rt_split m = {.n_test = 20, .n_valid = 10, .valid_tail = 1, .seed = 1};
    rc = split(&m, cls, 3, 100, &p, &err);
    /* the expected: from the end, the rows not drawn for testing */
    int in_test[100] = {0}, ok = rc == 0 && disjoint_sorted(&p, 100);
    for (int32_t j = 0; j < 20; j++) in_test[p.test[j]] = 1;
    int32_t want[10], k = 10;
    for (int32_t i = 99; i >= 0 && k > 0; i--)
        if (!in_test[i]) want[--k] = i;
    ok = ok && same(p.valid, want, 10) && proportional(p.test, 20, cls, 3, 100);
    CHECK(ok, "split: a drawn test set, then the last rows that are left for validation");

    /* without classes (regression): one group */
    s = (rt_split){.n_test = 7, .n_valid = 13, .seed = 3};
    rc = split(&s, NULL, 0, 100, &p, &err);
    int moved = 0;
    for (int32_t i = 0; i < 13; i++) moved |= p.valid[i] != 87 + i;
    CHECK(rc == 0 && disjoint_sorted(&p, 100) && moved, "split: unstratified, a draw of all rows");

    /* many random files: shares within a row, disjoint parts */
    rt_rng g;
    rt_rng_seed(&g, 7);
    int good = 1, cases = 0;
    for (int it = 0; it < 300; it++) {
        int32_t n = 20 + (int32_t)rt_rng_below(&g, 2000);
        int k = 2 + (int)rt_rng_below(&g, 10);
        for (int32_t i = 0; i < n; i++) cls[i] = (int32_t)rt_rng_below(&g, (uint32_t)k);
        s = (rt_split){.n_test = (int32_t)rt_rng_below(&g, (uint32_t)n / 3),
                       .n_valid = (int32_t)rt_rng_below(&g, (uint32_t)n / 3),
                       .seed = rt_rng_u32(&g)};
        if (split(&s, cls, k, n, &p, &err)) continue; /* a class too small: refused */
        cases++;
        good &= disjoint_sorted(&p, n) && proportional(p.test, p.ne, cls, k, n) &&
                proportional(p.valid, p.nv, cls, k, n);
    }
    char name[128];
    snprintf(name, sizeof name, "split: %d random files: shares within a row, disjoint parts",
             cases);
    CHECK(good && cases > 250, name);

    /* refusals */
    for (int32_t i = 0; i < 10; i++) cls[i] = i < 9 ? 0 : 1;
    s = (rt_split){.n_test = 3, .n_valid = 2, .seed = 1};
    cls[8] = 1; /* class 1: rows 8 and 9 */
    rc = split(&s, cls, 2, 10, &p, &err);
    CHECK(rc == 0, "split: a class of 2 rows keeps one to train on");
    s = (rt_split){.n_test = 4, .n_valid = 4, .seed = 1};
    rc = split(&s, cls, 2, 10, &p, &err);
    CHECK(rc == -1 && strcmp(err.msg, "class 1: 2 rows are too few to hold out 1 for testing and 1 "
                                      "for validation and keep one to train on") == 0,
          "split: a class left without training rows is refused, saying which");
    s = (rt_split){.n_test = 5, .n_valid = 5, .seed = 1};
    rc = split(&s, cls, 2, 10, &p, &err);
    CHECK(rc == -1 && contains(err.msg, "cannot hold out 5 test and 5 validation rows of 10 rows"),
          "split: holding out every row is refused");
}

/* ---- features as stored, against the same files read as real ---- */

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char p[8][160];
    static int i;
    char *s = p[i++ % 8];
    snprintf(s, sizeof p[0], "%s/%s", tmpdir, name);
    return s;
}

/* a .npy file of rows x cols elements of descr, data given in that layout */
static const char *npy(const char *name, const char *descr, int rows, int cols, const void *data,
                       size_t esize)
{
    char head[128];
    int len =
        snprintf(head + 10, sizeof head - 10,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }", descr, rows, cols);
    size_t total = 10 + (size_t)len + 1, padded = (total + 63) / 64 * 64;
    memset(head + 10 + len, ' ', padded - total);
    head[padded - 1] = '\n';
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (char)(padded - 10), head[9] = 0;
    const char *path = tmp(name);
    FILE *f = fopen(path, "wb");
    fwrite(head, 1, padded, f);
    fwrite(data, esize, (size_t)rows * (size_t)cols, f);
    fclose(f);
    return path;
}

/* every row of a (stored) and b (real) gathered alike */
static int same_rows(const rt_dataset *a, const rt_dataset *b)
{
    if (a->n != b->n || a->d != b->d || a->ylen != b->ylen) return 0;
    real ra[64], rb[64], ya[4] = {0}, yb[4] = {0};
    for (int32_t i = 0; i < a->n; i++) {
        rt_data_gather(a, &i, 1, ra, a->ylen ? ya : NULL);
        rt_data_gather(b, &i, 1, rb, b->ylen ? yb : NULL);
        if (memcmp(ra, rb, sizeof(real) * (size_t)a->d) || memcmp(ya, yb, sizeof ya)) return 0;
    }
    return 1;
}

static void test_stored(void)
{
    rt_error err = {{0}};
    /* 12 rows of 5 pixels and labels in [0, 3) */
    unsigned char px[60];
    float fx[60];
    double dx[60];
    int16_t bx[60];
    int64_t lab[12];
    for (int i = 0; i < 60; i++) {
        px[i] = (unsigned char)(i * 37 % 256);
        fx[i] = px[i] * 0.25f - 3;
        dx[i] = px[i] / 7.0;
        bx[i] = (int16_t)(((px[i] * 97) & 0xff) << 8 | (px[i] * 97) >> 8); /* byte-swapped */
    }
    for (int i = 0; i < 12; i++) lab[i] = i % 3;
    const char *y = npy("y.npy", "<i8", 12, 1, lab, 8);
    struct {
        const char *name, *descr;
        const void *data;
        size_t esize;
    } kinds[] = {{"u1.npy", "|u1", px, 1},
                 {"f4.npy", "<f4", fx, 4},
                 {"f8.npy", "<f8", dx, 8},
                 {"i2.npy", ">i2", bx, 2}};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        rt_source src = {.kind = RT_SRC_NPY, .labels = y};
        src.images = npy(kinds[k].name, kinds[k].descr, 12, 5, kinds[k].data, kinds[k].esize);
        rt_dataset a, b;
        int rc = rt_data_open(&src, 5, 1, 3, &a, &err) || rt_data_load(&src, 5, 1, 3, &b, &err);
        char name[128];
        snprintf(name, sizeof name,
                 "stored: %s .npy is mapped, not read, and gives the rows read as real",
                 kinds[k].descr);
        CHECK(rc == 0 && !a.x && a.xs.map && same_rows(&a, &b), name);
        /* the same rows read with pread, as when the address space has no room */
        rt_dataset c = a;
        rt_store_map(&c.xs, src.images, a.xs.p - (const unsigned char *)a.xs.map, 12, 5, a.xs.kind,
                     a.xs.esize, a.xs.swap, 0, &err);
        snprintf(name, sizeof name, "stored: %s .npy read with pread gives the same rows",
                 kinds[k].descr);
        CHECK(!c.xs.p && same_rows(&c, &b) && !rt_data_read_error(&c), name);
        /* a view of rows, scaled and standardised on gathering, against the
         * old in-place transforms of the real copy */
        static const int32_t rows[4] = {1, 4, 7, 10};
        rt_dataset v = rt_data_view(&a, rows, 4);
        real mean[5], sd[5], mean_b[5], sd_b[5];
        rt_data_prepare(&v, 1.0 / 255, NULL, NULL);
        rt_standardize_fit(&v, mean, sd);
        rt_data_prepare(&v, 1.0 / 255, mean, sd);
        rt_dataset w;
        rt_data_alloc(&w, 4, 5, 1, "copy", &err);
        for (int i = 0; i < 4; i++) {
            memcpy(w.x + i * 5, b.x + rows[i] * 5, 5 * sizeof(real));
            w.y[i] = b.y[rows[i]];
        }
        rt_data_scale(&w, 1.0 / 255);
        rt_standardize_fit(&w, mean_b, sd_b);
        rt_standardize_apply(&w, mean_b, sd_b);
        snprintf(name, sizeof name,
                 "stored: %s view, scaled and standardised when gathered, equals the in-place "
                 "transforms bit for bit",
                 kinds[k].descr);
        CHECK(!memcmp(mean, mean_b, sizeof mean) && !memcmp(sd, sd_b, sizeof sd) &&
                  same_rows(&v, &w),
              name);
        rt_data_free(&v);
        rt_data_free(&w);
        rt_store_free(&c.xs);
        rt_data_free(&a);
        rt_data_free(&b);
    }
    /* a NaN: the same message as reading */
    float bad[60];
    memcpy(bad, fx, sizeof bad);
    bad[17] = NAN;
    rt_source src = {
        .kind = RT_SRC_NPY, .labels = y, .images = npy("nan.npy", "<f4", 12, 5, bad, 4)};
    rt_dataset a, b;
    char msg_a[1024], msg_b[1024];
    int ra = rt_data_open(&src, 5, 1, 3, &a, &err);
    snprintf(msg_a, sizeof msg_a, "%s", err.msg);
    int rb = rt_data_load(&src, 5, 1, 3, &b, &err);
    snprintf(msg_b, sizeof msg_b, "%s", err.msg);
    CHECK(ra == -1 && rb == -1 && !strcmp(msg_a, msg_b) && contains(msg_a, "row 3: a value is not"),
          "stored: a value that is no finite real is refused as reading refuses it");

    /* IDX bytes, raw and gzip: kept as bytes */
    unsigned char idx[16 + 60], lb[8 + 12];
    memcpy(idx, "\0\0\x08\x03\0\0\0\x0c\0\0\0\x05\0\0\0\x01", 16);
    memcpy(idx + 16, px, 60);
    memcpy(lb, "\0\0\x08\x01\0\0\0\x0c", 8);
    for (int i = 0; i < 12; i++) lb[8 + i] = (unsigned char)(i % 3);
    const char *ip = tmp("im.idx"), *lp = tmp("lb.idx"), *gp = tmp("im.idx.gz");
    write_raw(ip, idx, sizeof idx);
    write_raw(lp, lb, sizeof lb);
    gzFile gz = gzopen(gp, "wb");
    gzwrite(gz, idx, sizeof idx);
    gzclose(gz);
    for (int g = 0; g < 2; g++) {
        rt_source is = {.kind = RT_SRC_IDX, .images = g ? gp : ip, .labels = lp};
        int rc = rt_data_open(&is, 5, 1, 3, &a, &err) || rt_data_load(&is, 5, 1, 3, &b, &err);
        CHECK(rc == 0 && !a.x && a.xs.kind == 'u' && a.xs.esize == 1 && same_rows(&a, &b),
              g ? "stored: gzip IDX bytes stay bytes and give the rows read as real"
                : "stored: IDX bytes stay bytes and give the rows read as real");
        rt_data_free(&a);
        rt_data_free(&b);
    }
    real *labels = NULL;
    int32_t n = 0;
    rt_source is = {.kind = RT_SRC_IDX, .images = ip, .labels = lp};
    int rc = rt_data_load_labels(&is, 1, 3, &labels, &n, &err);
    CHECK(rc == 0 && n == 12 && labels[4] == 1 && labels[11] == 2, "labels alone of an IDX source");
    free(labels);
    is.classes = 2;
    rc = rt_data_load_labels(&is, 1, 2, &labels, &n, &err);
    CHECK(rc == -1 && contains(err.msg, "label 2 out of range [0, 2)") && !labels,
          "labels alone are checked as loading checks them");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/trainc-test-split-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_split_rows();
    test_stored();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) return 2;
    CHECK_DONE();
}
