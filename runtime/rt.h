/* rt.h — the runtime every generated trainer links, and its one public
 * header: element type, errors, RNG, initialisers, data readers, SIMD
 * helpers, file formats, the trainer's state. No Lua, no globals shared with
 * the generated code beyond what is declared here. A section per file of
 * runtime/ (listed in runtime/FILES), each naming the file that implements
 * it. */
#ifndef RT_H
#define RT_H

#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The element type is chosen when the trainer is generated (--dtype). */
#ifdef TRAINC_DOUBLE
typedef double real;
#define RT_REAL_NAME "double"
#else
typedef float real;
#define RT_REAL_NAME "float"
#endif

/* Functions compiled twice, for x86-64 CPUs with AVX2 and FMA and for any
 * x86-64, the right one chosen when the program starts (GCC's
 * target_clones): the generated loops vectorise to the machine they run on.
 * Results do not depend on the choice: the code is built without
 * floating-point contraction, and fma() is exact either way. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(RT_PORTABLE)
#define RT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define RT_CLONES
#endif

/* A loop written once and inlined into each branch of a choice made at run
 * time (weight decay or not, momentum or not), so that every copy is free of
 * branches and vectorises: the compiler unswitches only a few conditions
 * itself (the optimizer updates, templates/optim/). */
#if defined(__GNUC__)
#define RT_INLINE_LOOP static inline __attribute__((always_inline))
#else
#define RT_INLINE_LOOP static inline
#endif

/* the largest finite real: a value read from a file must not exceed it */
#ifdef TRAINC_DOUBLE
#define RT_REAL_MAX DBL_MAX
#else
#define RT_REAL_MAX FLT_MAX
#endif

/* ==== rt_util.c: errors, time, byte order ==== */

/* Errors: library code never prints or exits; it fills an rt_error and
 * returns -1. Messages name the file and what was wrong; the caller prints
 * them as they are. */
typedef struct rt_error {
    char msg[1024];
} rt_error;

int rt_fail(rt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

double rt_now(void); /* seconds, monotonic */

/* Files hold little-endian numbers; a big-endian host swaps them. */
int rt_host_little_endian(void);
/* reverses the bytes of each of count elements of size bytes */
void rt_swap_bytes(void *data, size_t count, size_t size);

/* ==== rt_rng.c: random numbers and initialisers ==== */

/* MT19937 seeded like torch.manual_seed(s) and numpy.random.RandomState(s),
 * so uniform draws reproduce PyTorch's. */
typedef struct rt_rng {
    uint32_t mt[624];
    int mti;
    /* Box-Muller makes normals in pairs; the second waits here (added after
     * mt/mti so their layout is unchanged; rt_rng_seed clears it). */
    int has_normal;
    double next_normal;
} rt_rng;

void rt_rng_seed(rt_rng *rng, uint32_t seed);
uint32_t rt_rng_u32(rt_rng *rng);
/* uniform in [0, 1) with 24 random bits, as torch's float uniform_ */
double rt_rng_uniform24(rt_rng *rng);
/* uniform in [0, 1) with 53 random bits */
double rt_rng_uniform53(rt_rng *rng);
/* standard normal (Box-Muller on two uniform53 draws) */
double rt_rng_normal(rt_rng *rng);
/* uniform integer in [0, n) without modulo bias */
uint32_t rt_rng_below(rt_rng *rng, uint32_t n);
/* Fisher-Yates shuffle of idx[0..n) */
void rt_shuffle(rt_rng *rng, int32_t *idx, int32_t n);

/* Initialisers: the generator computes bounds and stds from the fans
 * (gains as torch.nn.init.calculate_gain); the runtime only draws. */
/* p[i] = (real)(u * (b - a) + a), u = uniform24, as torch's uniform_(a, b)
 * (bit for bit: float follows torch's float32 rounding of a, b and b - a;
 * -DTRAINC_DOUBLE follows torch's float64 uniform_, 53-bit u and an fma) */
void rt_init_uniform(rt_rng *rng, real *p, long n, double a, double b);
void rt_init_normal(rt_rng *rng, real *p, long n, double mean, double std);
void rt_init_constant(real *p, long n, double value);

/* ==== rt.h itself: counter-based noise for dropout masks ==== */

/* A pure function of (seed, step, mask, element), so no state is saved in
 * checkpoints, a resumed run draws the masks the uninterrupted one would,
 * any thread count gives the same masks, and one key gives the same masks
 * again (gradient checks, the backward pass). Built on SplitMix64's output function:
 *   key    = mix(seed * G ^ mix(step))            per optimizer step (from 1)
 *   stream = mix(key + mask * G)                   per dropout in the spec (from 1)
 *   bits i = mix(stream + (i + 1) * G) >> 32       per element
 * with G = 0x9E3779B97F4A7C15. */
static inline uint64_t rt_noise_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}
static inline uint64_t rt_noise_key(uint32_t seed, long step)
{
    return rt_noise_mix(((uint64_t)seed * 0x9E3779B97F4A7C15u) ^ rt_noise_mix((uint64_t)step));
}
static inline uint64_t rt_noise_stream(uint64_t key, int mask)
{
    return rt_noise_mix(key + (uint64_t)mask * 0x9E3779B97F4A7C15u);
}
static inline uint32_t rt_noise_bits(uint64_t stream, long i)
{
    return (uint32_t)(rt_noise_mix(stream + ((uint64_t)i + 1) * 0x9E3779B97F4A7C15u) >> 32);
}

/* ==== rt.h itself: fmax against a constant bound, inline ====
 * fmax(v, c) where c is a number other than 0: v when above c, else c (a
 * NaN v gives c, as fmax; no signed zero to choose between; checked on
 * every float but signaling NaNs, which no arithmetic result is). libm's fmax
 * is a call: bce's clamps were a tenth of xor's step. In double (the
 * loss's clamp of a log, as tgmath's fmax(float, int)) and in real. */
static inline double rt_fmax_const_d(double v, double c)
{
    return v > c ? v : c;
}
static inline real rt_fmax_const(real v, real c)
{
    return v > c ? v : c;
}

/* ==== rt_store.c: features as a file stores them ==== */

/* A data file's features in the file's own element type (Fashion-MNIST's
 * bytes stay bytes): in memory, or mapped read-only from the file, or, when
 * the address space cannot hold the mapping (ulimit -v), read row by row
 * with pread. Rows become real as they are read: the stored value rounded
 * to real, as rt_npy_read_values and the IDX reader convert them. */
typedef struct rt_store {
    char kind;              /* 'f', 'i' or 'u'; 0: no store */
    int esize;              /* bytes per element */
    int swap;               /* in the other byte order than the host's */
    int64_t d;              /* elements per row */
    const unsigned char *p; /* row r at p + r * d * esize; NULL: pread from fd */
    void *mem;              /* what p points into: an allocation, */
    void *map;              /* or a mapping of map_len bytes */
    size_t map_len;
    int fd; /* p NULL: the file, rows from byte off */
    int64_t off;
    const char *path;
    rt_error *read_err; /* p NULL: the first read that failed ("" while none) */
} rt_store;

/* Room for n rows of d elements of kind and esize bytes in host order (p = mem). */
int rt_store_alloc(rt_store *s, int64_t n, int64_t d, char kind, int esize, const char *name,
                   rt_error *err);
/* The n rows of d elements at byte off of path (the caller checked the
 * size), mapped when try_map is set and the mapping succeeds, else read
 * with pread as rows are needed. */
int rt_store_map(rt_store *s, const char *path, int64_t off, int64_t n, int64_t d, char kind,
                 int esize, int swap, int try_map, rt_error *err);
/* Elements j0 .. j0 + m of row r as real. A failed read gives NaN and sets
 * read_err. */
