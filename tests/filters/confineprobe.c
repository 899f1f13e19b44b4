/*
 * A filter that tries, on each run, one thing a confined worker may refuse (core/broker/confine.h),
 * chosen by the setup item `do`, and says how it went with a tag: cf_refused when the call failed
 * with the errno the seccomp filter gives (EPERM; ENOSYS for clone3), cf_allowed when it worked,
 * cf_other otherwise (the errno is printed to stderr, for the log). Setup item `pid`: the target of
 * kill_other and ptrace; `uid`: what getuid() must be for do = uid to say cf_allowed.
 *
 * do = fork | exec | kill_parent | kill_other | ptrace | inet | unix | thread | raise | uid
 *      print (a few lines on stdout and stderr) | flood (100000 lines) | abort (after a line on
 *      stderr)
 */
#include <skysieve/filter.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CF_NAME /* one shared object per action, so that the broker counts its tags apart */
#define CF_NAME "cf_probe"
#endif

static const ss_tag_decl cf_tags[] = {
    {"cf_refused", "the call was refused"},
    {"cf_allowed", "the call worked"},
    {"cf_other", "the call failed otherwise"},
    {NULL, NULL},
};

typedef struct cf_state {
    char what[32];
    long pid, uid;
} cf_state;

static int cf_setup(const ss_host_api *host, const ss_setup_item *items, size_t n, void **state)
{
    (void)host;
    cf_state *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(items[i].key, "do"))
            snprintf(st->what, sizeof st->what, "%s", items[i].value);
        else if (!strcmp(items[i].key, "pid"))
            st->pid = atol(items[i].value);
        else if (!strcmp(items[i].key, "uid"))
            st->uid = atol(items[i].value);
    }
    *state = st;
    return 0;
}

static void cf_teardown(void *state)
{
    free(state);
}

static volatile sig_atomic_t cf_raised;

static void cf_on_signal(int sig)
{
    (void)sig;
    cf_raised = 1;
}

static void *cf_thread(void *arg)
{
    return arg;
}

/* A child that tries to leave the worker's session and process group: 0 when it could, else the
 * errno it got (its exit status). */
static int cf_child_setsid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(setsid() < 0 ? errno & 0xff : 0);
    int st = 0;
    if (pid < 0)
        return errno;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : ECHILD;
}

/* Up to @p n children at once, each waiting for its pipe to close (a signal to them would be
 * refused): 0 when all could start, else the errno of the first fork that failed. */
static int cf_many_children(int n)
{
    int p[2], rc = 0, started = 0;
    if (pipe(p) != 0)
        return errno;
    for (; started < n; started++) {
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            close(p[1]);
            _exit(read(p[0], &c, 1) < 0);
        }
        if (pid < 0) {
            rc = errno;
            break;
        }
    }
    close(p[0]), close(p[1]);
    while (started-- > 0)
        wait(NULL);
    return rc;
}

/* 0 when the action worked, else the errno it failed with. */
static int cf_act(const cf_state *st)
{
    const char *w = st->what;
    int rc = 0;
    if (!strcmp(w, "fork")) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        rc = pid < 0 ? errno : (waitpid(pid, NULL, 0), 0);
    } else if (!strcmp(w, "exec")) {
        execl("/bin/true", "true", (char *)NULL);
        rc = errno; /* reached only when exec failed */
    } else if (!strcmp(w, "kill_parent")) {
        rc = kill(getppid(), SIGKILL) != 0 ? errno : 0;
    } else if (!strcmp(w, "kill_other")) {
        rc = kill((pid_t)st->pid, SIGKILL) != 0 ? errno : 0;
    } else if (!strcmp(w, "ptrace")) {
        rc = ptrace(PTRACE_ATTACH, (pid_t)st->pid, NULL, NULL) != 0 ? errno : 0;
        if (!rc)
            ptrace(PTRACE_DETACH, (pid_t)st->pid, NULL, NULL);
    } else if (!strcmp(w, "inet") || !strcmp(w, "unix")) {
        int fd = socket(!strcmp(w, "inet") ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
        rc = fd < 0 ? errno : (close(fd), 0);
    } else if (!strcmp(w, "thread")) {
        pthread_t t;
        rc = pthread_create(&t, NULL, cf_thread, NULL);
        if (!rc)
            pthread_join(t, NULL);
    } else if (!strcmp(w, "raise")) {
        cf_raised = 0;
        signal(SIGUSR1, cf_on_signal);
        rc = raise(SIGUSR1) != 0 ? errno : cf_raised ? 0 : EINTR;
    } else if (!strcmp(w, "fork_setsid")) {
        rc = cf_child_setsid();
    } else if (!strcmp(w, "nproc")) {
        rc = cf_many_children(16);
    } else if (!strcmp(w, "uid")) {
        rc = (long)getuid() == st->uid ? 0 : EACCES;
    }
    return rc;
}

static int cf_print(const char *what, ss_locus_view *l, const ss_host_api *host)
{
    ss_alert_info a;
    const char *id = host->alert(l, SS_TRIGGER, &a) == 0 && a.alert_id ? a.alert_id : "?";
    if (!strcmp(what, "print")) {
        printf("hello on stdout from %s\n", id);
        fprintf(stderr, "hello on stderr from %s\n", id);
        static const char raw[] = "a raw write(2) \x1b[31mwith an escape\n";
        return write(2, raw, sizeof raw - 1) < 0 ? -1 : 0;
    }
    if (!strcmp(what, "flood")) {
        for (int i = 0; i < 100000; i++)
            printf("flood line %d of alert %s\n", i, id);
        return 0;
    }
    fprintf(stderr, "aborting on %s\n", id); /* unbuffered: in the capture before the crash */
    abort();
}

static int cf_run(const ss_host_api *host, void *state, ss_locus_view *l)
{
    const cf_state *st = state;
    if (!strcmp(st->what, "print") || !strcmp(st->what, "flood") || !strcmp(st->what, "abort"))
        return cf_print(st->what, l, host);
    int rc = cf_act(st);
    if (rc && rc != EPERM && rc != ENOSYS)
        fprintf(stderr, "%s: %s\n", st->what, strerror(rc));
    return host->add_tag(l, !rc ? "cf_allowed" : rc == EPERM ? "cf_refused" : "cf_other");
}

static ss_filter_descriptor cf_descriptor = {
    SS_FILTER_HEADER,        .name = CF_NAME,
    .version = "1",          .description = "tries what a confined worker may refuse",
    .author = "tests",       .output_tags = cf_tags,
    .setup = cf_setup,       .run = cf_run,
    .teardown = cf_teardown,
};

const ss_filter_descriptor *skysieve_filter(void)
{
    return &cf_descriptor;
}
