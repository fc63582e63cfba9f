/* sweep_run.c — the runs of `trainc sweep`: each trainer started in its own
 * folder DIR/runs/NAME (--lr, --seed, --epochs, its metrics, weights and
 * log there), --jobs of them side by side; its figures read back from its
 * metrics file and its last line; a marker (result.csv, its row of
 * results.csv) written when it ends, so that a sweep run again skips it;
 * results.csv and sweep.svg. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runtime/rt.h"
#include "sweep.h"

/* the figures after the keys, in results.csv's order */
static const char TAIL_HEADER[] =
    "lr,seed,epochs,final_loss,best_valid_loss,best_valid_loss_epoch,best_valid_accuracy,"
    "best_valid_accuracy_epoch,test_loss,test_accuracy,seconds,status";

void sweep_combo_name(const sweep *s, int combo, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < s->nsets && k + 1 < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s=%s", i ? "_" : "", s->sets[i].key,
                              s->sets[i].values[s->combo_value[combo][i]]);
    if (!s->nsets) snprintf(buf, size, "default");
    for (char *p = buf; *p; p++) /* a file name: no '/', no spaces, no quotes */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._=+-", *p)))
            *p = '_';
}

/* the shortest text that reads back as v exactly (0.1, not 0.10000000000000001) */
void sweep_number(char *buf, size_t size, double v)
{
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* a CSV cell: quoted when it holds a quote, a comma or a line end */
static void csv_cell(FILE *f, const char *v)
{
    if (!strpbrk(v, "\",\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '"') fputc('"', f);
        fputc(*v, f);
    }
    fputc('"', f);
}

static void header(const sweep *s, FILE *f)
{
    fputs("run", f);
    for (int i = 0; i < s->nsets; i++) fputc(',', f), csv_cell(f, s->sets[i].column);
    fprintf(f, ",%s\n", TAIL_HEADER);
}

/* the part of a run's row that names it: run, the --set values, lr, seed, epochs */
static void row_identity(const sweep *s, const sweep_run *r, FILE *f)
{
    csv_cell(f, r->name);
    for (int i = 0; i < s->nsets; i++)
        fputc(',', f), csv_cell(f, s->sets[i].values[s->combo_value[r->combo][i]]);
    char lr[64];
    sweep_number(lr, sizeof lr, r->lr);
    fprintf(f, ",%s,%u,%d,", lr, r->seed, r->epochs);
}

void sweep_list(const sweep *s)
{
    fputs("run", stdout);
    for (int i = 0; i < s->nsets; i++) fputc(',', stdout), csv_cell(stdout, s->sets[i].column);
    fputs(",lr,seed,epochs\n", stdout);
    for (int i = 0; i < s->nruns; i++) {
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (!m) return;
        row_identity(s, &s->runs[i], m);
        fclose(m);
        printf("%.*s\n", len ? (int)len - 1 : 0, text); /* without the last comma */
        free(text);
    }
}

static void row(const sweep *s, const sweep_run *r, FILE *f)
{
    row_identity(s, r, f);
    fprintf(f, "%.9g,%.9g,%d,%.9g,%d,%.9g,%.9g,%.3f,%s\n", r->final_loss, r->best_valid_loss,
            r->best_valid_loss_epoch, r->best_valid_acc, r->best_valid_acc_epoch, r->test_loss,
            r->test_acc, r->seconds, r->status);
}

/* the text of rows written by fn into memory, written atomically */
static int write_text(const char *path, void (*fn)(const sweep *, const void *, FILE *),
                      const sweep *s, const void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return -1;
    fn(s, arg, f);
    fclose(f);
    rt_error err;
    int rc = rt_write_atomic(path, text, len, &err);
    if (rc) fprintf(stderr, "trainc: %s\n", err.msg);
    free(text);
    return rc;
}

static void marker_text(const sweep *s, const void *arg, FILE *f)
{
    header(s, f);
    row(s, arg, f);
}

static void results_text(const sweep *s, const void *arg, FILE *f)
{
    (void)arg;
    header(s, f);
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].state == RUN_DONE) row(s, &s->runs[i], f);
}

int sweep_write_results(sweep *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/results.csv", s->dir);
    return write_text(path, results_text, s, NULL);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    size_t len = 0, got;
    FILE *m = open_memstream(&text, &len);
    char buf[8192];
    while (m && (got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, m);
    fclose(f);
    if (m) fclose(m);
    return text;
}

/* a run an earlier sweep finished: its marker's header and identity are
 * this run's; its figures are taken back */
static int take_marker(const sweep *s, sweep_run *r, const char *path)
{
    char *text = read_file(path), *want = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&want, &len);
    header(s, f);
    row_identity(s, r, f);
    fclose(f);
    int ok = text && !strncmp(text, want, len);
    if (ok) {
        char st[16] = "";
        ok = sscanf(text + len, "%lf,%lf,%d,%lf,%d,%lf,%lf,%lf,%15s", &r->final_loss,
                    &r->best_valid_loss, &r->best_valid_loss_epoch, &r->best_valid_acc,
                    &r->best_valid_acc_epoch, &r->test_loss, &r->test_acc, &r->seconds,
                    st) == 9;
        r->status = !strcmp(st, "ok") ? "ok" : !strcmp(st, "diverged") ? "diverged" : "failed";
        ok &= !strcmp(st, r->status);
    }
    free(text);
    free(want);
    return ok;
}