void rt_store_row(const rt_store *s, int64_t r, int64_t j0, int64_t m, real *out);
/* Asks the CPU to fetch row r's bytes into its caches (rows in memory only):
 * a batch's rows are far apart, and each would wait on memory in turn. */
void rt_store_prefetch_row(const rt_store *s, int64_t r);
/* The first of rows [0, n) holding a value that is not a finite real, or
 * -1; -2 when reading failed (read_err says why). */
int64_t rt_store_first_bad_row(const rt_store *s, int64_t n);
void rt_store_free(rt_store *s);
/* One element (in host byte order) of kind 'f', 'i' or 'u' and esize bytes. */
double rt_elem_value(char kind, int esize, const unsigned char *p);

/* ==== rt_data.c: data sources and datasets ==== */

enum rt_source_kind {
    RT_SRC_NONE = 0,
    RT_SRC_IDX,     /* images + labels IDX files, raw or .gz */
    RT_SRC_CSV,     /* numeric CSV, optional header, label column by name or index */
    RT_SRC_XOR,     /* the 4 XOR points (n > 4: noisy copies of them) */
    RT_SRC_SPIRALS, /* two interleaved spirals, classes 0/1, 2 features */
    RT_SRC_LINREG,  /* y = X w* + noise, X ~ N(0,1), w* ~ N(0,1) */
    RT_SRC_NPY,     /* NumPy .npy files: features [n, ...] and labels [n] or [n, k] */
};

/* A CSV column by its header name, or (name NULL) by 0-based index;
 * RT_CSV_LAST is the last column. */
typedef struct rt_column {
    const char *name;
    int index;
} rt_column;
#define RT_CSV_LAST (-2)

typedef struct rt_source {
    int kind;           /* enum rt_source_kind */
    const char *images; /* IDX, NPY: features file */
    const char *labels; /* IDX, NPY: labels file (NPY: NULL when the model has none) */
    const char *path;   /* CSV: file */
    const char *label;  /* CSV: label column name, or NULL */
    int label_col;      /* CSV: label column index (0-based) when label is NULL; -1 = none,
                           RT_CSV_LAST the last column */
    int header;         /* CSV: 1 yes, 0 no, -1 detect (first row non-numeric) */
    int n;              /* synthetic: rows */
    int d;              /* synthetic: features (linreg) */
    double noise;       /* synthetic: noise std */
    uint32_t seed;      /* synthetic: seed; linreg's w* comes from wseed */
    uint32_t wseed;
    int classes; /* rt_data_probe: check CSV labels are classes in [0, classes) (0: no check) */
    int ylen;    /* rt_data_probe: NPY label values per row expected (0: no check) */
    /* CSV as it comes (rt_csv.c): the delimiter, which columns are the
     * features, and the class names the label cells are */
    char sep;                  /* ',', ';', '\t'...; 0: detected */
    const rt_column *features; /* the feature columns in this order (NULL: all but...) */
    int n_features;
    const rt_column *drop; /* ... the label and these */
    int n_drop;
    const char *const *class_names; /* label cells name classes 0..n_class_names-1 */
    int n_class_names;
} rt_source;

/* A dataset: rows of d features and ylen label values. The features are
 * real (x), or held as the file stores them (xs: rt_data_open), converted
 * when rows are gathered. A view (rt_data_view) is a subset of another
 * dataset's rows, sharing its memory; scale and standardisation
 * (rt_data_prepare) are applied to rows as they are gathered. */
typedef struct rt_dataset {
    int32_t n;    /* rows */
    int32_t d;    /* features per row */
    int32_t ylen; /* label values per row: 1 for class indices; 0 = no labels */
    real *x;      /* [n][d], or NULL: the features are in xs */
    real *y;      /* [n][ylen]; class indices stored as exact integers */
    rt_store xs;  /* the features as stored (xs.kind 0: none, they are in x) */
    /* a view: row i is row rows[i] of the data (NULL: row i); x, y and xs
     * are another dataset's, which rt_data_free leaves alone */
    const int32_t *rows;
    int view;
    /* applied to each gathered value v: v = (real)(v * scale) unless scale
     * is 0, then v = (v - mean[j]) / std[j] when mean is set */
    double scale;
    const real *mean, *std;
} rt_dataset;

/* Reads rows and feature count without loading (trainc uses this at
 * generation time to fix the shapes). */
int rt_data_probe(const rt_source *src, int32_t *n, int32_t *d, rt_error *err);

/* Loads a source. d_expected / ylen are checked against the file; classes > 0
 * checks every label is an integer in [0, classes). The features as real. */
int rt_data_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                 rt_dataset *out, rt_error *err);
/* The same, the features kept as stored where that saves memory: IDX bytes
 * stay bytes, .npy files are mapped (any dtype); the trainer loads this way. */
int rt_data_open(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                 rt_dataset *out, rt_error *err);
/* The labels alone ([n][ylen] into *y, malloc'd), checked as rt_data_load
 * does; the features file is not read where the labels have one of their own. */
int rt_data_load_labels(const rt_source *src, int32_t ylen, int32_t classes, real **y, int32_t *n,
                        rt_error *err);

/* Features only, from a .npy file, an IDX file (raw or gzip) or a CSV,
 * told apart by their first bytes (predict). */
int rt_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err);
/* ... a CSV among them read as rt_csv_read_like reads it (like NULL: as above) */
int rt_read_features_like(const char *path, int32_t d_expected, const rt_source *like,
                          int label_required, rt_dataset *out, rt_error *err);

void rt_data_free(rt_dataset *ds);
/* In place, on the real features x of a dataset that is no view. */
void rt_data_scale(rt_dataset *ds, double scale);
void rt_standardize_apply(rt_dataset *ds, const real *mean, const real *std);
/* z-score statistics of ds's rows as gathered with its scale (per feature;
 * std of 0 is taken as 1); ds's own mean and std are not applied. */
void rt_standardize_fit(const rt_dataset *ds, real *mean, real *std);

/* rows[0..n) of ds (no view itself) as a dataset sharing ds's memory; rows
 * NULL: the first n rows */
rt_dataset rt_data_view(const rt_dataset *ds, const int32_t *rows, int32_t n);
/* Scaling (0: none) and standardisation (mean NULL: none) on gathering. */
void rt_data_prepare(rt_dataset *ds, double scale, const real *mean, const real *std);
/* 1 when ds->x holds its rows as they are used (no view, no conversion,
 * nothing applied): a run of rows is then a slice of x. */
int rt_data_plain(const rt_dataset *ds);
/* Row i's features (d values, prepared) into out; its labels. */
void rt_data_row(const rt_dataset *ds, int32_t i, real *out);
static inline const real *rt_data_label(const rt_dataset *ds, int32_t i)
{
    return ds->y + (size_t)(ds->rows ? ds->rows[i] : i) * (size_t)ds->ylen;
}
/* Copies rows idx[0..b) into x and y (the batch buffers). */
void rt_data_gather(const rt_dataset *ds, const int32_t *idx, int32_t b, real *x, real *y);
/* Rows read from a file since loading (rt_store_map's pread) that failed:
 * the first failure's message, or NULL. */
const rt_error *rt_data_read_error(const rt_dataset *ds);

/* The pieces every reader shares (rt_data.c): the largest dataset (features
 * + labels, as real) we agree to allocate; out->x [n][d] and out->y
 * [n][ylen] allocated within it (name: for the message); every label an
 * exact integer in [0, classes), rows named by 0-based index (CSV checks its
 * labels while parsing, by line instead); d features per row, as the model
 * expects (d_expected <= 0: any). */
#define RT_DATA_MAX_BYTES ((uint64_t)8 << 30)
int rt_data_alloc(rt_dataset *out, int64_t n, int64_t d, int32_t ylen, const char *name,
                  rt_error *err);
