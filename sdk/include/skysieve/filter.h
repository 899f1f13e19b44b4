/**
 * @file filter.h
 * @brief The skysieve filter ABI: what a C filter (a shared object loaded with dlopen) exports and
 * what the broker offers it.
 *
 * A filter exports one function, skysieve_filter(), returning a descriptor. The descriptor starts
 * with a magic, its own size and the ABI version it was built against; those fields come first and
 * never move, so the broker can check them before reading anything else. The broker refuses a
 * filter built against another major version, or one whose descriptor is damaged (wrong magic, a
 * size smaller than version 1.0's), and loads filters built against an older minor version: a minor
 * version only adds fields at the end of the descriptor or of the host table.
 *
 * The broker calls setup() once when the filter set is loaded, run() once per updated locus, and
 * teardown() once when the set is retired. run() reads the locus through the host table (values are
 * served on demand; nothing is copied per filter) and may write only what the descriptor declares:
 * an undeclared property or tag, or a value of the wrong type, fails the run, and nothing the run
 * wrote is kept.
 *
 * What run() sees is the locus as of its trigger, whichever way the night came in (one alert at
 * a time, a spool file of thousands, a backlog after a restart): the measurements stored before or
 * with the trigger's packet (in the order the store received them, not by observation time), never
 * a later one; the broker's locus properties (num_alerts, newest_*, brightest_*, the per-band
 * counts, the position) as they were right after that packet; the survey's own locus properties
 * (Rubin's diaObject) as that packet left them; the filter-written properties and tags as they
 * stood after the locus's previous dispatch; the catalog and watch-list matches; and the
 * gravitational-wave events whose maps are stored when it runs (a map that comes in an alert
 * notice later reaches the loci already in its region by dispatching them again). Every read of
 * the host table obeys it: alert_count(), alert(), alert_property(), lightcurve(), light_curve(),
 * locus_property(), passbands(), tags. So the same night gives the same answers in
 * `skysieve ingest --filters`, `skysieve replay` and the live broker. Stores written before 0.2
 * did not number packets: their measurements are all visible.
 *
 * Memory: every pointer the host hands out (strings, arrays, ss_value strings) is owned by the host
 * and valid until run() returns, unless said otherwise. Every pointer in the descriptor is owned by
 * the filter and must stay valid until teardown() returns (static storage is the usual choice).
 *
 * Threads: the host never calls run() on one filter state from two threads at once.
 *
 * ABI change log (append only):
 *  - 1.0: first version.
 *  - 1.1: ss_host_api.light_curve(): every measurement of the locus (detections, upper limits and
 *         forced photometry) merged in time order, with fluxes in nJy; ss_lc_point.
 *  - 1.2: catalogs and watch lists are served (catalog_match_count(), catalog_match() and
 *         watch_lists() no longer answer empty); ss_host_api.catalog_match_row(),
 *         .catalog_match_columns() and .catalog_match_column(): the matched row's number and
 *         values; .watch_objects() and ss_watch_object: which watched objects the locus is near.
 *  - 1.3: gravitational-wave events: ss_host_api.gw_event_count() and .gw_event(), ss_gw_event:
 *         the events whose credible region holds the locus (skysieve gw load).
 */
#ifndef SKYSIEVE_FILTER_H
#define SKYSIEVE_FILTER_H

#include <skysieve/skysieve.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_FILTER_MAGIC     0x53534649u /* "SSFI" */
#define SS_FILTER_ABI_MAJOR 1
#define SS_FILTER_ABI_MINOR 3

/** A locus being filtered. Opaque; valid during run() only. */
typedef struct ss_locus_view ss_locus_view;

/** Index meaning "the alert that triggered this run" in ss_host_api.alert() and .alert_property().
 */
#define SS_TRIGGER ((size_t)-1)

/** An output property: name, type (not SS_TYPE_NULL) and a description for reviewers. */
typedef struct ss_property_decl {
    const char *name;
    ss_type type;
    const char *description;
} ss_property_decl;

/** An output tag: name and description. */
typedef struct ss_tag_decl {
    const char *name;
    const char *description;
} ss_tag_decl;

/**
 * One item of setup data from the filter set configuration: a key and a value, or a key and the
 * contents of a file (path set). Owned by the host, valid during setup() only.
 */
