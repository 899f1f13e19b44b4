/*
 * The replay's staging: a night decoded once, written to a file packet by packet, read back in
 * observation-time order. Only the index (24 bytes a packet) stays in memory, so a night of ZTF
 * alerts with cutouts replays in bounded memory.
 */
#include "replay_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ssi_stage_entry {
    double mjd;
    uint64_t off; /* also the input order: ties of mjd keep it */
    uint32_t len;
} ssi_stage_entry;

struct ssi_stage {
    char *path;
    FILE *fp;
    uint64_t size;
    ssi_stage_entry *idx;
    size_t n, cap, next;
    ss_wbuf rec, part; /* a packet being written; one of its parts */
    unsigned char *rbuf;
    size_t rcap;
    const volatile sig_atomic_t *stop;
};

int ssi_stage_new(const char *dir, ssi_stage **out, ss_err *err)
{
    ssi_stage *st = calloc(1, sizeof *st);
    size_t len = strlen(dir) + sizeof "/staging";
    if (!st || !(st->path = malloc(len))) {
        free(st);
        return ss_err_set(err, SS_ENOMEM, "replay: out of memory");
    }
    snprintf(st->path, len, "%s/staging", dir);
    if (!(st->fp = fopen(st->path, "w+b"))) {
        int e = errno;
        ss_err_set(err, e, "replay: cannot create %s: %s", st->path, strerror(e));
        free(st->path);
        free(st);
        return e;
    }
    *out = st;
    return 0;
}

/* One packet: its alerts, its locus properties and its stamps, each a length-prefixed blob. */
static void ssi_stage_encode(ssi_stage *st, const ss_packet *pkt)
{
    ss_wbuf *b = &st->rec;
    ss_wbuf_reset(b);
    ss_wbuf_u32(b, pkt->n);
    for (uint32_t i = 0; i < pkt->n; i++) {
        ss_store_alert_encode(&pkt->alerts[i], "", &st->part);
        b->failed |= st->part.failed;
        ss_wbuf_strn(b, (const char *)st->part.data, (uint32_t)st->part.len);
    }
    ss_store_props_encode(pkt->locus_props, pkt->nlocus_props, &st->part);
    b->failed |= st->part.failed;
    ss_wbuf_strn(b, (const char *)st->part.data, (uint32_t)st->part.len);
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        const ss_cutout *c = &pkt->cutouts[k];
        if (c->data)
            ss_wbuf_strn(b, (const char *)c->data, (uint32_t)c->len);
        else
            ss_wbuf_str(b, NULL);
        ss_wbuf_str(b, c->file_name);
    }
}

int ssi_stage_put(ssi_stage *st, const ss_packet *pkt, ss_err *err)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 4096;
        ssi_stage_entry *fresh = realloc(st->idx, cap * sizeof *fresh);
        if (!fresh)
            return ss_err_set(err, SS_ENOMEM, "replay: out of memory staging the night");
        st->idx = fresh;
        st->cap = cap;
    }
    ssi_stage_encode(st, pkt);
    if (st->rec.failed)
        return ss_err_set(err, SS_ENOMEM, "replay: out of memory staging the night");
    if (fwrite(st->rec.data, 1, st->rec.len, st->fp) != st->rec.len) {
        int e = errno ? errno : EIO;
        return ss_err_set(err, e, "replay: writing %s: %s", st->path, strerror(e));
    }
    st->idx[st->n++] = (ssi_stage_entry){pkt->alerts[0].mjd, st->size, (uint32_t)st->rec.len};
    st->size += st->rec.len;
    return 0;
}

