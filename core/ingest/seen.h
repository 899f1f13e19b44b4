/**
 * @file seen.h
 * @brief Private to the core: the set of alerts (survey, alert id) in an ingest's pending batch.
 *
 * Decoders ask whether a history entry is already known so they can skip its survey fields; the
 * store answers for committed alerts, this set for those still waiting in the batch. It holds
 * pointers to the alerts' strings, which live in the pending packets' arenas: clear it whenever
 * those packets are reset.
 */
#ifndef SS_SEEN_H
#define SS_SEEN_H

#include "alert.h"

/* A slot keeps its alert's hash so that a probe compares strings only when the hashes agree: a
 * ZTF alert asks about thirty history entries, each in two sets, and a slot's strings are far
 * from it in memory. */
typedef struct ssi_seen_slot {
    uint64_t hash;
    const ss_alert *alert; /* NULL: empty */
} ssi_seen_slot;

typedef struct ssi_seen {
    ssi_seen_slot *slots; /* open addressing */
    size_t cap, n;
} ssi_seen;

/** The hash a question about (survey, @p alert_id) is asked with; computed once for any number of
 * sets. */
uint64_t ssi_seen_hash(const char *alert_id);
/** Add every alert of @p pkt. @return 0 or SS_ENOMEM (the set is then merely incomplete). */
int ssi_seen_add_packet(ssi_seen *s, const ss_packet *pkt);
/** 1 when an alert of that survey and id was added since the last clear; @p hash from
 * ssi_seen_hash(@p alert_id). */
int ssi_seen_has(const ssi_seen *s, uint64_t hash, const char *survey, const char *alert_id);
void ssi_seen_clear(ssi_seen *s);
void ssi_seen_free(ssi_seen *s);

#endif
