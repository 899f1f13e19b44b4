/**
 * @file wire.h
 * @brief Private to core/broker/: the wire between the broker and its filter worker processes.
 *
 * The broker never loads user code. Each filter-set generation runs in worker processes
 * (`skysieve worker`, started by the broker): a worker opens the store read-only, loads the set
 * from the generation's snapshot, says hello (the set's filters, or why it did not load), then
 * runs batches of queued dispatches and answers each with what the filters did and wrote. The
 * broker stores the outputs. A worker that crashes or hangs takes only itself down; a page of
 * shared memory tells the broker which filter was running on which dispatch when it died.
 *
 * Frames on the socket: u32 length (host order: both ends are one machine) and a payload whose
 * first byte is its type:
 *  - 'H' hello (worker): JSON {"ok":true,"filters":[{label,name,version,runtime,tags,
 *        locus_properties,alert_properties}]} (the last two: the declared output names) or
 *        {"ok":false,"error":"..."}
 *  - 'B' batch (broker): u32 n, then n x (u64 seq, str locus, str survey, str alert_id,
 *        u32 nfilters, nfilters exclusion bytes)
 *  - 'R' result (worker), one per dispatch of a batch, in order: u64 seq, u8 failed, str error,
 *        u32 nfilters x (u8 outcome, f64 us, u32 properties written, str message), u8 halted,
 *        f64 the trigger's mjd, u32 ntags x (str tag, str filter, str event JSON), bytes locus
 * properties (a property bag, record.h), bytes alert properties
 *  - 'O' output (worker): i32 the run position of the filter that wrote it (-1: none, e.g. a setup
 *        while the set loads), u8 stream (1 stdout, 2 stderr), u8 cut (more was written than
 *        kept), str text; sent before the 'R' of the dispatch, and before the hello
 *  - 'Q' quit (broker): finish and exit 0
 * Strings and byte strings are u32 length + bytes (record.h's ss_wbuf_strn).
 *
 * The worker's descriptors at exec: 1 and 2 its capture memfds (confine.h), 3 the socket, 4 the
 * shared page, 5 the broker's own stderr (for the worker's own reports: sanitizers).
 */
#ifndef SS_BROKER_WIRE_H
#define SS_BROKER_WIRE_H

#include "record.h"

#include <stddef.h>
#include <stdint.h>

/** What the worker publishes in shared memory while it runs (the broker reads it after a crash). */
typedef struct ssi_worker_shm {
    volatile uint64_t seq;   /* the dispatch being run */
    volatile int32_t filter; /* run position of the filter in run(), or -1 */
    volatile int32_t busy;   /* 1 between receiving a batch and answering its last dispatch */
    /* written by the broker before the worker starts: how to confine it (confine.h) */
    uint32_t allow;   /* SSI_ALLOW_* */
    int32_t uid, gid; /* the user to become, or -1 */
} ssi_worker_shm;

/* The worker's exit status when a filter closed or replaced its socket to the broker: the filter
 * then named in ssi_worker_shm is the one that did it. */
#define SSI_EXIT_LOST_SOCKET 86

/** Write one frame. @return 0 or an errno. */
int ssi_frame_send(int fd, const void *data, size_t len);

/**
 * Read one frame into @p buf (grown as needed; the caller frees buf->data).
 * @return 0, EPIPE at end of stream, or an errno.
 */
int ssi_frame_recv(int fd, ss_wbuf *buf);

#endif
