#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ss_ratelimit {
    unsigned lines;
    double period;
    ss_ratelimit_clock clock;
    void *clock_ctx;
    char key[256]; /* the current key; "" before the first */
    int active;
    double window_start, first_suppressed;
    unsigned used;       /* lines written in this period */
    uint64_t suppressed; /* lines counted since the last report */
};

static double ssi_monotonic(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

ss_ratelimit *ss_ratelimit_new(unsigned lines, double period_s, ss_ratelimit_clock clock,
                               void *clock_ctx)
{
    ss_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->lines = lines;
    rl->period = period_s;
    rl->clock = clock ? clock : ssi_monotonic;
    rl->clock_ctx = clock_ctx;
    return rl;
}

void ss_ratelimit_free(ss_ratelimit *rl)
{
    free(rl);
}

/* Hand the current key's count over to @p note and start counting afresh. */
static void ssi_report(ss_ratelimit *rl, double now, ss_ratelimit_note *note)
{
    memcpy(note->key, rl->key, sizeof note->key);
    note->suppressed = rl->suppressed;
    note->seconds = rl->suppressed ? now - rl->first_suppressed : 0;
    rl->suppressed = 0;
}

void ss_ratelimit_end(ss_ratelimit *rl, ss_ratelimit_note *note)
{
    double now = rl->clock(rl->clock_ctx);
    ssi_report(rl, now, note);
    rl->active = 0;
    rl->key[0] = '\0';
}

int ss_ratelimit_take(ss_ratelimit *rl, const char *key, ss_ratelimit_note *note)
{
    double now = rl->clock(rl->clock_ctx);
    note->suppressed = 0;
    note->key[0] = '\0';
    if (rl->active && strncmp(rl->key, key, sizeof rl->key - 1) != 0)
        ss_ratelimit_end(rl, note); /* another input: the previous one's count is reported */
    if (!rl->active) {
        rl->active = 1;
        strncpy(rl->key, key, sizeof rl->key - 1);
        rl->key[sizeof rl->key - 1] = '\0';
        rl->window_start = now;
        rl->used = 0;
    } else if (now - rl->window_start >= rl->period) { /* a new period, its report first */
        ssi_report(rl, now, note);
        rl->window_start = now;
        rl->used = 0;
    }
    if (rl->used < rl->lines) {
        rl->used++;
        return 1;
    }
    if (!rl->suppressed++)
        rl->first_suppressed = now;
    return 0;
}

void ss_ratelimit_tick(ss_ratelimit *rl, ss_ratelimit_note *note)
{
    note->suppressed = 0;
    note->key[0] = '\0';
    if (rl->active && rl->clock(rl->clock_ctx) - rl->window_start >= rl->period)
        ss_ratelimit_end(rl, note);
}