typedef struct ss_setup_item {
    const char *key;
    const char *value; /**< NUL-terminated; for a file, its whole contents */
    size_t value_len;
    const char *path; /**< the file's path, or NULL for a plain key = value */
} ss_setup_item;

/** The normalised fields of an alert. Strings owned by the host. */
typedef struct ss_alert_info {
    const char *survey;
    const char *alert_id;
    const char *passband;
    double mjd;
    double ra, dec;     /**< NAN for an alert without a position */
    double mag, magerr; /**< NAN for an upper limit */
    double maglim;      /**< NAN when unknown */
    int upper_limit;    /**< 1 for a non-detection */
} ss_alert_info;

/** A light curve in one passband, in time order. Arrays owned by the host. */
typedef struct ss_lightcurve {
    size_t n;
    const double *mjd;
    const double *mag;    /**< magnitudes; for upper limits the limiting magnitudes */
    const double *magerr; /**< NAN for upper limits */
} ss_lightcurve;

/** Kinds of light-curve points, combined as a mask in ss_host_api.light_curve(). */
#define SS_POINT_DETECTION   1u /**< an alert: a source detected in the difference image */
#define SS_POINT_UPPER_LIMIT 2u /**< an alert's non-detection: only a limiting magnitude */
#define SS_POINT_FORCED      4u /**< forced photometry (ZTF fp_hists, Rubin diaForcedSources) */
#define SS_POINT_ALL         7u

/**
 * One measurement of a locus (1.1). Forced photometry is measured at the locus whether or not a
 * source was detected, so its flux may be negative or insignificant. Strings owned by the host.
 */
typedef struct ss_lc_point {
    double mjd;
    double mag, magerr;   /**< NAN for upper limits and for forced fluxes at or below zero */
    double maglim;        /**< limiting magnitude, NAN when unknown */
    double flux, fluxerr; /**< difference flux in nJy, sign kept; NAN for upper limits. For
                               a detection whose survey gives no flux, derived from mag */
    const char *passband;
    const char *survey;
    const char *alert_id;
    unsigned kind; /**< SS_POINT_DETECTION, SS_POINT_UPPER_LIMIT or SS_POINT_FORCED */
} ss_lc_point;

/**
 * A catalog row matching the locus: the locus lies within the row's radius. Strings owned by the
 * host. A locus keeps at most 100 matches per catalog, the nearest.
 */
typedef struct ss_catalog_match {
    const char *catalog;
    const char *object_id; /**< the row's id column as text, or its row number */
    double separation_arcsec;
} ss_catalog_match;

/** A watched object the locus is within the radius of (1.2). Strings owned by the host. */
typedef struct ss_watch_object {
    const char *list;   /**< the watch list's name */
    const char *object; /**< the object's name in the list */
    double separation_arcsec;
} ss_watch_object;

/**
 * A gravitational-wave event the locus is in (1.3): its position lies inside the event's 90%
 * credible region and a detection the run sees falls from 1 day before to 14 days after the
 * merger (an event whose map has no merger time needs no detection window). Strings owned by the
 * host.
 */
typedef struct ss_gw_event {
    const char *id;             /**< e.g. "S190425z" */
    double merger_mjd;          /**< NAN when the map gives none */
    double credible_level;      /**< 0..0.9: the smallest credible region holding the locus */
    double probdensity;         /**< sr^-1, of the locus's pixel */
    double dist_mean, dist_std; /**< Mpc along the locus's line of sight; NAN without distances */
    double days_since_merger;   /**< the newest such detection minus the merger (may be < 0) */
    /* what the alert notice said; NAN when unknown (a map loaded from a file) */
    double far;                                 /**< false-alarm rate, Hz */
    double p_bns, p_nsbh, p_bbh, p_terrestrial; /**< classification */
    double has_ns, has_remnant; /**< probabilities of a neutron star, of matter outside */
} ss_gw_event;

/**
 * What the host offers a filter. Filled by the host; append only: a filter built against an older
 * minor version simply does not know of the functions added since.
 */
