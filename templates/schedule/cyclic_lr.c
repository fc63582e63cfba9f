/* ---- learning rate: {{torch}} ({{where}}) ----
 * The triangle between base_lr and max_lr: up over step_size_up {{every}}s,
 * down over step_size_down (0: the same), again and again:
 *   c = floor(1 + e / (up + down)),  x = 1 + e / (up + down) - c
 *   rise while x <= up / (up + down), fall after
 * base_lr = {{base_lr}}, max_lr = {{max_lr}}, up = {{step_size_up}}, down = {{step_size_down}}.
 * As torch's CyclicLR, the optimizer's own lr is replaced by base_lr. */
double model_lr(long e, double base, long total)
{
    const double lo = {{base_lr}}, hi = {{max_lr}}, up = {{step_size_up}};
    const double down = {{step_size_down}} > 0 ? {{step_size_down}} : up;
    const double size = up + down, ratio = up / size;
    double cycle = floor(1 + (double)e / size), x = 1 + (double)e / size - cycle;
    double scale = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    (void)base, (void)total;
    return lo + (hi - lo) * scale;
}
