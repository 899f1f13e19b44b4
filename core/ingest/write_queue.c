/* The ingest's writing thread and the batches handed to it (write_queue.h).
 *
 * head and n change only on the thread that pushes and pops, which reads them without the lock;
 * the writer reads them, and writes rc, written, stalled and done, under it. */
#include "write_queue.h"

static double ssi_wq_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* The slot of the @p i-th oldest item. */
static unsigned ssi_wq_slot(const ssi_wq *q, unsigned i)
{
    return (q->head + i) % SSI_WQ_MAX;
}

/* Whether the writer has an item to write (called with the lock held). */
static int ssi_wq_has_work(const ssi_wq *q)
{
    return q->written < q->n && !q->stalled;
}

static void *ssi_wq_main(void *arg)
{
    ssi_wq *q = arg;
    pthread_setname_np(pthread_self(), "ingest-write"); /* as top -H and perf show it */
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stop && !ssi_wq_has_work(q))
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop)
            break;
        unsigned slot = ssi_wq_slot(q, q->written);
        void *item = q->items[slot];
        pthread_mutex_unlock(&q->mu);
        int rc = q->write(q->ctx, item);
        pthread_mutex_lock(&q->mu);
        q->rc[slot] = rc;
        q->written++;
        q->stalled = rc != 0;
        clock_gettime(CLOCK_MONOTONIC, &q->done);
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int ssi_wq_start(ssi_wq *q, ssi_wq_write_fn write, void *ctx)
{
    *q = (ssi_wq){.write = write, .ctx = ctx};
    int rc = pthread_mutex_init(&q->mu, NULL);
    if (rc)
        return rc;
    if ((rc = pthread_cond_init(&q->cv, NULL))) {
        pthread_mutex_destroy(&q->mu);
        return rc;
    }
    if ((rc = pthread_create(&q->thread, NULL, ssi_wq_main, q))) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        return rc;
    }
    q->running = 1;
    return 0;
}

void ssi_wq_stop(ssi_wq *q)
{
    if (!q->running)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    q->running = 0;
}

double ssi_wq_idle(ssi_wq *q)
{
    if (!q->n)
        return 0;
    pthread_mutex_lock(&q->mu);
    double idle = q->written == q->n && !q->stalled ? ssi_wq_since(&q->done) : 0;
    pthread_mutex_unlock(&q->mu);
    return idle;
}

void ssi_wq_push(ssi_wq *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    q->items[ssi_wq_slot(q, q->n)] = item;
    q->n++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void *ssi_wq_oldest(ssi_wq *q, int wait, int *rc, double *waited)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *waited = 0;
    if (!q->n)
        return NULL;
    pthread_mutex_lock(&q->mu);
    while (wait && !q->written)
        pthread_cond_wait(&q->cv, &q->mu);
    void *item = q->written ? q->items[q->head] : NULL;
    *rc = item ? q->rc[q->head] : 0;
    pthread_mutex_unlock(&q->mu);
    if (wait)
        *waited = ssi_wq_since(&t0);
    return item;
}

void ssi_wq_pop(ssi_wq *q)
{
    pthread_mutex_lock(&q->mu);
    if (q->written) {
        q->head = ssi_wq_slot(q, 1);
        q->n--;
        q->written--;
        q->stalled &= q->written > 0; /* the one that failed is the last written: still there? */
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
}

unsigned ssi_wq_count(const ssi_wq *q)
{
    return q->n;
}

void *ssi_wq_at(const ssi_wq *q, unsigned i)
{
    return i < q->n ? q->items[ssi_wq_slot(q, i)] : NULL;
}
