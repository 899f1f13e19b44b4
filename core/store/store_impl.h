/**
 * @file store_impl.h
 * @brief Private to core/store/: the store's LMDB handles, key encodings, record codecs and
 * transactions. No other folder sees it (it is not on any other folder's include path).
 */
#ifndef SS_STORE_IMPL_H
#define SS_STORE_IMPL_H

#include "alert.h"
#include "locus_id.h"
#include "lockfile.h"
#include "record.h"
#include "store.h"

#include <lmdb.h>
#include <zstd.h>
#include <pthread.h>
#include <stdint.h>

/* One list of the dictionary (dict.c): names and their text in one block owned by the entry. */
typedef struct ssi_dict_entry {
    char **names;
    uint32_t n;
    uint64_t hash;
    size_t bytes;
} ssi_dict_entry;

/* What compresses stamps on one thread (cutouts.c): zstd's context, the stamp regrouped for it
 * (fits_shuffle.c), and the stamps dictionary of the survey whose stamps it compresses (zstamps.c;
 * number 0: none). */
typedef struct ssi_squeezer {
    int level; /* zstd's (0 before it is set: SS_STAMP_LEVEL) */
    ZSTD_CCtx *cctx;
    ss_wbuf shuffled;
    uint32_t dict;
    const ZSTD_CDict *cdict; /* the store's cache's, for dictionary dict */
} ssi_squeezer;

/* zstd's hash table for stamps at the fast levels: 2^14 entries, where -20's own (2^12, for inputs
 * of tens of kB) holds too few of a stamp's positions. Rubin's 300 stamps of ../shared/data
 * compress 9% faster, to 0.5395 of their bytes against 0.5392. The other levels keep zstd's own. */
#define SSI_ZSTD_HASH_LOG 14

void ssi_squeezer_free(ssi_squeezer *q);

/* The store's cache of the dictionary, shared by the process's transactions under its lock
 * (read-write: it is nearly always read, by the ingest's two threads at once). */
typedef struct ssi_dict {
    pthread_rwlock_t lock;
    ssi_dict_entry *e; /* id - 1 indexes it */
    uint32_t n, cap;
    uint32_t committed; /* the writer's: entries below it are committed, the rest its own txn's */
    int complete;       /* every committed list loaded (the writer loads them all once) */
    uint32_t *slots;    /* hash of the names -> id (0: empty) */
    uint32_t nslots;
    size_t bytes;
} ssi_dict;

/* A trained dictionary of the zdict table (zrec.c), in zstd's two prepared forms. */
typedef struct ssi_zdict {
    uint32_t number;
    int committed;      /* 0: trained by the open write transaction */
    ZSTD_CDict *cdict;  /* the writer's, for records; NULL in a reader */
    ZSTD_CDict *gcdict; /* the writer's, for groups (group.c), at their level */
    ZSTD_CDict *stamps; /* for stamps at the store's level (zstamps.c), made on first use */
    ZSTD_DDict *ddict;
} ssi_zdict;
/* The writer's state for one survey: its dictionary's number, or the samples to train one on. */
typedef struct ssi_zsurvey {
    char kind; /* 's': its records' dictionary, 'g': its groups' */
    char survey[SS_SURVEY_MAX + 1];
    uint32_t number; /* 0: none yet */
    int fresh;       /* number was given by the open write transaction */
    ss_wbuf bytes;   /* the samples, one after another */
    size_t *sizes;
    uint32_t n, cap;
    uint32_t tries; /* trainings that made no dictionary */
    int off;        /* too many of them: this survey is not compressed by this process */
} ssi_zsurvey;
/* Record compression (zrec.c): the dictionaries read so far, shared by the process's transactions
 * under the lock; the writer's surveys; idle decompression contexts. */
