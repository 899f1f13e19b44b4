#include "err.h"

#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const ssi_messages[] = {
    [0] = "invalid argument",
    [1] = "no store there",
    [2] = "not a skysieve store",
    [3] = "store format is newer than this skysieve supports",
    [4] = "store is damaged",
    [5] = "store or disk is full",
    [6] = "input cannot be parsed",
    [7] = "record rejected",
    [8] = "not found",
    [9] = "ambiguous identifier",
    [10] = "out of memory",
    [11] = "unknown input format",
    [12] = "store settings differ from those asked for",
    [13] = "filter failed",
    [14] = "filter wrote something it did not declare",
    [15] = "filter wrote a value of another type than declared",
    [16] = "filter went over its memory or instruction limit",
    [17] = "held by another process",
};

const char *ss_strerror(int code)
{
    if (code == 0)
        return "success";
    if (code <= SS_ERROR_FIRST && code >= SS_ERROR_LAST)
        return ssi_messages[SS_ERROR_FIRST - code];
    if (code >= MDB_KEYEXIST && code <= MDB_LAST_ERRCODE) /* LMDB's range: -30799 .. -30780 */
        return mdb_strerror(code);
    if (code > 0)
        return strerror(code);
    return "unknown error";
}

const char *ss_type_name(ss_type t)
{
    switch (t) {
    case SS_TYPE_NULL: return "null";
    case SS_TYPE_INT: return "int";
    case SS_TYPE_FLOAT: return "float";
    case SS_TYPE_STRING: return "string";
    case SS_TYPE_BOOL: return "bool";
    }
    return "unknown";
}

void ss_err_clear(ss_err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

int ss_err_set(ss_err *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return code;
}

int ss_err_prefix(ss_err *e, const char *fmt, ...)
{
    if (!e)
        return 0;
    char old[SS_ERR_MSG_MAX];
    memcpy(old, e->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    /* Truncation is fine: the message stays one line, cut at the buffer's end. */
    if (n >= 0 && (size_t)n < sizeof e->msg - 2) {
        size_t at = (size_t)n;
        e->msg[at++] = ':';
        e->msg[at++] = ' ';
        size_t room = sizeof e->msg - at - 1;
        size_t len = strnlen(old, room);
        memcpy(e->msg + at, old, len);
        e->msg[at + len] = '\0';
    }
    return e->code;
}
