/**
 * @file publish.h
 * @brief Where everything that leaves the broker is shaped and sent: the JSON of loci and alerts
 * (queries print the same shapes), the one tag event, and the fan-out to every output.
 *
 * Every tag event and watch-list notification leaves through this folder (core/publish/), whichever
 * command runs: `skysieve ingest --publish`, the live broker and its workers alike. Notifications
 * and webhooks are notify.h. Exported names are ss_publish_*; private ones (ssi_) stay inside.
 *
 * JSON values returned are new references owned by the caller (json_decref()); text returned is
 * malloc'd and owned by the caller (free()).
 */
#ifndef SS_PUBLISH_H
#define SS_PUBLISH_H

#include "catalog.h"
#include "output.h"
#include "record.h"
#include "skymap.h"

#include "json_text.h"

#include <jansson.h>

/** The one-line summary of a locus (as `skysieve loci` prints): the keys of
 * ss_publish_summary_keys, then <survey>_object_id for each survey object id. */
json_t *ss_publish_locus_summary(const ss_locus *l);

/** The summary's keys before the object ids, in order (NULL-terminated): CSV columns. */
extern const char *const ss_publish_summary_keys[];

/** The properties of a locus: the broker's own (num_alerts, newest_alert_magnitude, ...), then
 * @p n others (filter outputs, the survey's locus properties; may be 0). */
json_t *ss_publish_locus_properties(const ss_locus *l, const ss_prop *extra, size_t n);

/** An alert: {"alert_id", "survey", "object_id"?, "mjd", "kind", "properties"}, the properties
 * holding the normalised ant_* fields and the survey's fields. */
json_t *ss_publish_alert(const ss_alert *a);

/** A catalog match ({catalog, row, object_id, separation_arcsec, columns}) or a watch-list hit
 * ({list, object, separation_arcsec}). */
json_t *ss_publish_match(const ss_assoc_match *m);

/** Adds what a gravitational-wave alert notice says of its event to @p o: "far",
 * "classification" {BNS, NSBH, BBH, Terrestrial} and "properties" {HasNS, HasRemnant}, each null
 * when the notice did not say (skymap.h). */
void ss_publish_gw_class(json_t *o, const ss_assoc_gw_class *c);

/**
 * The published form of a tag event: {"tag", "filter", "locus": summary, "alert": the trigger}.
 * @return malloc'd text, or NULL when out of memory.
 */
char *ss_publish_tag_event(const char *tag, const char *filter, const ss_locus *l,
                           const ss_alert *trigger);

/* ---- the same shapes written as text (json_text.h's ss_jw), for answers served often ---- */

/** How an alert id is shown (e.g. the HTTP API's "ztf_candidate:ID"), into @p buf; NULL: as
 * stored. */
typedef void (*ss_publish_id_fn)(const char *survey, const char *alert_id, ss_alert_kind kind,
                                 char *buf, size_t cap);

/** The members of ss_publish_locus_summary() written by @p w into an object it has open (the
 * caller may add more and closes it). */
void ss_publish_locus_summary_write(ss_jw *w, const ss_locus *l);

/** ss_publish_locus_properties() as an object value written by @p w. */
void ss_publish_locus_properties_write(ss_jw *w, const ss_locus *l, const ss_prop *extra, size_t n);

/** ss_publish_alert() with @p n more properties (what filters wrote of it) as an object value
 * written by @p w. With @p show, alert_id is shown so and the survey's own id follows as
 * survey_alert_id. */
void ss_publish_alert_write(ss_jw *w, const ss_alert *a, const ss_prop *extra, size_t n,
                            ss_publish_id_fn show);

/* ---- the fan-out: every event to every output ---- */

#define SS_PUBLISH_MAX_OUTPUTS 4

/** The outputs a command publishes to: each event goes to every one. Zero-initialised is empty. */
typedef struct ss_publish_set {
    size_t n;
    const ss_output_ops *ops[SS_PUBLISH_MAX_OUTPUTS];
    void *impl[SS_PUBLISH_MAX_OUTPUTS];
} ss_publish_set;

/** Add an opened output; @p set takes ownership of @p impl (closed here when the set is full).
 * @return 0, or SS_EINVAL when full. */
int ss_publish_set_add(ss_publish_set *set, const ss_output_ops *ops, void *impl, ss_err *err);

/** Open the output serving @p address (nanomsg: ipc://..., tcp://...) and add it.
 * @return 0, or an error when no output serves the address or it cannot be opened. */
int ss_publish_set_open(ss_publish_set *set, const char *address, ss_err *err);

/**
 * Publish @p len bytes under @p topic (a tag, or watch.LIST) with @p key (the locus id, or NULL)
 * to every output; every output is tried even when one fails. Never blocks.
 * @return 0 or the first error (the caller logs it: the store keeps every tag regardless).
 */
int ss_publish_send(ss_publish_set *set, const char *topic, const char *key, const void *msg,
                    size_t len, ss_err *err);

/** Ops whose impl is an ss_publish_set: one stream for the notifier. */
extern const ss_output_ops ss_publish_set_ops;

/** Serve every output's delivery reports. */
void ss_publish_set_poll(ss_publish_set *set);

/** Close every output and empty @p set. */
void ss_publish_set_close(ss_publish_set *set);

#endif
