/* Run one input through a decoder the way ingest does, checking the decoder contract on the way.
 * Shared by the libFuzzer targets (fuzz_decoder.c) and the corpus replay (test_fuzz_regress.c). */
#ifndef SS_FUZZ_RUN_H
#define SS_FUZZ_RUN_H

#include "decoder.h"

#include <stddef.h>

typedef struct ssf_result {
    int opened;             /**< 1 when open() accepted the input */
    int failed;             /**< 1 when open() or next() ended the input with an error */
    unsigned long packets;  /**< records decoded */
    unsigned long alerts;   /**< alerts in them that ss_alert_validate() accepts */
    unsigned long rejected; /**< records the decoder rejected, and alerts the validator rejected */
    char message[512];      /**< the last error or rejection, for reports */
    unsigned long long digest; /**< of every decoded packet's content (FNV-1a) */
} ssf_result;

/**
 * Decode @p data (read through fmemopen, as a file named @p name) with @p ops, from open() to
 * close(), validating every alert. The decoder's shared state is made for this input and freed
 * after it. @p schema_dir may be NULL.
 * @return 0, or -1 when the decoder broke its contract (a rejection or an error without a message,
 * a probe out of range, more records than the input can hold): @p why says how.
 */
int ssf_run(const ss_decoder_ops *ops, const unsigned char *data, size_t size, const char *name,
            const char *schema_dir, ssf_result *res, char *why, size_t why_len);

/**
 * ssf_run() with the Avro decoder's plan, the same with the input opened in memory
 * (ss_decoder_open_memory(), stamps lent), then with avro-c's generic values
 * (SKYSIEVE_AVRO_GENERIC=1), the reference. @p res is the plan's result through a stream.
 * @return 0, or -1 when any broke the contract or two decoded differently: @p why says how.
 */
int ssf_run_both(const ss_decoder_ops *ops, const unsigned char *data, size_t size,
                 const char *name, const char *schema_dir, ssf_result *res, char *why,
                 size_t why_len);

#endif
