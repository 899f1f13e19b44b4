/*
 * Workers confined beyond their rlimits (confine.h), driven through `skysieve run` as an operator
 * runs it: the seccomp filter refuses processes, signals and ptrace aimed at other processes, and
 * sockets (threads and signals to itself still work), worker_allow opens network and processes,
 * abort() still ends only its worker and is charged to its filter, a filter's stdout and stderr
 * reach the log tagged and rate-limited, and worker_user runs workers as another user.
 *
 * The probe filters (tests/filters/confineprobe.c, one shared object per action) tag each run:
 * cf_refused (the call failed with EPERM), cf_allowed (it worked), cf_other.
 * tests/filters/count.lua runs beside them, to show that the other filters are not disturbed.
 */
#include "testutil.h"

#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define COUNT_LUA  SS_SOURCE_DIR "/tests/filters/count.lua"
#define CF(action) SS_TEST_FILTERS_DIR "/cf_" action ".so"
#define N          6 /* alerts per test */

static struct {
    char *conf, *log;
    pid_t broker, victim; /* a process outside the broker that filters aim at */
} T;

static void dump_log(void)
{
    tu_dump_tail("broker log", T.log, 20000);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            dump_log();                                                                            \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

static void setup(void)
{
    tu_tmp_setup();
    memset(&T, 0, sizeof T);
    T.conf = tu_path(tu_tmp, "broker.ini");
    T.log = tu_path(tu_tmp, "broker.log");
    char *spool = tu_path(tu_tmp, "spool");
    ck_assert_int_eq(mkdir(spool, 0755), 0);
    free(spool);
    T.victim = fork();
    ck_assert_int_ge(T.victim, 0);
    if (T.victim == 0) {
        for (;;)
            pause();
    }
}

static void teardown(void)
{
    pid_t pids[] = {T.broker, T.victim};
    for (size_t i = 0; i < 2; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    free(T.conf), free(T.log);
    tu_tmp_teardown();
}

/* 1 while @p pid runs (not a zombie). */
static int alive(pid_t pid)
{
    return waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, 0) == 0;
}

/* The broker's config: [broker] with @p extra lines, the spool, the filter set written as @p fmt.
 */
static void write_conf(const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void write_conf(const char *extra, const char *fmt, ...)
{
    char *set = NULL, *conf = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&set, fmt, ap), 0);
    va_end(ap);
    free(tu_write(tu_tmp, "set.ini", set));
    ck_assert_int_ge(asprintf(&conf,
                              "[broker]\nstore = store\nrun_dir = run\nmap_size = 64M\n"
                              "log_level = info\nstats_interval = 1\n%s\n"
                              "[input spool]\ndir = spool\npoll = 0.05\n\n"
                              "[filters]\nset = set.ini\nworkers = 1\ntimeout = 20\n"
                              "max_crashes = 2\n\n[control]\naddress = ipc://%s/ctl.ipc\n",
                              extra, tu_tmp),
                     0);
    free(tu_write(tu_tmp, "broker.ini", conf));
    free(set), free(conf);
}

/* Start the broker and drop N alerts (one locus each) into its spool. */
static void start_and_feed(void)
{
    T.broker = tu_sks_run(T.conf);
    char *text = strdup("alert_id,ra,dec,mjd,passband,mag,magerr\n"), *more = NULL;
    for (int k = 0; k < N; k++) {
        ck_assert_int_ge(asprintf(&more, "%sa%d,%.4f,-5,%.5f,g,18,0.05\n", text, k, 150 + k * 0.1,
                                  60000 + k * 0.01),
                         0);
        free(text);
        text = more;
    }
    free(tu_write(tu_tmp, "spool/.a.part", text));
    char *from = tu_path(tu_tmp, "spool/.a.part"), *to = tu_path(tu_tmp, "spool/a.csv");
    ck_assert_int_eq(rename(from, to), 0);
    free(from), free(to), free(text);
}

/* The status entry of filter @p label (borrowed from @p st), or NULL. */
static json_t *filter_of(json_t *st, const char *label)
{
    json_t *f;
    size_t i;
    json_array_foreach(json_object_get(st, "filters"), i, f)
    {
        const char *l = json_string_value(json_object_get(f, "label"));
        if (l && !strcmp(l, label))
            return f;
    }
    return NULL;
}

