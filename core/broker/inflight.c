/*
 * The input being processed (broker_impl.h, ssi_inflight_*): one record in RUN_DIR/intake.inflight,
 * written through a shared mapping. A process that dies, however it dies, leaves the page in the
 * kernel's page cache, so the next start reads what it was doing; no disk sync is needed for
 * that (only a machine crash loses it, and a poison input does not crash the machine). Writing
 * it costs two small memory copies per input, no system call.
 */
#include "broker_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SSI_INFLIGHT_MAGIC 0x736b7969666c7431ULL /* "skyiflt1" */

/* The file's one record. check is written last and cleared first: a record torn by a death in
 * the middle of writing it does not check, and counts as none. */
typedef struct ssi_inflight_rec {
    uint64_t magic;
    uint32_t attempt;
    uint32_t len;
    char what[SSI_INFLIGHT_WHAT];
    uint64_t check;
} ssi_inflight_rec;

struct ssi_inflight {
    volatile ssi_inflight_rec *rec; /* the shared mapping */
};

static uint64_t ssi_fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t ssi_rec_check(uint32_t attempt, uint32_t len, const char *what)
{
    uint64_t h = ssi_fnv(&attempt, sizeof attempt, 0xcbf29ce484222325ULL);
    return ssi_fnv(what, len, ssi_fnv(&len, sizeof len, h)) | 1; /* never 0: 0 is "none" */
}

/* What a dead process left, or attempt 0. */
static void ssi_inflight_read(const volatile ssi_inflight_rec *r, ssi_inflight_mark *left)
{
    ssi_inflight_rec c;
    memcpy(&c, (const void *)r, sizeof c);
    *left = (ssi_inflight_mark){0};
    if (c.magic != SSI_INFLIGHT_MAGIC || c.len >= sizeof c.what ||
        c.check != ssi_rec_check(c.attempt, c.len, c.what))
        return;
    left->attempt = c.attempt;
    memcpy(left->what, c.what, c.len);
    left->what[c.len] = '\0';
}

int ssi_inflight_open(const char *run_dir, ssi_inflight **out, ssi_inflight_mark *left, ss_err *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/intake.inflight", run_dir) < 0)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), e = errno;
    void *m = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, sizeof(ssi_inflight_rec)) == 0)
        m = mmap(NULL, sizeof(ssi_inflight_rec), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    e = m == MAP_FAILED ? (fd < 0 ? e : errno) : 0;
    if (fd >= 0)
        close(fd); /* the mapping stays */
    ssi_inflight *f = e ? NULL : calloc(1, sizeof *f);
    if (!f) {
        int rc = ss_err_set(err, e ? e : SS_ENOMEM, "%s: %s", path, e ? strerror(e) : "no memory");
        if (m != MAP_FAILED)
            munmap(m, sizeof(ssi_inflight_rec));
        free(path);
        return rc;
    }
    free(path);
    f->rec = m;
    ssi_inflight_read(f->rec, left);
    *out = f;
    return 0;
}

void ssi_inflight_begin(ssi_inflight *f, const char *what, unsigned attempt)
{
    if (!f)
        return;
    volatile ssi_inflight_rec *r = f->rec;
    size_t len = strnlen(what, sizeof r->what - 1);
    r->check = 0;
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* cleared before the fields change */
    r->magic = SSI_INFLIGHT_MAGIC;
    r->attempt = attempt;
    r->len = (uint32_t)len;
    memcpy((char *)r->what, what, len);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    r->check = ssi_rec_check(attempt, (uint32_t)len, what);
}

void ssi_inflight_end(ssi_inflight *f)
{
    if (f)
        f->rec->check = 0;
}

void ssi_inflight_close(ssi_inflight *f)
{
    if (!f)
        return;
    ssi_inflight_end(f); /* a graceful stop leaves nothing in progress */
    munmap((void *)f->rec, sizeof(ssi_inflight_rec));
    free(f);
}
