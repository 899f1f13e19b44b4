/*
 * libFuzzer target: one input through one decoder, from open() to close(), every alert validated
 * (fuzz_run.c). Built as fuzz_avro, fuzz_csv and fuzz_jsonl with -DSS_FUZZ=ON (README.md here).
 *
 * SS_FUZZ_DECODER names the decoder at compile time; without it, the first byte of the input
 * picks one (its value modulo the number of decoders) and the rest is the input.
 * Avro inputs starting with a zero byte take the Confluent-framed path, with the schemas of
 * SS_FUZZ_SCHEMA_DIR (the shared Rubin schemas) when that directory exists.
 */
#include "fuzz_run.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SS_FUZZ_SCHEMA_DIR
#define SS_FUZZ_SCHEMA_DIR ""
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *ssf_schema_dir(void)
{
    struct stat sb;
    return stat(SS_FUZZ_SCHEMA_DIR, &sb) == 0 && S_ISDIR(sb.st_mode) ? SS_FUZZ_SCHEMA_DIR : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *schema_dir;
    static int ready;
    if (!ready) {
        schema_dir = ssf_schema_dir();
        ready = 1;
    }
#ifdef SS_FUZZ_DECODER
    const ss_decoder_ops *ops = ss_decoder_find(SS_FUZZ_DECODER);
    if (!ops) {
        fprintf(stderr, "no decoder named %s\n", SS_FUZZ_DECODER);
        abort();
    }
#else
    size_t n = 0;
    const ss_decoder_ops *const *all = ss_decoders(&n);
    if (size == 0 || n == 0)
        return 0;
    const ss_decoder_ops *ops = all[data[0] % n];
    data++, size--;
#endif
    char name[64], why[512];
    snprintf(name, sizeof name, "fuzz.%s", ops->name);
    ssf_result res;
    /* Avro inputs go through the plan and through avro-c's generic path, compared */
    int avro = !strcmp(ops->name, "avro");
    if ((avro ? ssf_run_both : ssf_run)(ops, data, size, name, schema_dir, &res, why, sizeof why)) {
        fprintf(stderr, "decoder %s broke its contract: %s\n", ops->name, why);
        abort();
    }
    return 0;
}