/* Wait until count.lua has run on all N alerts and nothing is queued. @return the status. */
static json_t *wait_done(double secs)
{
    for (double end = tu_now_s() + secs;; tu_sleep_ms(100)) {
        CHECK(alive(T.broker), "the broker died");
        json_t *st = tu_ctl_status(T.conf);
        if (st && tu_json_int(filter_of(st, "count"), "runs") >= N && tu_json_int(st, "queue") == 0)
            return st;
        CHECK(tu_now_s() < end, "count.lua did not see the %d alerts within %.0f s: %s", N, secs,
              tu_json_text(st));
        json_decref(st);
    }
}

/* Filter @p label's tag @p tag counted @p want times, and it never crashed. */
static void check_tag(json_t *st, const char *label, const char *tag, long want, const char *why)
{
    json_t *f = filter_of(st, label);
    char path[64];
    snprintf(path, sizeof path, "tags.%s", tag);
    CHECK(f && tu_json_int(f, path) == want && tu_json_int(f, "crashes") == 0,
          "%s: filter %s should have tagged %s %ld times, crashing never: %s", why, label, tag,
          want, tu_json_text(f));
}

static char *log_text(void)
{
    size_t len;
    return tu_read_file(T.log, &len);
}

/* Lines of the log that contain @p s. */
static int log_count(const char *s)
{
    char *text = log_text();
    int n = 0;
    for (char *p = strstr(text, s); p; p = strstr(p + 1, s))
        n++;
    free(text);
    return n;
}

static void stop_broker(void)
{
    tu_broker_stop(&T.broker);
    char *text = log_text();
    CHECK(!strstr(text, "LeakSanitizer") && !strstr(text, "ERROR: AddressSanitizer") &&
              !strstr(text, "runtime error:"),
          "a sanitizer spoke in the broker's log");
    free(text);
}

/* 1. The seccomp filter: fork, exec, a signal to the broker or to another process, ptrace and
 * sockets (AF_INET, and AF_UNIX too) fail with EPERM in each run; threads and a signal to itself
 * work; the broker, the other process and count.lua carry on. */
START_TEST(seccomp_refuses_what_a_filter_must_not_do)
{
    static const char *const refused[] = {"fork",   "exec", "kill_parent", "kill_other",
                                          "ptrace", "inet", "unix"};
    static const char *const allowed[] = {"thread", "raise"};
    char *set = strdup("[filter count]\npath = " COUNT_LUA "\npriority = 1\n\n"), *more = NULL;
    for (size_t i = 0; i < 9; i++) {
        const char *a = i < 7 ? refused[i] : allowed[i - 7];
        ck_assert_int_ge(asprintf(&more,
                                  "%s[filter %s]\npath = %s/cf_%s.so\npriority = %zu\n"
                                  "setup.do = %s\nsetup.pid = %d\n\n",
                                  set, a, SS_TEST_FILTERS_DIR, a, i + 2, a, (int)T.victim),
                         0);
        free(set);
        set = more;
    }
    write_conf("", "%s", set);
    free(set);
    start_and_feed();
    json_t *st = wait_done(60);
    for (size_t i = 0; i < 7; i++)
        check_tag(st, refused[i], "cf_refused", N, "seccomp");
    for (size_t i = 0; i < 2; i++)
        check_tag(st, allowed[i], "cf_allowed", N, "threads and signals to itself");
    json_decref(st);
    CHECK(alive(T.victim), "a filter killed a process outside the broker");
    CHECK(alive(T.broker), "a filter killed the broker");
    stop_broker();
}
END_TEST

/* 2. worker_allow = network, processes: sockets and fork work; ptrace and foreign signals stay
 * refused. A word outside the list is refused, naming the key. */
