/**
 * @file draw.h
 * @brief Pictures of the store for people without a notebook: light curves (SVG or PNG) and image
 * stamps (PNG).
 *
 * A light curve is magnitude (y inverted: brighter up) or signed difference flux in nJy against
 * MJD: one colour and marker per passband (Rubin's colours for u g r i z y, ALeRCE's for ZTF g r i,
 * distinct fallbacks for any other band), error bars, upper limits as downward triangles at the
 * limiting magnitude (its flux in flux mode), forced photometry as open markers, the locus's tags
 * as dashed vertical lines at the MJD they were set, and a legend. It is drawn with cairo: an SVG
 * surface gives SVG text, an image surface PNG bytes.
 *
 * A stamp is the survey's FITS (gzip-compressed for ZTF, plain multi-HDU for Rubin) read from
 * memory with cfitsio: the first HDU holding a 2-D image, stretched (zscale or asinh) to an 8-bit
 * grayscale PNG, turned by quarter turns and flips so that north is up and east left as far as
 * its WCS allows, and scaled. Damaged bytes give SS_EFORMAT, never a crash.
 *
 * Every function writes its picture into an ss_wbuf the caller owns (appended; ss_wbuf_free());
 * on an error the buffer may hold a partial picture, to be thrown away. Errors are 0, SS_E* codes
 * or store codes, with a message in @p err (which may be NULL).
 *
 * This folder (core/draw/) sits above the queries it reads with and below serve and the command
 * line; it exports ss_draw_*, and its private names (ssi_) stay inside it.
 */
#ifndef SS_DRAW_H
#define SS_DRAW_H

#include "alert.h"
#include "buf.h"
#include "store.h"

#include <stddef.h>

/** Picture formats. */
typedef enum ss_draw_format {
    SS_DRAW_SVG = 0,
    SS_DRAW_PNG = 1,
} ss_draw_format;

/** Picture sides are within these bounds (pixels; SVG points). */
#define SS_DRAW_MIN_SIDE 120
#define SS_DRAW_MAX_SIDE 4000
/** A light curve's size when the options give none. */
#define SS_DRAW_LC_WIDTH  600
#define SS_DRAW_LC_HEIGHT 400
/** Passbands one light curve tells apart (a (survey, band) pair is one); others are not drawn. */
#define SS_DRAW_MAX_BANDS 24

/** What a light curve shows. Zeroed: magnitudes of every band, now, 600 x 400 SVG. */
typedef struct ss_draw_lc_options {
    ss_draw_format format;
    int width, height; /**< 0: SS_DRAW_LC_WIDTH x SS_DRAW_LC_HEIGHT */
    int flux;          /**< 1: signed difference flux in nJy; 0: magnitudes */
    /** An alert id (the survey's) of the locus: the light curve a filter saw when running for it,
     * as ss_query_locus()'s as_of (measurements stored before or with its packet, tags set by
     * earlier packets), the alert marked. NULL: as it is now. */
    const char *as_of;
    const char *bands; /**< comma-separated passbands to draw ("g,r"); NULL: all */
} ss_draw_lc_options;

/** A vertical line across the plot at @p mjd: a tag (gray, dashed) or the as_of alert (orange). */
typedef struct ss_draw_mark {
    const char *label; /**< written beside the line (borrowed); NULL: none */
    double mjd;
    int highlight; /**< 1: the as_of alert's line */
} ss_draw_mark;

/** One band of a drawn light curve. */
typedef struct ss_draw_band {
    char name[SS_SURVEY_MAX + SS_PASSBAND_MAX + 2]; /**< "g", or "ztf g" when surveys share it */
    unsigned rgb;                                   /**< its colour, 0xRRGGBB */
    size_t points;                                  /**< markers drawn in it */
} ss_draw_band;

/** What a light curve picture holds, for tests and for callers that annotate it. */
typedef struct ss_draw_lc_info {
    double plot_x0, plot_y0, plot_x1, plot_y1; /**< the plot area, pixels from the top left */
    double x_min, x_max;                       /**< MJD at the plot's left and right edges */
    double y_bottom, y_top;                    /**< magnitude or nJy at the bottom and top edges */
    size_t points;                             /**< markers drawn, every kind */
    size_t marks;                              /**< tag and as_of lines drawn */
    size_t nbands;
    ss_draw_band bands[SS_DRAW_MAX_BANDS]; /**< in the legend's order */
} ss_draw_lc_info;

