/* progress.c - a one-line progress bar on stderr, redrawn in place with '\r'.
 * Draws only when the application has enabled it (the CLI does when stderr is a terminal), at
 * most 10 times a second, plus once at the end. It does not detect terminals, handle several
 * bars at once or merge updates from several threads: only the thread that began a bar updates it. */
#include <stdatomic.h>

#include "../internal.h"

#define BAR_WIDTH 24
#define REDRAW_INTERVAL 0.1 /* seconds */

static atomic_int g_enabled;

void assay_progress_enable(int on) { atomic_store(&g_enabled, on ? 1 : 0); }
int assay_progress_enabled(void) { return atomic_load(&g_enabled); }

/* "1:02:03" or "02:03" for a number of seconds; "--:--" when unknown */
static void format_duration(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 360000.0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

/* "1234", "12.3k", "4.56M" items per second */
static void format_rate(char *buf, size_t cap, double r) {
    if (r >= 1e6) snprintf(buf, cap, "%.2fM", r / 1e6);
    else if (r >= 1e4) snprintf(buf, cap, "%.1fk", r / 1e3);
    else if (r >= 100) snprintf(buf, cap, "%.0f", r);
    else snprintf(buf, cap, "%.2f", r);
}

static void draw(const assay_progress *p, const char *info, double now, int final) {
    char line[512], rate[32], eta[32];
    double elapsed = now - p->t_start;
    double r = elapsed > 0 ? (double)p->done / elapsed : 0.0;
    format_rate(rate, sizeof rate, r);
    int n = snprintf(line, sizeof line, "\r%s", p->label);
    if (p->total > 0) {
        uint64_t done = p->done < p->total ? p->done : p->total;
        double frac = (double)done / (double)p->total;
        int fill = (int)(frac * BAR_WIDTH);
        char bar[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '-';
        bar[BAR_WIDTH] = '\0';
        if (final) format_duration(eta, sizeof eta, elapsed);
        else format_duration(eta, sizeof eta, r > 0 ? (double)(p->total - done) / r : -1.0);
        n += snprintf(line + n, sizeof line - (size_t)n, " [%s] %3d%% %llu/%llu %s/s %s %s", bar,
                      (int)(frac * 100.0), (unsigned long long)p->done,
                      (unsigned long long)p->total, rate, final ? "in" : "ETA", eta);
    } else {
        format_duration(eta, sizeof eta, elapsed);
        n += snprintf(line + n, sizeof line - (size_t)n, " %llu %s/s %s",
                      (unsigned long long)p->done, rate, eta);
    }
    if (n < (int)sizeof line && info && info[0])
        n += snprintf(line + n, sizeof line - (size_t)n, " %s", info);
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    /* erase what a longer previous line left behind (ANSI "erase to end of line") */
    fprintf(stderr, "%s\033[K%s", line, final ? "\n" : "");
    fflush(stderr);
}

void assay_progress_begin(assay_progress *p, const char *label, uint64_t total) {
    memset(p, 0, sizeof *p);
    if (!assay_progress_enabled()) return;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    p->t_start = assay_now();
    p->t_last = p->t_start;
    p->active = 1;
    draw(p, NULL, p->t_start, 0);
}

void assay_progress_update(assay_progress *p, uint64_t done, const char *info) {
    if (!p->active || !assay_progress_enabled()) return;
    p->done = done;
    double now = assay_now();
    if (now - p->t_last < REDRAW_INTERVAL) return;
    p->t_last = now;
    draw(p, info, now, 0);
}

void assay_progress_end(assay_progress *p) {
    if (!p->active) return;
    if (assay_progress_enabled()) draw(p, NULL, assay_now(), 1);
    p->active = 0;
}