int rt_data_check_labels(const rt_dataset *ds, int32_t classes, const char *name, rt_error *err);
int rt_data_check_features(const char *name, int64_t d, int32_t d_expected, rt_error *err);

/* ==== rt_split.c: the rows a training file holds out ==== */

/* test = 0.2, valid = 0.1 in a spec: how many rows, drawn how */
typedef struct rt_split {
    int32_t n_test, n_valid; /* rows held out for testing and validation */
    int test_tail;           /* 1: the test rows are the file's last rows */
    int valid_tail;          /* 1: the validation rows are the last rows before them */
    uint32_t seed;           /* the draw's: MT19937 seeded with seed ^ RT_SPLIT_STREAM */
} rt_split;
#define RT_SPLIT_STREAM 0x5EED5B17u

/* Splits rows [0, n) into train (n - n_test - n_valid rows), valid and test,
 * each in increasing row order. cls[i] is row i's class in [0, k)
 * (stratified: each class gives its share of each part, the floor or the
 * ceiling of count * part / n, summing to the part's size), or NULL (one
 * class). The draw shuffles each class's rows in file order (rt_shuffle,
 * classes in order) and takes its test rows first, its validation rows
 * next: the test rows depend on the seed and test fraction alone. Refuses a
 * class left without a training row. Allocates its scratch. */
int rt_split_rows(const rt_split *s, const int32_t *cls, int k, int32_t n, int32_t *train,
                  int32_t *valid, int32_t *test, rt_error *err);

/* ==== rt_idx.c: IDX files (raw or gzip) ==== */

/* rt_data_probe, rt_data_load and rt_read_features of an IDX source */
int rt_idx_probe(const rt_source *src, int32_t *n, int32_t *d, rt_error *err);
int rt_idx_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                rt_dataset *out, rt_error *err);
int rt_idx_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err);
/* rt_idx_load with images of bytes kept as bytes (rt_data_open) */
int rt_idx_open(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                rt_dataset *out, rt_error *err);
/* the labels file alone into out->y (rt_data_load_labels) */
int rt_idx_load_labels(const rt_source *src, int32_t ylen, int32_t classes, rt_dataset *out,
                       rt_error *err);

/* ==== rt_csv.c: numeric CSV ==== */

/* rt_data_probe and rt_data_load of a CSV source */
int rt_csv_probe(const rt_source *src, int32_t *n, int32_t *d, rt_error *err);
int rt_csv_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                rt_dataset *out, rt_error *err);
/* CSV of features only (predict): every row must have d_expected numbers. */
int rt_csv_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err);
/* The same of a file shaped like the source `like` (predict on the training
 * CSV): its feature columns chosen as like's are, its label column dropped
 * where the file has one (found by its header name, or by the column count);
 * label_required: like's label column must be there (--label). A file of
 * exactly d_expected numbers a row is taken as it is. */
int rt_csv_read_like(const char *path, const rt_source *like, int label_required,
                     int32_t d_expected, rt_dataset *out, rt_error *err);

/* What trainc learns of a CSV source before generating (rt_data_probe's
 * sizes and more): its delimiter, whether its first row was taken as a
 * header and whether that row held only numbers (header = true: a warning),
 * and, when names is set, the label column's distinct values, sorted (by
 * value when every one is a number, else bytewise), each as written. */
typedef struct rt_csv_info {
    int32_t rows, features, columns;
    char sep;
    int header, header_numeric;
    long header_line;
    int labels_numeric; /* every label cell is a number */
    char **names;       /* collected when asked: distinct labels */
    int n_names;
} rt_csv_info;
int rt_csv_inspect(const rt_source *src, int names, rt_csv_info *info, rt_error *err);
void rt_csv_info_free(rt_csv_info *info);

/* ==== rt_csv_rec.c: CSV records (RFC 4180) ==== */

/* Records of a CSV file read one at a time: cells separated by sep, a cell
 * in double quotes may hold sep, newlines and "" (a quote); CRLF or LF line
 * ends; spaces around unquoted cells trimmed; a UTF-8 byte order mark at the
 * start skipped; blank lines skipped. */
typedef struct rt_csv_cell {
    char *s; /* NUL-terminated, quotes removed */
    size_t len;
    int quoted;
} rt_csv_cell;
typedef struct rt_csv_reader {
    const char *path;
    FILE *f;
    char sep;
    unsigned char *buf; /* read ahead */
    size_t pos, end;
    int eof, started;
    long line;     /* lines read so far */
    long rec_line; /* the line the current record starts on */
    char *text;    /* the record's cells, each NUL-terminated */
    size_t text_len, text_cap;
    rt_csv_cell *cells;
    size_t *offs;
    int64_t n_cells, cells_cap;
} rt_csv_reader;
/* Opens path; sep 0: the delimiter is detected among ',', ';' and tab from
 * the first lines (the one found the same number of times on each, the most
 * often; a tie goes to ';', then ',': files with ';' often write decimal
 * commas), or ',' when none is. */
int rt_csv_open(rt_csv_reader *r, const char *path, char sep, rt_error *err);
/* The next record into r->cells[0..n_cells): 1, or 0 at the end, -1 on a
 * NUL byte, a quote not closed or text after a closing quote. */
int rt_csv_next(rt_csv_reader *r, rt_error *err);
void rt_csv_close(rt_csv_reader *r);
/* "','", "';'", "tab": the delimiter in messages */
const char *rt_csv_sep_name(char sep);

/* ==== rt_atomic.c: atomic writes ==== */

/* Writes buf to path via a temporary file, fsync and rename. */
int rt_write_atomic(const char *path, const void *buf, size_t len, rt_error *err);
/* The same of parts written one after the other (a header, then data). */
typedef struct rt_part {
    const void *buf;
    size_t len;
} rt_part;
int rt_write_atomic_parts(const char *path, const rt_part *parts, int nparts, rt_error *err);

/* ==== rt_npy.c: NumPy .npy files ==== */

/* Writes a NumPy .npy file (C order, dtype of real) atomically. */
int rt_npy_write(const char *path, const real *data, int rank, const int64_t *dims, rt_error *err);
/* ... of int64 (little-endian '<i8'), from whole numbers kept as real (counts) */
int rt_npy_write_int64(const char *path, const real *data, int rank, const int64_t *dims,
                       rt_error *err);
/* Reads a .npy file of float32/float64 into data (count must equal the file's). */
int rt_npy_read(const char *path, real *data, int64_t count, rt_error *err);
/* ... and refuses any other shape than dims[0..rank) (loading parameters;
 * an integer array only for a count, whose values must be whole and >= 0). */
int rt_npy_read_shaped(const char *path, real *data, int rank, const int64_t *dims, int count,
                       rt_error *err);

/* A .npy file opened and its header checked (versions 1.0-3.0, C order,
 * float32/64 and (u)int8-64 in either byte order, its size against the
 * file's), positioned at the data; the data readers and the above use it. */
#define RT_NPY_MAX_RANK 32
typedef struct rt_npy {
    const char *path;
    FILE *f;
    char descr[16]; /* as the header says: '<f4' */
    char kind;      /* 'f', 'i' or 'u' */
    int esize;      /* bytes per element */
    int swap;       /* byte order differs from the host's */
    int rank;
    int64_t dims[RT_NPY_MAX_RANK];
    int64_t count; /* elements */
    long data_off;
    int64_t file_size; /* -1: not a regular file */
} rt_npy;
int rt_npy_open(rt_npy *a, const char *path, rt_error *err);
/* Reads all count elements into dst as real; a value that is not a finite
 * real is refused, named by its row (per_row elements a row). */
