/**
 * @file log.h
 * @brief The broker's log: one line per event, "TIME LEVEL message key=value ...", on a stream.
 *
 * TIME is UTC ISO 8601 with milliseconds; LEVEL is DEBUG, INFO, WARN or ERROR. Messages name the
 * ids involved (file, message number, locus, alert, filter, generation, worker pid) as key=value
 * pairs so that the log can be searched. A logger is owned by whoever made it and outlives every
 * use; it holds no state that a reload changes.
 */
#ifndef SS_LOG_H
#define SS_LOG_H

#include <stdio.h>

typedef enum ss_log_level { SS_LOG_DEBUG, SS_LOG_INFO, SS_LOG_WARN, SS_LOG_ERROR } ss_log_level;

typedef struct ss_log {
    FILE *fp;         /**< where lines go (stderr for `skysieve run`) */
    ss_log_level min; /**< lines below this level are dropped */
} ss_log;

/** Write one line at @p level. A NULL logger writes nothing. */
void ss_log_line(const ss_log *lg, ss_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Parse "debug", "info", "warn" or "error". @return 0, or -1 for anything else. */
int ss_log_level_parse(const char *s, ss_log_level *out);

#endif
