/**
 * @file journal.h
 * @brief Private to the broker: the intake journal, where messages from the network are written
 * before they are ingested.
 *
 * A message taken from the pull socket is appended to the journal (one write(), no fsync: it must
 * survive the broker's death, not the machine's), then ingested. Each ingest transaction records
 * the journal position up to which its messages are stored; after a crash the broker replays the
 * journal from the last recorded position, and the store's idempotence absorbs a message that was
 * half stored. Files: DIR/<16 hex digits>.jrn, records of u32 length, u32 checksum, bytes; a torn
 * last record (a crash inside write()) fails its checksum and is ignored: it was never ingested.
 *
 * A position (file id, offset) means: everything before it is stored.
 */
#ifndef SS_JOURNAL_H
#define SS_JOURNAL_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ssi_journal ssi_journal;

typedef struct ssi_jpos {
    uint64_t id, off;
} ssi_jpos;

/**
 * Open the journal in @p dir (created when absent), positioned to replay from @p committed.
 * Files wholly before it are deleted. New messages go to a new file after the existing ones.
 */
int ssi_journal_open(const char *dir, ssi_jpos committed, ssi_journal **out, ss_err *err);

/**
 * The next message to replay. @param[out] msg (owned by the journal, valid until the next call),
 * @p len, @p start and @p end its position. @return 1 a message, 0 nothing left, or an error.
 */
int ssi_journal_replay(ssi_journal *j, const void **msg, size_t *len, ssi_jpos *start,
                       ssi_jpos *end, ss_err *err);

/** Append a message. @param[out] start, end its position. @return 0 or an errno with @p err. */
int ssi_journal_append(ssi_journal *j, const void *msg, size_t len, ssi_jpos *start, ssi_jpos *end,
                       ss_err *err);

/** Everything before @p pos is stored: files before it may go. */
void ssi_journal_committed(ssi_journal *j, ssi_jpos pos);

void ssi_journal_close(ssi_journal *j);

/** Encode/decode a position for the store's meta table (16 bytes, big-endian). */
void ssi_jpos_encode(ssi_jpos p, unsigned char out[16]);
ssi_jpos ssi_jpos_decode(const unsigned char in[16]);

#endif
