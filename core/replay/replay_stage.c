/*
 * The replay's staging: a night decoded once, written to a file packet by packet, read back in
 * observation-time order (an exposure's alerts, which share their time, by sky pixel). Only the
 * index (24 bytes a packet) is held in memory, and only until it is sorted: the packets' offsets
 * in that order then go to a second file, read back a block at a time, so that a
 * 10-million-alert night's 240 MB of index do not stay resident beside the scratch store through
 * the whole replay. Each packet's length is in the file, before it.
 */
#include "replay_impl.h"

#include "locus_id.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SSI_STAGE_PACKET_MAX UINT32_MAX /* the length prefix's reach */
/* Bytes read at once: a staged tuple or CSV packet (about 200) whole, without copying kilobytes
 * per packet; larger packets take a second read. */
#define SSI_STAGE_READ_AHEAD 512
#define SSI_ORDER_BLOCK      8192 /* offsets read from the order file at once (64 kB) */

struct ssi_stage {
    char *path, *order_path;
    FILE *fp, *order; /* the packets; their offsets in time order, once sorted */
    uint64_t size;
    ssi_stage_entry *idx; /* until sorted */
    size_t n, cap, next;
    double first, last; /* the span, kept when the index is let go */
    uint64_t *block;    /* offsets of packets [block_at, block_at + block_n) */
    size_t block_at, block_n;
    ss_wbuf rec, part; /* a packet being written; one of its parts */
    unsigned char *rbuf;
    size_t rcap;
    const volatile sig_atomic_t *stop;
};