static void run_path(const sweep *s, const sweep_run *r, const char *file, char *buf, size_t n)
{
    snprintf(buf, n, "%s/runs/%s%s%s", s->dir, r->name, *file ? "/" : "", file);
}

/* starts the trainer of run r in its folder; its output goes to train.log */
static int start(sweep *s, sweep_run *r)
{
    char folder[4800], log[4900], metrics[4900], weights[4900], bin[4900], combo[512];
    char lr[64], seed[32], epochs[32];
    run_path(s, r, "", folder, sizeof folder);
    run_path(s, r, "train.log", log, sizeof log);
    run_path(s, r, "metrics.csv", metrics, sizeof metrics);
    run_path(s, r, "model.weights", weights, sizeof weights);
    sweep_combo_name(s, r->combo, combo, sizeof combo);
    snprintf(bin, sizeof bin, "%s/build/%s/%s", s->dir, combo, s->model);
    sweep_number(lr, sizeof lr, r->lr);
    snprintf(seed, sizeof seed, "%u", r->seed);
    snprintf(epochs, sizeof epochs, "%d", r->epochs);
    if (mkdir(folder, 0777) && errno != EEXIST) {
        fprintf(stderr, "trainc: %s: cannot create: %s\n", folder, strerror(errno));
        return 1;
    }
    remove(metrics); /* a run cut short before: its rows are not this run's */
    char *argv[] = {bin,       "train",   "--lr",      lr,      "--seed",
                    seed,      "--epochs", epochs,     "--metrics", metrics,
                    "--weights", weights, "--quiet",   s->jobs > 1 ? "--threads" : NULL,
                    "1",       NULL};
    fflush(stdout);
    r->t0 = rt_now();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        execv(bin, argv);
        fprintf(stderr, "trainc: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        fprintf(stderr, "trainc: cannot start a trainer: %s\n", strerror(errno));
        return 1;
    }
    r->pid = pid;
    r->state = RUN_RUNNING;
    return 0;
}

/* the figures of the metrics file: the last training loss, the best
 * validation loss and accuracy with their epochs */
static void read_metrics(sweep_run *r, const char *path)
{
    rt_metrics m;
    rt_error err;
    if (rt_metrics_read(path, &m, &err)) return;
    int e = rt_metrics_column(&m, "epoch"), l = rt_metrics_column(&m, "loss"),
        vl = rt_metrics_column(&m, "valid_loss"), va = rt_metrics_column(&m, "valid_accuracy");
    for (int i = 0; i < m.rows; i++) {
        const double *row = m.v + (size_t)i * (size_t)m.cols;
        if (l >= 0) r->final_loss = row[l];
        if (vl >= 0 && isfinite(row[vl]) && !(row[vl] >= r->best_valid_loss))
            r->best_valid_loss = row[vl], r->best_valid_loss_epoch = e >= 0 ? (int)row[e] : i + 1;
        if (va >= 0 && isfinite(row[va]) && !(row[va] <= r->best_valid_acc))
            r->best_valid_acc = row[va], r->best_valid_acc_epoch = e >= 0 ? (int)row[e] : i + 1;
    }
    rt_metrics_free(&m);
}

/* a run's end: its status (the trainer's divergence guard said so:
 * diverged; another failure: failed), its figures, its marker */
