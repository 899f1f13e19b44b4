/*
 * The ingest's writing thread and its queue (write_queue.c): items written once each, in the order
 * handed over; landed in that order; nothing written past a failure until it is popped; a stop
 * that starts nothing new; the writer's idle time.
 */
#include "write_queue.h"
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <unistd.h>

/* A writer the test holds back: each write waits until the test has opened as many as it asks. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int opened;    /* writes allowed to finish */
    int started;   /* writes begun */
    int order[8];  /* the items' numbers, as written */
    int fail_item; /* the item whose write fails the first time, or -1 */
} gate;

static int gated_write(void *ctx, void *item)
{
    gate *g = ctx;
    int n = *(int *)item, rc = 0;
    pthread_mutex_lock(&g->mu);
    int me = g->started++;
    pthread_cond_broadcast(&g->cv);
    while (g->opened <= me)
        pthread_cond_wait(&g->cv, &g->mu);
    g->order[me] = n;
    if (n == g->fail_item) {
        g->fail_item = -1;
        rc = 7;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static void gate_init(gate *g, int fail_item)
{
    *g = (gate){.fail_item = fail_item};
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_open(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    g->opened += n;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Wait until @p n writes have begun. */
static void gate_await_started(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->started < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static int started(gate *g)
{
    pthread_mutex_lock(&g->mu);
    int n = g->started;
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* The oldest item, waited for: its number, its write's answer in *@p rc. */
static int land(ssi_wq *q, int *rc)
{
    double waited = -1;
    int *item = ssi_wq_oldest(q, 1, rc, &waited);
    ck_assert_ptr_nonnull(item);
    ck_assert(waited >= 0);
    ssi_wq_pop(q);
    return *item;
}

START_TEST(written_and_landed_in_the_order_handed)
{
    gate g;
    gate_init(&g, -1);
    ssi_wq q;
    int items[6] = {10, 11, 12, 13, 14, 15}, rc = -1;
    double waited;
    ck_assert_int_eq(ssi_wq_start(&q, gated_write, &g), 0);
    ck_assert_ptr_null(ssi_wq_oldest(&q, 1, &rc, &waited)); /* nothing handed: no wait */
    ssi_wq_push(&q, &items[0]);
    ssi_wq_push(&q, &items[1]);
    ck_assert_uint_eq(ssi_wq_count(&q), SSI_WQ_MAX);
    ck_assert_ptr_eq(ssi_wq_at(&q, 1), &items[1]);
    gate_await_started(&g, 1);
    ck_assert_ptr_null(ssi_wq_oldest(&q, 0, &rc, &waited)); /* still being written */
    gate_open(&g, 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(land(&q, &rc), 10 + i);
        ck_assert_int_eq(rc, 0);
        if (i + 2 < 6)
            ssi_wq_push(&q, &items[i + 2]); /* the slot freed is used again */
    }
    ck_assert_uint_eq(ssi_wq_count(&q), 0);
    ssi_wq_stop(&q);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(g.order[i], 10 + i); /* each once, in order */
    ck_assert_int_eq(g.started, 6);
}
END_TEST

/* 20 written, 21 fails, 22 waits: landing 20 does not let the writer on, landing 21 does. */
START_TEST(nothing_written_past_a_failure_until_it_is_popped)
{
    gate g;
    gate_init(&g, 21);
    ssi_wq q;
    int items[3] = {20, 21, 22}, rc = -1;
    double waited;
    ck_assert_int_eq(ssi_wq_start(&q, gated_write, &g), 0);
    ssi_wq_push(&q, &items[0]);
    ssi_wq_push(&q, &items[1]);
    gate_open(&g, 3);
    gate_await_started(&g, 2);
    ck_assert_int_eq(land(&q, &rc), 20);
    ck_assert_int_eq(rc, 0);
    ssi_wq_push(&q, &items[2]);
    ck_assert_ptr_eq(ssi_wq_oldest(&q, 1, &rc, &waited), &items[1]);
    ck_assert_int_eq(rc, 7);
    usleep(20000);
    ck_assert_int_eq(started(&g), 2); /* the writer stopped at the failure */
    ck_assert_ptr_eq(ssi_wq_oldest(&q, 1, &rc, &waited), &items[1]); /* asked again: the same */
    ssi_wq_pop(&q); /* written again and landed by the caller */
    ck_assert_int_eq(land(&q, &rc), 22);
    ck_assert_int_eq(rc, 0);
    ssi_wq_stop(&q);
}
END_TEST

/* Opens the gate once, a little later: the stop is asked while a write waits on it. */
static void *open_later(void *arg)
{
    usleep(20000);
    gate_open(arg, 1);
    return NULL;
}

START_TEST(a_stop_finishes_the_write_begun_and_starts_no_other)
{
    gate g;
    gate_init(&g, -1);
    ssi_wq q;
    pthread_t opener;
    int items[2] = {30, 31};
    ck_assert_int_eq(ssi_wq_start(&q, gated_write, &g), 0);
    ssi_wq_push(&q, &items[0]);
    ssi_wq_push(&q, &items[1]);
    gate_await_started(&g, 1);
    ck_assert_int_eq(pthread_create(&opener, NULL, open_later, &g), 0);
    ssi_wq_stop(&q); /* returns once the first write is done */
    pthread_join(opener, NULL);
    ck_assert_int_eq(g.order[0], 30);
    ck_assert_int_eq(g.started, 1); /* the second was never begun */
    ssi_wq_stop(&q);                /* stopped: nothing to do */
    ck_assert_int_eq(q.running, 0);
}
END_TEST

START_TEST(idle_counts_from_the_last_write_while_nothing_waits)
{
    gate g;
    gate_init(&g, -1);
    ssi_wq q;
    int item = 40, rc;
    ck_assert_int_eq(ssi_wq_start(&q, gated_write, &g), 0);
    ck_assert(ssi_wq_idle(&q) == 0); /* nothing handed: nothing to wait for yet */
    ssi_wq_push(&q, &item);
    gate_await_started(&g, 1);
    usleep(20000);
    ck_assert(ssi_wq_idle(&q) == 0); /* busy */
    gate_open(&g, 1);
    double waited;
    ck_assert_ptr_eq(ssi_wq_oldest(&q, 1, &rc, &waited), &item);
    usleep(30000);
    double idle = ssi_wq_idle(&q);
    ck_assert(idle >= 0.025 && idle < 10);
    ssi_wq_pop(&q);
    ck_assert(ssi_wq_idle(&q) == 0); /* all landed: idle no longer counts */
    ssi_wq_stop(&q);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("write_queue");
    TCase *tc = tcase_create("queue");
    tcase_add_test(tc, written_and_landed_in_the_order_handed);
    tcase_add_test(tc, nothing_written_past_a_failure_until_it_is_popped);
    tcase_add_test(tc, a_stop_finishes_the_write_begun_and_starts_no_other);
    tcase_add_test(tc, idle_counts_from_the_last_write_while_nothing_waits);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
