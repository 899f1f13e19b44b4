/* See fuzz_run.h. */
#include "fuzz_run.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ssf_broken(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ssf_broken(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Read every byte a packet points at, so that ASan sees a dangling or short string. */
static size_t ssf_touch(const char *s, size_t n)
{
    size_t sum = 0;
    for (size_t i = 0; s && i < n; i++)
        sum += (unsigned char)s[i];
    return sum;
}

static size_t ssf_touch_str(const char *s)
{
    return s ? ssf_touch(s, strlen(s)) : 0;
}

/* ---- a digest of what was decoded, to compare two decodings ---- */

static void ssf_mix(unsigned long long *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 0x100000001b3ULL;
}

static void ssf_mix_str(unsigned long long *h, const char *s)
{
    ssf_mix(h, s ? s : "\x01(null)", s ? strlen(s) + 1 : 8);
}

static void ssf_mix_num(unsigned long long *h, double v)
{
    if (v != v)
        v = NAN; /* one NaN: payloads are not compared */
    ssf_mix(h, &v, sizeof v);
}

static void ssf_mix_props(unsigned long long *h, const ss_prop *p, uint32_t n)
{
    ssf_mix(h, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++) {
        ssf_mix_str(h, p[i].name);
        ssf_mix(h, &p[i].value.type, sizeof p[i].value.type);
        if (p[i].value.type == SS_TYPE_STRING)
            ssf_mix(h, p[i].value.u.s.ptr, p[i].value.u.s.len);
        else if (p[i].value.type == SS_TYPE_FLOAT)
            ssf_mix_num(h, p[i].value.u.f);
        else if (p[i].value.type == SS_TYPE_INT)
            ssf_mix(h, &p[i].value.u.i, sizeof p[i].value.u.i);
        else if (p[i].value.type == SS_TYPE_BOOL)
            ssf_mix(h, &p[i].value.u.b, sizeof p[i].value.u.b);
    }
}

static void ssf_mix_packet(unsigned long long *h, const ss_packet *pkt)
{
    for (uint32_t i = 0; i < pkt->n; i++) {
        const ss_alert *a = &pkt->alerts[i];
        const double nums[] = {a->ra,     a->dec,    a->mjd,  a->mag,
                               a->magerr, a->maglim, a->flux, a->fluxerr};
        ssf_mix_str(h, a->survey), ssf_mix_str(h, a->alert_id), ssf_mix_str(h, a->object_id);
        ssf_mix_str(h, a->passband), ssf_mix(h, &a->kind, sizeof a->kind);
        for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
            ssf_mix_num(h, nums[k]);
        ssf_mix_props(h, a->props, a->nprops);
    }
    ssf_mix_props(h, pkt->locus_props, pkt->nlocus_props);
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        ssf_mix(h, &pkt->cutouts[k].len, sizeof pkt->cutouts[k].len);
        ssf_mix(h, pkt->cutouts[k].data, pkt->cutouts[k].len);
        ssf_mix_str(h, pkt->cutouts[k].file_name);
    }
}

static size_t ssf_touch_alert(const ss_alert *a)
{
    size_t sum = ssf_touch_str(a->survey) + ssf_touch_str(a->alert_id) +
                 ssf_touch_str(a->object_id) + ssf_touch_str(a->passband) +
                 ssf_touch_str(a->origin);
    for (uint32_t i = 0; i < a->nprops; i++) {
        const ss_prop *p = &a->props[i];
        sum += ssf_touch_str(p->name);
        if (p->value.type == SS_TYPE_STRING)
            sum += ssf_touch(p->value.u.s.ptr, p->value.u.s.len);
    }
    return sum;
}

