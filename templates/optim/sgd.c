/* ---- update: plain SGD ({{where}}) ----
 * p <- p - lr * g, for every value of the flat buffer at once.
 * torch.optim.SGD(lr={{lr}}) computes p.add_(g, alpha=-lr), a fused
 * multiply-add; rt_axpy_fma rounds the same way (AVX2 when the CPU has it). */
void model_update(real *param, const real *grad, real *state, real lr, long t)
{
    (void)state;
    (void)t;
    rt_axpy_fma(param, grad, -lr, MODEL_N_PARAMS);
}
