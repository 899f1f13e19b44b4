/* The intake journal (journal.h). */
#include "journal.h"

#include "buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define SSI_JOURNAL_ROTATE  ((uint64_t)64 << 20)
#define SSI_JOURNAL_MSG_MAX ((uint32_t)1 << 30)

struct ss_store_journal {
    char *dir;
    uint64_t *ids; /* files to replay, ascending */
    size_t nids, next_id_idx;
    ss_store_jpos from; /* replay from here */
    FILE *rd;           /* the file being replayed */
    uint64_t rd_id, rd_off;
    unsigned char *msg;
    size_t cap;
    uint64_t low; /* no file before this one is left */
    int wfd;      /* the file being appended to */
    uint64_t wid, woff;
};

void ss_store_jpos_encode(ss_store_jpos p, unsigned char out[16])
{
    ss_be64_put(out, p.id);
    ss_be64_put(out + 8, p.off);
}

ss_store_jpos ss_store_jpos_decode(const unsigned char in[16])
{
    return (ss_store_jpos){ss_be64_get(in), ss_be64_get(in + 8)};
}

static char *ssi_jfile(const ss_store_journal *j, uint64_t id)
{
    char *p = NULL;
    return asprintf(&p, "%s/%016llx.jrn", j->dir, (unsigned long long)id) < 0 ? NULL : p;
}

static int ssi_id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* List the journal files; delete those wholly before @p from. */
static int ssi_journal_scan(ss_store_journal *j, ss_store_jpos from, ss_err *err)
{
    DIR *d = opendir(j->dir);
    if (!d)
        return ss_err_set(err, errno, "journal %s: %s", j->dir, strerror(errno));
    struct dirent *e;
    size_t cap = 0;
    int rc = 0;
    while ((e = readdir(d)) && !rc) {
        unsigned long long id;
        char tail[8];
        if (sscanf(e->d_name, "%16llx.%4s", &id, tail) != 2 || strcmp(tail, "jrn"))
            continue;
        if (id < from.id) {
            char *p = ssi_jfile(j, id);
            if (p)
                unlink(p);
            free(p);
            continue;
        }
        if (j->nids == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *fresh = realloc(j->ids, cap * sizeof *fresh);
            if (!fresh)
                rc = ss_err_set(err, SS_ENOMEM, "out of memory");
            else
                j->ids = fresh;
        }
        if (!rc)
            j->ids[j->nids++] = id;
    }
    closedir(d);
    if (j->nids)
        qsort(j->ids, j->nids, sizeof *j->ids, ssi_id_cmp);
    return rc;
}

int ss_store_journal_open(const char *dir, ss_store_jpos committed, ss_store_journal **out,
                          ss_err *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return ss_err_set(err, errno, "journal %s: %s", dir, strerror(errno));
    ss_store_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->dir = strdup(dir))) {
        free(j);
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    j->wfd = -1;
    j->from = committed;
    int rc = ssi_journal_scan(j, committed, err);
    j->wid = j->nids ? j->ids[j->nids - 1] + 1 : committed.id + 1;
    j->low = j->nids ? j->ids[0] : j->wid;
    if (rc) {
        ss_store_journal_close(j);
        return rc;
    }
    *out = j;
    return 0;
}

/* Open the next file to replay. @return 1 opened, 0 none left. */
static int ssi_replay_open(ss_store_journal *j)
{
    while (!j->rd && j->next_id_idx < j->nids) {
        uint64_t id = j->ids[j->next_id_idx++];
        char *p = ssi_jfile(j, id);
        j->rd = p ? fopen(p, "rb") : NULL;
        free(p);
        j->rd_id = id;
        j->rd_off = id == j->from.id ? j->from.off : 0;
        if (j->rd && fseeko(j->rd, (off_t)j->rd_off, SEEK_SET) != 0) {
            fclose(j->rd);
            j->rd = NULL;
        }
    }
    return j->rd != NULL;
}

int ss_store_journal_replay(ss_store_journal *j, const void **msg, size_t *len,
                            ss_store_jpos *start, ss_store_jpos *end, ss_err *err)
{
    while (ssi_replay_open(j)) {
        uint32_t hdr[2];
        if (fread(hdr, sizeof hdr, 1, j->rd) == 1 && hdr[0] <= SSI_JOURNAL_MSG_MAX) {
            if (hdr[0] > j->cap) {
                unsigned char *fresh = realloc(j->msg, hdr[0]);
                if (!fresh)
                    return ss_err_set(err, SS_ENOMEM, "out of memory");
                j->msg = fresh;
                j->cap = hdr[0];
            }
            if (fread(j->msg, 1, hdr[0], j->rd) == hdr[0] &&
                (uint32_t)XXH3_64bits(j->msg, hdr[0]) == hdr[1]) {
                *msg = j->msg;
                *len = hdr[0];
                *start = (ss_store_jpos){j->rd_id, j->rd_off};
                j->rd_off += sizeof hdr + hdr[0];
                *end = (ss_store_jpos){j->rd_id, j->rd_off};
                return 1;
            }
        }
        fclose(j->rd); /* end of file, or a torn last record: never ingested */
        j->rd = NULL;
    }
    return 0;
}

static int ssi_journal_rotate(ss_store_journal *j, ss_err *err)
{
    if (j->wfd >= 0) {
        close(j->wfd);
        j->wid++;
    }
    char *p = ssi_jfile(j, j->wid);
    j->wfd = p ? open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    int e = errno;
    free(p);
    j->woff = 0;
    return j->wfd < 0 ? ss_err_set(err, e, "journal %s: %s", j->dir, strerror(e)) : 0;
}

int ss_store_journal_append(ss_store_journal *j, const void *msg, size_t len, ss_store_jpos *start,
                            ss_store_jpos *end, ss_err *err)
{
    if (len > SSI_JOURNAL_MSG_MAX)
        return ss_err_set(err, SS_EINVAL, "message of %zu bytes: larger than 1 GiB", len);
    int rc = 0;
    if (j->wfd < 0 || j->woff >= SSI_JOURNAL_ROTATE)
        rc = ssi_journal_rotate(j, err);
    if (rc)
        return rc;
    uint32_t hdr[2] = {(uint32_t)len, (uint32_t)XXH3_64bits(msg, len)};
    size_t off, total = sizeof hdr + len;
    unsigned char *one = malloc(total); /* one write(): a crash leaves a record whole or torn */
    if (!one)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    memcpy(one, hdr, sizeof hdr);
    memcpy(one + sizeof hdr, msg, len);
    for (off = 0; off < total;) {
        ssize_t w = write(j->wfd, one + off, total - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            free(one);
            /* whatever part was written is a torn record: start a fresh file */
            close(j->wfd);
            j->wfd = -1;
            j->wid++;
            return ss_err_set(err, e, "journal %s: %s", j->dir, strerror(e));
        }
        off += (size_t)w;
    }
    free(one);
    *start = (ss_store_jpos){j->wid, j->woff};
    j->woff += total;
    *end = (ss_store_jpos){j->wid, j->woff};
    return 0;
}

void ss_store_journal_committed(ss_store_journal *j, ss_store_jpos pos)
{
    for (; j->low < pos.id; j->low++) {
        char *p = ssi_jfile(j, j->low);
        if (p)
            unlink(p);
        free(p);
    }
}

void ss_store_journal_close(ss_store_journal *j)
{
    if (!j)
        return;
    if (j->rd)
        fclose(j->rd);
    if (j->wfd >= 0)
        close(j->wfd);
    free(j->ids);
    free(j->msg);
    free(j->dir);
    free(j);
}
