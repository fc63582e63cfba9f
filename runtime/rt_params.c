/* rt_params.c — parameters by name (fine-tuning, transfer learning): their
 * shapes, the counts among them (kept as real, saved as int64), and loading
 * a folder of .npy files, one per parameter. */
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

int64_t rt_count_value(real v)
{
    double d = (double)v;
    return d >= 0 ? (int64_t)(d <= RT_COUNT_MAX ? floor(d + 0.5) : RT_COUNT_MAX) : 0;
}

int rt_counts_whole(const real *v, int64_t n, int64_t *at)
{
    for (*at = 0; *at < n; (*at)++)
        if (!(v[*at] >= 0 && v[*at] <= RT_COUNT_MAX && v[*at] == floor(v[*at]))) return 0;
    return 1;
}

void rt_param_dims(const rt_param_info *p, int64_t *dims)
{
    for (int k = 0; k < p->rank; k++) dims[k] = p->dim[k];
}

int rt_params_load_npy_dir(const char *dir, const rt_param_info *params, int n, real *buf,
                           int *loaded, rt_error *err)
{
    *loaded = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        int64_t dims[4];
        if (snprintf(path, sizeof path, "%s/%s.npy", dir, params[i].name) >= (int)sizeof path)
            return rt_fail(err, "%s: path too long", dir);
        if (access(path, F_OK)) continue; /* transfer learning: only what is there */
        rt_param_dims(&params[i], dims);
        if (rt_npy_read_shaped(path, buf + params[i].offset, params[i].rank, dims, params[i].count,
                               err))
            return -1;
        (*loaded)++;
    }
    return 0;
}