typedef struct ssi_zrec {
    pthread_mutex_t lock;
    ssi_zdict **d; /* each owned here, freed at close (or with the transaction that trained it) */
    uint32_t nd, capd;
    ssi_zsurvey *s; /* the writer's only */
    uint32_t ns, caps;
    ZSTD_DCtx **idle;
    uint32_t nidle;
    ZSTD_CCtx *cctx; /* the writer's; write transactions take turns */
} ssi_zrec;
struct ss_store {
    MDB_env *env;
    MDB_dbi meta, loci, alerts, locus_alerts, sky, objects, rejected, ingests;
    MDB_dbi locus_props, alert_props, tags, tag_index; /* format 2 */
    MDB_dbi cutouts;                                   /* format 3 */
    MDB_dbi queue;                                     /* format 4 */
    MDB_dbi catalogs, catalog_rows, catalog_sky;       /* format 5 (catalog.h) */
    MDB_dbi locus_matches, locus_xmatch, watch_outbox; /* format 5 */
    MDB_dbi loci_newest, catalog_loci;                 /* format 6 */
    MDB_dbi dict;                                      /* format 7 */
    MDB_dbi zdict;                                     /* format 10 */
    MDB_dbi stamps;                                    /* format 11 */
    MDB_dbi limits;                                    /* format 17 (limits.c) */
    uint32_t format;                                   /* the format version found on disk */
    int has_outputs; /* 0 for a format 1 store opened read-only: the four tables above are absent */
    int has_cutouts; /* 0 for a format 1 or 2 store opened read-only */
    int has_queue;   /* 0 for a store older than format 4 opened read-only */
    int has_catalogs;   /* 0 for a store older than format 5 opened read-only */
    int has_search;     /* 0 for a store older than format 6 opened read-only: no loci_newest and
                           catalog_loci */
    int has_dict;       /* 0 for a store older than format 7 opened read-only */
    int has_zdict;      /* 0 for a store older than format 10 opened read-only */
    int has_stamps;     /* 0 for a store older than format 11 opened read-only */
    int has_limits;     /* 0 for a store older than format 17 opened read-only */
    int limits_indexed; /* upgraded from before format 17: its older limits are in alerts */
    size_t stamp_chunk; /* the bytes of stamps a chunk is closed at (cutouts.c; tests lower it) */
    int stamp_level;    /* ss_store_options stamp_level, 0 taken as SS_STAMP_LEVEL */
    int uncache_stamps; /* drop committed chunks from the page cache (ss_store_options) */
    int stamps_fd;      /* the stamps file (stamps_file.c), -1 before format 13 or while absent */
    int stamps_inline;  /* write chunks into the stamps table, as formats 11-12 did (tests) */
    int origins_by_id;  /* the writer names origins by dictionary id, as formats 7-17 did (tests) */
    int nosync;         /* ss_store_options nosync: neither LMDB nor the stamps file is synced */
    ssi_dict dcache;    /* the dict table's lists read so far */
    ssi_zrec zrec;      /* the zdict table's dictionaries read so far, the writer's samples */
    /* the writer's, for cutouts (cutouts.c); write transactions take turns */
    ssi_squeezer squeezer;
    char *path;
    double radius_deg;
    double zone_height_deg;
    uint32_t sky_band_zones; /* zones in a band of sky tiles (skyindex.c); 0: before format 8, the
                                sky index is keyed by zone alone */
    uint64_t locus_base;     /* instance << 48: added to every locus sequence number */
    int readonly;
    ss_lockfile *writer; /* writer.lock, held by read-write handles only (one writer per store) */
    int writer_made;     /* writer.lock was created by this open: removed when the open fails */
    /* LMDB changes the map size only while no transaction of the process is open (the map moves):
     * transactions count themselves in and out, and a resize waits for none to be open. */
    pthread_mutex_t map_lock;
    pthread_cond_t map_cond;
    unsigned map_users;
    int map_resizing;
};

/* The members of a group being written (group.c): copies of the caller's alerts, whose strings
 * and properties stay the caller's until ss_store_group_end(). */
typedef struct ssi_group {
    char locus[SS_LOCUS_ID_LEN];
    uint64_t packet;
    int open;
    ss_alert *a;
    uint32_t n, cap;
    const ss_prop *survey_locus; /* the primary's (member 0), borrowed likewise */
    uint32_t nsurvey_locus;
} ssi_group;

/* The longest key of any table (key encodings: below). */
#define SSI_KEY_MAX (SS_SURVEY_MAX + SS_ID_MAX + SS_LOCUS_ID_LEN + SS_TAG_MAX + 32)

/** A transaction: LMDB's, with the counters taken from it and a scratch buffer for encoding. */
struct ss_store_txn {
    ss_store *s;
    MDB_txn *txn;
    int write;
    int counted;        /* counted in map_users (not while reset) */
    int counters_state; /* 0 not read, 1 read, 2 read and to be saved at commit */
    ss_store_counters counters;
    ss_wbuf buf;
    ss_wbuf dict_buf;  /* a new dictionary list, encoded while buf holds the record naming it */
    ss_wbuf zbuf;      /* an alert's stamps compressed, until they are written */
    ss_arena *arena;   /* stamps decompressed for readers, until the txn ends */
    ZSTD_DCtx *zdctx;  /* taken from the store's idle ones on first use */
    ssi_zdict *zlast;  /* the dictionary last used (the cache's, not owned) */
    ss_wbuf zplain;    /* a record's property lists decompressed (read) or compressed (written) */
    ss_wbuf chunk;     /* stamps put and not yet written: chunk chunk_id, its head first */
    uint64_t chunk_id; /* 0 until the first stamps put, then the number of the chunk filling */
    uint64_t chunk_first; /* the number of the transaction's first chunk */
    double chunk_newest;  /* the newest MJD of the chunk's alerts (+inf for one without) */
    uint64_t stamps_from; /* the stamps file's committed end when the first chunk was put */
    uint64_t stamps_end;  /* its end after the chunks written since (meta "stamps_end") */
    /* The objects entry this transaction put last: a packet's twenty history entries name one
     * object and one locus, and the entry is never deleted, so the same one is not put again. */
    unsigned char object_key[SSI_KEY_MAX];
    size_t object_key_len; /* 0: none yet */
    char object_locus[SS_LOCUS_ID_LEN];
    ssi_group group; /* the packet's measurements ss_store_group_add() took (group.c) */
    ss_wbuf gbuf;    /* a group's entry as it is written */
    ss_wbuf lbuf;    /* an object's list of limits as it is written (limits.c) */
};

/* A chunk of stamps is closed at 4 MiB: its last page's waste is then a few bytes an alert, and
 * retention frees the stamps of about a hundred ZTF alerts at a time. */