START_TEST(worker_allow_opens_network_and_processes)
{
    write_conf("worker_allow = banana\n", "[filter count]\npath = %s\n", COUNT_LUA);
    char *out = NULL, *err = NULL;
    int rc = tu_sks(&out, &err, "run --config '%s'", T.conf);
    CHECK(rc != 0 && strstr(err, "worker_allow = banana"),
          "an unknown worker_allow word must be refused, naming the key: exit %d: %s", rc, err);
    free(out), free(err);

    write_conf("worker_allow = network, processes\n",
               "[filter count]\npath = %s\npriority = 1\n\n"
               "[filter inet]\npath = %s\npriority = 2\nsetup.do = inet\n\n"
               "[filter unix]\npath = %s\npriority = 3\nsetup.do = unix\n\n"
               "[filter fork]\npath = %s\npriority = 4\nsetup.do = fork\n\n"
               "[filter ptrace]\npath = %s\npriority = 5\nsetup.do = ptrace\nsetup.pid = %d\n\n"
               "[filter kill_other]\npath = %s\npriority = 6\nsetup.do = kill_other\n"
               "setup.pid = %d\n\n"
               "[filter fork_setsid]\npath = %s\npriority = 7\nsetup.do = fork_setsid\n",
               COUNT_LUA, CF("inet"), CF("unix"), CF("fork"), CF("ptrace"), (int)T.victim,
               CF("kill_other"), (int)T.victim, CF("fork_setsid"));
    start_and_feed();
    json_t *st = wait_done(60);
    check_tag(st, "inet", "cf_allowed", N, "worker_allow = network");
    check_tag(st, "unix", "cf_allowed", N, "worker_allow = network");
    check_tag(st, "fork", "cf_allowed", N, "worker_allow = processes");
    check_tag(st, "ptrace", "cf_refused", N, "ptrace whatever worker_allow says");
    check_tag(st, "kill_other", "cf_refused", N, "signals to others whatever worker_allow says");
    /* a child may not leave the process group the broker kills */
    check_tag(st, "fork_setsid", "cf_refused", N, "setsid whatever worker_allow says");
    json_decref(st);
    CHECK(alive(T.victim), "a filter killed a process outside the broker");
    stop_broker();
}
END_TEST

/* 3. abort() still works under seccomp (a signal to itself): it ends only its worker, is charged
 * to its filter (disabled after max_crashes = 2), and its last words reach the log, tagged. */
START_TEST(abort_is_charged_to_its_filter)
{
    write_conf("",
               "[filter count]\npath = %s\npriority = 1\n\n"
               "[filter aborter]\npath = %s\npriority = 2\nsetup.do = abort\n",
               COUNT_LUA, CF("abort"));
    start_and_feed();
    json_t *st = wait_done(60), *f = filter_of(st, "aborter");
    const char *last = json_string_value(json_object_get(f, "last_error"));
    CHECK(tu_json_int(f, "crashes") == 2 && json_is_true(json_object_get(f, "disabled")) && last &&
              strstr(last, "signal 6"),
          "aborter should die of SIGABRT twice and be disabled: %s", tu_json_text(f));
    CHECK(tu_json_int(filter_of(st, "count"), "crashes") == 0, "count.lua was charged: %s",
          tu_json_text(st));
    json_decref(st);
    CHECK(log_count("filter=aborter stderr: aborting on a") == 2,
          "a crashed filter's last stderr line should be logged, tagged, once per crash");
    CHECK(!log_count("outside any filter"), "a crash was not charged to its filter");
    stop_broker();
}
END_TEST

/* 4. stdout and stderr (printf, fprintf(stderr), write(2)) are logged a line at a time, tagged
 * with the filter and the stream, control characters defused; a flood of 100,000 lines a run is
 * cut at 8 KiB per run and at 20 lines per 10 s, then counted in one line. The Lua filter runs
 * between the two C ones: the worker skips the output check after a Lua filter, never after a
 * C one, so the printer's lines are still charged to it and not to the flooder. */
START_TEST(output_is_captured_tagged_and_rate_limited)
{
    write_conf("",
               "[filter printer]\npath = %s\npriority = 1\nsetup.do = print\n\n"
               "[filter count]\npath = %s\npriority = 2\n\n"
               "[filter flooder]\npath = %s\npriority = 3\nsetup.do = flood\n",
               CF("print"), COUNT_LUA, CF("flood"));
    double t0 = tu_now_s();
    start_and_feed();
    json_decref(wait_done(60));
    CHECK(log_count("filter=printer stdout: hello on stdout from a") == N &&
              log_count("filter=printer stderr: hello on stderr from a") == N &&
              log_count("filter=printer stderr: a raw write(2) ?[31mwith an escape") == N,
          "each run's stdout and stderr lines should be in the log, tagged with the filter");
    CHECK(!log_count("\x1b"), "an escape character reached the log");
    /* the window closes 10 s after the first line: its count comes with the next loop round */
    double until = tu_now_s() + 20;
    while (!log_count("filter=flooder output: ") && tu_now_s() < until)
        tu_sleep_ms(200);
    double windows = (tu_now_s() - t0) / 10 + 1;
    int lines = log_count("filter=flooder stdout: ");
    CHECK(lines >= 20 && lines <= 20 * windows,
          "the flood should be logged 20 lines per 10 s: %d lines in %.0f windows", lines, windows);
    CHECK(log_count("filter=flooder output: ") >= 1 && log_count("lines suppressed") >= 1,
          "the lines left out should be counted in the log");
    struct stat sb;
    CHECK(stat(T.log, &sb) == 0 && sb.st_size < 64 * 1024,
          "600,000 lines of flood must not reach the log: it holds %lld bytes",
          (long long)sb.st_size);
    stop_broker();
}
END_TEST

