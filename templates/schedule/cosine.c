/* ---- learning rate: {{torch}} ({{where}}) ----
 * Cosine decay from base to eta_min over T_max {{every}}s (T_max = 0: the
 * whole run), after `warmup` {{every}}s of linear warmup from base / warmup:
 *   warmup:  lr(e) = base * (e + 1) / warmup                          e < W
 *   decay:   lr(e) = eta_min + (base - eta_min) (1 + cos(pi (e - W) / (T - W))) / 2
 * eta_min = {{eta_min}}, W = {{warmup}}, T = {{T_max}}. PyTorch computes the
 * decay recursively; the closed form agrees to rounding. */
double model_lr(long e, double base, long total)
{
    const double eta_min = {{eta_min}}, W = {{warmup}};
    const double T = {{T_max}} > 0 ? {{T_max}} : (double)total;
    if ((double)e < W) return base * ((double)e + 1) / W;
    if (T <= W) return base;
    return eta_min + (base - eta_min) * (1 + cos(M_PI * ((double)e - W) / (T - W))) / 2;
}