#define SSI_STAMP_CHUNK ((size_t)4 << 20)

/** Write the stamps chunk @p t holds, if any, before its commit (cutouts.c). @return 0 or an LMDB
 * code. */
int ssi_chunk_flush(ss_store_txn *t);

/** Copy the @p len bytes of FITS at @p in to @p out with each HDU's array of 2-, 4- or 8-byte
 * numbers regrouped by byte significance (fits_shuffle.c), or with @p undo back as they were.
 * @return 1 when an array moved; 0 when none did (@p in is not FITS, or has no such array), @p
 * out then untouched. */
int ssi_fits_shuffle(const void *in, size_t len, void *out, int undo);

/** Drop the chunks @p t wrote, committed, from the page cache. */
void ssi_chunks_uncache(ss_store_txn *t);

/** Before @p t's commit: the chunks it wrote to the stamps file, on disk. @return 0 or an errno. */
int ssi_chunks_sync(ss_store_txn *t);

/* ---- the stamps file (stamps_file.c, format 13) ---- */

/** Open the stamps file of the store in @p dir into *@p fd, the caller's to close: created
 * unless @p readonly; -1 when read-only and absent. @return 0 or an errno. */
int ssi_stamps_file_open(const char *dir, int readonly, int *fd);

/** Remove the stamps file of the store in @p dir (a creation undone, a copy given up). */
void ssi_stamps_file_remove(const char *dir);

/** Write @p len bytes at @p off and start their writeback. @return 0 or an errno (ENOSPC for a
 * full disk). */
int ssi_stamps_file_write(ss_store *s, const void *p, size_t len, uint64_t off);

/** Wait until every byte written is on disk (nothing with nosync). @return 0 or an errno. */
int ssi_stamps_file_sync(ss_store *s);

/** Drop bytes @p from to @p end, synced, from the page cache (unless the store keeps them). */
void ssi_stamps_file_uncache(ss_store *s, uint64_t from, uint64_t end);

/** Read @p len bytes at @p off into @p p; a read-only handle opens the file here when a writer
 * made it after the handle's open. @return 0, SS_ECORRUPT past the end or without a file, or an
 * errno. */
int ssi_stamps_file_read(ss_store *s, void *p, size_t len, uint64_t off);

/** Give back the disk blocks of @p len bytes at @p off (a chunk retention dropped). @return 0
 * (also where the filesystem cannot) or an errno. */
int ssi_stamps_file_punch(ss_store *s, uint64_t off, uint64_t len);

/** The file's size and the bytes of disk it takes (0 and 0 without one). @return 0 or an errno. */
int ssi_stamps_file_stat(ss_store *s, uint64_t *size, uint64_t *allocated);

/** pwrite / pread of all @p len bytes. @return 0 or an errno; a read past the end SS_ECORRUPT. */
int ssi_fd_write_at(int fd, const void *p, size_t len, uint64_t off);
int ssi_fd_read_at(int fd, void *p, size_t len, uint64_t off);

/** Stamps table value @p v: the newest MJD of the alerts its chunk holds, and where the chunk
 * lies in the stamps file (*@p len is 0 for one held in @p v itself, formats 11-12).
 * @return 0 or SS_ECORRUPT. */
int ssi_chunk_place(const MDB_val *v, double *newest, uint64_t *off, uint64_t *len);

/** Check stamps table value @p v for verify: a chunk in the stamps file starts at or after
 * *@p next (then set to its end), ends by the committed end @p end and within the file's @p size
 * bytes, and the file holds its head there. @return 0, or SS_ECORRUPT with *@p why set to the
 * reason (static). */
int ssi_chunk_check(ss_store *s, const MDB_val *v, uint64_t end, uint64_t size, uint64_t *next,
                    const char **why);

/** The stamps file's committed end as @p t sees it (meta "stamps_end"; 0 without one).
 * @return 0, SS_ECORRUPT or an LMDB code. */
int ssi_chunks_end(ss_store_txn *t, uint64_t *end);

/** Set the stamps file's committed end to @p end in table @p meta of @p txn (a compacted copy's).
 * @return 0 or an LMDB code. */
int ssi_chunks_end_set(MDB_txn *txn, MDB_dbi meta, uint64_t end);

/** The bytes of a stamps table value naming a chunk in the stamps file (cutouts.c). */
#define SSI_CHUNK_PLACE 32

/** Stamps table value @p v, a chunk in the stamps file, moved to offset @p off: @p place (of
 * SSI_CHUNK_PLACE bytes) becomes the value. */
void ssi_chunk_moved(const MDB_val *v, uint64_t off, unsigned char *place);

/** The packed record (version 2) that cutouts record @p v is or names, borrowed until @p t ends.
 * One in the chunk @p t still fills is copied to its arena: that chunk's memory moves as it grows.
 * @return 0, SS_ECORRUPT, SS_ENOMEM or an LMDB code. */
int ssi_cutouts_record(ss_store_txn *t, const MDB_val *v, MDB_val *out);

/** ssi_cutouts_count() of a record that must also be read whole: a reference's chunk is found in
 * @p txn and its slice decoded. @return 0 or SS_ECORRUPT. */