int rt_npy_read_values(rt_npy *a, real *dst, int64_t per_row, rt_error *err);
void rt_npy_close(rt_npy *a);
/* "(3, 4)", as numpy prints a shape */
void rt_npy_shape(const rt_npy *a, char *buf, size_t size);

/* ==== rt_metrics.c: the metrics CSV ==== */

/* Opens a metrics CSV (header: its first line, without the newline) for the
 * rows of a run. A new run (keep_through < 0) starts the file afresh. A
 * resumed run keeps the rows of the file it continues whose column key_col
 * is at most keep_through (the epochs or steps its checkpoint holds; rows
 * written after it are dropped, the resumed run writes them again),
 * rewritten atomically, and appends; *seconds gets the last kept row's last
 * column (the time taken so far), else 0. A file with another header is
 * started afresh and *afresh set (the caller says so); else *afresh is 0. */
FILE *rt_metrics_open(const char *path, const char *header, int key_col, long long keep_through,
                      double *seconds, int *afresh, rt_error *err);

/* A metrics CSV read back, columns found by their header names. */
typedef struct rt_metrics {
    int rows, cols;
    char **names;       /* the header's column names */
    double *v;          /* [rows][cols]; an empty cell is NaN */
    int x_col;          /* the curves' axis: the "epoch" or the "step" column, whichever */
    const char *x_name; /* comes first ("epoch" in --metrics files, "step" in --step-metrics) */
} rt_metrics;

/* Reads a metrics CSV; refuses a missing or empty file, one without an epoch
 * or a step column, ragged rows and cells that are not numbers (nan and inf
 * are), with the file and line in the message. */
int rt_metrics_read(const char *path, rt_metrics *m, rt_error *err);
void rt_metrics_free(rt_metrics *m);
int rt_metrics_column(const rt_metrics *m, const char *name); /* -1: none */

/* ==== rt_params.c: parameters by name ==== */

/* (as the generated model.c lists them) */
typedef struct rt_param_info {
    const char *name; /* as the spec names it: "fc1.weight" */
    long offset;      /* in the flat buffer */
    long numel;
    int rank;
    int dim[4];
    int trainable; /* 0: frozen, the optimizer leaves it as loaded */
    int buffer;    /* 1: a running statistic (batch norm): not trained, checked or traced */
    int count;     /* 1: an integer count kept as real (batch norm's num_batches_tracked):
                      exported as int64, loaded from integers or floats, never negative */
} rt_param_info;

/* A count is a whole number from 0 to 2^53, so it is exact in a double and
 * in an int64; loading refuses others, writing clamps. */
#define RT_COUNT_MAX 9007199254740992.0
#define RT_COUNT_RULE "a count is a whole number from 0 to 2^53"
/* v as an int64 count, clamped to [0, RT_COUNT_MAX] */
int64_t rt_count_value(real v);
/* 1 if v[0..n) are all counts; else 0, *at the first that is not */
int rt_counts_whole(const real *v, int64_t n, int64_t *at);
/* dims[0..p->rank) = p's shape */
void rt_param_dims(const rt_param_info *p, int64_t *dims);
/* Parameters by name (fine-tuning, transfer learning). Each DIR/<name>.npy
 * there is loaded (shape checked); *loaded counts them. */
int rt_params_load_npy_dir(const char *dir, const rt_param_info *params, int n, real *buf,
                           int *loaded, rt_error *err);

/* ==== rt_safetensors.c: safetensors files of parameters ==== */

/* A safetensors file: every tensor in it must be a parameter of that name,
 * shape and dtype F32/F64 (a count also I64), all checked before any is
 * read; the message says what was wrong. */
int rt_safetensors_load(const char *path, const rt_param_info *params, int n, real *buf,
                        int *loaded, rt_error *err);
/* Writes the parameters (sorted by name) as safetensors, atomically, counts
 * as I64; meta is NULL or key, value, ..., NULL for "__metadata__". */
int rt_safetensors_save(const char *path, const rt_param_info *params, int n, const real *buf,
                        const char *const *meta, rt_error *err);

/* ==== rt_simd.c: SIMD helpers (AVX2/FMA when the CPU has it, else C) ==== */

/* p[i] = fma(g[i], -lr, p[i]): the rounding of torch's p.add_(g, alpha=-lr) */
void rt_axpy_fma(real *p, const real *g, real alpha, long n);
real rt_dot(const real *a, const real *b, long n);
/* sum of squares, accumulated in double */
double rt_sumsq(const real *a, long n);
/* 1 when a sum of the n values (in some order) is finite, and then every
 * value is: a NaN or an infinity stays in a sum. 0 also where the sum of
 * finite values overflows: ask rt_sumsq then. The divergence guard's test. */
int rt_sum_finite(const real *a, long n);
int rt_cpu_has_avx2(void);

/* ==== rt_gemm.c: the generator's own float matrix products (KERN_GEMM) ==== */

/* C [m x n] = op(A) · B, A [m x k] (ta: [k x m]), B [k x n]; and
 * C = A · Bᵀ, A [m x k], B [n x k]. Contiguous row-major operands. Return
 * -1 (C untouched) without AVX2/FMA, in double or under RT_PORTABLE: the
 * caller then calls cblas_sgemm. */
int rt_sgemm_xn(int ta, long m, long n, long k, const float *a, const float *b, float *c);
int rt_sgemm_nt(long m, long n, long k, const float *a, const float *b, float *c);
/* The weight gradient's product C [m x n] = Aᵀ·B (A [k x m], B [k x n]), the
 * bits of rt_sgemm_xn(1, ...), with a hook in its store: s->done(s->ctx,
 * offset, count) on each run of whole rows of C as soon as they are final
 * (gen/fuse_update.c: the optimizer's update of that slice of the
 * parameter, while it is in cache), in order, covering C once; the rows of
 * C and of the s->nahead arrays of C's shape in s->ahead (what done reads
 * and writes) are fetched a strip ahead. s or s->done may be NULL. Returns
 * -1 (C untouched, done never called) where rt_sgemm_xn does. */
typedef struct rt_gemm_store {
    void (*done)(void *ctx, long offset, long count);
    void *ctx;
    const void *ahead[4];
    int nahead;
} rt_gemm_store;
int rt_sgemm_tn_store(long m, long n, long k, const float *a, const float *b, float *c,
                      const rt_gemm_store *s);

/* What a product stores in place of each value v of C (the forward's bias
 * and activation, the input gradient's relu mask), applied to the finished
 * sum while the tile is in registers, in this order: v + bias[j] (bias per
 * column, NULL: none), then act (RT_EPI_RELU: v > 0 ? v : 0), then mask
 * (relu's backward: mask[i, j] > 0 ? v : 0, mask [m x n]; NULL: none). The
 * same IEEE operations as the generator's loops after the product, so the
 * same bits (tests/unit/test_gemm_epi.c). */
enum { RT_EPI_NONE, RT_EPI_RELU };
typedef struct rt_gemm_epi {
    const float *bias;
    int act;
    const float *mask;
} rt_gemm_epi;
/* rt_sgemm_nt and rt_sgemm_xn(0, ...) with the epilogue e (NULL: none);
 * -1 (C untouched) where they are */
int rt_sgemm_nt_epi(long m, long n, long k, const float *a, const float *b, float *c,
                    const rt_gemm_epi *e);
int rt_sgemm_nn_epi(long m, long n, long k, const float *a, const float *b, float *c,
                    const rt_gemm_epi *e);

/* ==== rt_gemm_sum.c: a product summed over images (float, KERN_GEMM) ==== */

/* C += Σ over t < nb of A_t · B_tᵀ, A_t = a + t·sa [m x k], B_t = b + t·sb
 * [n x k]; -1 (C untouched) where rt_sgemm_xn declines */
