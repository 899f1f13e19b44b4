/**
 * @file inspect.h
 * @brief Decode an input and print what skysieve would ingest, without a store (`skysieve
 * inspect`).
 */
#ifndef SS_INSPECT_H
#define SS_INSPECT_H

#include "decoder.h"

#include <stdio.h>

/**
 * Print one JSON line per record of @p path: {"record", "alert", "history"} with the alerts as
 * `skysieve locus` shows them, or {"record", "rejected": {"reason", "detail"}}.
 * @return 0, or an error when the input cannot be read at all (@p err says why).
 */
int ss_ingest_inspect(const char *path, const ss_decoder_config *cfg, FILE *out, ss_err *err);

#endif
