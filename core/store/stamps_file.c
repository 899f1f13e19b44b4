/* The stamps file (format 13): the chunks of stamps in a file of their own, beside LMDB's.
 *
 * Formats 11 and 12 kept a chunk as a value of the stamps table. LMDB copied it into dirty pages
 * of its own at the put, wrote them all at the commit and waited there for the disk: at 200,000
 * ZTF alerts the writing thread spent a quarter of its time copying stamps into the page cache
 * and a quarter asleep in the commit's fdatasync. A chunk is now written once, when it closes, at
 * the end of this file; its writeback starts at once (sync_file_range), so that by the commit
 * most of it is on disk; and the stamps table keeps only where it lies (cutouts.c).
 *
 * Order on disk: the file is synced before LMDB's commit, so a reference committed never names
 * bytes that a crash could lose. Bytes past the committed end (meta "stamps_end") belong to no
 * chunk: a transaction that did not commit wrote them, and the next one writes over them.
 * Retention punches a dropped chunk's bytes out of the file after the commit that dropped it; a
 * crash between the two leaves them allocated, and `skysieve compact` leaves them out. */
#include "store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define SSI_STAMPS_FILE "stamps.dat"

int ssi_fd_write_at(int fd, const void *p, size_t len, uint64_t off)
{
    const char *b = p;
    while (len) {
        ssize_t n = pwrite(fd, b, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* a write of nothing, on a regular file, is a full disk */
            return n < 0 ? errno : ENOSPC;
        b += n, len -= (size_t)n, off += (uint64_t)n;
    }
    return 0;
}

int ssi_fd_read_at(int fd, void *p, size_t len, uint64_t off)
{
    char *b = p;
    while (len) {
        ssize_t n = pread(fd, b, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0) /* past the end: a chunk the file lost */
            return SS_ECORRUPT;
        b += n, len -= (size_t)n, off += (uint64_t)n;
    }
    return 0;
}

int ssi_stamps_file_open(const char *dir, int readonly, int *fd)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" SSI_STAMPS_FILE, dir);
    *fd = open(path, readonly ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd >= 0 || (readonly && errno == ENOENT))
        return 0; /* read-only and absent: a store that wrote no chunk since format 13 */
    return errno;
}

void ssi_stamps_file_remove(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" SSI_STAMPS_FILE, dir);
    unlink(path);
}

int ssi_stamps_file_write(ss_store *s, const void *p, size_t len, uint64_t off)
{
    if (s->stamps_fd < 0)
        return SS_ECORRUPT;
    int rc = ssi_fd_write_at(s->stamps_fd, p, len, off);
    if (!rc && !s->nosync) /* begun now, the writeback is mostly done when the commit waits */
        sync_file_range(s->stamps_fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
    return rc;
}

int ssi_stamps_file_sync(ss_store *s)
{
    if (s->nosync || s->stamps_fd < 0)
        return 0;
    return fdatasync(s->stamps_fd) ? errno : 0;
}

/* Clean after the sync: the kernel drops them rather than keep a night's stamps in memory. */
void ssi_stamps_file_uncache(ss_store *s, uint64_t from, uint64_t end)
{
    if (s->uncache_stamps && s->stamps_fd >= 0 && from < end)
        posix_fadvise(s->stamps_fd, (off_t)from, (off_t)(end - from), POSIX_FADV_DONTNEED);
}

/* A reader that opened the store before a writer upgraded it to format 13 finds the file made
 * since. Readers of several threads may race here: one descriptor wins, the others are closed. */
static int ssi_stamps_fd(ss_store *s)
{
    int fd = __atomic_load_n(&s->stamps_fd, __ATOMIC_ACQUIRE), mine = -1, none = -1;
    if (fd >= 0 || !s->readonly || ssi_stamps_file_open(s->path, 1, &mine) || mine < 0)
        return fd;
    if (__atomic_compare_exchange_n(&s->stamps_fd, &none, mine, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return mine;
    close(mine);
    return none; /* the winner's */
}

int ssi_stamps_file_read(ss_store *s, void *p, size_t len, uint64_t off)
{
    int fd = ssi_stamps_fd(s);
    return fd < 0 ? SS_ECORRUPT : ssi_fd_read_at(fd, p, len, off);
}

int ssi_stamps_file_punch(ss_store *s, uint64_t off, uint64_t len)
{
    if (s->stamps_fd < 0 || !len)
        return 0;
    /* KEEP_SIZE: the end stays where later chunks are; a filesystem without holes keeps the
     * bytes, which a compaction leaves out */
    int rc =
        fallocate(s->stamps_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
    return rc && errno != EOPNOTSUPP ? errno : 0;
}

int ssi_stamps_file_stat(ss_store *s, uint64_t *size, uint64_t *allocated)
{
    struct stat st;
    int fd = ssi_stamps_fd(s);
    *size = *allocated = 0;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st))
        return errno;
    *size = (uint64_t)st.st_size;
    *allocated = (uint64_t)st.st_blocks * 512; /* st_blocks counts 512-byte units (stat(2)) */
    return 0;
}