static int finish(sweep *s, sweep_run *r, int status)
{
    char log[4900], metrics[4900], marker[4900];
    run_path(s, r, "train.log", log, sizeof log);
    run_path(s, r, "metrics.csv", metrics, sizeof metrics);
    run_path(s, r, "result.csv", marker, sizeof marker);
    r->seconds = rt_now() - r->t0;
    r->final_loss = r->best_valid_loss = r->best_valid_acc = NAN;
    r->test_loss = r->test_acc = NAN;
    char *text = read_file(log);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    r->status = ok ? "ok" : text && strstr(text, "training diverged at") ? "diverged" : "failed";
    read_metrics(r, metrics);
    for (char *line = text; line && *line;) { /* the last "test loss X  accuracy Y" */
        if (!strncmp(line, "test loss ", 10)) {
            r->test_loss = strtod(line + 10, NULL);
            char *acc = strstr(line, "accuracy ");
            char *nl = strchr(line, '\n');
            if (acc && (!nl || acc < nl)) r->test_acc = strtod(acc + 9, NULL);
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    free(text);
    if (ok && !isfinite(r->final_loss)) r->status = "diverged";
    if (strcmp(r->status, "ok")) r->final_loss = NAN;
    r->state = RUN_DONE;
    s->done++;
    return write_text(marker, marker_text, s, r);
}

static void say_run(const sweep *s, const sweep_run *r)
{
    if (s->quiet) return;
    char combo[512];
    sweep_combo_name(s, r->combo, combo, sizeof combo);
    printf("[%*d/%d] lr %-11.6g seed %u%s%s: ", s->nruns >= 100 ? 3 : 2, s->done, s->nruns,
           r->lr, r->seed, s->nsets ? " " : "", s->nsets ? combo : "");
    if (r->skipped)
        printf("%s before (skipped)\n", r->status);
    else if (!strcmp(r->status, "ok"))
        printf("ok, %s %.6g (%.1f s)\n", sweep_criterion(s), sweep_score(s, r), r->seconds);
    else
        printf("%s (%.1f s; see %s/runs/%s/train.log)\n", r->status, r->seconds, s->dir, r->name);
    fflush(stdout);
}

/* the runs finished before: taken from their markers */
static void skip_finished(sweep *s)
{
    for (int i = 0; i < s->nruns; i++) {
        sweep_run *r = &s->runs[i];
        char marker[4900];
        run_path(s, r, "result.csv", marker, sizeof marker);
        if (r->state == RUN_PENDING && take_marker(s, r, marker)) {
            r->state = RUN_DONE, r->skipped = 1;
            s->done++;
            say_run(s, r);
        }
    }
}

int sweep_run_all(sweep *s)
{
    char runs[4200];
    snprintf(runs, sizeof runs, "%s/runs", s->dir);
    if (mkdir(runs, 0777) && errno != EEXIST) {
        fprintf(stderr, "trainc: %s: cannot create: %s\n", runs, strerror(errno));
        return 1;
    }
    skip_finished(s);
    int running = 0, next = 0;
    for (;;) {
        while (running < s->jobs && next < s->nruns) {
            sweep_run *r = &s->runs[next++];
            if (r->state != RUN_PENDING) continue;
            if (start(s, r)) return 1;
            running++;
        }
        if (!running) break;
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) return 1;
        for (int i = 0; i < s->nruns; i++)
            if (s->runs[i].state == RUN_RUNNING && s->runs[i].pid == pid) {
                running--;
                if (finish(s, &s->runs[i], status) || sweep_write_results(s)) return 1;
                say_run(s, &s->runs[i]);
            }
    }
    return sweep_write_results(s);
}

/* ---- scores ---- */

/* README, "trainc sweep": classifiers by the best validation accuracy, or
 * the test accuracy without validation rows; other models by the best
 * validation loss, the test loss, or the final training loss */
static int criterion(const sweep *s)
{
    if (s->has_valid) return s->classifier ? 0 : 1;
    if (s->has_test) return s->classifier ? 2 : 3;
    return 4;
}

static const char *const CRITERIA[] = {"best validation accuracy", "best validation loss",
                                       "test accuracy", "test loss", "final training loss"};

const char *sweep_criterion(const sweep *s) { return CRITERIA[criterion(s)]; }

int sweep_higher_better(const sweep *s) { return criterion(s) == 0 || criterion(s) == 2; }

double sweep_score(const sweep *s, const sweep_run *r)
{
    if (strcmp(r->status, "ok")) return NAN;
    const double v[] = {r->best_valid_acc, r->best_valid_loss, r->test_acc, r->test_loss,
                        r->final_loss};
    return v[criterion(s)];
}

void sweep_setting(const sweep *s, int combo, double lr, double *mean, double *sd, int *ok,
                   int *all)
{
    double sum = 0, sq = 0;
    *ok = *all = 0;
    for (int i = 0; i < s->nruns; i++) {
        const sweep_run *r = &s->runs[i];
        if (r->combo != combo || r->lr != lr || r->state != RUN_DONE) continue;
        (*all)++;
        double v = sweep_score(s, r);
        if (!isfinite(v)) continue;
        (*ok)++;
        sum += v;
    }
    *mean = *ok ? sum / *ok : NAN;
    for (int i = 0; i < s->nruns; i++) {
        const sweep_run *r = &s->runs[i];
        double v = r->combo == combo && r->lr == lr && r->state == RUN_DONE ? sweep_score(s, r)
                                                                              : NAN;
        if (isfinite(v)) sq += (v - *mean) * (v - *mean);
    }
    *sd = *ok > 1 ? sqrt(sq / (*ok - 1)) : 0;
}
