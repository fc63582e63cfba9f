/* ---- learning rate: {{torch}} ({{where}}) ----
 * Divide by 1/gamma every step_size {{every}}s (the staircase):
 *   lr(e) = base * gamma^floor(e / step_size),  step_size = {{step_size}}, gamma = {{gamma}} */
double model_lr(long e, double base, long total)
{
    (void)total;
    return base * pow({{gamma}}, floor((double)e / {{step_size}}));
}
