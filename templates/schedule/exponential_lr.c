/* ---- learning rate: {{torch}} ({{where}}) ----
 * lr(e) = base * gamma^e,  gamma = {{gamma}} (e in {{every}}s) */
double model_lr(long e, double base, long total)
{
    (void)total;
    return base * pow({{gamma}}, (double)e);
}
