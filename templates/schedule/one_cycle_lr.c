/* ---- learning rate: {{torch}} ({{where}}) ----
 * One cycle: from max_lr / div_factor up to max_lr over pct_start of the
 * run, then down to max_lr / div_factor / final_div_factor, each phase a
 * cosine  lr = end + (start - end) (1 + cos(pi p)) / 2,  p = progress in the phase.
 * max_lr = {{max_lr}}, total_steps = {{total_steps}} (0: the run), pct_start = {{pct_start}},
 * div_factor = {{div_factor}}, final_div_factor = {{final_div_factor}}. Past the cycle's last step,
 * e > total_steps - 1 (where torch refuses to step), lr stays at its value there; with
 * pct_start * total_steps = 1 the rise is empty (torch divides by zero) and lr starts at max_lr.
 * torch's OneCycleLR also cycles the momentum; this schedule sets the learning rate only. */
static double cos_anneal(double start, double end, double p)
{
    return end + (start - end) / 2 * (1 + cos(M_PI * p));
}

double model_lr(long e, double base, long total)
{
    const double steps = {{total_steps}} > 0 ? {{total_steps}} : (double)total;
    const double initial = {{max_lr}} / {{div_factor}}, min_lr = initial / {{final_div_factor}};
    const double up_end = {{pct_start}} * steps - 1, down_end = steps - 1;
    const double x = (double)e < down_end ? (double)e : down_end;
    (void)base;
    if (x <= up_end && up_end > 0) return cos_anneal(initial, {{max_lr}}, x / up_end);
    return cos_anneal({{max_lr}}, min_lr, (x - up_end) / (down_end - up_end));
}