/* 5. worker_user = nobody: the worker runs as nobody (the probe compares getuid()), count.lua
 * still loads and runs (the snapshot is shared with nobody's group), and a user that does not
 * exist is refused at the start. Needs root. */
START_TEST(workers_run_as_another_user)
{
    const struct passwd *pw = getpwnam("nobody");
    if (geteuid() != 0 || !pw) {
        fprintf(stderr, "workers_run_as_another_user: skipped (needs root and a user nobody)\n");
        return;
    }
    uid_t nobody = pw->pw_uid;
    write_conf("worker_user = no_such_user_here\n", "[filter count]\npath = %s\n", COUNT_LUA);
    char *out = NULL, *err = NULL;
    int rc = tu_sks(&out, &err, "run --config '%s'", T.conf);
    CHECK(rc != 0 && strstr(err, "worker_user = no_such_user_here: no such user"),
          "an unknown worker_user must be refused, naming it: exit %d: %s", rc, err);
    free(out), free(err);

    /* a broker that is not root cannot switch users: it says so at the start */
    if (access("/usr/bin/setpriv", X_OK) == 0) {
        write_conf("worker_user = root\n", "[filter count]\npath = %s\n", COUNT_LUA);
        ck_assert_int_eq(chmod(tu_tmp, 0755), 0); /* nobody reads the config */
        char *cmd = NULL;
        ck_assert_int_ge(asprintf(&cmd,
                                  "/usr/bin/setpriv --reuid=%u --regid=%u --clear-groups '%s' run "
                                  "--config '%s'",
                                  (unsigned)nobody, (unsigned)pw->pw_gid, SS_BINARY, T.conf),
                         0);
        rc = tu_run(cmd, &out, &err);
        CHECK(rc != 0 && strstr(err, "worker_user = root: the broker runs as uid"),
              "a broker that is not root must refuse worker_user, saying why: exit %d: %s", rc,
              err);
        free(out), free(err), free(cmd);
        ck_assert_int_eq(chmod(tu_tmp, 0700), 0);
    } else
        fprintf(stderr, "workers_run_as_another_user: no setpriv, the non-root refusal is not "
                        "tested\n");

    /* RLIMIT_NPROC binds once the workers are not root: 16 children at once are too many */
    write_conf("worker_user = nobody\nworker_allow = processes\nworker_processes = 6\n",
               "[filter count]\npath = %s\npriority = 1\n\n"
               "[filter uid]\npath = %s\npriority = 2\nsetup.do = uid\nsetup.uid = %u\n\n"
               "[filter nproc]\npath = %s\npriority = 3\nsetup.do = nproc\n",
               COUNT_LUA, CF("uid"), (unsigned)nobody, CF("nproc"));
    start_and_feed();
    json_t *st = wait_done(60);
    check_tag(st, "uid", "cf_allowed", N, "worker_user = nobody");
    check_tag(st, "nproc", "cf_other", N, "worker_processes = 6 as nobody (EAGAIN)");
    json_decref(st);
    stop_broker();
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *test)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

int main(void)
{
    Suite *s = suite_create("confine");
    add_case(s, "seccomp", seccomp_refuses_what_a_filter_must_not_do);
    add_case(s, "allow", worker_allow_opens_network_and_processes);
    add_case(s, "abort", abort_is_charged_to_its_filter);
    add_case(s, "output", output_is_captured_tagged_and_rate_limited);
    add_case(s, "user", workers_run_as_another_user);
    return tu_run_suite(s);
}
