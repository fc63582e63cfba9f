/* ---- learning rate: {{torch}} ({{where}}) ----
 * The triangle between base_lr and max_lr: up over step_size_up {{every}}s,
 * down over step_size_down (0: the same), again and again:
 *   c = floor(1 + e / (up + down)),  x = 1 + e / (up + down) - c
 *   rise while x <= up / (up + down), fall after
 * base_lr = {{base_lr}}, max_lr = {{max_lr}}, up = {{step_size_up}}, down = {{step_size_down}}.
 * As torch's CyclicLR, the optimizer's own lr is replaced by base_lr.
 * The momentum goes the other way (cycle_momentum = {{cycle_momentum}}): from max_momentum
 * = {{max_momentum}} down to base_momentum = {{base_momentum}} while lr rises, back while it
 * falls; it replaces the optimizer's momentum (torch 1.13: SGD and RMSprop only). */
static double cyclic_scale(long e)
{
    const double up = {{step_size_up}}, down = {{step_size_down}} > 0 ? {{step_size_down}} : up;
    const double size = up + down, ratio = up / size;
    double cycle = floor(1 + (double)e / size), x = 1 + (double)e / size - cycle;
    return x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
}

double model_lr(long e, double base, long total)
{
    const double lo = {{base_lr}}, hi = {{max_lr}};
    (void)base, (void)total;
    return lo + (hi - lo) * cyclic_scale(e);
}

/* the momentum of {{every}} e (cycle_momentum = false: the optimizer's own) */
double model_momentum(long e, long total)
{
    const double lo = {{base_momentum}}, hi = {{max_momentum}};
    (void)total;
    if (!{{cycle_momentum}}) return {{optimizer_momentum}};
    return hi - (hi - lo) * cyclic_scale(e);
}