typedef struct ss_host_api {
    uint32_t size; /**< sizeof(ss_host_api) in the host */
    uint16_t abi_major, abi_minor;

    /* ---- 1.0: reading ---- */
    /** The locus id, e.g. "SKS2023067m9s54t29s". */
    const char *(*locus_id)(ss_locus_view *l);
    /** The locus position in degrees. */
    double (*locus_ra)(ss_locus_view *l);
    double (*locus_dec)(ss_locus_view *l);
    /**
     * A locus property: the broker's own (num_alerts, newest_alert_magnitude, ...) or one written
     * by an earlier filter. @return 0, or SS_ENOTFOUND (then *out is SS_TYPE_NULL).
     */
    int (*locus_property)(ss_locus_view *l, const char *name, ss_value *out);
    /** Number of alerts of the locus (detections and upper limits). */
    size_t (*alert_count)(ss_locus_view *l);
    /**
     * Alert @p i in time order (0 is the oldest), or SS_TRIGGER.
     * @return 0, or SS_ENOTFOUND when @p i is out of range.
     */
    int (*alert)(ss_locus_view *l, size_t i, ss_alert_info *out);
    /**
     * A property of alert @p i (or SS_TRIGGER): a survey field, a normalised ant_* field, or one
     * written by an earlier filter. @return 0 or SS_ENOTFOUND.
     */
    int (*alert_property)(ss_locus_view *l, size_t i, const char *name, ss_value *out);
    /**
     * The light curve in @p passband: detections, or upper limits when @p upper_limits is 1.
     * @return 0 (n may be 0).
     */
    int (*lightcurve)(ss_locus_view *l, const char *passband, int upper_limits, ss_lightcurve *out);
    /** The locus's passbands: writes up to @p max names to @p out. @return how many there are. */
    size_t (*passbands)(ss_locus_view *l, const char **out, size_t max);
    /** 1 when the locus carries @p tag (set by an earlier filter or an earlier run). */
    int (*has_tag)(ss_locus_view *l, const char *tag);
    /** The locus's tags: writes up to @p max to @p out. @return how many there are. */
    size_t (*tags)(ss_locus_view *l, const char **out, size_t max);
    /** Catalog matches (watch lists apart): @return their number, by catalog then separation;
     * match @p i via catalog_match() (0, or SS_ENOTFOUND when @p i is out of range). */
    size_t (*catalog_match_count)(ss_locus_view *l);
    int (*catalog_match)(ss_locus_view *l, size_t i, ss_catalog_match *out);
    /** Watch lists the locus is on: writes up to @p max names. @return how many there are. */
    size_t (*watch_lists)(ss_locus_view *l, const char **out, size_t max);

    /* ---- 1.0: writing (declared outputs only) ---- */
    /**
     * Set a declared locus property. Strings are copied.
     * @return 0; SS_EUNDECLARED (not in output_locus_properties) or SS_ETYPE (the declared type
     *         differs; an int is accepted for a float). Either fails the run.
     */
    int (*set_locus_property)(ss_locus_view *l, const char *name, ss_value v);
    /** Set a declared property of the triggering alert. Returns as set_locus_property(). */
    int (*set_alert_property)(ss_locus_view *l, const char *name, ss_value v);
    /** Add a declared tag. @return 0 or SS_EUNDECLARED (fails the run). */
    int (*add_tag)(ss_locus_view *l, const char *tag);
    /** Stop the pipeline for this locus after this filter: later filters do not run. */
    void (*halt)(ss_locus_view *l);
    /**
     * Fail this run with a message (copied) that the broker reports with the filter's failures.
     * @return SS_EFILTER, for `return host->fail(l, "...")`.
     */
    int (*fail)(ss_locus_view *l, const char *message);
    /** ss_strerror(). */
    const char *(*strerror)(int code);

    /* ---- 1.1 ---- */
    /**
     * The locus's light curve: its measurements of the kinds in @p kinds (SS_POINT_* mask) in
     * @p passband (NULL: every passband), in time order, each once however many alerts repeated
     * it in their history. Check host->size (or abi_minor) before calling from a filter that
     * also runs on 1.0 hosts.
     * @param[out] points an array owned by the host, valid until run() returns.
     * @return 0, or SS_ENOMEM (then *n is 0).
     */
    int (*light_curve)(ss_locus_view *l, const char *passband, unsigned kinds,
                       const ss_lc_point **points, size_t *n);

    /* ---- 1.2 (check host->abi_minor >= 2, or host->size, before calling) ---- */
    /** The row number of catalog match @p i: its 1-based position among the catalog file's data
     * rows. @return 0 when @p i is out of range. */
    uint64_t (*catalog_match_row)(ss_locus_view *l, size_t i);
    /** The column names of match @p i's catalog: writes up to @p max. @return how many there are
     * (0 when @p i is out of range). */
    size_t (*catalog_match_columns)(ss_locus_view *l, size_t i, const char **out, size_t max);
    /**
     * A column of match @p i's row, typed as loaded (FITS: the column's type; CSV: int, float or
     * string per value; empty cells are SS_TYPE_NULL).
     * @return 0, or SS_ENOTFOUND (no such match or column; then *out is SS_TYPE_NULL).
     */
    int (*catalog_match_column)(ss_locus_view *l, size_t i, const char *name, ss_value *out);
    /** The watched objects the locus is within the radius of: writes up to @p max.
     * @return how many there are. */
    size_t (*watch_objects)(ss_locus_view *l, ss_watch_object *out, size_t max);

    /* ---- 1.3 (check host->abi_minor >= 3, or host->size, before calling) ---- */
    /** How many gravitational-wave events the locus is in (ss_gw_event), by event id. */
    size_t (*gw_event_count)(ss_locus_view *l);
    /** Event @p i (0 .. count - 1). @return 0, or SS_ENOTFOUND when @p i is out of range. */
    int (*gw_event)(ss_locus_view *l, size_t i, ss_gw_event *out);
} ss_host_api;

