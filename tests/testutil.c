#include "testutil.h"

#include <jansson.h>
#include <signal.h>

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

char *tu_data_path(const char *what, const char *rel)
{
    const char *root = tu_shared_data(what);
    return root ? tu_path(root, rel) : NULL;
}

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && !strcmp(name + n - e, ext);
}

static void files_add_dir(tu_files *f, const char *dir, const char *ext)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!has_ext(e->d_name, ext))
            continue;
        f->path = realloc(f->path, (f->n + 1) * sizeof *f->path);
        ck_assert_ptr_nonnull(f->path);
        f->path[f->n++] = tu_path(dir, e->d_name);
    }
    if (d)
        closedir(d);
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

tu_files *tu_data_files(const char *what, const char *dir, const char *ext)
{
    char *top = tu_data_path(what, dir);
    if (!top)
        return NULL;
    tu_files *f = calloc(1, sizeof *f);
    ck_assert_ptr_nonnull(f);
    DIR *d = opendir(top);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            char *sub = tu_path(top, e->d_name);
            files_add_dir(f, sub, ext);
            free(sub);
        }
    if (d)
        closedir(d);
    free(top);
    if (f->n) /* readdir's order is the file system's: sorted, runs and messages repeat */
        qsort(f->path, f->n, sizeof *f->path, path_cmp);
    return f;
}

void tu_files_free(tu_files *f)
{
    for (size_t i = 0; f && i < f->n; i++)
        free(f->path[i]);
    if (f)
        free(f->path);
    free(f);
}

void *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

pid_t tu_sks_run(const char *conf)
{
    char *log = tu_path(tu_tmp, "broker.log");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        execl(SS_BINARY, SS_BINARY, "run", "--config", conf, (char *)NULL);
        _exit(127);
    }
    free(log);
    return pid;
}

json_t *tu_ctl_status(const char *conf)
{
    char *out = NULL;
    json_t *st = NULL;
    if (tu_sks(&out, NULL, "ctl --config '%s' --timeout 2 status", conf) == 0) {
        json_t *r = json_loads(out, 0, NULL);
        st = json_incref(json_object_get(r, "status"));
        json_decref(r);
    }
    free(out);
    return st;
}

json_int_t tu_json_int(json_t *o, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    for (char *k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        o = json_object_get(o, k);
    free(copy);
    return json_integer_value(o);
}

void tu_broker_stop(pid_t *pid)
{
    int st;
    ck_assert_int_eq(kill(*pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(*pid, &st, 0), *pid);
    *pid = 0;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the broker stopped with %d", st);
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

double tu_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void tu_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&t, &t) != 0)
        ;
}

const char *tu_json_text(const json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    return s ? s : "(null)";
}

void tu_dump_tail(const char *what, const char *path, long max)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (size > 0) {
        fseek(f, size > max ? size - max : 0, SEEK_SET);
        fprintf(stderr, "---- %s: %s%s ----\n", what, path, size > max ? " (its end)" : "");
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stderr);
        fprintf(stderr, "---- end of %s ----\n", what);
    }
    fclose(f);
}
