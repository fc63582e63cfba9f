/* ---- momentum: the optimizer's own ----
 * The momentum (SGD, RMSprop) or beta1 (the Adam family) of every step is
 * the optimizer's, {{optimizer_momentum}}: this schedule does not cycle it. */
double model_momentum(long e, long total)
{
    (void)e, (void)total;
    return {{optimizer_momentum}};
}
