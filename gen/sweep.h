/* sweep.h — `trainc sweep SPEC`: a grid of learning rates, --set values and
 * seeds, each setting trained and scored (sweep.c). */
#ifndef SWEEP_H
#define SWEEP_H

/* argv[1] is "sweep"; returns the exit status */
int sweep_main(int argc, char **argv);

#endif
