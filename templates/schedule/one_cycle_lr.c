/* ---- learning rate: {{torch}} ({{where}}) ----
 * One cycle: from max_lr / div_factor up to max_lr over pct_start of the
 * run, then down to max_lr / div_factor / final_div_factor, each phase a
 * cosine  lr = end + (start - end) (1 + cos(pi p)) / 2,  p = progress in the phase.
 * max_lr = {{max_lr}}, total_steps = {{total_steps}} (0: the run), pct_start = {{pct_start}},
 * div_factor = {{div_factor}}, final_div_factor = {{final_div_factor}}. Past the cycle's last step,
 * e > total_steps - 1 (where torch refuses to step), lr stays at its value there; with
 * pct_start * total_steps = 1 the rise is empty (torch divides by zero) and lr starts at max_lr.
 * The momentum goes the other way (cycle_momentum = {{cycle_momentum}}): the same cosines
 * from max_momentum = {{max_momentum}} down to base_momentum = {{base_momentum}} while lr
 * rises, back up while it falls; it replaces the optimizer's momentum (SGD, RMSprop) or
 * beta1 (the Adam family), as torch's. */
static double cos_anneal(double start, double end, double p)
{
    return end + (start - end) / 2 * (1 + cos(M_PI * p));
}

/* the value at e of a cycle from `start` to `peak` (the rise) to `end` (the fall) */
static double one_cycle(long e, long total, double start, double peak, double end)
{
    const double steps = {{total_steps}} > 0 ? {{total_steps}} : (double)total;
    const double up_end = {{pct_start}} * steps - 1, down_end = steps - 1;
    const double x = (double)e < down_end ? (double)e : down_end;
    if (x <= up_end && up_end > 0) return cos_anneal(start, peak, x / up_end);
    return cos_anneal(peak, end, (x - up_end) / (down_end - up_end));
}

double model_lr(long e, double base, long total)
{
    const double initial = {{max_lr}} / {{div_factor}}, min_lr = initial / {{final_div_factor}};
    (void)base;
    return one_cycle(e, total, initial, {{max_lr}}, min_lr);
}

/* the momentum of {{every}} e (cycle_momentum = false: the optimizer's own) */
double model_momentum(long e, long total)
{
    if (!{{cycle_momentum}}) return {{optimizer_momentum}};
    return one_cycle(e, total, {{max_momentum}}, {{base_momentum}}, {{max_momentum}});
}
