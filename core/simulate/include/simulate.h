/**
 * @file simulate.h
 * @brief A simulated survey (`skysieve simulate`): light-curve models sampled at the ANTARES
 * streaming tutorial's cadence, with noise and scattered positions, written as alerts.
 *
 * The cadence: epoch k (0..epochs-1) is night_gap * k days after start_mjd; each epoch has two
 * visits visit_gap apart, and each visit observes the passbands band_gap apart. Every source is
 * observed at the same times (one field, one pointing), so the alerts of one exposure share an MJD.
 *
 * The sources: built-in models (constant, periodic, transient, jump) with parameters drawn from a
 * seeded generator within the ranges documented in README.md, and light-curve files (CSV of time
 * and one magnitude column per band; SNANA .DAT text of MJD, band, flux, flux error), one source
 * each, sampled by linear interpolation per band.
 *
 * An observation's magnitude is the model's plus a normal error of the model's magerr (a file's
 * own errors, else the LSST error model against the limiting magnitude); an observation fainter
 * than the limit gives no alert. Each source draws from its own random stream (ss_rng_seed(seed,
 * source index)), so the same options give the same bytes, and one source's alerts do not depend
 * on how many others there are.
 *
 * Ownership: ss_sim_new() returns a handle the caller frees with ss_sim_free(); it owns every light
 * curve added to it. Nothing here keeps global state.
 *
 * This folder (core/simulate/) exports ss_sim_* (the stage's short prefix); its private names
 * (ssi_) stay inside it.
 */
#ifndef SS_SIMULATE_H
#define SS_SIMULATE_H

#include "alert.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Passbands one visit observes, at most. */
#define SS_SIM_MAX_BANDS 6
/** The zero point of SNANA's FLUXCAL: mag = 27.5 - 2.5 log10(flux). */
#define SS_SIM_SNANA_ZEROPOINT 27.5

/** Where a source's light curve comes from. The built-in ones come first. */
typedef enum ss_sim_model {
    SS_SIM_CONSTANT,
    SS_SIM_PERIODIC,
    SS_SIM_TRANSIENT,
    SS_SIM_JUMP,
    SS_SIM_NBUILTIN,
    SS_SIM_LIGHTCURVE = SS_SIM_NBUILTIN, /**< a CSV light-curve file */
    SS_SIM_SNANA,                        /**< an SNANA .DAT file */
    SS_SIM_NMODELS
} ss_sim_model;

/** The model's name ("constant", ..., "lightcurve", "snana"), a static string. */
const char *ss_sim_model_name(ss_sim_model m);
/** A built-in model by name. @return the model, or -1 when @p name is none. */
int ss_sim_model_find(const char *name);

typedef enum ss_sim_format { SS_SIM_CSV, SS_SIM_JSONL, SS_SIM_AVRO } ss_sim_format;

/** "csv", "jsonl" or "avro". */
const char *ss_sim_format_name(ss_sim_format f);
/** A format by name. @return the format, or -1. */
int ss_sim_format_find(const char *name);
/** The format a path's extension names (.csv, .jsonl, .avro); csv for anything else or NULL. */
ss_sim_format ss_sim_format_of_path(const char *path);

/** What to simulate. ss_sim_options_default() fills in the documented defaults. */
typedef struct ss_sim_options {
    uint64_t seed;
    uint32_t epochs;
    double start_mjd;
    double night_gap, visit_gap, band_gap; /**< days */
    /** Passbands of every visit. 0 bands: g and r for built-in models, a file's first two bands
     * for a file. */
    size_t nbands;
    char bands[SS_SIM_MAX_BANDS][SS_PASSBAND_MAX + 1];
    double limit;                             /**< 5-sigma limiting magnitude */
    double scatter_arcsec;                    /**< 1-sigma position error per axis */
    double field_ra, field_dec, field_radius; /**< degrees: sources are uniform in this cap */
    uint64_t count[SS_SIM_NBUILTIN];          /**< built-in sources per model */
    double jump_mag;                          /**< how much brighter a jump source gets */
    uint32_t jump_epoch;                      /**< the first epoch after the jump */
    double lc_start; /**< the light-curve files' time (days) at the survey's start */
    ss_sim_format format;
    /** 1: Avro alerts carry ZTF's three image stamps (gzip FITS, 63 x 63, a TAN WCS north up
     * at the alert's position, noise from the seed); 0 (ss_sim_options_default()): none, which
     * is smaller and faster. CSV and JSON lines never carry stamps. */
    int stamps;
} ss_sim_options;

/** The defaults: seed 1, 10 epochs from MJD 60000.1, 2 d / 1 h / 10 min, limit 24.5, scatter 1",
 * field (150.1, 2.2) radius 1 deg, the default population, jump 3.5 mag at epoch 5, csv. */
void ss_sim_options_default(ss_sim_options *o);

/** The default population (100 constant, 20 periodic, 5 transient, 1 jump) into @p count. */
void ss_sim_default_counts(uint64_t count[SS_SIM_NBUILTIN]);

/**
 * Scale a mix of built-in models to @p total sources, keeping its proportions (largest
 * remainders), and at least one of every model the mix has when @p total allows.
 * @return 0, or -1 when the mix is empty.
 */
