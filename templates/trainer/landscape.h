/* {{header}}
 *
 * landscape.h — what the two files of the landscape command of {{name}}
 * share: landscape.c (the command, its options, the line between two
 * weights) and landscape_plane.c (the plane around the weights, its
 * directions and the paths drawn on it). */
#ifndef LANDSCAPE_H
#define LANDSCAPE_H

#include "trainer.h"

typedef struct ls_run {
    const options *o;
    buffers b;
    data d;
    rt_dataset train, test; /* the rows evaluated (--rows: the first N) */
    long n_train_all;       /* training rows as loaded (a checkpoint's order) */
    real *centre;           /* the weights the plane is around (the line: its end) */
    real *scratch;          /* the weights evaluated; b.param points here */
    double lo, hi;          /* --range: alpha, or the directions' coefficients, or x1 */
    double ylo, yhi;        /* a two-parameter model's x2 range */
    int range_given, yrange_given;
    int centre_is_init; /* a two-parameter model without weights: its start */
    long points, grid;
    char csv[4096], svg[4200];
} ls_run;

/* landscape.c */
/* A whole number from the option's text, lo .. hi, or a usage error. */
long ls_whole(const char *flag, const char *text, long lo, long hi);
/* The loss and accuracy of ds at the weights p, in eval mode. */
result ls_eval_at(ls_run *r, const rt_dataset *ds, const real *p);
/* A weights file into p (its standardisation statistics into b.stats). */
void ls_load_weights(ls_run *r, const char *path, real *p);
/* Whether parameter i moves along a direction (not a running statistic, a
 * count, frozen) */
int ls_moves(int i);

/* 1: the model has exactly two scalar parameters that train (its own plane) */
int ls_two_scalars(void);
/* A CSV opened for writing, closed with its errors checked: exit 1 on either */
FILE *ls_open_out(const char *path);
void ls_close_out(FILE *f, const char *path);

/* landscape_plane.c: landscape --plane */
int ls_plane(ls_run *r);

#endif
