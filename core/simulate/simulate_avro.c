/*
 * Simulated alerts as a ZTF-like Avro object container: one record per alert, with the fields
 * skysieve's ZTF mapping reads (objectId, candid, candidate.jd, ra, dec, fid, magpsf, sigmapsf,
 * diffmaglim, ...) and the truth as candidate.sim_model and candidate.sim_true_mag; and, unless
 * told not to, ZTF's three image stamps (cutoutScience, cutoutTemplate, cutoutDifference: a
 * fileName and gzip-compressed FITS stampData, drawn by simulate_stamp.c).
 *
 * avro-c encodes the records; the container around them (header, blocks, sync marker) is written
 * here, because avro-c's file writer draws its sync marker from rand() seeded with the time: the
 * same survey would not give the same bytes twice, and the process's rand() would be reseeded.
 */
#include "simulate_impl.h"

#include "rng.h"

#include <avro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Blocks of about this many bytes: large enough that block framing costs nothing. */
#define SSI_AVRO_BLOCK (256 * 1024)
/* One record is far smaller: fixed fields, a short object id and model name, three stamps. */
#define SSI_AVRO_RECORD_MAX (1024 + SS_CUTOUT__COUNT * (SSI_STAMP_GZ_MAX + 128))
#define SSI_JD_MJD          2400000.5

static const char ssi_avro_schema[] =
    "{\"type\":\"record\",\"name\":\"alert\",\"namespace\":\"ztf\","
    "\"doc\":\"skysieve simulate: a ZTF-like alert of a simulated survey\",\"fields\":["
    "{\"name\":\"schemavsn\",\"type\":\"string\"},"
    "{\"name\":\"publisher\",\"type\":\"string\"},"
    "{\"name\":\"objectId\",\"type\":\"string\"},"
    "{\"name\":\"candid\",\"type\":\"long\"},"
    "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"candidate\","
    "\"namespace\":\"ztf.alert\",\"fields\":["
    "{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},"
    "{\"name\":\"pid\",\"type\":\"long\"},"
    "{\"name\":\"diffmaglim\",\"type\":[\"null\",\"float\"],\"default\":null},"
    "{\"name\":\"programid\",\"type\":\"int\"},"
    "{\"name\":\"candid\",\"type\":\"long\"},"
    "{\"name\":\"isdiffpos\",\"type\":\"string\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},"
    "{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"magpsf\",\"type\":\"float\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"float\"},"
    "{\"name\":\"sim_model\",\"type\":\"string\"},"
    "{\"name\":\"sim_true_mag\",\"type\":\"float\"}]}},"
    "{\"name\":\"prv_candidates\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{"
    "\"type\":\"record\",\"name\":\"prv_candidate\",\"namespace\":\"ztf.alert\",\"fields\":["
    "{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},"
    "{\"name\":\"pid\",\"type\":\"long\"},"
    "{\"name\":\"diffmaglim\",\"type\":[\"null\",\"float\"],\"default\":null},"
    "{\"name\":\"candid\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"ra\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"dec\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"magpsf\",\"type\":[\"null\",\"float\"],\"default\":null},"
    "{\"name\":\"sigmapsf\",\"type\":[\"null\",\"float\"],\"default\":null}]}}],"
    "\"default\":null},"
    "{\"name\":\"cutoutScience\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"cutout\","
    "\"namespace\":\"ztf.alert\",\"fields\":["
    "{\"name\":\"fileName\",\"type\":\"string\"},"
    "{\"name\":\"stampData\",\"type\":\"bytes\",\"doc\":\"gzip-compressed FITS\"}]}],"
    "\"default\":null},"
    "{\"name\":\"cutoutTemplate\",\"type\":[\"null\",\"ztf.alert.cutout\"],\"default\":null},"
    "{\"name\":\"cutoutDifference\",\"type\":[\"null\",\"ztf.alert.cutout\"],\"default\":null}]}";

struct ssi_avro {
    FILE *f;
    const char *name;
    unsigned char sync[16];
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t rec; /* reused for every alert: the constant fields are set once */
    avro_writer_t mem;
    char *record;       /* owned; SSI_AVRO_RECORD_MAX bytes */
    char *block;        /* owned; SSI_AVRO_BLOCK + SSI_AVRO_RECORD_MAX bytes */
    ssi_stamps *stamps; /* owned; NULL: records carry no stamps */
    size_t len;
    uint64_t count;
};

/* Avro's long: zigzag, then 7 bits a byte, low first. @return the bytes written (at most 10). */
static size_t ssi_long(int64_t v, unsigned char *out)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    for (; z > 0x7F; z >>= 7)
        out[n++] = (unsigned char)((z & 0x7F) | 0x80);
    out[n++] = (unsigned char)z;
    return n;
}

