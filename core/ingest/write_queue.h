/**
 * @file write_queue.h
 * @brief Private to the core: the batches an ingest has handed to its writing thread.
 *
 * Decoding hands a full batch over and goes on with the next; the writer writes them one after
 * the other, in the order handed, each in its own transaction. Up to SSI_WQ_MAX wait here, so
 * decoding can run more than one batch ahead: a batch's writing time varies with its commit's
 * disk flush (3 to 12 ms on the development machine), and with a single batch ahead either side
 * waited for the other's slow batches. A batch stays in the queue after it is written, until the
 * decoding side has landed it (counted it, reported it, emptied it) and pops it.
 *
 * The writer stops after a batch whose write failed, and goes on only once it is popped: the
 * decoding side then writes it again itself (a full map is grown first), with the writer idle.
 *
 * Everything here but the writer's own loop runs on the one thread that pushes and pops.
 */
#ifndef SS_WRITE_QUEUE_H
#define SS_WRITE_QUEUE_H

#include <pthread.h>
#include <time.h>

#define SSI_WQ_MAX 2 /* batches handed over and not landed */

/** Writes @p item in one transaction. @return 0 or an error, kept for the item's landing. */
typedef int (*ssi_wq_write_fn)(void *ctx, void *item);

typedef struct ssi_wq {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running; /* the thread was started and not stopped */
    int stop;
    ssi_wq_write_fn write;
    void *ctx;
    void *items[SSI_WQ_MAX]; /* items[head] the oldest */
    int rc[SSI_WQ_MAX];
    unsigned head, n, written; /* written: of the n, the oldest that many are */
    int stalled;               /* the last one written failed: nothing more until it is popped */
    struct timespec done;      /* when the writer finished its last item */
} ssi_wq;

/** Start @p q's writing thread. @return 0, or an errno (no thread: the caller writes itself). */
int ssi_wq_start(ssi_wq *q, ssi_wq_write_fn write, void *ctx);
/** Let the writer finish the item it is on, start no other, and end it. Items not written stay
 * unwritten (the caller's to drop). A queue never started, or stopped, is left as it is. */
void ssi_wq_stop(ssi_wq *q);
/** How long the writer has been waiting for an item: since it finished the last one handed over,
 * when all are written and none failed; else, and when none wait to be landed, 0. */
double ssi_wq_idle(ssi_wq *q);
/** Hand @p item over (the caller saw ssi_wq_count() < SSI_WQ_MAX). */
void ssi_wq_push(ssi_wq *q, void *item);
/** The oldest item, once written, with its write's answer in *@p rc; waits for it when @p wait
 * (*@p waited: how long). NULL when the queue is empty, or without @p wait when not yet written.
 */
void *ssi_wq_oldest(ssi_wq *q, int wait, int *rc, double *waited);
/** Remove the oldest item, written and landed; a writer stopped by its failure goes on once the
 * item that failed is the one removed. */
void ssi_wq_pop(ssi_wq *q);
/** How many items wait to be written or landed. */
unsigned ssi_wq_count(const ssi_wq *q);
/** The @p i-th oldest of them. */
void *ssi_wq_at(const ssi_wq *q, unsigned i);

#endif