int ssi_cutouts_check(ss_store *s, MDB_txn *txn, const MDB_val *k, const MDB_val *v,
                      uint64_t *stamps);

/** Read and write the counters record in @p txn. @return 0, SS_ECORRUPT or an LMDB code. */
int ssi_counters_load(ss_store *s, MDB_txn *txn, ss_store_counters *c);
int ssi_counters_save(ss_store *s, MDB_txn *txn, const ss_store_counters *c, ss_wbuf *scratch);

/** The counters of @p t for a writer that changes them (NULL when they cannot be read). */
ss_store_counters *ssi_counters_w(ss_store_txn *t);

/** A number of the meta table. @return 0, MDB_NOTFOUND, SS_ECORRUPT or an LMDB code. */
int ssi_meta_put_f64(ss_store *s, MDB_txn *txn, const char *key, double v);
int ssi_meta_get_f64(ss_store *s, MDB_txn *txn, const char *key, double *out);

/** A counter of a meta table (@p meta: the store's, or a compacted copy's), u64 BE.
 * @return 0, MDB_NOTFOUND, SS_ECORRUPT or an LMDB code. */
int ssi_meta_get_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *out);
int ssi_meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t n);

/* Key encodings (see store.h). Each returns the key length; buffers must hold SSI_KEY_MAX bytes. */
size_t ssi_key_alert(unsigned char *k, const char *survey, const char *alert_id);
size_t ssi_key_locus_alert(unsigned char *k, const char *locus_id, double mjd, const char *survey,
                           const char *alert_id);
/** The alert key (survey NUL alert_id) that ends locus_alerts key @p k, pointing into it; empty
 * when @p k is too short to hold one. */
MDB_val ssi_key_locus_alert_id(const MDB_val *k);
/** A sky index key (skyindex.c): the tile (format 8 on), zone, RA and locus id. */
size_t ssi_key_sky(const ss_store *s, unsigned char *k, double ra, double dec,
                   const char *locus_id);
size_t ssi_key_object(unsigned char *k, const char *object_id, const char *survey);
size_t ssi_key_tag(unsigned char *k, const char *locus_id, const char *tag);
size_t ssi_key_cutout(unsigned char *k, const char *alert_id, const char *survey,
                      ss_cutout_kind kind);
size_t ssi_key_tag_index(unsigned char *k, const char *tag, double mjd, const char *locus_id);
/** loci_newest: the MJD's bits (NaN made one NaN, -0 made 0, so each locus has one key) and the
 * locus id. */
#define SSI_NEWEST_KEY (8 + SS_LOCUS_ID_LEN)
size_t ssi_key_newest(unsigned char *k, double mjd, const char *locus_id);

/* Record codecs of the store's own tables (record.c). */
void ssi_locus_encode(const ss_locus *l, ss_wbuf *b);
int ssi_locus_decode(const void *data, size_t len, ss_locus *l);
/** The head of an alert record or reference, without decoding the rest. @return 0 or
 * SS_ECORRUPT. */
int ssi_alert_head(const void *data, size_t len, const MDB_val *key, ss_store_alert_head *h);
/* Format 9's reference to an alert's record (the alerts table's value): version, kind, MJD,
 * arrival, arrival index and locus id, which locate the record in locus_alerts. */
#define SSI_REF_LEN (2 + 8 + 8 + 4 + SS_LOCUS_ID_LEN)
/** Encode @p h as a reference into @p out. @return SSI_REF_LEN. */
size_t ssi_alert_ref_encode(const ss_store_alert_head *h, unsigned char out[SSI_REF_LEN]);
/** 1 when a value of the alerts table is a reference (format 9), 0 for a record. */
int ssi_alert_is_ref(const void *data, size_t len);
/** Move every alert record of a store before format 9 into its locus_alerts entry, leaving a
 * reference in the alerts table (data.c; the upgrade to format 9, in one transaction).
 * @return 0, SS_ECORRUPT, SS_ENOMEM or an LMDB code. */
int ssi_alerts_cluster(ss_store *s, MDB_txn *txn);
/** The newest alert's MJD of a locus record, without decoding the rest. @return 0 or SS_ECORRUPT.
 */
int ssi_locus_newest(const void *data, size_t len, double *mjd);
void ssi_tag_encode(const ss_tag_record *t, ss_wbuf *b);
int ssi_tag_decode(const void *data, size_t len, ss_tag_record *t);
/* An alert record is read with the locus_alerts key it was found under (@p key), from which a
 * record of version 7 takes the fields it leaves out; NULL for a record of another table. */
/** The survey's locus properties an alert record kept (none before version 3), into @p arena. */
int ssi_alert_survey_locus(ss_store_txn *t, const void *data, size_t len, const MDB_val *key,
                           ss_arena *arena, ss_prop **props, uint32_t *n);
/** An alert record of version 3 or 4, as skysieve before format 7 wrote them (for tests). */
void ssi_alert_encode4(const ss_alert *a, const char *locus_id, const ss_prop *survey_locus,
                       uint32_t nsurvey_locus, ss_wbuf *b);
/** ss_store_alert_decode() of a record of @p t's store, whose names may be in its dictionary. */
int ssi_alert_decode(ss_store_txn *t, const void *data, size_t len, const MDB_val *key,
                     ss_packet *pkt, ss_alert *a, char *locus_id);

