/* Internal to the simulator: what simulate.c, simulate_lc.c and simulate_avro.c share. */
#ifndef SS_SIMULATE_IMPL_H
#define SS_SIMULATE_IMPL_H

#include "simulate.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Bands a light-curve file may have. */
#define SSI_LC_MAX_BANDS 16

/** One band of a light-curve file: times in days from the file's start, strictly increasing once
 * read (rows are sorted, and rows at one time averaged);
 * values (magnitudes or fluxes) and errors (NULL when the file gives none). Owned by its ssi_lc. */
typedef struct ssi_series {
    size_t n, cap;
    double *t, *v, *e;
} ssi_series;

/** A light-curve file, read whole. Owned by whoever read it (the ss_sim once added). */
typedef struct ssi_lc {
    char *path;
    ss_sim_model model; /**< SS_SIM_LIGHTCURVE: magnitudes; SS_SIM_SNANA: fluxes and errors */
    size_t nbands;      /**< in order of first appearance */
    char band[SSI_LC_MAX_BANDS][SS_PASSBAND_MAX + 1];
    ssi_series series[SSI_LC_MAX_BANDS];
} ssi_lc;

/**
 * Read a CSV light curve or an SNANA .DAT file (ss_sim_add_lightcurve(), ss_sim_add_snana()).
 * @param[out] out the light curve, owned by the caller (ssi_lc_free()).
 * @return 0, or SS_EPARSE / an errno code / SS_ENOMEM with @p err naming the file and line.
 */
int ssi_lc_read_csv(const char *path, ssi_lc **out, ss_err *err);
int ssi_lc_read_snana(const char *path, ssi_lc **out, ss_err *err);

/** The index of band @p name in @p lc, or -1. */
int ssi_lc_band(const ssi_lc *lc, const char *name);

/**
 * The file's value in band @p band at time @p t (days from the file's start), in its own unit
 * (magnitudes; SNANA: fluxes): linear interpolation between the neighbouring rows, the first or
 * last value outside them. Fluxes are interpolated as fluxes: SNANA's go through zero and below.
 * @param[out] error the interpolated error, NAN when the file has none.
 */
void ssi_lc_sample(const ssi_lc *lc, size_t band, double t, double *value, double *error);

/** Free a light curve; NULL is fine. */
void ssi_lc_free(ssi_lc *lc);

/** Is @p s a usable passband name (1 to SS_PASSBAND_MAX letters, digits, '_' or '-')? */
int ssi_band_ok(const char *s, size_t len);

/** One alert as the writers see it. */
typedef struct ssi_alert {
    uint64_t alert_id;
    uint64_t source;   /**< 0-based; the object id is SIM followed by source + 1 */
    uint64_t exposure; /**< 1-based: epoch, visit and passband slot (ZTF's pid) */
    const char *band, *model;
    double mjd, ra, dec, mag, magerr, maglim, true_mag;
} ssi_alert;

/** Write the object id of source @p source ("SIM00000042") into @p buf. */
void ssi_object_id(char buf[32], uint64_t source);

/** 2.5 / ln 10: a flux's relative error as a magnitude error. */
#define SSI_MAGERR_PER_RELFLUX 1.0857362047581294

/** ZTF's filter id of a passband: 1 g, 2 r, 3 i; 0 for any other. */
int ssi_ztf_fid(const char *band);

/** A simulated stamp's side in pixels (ZTF's). */
#define SSI_STAMP_SIDE 63
/** A stamp's FITS bytes: a header record, then 63 x 63 float32 padded to whole records. */
#define SSI_STAMP_FITS_BYTES (2880 + 6 * 2880)
/** The most bytes one gzip-compressed stamp takes: deflate's worst case (stored blocks) and
 * gzip's header and trailer, with room to spare. */
#define SSI_STAMP_GZ_MAX (SSI_STAMP_FITS_BYTES + SSI_STAMP_FITS_BYTES / 64 + 64)

/** The three stamps of one alert being drawn, reused from alert to alert (simulate_stamp.c). */
typedef struct ssi_stamps ssi_stamps;

/** Stamps whose noise streams derive from @p seed. @param[out] out owned by the caller
 * (ssi_stamps_free()). @return 0 or SS_ENOMEM. */
int ssi_stamps_new(uint64_t seed, ssi_stamps **out);
/** Draw alert @p a's science, template and difference stamps as gzip FITS. @return 0 or an error.
 */
int ssi_stamps_draw(ssi_stamps *st, const ssi_alert *a, ss_err *err);
/** The last drawn stamp of @p kind: bytes owned by @p st, valid until the next draw. */
const unsigned char *ssi_stamp_bytes(const ssi_stamps *st, ss_cutout_kind kind, size_t *len);
void ssi_stamps_free(ssi_stamps *st);

/** A ZTF-like Avro container being written. */
typedef struct ssi_avro ssi_avro;

/**
 * Start a container on @p f: header, schema and a sync marker drawn from @p seed (avro-c's own
 * file writer seeds rand() with the time, so its files differ from run to run); every record
 * carries its three stamps when @p stamps, none (null) otherwise.
 * @param[out] out the writer, owned by the caller until ssi_avro_close().
 * @return 0, or an error with @p err naming @p name.
 */
int ssi_avro_open(FILE *f, const char *name, uint64_t seed, int stamps, ssi_avro **out,
                  ss_err *err);
/** Append one alert record. @return 0, or an error with @p err naming the output. */
int ssi_avro_put(ssi_avro *w, const ssi_alert *a, ss_err *err);
/** Messages: end the container on the current stream (its last block). @return 0 or an error. */
int ssi_avro_end(ssi_avro *w, ss_err *err);
/** Messages: start another container on @p f, with the same schema and sync marker. */
void ssi_avro_begin(ssi_avro *w, FILE *f);
/** Write the last block (unless @p failed) and free the writer. @return 0 or an error. */
int ssi_avro_close(ssi_avro *w, int failed, ss_err *err);

#endif
