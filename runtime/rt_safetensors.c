/* rt_safetensors.c — safetensors files of parameters: writing them sorted
 * by name, atomically, and reading them back through a JSON parser for
 * exactly what a safetensors header holds, every tensor checked against the
 * model before any is read. */
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* safetensors (the format of Hugging Face's safetensors library): an 8-byte
 * little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v"}, "fc1.bias": {"dtype": "F32", "shape": [256],
 *    "data_offsets": [begin, end]}, ...}
 * then the tensors' bytes, little-endian, C order; offsets count from the end
 * of the header. We write the tensors sorted by name, contiguous, the header
 * padded with spaces so the data starts at a multiple of 8 bytes. */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n >= 0) sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_json_string(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            sb_printf(b, "\\u%04x", c);
        else
            sb_add(b, s, 1);
    }
    sb_add(b, "\"", 1);
}

/* orders pointers to parameters by name */
static int by_name(const void *a, const void *b)
{
    return strcmp((*(const rt_param_info *const *)a)->name,
                  (*(const rt_param_info *const *)b)->name);
}

int rt_safetensors_save(const char *path, const rt_param_info *params, int n, const real *buf,
                        const char *const *meta, rt_error *err)
{
    const rt_param_info **order = malloc(sizeof *order * (size_t)(n > 0 ? n : 1));
    rt_part *parts = malloc(sizeof(rt_part) * (size_t)(n + 2));
    void *copy = NULL;
    sbuf h = {0};
    int rc = -1;
    if (!order || !parts) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n; i++) order[i] = &params[i];
    qsort(order, (size_t)n, sizeof *order, by_name);

    sb_add(&h, "{", 1);
    if (meta && meta[0]) {
        sb_add(&h, "\"__metadata__\":{", 16);
        for (int k = 0; meta[k] && meta[k + 1]; k += 2) {
            if (k) sb_add(&h, ",", 1);
            sb_json_string(&h, meta[k]);
            sb_add(&h, ":", 1);
            sb_json_string(&h, meta[k + 1]);
        }
        sb_add(&h, "}", 1);
    }
    uint64_t offset = 0;
    for (int j = 0; j < n; j++) {
        const rt_param_info *p = order[j];
        if (j || (meta && meta[0])) sb_add(&h, ",", 1);
        sb_json_string(&h, p->name);
        sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[",
                  p->count            ? "I64"
                  : sizeof(real) == 4 ? "F32"
                                      : "F64");
        for (int k = 0; k < p->rank; k++) sb_printf(&h, "%s%d", k ? "," : "", p->dim[k]);
        uint64_t bytes = (uint64_t)p->numel * (p->count ? 8 : sizeof(real));
        sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                  (unsigned long long)(offset + bytes));
        offset += bytes;
    }
    sb_add(&h, "}", 1);
    while (!h.oom && h.len % 8) sb_add(&h, " ", 1);
    if (h.oom) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)h.len >> (8 * k));
    parts[0] = (rt_part){len8, 8};
    parts[1] = (rt_part){h.p, h.len};
    /* the tensors in place, but for those that need converting (counts to
     * int64) or swapping (a big-endian host), which go through copy */
    int swap = !rt_host_little_endian();
    size_t need = 0;
    for (int j = 0; j < n; j++)
        if (order[j]->count || swap) need += (size_t)order[j]->numel * 8;
    if (!(copy = malloc(need + 1))) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    size_t at = 0;
    for (int j = 0; j < n; j++) {
        const rt_param_info *p = order[j];
        size_t esize = p->count ? 8 : sizeof(real), bytes = (size_t)p->numel * esize;
        if (!p->count && !swap) {
            parts[2 + j] = (rt_part){buf + p->offset, bytes};
            continue;
        }
        char *dst = (char *)copy + at;
        if (p->count)
            for (long i = 0; i < p->numel; i++) {
                int64_t v = rt_count_value(buf[p->offset + i]);
                memcpy(dst + 8 * (size_t)i, &v, 8);
            }
        else
            memcpy(dst, buf + p->offset, bytes);
        if (swap) rt_swap_bytes(dst, (size_t)p->numel, esize);
        parts[2 + j] = (rt_part){dst, bytes};
        at += bytes;
    }
    rc = rt_write_atomic_parts(path, parts, n + 2, err);
done:
    free(order);
    free(parts);
    free(copy);
    free(h.p);
    return rc;
}

/* ---- reading: a JSON parser for exactly what a safetensors header holds ---- */

typedef struct st_tensor {
    char name[256];
    char dtype[8];
    int rank;
    int64_t dims[8];
    uint64_t begin, end;
} st_tensor;

typedef struct jp {
    const char *s, *e;
} jp;