/* Packed alert records, versions 5 and 7 (record_pack.c). @p t NULL: no dictionary, names
 * inline. */
/** Encode into @p b (reset first), as version 5. @return 0, SS_ENOMEM or an LMDB code (a new
 * dictionary list). */
int ssi_alert_pack(ss_store_txn *t, const ss_alert *a, const char *locus_id,
                   const ss_prop *survey_locus, uint32_t nsurvey_locus, ss_wbuf *b);
/** Encode as version 7, for locus_alerts (format 9): without the survey, alert id, locus id and
 * MJD, which its key holds. */
int ssi_alert_pack_keyed(ss_store_txn *t, const ss_alert *a, const ss_prop *survey_locus,
                         uint32_t nsurvey_locus, ss_wbuf *b);
/* The list of names last looked up for a packet's alerts, by the names' addresses: the alerts
 * of one packet live together, so the same addresses are the same names (ss_store_lists_packet).
 * A ZTF alert's twenty history entries share one list, whose hash and comparison of a hundred
 * names were a tenth of the decoding thread. n UINT32_MAX: none. */
typedef struct ssi_names_memo {
    const char **names;
    uint32_t n, cap, id;
} ssi_names_memo;

/**
 * Append @p a's property lists (and @p survey_locus) to @p b as ssi_alert_pack_keyed() would,
 * on any thread, with the names' committed dictionary ids only; @p memo (may be NULL) remembers
 * the id of @p a's names for the next alert of the packet. @return 1 appended, 0 not (a list no
 * committed transaction named yet: the writer must), SS_ENOMEM.
 */
int ssi_lists_early(ss_store *s, const ss_alert *a, const ss_prop *survey_locus,
                    uint32_t nsurvey_locus, ssi_names_memo *memo, ss_wbuf *b);
int ssi_alert_unpack(ss_store_txn *t, const void *data, size_t len, const MDB_val *key,
                     ss_packet *pkt, ss_alert *a, char *locus_id);
int ssi_alert_head5(const void *data, size_t len, const MDB_val *key, ss_store_alert_head *h);
int ssi_alert_survey_locus5(ss_store_txn *t, const void *data, size_t len, const MDB_val *key,
                            ss_arena *arena, ss_prop **props, uint32_t *n);
/** 1 for a packed record (version 5, 7 or 8). */
int ssi_alert_packed(const void *data, size_t len);
/** 1 for a record compressed with its survey's dictionary (version 8). */
int ssi_alert_squeezed(const void *data, size_t len);

/* The dictionary of name lists (dict.c). */
void ssi_dict_init(ssi_dict *d);
void ssi_dict_free(ssi_dict *d);
/**
 * The id of the list of @p props' names in write transaction @p t, created when new. *id is 0
 * when the list is to be written inline (a read transaction, a store before format 7, a list or a
 * dictionary past its bounds). @return 0, SS_ENOMEM or an LMDB code.
 */
int ssi_dict_id(ss_store_txn *t, const ss_prop *props, uint32_t n, uint32_t *id);
/**
 * The names of list @p id, valid while the store is open (except a list created by a write
 * transaction that then aborts: valid until it ends). @return 0, SS_ECORRUPT (no such list) or
 * an LMDB code.
 */
int ssi_dict_names(ss_store_txn *t, uint32_t id, const char *const **names, uint32_t *n);
/**
 * The id of the list of @p props' names when a committed transaction created it, from the cache
 * alone: what any thread may use while another writes (an id the open transaction created may
 * yet be dropped). @return 1 and *id, or 0 (*id 0: not committed, not cached yet, or no
 * dictionary).
 */
int ssi_dict_committed_id(ss_store *s, const ss_prop *props, uint32_t n, uint32_t *id);
/** Keep (@p committed) or drop the lists the write transaction that ends created. */
void ssi_dict_end(ss_store *s, int committed);

/* Record compression with trained dictionaries (zrec.c). */
/** @p items (@p n used of *cap, each of @p size bytes) with room for one more, doubling from
 * @p first: the array itself, or where realloc() moved it; NULL when out of memory (the array as
 * it was). */
void *ssi_grow(void *items, uint32_t *cap, uint32_t n, size_t size, uint32_t first);

void ssi_zrec_init(ssi_zrec *z);
void ssi_zrec_free(ssi_zrec *z);
/** Keep (@p committed) or drop the dictionaries the write transaction that ends trained. */
void ssi_zrec_end(ss_store *s, int committed);
/** Give back the transaction's decompression context (at its end or reset). */
void ssi_zrec_txn_done(ss_store_txn *t);
/**
 * Compress the bytes of @p b from @p at to its end (a record's property lists) with the
 * dictionary of @p survey, replacing them with the dictionary number, their length and the zstd
 * frame when that is shorter; until the survey has a dictionary, keep them as a sample and train
 * one when there are enough. Only in a write transaction of a format 10 store; *squeezed is 1
 * when @p b was changed. @return 0, SS_ENOMEM or an LMDB code.
 */
