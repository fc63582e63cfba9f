/* ---- learning rate: {{torch}} ({{where}}) ----
 * A linear ramp of the factor from start_factor to end_factor over
 * total_iters {{every}}s, then constant:
 *   lr(e) = base * (s + (f - s) * min(e, T) / T),  s = {{start_factor}}, f = {{end_factor}}, T = {{total_iters}}
 * (T = 0: base * s throughout, as torch's LinearLR) */
double model_lr(long e, double base, long total)
{
    const double s = {{start_factor}}, f = {{end_factor}}, T = {{total_iters}};
    (void)total;
    if (T <= 0) return base * s;
    return base * (s + (f - s) * ((double)e < T ? (double)e : T) / T);
}