int rt_sgemm_nt_sum(long nb, long sa, long sb, long m, long n, long k, const float *a,
                    const float *b, float *c);

/* ==== rt_conv.c: the generator's direct convolution kernel (float) ==== */

/* A convolution of B images x [B x C x H x W] by w [OC x C x kh x kw],
 * stride 1, ph rows and pw columns of zero padding, dilation 1: y [B x OC
 * x OH x OW] = bias[oc] (NULL: 0) + the taps' products in the order of the
 * generated loops (which skip the taps of a padding row and multiply those
 * of a padding column by 0), the same bits. Returns -1 (y untouched)
 * without AVX2/FMA, in double, under RT_PORTABLE, with TRAINC_CONV=off or
 * out of memory: the caller then runs its loops. */
int rt_sconv_direct(long B, long C, long H, long W, long OC, long kh, long kw, long ph, long pw,
                    const float *x, const float *w, const float *bias, float *y);
/* Its weight gradient: dw [OC x C x kh x kw] = the sum over the images of
 * dy [B x OC x OH x OW] · x shifted, in the lanes of the generated loops
 * (the same bits); -1 (dw untouched) where rt_sconv_direct declines. */
int rt_sconv_direct_dw(long B, long C, long H, long W, long OC, long kh, long kw, long ph, long pw,
                       const float *x, const float *dy, float *dw);

/* ==== rt_maxpool.c: max pooling of 2x2 windows with stride 2 (float) ==== */

/* The pairs row pairs of W columns (W even) of x, each 2W floats from x +
 * 2rW, pooled over 2x2 windows with stride 2, no padding, as the generated
 * loops (first maximum in tap order, a NaN taking it; the same bits): y
 * gets each window's maximum, W/2 a pair (y may be x); the backward dx
 * gets dy at each window's maximum and 0 at its other three elements (dy
 * only where the maximum is > 0 with relu_mask: relu's backward). -1 (y,
 * dx untouched) without AVX2, in double or under RT_PORTABLE: the caller
 * then runs its loops. */
int rt_max_pool2x2(long pairs, long W, const float *x, float *y);
int rt_max_pool2x2_grad(long pairs, long W, const float *x, const float *dy, float *dx,
                        int relu_mask);
/* The forward saving each window's argmax for the backward, as the loops:
 * t = its offset from the window's corner (0, 1, W or W + 1), as a real;
 * -1 where the maximum is not > 0 with relu_masked (relu's backward then
 * zeroes the window); y NULL: the argmax alone. The backward from it: dy
 * at each window's saved offset, 0 at its other elements (and all 4 at -1). */
int rt_max_pool2x2_argmax(long pairs, long W, const float *x, float *y, float *t, int relu_masked);
int rt_max_pool2x2_grad_saved(long pairs, long W, const float *t, const float *dy, float *dx);

/* ==== rt_col2im.c: col2im with stride 1 (float) ==== */

/* dx [BC x H x W] = the patches col [BC x kh·kw x OH x OW] summed back into
 * the images (OH = H + 2ph - dh(kh - 1), OW likewise), stride 1, any
 * padding and dilation, as the generated loops (tap by tap in order from
 * +0; the same bits); dx is written whole. -1 (dx untouched) without
 * AVX2, in double, under RT_PORTABLE or with TRAINC_CONV=off: the caller
 * then runs its loops. */
int rt_col2im_s1(long BC, long H, long W, long kh, long kw, long ph, long pw, long dh, long dw,
                 const float *col, float *dx);

/* ==== rt_act.c: tanh and sigmoid over arrays (float: rt_act.h's, vectorised) ==== */

#include "rt_act.h"

/* 1 where rt_act.c's vector forms run (AVX2 and FMA, unless TRAINC_ACT=off
 * or =avx2 caps them): set before main */
extern int rt_act_vector;

/* y[i] = tanh(x[i]); y may be x */
void rt_tanh_n(real *y, const real *x, long n);

/* y[i] = sigmoid(x[i]); y may be x. Inline: the generated step calls it on
 * a small product's output, which then stays in registers on both sides
 * (a call took it through memory twice, and the loss's values after it:
 * xor's step 75 -> 72 ns, alternated runs) */
static inline __attribute__((always_inline)) void rt_sigmoid_n(real *y, const real *x, long n)
{
#ifdef RT_ACT_VECTOR
    if (rt_act_vector) {
        const long n4 = n / 4 * 4;
        for (long i = 0; i < n4; i += 4) rt_sigmoid4_at(y + i, x + i);
        for (long i = n4; i < n; i++) y[i] = rt_sigmoid(x[i]);
        return;
    }
#endif
    for (long i = 0; i < n; i++) y[i] = rt_sigmoid(x[i]);
}

#ifdef RT_ACT_VECTOR
/* 1 where a tiny net's training step runs with its tensors in registers
 * (gen/emit_tiny.c): AVX2 and FMA (rt_act_vector), unless
 * TRAINC_GENERIC_STEP=1 asks for the generic step (the same bits) */
extern int rt_tiny_step;
#endif
#include "rt_tiny.h"

/* ==== rt_fma.h: the optimizer updates' exact fma, and their x86-64-v3 and SSE2 builds ==== */

#include "rt_fma.h"

/* ==== rt_task.c: what a task makes of a model's outputs ==== */

/* (the model, as the generated model.c describes it) */
enum rt_task {
    RT_TASK_NONE,     /* a bare objective: loss only */
    RT_TASK_CLASSIFY, /* argmax over the output row */
    RT_TASK_BINARY,   /* probability >= 0.5 */
    RT_TASK_LOGIT,    /* logit >= 0 */
    RT_TASK_SIGN,     /* sign, labels in {-1, +1} */
    RT_TASK_REGRESS,  /* values */
};

/* Correct predictions in rows of out (per-row output of out_len values)
 * against labels y (label_len values per row). */
long rt_count_correct(int task, const real *out, int out_len, const real *y, int label_len,
                      long rows);

/* One row's outputs z (out_len values) as predictions: p gets class
 * probabilities (softmax of logits), a probability (sigmoid of a logit, or
 * the output itself) or the values; returns the class (0 for values). The
 * trainer's predict and the model.h API both read their rows through it. */
int rt_decide(int task, const real *z, int out_len, real *p);

/* Classes a task's predictions and labels fall in: the output length for
 * classification, 2 for a single binary/logit/sign output (class 0 is the
 * negative one), else 0 (no confusion matrix). */
int rt_task_classes(int task, int out_len, int label_len);
/* The class of a row's label (rt_task_classes order). */
int rt_label_class(int task, const real *y);
/* counts[true * k + predicted] += 1 for each row (k = rt_task_classes). */
void rt_confusion_add(int task, const real *out, int out_len, const real *y, int label_len,
                      long rows, long *counts);

/* ==== rt_schedule.c: ReduceLROnPlateau, the schedule that watches a metric ==== */

typedef struct rt_plateau {
    /* settings, as torch.optim.lr_scheduler.ReduceLROnPlateau */
    int mode_max;      /* 0: lower is better */
    int threshold_abs; /* 0: relative threshold */
    int monitor_loss;  /* 1: the training loss, 0: the validation loss */
    double factor, threshold, min_lr, eps;
    int patience, cooldown;
    /* state */
    int started, bad_epochs, cooldown_left;
    double best;
} rt_plateau;

/* After an epoch with this metric: the learning rate to use from now on. */
double rt_plateau_step(rt_plateau *p, double metric, double lr);

/* ==== rt_weights.c: weights files ==== */

/* A header (magic, format version, element size, model hash, counts), the
 * parameters, the standardisation statistics, and a CRC32 of all that;
 * written atomically. */
