/* test_rng.c — the runtime's RNG, SIMD helpers and files: MT19937 reference
 * outputs, draw ranges and statistics, bit-exact fused axpy, .npy round trip
 * and error messages, atomic writes. (Equality with PyTorch's initial weights
 * is tests/test_init_torch.py.) */
#include "check.h"
#include "rt.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

static void test_mt19937(void)
{
    /* mt19937ar.c / std::mt19937 default seed: first outputs, and the
     * 10000th output that the C++ standard fixes (4123659995). */
    static const uint32_t want[] = {3499211612u, 581869302u, 3890346734u, 3586334585u, 545404204u};
    rt_rng rng;
    rt_rng_seed(&rng, 5489u);
    int ok = 1;
    for (int i = 0; i < 5; i++) ok &= rt_rng_u32(&rng) == want[i];
    CHECK(ok, "mt19937 seed 5489 first outputs match the reference");
    for (int i = 5; i < 9999; i++) rt_rng_u32(&rng);
    CHECK(rt_rng_u32(&rng) == 4123659995u, "mt19937 seed 5489 10000th output is 4123659995");

    rt_rng a, b;
    rt_rng_seed(&a, 42);
    rt_rng_seed(&b, 42);
    ok = 1;
    for (int i = 0; i < 2000; i++) ok &= rt_rng_u32(&a) == rt_rng_u32(&b);
    CHECK(ok, "same seed gives the same stream");
}

static void test_uniform(void)
{
    rt_rng rng;
    rt_rng_seed(&rng, 1);
    int in24 = 1, in53 = 1, grid = 1;
    double lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        double u = rt_rng_uniform24(&rng);
        in24 &= u >= 0.0 && u < 1.0;
        grid &= u * 16777216.0 == floor(u * 16777216.0);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        double v = rt_rng_uniform53(&rng);
        in53 &= v >= 0.0 && v < 1.0;
    }
    CHECK(in24 && grid, "uniform24 lies in [0, 1) on the 2^-24 grid");
    CHECK(lo < 1e-3 && hi > 1 - 1e-3, "uniform24 covers [0, 1)");
    CHECK(in53, "uniform53 lies in [0, 1)");

    real p[1000];
    rt_init_uniform(&rng, p, 1000, -0.25, 0.5);
    int ok = 1;
    for (int i = 0; i < 1000; i++) ok &= p[i] >= (real)-0.25 && p[i] <= (real)0.5;
    CHECK(ok, "rt_init_uniform stays within [a, b]");
    rt_init_constant(p, 1000, 0.1);
    ok = 1;
    for (int i = 0; i < 1000; i++) ok &= p[i] == (real)0.1;
    CHECK(ok, "rt_init_constant fills every element");
}

static void test_below_and_shuffle(void)
{
    rt_rng rng;
    rt_rng_seed(&rng, 7);
    int ok = 1, hits[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint32_t r = rt_rng_below(&rng, 7);
        ok &= r < 7;
        if (r < 7) hits[r]++;
    }
    /* each count ~ Binomial(70000, 1/7): sd ~ 93, allow 6 sd */
    for (int k = 0; k < 7; k++) ok &= abs(hits[k] - 10000) < 560;
    CHECK(ok, "rt_rng_below(7) is in range and roughly uniform");
    CHECK(rt_rng_below(&rng, 1) == 0 && rt_rng_below(&rng, 0) == 0, "rt_rng_below(0 or 1) is 0");

    enum { N = 1000 };
    int32_t a[N], b[N], seen[N] = {0};
    for (int i = 0; i < N; i++) a[i] = b[i] = i;
    rt_rng r1, r2;
    rt_rng_seed(&r1, 3);
    rt_rng_seed(&r2, 3);
    rt_shuffle(&r1, a, N);
    rt_shuffle(&r2, b, N);
    int perm = 1, moved = 0;
    for (int i = 0; i < N; i++) {
        perm &= a[i] >= 0 && a[i] < N && !seen[a[i]];
        if (a[i] >= 0 && a[i] < N) seen[a[i]] = 1;
        moved += a[i] != i;
    }
    CHECK(perm, "shuffle is a permutation");
    CHECK(moved > N / 2, "shuffle moves most elements");
    CHECK(memcmp(a, b, sizeof a) == 0, "shuffle is deterministic for a seed");
    int32_t one = 5;
    rt_shuffle(&r1, &one, 1);
    rt_shuffle(&r1, NULL, 0);
    CHECK(one == 5, "shuffle of 0 or 1 elements is a no-op");
}

