/* ---- learning rate: {{torch}} ({{where}}) ----
 * lr(e) = base / sqrt(t), t = e + 1 the {{every}} being trained (1, 2, ...) */
double model_lr(long e, double base, long total)
{
    (void)total;
    return base / sqrt((double)e + 1);
}
