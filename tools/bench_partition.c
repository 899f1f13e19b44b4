/*
 * bench_partition: the routing cost of `skysieve partition` (core/partition.c), without Kafka.
 *
 * ALERTS positions (default 1,000,000), SOURCES sources (default 100,000) uniform on the sphere,
 * each alert 0.2" from its source, are routed at each nside of 32, 64 and 256 with a radius of
 * 1": the border fraction, the anchors made, and routes per second through a fresh anchors' LMDB
 * (every new anchor a committed write transaction). Usage: bench_partition [ALERTS [SOURCES]].
 */
#include "bench_util.h"
#include "partition.h"
#include "rng.h"
#include "sky.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct pos {
    double ra, dec;
} pos;

/* Sources uniform on the sphere, alerts scattered 0.2" around a random one. */
static pos *alerts_make(size_t n, size_t nsrc)
{
    ss_rng r;
    ss_rng_seed(&r, 42, 7);
    pos *src = malloc(nsrc * sizeof *src), *a = malloc(n * sizeof *a);
    if (!src || !a)
        exit((fprintf(stderr, "bench_partition: out of memory\n"), 1));
    for (size_t i = 0; i < nsrc; i++)
        src[i] = (pos){ss_rng_range(&r, 0, 360), asin(ss_rng_range(&r, -1, 1)) * 180 / M_PI};
    for (size_t i = 0; i < n; i++) {
        pos s = src[ss_rng_next(&r) % nsrc];
        ss_vec3 v = ss_sky_radec_to_vec(s.ra, s.dec);
        double k = 0.2 / 3600 * M_PI / 180;
        v.x += k * ss_rng_normal(&r), v.y += k * ss_rng_normal(&r), v.z += k * ss_rng_normal(&r);
        ss_sky_vec_to_radec(v, &a[i].ra, &a[i].dec);
    }
    free(src);
    return a;
}

static void bench(const pos *a, size_t n, int64_t nside)
{
    char dir[] = "/tmp/bench_partition.XXXXXX";
    if (!mkdtemp(dir))
        exit((perror("mkdtemp"), 1));
    ss_partition_anchors *an = NULL;
    ss_err err = {0};
    if (ss_partition_anchors_open(dir, nside, 2.0 / 3600, &an, &err))
        exit((fprintf(stderr, "bench_partition: %s\n", err.msg), 1));
    size_t border = 0, anchored = 0;
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++) {
        ss_partition_route r;
        if (ss_partition_anchors_route(an, a[i].ra, a[i].dec, &r, &err))
            exit((fprintf(stderr, "bench_partition: %s\n", err.msg), 1));
        border += (size_t)r.border;
        anchored += (size_t)r.anchored;
    }
    double dt = bench_now_s() - t0;
    printf("nside %5lld: %zu alerts, %.3f%% border, %zu anchored, %llu anchors, %.0f routes/s\n",
           (long long)nside, n, 100.0 * (double)border / (double)n, anchored,
           (unsigned long long)ss_partition_anchors_count(an), (double)n / dt);
    ss_partition_anchors_close(an);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        fprintf(stderr, "bench_partition: cannot remove %s\n", dir);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t nsrc = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    if (!n || !nsrc)
        return fprintf(stderr, "usage: bench_partition [ALERTS [SOURCES]]\n"), 2;
    pos *a = alerts_make(n, nsrc);
    static const int64_t nsides[] = {32, 64, 256};
    for (size_t i = 0; i < sizeof nsides / sizeof *nsides; i++)
        bench(a, n, nsides[i]);
    free(a);
    return 0;
}
