/* {{header}}
 *
 * paths.c — where the files of the trainer of {{name}} are. The trainer runs
 * in the user's folder (trainc run too), so every file named on its command
 * line is the user's path; its own default file, the weights, lives beside
 * its binary, which every way of starting it finds alike. Standard input
 * ("-") becomes a file the readers can open by name. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainer.h"

/* The folder of the running binary (Linux's /proc/self/exe), with a '/'
 * after it; "" for the current folder (and where /proc is not mounted).
 * Shortened to a path below the current folder where it is one. */
static const char *binary_folder(void)
{
    static char dir[PATH_MAX + 1];
    static int done;
    if (done) return dir;
    done = 1;
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0 || n >= (ssize_t)sizeof dir - 1) {
        dir[0] = 0;
        return dir;
    }
    dir[n] = 0;
    char *slash = strrchr(dir, '/');
    if (!slash) { /* not a path: the current folder */
        dir[0] = 0;
        return dir;
    }
    slash[1] = 0;
    char cwd[PATH_MAX + 1];
    if (getcwd(cwd, sizeof cwd - 1)) {
        size_t c = strlen(cwd);
        if (!strcmp(dir, strcat(cwd, "/")))
            dir[0] = 0;
        else if (!strncmp(dir, cwd, c + 1))
            memmove(dir, dir + c + 1, strlen(dir + c + 1) + 1);
    }
    return dir;
}

const char *tr_beside_binary(const char *name)
{
    const char *dir = binary_folder();
    if (!dir[0]) return name;
    size_t size = strlen(dir) + strlen(name) + 1;
    char *path = tr_alloc_or_die(size, 1);
    snprintf(path, size, "%s%s", dir, name);
    return path;
}

/* eval, predict, export before any training: say so, and how to train */
void tr_need_weights(const options *o)
{
    if (o->weights_given || access(o->weights, F_OK) == 0 || errno != ENOENT) return;
    const char *dir = binary_folder();
    fprintf(stderr,
            "%s: no trained weights yet (%s does not exist): train first, with '%s%s train' "
            "or 'trainc run %s'\n",
            MODEL_NAME, o->weights, dir[0] ? dir : "./", MODEL_NAME, MODEL_SPEC);
    exit(1);
}

/* Standard input copied to a file that is already unlinked (nothing is left
 * behind), named by its descriptor: the readers open it, seek in it and map
 * it as any other. */
const char *tr_stdin_file(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.stdin.XXXXXX", tmp && *tmp ? tmp : "/tmp", MODEL_NAME);
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "%s: standard input: cannot make a temporary file %s: %s\n", MODEL_NAME,
                path, strerror(errno));
        exit(1);
    }
    unlink(path);
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, stdin)) > 0)
        for (size_t done = 0; done < got;) {
            ssize_t w = write(fd, buf + done, got - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                fprintf(stderr, "%s: standard input: cannot copy it to %s: %s\n", MODEL_NAME, path,
                        strerror(errno));
                exit(1);
            }
            done += (size_t)w;
        }
    if (ferror(stdin)) {
        fprintf(stderr, "%s: standard input: %s\n", MODEL_NAME, strerror(errno));
        exit(1);
    }
    static char name[64];
    snprintf(name, sizeof name, "/dev/fd/%d", fd);
    return name;
}

/* tr_fail, with the file name path (a stand-in) said as the user knows it */
void tr_fail_as(const rt_error *err, const char *path, const char *as)
{
    const char *at = strcmp(path, as) ? strstr(err->msg, path) : NULL;
    if (!at) tr_fail(err);
    fprintf(stderr, "%s: %.*s%s%s\n", MODEL_NAME, (int)(at - err->msg), err->msg, as,
            at + strlen(path));
    exit(1);
}

int tr_exists(const char *path)
{
    return access(path, F_OK) == 0 || errno != ENOENT;
}

/* lr-find's rule, for the commands that write a CSV and its picture */
void tr_choose_csv_svg(const options *o, const char *what, char *csv, char *svg, size_t size)
{
    if (o->out) {
        snprintf(csv, size, "%s", o->out);
        rt_plot_path_beside(csv, svg, size);
        const char *there = tr_exists(csv) ? csv : tr_exists(svg) ? svg : NULL;
        if (there) {
            fprintf(stderr,
                    "%s: %s: %s exists; %s never overwrites a file: remove it or give another -o\n",
                    MODEL_NAME, what, there, what);
            exit(1);
        }
        return;
    }
    for (int k = 1;; k++) {
        if (k == 1)
            snprintf(csv, size, "%s-%s.csv", MODEL_NAME, what);
        else
            snprintf(csv, size, "%s-%s-%d.csv", MODEL_NAME, what, k);
        rt_plot_path_beside(csv, svg, size);
        if (!tr_exists(csv) && !tr_exists(svg)) return;
    }
}
