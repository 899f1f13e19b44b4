/* A ZTF alert whose candid was stored first as an entry of another alert's prv_candidates is
 * upgraded when the alert itself arrives: all its fields, its stamps, a new arrival, and a filter
 * run for it, while the locus counts the measurement once. Synthetic Avro alerts (avro-c), and
 * the real ZTF sets of ../shared/data ingested in an order that brings a history entry first. */
#include "testutil.h"

#include "ingest.h"
#include "query.h"
#include "verify.h"

#include <avro.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ZTF's shape, cut to what the mapping reads, with an extra candidate field (rb) that history
 * entries lack and the three stamps. */
static const char ztf_schema[] =
    "{\"type\":\"record\",\"name\":\"alert\",\"namespace\":\"ztf\",\"fields\":["
    "{\"name\":\"objectId\",\"type\":\"string\"},"
    "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"candidate\",\"fields\":["
    "{\"name\":\"candid\",\"type\":\"long\"},{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},{\"name\":\"magpsf\",\"type\":\"float\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"float\"},{\"name\":\"rb\",\"type\":\"float\"}]}},"
    "{\"name\":\"prv_candidates\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":"
    "\"record\",\"name\":\"prv_candidate\",\"fields\":["
    "{\"name\":\"candid\",\"type\":[\"null\",\"long\"]},{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},{\"name\":\"magpsf\",\"type\":\"float\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"float\"}]}}]},"
    "{\"name\":\"cutoutScience\",\"type\":{\"type\":\"record\",\"name\":\"cutout\",\"fields\":["
    "{\"name\":\"fileName\",\"type\":\"string\"},{\"name\":\"stampData\",\"type\":\"bytes\"}]}},"
    "{\"name\":\"cutoutTemplate\",\"type\":\"cutout\"},"
    "{\"name\":\"cutoutDifference\",\"type\":\"cutout\"}]}";

/* One measurement of the source: the alert of candid 2000 + i, observed i days apart. */
typedef struct meas {
    long candid;
    double jd, mag;
} meas;

static const meas M_OLD = {2001, 2459000.5, 18.2}, M_NEW = {2002, 2459001.5, 18.0};

static avro_value_t field(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    ck_assert_int_eq(avro_value_get_by_name(rec, name, &f, NULL), 0);
    return f;
}

static void set_meas(avro_value_t *rec, const meas *m)
{
    avro_value_t f = field(rec, "jd");
    avro_value_set_double(&f, m->jd);
    f = field(rec, "ra"), avro_value_set_double(&f, 150.0);
    f = field(rec, "dec"), avro_value_set_double(&f, 2.0);
    f = field(rec, "fid"), avro_value_set_int(&f, 1);
    f = field(rec, "magpsf"), avro_value_set_float(&f, (float)m->mag);
    f = field(rec, "sigmapsf"), avro_value_set_float(&f, 0.05f);
}

static void set_stamps(avro_value_t *v, long candid)
{
    static const char *const kinds[] = {"cutoutScience", "cutoutTemplate", "cutoutDifference"};
    for (int k = 0; k < 3; k++) {
        char name[64], bytes[16];
        snprintf(name, sizeof name, "candid%ld_%d.fits.gz", candid, k);
        snprintf(bytes, sizeof bytes, "stamp-%d", k);
        avro_value_t c = field(v, kinds[k]), f = field(&c, "fileName");
        avro_value_set_string(&f, name);
        f = field(&c, "stampData");
        avro_value_set_bytes(&f, bytes, strlen(bytes));
    }
}

/* The alert of @p m, with @p prv (may be NULL) as its one history entry. */
static void fill(avro_value_t *v, const meas *m, const meas *prv)
{
    avro_value_t f, u, arr, item;
    avro_value_reset(v);
    f = field(v, "objectId"), avro_value_set_string(&f, "ZTF21upgrade");
    avro_value_t c = field(v, "candidate");
    f = field(&c, "candid"), avro_value_set_long(&f, m->candid);
    f = field(&c, "rb"), avro_value_set_float(&f, 0.9f);
    set_meas(&c, m);
    u = field(v, "prv_candidates");
    if (!prv) {
        avro_value_set_branch(&u, 0, &f);
        avro_value_set_null(&f);
    } else {
        avro_value_set_branch(&u, 1, &arr);
        ck_assert_int_eq(avro_value_append(&arr, &item, NULL), 0);
        u = field(&item, "candid");
        avro_value_set_branch(&u, 1, &f);
        avro_value_set_long(&f, prv->candid);
        set_meas(&item, prv);
    }
    set_stamps(v, m->candid);
}

