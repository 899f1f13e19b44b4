/**
 * @file fileio.h
 * @brief Reading files and lines, shared by decoders, runtimes and the filter-set loader.
 */
#ifndef SS_FILEIO_H
#define SS_FILEIO_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/**
 * Read a whole regular file.
 * @param[out] buf a malloc'd copy with a NUL after the last byte, owned by the caller.
 * @return 0, or an errno code with @p err naming @p path and the reason.
 */
int ss_file_read(const char *path, char **buf, size_t *len, ss_err *err);

/** Reads text lines; the caller sets fp and name (and max), zeroes the rest, and frees with
 * ss_file_lines_free().
 */
typedef struct ss_file_lines {
    FILE *fp;
    const char *name; /**< for messages */
    char *buf;
    size_t cap;
    uint64_t lineno; /**< of the line last returned, 1-based */
    /** Set by the caller: the longest line kept, in bytes without its line end; 0: no limit.
     * A longer line is returned cut to its first @p max bytes with @p over set; the rest of it
     * is read and discarded, never buffered, so memory stays bounded by @p max. */
    size_t max;
    /** Set by ss_file_lines_next(): 0, or the whole length of the line just returned cut. */
    uint64_t over;
} ss_file_lines;

/**
 * The next line, without its LF or CR LF and, on line 1, without a UTF-8 byte-order mark.
 * @param[out] line, len valid until the next call.
 * @return 1; 0 at the end of the input; or an error code (never 1: EIO stands for EPERM) with
 *         @p err naming the input.
 */
int ss_file_lines_next(ss_file_lines *l, const char **line, size_t *len, ss_err *err);

void ss_file_lines_free(ss_file_lines *l);

/**
 * Parse a whole string as a byte or item count with an optional binary suffix: 4096, 512K, 64M,
 * 2G, 1T (either case). @return 0, or -1 for anything else (signs, other suffixes, trailing text).
 */
int ss_file_parse_size(const char *s, size_t *out);

/**
 * Remove the directory @p dir and everything in it (plain files and directories; symbolic links
 * are removed, never followed). For directories skysieve made itself: a retired generation's
 * snapshot, a replay's scratch stores. Failures are ignored: what cannot be removed stays.
 */
void ss_file_remove_tree(const char *dir);

/**
 * 1 when @p dir does not exist or is an empty directory: a place where a new store may be made.
 */
int ss_file_dir_is_new(const char *dir);

#endif
