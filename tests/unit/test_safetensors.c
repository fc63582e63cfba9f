/* test_safetensors.c — safetensors files (rt_safetensors.c): the layout
 * written, a save -> load round trip (an escaped name, a scalar, a count,
 * metadata), counts as I64, what other writers may do, and every refusal. */
#include "files.h"
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    in_temp_dir("test_safetensors", test_safetensors);
    CHECK_DONE();
}
