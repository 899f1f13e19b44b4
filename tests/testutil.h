/* Helpers shared by the Check suites: scratch directories, files, the shared data, running the
 * skysieve binary. */
#ifndef SS_TESTUTIL_H
#define SS_TESTUTIL_H

#include <check.h>
#include <jansson.h>
#include <sys/types.h>
#include <stddef.h>
#include <sys/types.h>

/** Make a fresh directory under $TMPDIR (or /tmp). @return a malloc'd path; abort on failure. */
char *tu_mkdtemp(void);
/** The running test's scratch directory: made by tu_tmp_setup() and removed with everything in it
 * by tu_tmp_teardown(), a checked fixture (tcase_add_checked_fixture(tc, tu_tmp_setup,
 * tu_tmp_teardown)). */
extern char *tu_tmp;
void tu_tmp_setup(void);
void tu_tmp_teardown(void);
/** Remove a directory tree (rm -rf). */
void tu_rmtree(const char *path);
/** Write @p text to @p dir/@p name. @return a malloc'd path of the file. */
char *tu_write(const char *dir, const char *name, const char *text);
/** Join two path parts. @return malloc'd. */
char *tu_path(const char *dir, const char *name);
/**
 * Run a shell command, capture stdout (and stderr when @p err_out is given).
 * @return exit status (or -1); *out and *err_out are malloc'd NUL-terminated strings.
 */
int tu_run(const char *cmd, char **out, char **err_out);
/**
 * Run "SS_BINARY ARGS" (printf-style) through the shell, at most 60 s: tu_run()'s status and
 * output. An assertion fails when memory runs out.
 */
int tu_sks(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** Path of the shared data folder, or NULL (with a message on stderr naming @p what) when absent.
 */
const char *tu_shared_data(const char *what);
/** SHARED/@p rel (malloc'd), or NULL with tu_shared_data()'s message naming @p what when the shared
 * data is absent. */
char *tu_data_path(const char *what, const char *rel);
/** Paths of shared data files, malloc'd, in name order. */
typedef struct tu_files {
    char **path;
    size_t n;
} tu_files;
/**
 * The files named *@p ext in the folders of SHARED/@p dir (one level down, as the ZTF sets lie:
 * ztf/SET/NAME.avro).
 * @return the list, freed with tu_files_free(); NULL with tu_shared_data()'s message naming @p what
 *         when the shared data is absent.
 */
tu_files *tu_data_files(const char *what, const char *dir, const char *ext);
/** Free a list of tu_data_files(); NULL is allowed. */
void tu_files_free(tu_files *f);
/** Read a whole file; an assertion fails when it cannot be read. @return malloc'd, with a NUL after
 * the last byte; *len is the length without it. */
void *tu_read_file(const char *path, size_t *len);
/** Start `SS_BINARY run --config @p conf` in a child, its stderr appended to tu_tmp/broker.log.
 * @return the child's pid; stopping and reaping it is the caller's. */
pid_t tu_sks_run(const char *conf);
/** `skysieve ctl --config @p conf status`: the status object (owned by the caller), or NULL when
 * no broker answers within 2 s. */
json_t *tu_ctl_status(const char *conf);
/** The integer at dotted @p path ("inputs.kafka.messages") of @p o; 0 when absent. */
json_int_t tu_json_int(json_t *o, const char *path);
/** Stop the broker @p *pid with SIGTERM and check it exits 0; zeroes @p *pid. */
void tu_broker_stop(pid_t *pid);
/** Run every test of @p s, free it. @return EXIT_SUCCESS when all passed, for main(). */
int tu_run_suite(Suite *s);
/** Count lines in a string. */
size_t tu_count_lines(const char *s);
/** Print the last @p max bytes of the file at @p path (a log; @p what names it) to stderr, for a
 * failing check; nothing when it is absent or empty. */
void tu_dump_tail(const char *what, const char *path, long max);
/** Seconds on CLOCK_MONOTONIC, for deadlines in tests. */
double tu_now_s(void);
/** Sleep @p ms milliseconds, resumed after signals. */
void tu_sleep_ms(long ms);
/** @p j as compact JSON text, or "(null)", for failure messages. The text is leaked on purpose:
 * it is meant for a message that ends the test. */
const char *tu_json_text(const json_t *j);

#endif