int ssi_zrec_squeeze(ss_store_txn *t, const char *survey, ss_wbuf *b, size_t at, int *squeezed);
/** A compression context for records as ssi_zrec_squeeze() makes them (NULL: out of memory). */
ZSTD_CCtx *ssi_zrec_cctx_new(void);
/**
 * ssi_zrec_squeeze() with the dictionary given: compress @p b from @p at with @p cdict (dictionary
 * @p number), @p scratch holding the frame meanwhile. @return 1 when @p b was changed, 0 when it
 * is kept as it was (short, not shrunk, or @p cctx NULL), SS_ENOMEM.
 */
int ssi_zrec_frame(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, uint32_t number, ss_wbuf *b, size_t at,
                   ss_wbuf *scratch);
/**
 * The committed dictionary of @p kind ('s' records, 'g' groups) of @p survey as transaction @p t
 * (a reader's too) sees it: its number and bytes (valid until @p t ends). @return 0,
 * SS_ENOTFOUND (none yet, or a store before format 10), SS_ECORRUPT or an LMDB code.
 */
int ssi_zrec_committed(ss_store_txn *t, char kind, const char *survey, uint32_t *number,
                       MDB_val *dict);
/**
 * Read @p r's compressed property lists (what ssi_zrec_squeeze() wrote): @p r then reads them
 * decompressed, in memory of @p t valid until the next call with @p t or its end.
 * @return 0, SS_ECORRUPT (no such dictionary, a damaged frame, no store), SS_ENOMEM or an LMDB
 * code.
 */
int ssi_zrec_expand(ss_store_txn *t, ss_rbuf *r);
/** Check the zdict table: each dictionary one zstd recognises, each survey's number one that is
 * there; @p report gets each problem's text. @return 0 or an LMDB code. */
int ssi_zrec_verify(ss_store_txn *t, void (*report)(void *ctx, const char *text), void *ctx);
/* The zdict table's pieces, shared by records (zrec.c) and stamps (zstamps.c). */
/** The transaction's decompression context, taken on first use (NULL: out of memory). */
ZSTD_DCtx *ssi_zrec_dctx(ss_store_txn *t);
/** The key "d" + number. */
void ssi_zkey_number(unsigned char k[5], uint32_t number);
/** The number of @p survey's dictionary of @p kind that @p t sees. @return 0, SS_ENOTFOUND (none,
 * or a store before format 10), SS_ECORRUPT or an LMDB code. */
int ssi_zdict_named(ss_store_txn *t, char kind, const char *survey, uint32_t *number);
/** Writer: keep @p dict as the next dictionary and name it @p survey's of @p kind, in the table
 * and in the cache (dropped if the transaction aborts); @p form: prepared for compressing too, 1
 * records, 2 groups (0: for reading only). */
int ssi_zdict_name(ss_store_txn *t, char kind, const char *survey, const void *dict, size_t len,
                   int form, uint32_t *number);
/** Dictionary @p number from the cache or the table of @p t; @p form: what a writer wants it
 * prepared to compress (1 records, 2 groups; 0 nothing). @return 0, SS_ECORRUPT (no such
 * dictionary), SS_ENOMEM or an LMDB code. */
int ssi_zdict_get(ss_store_txn *t, uint32_t number, int form, ssi_zdict **out);

/* Stamps compressed with a dictionary of their survey's stamps (zstamps.c, format 14). */
/** Whether @p len bytes at @p d are a stamps dictionary: regrouped FITS, as they start. */
int ssi_zstamps_content(const void *d, size_t len);
/**
 * Point @p q at @p survey's stamps dictionary as @p t sees it (q->dict 0 when it has none), its
 * prepared form made at @p q's level on first use. @return 0, SS_ENOMEM, SS_ECORRUPT or an LMDB
 * code.
 */
int ssi_zstamps_use(ss_store_txn *t, const char *survey, ssi_squeezer *q);
/**
 * Writer: make @p survey's stamps dictionary from @p len bytes of regrouped FITS stamps at @p d
 * when it has none, and point the store's squeezer at it. @return as ssi_zstamps_use().
 */
int ssi_zstamps_make(ss_store_txn *t, const char *survey, const void *d, size_t len);
/** Decompress @p zlen bytes at @p z, made with stamps dictionary @p number, into @p len bytes at
 * @p out. @return 0, SS_ECORRUPT, SS_ENOMEM or an LMDB code. */
int ssi_zstamps_expand(ss_store_txn *t, uint32_t number, const void *z, size_t zlen, void *out,
                       size_t len);
/** The stamps a cutouts record holds (1, or a packed record's count). @return 0 or SS_ECORRUPT. */
int ssi_cutouts_count(const MDB_val *k, const MDB_val *v, uint64_t *stamps);

/* Format 6's indexes (indexes.c). */
/** Keep loci_newest in step with a locus written with newest MJD @p mjd; @p old is the MJD its
 * previous record had, NULL for a new locus. @return 0 or an LMDB code. */
int ssi_newest_move(ss_store *s, MDB_txn *txn, const char *locus_id, const double *old, double mjd);
/** Fill loci_newest and catalog_loci from loci and locus_matches (an upgrade to format 6).
 * @return 0, SS_ECORRUPT or an LMDB code. */
int ssi_indexes_build(ss_store *s, MDB_txn *txn);

