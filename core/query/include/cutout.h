/**
 * @file cutout.h
 * @brief Read the image stamps stored with alerts (science, template, difference).
 *
 * Stamps are the survey's bytes unchanged: gzip-compressed FITS for ZTF, FITS for Rubin. They are
 * kept in their own table, keyed by alert id first, so a stamp is found from an alert id alone.
 * Both functions run in one read transaction.
 */
#ifndef SS_CUTOUT_H
#define SS_CUTOUT_H

#include "alert.h"
#include "store.h"

#include <stdio.h>

/**
 * Print one JSON line per stamp of alert @p alert_id: survey, alert_id, kind, bytes, file_name.
 * @param[in] survey limits the listing to one survey; NULL for all.
 * @return 0 (nothing printed when the alert has none), or a store error.
 */
int ss_query_cutout_list(ss_store *s, const char *alert_id, const char *survey, FILE *out,
                         ss_err *err);

/**
 * Write the bytes of the @p kind stamp of alert @p alert_id to @p out.
 * @param[in] survey the alert's survey, or NULL when the alert id is unique across surveys.
 * @return 0; SS_ENOTFOUND (@p err says which stamps the alert has, if any); SS_EAMBIGUOUS when
 *         several surveys have an alert of that id (@p err names them); EIO when writing fails.
 */
int ss_query_cutout_write(ss_store *s, const char *alert_id, const char *survey,
                          ss_cutout_kind kind, FILE *out, ss_err *err);

#endif
