/* What the C benchmarks share: one clock for every figure, and the disk's count of bytes written.
 */
#ifndef SS_BENCH_UTIL_H
#define SS_BENCH_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Seconds on @p clock: CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID count CPU time. */
static inline double bench_clock_s(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Seconds on the monotonic clock: only differences mean anything. */
static inline double bench_now_s(void)
{
    return bench_clock_s(CLOCK_MONOTONIC);
}

/* Bytes written to the device holding @p dir since boot (/proc/diskstats, sectors of 512 bytes),
 * after flushing that file system's dirty pages so that the ingest's writes are all counted;
 * UINT64_MAX when the device is not listed there (an overlay, a network file system). The
 * process's own write_bytes (/proc/self/io) is no use here: on ext4 it counted 3 times the bytes
 * that reached the disk, for pages written once. */
static inline uint64_t bench_disk_written(const char *dir)
{
    struct stat st;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return UINT64_MAX;
    }
    syncfs(fd);
    close(fd);
    FILE *fp = fopen("/proc/diskstats", "r");
    char line[512];
    unsigned maj, min;
    unsigned long long sectors, skip;
    uint64_t out = UINT64_MAX;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "%u %u %*s %llu %llu %llu %llu %llu %llu %llu", &maj, &min, &skip, &skip,
                   &skip, &skip, &skip, &skip, &sectors) == 9 &&
            maj == major(st.st_dev) && min == minor(st.st_dev))
            out = (uint64_t)sectors * 512;
    if (fp)
        fclose(fp);
    return out;
}

#endif