static void test_normal(void)
{
    rt_rng rng;
    rt_rng_seed(&rng, 11);
    enum { N = 100000 };
    double s = 0, ss = 0, s4 = 0;
    int finite = 1;
    for (int i = 0; i < N; i++) {
        double z = rt_rng_normal(&rng);
        finite &= isfinite(z);
        s += z;
        ss += z * z;
        s4 += z * z * z * z;
    }
    double mean = s / N, var = ss / N - mean * mean;
    /* sd of the mean 1/sqrt(N) ~ 0.0032, of the variance sqrt(2/N) ~ 0.0045:
     * allow ~5 sd; kurtosis 3 catches a non-normal shape */
    CHECK(finite, "normal draws are finite");
    CHECK(fabs(mean) < 0.016, "normal mean ~ 0 over 1e5 draws");
    CHECK(fabs(var - 1) < 0.025, "normal variance ~ 1 over 1e5 draws");
    CHECK(fabs(s4 / N - 3) < 0.15, "normal fourth moment ~ 3 over 1e5 draws");

    real p[20000];
    rt_init_normal(&rng, p, 20000, 2.0, 0.5);
    s = ss = 0;
    for (int i = 0; i < 20000; i++) s += p[i], ss += (double)p[i] * p[i];
    mean = s / 20000;
    CHECK(fabs(mean - 2) < 0.02 && fabs(sqrt(ss / 20000 - mean * mean) - 0.5) < 0.02,
          "rt_init_normal has the requested mean and std");
}

static void test_simd(void)
{
    enum { M = 1000 };
    real p[M], q[M], g[M];
    rt_rng rng;
    rt_rng_seed(&rng, 99);
    rt_init_uniform(&rng, g, M, -1, 1);
    const real alpha = (real)-0.0123456789;
    int ok = 1;
    /* n = 0..40 covers empty, tail-only, one body + every tail length */
    for (long n = 0; n <= 41; n++) {
        long len = n == 41 ? M : n;
        rt_init_uniform(&rng, p, len, -1, 1);
        memcpy(q, p, sizeof(real) * (size_t)len);
        rt_axpy_fma(p, g, alpha, len);
#ifdef TRAINC_DOUBLE
        for (long i = 0; i < len; i++) q[i] = fma(g[i], alpha, q[i]);
#else
        for (long i = 0; i < len; i++) q[i] = fmaf(g[i], alpha, q[i]);
#endif
        ok &= memcmp(p, q, sizeof(real) * (size_t)len) == 0;
    }
    CHECK(ok, "axpy_fma equals a scalar fma loop bit for bit (n = 0..40, 1000)");
    double dref = 0, sref = 0;
    for (long i = 0; i < M; i++) dref += (double)p[i] * g[i], sref += (double)g[i] * g[i];
    CHECK(fabs((double)rt_dot(p, g, M) - dref) <= 1e-5 * fabs(dref) + 1e-6,
          "rt_dot matches a double loop");
    CHECK(fabs(rt_sumsq(g, M) - sref) <= 1e-12 * sref, "rt_sumsq matches a double loop");
    ok = 1;
    for (long n = 0; n <= 20; n++) {
        double s = 0;
        for (long i = 0; i < n; i++) s += (double)g[i] * g[i];
        ok &= fabs(rt_sumsq(g, n) - s) <= 1e-12 * s;
        ok &= fabs((double)rt_dot(g, g, n) - s) <= 1e-6 * s + 1e-30;
    }
    CHECK(ok, "rt_dot and rt_sumsq handle every tail length 0..20");
    CHECK(rt_cpu_has_avx2() == 0 || rt_cpu_has_avx2() == 1, "rt_cpu_has_avx2 answers 0 or 1");
}

