/**
 * @file ratelimit.h
 * @brief Log lines about one input, bounded in time: at most N lines per period per key (the
 * input), the rest counted and summed up in one line when the next period opens, when another
 * key starts, or when the caller ends the key.
 *
 * One key at a time: the broker and ingest take one input at a time, and a change of key ends
 * the previous one (its count is handed back to be reported). A limiter is owned by whoever made
 * it (ss_ratelimit_new() / ss_ratelimit_free()); it is not thread-safe.
 */
#ifndef SS_RATELIMIT_H
#define SS_RATELIMIT_H

#include <stdint.h>

/** Seconds on a monotonic clock; tests inject their own. */
typedef double (*ss_ratelimit_clock)(void *ctx);

typedef struct ss_ratelimit ss_ratelimit;

/** What was not written about one key, to report in one line before going on. */
typedef struct ss_ratelimit_note {
    char key[256];       /**< the key the lines were about (cut to 255 bytes) */
    uint64_t suppressed; /**< lines not written; 0: nothing to report */
    double seconds;      /**< over how long (from the first line not written to now) */
} ss_ratelimit_note;

/**
 * @param lines at most this many lines per key and period (0: none at all)
 * @param period_s the period, in seconds
 * @param clock NULL: CLOCK_MONOTONIC
 * @return a limiter owned by the caller, or NULL when out of memory.
 */
ss_ratelimit *ss_ratelimit_new(unsigned lines, double period_s, ss_ratelimit_clock clock,
                               void *clock_ctx);
void ss_ratelimit_free(ss_ratelimit *rl);

/**
 * Whether a line about @p key may be written now. When @p note comes back with suppressed > 0,
 * write its summary first: the previous key's (a new key) or this key's last period's.
 * @return 1: write the line; 0: counted, not to be written.
 */
int ss_ratelimit_take(ss_ratelimit *rl, const char *key, ss_ratelimit_note *note);

/** The current key is over (its input ended): @p note gets what it has not reported, and the
 * next key starts afresh. */
void ss_ratelimit_end(ss_ratelimit *rl, ss_ratelimit_note *note);

/** For a key that may go quiet (a source rather than one input): when its period is over,
 * @p note gets what it has not reported and the next line starts a new period. */
void ss_ratelimit_tick(ss_ratelimit *rl, ss_ratelimit_note *note);

#endif
