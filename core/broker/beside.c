/* `skysieve serve` beside the broker ([serve] in its configuration): a child process the broker
 * starts once its store is open, restarts when it dies, and stops with itself. A process of its
 * own, not a thread: HTTP clients then cannot slow or crash ingest, and the server's LMDB
 * environment is its own, so the broker's map growth reaches it as another process's would. */
#include "broker_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SSI_BESIDE_BACKOFF_MAX 60.0
#define SSI_BESIDE_STOP_GRACE  5.0

static void ssi_beside_exec(const ssi_broker *b)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the broker blocks the signals it reads from an fd */
    prctl(PR_SET_PDEATHSIG, SIGTERM);      /* a broker killed with -9 takes the server along */
    closefrom(3);
    execl(b->pc.exe, b->pc.exe, "serve", "--config", b->c.file, (char *)NULL);
    _exit(127);
}

void ssi_beside_start(ssi_broker *b)
{
    pid_t pid = fork();
    if (pid == 0)
        ssi_beside_exec(b);
    if (pid < 0) {
        ss_log_line(b->lg, SS_LOG_ERROR, "serve: cannot start: %s", strerror(errno));
        b->serve.next_start = ssi_mono() + b->serve.backoff;
        return;
    }
    b->serve.pid = pid;
    b->serve.started = ssi_mono();
    ss_log_line(b->lg, SS_LOG_INFO, "serve: started pid=%d", (int)pid);
}

/* A server that died is started again, after a pause that doubles while it keeps dying soon. */
void ssi_beside_round(ssi_broker *b, double now)
{
    int st;
    if (!b->c.serve || b->stopping)
        return;
    if (b->serve.pid > 0 && waitpid(b->serve.pid, &st, WNOHANG) == b->serve.pid) {
        double ran = now - b->serve.started;
        b->serve.backoff = ran > SSI_BESIDE_BACKOFF_MAX ? 1.0 : b->serve.backoff * 2;
        if (b->serve.backoff > SSI_BESIDE_BACKOFF_MAX)
            b->serve.backoff = SSI_BESIDE_BACKOFF_MAX;
        ss_log_line(b->lg, SS_LOG_WARN, "serve: pid=%d %s %d after %.0f s; restarting in %.0f s",
                    (int)b->serve.pid, WIFSIGNALED(st) ? "killed by signal" : "exited with",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), ran, b->serve.backoff);
        b->serve.pid = 0;
        b->serve.restarts++;
        b->serve.next_start = now + b->serve.backoff;
    }
    if (b->serve.pid <= 0 && now >= b->serve.next_start)
        ssi_beside_start(b);
}

void ssi_beside_stop(ssi_broker *b)
{
    if (b->serve.pid <= 0)
        return;
    int st;
    kill(b->serve.pid, SIGTERM);
    double until = ssi_mono() + SSI_BESIDE_STOP_GRACE;
    while (waitpid(b->serve.pid, &st, WNOHANG) == 0) {
        if (ssi_mono() > until) {
            kill(b->serve.pid, SIGKILL);
            waitpid(b->serve.pid, &st, 0);
            break;
        }
        usleep(10 * 1000);
    }
    b->serve.pid = 0;
}