static void ssi_put_long(FILE *f, int64_t v)
{
    unsigned char b[10];
    fwrite(b, 1, ssi_long(v, b), f);
}

/* A string or bytes value: its length, then the bytes. */
static void ssi_put_bytes(FILE *f, const char *s, size_t n)
{
    ssi_put_long(f, (int64_t)n);
    fwrite(s, 1, n, f);
}

static void ssi_header(ssi_avro *w)
{
    fwrite("Obj\x01", 1, 4, w->f);
    ssi_put_long(w->f, 2); /* one block of two metadata entries */
    ssi_put_bytes(w->f, "avro.schema", 11);
    ssi_put_bytes(w->f, ssi_avro_schema, sizeof ssi_avro_schema - 1);
    ssi_put_bytes(w->f, "avro.codec", 10);
    ssi_put_bytes(w->f, "null", 4);
    ssi_put_long(w->f, 0);
    fwrite(w->sync, 1, sizeof w->sync, w->f);
}

static int ssi_flush_block(ssi_avro *w, ss_err *err)
{
    if (!w->count)
        return 0;
    ssi_put_long(w->f, (int64_t)w->count);
    ssi_put_bytes(w->f, w->block, w->len);
    fwrite(w->sync, 1, sizeof w->sync, w->f);
    w->len = 0;
    w->count = 0;
    if (ferror(w->f))
        return ss_err_set(err, errno ? errno : EIO, "%s: write failed: %s", w->name,
                          strerror(errno ? errno : EIO));
    return 0;
}

/* Field @p name of record @p rec, a union's branch @p branch when @p branch >= 0. */
static avro_value_t ssi_field(avro_value_t *rec, const char *name, int branch)
{
    /* the schema is ours, so neither call fails; zeroed because avro-c's accessor macros leave
     * the output unset when an interface lacks the method, which clang reports */
    avro_value_t f = {0}, b = {0};
    avro_value_get_by_name(rec, name, &f, NULL);
    if (branch < 0)
        return f;
    avro_value_set_branch(&f, branch, &b);
    return b;
}

/* The fields every alert shares. */
static void ssi_constants(ssi_avro *w)
{
    avro_value_t v = ssi_field(&w->rec, "schemavsn", -1), cand;
    avro_value_set_string(&v, "sim-1");
    v = ssi_field(&w->rec, "publisher", -1);
    avro_value_set_string(&v, "skysieve simulate");
    v = ssi_field(&w->rec, "prv_candidates", 0);
    avro_value_set_null(&v);
    cand = ssi_field(&w->rec, "candidate", -1);
    v = ssi_field(&cand, "programid", -1);
    avro_value_set_int(&v, 1);
    v = ssi_field(&cand, "isdiffpos", -1);
    avro_value_set_string(&v, "t");
}

int ssi_avro_open(FILE *f, const char *name, uint64_t seed, int stamps, ssi_avro **out, ss_err *err)
{
    ssi_avro *w = calloc(1, sizeof *w);
    if (!w || !(w->block = malloc(SSI_AVRO_BLOCK + SSI_AVRO_RECORD_MAX)) ||
        !(w->record = malloc(SSI_AVRO_RECORD_MAX)) ||
        (stamps && ssi_stamps_new(seed, &w->stamps))) {
        if (w)
            ssi_avro_close(w, 1, NULL);
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    }
    w->f = f;
    w->name = name;
    ss_rng r;
    ss_rng_seed(&r, seed, UINT64_C(0x53594E43)); /* a stream of its own: "SYNC" */
    for (size_t i = 0; i < sizeof w->sync; i++)
        w->sync[i] = (unsigned char)(ss_rng_next(&r) >> 56);
    if (avro_schema_from_json_length(ssi_avro_schema, sizeof ssi_avro_schema - 1, &w->schema) ||
        !(w->iface = avro_generic_class_from_schema(w->schema)) ||
        avro_generic_value_new(w->iface, &w->rec) ||
        !(w->mem = avro_writer_memory(w->record, SSI_AVRO_RECORD_MAX))) {
        int rc = ss_err_set(err, SS_EFORMAT, "the simulator's Avro schema: %s", avro_strerror());
        ssi_avro_close(w, 1, NULL);
        return rc;
    }
    ssi_constants(w);
    ssi_header(w);
    *out = w;
    return 0;
}