typedef struct rt_weights {
    real *params;
    long n_params;
    real *stats; /* mean then std, 2 * features values, or NULL */
    long n_stats;
} rt_weights;

int rt_weights_save(const char *path, const char *model_hash, const rt_weights *w, rt_error *err);
/* Loads into w's buffers; refuses another model, another element type or a
 * damaged file with a message that says which. */
int rt_weights_load(const char *path, const char *model_hash, rt_weights *w, rt_error *err);
/* The same from the bytes of a weights file in memory (name: for messages). */
int rt_weights_from_buffer(const void *buf, size_t len, const char *name, const char *model_hash,
                           rt_weights *w, rt_error *err);

/* ==== rt_checkpoint.c: checkpoints ==== */

/* Everything a run needs to go on exactly where it stopped; the same
 * header, checksum and atomic write as weights files. */
/* early stopping's state (kept in checkpoints so a resume is exact) */
typedef struct rt_early_stop {
    double best;        /* best monitored loss so far (INFINITY before the first epoch) */
    int64_t best_epoch; /* the epoch that reached it */
    int64_t wait;       /* epochs since then without improvement */
    int64_t stopped;    /* 1: the run stopped early; a resume trains no further */
} rt_early_stop;

typedef struct rt_train_state {
    int64_t step;  /* optimizer steps done */
    int64_t epoch; /* epochs finished */
    int64_t pos;   /* rows of the next epoch already trained (0: at an epoch boundary) */
    double base_lr;
    double loss_sum; /* the running figures of the epoch in progress */
    int64_t correct, seen;
    rt_rng rng;         /* the shuffling stream */
    rt_plateau plateau; /* a plateau schedule's state */
    rt_early_stop es;   /* early stopping's state */
    rt_rng aug_rng;     /* the augmentation stream */
    double norm_sum;    /* the epoch in progress: its steps' gradient norms summed */
    int64_t norm_steps;
    uint64_t seed; /* --seed: dropout's masks are drawn from it and the step */
} rt_train_state;

typedef struct rt_checkpoint {
    rt_train_state run;
    int32_t *order; /* the data order of the epoch in progress */
    int64_t n_order;
    real *params, *state, *stats;
    long n_params, n_state, n_stats;
    real *best; /* early stopping's best weights (n_best = 0: not kept) */
    long n_best;
} rt_checkpoint;

int rt_checkpoint_save(const char *path, const char *model_hash, const rt_checkpoint *c,
                       rt_error *err);
/* Loads into c's buffers (sizes as c says); refuses another model, another
 * element type, other sizes or a damaged file, saying which. */
int rt_checkpoint_load(const char *path, const char *model_hash, rt_checkpoint *c, rt_error *err);

/* ==== rt_lapack.c: the orthogonal initialiser; symmetric eigenvalues; the
 * Hessian from products and Newton's solve ==== */

/* torch.nn.init.orthogonal_ on p viewed as [rows x cols] (QR through
 * LAPACK); -1 if LAPACK fails. Draws rows * cols normals. */
int rt_init_orthogonal(rt_rng *rng, real *p, long rows, long cols, double gain);
/* The eigenvalues of the symmetric n x n matrix a (column-major; its lower
 * triangle is read, and a is overwritten) in ascending order in w, through
 * LAPACK's dsyevd; -1 (err says why) if it fails. */
int rt_eigen(double *a, long n, double *w, rt_error *err);
/* The eigenvalues of the symmetric tridiagonal matrix of diagonal d[0..n)
 * and off-diagonal e[0..n-1), ascending in w, through LAPACK's dstev (d and
 * e are kept); -1 (err says why) if it fails. */
int rt_eigen_tridiag(const double *d, const double *e, long n, double *w, rt_error *err);
/* The Hessian, n x n in double (column j = H e_j, from n products
 * product(ctx, e_j, column j)), symmetrised ((H + H^T)/2); *asym: the
 * largest |H_ij - H_ji| before, *scale: the largest |H_ij|. NULL if out of
 * memory. hessian --exact and Newton's step both build it here. */
double *rt_hessian_build(long n, void (*product)(void *ctx, const real *v, double *hv), void *ctx,
                         double *asym, double *scale);
/* How rt_newton_solve solved (H + damping I) d = g */
enum { RT_SOLVE_CHOLESKY = 1, RT_SOLVE_INDEFINITE, RT_SOLVE_SINGULAR };
/* d from (H + damping I) d = g, H symmetric n x n column-major (its lower
 * triangle and diagonal are overwritten): Cholesky (dpotrf, dpotrs) when
 * H + damping I is positive definite, else the symmetric indefinite solve
 * (dsysv, Bunch-Kaufman); returns which (RT_SOLVE_SINGULAR: an exactly zero
 * pivot, d untouched), -1 if LAPACK or memory fails (err says why). */
int rt_newton_solve(double *h, long n, double damping, const double *g, double *d, rt_error *err);

/* ==== rt_batch.c: the training loop's batches ==== */

/* Stratified data order: order[0..n) holds each class in proportion over
 * every stretch (within a row or two per class); the rows of each class in
 * a random order from rng when shuffle is set. cls[i] is row i's class in
 * [0, k); scratch holds n + 2k values. Allocates nothing. */
void rt_stratified_order(rt_rng *rng, const int32_t *cls, int32_t n, int k, int shuffle,
                         int32_t *order, int32_t *scratch);

/* Image augmentation of a training batch: each image (channels x height x
 * width values, C order) is padded by `crop` zeros on every side and cut
 * back to height x width at a random place, then mirrored left-right with
 * probability 1/2 when flip is set. */
typedef struct rt_augment {
    int channels, height, width;
    int crop, flip;
} rt_augment;
/* Draws per row, in order: the crop's row and column offsets (crop > 0),
 * then the flip (flip set). scratch holds one image. */
void rt_augment_batch(const rt_augment *a, rt_rng *rng, real *x, int rows, real *scratch);
/* dst = src shifted: dst(i, j) = src(i + dy - pad, j + dx - pad), 0 outside */
void rt_image_crop(const real *src, real *dst, int channels, int height, int width, int pad, int dy,
                   int dx);
/* left-right mirror in place */
void rt_image_flip(real *img, int channels, int height, int width);

/* ==== rt_sample.c: rows drawn with replacement ==== */

/* rows[0..count) drawn uniformly from [0, n) with replacement (n >= 1);
 * rt_rng_below, so without bias. */
void rt_sample_with_replacement(rt_rng *rng, int32_t n, int32_t *rows, int count);

/* ==== rt_progress.c: the progress line of a terminal; the trainer prints it ==== */

typedef struct rt_progress {
    double interval; /* seconds between redraws at least */
    double last;     /* time of the last redraw; 0: never (the first is due at once) */
} rt_progress;
/* 1 when a redraw is due at `now` (and notes it as done) */
int rt_progress_due(rt_progress *p, double now);
/* The line, at most `width` - 1 characters, no newline:
 * "epoch 3/10 [#####.....]  45%  loss 0.4123  51234 rows/s  ETA 0:12" */
void rt_progress_format(char *buf, size_t size, int width, int epoch, int epochs, long done,
                        long total, double loss, double rows_per_s, double eta_s);
/* Columns of the terminal on fd (80 if unknown). */
int rt_terminal_width(int fd);

/* ==== rt_svg.c: drawing primitives of the pictures ==== */

/* A growing text buffer: the SVG is built in memory, then written
 * atomically; oom: an allocation failed (the text is incomplete). */