/* The sky index (skyindex.c). */
/** One record of the loci table, its id NUL-terminated. @return 0 to go on. */
typedef int (*ssi_locus_rec_fn)(ss_store *s, MDB_txn *txn, const char *id, const MDB_val *v);
/** Call @p fn with every record of the loci table, in key order (the upgrades' passes).
 * @return 0, SS_ECORRUPT for a key that is no locus id, @p fn's non-zero return, or LMDB's. */
int ssi_loci_walk(ss_store *s, MDB_txn *txn, ssi_locus_rec_fn fn);
/** Zones in a band of sky tiles, for a zone height. */
uint32_t ssi_sky_band_zones(double zone_height_deg);
/** Set s->sky_band_zones from the sky index's keys (their length tells the layout), or from the
 * format when the index is empty. */
int ssi_sky_layout(ss_store *s, MDB_txn *txn);
/** Key the sky index by tile (format 8): emptied and filled again from the loci table. Sets
 * s->sky_band_zones; the upgrade that calls it puts it back when the transaction fails. */
int ssi_sky_rebuild(ss_store *s, MDB_txn *txn);
int ssi_sky_put(ss_store *s, MDB_txn *txn, const char *locus_id, double ra, double dec);
/* Format 15 leaves a locus's entry in the sky index where it is until the locus's mean position has
 * drifted more than this from it: each alert moves the mean a little, and moving the entry
 * rewrote a page of the index per alert, about a sixth of what a commit wrote. A scan widens its
 * cone by as much and takes each candidate's position from its locus record: answers stay exact. */
#define SSI_SKY_SLACK_DEG (0.5 / 3600.0)
/** The position locus @p locus_id's entry in the sky index has: within the sky index's slack of
 * the locus's own (@p ra, @p dec; skyindex.c). @return 0, SS_ENOTFOUND or an LMDB code. */
int ssi_sky_find(ss_store_txn *t, const char *locus_id, double ra, double dec, double at[2]);

/* A packet's measurements of a locus as one locus_alerts entry (group.c, format 16). */
/** The group key: the locus id, eight 0xff bytes (no MJD's bits: a NaN's), the packet number BE;
 * a group sorts after the locus's single entries. @return its length. */
size_t ssi_key_group(unsigned char *k, const char *locus_id, uint64_t packet);
/** 1 when locus_alerts key @p k is a group's. */
int ssi_key_is_group(const MDB_val *k);
/** One member of a group as read, pointing into the group (or the transaction's buffer). */
typedef struct ssi_member {
    const char *survey, *alert_id; /* not NUL-terminated */
    uint32_t slen, idlen;
    double mjd;
    uint32_t index;           /* in its packet (its arrival index) */
    const unsigned char *rec; /* a record of version 7 (record_pack.c), its arrival 0 */
    uint32_t len;
} ssi_member;
/** A group's members, read in turn. */
typedef struct ssi_members {
    ss_rbuf r;
    uint64_t left, n; /* members still to read, and all of them, gone ones too */
    uint64_t live;    /* those not gone */
    ss_rbuf gone;     /* the gone members' indexes still to pass */
    uint64_t next_gone;
    uint64_t packet;
    const char *locus; /* the key's, SS_LOCUS_ID_LEN bytes */
} ssi_members;
/** Start reading group entry @p k, @p v; a compressed one is expanded into @p t's buffer, valid
 * until the next expansion with @p t. @return 0 or SS_ECORRUPT, SS_ENOMEM, an LMDB code. */
int ssi_members_open(ss_store_txn *t, const MDB_val *k, const MDB_val *v, ssi_members *g);
/** The next member. @return 1, 0 after the last, or SS_ECORRUPT. */
int ssi_members_next(ssi_members *g, ssi_member *m);
/** The locus_alerts key a single entry of member @p m would have (buffer of SSI_KEY_MAX bytes),
 * from which its record takes its survey, alert id, locus id and MJD. */
MDB_val ssi_member_key(const ssi_members *g, const ssi_member *m, unsigned char *kb);
/** Member @p m decoded into @p a (added to @p pkt by the caller), its arrival the group's.
 * @return 0, SS_ECORRUPT, SS_ENOMEM or an LMDB code. */
int ssi_member_decode(ss_store_txn *t, const ssi_members *g, const ssi_member *m, ss_packet *pkt,
                      ss_alert *a);
/** Member @p alert_id of @p survey of the group of @p locus_id and @p packet: its record and
 * the key of ssi_member_key() in @p kb. @return 0, SS_ECORRUPT (no such group or member), an
 * LMDB code. */
int ssi_group_lookup(ss_store_txn *t, const char *locus_id, uint64_t packet, const char *survey,
                     const char *alert_id, MDB_val *rec, MDB_val *key, unsigned char *kb);
/** Every member of group entry @p k, @p v added to @p pkt. @return 0 or an error. */
int ssi_group_read(ss_store_txn *t, const MDB_val *k, const MDB_val *v, ss_packet *pkt);
/** List member @p index (its arrival index) of the group of @p locus_id and @p packet as gone,
 * its bytes left as they are (the entry deleted when it was the last): an upgrade moves the
 * member to an entry of its own. @return 0, SS_ECORRUPT (no such group, gone already) or an
 * LMDB code. */
