/* ---- learning rate: {{torch}} ({{where}}) ----
 * Watch the {{monitor}} after each epoch: when it has not improved (by a
 * {{threshold_mode}} threshold of {{threshold}}, mode {{mode}}) for more than {{patience}}
 * epochs, lr <- max(lr * {{factor}}, {{min_lr}}); then wait {{cooldown}} epochs before
 * counting again. The trainer keeps the state (runtime/rt_schedule.c); the
 * base lr it passes here is already the reduced one. */
const rt_plateau model_plateau_init = {
    .mode_max = {{mode_max}},
    .threshold_abs = {{threshold_mode_abs}},
    .monitor_loss = {{monitor_loss}},
    .factor = {{factor}},
    .patience = {{patience}},
    .threshold = {{threshold}},
    .cooldown = {{cooldown}},
    .min_lr = {{min_lr}},
    .eps = {{eps}},
};

double model_lr(long e, double base, long total)
{
    (void)e, (void)total;
    return base;
}
