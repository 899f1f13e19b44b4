/*
 * Tag streams on a nanomsg PUB socket. Each message is the tag, a NUL byte, then the event as JSON;
 * a subscriber to one tag subscribes to "TAG\0" so that "jump" does not also match "jumpy".
 * Sends never block: a subscriber too slow to keep up loses messages, the broker never waits.
 */
#include "output.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct nn_out {
    int sock;
    char *buf;
    size_t cap;
    struct timespec last_send; /* zero until something was sent */
} nn_out;

/* nanomsg 1.x does not linger: messages still queued when the socket closes are lost. A process
 * that exits right after publishing (a command-line ingest) waits this long after its last send. */
#define NN_OUT_LINGER_MS 250

static const char *const nn_prefixes[] = {"ipc://", "tcp://", "inproc://", "ws://", NULL};

static int nn_out_open(const char *address, void **impl, ss_err *err)
{
    nn_out *o = calloc(1, sizeof *o);
    if (!o)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    o->sock = nn_socket(AF_SP, NN_PUB);
    if (o->sock < 0 || nn_bind(o->sock, address) < 0) {
        int e = nn_errno();
        if (o->sock >= 0)
            nn_close(o->sock);
        free(o);
        return ss_err_set(err, e, "publish %s: %s", address, nn_strerror(e));
    }
    *impl = o;
    return 0;
}

static int nn_out_publish(void *impl, const char *topic, const char *key, const void *msg,
                          size_t len, ss_err *err)
{
    (void)key; /* one socket, no partitions: every event is already in order */
    nn_out *o = impl;
    size_t tlen = strlen(topic), need = tlen + 1 + len;
    if (need > o->cap) {
        char *fresh = realloc(o->buf, need);
        if (!fresh)
            return ss_err_set(err, SS_ENOMEM, "out of memory");
        o->buf = fresh;
        o->cap = need;
    }
    memcpy(o->buf, topic, tlen + 1);
    memcpy(o->buf + tlen + 1, msg, len);
    if (nn_send(o->sock, o->buf, need, NN_DONTWAIT) < 0 && nn_errno() != EAGAIN)
        return ss_err_set(err, nn_errno(), "publish: %s", nn_strerror(nn_errno()));
    clock_gettime(CLOCK_MONOTONIC, &o->last_send);
    return 0;
}

static void nn_out_linger(const nn_out *o)
{
    if (!o->last_send.tv_sec && !o->last_send.tv_nsec)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms =
        (now.tv_sec - o->last_send.tv_sec) * 1000 + (now.tv_nsec - o->last_send.tv_nsec) / 1000000;
    if (ms >= 0 && ms < NN_OUT_LINGER_MS)
        usleep((useconds_t)(NN_OUT_LINGER_MS - ms) * 1000);
}

static void nn_out_close(void *impl)
{
    nn_out *o = impl;
    if (!o)
        return;
    nn_out_linger(o);
    nn_close(o->sock);
    free(o->buf);
    free(o);
}

const ss_output_ops ssp_output_nanomsg = {
    .abi = SS_OUTPUT_ABI,
    .name = "nanomsg",
    .prefixes = nn_prefixes,
    .open = nn_out_open,
    .publish = nn_out_publish,
    .close = nn_out_close,
};
