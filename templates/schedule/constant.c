/* ---- learning rate: constant ----
 * lr(e) = base: the optimizer's lr at every step. */
double model_lr(long e, double base, long total)
{
    (void)e, (void)total;
    return base;
}