typedef struct rt_svg_buf {
    char *s;
    size_t len, cap;
    int oom;
} rt_svg_buf;
void rt_svg_printf(rt_svg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* text content or an attribute value, XML-escaped; other bytes than
 * printable ASCII become '?' */
void rt_svg_text(rt_svg_buf *b, const char *t);
/* A step of 1, 2 or 5 times a power of ten giving about want ticks over span (0: none). */
double rt_svg_nice_step(double span, int want);
/* A tick label with the decimals the step needs; a short figure for legends. */
void rt_svg_tick_label(char *buf, size_t size, double v, double step);
void rt_svg_value_text(char *buf, size_t size, double v);

#define RT_SVG_INSET 8 /* data and ticks this far inside a plot's frame */
typedef struct rt_svg_axis {
    double lo, hi; /* the domain, in data units (log10 units when log) */
    int log;
    double step; /* between labelled ticks (in decades when log); 0: the
                  * values are beyond nice ticks, only the two ends are */
    int integer; /* ticks at whole numbers only (epochs) */
} rt_svg_axis;
/* A linear axis around [lo, hi] (finite), widened when flat, ending on
 * ticks; a log axis over whole decades around [lo, hi] (both > 0). */
rt_svg_axis rt_svg_linear_axis(double lo, double hi, int integer);
rt_svg_axis rt_svg_log_axis(double lo, double hi);
/* A linear axis's labelled ticks are rt_svg_tick(a, 0 .. rt_svg_ticks(a)). */
int rt_svg_ticks(const rt_svg_axis *a);
double rt_svg_tick(const rt_svg_axis *a, int k);
/* Where t (a value on the axis's scale: its log10 on a log axis) and where
 * the value v fall between pixels p0 and p1, RT_SVG_INSET inside them. */
double rt_svg_coord(const rt_svg_axis *a, double t, double p0, double p1);
double rt_svg_pos(const rt_svg_axis *a, double v, double p0, double p1);
/* The value axis of a plot area x0..x1, y0 (top)..y1: ticks, labels and
 * grid lines (a log axis: decades, faint lines at 2..9 times each). */
void rt_svg_value_grid(rt_svg_buf *b, const rt_svg_axis *ay, double x0, double x1, double y0,
                       double y1);
/* One tick of an x axis at x of a plot area y0 (top)..y1: its grid line,
 * its mark below the area and its label; and the axis's name (and tail)
 * centred under the labels. */
void rt_svg_x_tick(rt_svg_buf *b, double x, double y0, double y1, const char *label);
void rt_svg_x_name(rt_svg_buf *b, double x0, double x1, double y1, const char *name,
                   const char *tail);
/* A picture's start: the svg element, the title "<name><title_tail>", the
 * heading "<name><heading_tail>" at x = left, and the subtitle's <text>
 * opened for the caller to fill and close. */
void rt_svg_begin(rt_svg_buf *b, int width, int height, const char *font, int left,
                  const char *name, const char *title_tail, const char *heading_tail);
/* Writes the picture atomically (not when it ran out of memory), frees it. */
int rt_svg_finish(rt_svg_buf *b, const char *path, rt_error *err);
/* A panel's head: its title, "log scale" when log, and the plot area's
 * frame; it opens a <g> the caller closes. */
void rt_svg_panel_head(rt_svg_buf *b, const char *title, int log, double left, double top,
                       double x0, double x1, double y0, double y1);

/* ==== rt_plot.c: training curves ==== */

/* A metrics CSV (rt_metrics_read) drawn as one self-contained SVG file. */
typedef struct rt_plot_options {
    const char *title;  /* the model's name */
    const char *source; /* the metrics file, named in the subtitle and errors */
    int no_accuracy;    /* leave out the accuracy panel (regression) */
} rt_plot_options;

/* Panels of loss (training, validation), accuracy and lr against the epoch,
 * those the columns have values for; NaN and inf are gaps; a log scale when
 * the values span two decades. Written atomically. */
int rt_plot_svg(const rt_metrics *m, const char *svg_path, const rt_plot_options *o, rt_error *err);
/* rt_metrics_read, then rt_plot_svg */
int rt_plot_metrics(const char *csv_path, const char *svg_path, const rt_plot_options *o,
                    rt_error *err);
/* lr-find's picture (the rows of its CSV: step, lr, loss, smoothed): both
 * losses against the lr on a log axis, a line at the suggested lr (NaN:
 * none). Written atomically. */
int rt_plot_lr_find(const rt_metrics *m, double suggested, const char *svg_path,
                    const rt_plot_options *o, rt_error *err);
/* The picture's default name: metrics.csv -> metrics.svg beside it */
void rt_plot_path_beside(const char *csv_path, char *svg_path, size_t size);

/* ==== rt_plot_layers.c: the layer metrics picture ==== */

/* A layer metrics file (train --layer-metrics): a column named
 * <tensor>:grad_norm. rt_plot_metrics draws such a file with
 * rt_plot_layers_svg. */
int rt_plot_is_layers(const rt_metrics *m);
/* Panels, each against the layers from input to output at a few rows
 * (the first and last rows with a gradient, and between): the gradient
 * norm of each weight tensor (log scale), its update-to-weight ratio (log,
 * with the 1e-3 rule of thumb), and each activation's dead fraction (its
 * saturated fraction for tanh, sigmoid, hardtanh). Written atomically. */
int rt_plot_layers_svg(const rt_metrics *m, const char *svg_path, const rt_plot_options *o,
                       rt_error *err);
/* ==== rt_plot_xy.c: several series on shared axes ==== */

/* n points (x[i], y[i]); lo and hi NULL, or a bar from lo[i] to hi[i] at
 * each point; color: the palette's index (a series keeps its colour in
 * every panel). NaN and inf are gaps. */
typedef struct rt_xy_series {
    const char *label;
    int n, color;
    const double *x, *y, *lo, *hi;
} rt_xy_series;
typedef struct rt_xy_panel {
    const char *title, *ylabel; /* ylabel NULL: the title */
    const rt_xy_series *s;
    int ns;
    const double *marks; /* nmarks x values marked by a red cross on the axis (sweeps: */
    int nmarks;          /* the lrs that diverged), named by marks_label */
    const char *marks_label;
} rt_xy_panel;
typedef struct rt_xy_figure {
    const char *title, *subtitle, *xlabel;
    int log_x;       /* the x axis in decades (values <= 0 are left out) */
    int legend_last; /* the legend gives each series' last value */
    const rt_xy_panel *panels;
    int np;
} rt_xy_figure;
/* The panels one above the other on one x axis; a panel's values on a log
 * scale when all are positive and span two decades; a series of more
 * points than two a pixel is drawn as each pixel column's mean. Written
 * atomically. */
int rt_plot_xy_svg(const rt_xy_figure *fig, const char *svg_path, rt_error *err);
/* the colour of palette index i ("#rrggbb") */
const char *rt_plot_xy_color(int i);
/* ==== rt_plot_contour.c: a function of two variables as a contour picture ==== */

/* a path drawn over the contours: n points (x[i], y[i]); NaN: a gap */
typedef struct rt_contour_path {
    const char *label;
    int n;
    const double *x, *y;
} rt_contour_path;
typedef struct rt_contour_figure {
    const char *title, *subtitle, *xlabel, *ylabel, *zlabel;
    int nx, ny;                /* the grid: z[j * nx + i] is the value at (xs[i], ys[j]) */
    const double *xs, *ys, *z; /* xs, ys rising; z not finite: a grey cell */
    int has_centre;            /* a red cross at (cx, cy), named centre_label */
    double cx, cy;
    const char *centre_label;
    const rt_contour_path *paths;
    int np;
} rt_contour_figure;
/* Filled bands between contour levels at the grid's quantiles, the contour
 * lines, the paths and the centre; a colour bar with the levels' values.
 * Written atomically. */
int rt_plot_contour_svg(const rt_contour_figure *f, const char *path, rt_error *err);
/* ==== rt_plot_hist.c: a histogram of values ==== */

/* n values (not finite: left out) in bins of equal width over their range
 * (bins 0: 2 sqrt(n), within 10..80); the counts on a log scale when they
 * span two decades; a dashed red line at each of the nmarks values within
 * the range, named by mark_labels[i] (NULL: none). */
typedef struct rt_hist_figure {
    const char *title, *subtitle, *panel, *xlabel;
    const double *v;
    long n;
    int bins;
    const double *marks;
    const char *const *mark_labels;
    int nmarks;
} rt_hist_figure;
/* Written atomically. */
int rt_plot_hist_svg(const rt_hist_figure *h, const char *path, rt_error *err);
/* ==== rt_lr_find.c: the learning-rate range test ==== */

/* lr_i = from * (to / from)^(i / (steps - 1)), i = 0 .. steps - 1 */
double rt_lr_range(double from, double to, long i, long steps);
/* fastai's smoothed loss: an exponential moving average with beta 0.98,
 * debiased (divided by 1 - beta^n after n losses); best: the lowest so far */
#define RT_LR_BETA 0.98
typedef struct rt_lr_smooth {
    double avg, best;
    long n;
} rt_lr_smooth;
void rt_lr_smooth_init(rt_lr_smooth *s);
/* Adds a step's loss; returns the smoothed loss (and updates best). */
double rt_lr_smooth_add(rt_lr_smooth *s, double loss);
/* 1 when the test stops at this step: the smoothed loss is not finite or
 * passes 4 x the best so far (best + 3 |best|: the same for a positive loss) */
int rt_lr_smooth_stop(const rt_lr_smooth *s, double smoothed);
/* The suggested lr of a recorded curve of n steps (lr[i], smoothed[i]):
 * the lr of the lowest smoothed loss, divided by 10 (Smith's and fastai's
 * "minimum"), within the window that leaves out the first tenth of the
 * steps (ceil(n/10)) and the last 5, and never below the window's first lr.
 * NaN when the window holds fewer than 2 steps. */
double rt_lr_suggest(const double *lr, const double *smoothed, long n);
/* ==== rt_profile.c: train --profile's timing of each op block ==== */

/* Seconds per op block of the step, accumulated: model.c adds op k's time
 * to rt_prof_acc[k] when this is not NULL (the trainer's --profile sets it
 * around the steps it times) */
extern double *rt_prof_acc;
/* block k began at start (PROFILE_END, when timing; PROFILE_BEGIN reads
 * rt_now); with shards the pool's threads add to the same entry, so the
 * sum is taken atomically */
static inline void rt_prof_end(int k, double start)
{
    if (!rt_prof_acc) return;
    const double took = rt_now() - start;
    double seen, sum;
    __atomic_load(&rt_prof_acc[k], &seen, __ATOMIC_RELAXED);
    do {
        sum = seen + took;
    } while (!__atomic_compare_exchange(&rt_prof_acc[k], &seen, &sum, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
}

/* ==== rt_pool.c: the shard plan's step on a pool of threads ==== */

/* train { shards = S } (gen/shards.c): a step of n rows is min(S, n)
 * shards, the first n % that many one row larger; shard k's step runs
 * model.c's variant of its rows into its own gradient buffer and arena.
 * Then, as a step of its own (a later multi-process reduce replaces only
 * it), the gradients are combined element by element in shard order:
 *   grad = (((n0 g0 + n1 g1) + n2 g2) + ...) / n   (in double)
 * and the loss the same way: the rows-weighted mean of the shards' mean
 * losses. The numbers depend on S only: any thread count gives them. */
typedef real (*rt_step_fn)(int rows, real *param, real *grad, const real *x, const real *y,
                           real *out, real *arena, uint64_t noise);
/* Synchronised batch norm (gen/shards.h): a shard's step in phases
 * 0..points; phase p < points ends with the shard's sums of sync point p
 * in partial[at[p] .. at[p + 1]); the pool adds every shard's in shard
 * order, (((s0 + s1) + s2) + ...) in double, into total, runs synced(p)
 * once (the step's statistics, the running statistics), then phase p + 1
 * of every shard, which reads total. */
typedef real (*rt_phase_fn)(int rows, real *param, real *grad, const real *x, const real *y,
                            real *out, real *arena, uint64_t noise, int phase, int step_rows,
                            double *partial, const double *total);
typedef void (*rt_synced_fn)(int point, int step_rows, real *param, double *total);
typedef struct rt_shard_plan {
    rt_step_fn step; /* dispatches to the variant of `rows` rows; NaN when none */
    int shards;
    long n_params, arena, features, label_len, output_len;
    /* with batch norm: step is NULL and the shards run phase by phase */
    rt_phase_fn phase_step;
    int points;     /* sync points a step */
    const long *at; /* points + 1 offsets into partial and total (doubles) */
    rt_synced_fn synced;
} rt_shard_plan;
/* Rows of shard k of a step of n rows (the count: rt_shard_count) */
int rt_shard_count(int shards, int n);
int rt_shard_rows(int shards, int n, int k);
/* Makes the pool (threads - 1 workers beside the caller) and every
 * shard's scratch, once; later calls change nothing. 0, or -1 when out of
 * memory or threads. */
int rt_shards_start(const rt_shard_plan *p, int threads);
/* One sharded step, as model_train_step (starts a 1-thread pool on first
 * use if rt_shards_start was not called) */
real rt_shards_train(const rt_shard_plan *p, int rows, real *param, real *grad, const real *x,
                     const real *y, real *out, real *arena, uint64_t noise);
/* The ordered reduce above of the shards' gradients g[k] (n_params each)
 * over elements [lo, hi) */
void rt_shards_reduce(real *grad, const real *const *g, const int *rows, int count, int n, long lo,
                      long hi);
/* ... and of their mean losses: sum of rows[k] loss[k] in shard order, / n */
double rt_shards_loss(const real *loss, const int *rows, int count, int n);
/* Several processes (the -mpi trainer: templates/trainer/mpi.c). This one
 * runs the shards k with k % ranks == rank (on its threads); then, instead
 * of the reduce, combine gets the step and must leave grad, out (all the
 * step's rows) and the returned loss the whole step's, the same on every
 * rank; on the rank that sums, reduce() runs the ordered reduce above
 * over grads into grad with the pool's threads. */
typedef struct rt_shard_exchange {
    int count, rows;                     /* shards of the step, its rows */
    const int *shard_rows, *shard_start; /* per shard */
    real *const *grads;                  /* per shard, n_params each */
    real *loss;                          /* per shard: its mean loss */
    real *grad, *out;                    /* the step's */
    long n_params, output_len;
    void (*reduce)(void);
} rt_shard_exchange;
typedef real (*rt_shards_combine_fn)(const rt_shard_exchange *ex);
/* ranks <= 1 or no combine: one process, every shard here (the default) */
void rt_shards_ranks(int rank, int ranks, rt_shards_combine_fn combine);
/* ... and at each sync point of batch norm, sync must leave total[lo, hi)
 * the ordered sum of every shard's partial[lo, hi), the same bits on every
 * rank; on the rank that sums, sum() runs it (rt_shards_sum) */
typedef struct rt_sync_exchange {
    int count;               /* shards of the step */
    double *const *partials; /* per shard */
    double *total;
    long lo, hi;
    void (*sum)(void);
} rt_sync_exchange;
typedef void (*rt_shards_sync_fn)(const rt_sync_exchange *ex);
void rt_shards_ranks_sync(rt_shards_sync_fn sync);
/* total[i] = (((p[0][i] + p[1][i]) + p[2][i]) + ...) for i in [lo, hi) */
void rt_shards_sum(double *total, const double *const *p, int count, long lo, long hi);

#endif
