/*
 * libFuzzer target: one input ingested into a store, the path that stores rejected rows (decode,
 * ss_ingest_validate(), the rejected table, the counts by reason). Built as fuzz_ingest with
 * -DSS_FUZZ=ON (README.md here).
 *
 * The first byte of the input picks the format (csv, jsonl, or detected from the content, which
 * reaches the Avro decoder too) and how the rest is read: through fmemopen, or from memory as a
 * Kafka message is (ss_ingest_memory(), batches overlapped, stamps lent). It aborts when the
 * store fails (a malformed input must never break the store), when a rejection is committed
 * without a reason or a detail, or when the rejections the store counts differ from those the run
 * reported. One store serves many inputs: opening LMDB for each would cost most of the run; it is
 * replaced every SSF_STORE_INPUTS inputs so that it stays small.
 */
#include "ingest.h"
#include "query.h"

#include <ftw.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SSF_STORE_INPUTS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char ssf_dir[64];
static ss_store *ssf_store;
static unsigned ssf_inputs;

static void ssf_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_ingest: %s: %s\n", what, detail);
    abort();
}

static int ssf_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void ssf_store_drop(void)
{
    if (ssf_store)
        ss_store_close(ssf_store);
    ssf_store = NULL;
    if (ssf_dir[0])
        nftw(ssf_dir, ssf_rm, 16, FTW_DEPTH | FTW_PHYS);
    ssf_dir[0] = '\0';
}

static void ssf_store_fresh(void)
{
    ssf_store_drop();
    snprintf(ssf_dir, sizeof ssf_dir, "/tmp/fuzz_ingest.XXXXXX");
    if (!mkdtemp(ssf_dir))
        ssf_die("mkdtemp", ssf_dir);
    ss_store_options so = {.create = 1};
    ss_err err = {0};
    if (ss_store_open(ssf_dir, &so, &ssf_store, &err))
        ssf_die("store", err.msg);
}

static uint64_t ssf_store_rejected(void)
{
    json_t *stats = NULL;
    ss_err err = {0};
    if (ss_query_stats(ssf_store, &stats, &err))
        ssf_die("stats", err.msg);
    uint64_t n = (uint64_t)json_integer_value(json_object_get(stats, "rejected"));
    json_decref(stats);
    return n;
}

/* Every committed rejection names its reason and says why. */
static void ssf_on_reject(void *ctx, const ss_reject *rej)
{
    uint64_t *count = ctx;
    if ((unsigned)rej->reason >= SS_REASON__COUNT || !rej->detail[0])
        ssf_die("rejection without a reason or a detail", ss_reason_name(rej->reason));
    (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const formats[] = {"csv", "jsonl", NULL};
    if (size == 0)
        return 0;
    if (!ssf_store)
        atexit(ssf_store_drop);
    if (ssf_inputs++ % SSF_STORE_INPUTS == 0)
        ssf_store_fresh();
    uint64_t reported = 0, before = ssf_store_rejected();
    int in_memory = data[0] / 3 % 2;
    ss_ingest_options o = {.format = formats[data[0] % 3],
                           .overlap = in_memory,
                           .on_reject = ssf_on_reject,
                           .ctx = &reported};
    ss_ingest *in = ss_ingest_new(ssf_store, &o);
    FILE *fp = in_memory  ? NULL
               : size > 1 ? fmemopen((void *)(data + 1), size - 1, "rb")
                          : fopen("/dev/null", "rb");
    if (!in || (!in_memory && !fp))
        ssf_die("setup", "out of memory");
    ss_err err = {0};
    int rc = in_memory ? ss_ingest_memory(in, data + 1, size - 1, "fuzz.input", &err)
                       : ss_ingest_stream(in, fp, "fuzz.input", &err);
    if (rc && rc != SS_EREJECT)
        ssf_die("the store failed", err.msg);
    ss_ingest_totals t;
    if (ss_ingest_finish(in, &t, &err))
        ssf_die("the store failed at the end", err.msg);
    ss_ingest_free(in);
    if (fp)
        fclose(fp);
    if (t.rejected != reported || ssf_store_rejected() != before + reported)
        ssf_die("rejections", "the store's count differs from the run's");
    return 0;
}
