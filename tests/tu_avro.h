/* Test helpers for writing Avro records with avro-c (header only: include after avro.h and
 * check.h). */
#ifndef TU_AVRO_H
#define TU_AVRO_H

#include <avro.h>
#include <check.h>

/** Field @p name of record @p rec into @p out; the test fails when the record has none. */
static inline void tu_avro_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    ck_assert_int_eq(avro_value_get_by_name(rec, name, out, NULL), 0);
}

#endif