int ss_sim_scale_counts(uint64_t count[SS_SIM_NBUILTIN], uint64_t total);

/**
 * Check options for consistency: ranges, visits that fit in a night, a jump epoch inside the
 * survey, Avro's passbands.
 * @return 0, or SS_EINVAL with @p err saying which option is wrong and why (in the command
 * line's words: a usage error).
 */
int ss_sim_options_check(const ss_sim_options *o, ss_err *err);

/**
 * The LSST photometric error (Ivezic et al. 2019, eq. 4-5) of a magnitude @p mag against a 5-sigma
 * limit @p limit: sqrt(0.005^2 + 0.001 x + 0.039 x^2) with x = 10^(0.4 (mag - limit)).
 */
double ss_sim_magerr(double mag, double limit);

typedef struct ss_sim ss_sim;

/**
 * A survey with the options @p o (copied; check them first with ss_sim_options_check()).
 * @return the handle, owned by the caller (ss_sim_free()), or NULL when memory runs out.
 */
ss_sim *ss_sim_new(const ss_sim_options *o);

/**
 * Add a CSV light-curve file as one source: a header line (an optional '#', then the time
 * column's name and one band name per column), then rows of time in days and magnitudes; an empty
 * cell is no measurement in that band. Rows may come in any order: each band is sorted by time,
 * and rows at the same time are averaged.
 * @return 0, or an error with @p err naming the file, the line and the reason (SS_EPARSE for a
 *         malformed file, an errno code when it cannot be read).
 */
int ss_sim_add_lightcurve(ss_sim *s, const char *path, ss_err *err);

/**
 * Add SNANA .DAT files as sources: @p path itself, or every *.dat (any case) file of the directory
 * @p path in name order. A file has '#key:value' (or 'KEY: value') header lines, a column header
 * naming the time (t or mjd), band (pb, band, flt or filter), flux (flux or fluxcal) and error
 * (dflux, fluxerr or fluxcalerr) columns, and a row per observation; times count from the first
 * row.
 * @return 0, or an error with @p err naming the file, the line and the reason.
 */
int ss_sim_add_snana(ss_sim *s, const char *path, ss_err *err);

/**
 * Draw the population: the built-in sources, then the files in the order they were added, with
 * their positions and parameters. Call once, after the last file was added.
 * @return 0; SS_EINVAL when a file lacks a passband the survey observes or an Avro survey would
 *         need a passband ZTF has no filter id for (@p err names the file); SS_ENOMEM.
 */
int ss_sim_prepare(ss_sim *s, ss_err *err);

/** Counts of a written survey. */
typedef struct ss_sim_totals {
    uint64_t sources;
    uint64_t by_model[SS_SIM_NMODELS]; /**< sources per model */
    uint64_t observations;             /**< source x exposure */
    uint64_t alerts;                   /**< observations detected: written */
    uint64_t below_limit;              /**< observed fainter than the limit: no alert */
    uint64_t no_flux;                  /**< no flux at all (before a transient's explosion, a
                                            file's flux at or below zero): no alert */
} ss_sim_totals;

/**
 * Write the survey's alerts in observation-time order to @p f in the options' format. Call once:
 * the observations draw from the sources' random streams.
 * @param name the output's name for messages. @param[out] t the counts; may be NULL.
 * @return 0, or an error with @p err naming @p name (a write failed) or saying what failed.
 */
int ss_sim_write(ss_sim *s, FILE *f, const char *name, ss_sim_totals *t, ss_err *err);

/**
 * Receives one message of ss_sim_write_messages(): @p len bytes at @p msg, valid during the call,
 * holding @p alerts alerts, the first with alert id @p first_id (ids grow through the survey).
 * @return 0 to go on; nonzero stops the survey with that code (the sink sets @p err to say why).
 */
typedef int (*ss_sim_sink)(void *ctx, const void *msg, size_t len, unsigned alerts,
                           uint64_t first_id, ss_err *err);

/**
 * The same alerts as ss_sim_write(), cut into messages of @p per_message alerts (the last may
 * hold fewer), each a whole input of the options' format, as a survey's stream carries them: an
 * Avro container (ZTF's Kafka messages are one container of one alert), or CSV with its header,
 * or JSON lines. Call once, instead of ss_sim_write().
 * @param[out] t the counts; may be NULL.
 * @return 0, what @p sink returned, or SS_ENOMEM / an encoding error with @p err saying why.
 */
int ss_sim_write_messages(ss_sim *s, unsigned per_message, ss_sim_sink sink, void *ctx,
                          ss_sim_totals *t, ss_err *err);

/**
 * Write the truth: one JSON line per source with its object id, model, position, passbands and
 * parameters (for a jump source the epoch and MJD of the jump and the MJD of its first brighter
 * observation; for a file its path).
 * @return 0, or an error with @p err naming @p name.
 */
int ss_sim_write_truth(const ss_sim *s, FILE *f, const char *name, ss_err *err);

/** Free the survey and its light curves. @p s may be NULL. */
void ss_sim_free(ss_sim *s);

#endif
