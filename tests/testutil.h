/* Helpers shared by the Check suites: scratch directories, files, running the skysieve binary. */
#ifndef SS_TESTUTIL_H
#define SS_TESTUTIL_H

#include <check.h>
#include <stddef.h>

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
/** Run every test of @p s, free it. @return EXIT_SUCCESS when all passed, for main(). */
int tu_run_suite(Suite *s);
/** Count lines in a string. */
size_t tu_count_lines(const char *s);

#endif