/** The descriptor a filter returns. See the file comment for the rules. */
typedef struct ss_filter_descriptor {
    /* These four never move (they protect the rest). */
    uint32_t magic;     /**< SS_FILTER_MAGIC */
    uint32_t size;      /**< sizeof(ss_filter_descriptor) as the filter was built */
    uint16_t abi_major; /**< SS_FILTER_ABI_MAJOR */
    uint16_t abi_minor; /**< SS_FILTER_ABI_MINOR */

    /* ---- 1.0 ---- */
    const char *name;        /**< unique in a filter set: letters, digits, '_', '-', '.' */
    const char *version;     /**< e.g. "1.2.0" */
    const char *description; /**< what it finds, for reviewers */
    const char *author;      /**< who to tell when it fails, e.g. an e-mail address */
    const char *const *required_locus_properties; /**< NULL-terminated; may be NULL */
    const char *const *required_alert_properties; /**< of the triggering alert; NULL-terminated */
    const char *const *required_tags;             /**< NULL-terminated; may be NULL */
    const ss_property_decl *output_locus_properties; /**< ends with {NULL}; may be NULL */
    const ss_property_decl *output_alert_properties; /**< ends with {NULL}; may be NULL */
    const ss_tag_decl *output_tags;                  /**< ends with {NULL}; may be NULL */
    /**
     * Called once when the set is loaded; may be NULL. @p host stays valid until teardown().
     * @param[out] state the filter's state, passed to run() and teardown().
     * @return 0, or a non-zero code: the set is then refused (with host->strerror(code)).
     */
    int (*setup)(const ss_host_api *host, const ss_setup_item *items, size_t n, void **state);
    /**
     * Called once per updated locus whose requirements are met.
     * @return 0, or non-zero to fail the run (nothing it wrote is kept); see ss_host_api.fail().
     */
    int (*run)(const ss_host_api *host, void *state, ss_locus_view *locus);
    /** Called once when the set is retired; may be NULL. */
    void (*teardown)(void *state);
} ss_filter_descriptor;

/** The name of the one symbol a filter exports. */
#define SS_FILTER_ENTRY_SYMBOL "skysieve_filter"

/** The one function a filter exports. @return its descriptor, owned by the filter. */
const ss_filter_descriptor *skysieve_filter(void);

/** Initialise a descriptor's version fields: `static ss_filter_descriptor d = { SS_FILTER_HEADER,
 * ...`. */
#define SS_FILTER_HEADER                                                                           \
    SS_FILTER_MAGIC, sizeof(ss_filter_descriptor), SS_FILTER_ABI_MAJOR, SS_FILTER_ABI_MINOR

#ifdef __cplusplus
}
#endif
#endif /* SKYSIEVE_FILTER_H */
