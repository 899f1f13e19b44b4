/**
 * @file err.h
 * @brief Error values with a message that names the input and the reason.
 *
 * Every fallible function of the core returns an int code (0, errno, LMDB or SS_E*) and, when given
 * a non-NULL ss_err, writes one line a user can act on. The caller owns the ss_err.
 */
#ifndef SS_ERR_H
#define SS_ERR_H

#include <skysieve/skysieve.h>

#define SS_ERR_MSG_MAX 512

typedef struct ss_err {
    int code;                 /**< 0 when no error was set */
    char msg[SS_ERR_MSG_MAX]; /**< one line, no trailing newline */
} ss_err;

/** Clear an error value. @p e may be NULL. */
void ss_err_clear(ss_err *e);

/**
 * Record an error. @p e may be NULL (the code is still returned).
 * @return @p code, so that `return ss_err_set(e, SS_EINVAL, "...")` reads naturally.
 */
int ss_err_set(ss_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * Prefix the message already in @p e with a context ("store /x: ..."). Keeps the code.
 * @return e->code (0 when @p e is NULL).
 */
int ss_err_prefix(ss_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