static char *write_alert(const char *name, const meas *m, const meas *prv)
{
    char *path = tu_path(tu_tmp, name);
    avro_schema_t schema;
    ck_assert_msg(avro_schema_from_json_length(ztf_schema, strlen(ztf_schema), &schema) == 0, "%s",
                  avro_strerror());
    avro_file_writer_t w;
    ck_assert_msg(avro_file_writer_create(path, schema, &w) == 0, "%s", avro_strerror());
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    fill(&v, m, prv);
    ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
    avro_file_writer_close(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return path;
}

/* ---- ingesting with a filter that counts its runs ---- */

#define MAX_TRIGGERS 256

typedef struct run {
    ss_store *s;
    ss_filter_set *fs;
    ss_ingest_totals t;
    char *trigger[MAX_TRIGGERS]; /* the alerts filters ran for, in order */
    size_t ntrigger, committed;
} run;

static int on_dispatch(void *ctx, const ss_filter_dispatch_info *d)
{
    run *r = ctx;
    if (!d) { /* a batch starts, maybe again (the map grew): forget what it did before */
        while (r->ntrigger > r->committed)
            free(r->trigger[--r->ntrigger]);
        return 0;
    }
    ck_assert_uint_lt(r->ntrigger, MAX_TRIGGERS);
    r->trigger[r->ntrigger++] = strdup(d->trigger->alert_id);
    return 0;
}

static void on_commit(void *ctx, const ss_ingest_totals *t)
{
    (void)t;
    run *r = ctx;
    r->committed = r->ntrigger;
}

static void run_open(run *r, const char *store)
{
    memset(r, 0, sizeof *r);
    char *dir = tu_path(tu_tmp, store);
    ss_store_options so = {.create = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &so, &r->s, &err) == 0, "%s", err.msg);
    free(dir);
    char *ini = NULL;
    ck_assert_int_ge(asprintf(&ini,
                              "[set]\n\n[filter tf_count]\npath = %s/tests/filters/count.lua\n",
                              SS_SOURCE_DIR),
                     0);
    char *path = tu_write(tu_tmp, "set.ini", ini);
    ck_assert_msg(ss_filter_set_load(path, &r->fs, &err) == 0, "%s", err.msg);
    free(path);
    free(ini);
}

