/**
 * @file journal.h
 * @brief The intake journal, where messages from the network are written
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

typedef struct ss_store_journal ss_store_journal;

typedef struct ss_store_jpos {
    uint64_t id, off;
} ss_store_jpos;

/**
 * Open the journal in @p dir (created when absent), positioned to replay from @p committed.
 * Files wholly before it are deleted. New messages go to a new file after the existing ones.
 */
int ss_store_journal_open(const char *dir, ss_store_jpos committed, ss_store_journal **out,
                          ss_err *err);

/**
 * The next message to replay. @param[out] msg (owned by the journal, valid until the next call),
 * @p len, @p start and @p end its position. @return 1 a message, 0 nothing left, or an error.
 */
int ss_store_journal_replay(ss_store_journal *j, const void **msg, size_t *len,
                            ss_store_jpos *start, ss_store_jpos *end, ss_err *err);

/** Append a message. @param[out] start, end its position. @return 0 or an errno with @p err. */
int ss_store_journal_append(ss_store_journal *j, const void *msg, size_t len, ss_store_jpos *start,
                            ss_store_jpos *end, ss_err *err);

/** Everything before @p pos is stored: files before it may go. */
void ss_store_journal_committed(ss_store_journal *j, ss_store_jpos pos);

void ss_store_journal_close(ss_store_journal *j);

/** Encode/decode a position for the store's meta table (16 bytes, big-endian). */
void ss_store_jpos_encode(ss_store_jpos p, unsigned char out[16]);
ss_store_jpos ss_store_jpos_decode(const unsigned char in[16]);

#endif