int ssi_group_drop(ss_store_txn *t, const char *locus_id, uint64_t packet, uint32_t index);

/** 1 when measurement @p a is listed under its object in limits (limits.c), not indexed by its id
 * in alerts: an upper limit with an object id, in a store of format 17 on. */
int ssi_limit_listed(const ss_store *s, const ss_alert *a);
/** List limit @p a under its object. @return 0, EEXIST when it is stored already, or an error. */
int ssi_limit_add(ss_store_txn *t, const ss_alert *a);
/** A listed limit (ssi_limit_listed()) found by its id: its locus (SS_LOCUS_ID_LEN + 1 bytes) and
 * the packet of its group. @return 0, SS_ENOTFOUND or an error. */
int ssi_limit_locate(ss_store_txn *t, const char *survey, const char *alert_id, char *locus,
                     uint64_t *packet);
/** Whether an alert is indexed by its id in alerts (ss_store_alert_find() without its look-up of
 * listed limits). */
int ssi_alert_indexed(ss_store_txn *t, const char *survey, const char *alert_id,
                      char locus_id[SS_LOCUS_ID_LEN + 1]);
/** The number of limits an object's list @p v holds, into *@p n. @return 0 or SS_ECORRUPT (not a
 * list of this format). */
int ssi_limits_len(const MDB_val *v, size_t *n);
/** Group entry @p v with its members older than @p cutoff without their survey properties, into
 * t->gbuf; *@p dropped counts the members changed (0: leave the entry). @return 0 or an error. */
int ssi_group_retain(ss_store_txn *t, const MDB_val *k, const MDB_val *v, double cutoff,
                     ss_packet *scratch, uint64_t *dropped);
/** A plain group entry @p v compressed with its survey's group dictionary into t->gbuf, when
 * shorter; *@p done 1 then. @return 0 or an error. */
int ssi_group_repack(ss_store_txn *t, const MDB_val *k, const MDB_val *v, int *done);
/** Append a group's head (version 9, @p n members) to @p b. @return where its members start. */
size_t ssi_group_head(ss_wbuf *b, uint64_t n);
/** Mark the group at @p at of @p b as compressed (its members replaced by ssi_zrec_frame()'s). */
void ssi_group_squeezed(ss_wbuf *b, size_t at);
/** Append member @p a's framing (survey, alert id, MJD, room for the length) to @p b.
 * @return where its record starts, for ssi_member_close() once appended. */
size_t ssi_member_open(ss_wbuf *b, const ss_alert *a);
void ssi_member_close(ss_wbuf *b, size_t at);
/** Version 7 record of member @p a (arrival and history lead 0: the group's) appended to @p b, its
 * names' ids made by writer @p t where new. @return 0, SS_ENOMEM or an LMDB code. */
int ssi_member_pack(ss_store_txn *t, const ss_alert *a, const ss_prop *survey_locus,
                    uint32_t nsurvey_locus, ss_wbuf *b);
/** ssi_member_pack() on any thread, with the names' committed ids only; an origin without one is
 * written inline. @return 1 appended, 0 not (a list of property names no committed transaction
 * made), SS_ENOMEM. */
int ssi_member_early(ss_store *s, const ss_alert *a, const ss_prop *survey_locus,
                     uint32_t nsurvey_locus, ssi_names_memo *memo, ss_wbuf *b);
/** Index @p a's survey object id as locus @p locus_id's (data.c). @return 0 or an LMDB code. */
int ssi_index_object(ss_store_txn *t, const ss_alert *a, const char *locus_id);
/** Count a new alert of @p a's kind. */
void ssi_count_alert(ss_store_counters *c, const ss_alert *a);
/** 1 for a record of version 7: plain, keyed (a group's member is one). */
int ssi_alert_keyed(const void *data, size_t len);
/** The group of item @p index of @p ls: its bytes, and the indexes in their packet of the
 * *@p members alerts it holds (valid until @p ls changes). @return 1 packed, 0 left to the
 * writer, SS_EINVAL. */
int ssi_lists_group_get(const ss_store_lists *ls, uint32_t index, const void **bytes, size_t *len,
                        uint32_t *members, const uint32_t **indexes);
/** Format 16's reference to a group's member (alerts table): as format 9's, of its own version,
 * its arrival and index as varints (SSI_MEMBER_REF_MAX bytes at most); its arrival names the group.
 * @return its length. */
#define SSI_MEMBER_REF_MAX (2 + 8 + SS_UVAR_MAX + 5 + SS_LOCUS_ID_LEN)
size_t ssi_alert_ref_encode2(const ss_store_alert_head *h, int member, unsigned char *out);
/** 1 when alerts table value @p data is a reference to a group's member. */
int ssi_alert_is_member_ref(const void *data, size_t len);
/** ssi_zrec_squeeze() with the dictionary of @p kind ('s' records, 'g' groups). */
int ssi_zrec_squeeze2(ss_store_txn *t, char kind, const char *survey, ss_wbuf *b, size_t at,
                      int *squeezed);
/** Dictionary bytes prepared for compressing groups (NULL: out of memory). */
ZSTD_CDict *ssi_zgroup_cdict_new(const void *dict, size_t len);

#endif