/* ZTF's file names: candid, pid, and the kind's suffix. */
static void ssi_stamp_name(char *buf, size_t cap, const ssi_alert *a, ss_cutout_kind kind)
{
    static const char *const suffix[] = {"sci", "ref", "scimref"};
    snprintf(buf, cap, "candid%llu_pid%llu_targ_%s.fits.gz", (unsigned long long)a->alert_id,
             (unsigned long long)a->exposure, suffix[kind]);
}

/* The record's three stamps: drawn for this alert, or null. */
static int ssi_avro_stamps(ssi_avro *w, const ssi_alert *a, ss_err *err)
{
    static const char *const fields[] = {"cutoutScience", "cutoutTemplate", "cutoutDifference"};
    int rc = w->stamps ? ssi_stamps_draw(w->stamps, a, err) : 0;
    for (int k = 0; !rc && k < SS_CUTOUT__COUNT; k++) {
        avro_value_t c = ssi_field(&w->rec, fields[k], w->stamps ? 1 : 0), v;
        if (!w->stamps) {
            avro_value_set_null(&c);
            continue;
        }
        char name[96];
        size_t len;
        const unsigned char *bytes = ssi_stamp_bytes(w->stamps, (ss_cutout_kind)k, &len);
        ssi_stamp_name(name, sizeof name, a, (ss_cutout_kind)k);
        avro_value_get_by_name(&c, "fileName", &v, NULL);
        avro_value_set_string(&v, name);
        avro_value_get_by_name(&c, "stampData", &v, NULL);
        avro_value_set_bytes(&v, (void *)bytes, len);
    }
    return rc;
}

int ssi_avro_put(ssi_avro *w, const ssi_alert *a, ss_err *err)
{
    char obj[32];
    ssi_object_id(obj, a->source);
    avro_value_t v = ssi_field(&w->rec, "objectId", -1), c = ssi_field(&w->rec, "candidate", -1);
    avro_value_set_string(&v, obj);
    v = ssi_field(&w->rec, "candid", -1);
    avro_value_set_long(&v, (int64_t)a->alert_id);
    v = ssi_field(&c, "candid", -1);
    avro_value_set_long(&v, (int64_t)a->alert_id);
    v = ssi_field(&c, "pid", -1);
    avro_value_set_long(&v, (int64_t)a->exposure);
    v = ssi_field(&c, "jd", -1);
    avro_value_set_double(&v, a->mjd + SSI_JD_MJD);
    v = ssi_field(&c, "fid", -1);
    avro_value_set_int(&v, ssi_ztf_fid(a->band));
    v = ssi_field(&c, "diffmaglim", 1);
    avro_value_set_float(&v, (float)a->maglim);
    v = ssi_field(&c, "ra", -1);
    avro_value_set_double(&v, a->ra);
    v = ssi_field(&c, "dec", -1);
    avro_value_set_double(&v, a->dec);
    v = ssi_field(&c, "magpsf", -1);
    avro_value_set_float(&v, (float)a->mag);
    v = ssi_field(&c, "sigmapsf", -1);
    avro_value_set_float(&v, (float)a->magerr);
    v = ssi_field(&c, "sim_model", -1);
    avro_value_set_string(&v, a->model);
    v = ssi_field(&c, "sim_true_mag", -1);
    avro_value_set_float(&v, (float)a->true_mag);
    int rc = ssi_avro_stamps(w, a, err);
    if (rc)
        return rc;
    avro_writer_memory_set_dest(w->mem, w->record, SSI_AVRO_RECORD_MAX);
    if (avro_value_write(w->mem, &w->rec))
        return ss_err_set(err, SS_EFORMAT, "%s: encoding alert %llu: %s", w->name,
                          (unsigned long long)a->alert_id, avro_strerror());
    size_t n = (size_t)avro_writer_tell(w->mem);
    memcpy(w->block + w->len, w->record, n);
    w->len += n;
    w->count++;
    return w->len >= SSI_AVRO_BLOCK ? ssi_flush_block(w, err) : 0;
}

int ssi_avro_end(ssi_avro *w, ss_err *err)
{
    return ssi_flush_block(w, err);
}

void ssi_avro_begin(ssi_avro *w, FILE *f)
{
    w->f = f;
    ssi_header(w);
}

int ssi_avro_close(ssi_avro *w, int failed, ss_err *err)
{
    int rc = failed ? 0 : ssi_flush_block(w, err);
    if (w->mem)
        avro_writer_free(w->mem);
    if (w->rec.iface)
        avro_value_decref(&w->rec);
    if (w->iface)
        avro_value_iface_decref(w->iface);
    if (w->schema)
        avro_schema_decref(w->schema);
    ssi_stamps_free(w->stamps);
    free(w->record);
    free(w->block);
    free(w);
    return rc;
}