/* Ingest @p paths in the order given, in batches of @p batch. */
static void run_ingest(run *r, char *const *paths, size_t n, uint32_t batch)
{
    ss_ingest_options o = {.batch_size = batch,
                           .filters = r->fs,
                           .on_dispatch = on_dispatch,
                           .on_commit = on_commit,
                           .ctx = r};
    ss_ingest *in = ss_ingest_new(r->s, &o);
    ck_assert_ptr_nonnull(in);
    ss_err err = {0};
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(ss_ingest_path(in, paths[i], &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, &r->t, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
}

static void run_close(run *r)
{
    ss_verify_report vr;
    ss_err err = {0};
    ck_assert_msg(ss_store_verify(r->s, stderr, &vr, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(vr.problems, 0); /* summaries agree with the alerts: nothing counted twice */
    for (size_t i = 0; i < r->ntrigger; i++)
        free(r->trigger[i]);
    ss_filter_set_free(r->fs);
    ss_store_close(r->s);
}

static size_t triggered(const run *r, const char *alert_id)
{
    size_t n = 0;
    for (size_t i = 0; i < r->ntrigger; i++)
        n += !strcmp(r->trigger[i], alert_id);
    return n;
}

static int count_stamp(void *ctx, const ss_store_cutout *c)
{
    (void)c;
    ++*(int *)ctx;
    return 0;
}

/* A stored alert as ingest left it: its arrival, property count and stamps. */
typedef struct stored {
    uint64_t arrival;
    uint32_t arrival_index, history_lead, nprops;
    int stamps;
    char locus[SS_LOCUS_ID_LEN + 1];
} stored;

static stored stored_alert(ss_store *s, const char *alert_id)
{
    stored out = {0};
    ss_store_txn *t;
    ss_packet *p = ss_packet_new();
    ss_alert *a;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_msg(ss_store_alert_get(t, "ztf", alert_id, p, &a) == 0, "%s not stored", alert_id);
    out.arrival = a->arrival;
    out.arrival_index = a->arrival_index;
    out.history_lead = a->history_lead;
    out.nprops = a->nprops;
    ck_assert_int_eq(ss_store_alert_find(t, "ztf", alert_id, out.locus), 0);
    ck_assert_int_eq(ss_store_cutouts_each(t, alert_id, "ztf", count_stamp, &out.stamps), 0);
    ss_store_txn_abort(t);
    ss_packet_free(p);
    return out;
}

static json_int_t locus_int(ss_store *s, const char *id, const char *as_of, const char *name)
{
    ss_query_locus_options o = {.as_of = as_of};
    json_t *l = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_query_locus(s, id, &o, &l, &err) == 0, "%s", err.msg);
    json_int_t v = json_integer_value(json_object_get(json_object_get(l, "properties"), name));
    json_decref(l);
    return v;
}

START_TEST(history_entry_then_its_alert)
{
    uint32_t batch = (uint32_t)_i; /* 1: the two alerts in two batches; 100: in one */
    char *paths[3] = {write_alert("new.avro", &M_NEW, &M_OLD),
                      write_alert("old.avro", &M_OLD, NULL), NULL};
    paths[2] = paths[1];
    run r;
    run_open(&r, "st");
    run_ingest(&r, paths, 2, batch);
    ck_assert_uint_eq(r.t.ingested, 2);
    ck_assert_uint_eq(r.t.upgraded, 1);
    ck_assert_uint_eq(r.t.duplicates, 0);
    ck_assert_uint_eq(r.t.history, 1);
    ck_assert_uint_eq(triggered(&r, "2002"), 1);
    ck_assert_uint_eq(triggered(&r, "2001"), 1); /* filters saw the upgraded alert as new */
    stored old = stored_alert(r.s, "2001"), new = stored_alert(r.s, "2002");
    ck_assert_uint_eq(old.arrival_index, 0); /* its own packet's alert now */
    ck_assert_uint_gt(old.arrival, new.arrival);
    ck_assert_uint_eq(old.history_lead, old.arrival - new.arrival); /* first stored with 2002 */
    ck_assert_uint_eq(new.history_lead, 0);
    ck_assert_uint_eq(old.nprops, new.nprops); /* every candidate field, rb included */
    ck_assert_int_eq(old.stamps, 3);
    ck_assert_str_eq(old.locus, new.locus);
    ck_assert_int_eq(locus_int(r.s, old.locus, NULL, "num_alerts"), 2);
    ck_assert_int_eq(locus_int(r.s, old.locus, NULL, "num_mag_values"), 2);
    ck_assert_int_eq(locus_int(r.s, old.locus, NULL, "tf_count"), 2);
    /* the view as of the upgraded alert holds both measurements, and so does the view as of the
     * alert that brought it as history first: what its filters saw */
    ck_assert_int_eq(locus_int(r.s, old.locus, "2001", "num_alerts"), 2);
    ck_assert_int_eq(locus_int(r.s, old.locus, "2002", "num_alerts"), 2);
    /* the same alert again is a duplicate: nothing changes, no filter runs */
    run_ingest(&r, paths + 2, 1, batch);
    ck_assert_uint_eq(r.t.duplicates, 1);
    ck_assert_uint_eq(r.t.upgraded, 0);
    ck_assert_uint_eq(r.ntrigger, 2);
    run_close(&r);
    free(paths[0]);
    free(paths[1]);
}
END_TEST

START_TEST(alert_then_its_history_entry_is_known)
{
    char *paths[2] = {write_alert("old.avro", &M_OLD, NULL),
                      write_alert("new.avro", &M_NEW, &M_OLD)};
    run r;
    run_open(&r, "st");
    run_ingest(&r, paths, 2, 100);
    ck_assert_uint_eq(r.t.ingested, 2);
    ck_assert_uint_eq(r.t.upgraded, 0);
    ck_assert_uint_eq(r.t.history_known, 1);
    stored old = stored_alert(r.s, "2001");
    ck_assert_uint_eq(old.arrival_index, 0);
    ck_assert_int_eq(old.stamps, 3);
    run_close(&r);
    free(paths[0]);
    free(paths[1]);
}
END_TEST

/* ---- the real ZTF sets ---- */

typedef struct reference {
    char id[MAX_TRIGGERS][32];
    uint32_t nprops[MAX_TRIGGERS];
    int stamps[MAX_TRIGGERS];
    size_t n;
} reference;

/* Each alert as its own file decodes it: every field, every stamp (nothing is stored). */
static int divert(void *ctx, const ss_packet *pkt, ss_err *err)
{
    (void)err;
    reference *ref = ctx;
    ck_assert_uint_lt(ref->n, MAX_TRIGGERS);
    snprintf(ref->id[ref->n], sizeof ref->id[0], "%s", pkt->alerts[0].alert_id);
    ref->nprops[ref->n] = pkt->alerts[0].nprops;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        ref->stamps[ref->n] += pkt->cutouts[k].data != NULL;
    ref->n++;
    return 0;
}

static void decode_all(ss_store *s, char *const *paths, size_t n, reference *ref)
{
    ss_ingest_options o = {.divert = divert, .ctx = ref};
    ss_ingest *in = ss_ingest_new(s, &o);
    ss_err err = {0};
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(ss_ingest_path(in, paths[i], &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
}

START_TEST(real_ztf_alerts_first_seen_in_history)
{
    tu_files *f = tu_data_files("real_ztf_alerts_first_seen_in_history", "ztf", ".avro");
    if (!f)
        return;
    ck_assert_uint_le(f->n, MAX_TRIGGERS);
    char **rev = calloc(f->n, sizeof *rev);
    for (size_t i = 0; i < f->n; i++) /* newest candid first: earlier ones arrive as history */
        rev[i] = f->path[f->n - 1 - i];
    run r;
    run_open(&r, "st");
    reference ref = {0};
    decode_all(r.s, rev, f->n, &ref);
    ck_assert_uint_eq(ref.n, f->n);
    run_ingest(&r, rev, f->n, 7);
    ck_assert_uint_ge(r.t.upgraded, 1); /* the sets hold the case: the test would be empty else */
    ck_assert_uint_eq(r.t.duplicates, 0);
    ck_assert_uint_eq(r.t.ingested, f->n);
    for (size_t i = 0; i < ref.n; i++) {
        stored a = stored_alert(r.s, ref.id[i]);
        ck_assert_msg(a.arrival_index == 0, "%s: still a history entry", ref.id[i]);
        ck_assert_msg(a.nprops == ref.nprops[i], "%s: %u fields stored of %u", ref.id[i], a.nprops,
                      ref.nprops[i]);
        ck_assert_msg(a.stamps == ref.stamps[i], "%s: %d stamps stored of %d", ref.id[i], a.stamps,
                      ref.stamps[i]);
        ck_assert_msg(triggered(&r, ref.id[i]) == 1, "%s: filters ran %zu times", ref.id[i],
                      triggered(&r, ref.id[i]));
    }
    run_close(&r);
    free(rev);
    tu_files_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("history_upgrade");
    TCase *tc = tcase_create("upgrade");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_loop_test(tc, history_entry_then_its_alert, 1, 2);
    tcase_add_loop_test(tc, history_entry_then_its_alert, 100, 101);
    tcase_add_test(tc, alert_then_its_history_entry_is_known);
    tcase_add_test(tc, real_ztf_alerts_first_seen_in_history);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
