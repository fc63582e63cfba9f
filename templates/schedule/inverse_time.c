/* ---- learning rate: {{torch}} ({{where}}) ----
 * The "1/t" decay: lr(e) = base / (1 + k e),  k = {{k}} (e in {{every}}s) */
double model_lr(long e, double base, long total)
{
    (void)total;
    return base / (1 + {{k}} * (double)e);
}