static int write_raw(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* A file's bytes, NUL-terminated (NULL if unreadable); free it */
static char *read_text(const char *path)
{
    long size = file_size(path);
    FILE *f = fopen(path, "rb");
    char *t = size >= 0 && f ? malloc((size_t)size + 1) : NULL;
    if (t && fread(t, 1, (size_t)size, f) == (size_t)size) {
        t[size] = 0;
    } else {
        free(t);
        t = NULL;
    }
    if (f) fclose(f);
    return t;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_files(const char *dir)
{
    char path[512], bad[512], tmp[600];
    rt_error err;
    snprintf(path, sizeof path, "%s/a.npy", dir);

    /* atomic write: content lands, no temporary file is left behind */
    const char text[] = "hello\n";
    CHECK(rt_write_atomic(path, text, 6, &err) == 0, "rt_write_atomic succeeds");
    CHECK(rt_write_atomic(path, text, 3, &err) == 0 && file_size(path) == 3,
          "rt_write_atomic replaces an existing file");
    CHECK(count_entries(dir) == 1, "rt_write_atomic leaves no temporary file behind");
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.bin", dir);
    CHECK(rt_write_atomic(bad, text, 6, &err) == -1 && contains(err.msg, bad) &&
              contains(err.msg, "No such file"),
          "rt_write_atomic reports path and strerror on failure");
    CHECK(count_entries(dir) == 1, "a failed atomic write leaves nothing behind");
    CHECK(rt_fail(NULL, "x %d", 1) == -1, "rt_fail with a NULL error returns -1");

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

/* safetensors: 8-byte length, JSON header, data; files written here by hand */
static int write_st(const char *path, const char *json, const void *data, size_t len)
{
    unsigned char buf[4096];
    size_t h = strlen(json);
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)h >> (8 * k));
    memcpy(buf + 8, json, h);
    if (len) memcpy(buf + 8 + h, data, len); /* data may be NULL when len is 0 */
    return write_raw(path, buf, 8 + h + len);
}

static void test_safetensors(const char *dir)
{
    char path[256];
    rt_error err;
    int loaded;
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    /* a weight, a bias, a scalar whose name JSON must escape, a count */
    static const rt_param_info params[] = {{"fc.weight", 0, 6, 2, {2, 3}, 1, 0, 0},
                                           {"fc.bias", 6, 2, 1, {2}, 1, 0, 0},
                                           {"t\"emp\\", 8, 1, 0, {0}, 1, 0, 0},
                                           {"bn.num_batches_tracked", 9, 1, 0, {0}, 0, 1, 1}};
    real w[10], r[10];
    for (int i = 0; i < 9; i++) w[i] = (real)(i * 0.25 - 1);
    w[9] = 16777216; /* 2^24: the largest count a float holds with all below it */
    const char *meta[] = {"format", "pt", "note", "a \"quoted\"\n value", NULL};
    CHECK(rt_safetensors_save(path, params, 4, w, meta, &err) == 0, "safetensors save succeeds");
    long size = file_size(path);
    FILE *f = fopen(path, "rb");
    unsigned char head[8] = {0};
    if (f) {
        if (fread(head, 1, 8, f) != 8) memset(head, 0, 8);
        fclose(f);
    }
    long hlen = head[0] | head[1] << 8 | head[2] << 16;
    CHECK((8 + hlen) % 8 == 0 && size == 8 + hlen + 9 * (long)sizeof(real) + 8,
          "safetensors data starts at a multiple of 8 bytes, right after the header");
    int64_t count = 0;
    char *text = read_text(path);
    char *entry =
        text ? strstr(text + 8, "\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[]")
             : NULL;
    unsigned long long begin = 0;
    if (entry && sscanf(strstr(entry, "data_offsets"), "data_offsets\":[%llu", &begin) == 1) {
        f = fopen(path, "rb");
        if (f && fseek(f, 8 + hlen + (long)begin, SEEK_SET) == 0 && fread(&count, 8, 1, f) != 1)
            count = 0;
        if (f) fclose(f);
    }
    free(text);
    CHECK(entry && count == 16777216,
          "safetensors save writes a count as I64 (torch's int64 buffer)");
    memset(r, 0, sizeof r);
    CHECK(rt_safetensors_load(path, params, 4, r, &loaded, &err) == 0 && loaded == 4 &&
              memcmp(w, r, sizeof w) == 0,
          "safetensors save -> load round trip is exact (escaped name, scalar, count, metadata)");
    int64_t i64 = 12, neg = -2;
    float f3 = 3;
    CHECK(
        write_st(
            path,
            "{\"bn.num_batches_tracked\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
            &f3, 4) == 0 &&
            rt_safetensors_load(path, params, 4, r, &loaded, &err) == 0 && r[9] == 3,
        "safetensors load: a count from F32 (exports before counts were int64)");
    CHECK(
        write_st(
            path,
            "{\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}",
            &neg, 8) == 0 &&
            rt_safetensors_load(path, params, 4, r, &loaded, &err) == -1 &&
            contains(err.msg, "element 0 is -2; a count is a whole number from 0 to 2^53"),
        "safetensors load refuses a negative count");
    CHECK(write_st(path,
                   "{\"t\\\"emp\\\\\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}",
                   &i64, 8) == 0 &&
              rt_safetensors_load(path, params, 4, r, &loaded, &err) == -1 &&
              contains(err.msg, "has dtype I64; parameters load from F32 or F64"),
          "safetensors load refuses I64 for a parameter that is not a count");

    /* what other writers may do: spacing, escapes, metadata, F64, a subset */
    double d2[2] = {0.5, -1.5};
    CHECK(write_st(path,
                   "{ \"__metadata__\" : { \"k\\u00e9\" : \"v\\n\" } ,\n"
                   "  \"\\u0066c.bias\" : {\"data_offsets\": [0, 16], \"shape\": [ 2 ], "
                   "\"dtype\": \"F64\"} }   ",
                   d2, sizeof d2) == 0 &&
              rt_safetensors_load(path, params, 3, r, &loaded, &err) == 0 && loaded == 1 &&
              r[6] == (real)0.5 && r[7] == (real)-1.5,
          "safetensors load: spaces, \\u escapes, metadata, F64, a subset of the parameters");
    CHECK(write_st(path,
                   "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                   d2, 8) == 0 &&
              rt_safetensors_load(path, params, 3, r, &loaded, &err) == -1 &&
              contains(err.msg, "'fc.bias' appears twice"),
          "safetensors load refuses a name given twice");
    CHECK(write_st(path, "{\"fc.bias\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                   d2, 8) == 0 &&
              rt_safetensors_load(path, params, 3, r, &loaded, &err) == -1 &&
              contains(err.msg, "unknown dtype 'Q7'"),
          "safetensors load refuses an unknown dtype");
    CHECK(write_st(path, "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}",
                   d2, 8) == 0 &&
              rt_safetensors_load(path, params, 3, r, &loaded, &err) == -1 &&
              contains(err.msg, path) && contains(err.msg, "malformed header entry"),
          "safetensors load refuses a negative offset");
    CHECK(write_st(path, "{}", NULL, 0) == 0 &&
              rt_safetensors_load(path, params, 3, r, &loaded, &err) == -1 &&
              contains(err.msg, "holds no tensors"),
          "safetensors load refuses a file without tensors");
    float inf[2] = {1, 1e30f};
    inf[1] *= 1e30f;
    CHECK(write_st(path, "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                   inf, 8) == 0 &&
              rt_safetensors_load(path, params, 3, r, &loaded, &err) == -1 &&
              contains(err.msg, "element 1 is not a finite"),
          "safetensors load refuses an infinite value");
    CHECK(write_st(path, "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}",
                   d2, 8) == 0 &&
              rt_safetensors_load(path, params, 3, r, &loaded, &err) == -1 &&
              contains(err.msg, "malformed safetensors header"),
          "safetensors load refuses unbalanced JSON");
    unlink(path);
}

int main(void)
{
    test_mt19937();
    test_uniform();
    test_below_and_shuffle();
    test_normal();
    test_simd();

    char dir[] = "/tmp/trainc_test_rng_XXXXXX";
    if (mkdtemp(dir)) {
        test_files(dir);
        test_safetensors(dir);
        rmdir(dir);
    } else {
        CHECK(0, "create a temporary directory");
    }
    CHECK_DONE();
}
