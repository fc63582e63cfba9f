/* ---- learning rate: {{torch}} ({{where}}) ----
 * Multiply by gamma at each milestone ({{every}}s {{milestones}}):
 *   lr(e) = base * gamma^(number of milestones <= e),  gamma = {{gamma}} */
double model_lr(long e, double base, long total)
{
    static const double milestones[{{n_milestones}}] = { {{milestones}} };
    int passed = 0;
    (void)total;
    for (int i = 0; i < {{n_milestones}}; i++) passed += milestones[i] <= (double)e;
    return base * pow({{gamma}}, passed);
}