static void jp_ws(jp *j)
{
    while (j->s < j->e && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')) j->s++;
}

static int jp_lit(jp *j, char c)
{
    jp_ws(j);
    if (j->s < j->e && *j->s == c) {
        j->s++;
        return 1;
    }
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A string into out (UTF-8, escapes decoded); -1 when malformed or longer
 * than cap - 1 bytes. out may be NULL to skip. */
static int jp_string(jp *j, char *out, size_t cap)
{
    if (!jp_lit(j, '"')) return -1;
    size_t n = 0;
    while (j->s < j->e && *j->s != '"') {
        unsigned c = (unsigned char)*j->s++;
        char enc[4];
        size_t len = 1;
        enc[0] = (char)c;
        if (c < 0x20) return -1;
        if (c == '\\') {
            if (j->s >= j->e) return -1;
            char e = *j->s++;
            static const char escapes[] = "\"\\/bfnrtu", map[] = "\"\\/\b\f\n\r\t";
            const char *which = strchr(escapes, e);
            if (!which || !e) return -1;
            if (e != 'u') {
                enc[0] = map[which - escapes];
            } else {
                if (j->e - j->s < 4) return -1;
                unsigned u = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(*j->s++);
                    if (h < 0) return -1;
                    u = u << 4 | (unsigned)h;
                }
                /* surrogates would need a pair; names never have them */
                if (u >= 0xD800 && u < 0xE000) return -1;
                if (u < 0x80) {
                    enc[0] = (char)u;
                } else if (u < 0x800) {
                    enc[0] = (char)(0xC0 | u >> 6);
                    enc[1] = (char)(0x80 | (u & 0x3F));
                    len = 2;
                } else {
                    enc[0] = (char)(0xE0 | u >> 12);
                    enc[1] = (char)(0x80 | (u >> 6 & 0x3F));
                    enc[2] = (char)(0x80 | (u & 0x3F));
                    len = 3;
                }
            }
        }
        if (out) {
            if (n + len >= cap) return -1;
            memcpy(out + n, enc, len);
        }
        n += len;
    }
    if (j->s >= j->e) return -1;
    j->s++;
    if (out) out[n] = '\0';
    return 0;
}

static int jp_uint(jp *j, uint64_t *v)
{
    jp_ws(j);
    if (j->s >= j->e || *j->s < '0' || *j->s > '9') return -1;
    uint64_t x = 0;
    while (j->s < j->e && *j->s >= '0' && *j->s <= '9') {
        unsigned d = (unsigned)(*j->s++ - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* [u, u, ...] into v[0..max); the count in *count */
static int jp_uints(jp *j, uint64_t *v, int max, int *count)
{
    *count = 0;
    if (!jp_lit(j, '[')) return -1;
    if (jp_lit(j, ']')) return 0;
    do {
        if (*count == max || jp_uint(j, &v[*count])) return -1;
        (*count)++;
    } while (jp_lit(j, ','));
    return jp_lit(j, ']') ? 0 : -1;
}

/* __metadata__: an object of string values */
static int jp_metadata(jp *j)
{
    if (!jp_lit(j, '{')) return -1;
    if (jp_lit(j, '}')) return 0;
    do {
        if (jp_string(j, NULL, 0) || !jp_lit(j, ':') || jp_string(j, NULL, 0)) return -1;
    } while (jp_lit(j, ','));
    return jp_lit(j, '}') ? 0 : -1;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]} */
static int jp_tensor(jp *j, st_tensor *t)
{
    int have = 0;
    if (!jp_lit(j, '{')) return -1;
    if (jp_lit(j, '}')) return -1;
    do {
        char key[16];
        jp_ws(j);
        if (jp_string(j, key, sizeof key) || !jp_lit(j, ':')) return -1;
        jp_ws(j);
        uint64_t v[8];
        int count;
        if (!strcmp(key, "dtype") && !(have & 1)) {
            if (jp_string(j, t->dtype, sizeof t->dtype)) return -1;
            have |= 1;
        } else if (!strcmp(key, "shape") && !(have & 2)) {
            if (jp_uints(j, v, 8, &count)) return -1;
            t->rank = count;
            for (int k = 0; k < count; k++) {
                if (v[k] > INT32_MAX) return -1;
                t->dims[k] = (int64_t)v[k];
            }
            have |= 2;
        } else if (!strcmp(key, "data_offsets") && !(have & 4)) {
            if (jp_uints(j, v, 2, &count) || count != 2) return -1;
            t->begin = v[0];
            t->end = v[1];
            have |= 4;
        } else {
            return -1;
        }
    } while (jp_lit(j, ','));
    return jp_lit(j, '}') && have == 7 ? 0 : -1;
}

static int dtype_size(const char *dtype)
{
    static const struct {
        const char *name;
        int size;
    } known[] = {{"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
                 {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
                 {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (!strcmp(dtype, known[k].name)) return known[k].size;
    return 0;
}

/* Parses the header text into *out (malloc'd, *count entries). */
static int st_parse(const char *path, const char *text, size_t len, st_tensor **out, int *count,
                    rt_error *err)
{
    jp j = {text, text + len};
    st_tensor *ts = NULL;
    int n = 0, cap = 0, meta = 0;
    *out = NULL;
    *count = 0;
    if (!jp_lit(&j, '{')) goto malformed;
    if (!jp_lit(&j, '}')) {
        do {
            char name[256];
            jp_ws(&j);
            if (jp_string(&j, name, sizeof name) || !jp_lit(&j, ':')) goto malformed;
            if (!strcmp(name, "__metadata__")) {
                if (meta++ || jp_metadata(&j)) goto malformed;
                continue;
            }
            for (int k = 0; k < n; k++)
                if (!strcmp(ts[k].name, name)) {
                    free(ts);
                    return rt_fail(err, "%s: tensor '%s' appears twice in the header", path, name);
                }
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                st_tensor *nt = realloc(ts, sizeof *ts * (size_t)cap);
                if (!nt) {
                    free(ts);
                    return rt_fail(err, "%s: out of memory", path);
                }
                ts = nt;
            }
            memset(&ts[n], 0, sizeof ts[n]);
            memcpy(ts[n].name, name, sizeof name);
            if (jp_tensor(&j, &ts[n])) {
                free(ts);
                return rt_fail(err,
                               "%s: malformed header entry for tensor '%s' (want dtype, shape "
                               "and data_offsets)",
                               path, name);
            }
            n++;
        } while (jp_lit(&j, ','));
        if (!jp_lit(&j, '}')) goto malformed;
    }
    jp_ws(&j);
    if (j.s != j.e) goto malformed;
    *out = ts;
    *count = n;
    return 0;
malformed:
    free(ts);
    return rt_fail(err, "%s: malformed safetensors header (JSON) near byte %ld", path,
                   8 + (long)(j.s - text));
}

static void shape_text(char *buf, size_t size, int rank, const int64_t *dims)
{
    int k = snprintf(buf, size, "[");
    for (int i = 0; i < rank && k < (int)size; i++)
        k += snprintf(buf + k, size - (size_t)k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (k < (int)size) snprintf(buf + k, size - (size_t)k, "]");
}

/* The JSON header of an open safetensors file, NUL-terminated; *hlen its
 * length, *size the file's. */
static char *read_header(FILE *f, const char *path, uint64_t *hlen, uint64_t *size, rt_error *err)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rt_fail(err, "%s: not a regular file", path);
        return NULL;
    }
    unsigned char len8[8];
    if (fread(len8, 1, 8, f) != 8) {
        rt_fail(err, "%s: not a safetensors file (only %lld bytes)", path, (long long)st.st_size);
        return NULL;
    }
    *hlen = 0;
    for (int k = 7; k >= 0; k--) *hlen = *hlen << 8 | len8[k];
    *size = (uint64_t)st.st_size;
    if (*hlen < 2 || *hlen > *size - 8 || *hlen > (100u << 20)) {
        rt_fail(err,
                "%s: not a safetensors file, or truncated: the header length says %llu bytes, "
                "the file has %llu after it",
                path, (unsigned long long)*hlen, (unsigned long long)(*size - 8));
        return NULL;
    }
    char *text = malloc((size_t)*hlen + 1);
    if (!text) {
        rt_fail(err, "%s: out of memory", path);
        return NULL;
    }
    if (fread(text, 1, (size_t)*hlen, f) != *hlen) {
        rt_fail(err, "%s: read error: %s", path, strerror(errno));
        free(text);
        return NULL;
    }
    text[*hlen] = '\0';
    if (text[0] != '{') {
        rt_fail(err, "%s: not a safetensors file (the header is not a JSON object)", path);
        free(text);
        return NULL;
    }
    return text;
}

/* One tensor of the header checked against the data's length and the
 * model's parameters; *which gets its parameter's index. */
static int check_tensor(const char *path, const st_tensor *t, uint64_t data_len,
                        const rt_param_info *params, int n, int *which, rt_error *err)
{
    int es = dtype_size(t->dtype);
    uint64_t numel = 1;
    for (int d = 0; d < t->rank; d++) numel *= (uint64_t)t->dims[d]; /* each < 2^31, rank <= 8 */
    if (!es) return rt_fail(err, "%s: tensor '%s': unknown dtype '%s'", path, t->name, t->dtype);
    if (t->begin > t->end || t->end > data_len)
        return rt_fail(err,
                       "%s: tensor '%s': data_offsets [%llu, %llu] outside the %llu bytes of data "
                       "(truncated?)",
                       path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)data_len);
    if (numel > UINT64_MAX / 8 || t->end - t->begin != numel * (uint64_t)es)
        return rt_fail(
            err, "%s: tensor '%s': data_offsets span %llu bytes, its shape and dtype need %llu",
            path, t->name, (unsigned long long)(t->end - t->begin),
            (unsigned long long)(numel * (uint64_t)es));
    *which = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(params[i].name, t->name)) *which = i;
    if (*which < 0) {
        sbuf names = {0};
        for (int i = 0; i < n && names.len < 600; i++)
            sb_printf(&names, "%s%s", i ? ", " : "", params[i].name);
        rt_fail(err, "%s: tensor '%s' is not a parameter of this model (it has %s)", path, t->name,
                names.p ? names.p : "none");
        free(names.p);
        return -1;
    }
    const rt_param_info *p = &params[*which];
    int64_t want[4];
    rt_param_dims(p, want);
    int same = t->rank == p->rank;
    for (int d = 0; same && d < p->rank; d++) same = t->dims[d] == want[d];
    if (!same) {
        char got_s[128], want_s[128];
        shape_text(got_s, sizeof got_s, t->rank, t->dims);
        shape_text(want_s, sizeof want_s, p->rank, want);
        return rt_fail(err, "%s: tensor '%s' has shape %s, the model's is %s", path, t->name, got_s,
                       want_s);
    }
    if (strcmp(t->dtype, "F32") && strcmp(t->dtype, "F64") &&
        !(p->count && !strcmp(t->dtype, "I64")))
        return rt_fail(err, "%s: tensor '%s' has dtype %s; %s load from F32 or F64%s", path,
                       t->name, t->dtype, p->count ? "counts" : "parameters",
                       p->count ? " or I64" : "");
    return 0;
}

/* A checked tensor read into its parameter p, converted to real; its data
 * starts at offset `start` of the file. */
static int read_tensor(FILE *f, const char *path, uint64_t start, const st_tensor *t,
                       const rt_param_info *p, real *buf, rt_error *err)
{
    size_t es = (size_t)dtype_size(t->dtype);
    if (fseek(f, (long)(start + t->begin), SEEK_SET) != 0)
        return rt_fail(err, "%s: seek: %s", path, strerror(errno));
    real *dst = buf + p->offset;
    unsigned char chunk[1 << 14];
    for (long done = 0; done < p->numel;) {
        size_t want = sizeof chunk / es;
        if ((long)want > p->numel - done) want = (size_t)(p->numel - done);
        if (fread(chunk, es, want, f) != want)
            return rt_fail(err, "%s: tensor '%s': read error", path, t->name);
        if (!rt_host_little_endian()) rt_swap_bytes(chunk, want, es);
        for (size_t i = 0; i < want; i++) {
            double v;
            if (es == 4) {
                float fv;
                memcpy(&fv, chunk + 4 * i, 4);
                v = fv;
            } else if (t->dtype[0] == 'I') {
                int64_t iv;
                memcpy(&iv, chunk + 8 * i, 8);
                v = (double)iv;
            } else {
                memcpy(&v, chunk + 8 * i, 8);
            }
            if (!(fabs(v) <= RT_REAL_MAX))
                return rt_fail(err, "%s: tensor '%s': element %ld is not a finite %s", path,
                               t->name, done + (long)i, RT_REAL_NAME);
            dst[done + (long)i] = (real)v;
        }
        done += (long)want;
    }
    int64_t at;
    if (p->count && !rt_counts_whole(dst, p->numel, &at))
        return rt_fail(err, "%s: tensor '%s': element %lld is %g; " RT_COUNT_RULE, path, t->name,
                       (long long)at, (double)dst[at]);
    return 0;
}

int rt_safetensors_load(const char *path, const rt_param_info *params, int n, real *buf,
                        int *loaded, rt_error *err)
{
    *loaded = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    uint64_t hlen, size;
    st_tensor *ts = NULL;
    int *which = NULL;
    int nts = 0, rc = -1;
    char *text = read_header(f, path, &hlen, &size, err);
    if (!text || st_parse(path, text, (size_t)hlen, &ts, &nts, err)) goto done;
    /* check everything before changing any parameter */
    if (!(which = malloc(sizeof(int) * (size_t)(nts > 0 ? nts : 1)))) {
        rt_fail(err, "%s: out of memory", path);
        goto done;
    }
    for (int k = 0; k < nts; k++)
        if (check_tensor(path, &ts[k], size - 8 - hlen, params, n, &which[k], err)) goto done;
    if (nts == 0) {
        rt_fail(err, "%s: holds no tensors", path);
        goto done;
    }
    for (int k = 0; k < nts; k++)
        if (read_tensor(f, path, 8 + hlen, &ts[k], &params[which[k]], buf, err)) goto done;
    *loaded = nts;
    rc = 0;
done:
    free(which);
    free(ts);
    free(text);
    fclose(f);
    return rc;
}