/* One packet: every alert validated, the primary one with a position. */
static int ssf_packet(const ss_packet *pkt, ssf_result *res, char *why, size_t n)
{
    volatile size_t sum = ssf_touch(pkt->raw, pkt->raw_len);
    ssf_mix_packet(&res->digest, pkt);
    if (pkt->n == 0)
        return ssf_broken(why, n, "record %lu: a packet without an alert", res->packets);
    for (uint32_t i = 0; i < pkt->n; i++) {
        const ss_alert *a = &pkt->alerts[i];
        sum += ssf_touch_alert(a);
        ss_reject rej;
        memset(&rej, 0, sizeof rej);
        int rc = ss_alert_validate(a, i == 0, &rej);
        if (rc == 0) {
            res->alerts++;
            continue;
        }
        if (rc != SS_EREJECT || !rej.detail[0])
            return ssf_broken(why, n, "alert %u: the validator returned %d without a message", i,
                              rc);
        res->rejected++;
        snprintf(res->message, sizeof res->message, "%s", rej.detail);
        if (i == 0)
            break; /* ingest drops the whole packet with its primary alert */
    }
    (void)sum;
    return 0;
}

/* From open() (through a stream, or of the bytes in memory) to the end of the input.
 * @return 0 or -1 (contract broken). */
static int ssf_decode(const ss_decoder_ops *ops, const unsigned char *data, size_t size,
                      const char *name, int in_memory, const ss_decoder_config *cfg, void *shared,
                      ssf_result *res, char *why, size_t n)
{
    void *st = NULL;
    ss_err err;
    memset(&err, 0, sizeof err);
    FILE *fp = NULL;
    int rc;
    if (in_memory) {
        rc = ss_decoder_open_memory(ops, data, size, name, cfg, shared, &st, &fp, &err);
    } else {
        /* fmemopen refuses an empty buffer: an empty input is read from /dev/null */
        fp = size ? fmemopen((void *)data, size, "rb") : fopen("/dev/null", "rb");
        if (!fp)
            return ssf_broken(why, n, "cannot open the input as a stream");
        rc = ops->open(fp, name, cfg, shared, &st, &err);
    }
    if (rc) {
        if (fp)
            fclose(fp); /* the stream's; ss_decoder_open_memory() leaves none after a failure */
        res->failed = 1;
        snprintf(res->message, sizeof res->message, "%s", err.msg);
        return err.msg[0] ? 0 : ssf_broken(why, n, "open() failed without a message");
    }
    res->opened = 1;
    ss_packet *pkt = ss_packet_new();
    int broken = pkt ? 0 : ssf_broken(why, n, "out of memory");
    if (pkt)
        pkt->borrow_cutouts = in_memory; /* lent stamps are read before the next call */
    /* even a deflate bomb holds fewer records than 2048 per input byte */
    for (unsigned long steps = 0; !broken; steps++) {
        if (steps > 2048 * ((unsigned long)size + 1)) {
            broken = ssf_broken(why, n, "more than %lu records from %zu bytes", steps, size);
            break;
        }
        ss_reject rej;
        memset(&rej, 0, sizeof rej);
        memset(&err, 0, sizeof err);
        ss_packet_reset(pkt);
        rc = ops->next(st, pkt, &rej, &err);
        if (rc == 0)
            break;
        if (rc == 1) {
            res->packets++;
            broken = ssf_packet(pkt, res, why, n);
        } else if (rc == SS_EREJECT) {
            volatile size_t sum = ssf_touch(rej.raw, rej.raw_len) + ssf_touch_str(rej.origin);
            (void)sum;
            res->rejected++;
            snprintf(res->message, sizeof res->message, "%s", rej.detail);
            if (!rej.detail[0])
                broken = ssf_broken(why, n, "record %lu rejected without a message",
                                    res->packets + res->rejected);
        } else {
            res->failed = 1;
            snprintf(res->message, sizeof res->message, "%s", err.msg);
            if (!err.msg[0])
                broken = ssf_broken(why, n, "next() returned %d without a message", rc);
            break;
        }
    }
    ss_packet_free(pkt);
    ops->close(st);
    if (fp)
        fclose(fp);
    return broken;
}

