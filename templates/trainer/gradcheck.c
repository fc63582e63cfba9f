/* {{header}}
 *
 * gradcheck.c — the gradcheck command of the trainer of {{name}}: the
 * gradients of the backward pass against central finite differences. */
#include <math.h>
#include <stdio.h>

#include "trainer.h"

/* Central differences on the first batch of the training data: for each
 * parameter value p, (L(p + h) - L(p - h)) / 2h against the backward pass. */
int tr_cmd_gradcheck(const options *o)
{
    buffers b = tr_alloc_buffers(MODEL_N_TRAIN);
    data d = tr_load_data(&b, 1, 0);
    rt_rng rng;
    rt_rng_seed(&rng, o->seed);
    model_init(b.param, &rng);
    int rows = MODEL_N_TRAIN >= MODEL_BATCH ? MODEL_BATCH : MODEL_REMAINDER;
    for (int r = 0; r < rows; r++) b.order[r] = r;
    rt_data_gather(&d.train, b.order, rows, b.x, b.y);
    real *analytic = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    real *scratch = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    /* the masks of the first training step, the same in every evaluation */
    const uint64_t noise = rt_noise_key(o->seed, 1);
    double loss = model_train_step(rows, b.param, analytic, b.x, b.y, b.out, b.arena, noise);
    const double h = sizeof(real) == 8 ? 1e-6 : 1e-2;
    const double tol = o->tol >= 0 ? o->tol : sizeof(real) == 8 ? 1e-6 : 2e-2;
    double worst = 0;
    /* relative error |a - n| / max(|a|, |n|, floor): the floor keeps values
     * near zero from dividing by rounding noise, which grows with |loss| / h */
    const double floor_ = 1e-3 * (fabs(loss) > 1 ? fabs(loss) : 1);
    for (int i = 0; i < model_n_param_tensors; i++) {
        const rt_param_info *p = &model_params[i];
        double tensor_worst = 0;
        if (!p->trainable) {
            if (!o->quiet)
                printf("%-28s %s, not checked\n", p->name,
                       p->buffer ? "running statistic" : "frozen");
            continue;
        }
        long stride = p->numel > 200 ? p->numel / 200 : 1; /* at most ~200 values per tensor */
        for (long k = 0; k < p->numel; k += stride) {
            real *v = b.param + p->offset + k, saved = *v;
            *v = (real)(saved + h);
            double up = model_train_step(rows, b.param, scratch, b.x, b.y, b.out, b.arena, noise);
            *v = (real)(saved - h);
            double down = model_train_step(rows, b.param, scratch, b.x, b.y, b.out, b.arena, noise);
            *v = saved;
            double num = (up - down) / (2 * h), an = analytic[p->offset + k];
            double den = fabs(an) > fabs(num) ? fabs(an) : fabs(num);
            double rel = fabs(an - num) / (den > floor_ ? den : floor_);
            if (rel > tensor_worst) tensor_worst = rel;
        }
        if (!o->quiet) printf("%-28s max relative error %.3g\n", p->name, tensor_worst);
        if (tensor_worst > worst) worst = tensor_worst;
    }
    printf("gradcheck %s: max relative error %.3g (tolerance %.3g, h %.0e, floor %.2g, %s)\n",
           worst <= tol ? "ok" : "FAILED", worst, tol, h, floor_, RT_REAL_NAME);
    return worst <= tol ? 0 : 1;
}