static int ssi_entry_cmp(const void *a, const void *b)
{
    const ssi_stage_entry *x = a, *y = b;
    if (x->mjd != y->mjd)
        return x->mjd < y->mjd ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

int ssi_stage_sort(ssi_stage *st, ss_err *err)
{
    if (fflush(st->fp)) {
        int e = errno ? errno : EIO;
        return ss_err_set(err, e, "replay: writing %s: %s", st->path, strerror(e));
    }
    qsort(st->idx, st->n, sizeof *st->idx, ssi_entry_cmp);
    st->next = 0;
    return 0;
}

uint64_t ssi_stage_count(const ssi_stage *st)
{
    return st->n;
}

void ssi_stage_span(const ssi_stage *st, double *first, double *last)
{
    *first = st->n ? st->idx[0].mjd : NAN;
    *last = st->n ? st->idx[st->n - 1].mjd : NAN;
}

void ssi_stage_watch(ssi_stage *st, const volatile sig_atomic_t *stop)
{
    st->stop = stop;
}

void ssi_stage_rewind(ssi_stage *st)
{
    st->next = 0;
}

void ssi_stage_free(ssi_stage *st)
{
    if (!st)
        return;
    if (st->fp)
        fclose(st->fp);
    unlink(st->path);
    free(st->path);
    free(st->idx);
    free(st->rbuf);
    ss_wbuf_free(&st->rec);
    ss_wbuf_free(&st->part);
    free(st);
}

static int ssi_stage_decode_cutouts(ss_rbuf *r, ss_packet *pkt)
{
    for (int k = 0; k < SS_CUTOUT__COUNT && !r->bad; k++) {
        uint32_t len, nlen;
        const char *data = ss_rbuf_str(r, &len), *name = ss_rbuf_str(r, &nlen);
        char *fname = name ? ss_packet_strdup(pkt, name, nlen) : NULL;
        if ((name && !fname) ||
            (data && ss_packet_set_cutout(pkt, (ss_cutout_kind)k, data, len, fname)))
            return SS_ENOMEM;
    }
    return r->bad ? SS_ECORRUPT : 0;
}

/* Decode one staged packet from @p r into the empty @p pkt. */
static int ssi_stage_decode(ss_rbuf *r, ss_packet *pkt)
{
    uint32_t n = ss_rbuf_u32(r), len;
    char locus_id[SS_LOCUS_ID_LEN + 1];
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc && !r->bad; i++) {
        const char *blob = ss_rbuf_str(r, &len);
        ss_alert *a = ss_packet_add(pkt);
        rc = !a      ? SS_ENOMEM
             : !blob ? SS_ECORRUPT
                     : ss_store_alert_decode(blob, len, pkt, a, locus_id);
    }
    const char *props = rc || r->bad ? NULL : ss_rbuf_str(r, &len);
    if (!rc && props) {
        ss_prop *items;
        uint32_t np;
        if (!(rc = ss_store_props_decode(props, len, pkt->arena, &items, &np))) {
            pkt->locus_props = items;
            pkt->nlocus_props = pkt->caplocus_props = np;
        }
    }
    if (!rc)
        rc = ssi_stage_decode_cutouts(r, pkt);
    return rc ? rc : r->bad || r->p != r->end ? SS_ECORRUPT : 0;
}

/* The decoder's next(): the staged packets in order. Staged packets were valid when staged, so a
 * failure here is the staging file's (disk, memory), and fatal. */
static int ssi_stage_next(void *state, ss_packet *pkt, ss_reject *rej, ss_err *err)
{
    (void)rej;
    ssi_stage *st = state;
    if (st->stop && *st->stop)
        return ss_err_set(err, EINTR, "replay: interrupted");
    if (st->next == st->n)
        return 0;
    const ssi_stage_entry *e = &st->idx[st->next++];
    if (e->len > st->rcap) {
        unsigned char *fresh = realloc(st->rbuf, e->len);
        if (!fresh)
            return ss_err_set(err, SS_ENOMEM, "replay: out of memory reading %s", st->path);
        st->rbuf = fresh;
        st->rcap = e->len;
    }
    ssize_t got = pread(fileno(st->fp), st->rbuf, e->len, (off_t)e->off);
    if (got != (ssize_t)e->len) {
        int x = got < 0 ? errno : EIO;
        return ss_err_set(err, x, "replay: reading %s: %s", st->path, strerror(x));
    }
    ss_rbuf r = {st->rbuf, st->rbuf + e->len, 0};
    int rc = ssi_stage_decode(&r, pkt);
    if (rc)
        return ss_err_set(err, rc, "replay: %s: packet at offset %llu: %s", st->path,
                          (unsigned long long)e->off, ss_strerror(rc));
    return 1;
}

const ss_decoder_ops ssi_stage_decoder = {
    .abi = SS_DECODER_ABI,
    .name = "replay-staging",
    .next = ssi_stage_next,
};