int ssi_stage_new(const char *dir, ssi_stage **out, ss_err *err)
{
    ssi_stage *st = calloc(1, sizeof *st);
    if (!st || asprintf(&st->path, "%s/staging", dir) < 0) {
        free(st);
        return ss_err_set(err, SS_ENOMEM, "replay: out of memory");
    }
    st->first = st->last = NAN;
    if (asprintf(&st->order_path, "%s/staging.order", dir) < 0) {
        st->order_path = NULL;
        ssi_stage_free(st);
        return ss_err_set(err, SS_ENOMEM, "replay: out of memory");
    }
    if (!(st->fp = fopen(st->path, "w+b")) || !(st->order = fopen(st->order_path, "w+b"))) {
        int e = errno;
        ss_err_set(err, e, "replay: cannot create %s: %s", st->fp ? st->order_path : st->path,
                   strerror(e));
        ssi_stage_free(st);
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
    if (st->rec.len > SSI_STAGE_PACKET_MAX)
        return ss_err_set(err, EFBIG, "replay: a packet of %zu bytes is too large to stage",
                          st->rec.len);
    uint32_t head = (uint32_t)st->rec.len; /* native order: the file is this process's own */
    if (fwrite(&head, 1, sizeof head, st->fp) != sizeof head ||
        fwrite(st->rec.data, 1, st->rec.len, st->fp) != st->rec.len) {
        int e = errno ? errno : EIO;
        return ss_err_set(err, e, "replay: writing %s: %s", st->path, strerror(e));
    }
    const ss_alert *a = &pkt->alerts[0];
    st->idx[st->n++] = (ssi_stage_entry){a->mjd, st->size, ss_store_locus_sky_pixel(a->ra, a->dec)};
    st->size += sizeof head + st->rec.len;
    return 0;
}

/* ---- the index's sort, in place ----
 * glibc's qsort merges through memory of its own whenever that fits: sorting 10M entries of the
 * former 24-byte index raised the peak from 236 to 353 MB. This one needs no memory: quicksort
 * on a median of three, heapsort past 2 log2(n) levels (no quadratic input), insertion sort for
 * short ranges. Offsets are distinct, so the order is total and stability does not arise. */

static int ssi_before(const ssi_stage_entry *x, const ssi_stage_entry *y)
{
    if (x->mjd != y->mjd)
        return x->mjd < y->mjd;
    return x->sky != y->sky ? x->sky < y->sky : x->off < y->off;
}

static void ssi_swap(ssi_stage_entry *a, ssi_stage_entry *b)
{
    ssi_stage_entry t = *a;
    *a = *b;
    *b = t;
}

static void ssi_sift_down(ssi_stage_entry *e, size_t root, size_t n)
{
    for (size_t c; (c = 2 * root + 1) < n; root = c) {
        if (c + 1 < n && ssi_before(&e[c], &e[c + 1]))
            c++;
        if (!ssi_before(&e[root], &e[c]))
            return;
        ssi_swap(&e[root], &e[c]);
    }
}

static void ssi_heapsort(ssi_stage_entry *e, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        ssi_sift_down(e, i, n);
    for (size_t i = n; i-- > 1;) {
        ssi_swap(&e[0], &e[i]);
        ssi_sift_down(e, 0, i);
    }
}

static void ssi_insertion_sort(ssi_stage_entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        ssi_stage_entry x = e[i];
        size_t j = i;
        for (; j > 0 && ssi_before(&x, &e[j - 1]); j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

/* Hoare's partition of @p n >= 3 distinct entries around the median of the first, middle and
 * last: @return k, 0 < k < n, with [0, k) before [k, n). The median's ends stop both scans. */
static size_t ssi_partition(ssi_stage_entry *e, size_t n)
{
    size_t m = n / 2, i = 0, j = n - 1;
    if (ssi_before(&e[m], &e[0]))
        ssi_swap(&e[m], &e[0]);
    if (ssi_before(&e[n - 1], &e[0]))
        ssi_swap(&e[n - 1], &e[0]);
    if (ssi_before(&e[n - 1], &e[m]))
        ssi_swap(&e[n - 1], &e[m]);
    ssi_stage_entry pivot = e[m];
    for (;;) {
        while (ssi_before(&e[i], &pivot))
            i++;
        while (ssi_before(&pivot, &e[j]))
            j--;
        if (i >= j)
            return j + 1;
        ssi_swap(&e[i], &e[j]);
        i++, j--;
    }
}

static void ssi_introsort(ssi_stage_entry *e, size_t n, unsigned depth)
{
    while (n > 16) {
        if (depth-- == 0) {
            ssi_heapsort(e, n);
            return;
        }
        size_t k = ssi_partition(e, n);
        if (k < n - k) { /* recurse into the smaller side: the stack stays log2(n) deep */
            ssi_introsort(e, k, depth);
            e += k, n -= k;
        } else {
            ssi_introsort(e + k, n - k, depth);
            n = k;
        }
    }
    ssi_insertion_sort(e, n);
}

void ssi_stage_index_sort(ssi_stage_entry *e, size_t n)
{
    unsigned depth = 0;
    for (size_t m = n; m > 1; m >>= 1)
        depth += 2;
    ssi_introsort(e, n, depth);
}

static int ssi_write_failed(const char *path, ss_err *err)
{
    int e = errno ? errno : EIO;
    return ss_err_set(err, e, "replay: writing %s: %s", path, strerror(e));
}

int ssi_stage_sort(ssi_stage *st, ss_err *err)
{
    if (fflush(st->fp))
        return ssi_write_failed(st->path, err);
    ssi_stage_index_sort(st->idx, st->n);
    if (st->n) {
        st->first = st->idx[0].mjd;
        st->last = st->idx[st->n - 1].mjd;
    }
    for (size_t i = 0; i < st->n; i++)
        if (fwrite(&st->idx[i].off, sizeof st->idx[i].off, 1, st->order) != 1)
            return ssi_write_failed(st->order_path, err);
    if (fflush(st->order))
        return ssi_write_failed(st->order_path, err);
    free(st->idx);
    st->idx = NULL;
    st->cap = 0;
    ssi_stage_rewind(st);
    return 0;
}

uint64_t ssi_stage_count(const ssi_stage *st)
{
    return st->n;
}

void ssi_stage_span(const ssi_stage *st, double *first, double *last)
{
    *first = st->first;
    *last = st->last;
}

void ssi_stage_watch(ssi_stage *st, const volatile sig_atomic_t *stop)
{
    st->stop = stop;
}

void ssi_stage_rewind(ssi_stage *st)
{
    st->next = st->block_at = st->block_n = 0;
}

void ssi_stage_free(ssi_stage *st)
{
    if (!st)
        return;
    if (st->fp)
        fclose(st->fp);
    if (st->order)
        fclose(st->order);
    if (st->path)
        unlink(st->path);
    if (st->order_path)
        unlink(st->order_path);
    free(st->path);
    free(st->order_path);
    free(st->idx);
    free(st->block);
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

/* Make room for @p n bytes in the read buffer. */
static int ssi_stage_room(ssi_stage *st, size_t n)
{
    if (n <= st->rcap)
        return 0;
    unsigned char *fresh = realloc(st->rbuf, n);
    if (!fresh)
        return SS_ENOMEM;
    st->rbuf = fresh;
    st->rcap = n;
    return 0;
}

/* Read the packet at @p off, its 4-byte length first, into st->rbuf: one pread when it fits in
 * SSI_STAGE_READ_AHEAD bytes, two otherwise. */
static int ssi_stage_read(ssi_stage *st, uint64_t off, uint32_t *len)
{
    int rc = ssi_stage_room(st, SSI_STAGE_READ_AHEAD);
    if (rc)
        return rc;
    ssize_t got = pread(fileno(st->fp), st->rbuf, SSI_STAGE_READ_AHEAD, (off_t)off);
    if (got < 4)
        return got < 0 ? errno : SS_ECORRUPT;
    memcpy(len, st->rbuf, sizeof *len);
    if (off + 4 + *len > st->size)
        return SS_ECORRUPT;
    if ((size_t)got >= 4 + (size_t)*len)
        return 0;
    if ((rc = ssi_stage_room(st, 4 + (size_t)*len)))
        return rc;
    size_t rest = 4 + (size_t)*len - (size_t)got;
    ssize_t more = pread(fileno(st->fp), st->rbuf + got, rest, (off_t)(off + (uint64_t)got));
    return more == (ssize_t)rest ? 0 : more < 0 ? errno : SS_ECORRUPT;
}

/* The offset of the next packet in time order, from the order file a block at a time. */
static int ssi_stage_next_off(ssi_stage *st, uint64_t *off)
{
    if (st->next >= st->block_at + st->block_n) {
        if (!st->block && !(st->block = malloc(SSI_ORDER_BLOCK * sizeof *st->block)))
            return SS_ENOMEM;
        size_t want = st->n - st->next < SSI_ORDER_BLOCK ? st->n - st->next : SSI_ORDER_BLOCK;
        ssize_t got = pread(fileno(st->order), st->block, want * sizeof *st->block,
                            (off_t)(st->next * sizeof *st->block));
        if (got != (ssize_t)(want * sizeof *st->block))
            return got < 0 ? errno : SS_ECORRUPT;
        st->block_at = st->next;
        st->block_n = want;
    }
    *off = st->block[st->next++ - st->block_at];
    return 0;
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
    uint64_t off = 0;
    uint32_t len = 0;
    int rc = ssi_stage_next_off(st, &off);
    if (rc)
        return ss_err_set(err, rc, "replay: reading %s: %s", st->order_path, ss_strerror(rc));
    if ((rc = ssi_stage_read(st, off, &len)))
        return ss_err_set(err, rc, "replay: reading %s at offset %llu: %s", st->path,
                          (unsigned long long)off, ss_strerror(rc));
    ss_rbuf r = {st->rbuf + 4, st->rbuf + 4 + len, 0};
    rc = ssi_stage_decode(&r, pkt);
    if (rc)
        return ss_err_set(err, rc, "replay: %s: packet at offset %llu: %s", st->path,
                          (unsigned long long)off, ss_strerror(rc));
    return 1;
}

const ss_decoder_ops ssi_stage_decoder = {
    .abi = SS_DECODER_ABI,
    .name = "replay-staging",
    .next = ssi_stage_next,
};