/* ssf_run(), or with @p in_memory the input opened where it lies (ss_decoder_open_memory()). */
static int ssf_run_via(const ss_decoder_ops *ops, const unsigned char *data, size_t size,
                       const char *name, const char *schema_dir, int in_memory, ssf_result *res,
                       char *why, size_t why_len)
{
    memset(res, 0, sizeof *res);
    res->digest = 0xcbf29ce484222325ULL;
    why[0] = '\0';
    size_t head = size < 4096 ? size : 4096, ndecoders = 0;
    /* every decoder's probe, as ss_decoder_detect() runs them, each once: running the input's
     * own probe twice cost 6% of fuzz_csv's time */
    const ss_decoder_ops *const *all = ss_decoders(&ndecoders);
    for (size_t i = 0; i < ndecoders; i++) {
        int p = all[i]->probe(name, data, head);
        if (p < 0 || p > 100)
            return ssf_broken(why, why_len, "probe of %s answered %d", all[i]->name, p);
    }
    ss_decoder_config cfg = {.schema_dir = schema_dir};
    ss_decoder_shared *sh = ss_decoder_shared_new(&cfg);
    if (!sh)
        return ssf_broken(why, why_len, "out of memory");
    int rc = ssf_decode(ops, data, size, name, in_memory, &cfg, ss_decoder_shared_get(sh, ops), res,
                        why, why_len);
    ss_decoder_shared_free(sh);
    return rc;
}

int ssf_run(const ss_decoder_ops *ops, const unsigned char *data, size_t size, const char *name,
            const char *schema_dir, ssf_result *res, char *why, size_t why_len)
{
    return ssf_run_via(ops, data, size, name, schema_dir, 0, res, why, why_len);
}

/* Whether two decodings of one input gave the same. */
static int ssf_same(const ssf_result *a, const ssf_result *b)
{
    return a->opened == b->opened && a->failed == b->failed && a->packets == b->packets &&
           a->alerts == b->alerts && a->rejected == b->rejected && a->digest == b->digest;
}

int ssf_run_both(const ss_decoder_ops *ops, const unsigned char *data, size_t size,
                 const char *name, const char *schema_dir, ssf_result *res, char *why,
                 size_t why_len)
{
    ssf_result ref, mem;
    unsetenv("SKYSIEVE_AVRO_GENERIC");
    if (ssf_run(ops, data, size, name, schema_dir, res, why, why_len))
        return -1;
    if (ssf_run_via(ops, data, size, name, schema_dir, 1, &mem, why, why_len))
        return ssf_broken(why, why_len, "opened in memory: %s", why);
    if (!ssf_same(res, &mem))
        return ssf_broken(why, why_len,
                          "a stream and memory decoded differently: %lu/%lu packets, %lu/%lu "
                          "rejected, failed %d/%d, digest %llx/%llx (last: %s / %s)",
                          res->packets, mem.packets, res->rejected, mem.rejected, res->failed,
                          mem.failed, res->digest, mem.digest, res->message, mem.message);
    setenv("SKYSIEVE_AVRO_GENERIC", "1", 1);
    int rc = ssf_run(ops, data, size, name, schema_dir, &ref, why, why_len);
    unsetenv("SKYSIEVE_AVRO_GENERIC");
    if (rc)
        return ssf_broken(why, why_len, "avro-c's generic path: %s", why);
    if (!ssf_same(res, &ref))
        return ssf_broken(
            why, why_len,
            "the plan and avro-c decoded differently: %lu/%lu packets, %lu/%lu "
            "alerts, %lu/%lu rejected, failed %d/%d, digest %llx/%llx (last: %s / %s)",
            res->packets, ref.packets, res->alerts, ref.alerts, res->rejected, ref.rejected,
            res->failed, ref.failed, res->digest, ref.digest, res->message, ref.message);
    return 0;
}
