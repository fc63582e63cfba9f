/* sweep.h — `trainc sweep SPEC`: a grid of learning rates, --set values and
 * seeds, each setting trained and scored. sweep.c reads the command line,
 * checks the spec and builds one trainer per --set combination; sweep_run.c
 * runs the trainers, reads their figures and writes results.csv and
 * sweep.svg. */
#ifndef SWEEP_H
#define SWEEP_H

#include <sys/types.h>

#define SWEEP_MAX_SETS 16    /* --set options */
#define SWEEP_MAX_VALUES 64  /* values of one --set */
#define SWEEP_MAX_LRS 1000   /* lrs of a grid */
#define SWEEP_MAX_COMBOS 256 /* combinations of the --set values */

enum { GRID_LIST, GRID_LOG, GRID_LIN, GRID_RANDOM };

typedef struct sweep_grid {
    int kind;
    double v[SWEEP_MAX_LRS];
    int n;
} sweep_grid;

typedef struct sweep_set {
    const char *key, *column; /* column: its name in results.csv */
    char *values[SWEEP_MAX_VALUES];
    int n;
} sweep_set;

typedef struct sweep_run {
    int combo;
    double lr;
    unsigned seed;
    int epochs;
    char name[600]; /* its folder under DIR/runs */
    int state;      /* RUN_PENDING, RUN_RUNNING, RUN_DONE */
    int skipped;    /* finished by an earlier sweep */
    pid_t pid;
    double t0;
    /* its figures (NaN: none) */
    double final_loss, best_valid_loss, best_valid_acc, test_loss, test_acc, seconds;
    int best_valid_loss_epoch, best_valid_acc_epoch; /* 0: none */
    const char *status;                              /* "ok", "diverged", "failed" */
} sweep_run;

enum { RUN_PENDING, RUN_RUNNING, RUN_DONE };

typedef struct sweep {
    const char *spec, *dir, *lr_text;
    sweep_grid grid;
    sweep_set sets[SWEEP_MAX_SETS];
    int nsets;
    int seeds, epochs, jobs, refine, quiet, list; /* epochs 0: each combination's own */
    /* from the spec */
    char model[256];
    int classifier, has_valid, has_test;
    int ncombos;
    int combo_value[SWEEP_MAX_COMBOS][SWEEP_MAX_SETS]; /* the value of each set */
    int built[SWEEP_MAX_COMBOS];
    int combo_epochs[SWEEP_MAX_COMBOS]; /* the spec's, with the combination's values */
    sweep_run *runs;
    int nruns, cap, done;
    char self[4096]; /* this trainc, to build with */
} sweep;

/* argv[1] is "sweep"; returns the exit status */
int sweep_main(int argc, char **argv);

/* sweep_run.c */
/* the shortest text that reads back as v exactly */
void sweep_number(char *buf, size_t size, double v);
/* "k=v_k2=v2" as a file name ("default" without --set) */
void sweep_combo_name(const sweep *s, int combo, char *buf, size_t size);
/* --list: the runs' names, --set values, lrs, seeds and epochs as CSV */
void sweep_list(const sweep *s);
/* Runs every pending run, --jobs at a time, skipping those an earlier sweep
 * finished; results.csv is rewritten after each. Returns 0, or 1 after
 * saying why (a file that cannot be written). */
int sweep_run_all(sweep *s);
/* The score of a run by the sweep's criterion (NaN: none), whether higher
 * is better, and the criterion's name. */
double sweep_score(const sweep *s, const sweep_run *r);
int sweep_higher_better(const sweep *s);
const char *sweep_criterion(const sweep *s);
/* results.csv and sweep.svg from the finished runs */
int sweep_write_results(sweep *s);
int sweep_write_svg(sweep *s, int best_combo, double best_lr);
/* Mean and sample standard deviation of the scores of the ok runs of a
 * setting; *ok and *all count its runs. */
void sweep_setting(const sweep *s, int combo, double lr, double *mean, double *sd, int *ok,
                   int *all);

#endif
