/* ---- learning rate: {{torch}} ({{where}}) ----
 * lr(e) = base * e^(-k e),  k = {{k}} (e in {{every}}s): ExponentialLR with
 * gamma = e^-k */
double model_lr(long e, double base, long total)
{
    (void)total;
    return base * exp(-{{k}} * (double)e);
}