/**
 * Draw the measurements of @p pkt (any order; those of other bands than @p o->bands, without a
 * value to show, or at a non-finite MJD are left out) with @p marks and @p title (may be NULL).
 * @p o->as_of is not applied here: @p pkt is what is drawn; an alert of that id is circled.
 * @param[out] info may be NULL.
 * @return 0; SS_EINVAL for a size out of bounds (@p err says which); SS_ENOMEM; SS_EFORMAT when
 *         cairo fails (its status in @p err).
 */
int ss_draw_lightcurve_render(const ss_packet *pkt, const ss_draw_mark *marks, size_t nmarks,
                              const char *title, const ss_draw_lc_options *o, ss_wbuf *out,
                              ss_draw_lc_info *info, ss_err *err);

/**
 * Draw the light curve of locus @p id (a locus id or a survey object id) as read in @p txn (the
 * caller's read transaction, left open), titled with the locus id.
 * @return 0; SS_ENOTFOUND (no such locus, or @p o->as_of is no alert of it); SS_EAMBIGUOUS when an
 *         object id names several loci; those of ss_draw_lightcurve_render(); a store error.
 */
int ss_draw_lightcurve(ss_store_txn *txn, const char *id, const ss_draw_lc_options *o, ss_wbuf *out,
                       ss_draw_lc_info *info, ss_err *err);

/** How a stamp's values become gray levels. */
typedef enum ss_draw_stretch {
    SS_DRAW_ZSCALE = 0, /**< linear between IRAF's zscale limits */
    SS_DRAW_ASINH = 1,  /**< asinh between the 0.5th and 99.5th percentiles */
} ss_draw_stretch;

/** The stamp's side when the options give none, and its bounds. */
#define SS_DRAW_CUTOUT_SIZE     256
#define SS_DRAW_CUTOUT_MIN_SIZE 8
#define SS_DRAW_CUTOUT_MAX_SIZE 2048
/** FITS images larger than this on a side are refused (SS_EFORMAT): no stamp is that large. */
#define SS_DRAW_FITS_MAX_SIDE 4096

/** How a stamp is drawn. Zeroed: zscale, 256 pixels on its longer side, nearest pixel. */
typedef struct ss_draw_cutout_options {
    int size; /**< the longer side in pixels (the other keeps the aspect); 0: the default */
    ss_draw_stretch stretch;
    int bilinear; /**< 1: bilinear interpolation; 0: nearest pixel (pixels stay square) */
} ss_draw_cutout_options;

/** What a stamp picture shows. */
typedef struct ss_draw_cutout_info {
    int hdu;                      /**< the HDU drawn (1: primary) */
    long fits_width, fits_height; /**< NAXIS1, NAXIS2 */
    int width, height;            /**< the PNG's */
    int wcs;                      /**< 1: a celestial WCS was read and the image turned by it */
    int quarter_turns;            /**< counter-clockwise quarter turns applied (0-3) */
    int flipped;                  /**< 1: mirrored left-right (after the turns) */
    double residual_deg;          /**< north's angle from up left after the turn, degrees */
    double vmin, vmax;            /**< the values mapped to black and white */
    size_t nan_pixels;            /**< pixels without a value, drawn mid-gray (128) */
} ss_draw_cutout_info;

/**
 * Draw the stamp @p bytes (FITS, or gzip-compressed FITS) as an 8-bit grayscale PNG.
 * @param[out] info may be NULL.
 * @return 0; SS_EFORMAT when the bytes are not a FITS image that can be read whole (not FITS,
 *         truncated, damaged gzip, no 2-D image HDU, too large); SS_EINVAL for a size out of
 *         bounds; SS_ENOMEM.
 */
int ss_draw_cutout_render(const void *bytes, size_t len, const ss_draw_cutout_options *o,
                          ss_wbuf *out, ss_draw_cutout_info *info, ss_err *err);

/**
 * Draw the @p kind stamp of alert @p alert_id (the survey's id; of @p survey, or of whichever
 * survey has it when NULL) as read in @p txn (left open).
 * @return 0; SS_ENOTFOUND (no such stamp); SS_EAMBIGUOUS (several surveys have one and @p survey
 *         is NULL); those of ss_draw_cutout_render(); a store error.
 */
int ss_draw_cutout(ss_store_txn *txn, const char *alert_id, const char *survey, ss_cutout_kind kind,
                   const ss_draw_cutout_options *o, ss_wbuf *out, ss_draw_cutout_info *info,
                   ss_err *err);

/**
 * Release the font caches cairo and fontconfig keep for the life of a process that drew text
 * (a leak checker reports them at exit otherwise). Call once, at exit, when no thread draws; no
 * picture may be drawn after.
 */
void ss_draw_release(void);

#endif
