/* rt_progress.c — the progress line a trainer redraws (with \r) within an
 * epoch when its output is a terminal: how far, the loss so far, rows per
 * second and the time left. Only formatting and pacing here; the trainer
 * prints. */
#include "rt.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

int rt_progress_due(rt_progress *p, double now)
{
    if (p->last > 0 && now - p->last < p->interval) return 0;
    p->last = now;
    return 1;
}

/* "1:05", "12:00:07" */
static void clock_text(char *buf, size_t size, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e8) {
        snprintf(buf, size, "?");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void rt_progress_format(char *buf, size_t size, int width, int epoch, int epochs, long done,
                        long total, double loss, double rows_per_s, double eta_s)
{
    enum { bar = 20 };
    char bars[bar + 1], eta[32];
    int filled = total > 0 ? (int)((double)done / (double)total * bar) : 0;
    if (filled > bar) filled = bar;
    for (int i = 0; i < bar; i++) bars[i] = i < filled ? '#' : '.';
    bars[bar] = 0;
    clock_text(eta, sizeof eta, eta_s);
    snprintf(buf, size, "epoch %d/%d [%s] %3d%%  loss %.4g  %.0f rows/s  ETA %s", epoch, epochs,
             bars, total > 0 ? (int)(100.0 * (double)done / (double)total) : 0, loss, rows_per_s,
             eta);
    /* one line less than the terminal is wide: \r only rewinds one row */
    if (width > 1 && strlen(buf) >= (size_t)width && (size_t)width <= size) buf[width - 1] = 0;
}

int rt_terminal_width(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}
