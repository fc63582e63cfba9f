/* rt.h — the runtime every generated trainer links: element type, errors,
 * RNG, initialisers, data readers, SIMD helpers, files. No Lua, no globals
 * shared with the generated code beyond what is declared here. */
#ifndef RT_H
#define RT_H

#include <stddef.h>
#include <stdint.h>

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

/* ---- errors: library code never prints or exits; it fills an rt_error and
 * returns -1. Messages name the file and what was wrong. */
typedef struct rt_error {
    char msg[1024];
} rt_error;

int rt_fail(rt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- random numbers: MT19937 seeded like torch.manual_seed(s) and
 * numpy.random.RandomState(s), so uniform draws reproduce PyTorch's. */
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

/* ---- counter-based noise for dropout masks: a pure function of (seed,
 * step, mask, element), so no state is saved in checkpoints, a resumed run
 * draws the masks the uninterrupted one would, any thread count gives the
 * same masks, and one key gives the same masks again (gradient checks, the
 * backward pass). Built on SplitMix64's output function:
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

/* ---- initialisers: the generator computes bounds and stds from the fans
 * (gains as torch.nn.init.calculate_gain); the runtime only draws. */
/* p[i] = (real)(u * (b - a) + a), u = uniform24, as torch's uniform_(a, b)
 * (bit for bit: float follows torch's float32 rounding of a, b and b - a;
 * -DTRAINC_DOUBLE follows torch's float64 uniform_, 53-bit u and an fma) */
void rt_init_uniform(rt_rng *rng, real *p, long n, double a, double b);
void rt_init_normal(rt_rng *rng, real *p, long n, double mean, double std);
void rt_init_constant(real *p, long n, double value);
/* torch.nn.init.orthogonal_ on p viewed as [rows x cols] (rt_lapack.c, QR
 * through LAPACK); -1 if LAPACK fails. Draws rows * cols normals. */
int rt_init_orthogonal(rt_rng *rng, real *p, long rows, long cols, double gain);

/* ---- data ---- */
enum rt_source_kind {
    RT_SRC_NONE = 0,
    RT_SRC_IDX,     /* images + labels IDX files, raw or .gz */
    RT_SRC_CSV,     /* numeric CSV, optional header, label column by name or index */
    RT_SRC_XOR,     /* the 4 XOR points (n > 4: noisy copies of them) */
    RT_SRC_SPIRALS, /* two interleaved spirals, classes 0/1, 2 features */
    RT_SRC_LINREG,  /* y = X w* + noise, X ~ N(0,1), w* ~ N(0,1) */
};

typedef struct rt_source {
    int kind;           /* enum rt_source_kind */
    const char *images; /* IDX: features file */
    const char *labels; /* IDX: labels file */
    const char *path;   /* CSV: file */
    const char *label;  /* CSV: label column name, or NULL */
    int label_col;      /* CSV: label column index (0-based) when label is NULL; -1 = none */
    int header;         /* CSV: 1 yes, 0 no, -1 detect (first row non-numeric) */
    int n;              /* synthetic: rows */
    int d;              /* synthetic: features (linreg) */
    double noise;       /* synthetic: noise std */
    uint32_t seed;      /* synthetic: seed; linreg's w* comes from wseed */
    uint32_t wseed;
    int classes; /* rt_data_probe: check CSV labels are classes in [0, classes) (0: no check) */
} rt_source;

typedef struct rt_dataset {
    int32_t n;    /* rows */
    int32_t d;    /* features per row */
    int32_t ylen; /* label values per row: 1 for class indices; 0 = no labels */
    real *x;      /* [n][d] */
    real *y;      /* [n][ylen]; class indices stored as exact integers */
} rt_dataset;

/* Reads rows and feature count without loading (trainc uses this at
 * generation time to fix the shapes). */
int rt_data_probe(const rt_source *src, int32_t *n, int32_t *d, rt_error *err);

/* Loads a source. d_expected / ylen are checked against the file; classes > 0
 * checks every label is an integer in [0, classes). */
int rt_data_load(const rt_source *src, int32_t d_expected, int32_t ylen, int32_t classes,
                 rt_dataset *out, rt_error *err);

/* CSV of features only (predict): every row must have d_expected numbers. */
int rt_csv_read_features(const char *path, int32_t d_expected, rt_dataset *out, rt_error *err);

void rt_data_free(rt_dataset *ds);
void rt_data_scale(rt_dataset *ds, double scale);
/* z-score statistics from ds (per feature; std of 0 is taken as 1) */
void rt_standardize_fit(const rt_dataset *ds, real *mean, real *std);
void rt_standardize_apply(rt_dataset *ds, const real *mean, const real *std);
/* Moves the last `count` rows of ds into valid (ds keeps the first n-count). */
int rt_data_split(rt_dataset *ds, int32_t count, rt_dataset *valid, rt_error *err);
/* Copies rows idx[0..b) into x and y (the batch buffers). */
void rt_data_gather(const rt_dataset *ds, const int32_t *idx, int32_t b, real *x, real *y);

/* ---- files ---- */
/* Writes a NumPy .npy file (C order, dtype of real) atomically. */
int rt_npy_write(const char *path, const real *data, int rank, const int64_t *dims, rt_error *err);
/* Reads a .npy file of float32/float64 into data (count must equal the file's). */
int rt_npy_read(const char *path, real *data, int64_t count, rt_error *err);
/* Writes buf to path via a temporary file, fsync and rename. */
int rt_write_atomic(const char *path, const void *buf, size_t len, rt_error *err);

/* ---- SIMD helpers (AVX2/FMA when the CPU has it, portable C otherwise) ---- */
/* p[i] = fma(g[i], -lr, p[i]): the rounding of torch's p.add_(g, alpha=-lr) */
void rt_axpy_fma(real *p, const real *g, real alpha, long n);
real rt_dot(const real *a, const real *b, long n);
/* sum of squares, accumulated in double */
double rt_sumsq(const real *a, long n);
int rt_cpu_has_avx2(void);

/* ---- the model, as the generated model.c describes it ---- */
enum rt_task {
    RT_TASK_NONE,     /* a bare objective: loss only */
    RT_TASK_CLASSIFY, /* argmax over the output row */
    RT_TASK_BINARY,   /* probability >= 0.5 */
    RT_TASK_LOGIT,    /* logit >= 0 */
    RT_TASK_SIGN,     /* sign, labels in {-1, +1} */
    RT_TASK_REGRESS,  /* values */
};

typedef struct rt_param_info {
    const char *name; /* as the spec names it: "fc1.weight" */
    long offset;      /* in the flat buffer */
    long numel;
    int rank;
    int dim[4];
    int trainable; /* 0: frozen, the optimizer leaves it as loaded */
    int buffer;    /* 1: a running statistic (batch norm): not trained, checked or traced */
} rt_param_info;

/* Correct predictions in rows of out (per-row output of out_len values)
 * against labels y (label_len values per row). */
long rt_count_correct(int task, const real *out, int out_len, const real *y, int label_len,
                      long rows);

/* ---- ReduceLROnPlateau: the schedule that watches a metric ---- */
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

/* ---- checkpoints: everything a run needs to go on exactly where it
 * stopped; the same header, checksum and atomic write as weights files ---- */
typedef struct rt_train_state {
    int64_t step;  /* optimizer steps done */
    int64_t epoch; /* epochs finished */
    int64_t pos;   /* rows of the next epoch already trained (0: at an epoch boundary) */
    double base_lr;
    double loss_sum; /* the running figures of the epoch in progress */
    int64_t correct, seen;
    rt_rng rng;         /* the shuffling stream */
    rt_plateau plateau; /* a plateau schedule's state */
} rt_train_state;

typedef struct rt_checkpoint {
    rt_train_state run;
    int32_t *order; /* the data order of the epoch in progress */
    int64_t n_order;
    real *params, *state, *stats;
    long n_params, n_state, n_stats;
} rt_checkpoint;

int rt_checkpoint_save(const char *path, const char *model_hash, const rt_checkpoint *c, rt_error *err);
/* Loads into c's buffers (sizes as c says); refuses another model, another
 * element type, other sizes or a damaged file, saying which. */
int rt_checkpoint_load(const char *path, const char *model_hash, rt_checkpoint *c, rt_error *err);

/* ---- weights files: a header (magic, format version, element size, model
 * hash, counts), the parameters, the standardisation statistics, and a CRC32
 * of all that; written atomically. */
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

/* ---- time ---- */
double rt_now(void); /* seconds, monotonic */

#endif
