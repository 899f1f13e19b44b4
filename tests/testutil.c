#include "testutil.h"

#include <stdarg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = NULL;
    if (asprintf(&tmpl, "%s/skysieve-test-XXXXXX", base ? base : "/tmp") < 0 || !mkdtemp(tmpl))
        abort();
    return tmpl;
}

void tu_rmtree(const char *path)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", path) < 0)
        abort();
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
    free(cmd);
}

char *tu_path(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    return p;
}

char *tu_write(const char *dir, const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
    return p;
}

static char *tu_slurp(FILE *f)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            buf = realloc(buf, cap *= 2);
    }
    if (!buf)
        abort();
    buf[n] = '\0';
    return buf;
}

int tu_sks(char **out, char **err, const char *fmt, ...)
{
    char *args = NULL, *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    ck_assert_int_ge(asprintf(&cmd, "timeout -k 5 60 '%s' %s", SS_BINARY, args), 0);
    int rc = tu_run(cmd, out, err);
    free(args);
    free(cmd);
    return rc;
}

int tu_run(const char *cmd, char **out, char **err_out)
{
    char errpath[] = "/tmp/skysieve-test-err-XXXXXX";
    int fd = mkstemp(errpath);
    if (fd < 0)
        abort();
    close(fd);
    char *full = NULL;
    if (asprintf(&full, "%s 2>'%s'", cmd, errpath) < 0)
        abort();
    FILE *p = popen(full, "r");
    free(full);
    if (!p)
        abort();
    char *o = tu_slurp(p);
    int st = pclose(p);
    FILE *e = fopen(errpath, "r");
    char *eo = e ? tu_slurp(e) : strdup("");
    if (e)
        fclose(e);
    unlink(errpath);
    if (out)
        *out = o;
    else
        free(o);
    if (err_out)
        *err_out = eo;
    else
        free(eo);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *tu_shared_data(const char *what)
{
    struct stat st;
    if (stat(SS_SHARED_DATA, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "SKIP %s: shared data not found at %s\n", what, SS_SHARED_DATA);
        return NULL;
    }
    return SS_SHARED_DATA;
}

size_t tu_count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

int tu_run_suite(Suite *s)
{
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

char *tu_tmp;

void tu_tmp_setup(void)
{
    tu_tmp = tu_mkdtemp();
}

void tu_tmp_teardown(void)
{
    tu_rmtree(tu_tmp);
    free(tu_tmp);
    tu_tmp = NULL;
}
