/* Slow clients (slowloris): MHD closes a connection that stays silent past its timeout, but not
 * one that trickles a byte now and then. Each connection is tracked from its start; one that has
 * not finished a request's headers within header_timeout of its start (or of its previous
 * answer) is shut down by this thread, and MHD then closes it as a connection the peer dropped. */
#include "serve_impl.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ssi_conn {
    ssi_conn *prev, *next;
    int fd;
    double since; /* connected, or answered its last request */
    int busy;     /* a request's headers are in: the server has it */
    int cut;
};

struct ssi_reaper {
    pthread_mutex_t lock;
    ssi_conn *head;
    double header_timeout;
    int running;
    pthread_t thread;
};

static double ssi_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *ssi_reap_loop(void *arg)
{
    ssi_reaper *rp = arg;
    while (rp->running) {
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
        double now = ssi_mono();
        pthread_mutex_lock(&rp->lock);
        for (ssi_conn *c = rp->head; c; c = c->next)
            if (!c->busy && !c->cut && now - c->since > rp->header_timeout) {
                shutdown(c->fd, SHUT_RDWR);
                c->cut = 1;
            }
        pthread_mutex_unlock(&rp->lock);
    }
    return NULL;
}

ssi_reaper *ssi_reaper_new(double header_timeout)
{
    ssi_reaper *rp = calloc(1, sizeof *rp);
    if (!rp)
        return NULL;
    pthread_mutex_init(&rp->lock, NULL);
    rp->header_timeout = header_timeout;
    rp->running = 1;
    if (pthread_create(&rp->thread, NULL, ssi_reap_loop, rp)) {
        pthread_mutex_destroy(&rp->lock);
        free(rp);
        return NULL;
    }
    return rp;
}

/* After MHD has stopped: every connection is gone. */
void ssi_reaper_free(ssi_reaper *rp)
{
    if (!rp)
        return;
    rp->running = 0;
    pthread_join(rp->thread, NULL);
    pthread_mutex_destroy(&rp->lock);
    free(rp);
}

void ssi_reaper_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    ssi_server *srv = cls;
    ssi_reaper *rp = srv->reaper;
    ssi_conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(c = calloc(1, sizeof *c)))
            return; /* untracked: MHD's own timeout still applies */
        c->fd = ci->connect_fd;
        c->since = ssi_mono();
        pthread_mutex_lock(&rp->lock);
        c->next = rp->head;
        if (rp->head)
            rp->head->prev = c;
        rp->head = c;
        pthread_mutex_unlock(&rp->lock);
        *socket_context = c;
    } else if (c) {
        pthread_mutex_lock(&rp->lock);
        if (c->prev)
            c->prev->next = c->next;
        else
            rp->head = c->next;
        if (c->next)
            c->next->prev = c->prev;
        pthread_mutex_unlock(&rp->lock);
        free(c);
        *socket_context = NULL;
    }
}

void ssi_reaper_mark(ssi_server *srv, struct MHD_Connection *conn, int busy)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    ssi_conn *c = ci ? ci->socket_context : NULL;
    if (!c)
        return;
    pthread_mutex_lock(&srv->reaper->lock);
    c->busy = busy;
    c->since = ssi_mono();
    pthread_mutex_unlock(&srv->reaper->lock);
}
