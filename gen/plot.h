/* plot.h — `trainc plot FILE.csv...`: the curves of one metrics file, or
 * several overlaid (plot.c). */
#ifndef PLOT_H
#define PLOT_H

/* argv[1] is "plot"; returns the exit status */
int plot_main(int argc, char **argv);

#endif
