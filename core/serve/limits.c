/* Requests per second per client address (a token bucket each, in a fixed table whose oldest
 * entry a new client takes over), and the token comparison. */
#include "serve_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSI_CLIENTS 4096
#define SSI_PROBE   8

typedef struct ssi_bucket {
    char client[64];
    double tokens, last;
} ssi_bucket;

struct ssi_limiter {
    pthread_mutex_t lock;
    double rate, burst;
    ssi_bucket b[SSI_CLIENTS];
};

ssi_limiter *ssi_limiter_new(double rate, double burst)
{
    ssi_limiter *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    pthread_mutex_init(&l->lock, NULL);
    l->rate = rate;
    l->burst = burst > 1 ? burst : 1;
    return l;
}

void ssi_limiter_free(ssi_limiter *l)
{
    if (l)
        pthread_mutex_destroy(&l->lock);
    free(l);
}

static uint64_t ssi_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The client's bucket, or the stalest of its probe window taken over for it. */
static ssi_bucket *ssi_bucket_of(ssi_limiter *l, const char *client, double now)
{
    uint64_t h = ssi_hash(client);
    ssi_bucket *oldest = NULL;
    for (int i = 0; i < SSI_PROBE; i++) {
        ssi_bucket *b = &l->b[(h + (uint64_t)i) % SSI_CLIENTS];
        if (!strcmp(b->client, client))
            return b;
        if (!oldest || b->last < oldest->last)
            oldest = b;
    }
    snprintf(oldest->client, sizeof oldest->client, "%s", client);
    oldest->tokens = l->burst;
    oldest->last = now;
    return oldest;
}

double ssi_limiter_take(ssi_limiter *l, const char *client)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec * 1e-9, wait = 0;
    pthread_mutex_lock(&l->lock);
    ssi_bucket *b = ssi_bucket_of(l, client, now);
    b->tokens += (now - b->last) * l->rate;
    if (b->tokens > l->burst)
        b->tokens = l->burst;
    b->last = now;
    if (b->tokens >= 1)
        b->tokens -= 1;
    else
        wait = (1 - b->tokens) / l->rate;
    pthread_mutex_unlock(&l->lock);
    return wait;
}

int ssi_token_equal(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = (unsigned char)(gl != wl);
    for (size_t i = 0; i < wl; i++) /* always the configured token's length */
        diff |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
    return diff == 0;
}
