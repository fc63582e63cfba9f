/* rt_profile.c — train --profile: where the seconds of each op block of the
 * training step accumulate (model.c's PROFILE_BEGIN / PROFILE_END). The
 * trainer points rt_prof_acc at its table for the steps it times; it stays
 * NULL otherwise, and an op block then costs one test of it. */
#include "rt.h"

double *rt_prof_acc = NULL;
