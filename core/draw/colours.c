/* Band colours and markers. Rubin's colours for u g r i z y (its plotting guide's, for white
 * backgrounds; ANTARES and ALeRCE use them for LSST), ALeRCE's for ZTF g r i; another band takes
 * the next colour of a palette (Tableau's ten) none of those resembles too closely. */
#include "draw_impl.h"

#include <math.h>
#include <string.h>

typedef struct ssi_known {
    const char *band;
    unsigned rubin, ztf; /* 0: the survey has no such band */
    ssi_shape shape;
} ssi_known;

/* In wavelength order: the legend lists bands so. */
static const ssi_known ssi_bands[] = {
    {"u", 0x1600ea, 0, SSI_TRIANGLE_UP},   {"g", 0x31de1f, 0x56e03a, SSI_CIRCLE},
    {"r", 0xb52626, 0xd42f4b, SSI_SQUARE}, {"i", 0x370201, 0xf4d617, SSI_DIAMOND},
    {"z", 0xba52ff, 0, SSI_PENTAGON},      {"y", 0x61a2b3, 0, SSI_HEXAGON},
};
#define SSI_NKNOWN (sizeof ssi_bands / sizeof *ssi_bands)

static const unsigned ssi_fallback[] = {0x1f77b4, 0xff7f0e, 0x9467bd, 0x8c564b, 0xe377c2,
                                        0x7f7f7f, 0xbcbd22, 0x17becf, 0x2ca02c, 0xd62728};
#define SSI_NFALLBACK (sizeof ssi_fallback / sizeof *ssi_fallback)

/* ZTF's alerts name bands g, r, i; some inputs name them by filter id or "ztfg". */
static const char *ssi_plain_band(const char *band)
{
    if (!strncmp(band, "ztf", 3) || !strncmp(band, "lsst", 4))
        band += band[0] == 'z' ? 3 : 4;
    return band;
}

int ssi_band_rank(const char *band)
{
    band = ssi_plain_band(band);
    for (size_t i = 0; i < SSI_NKNOWN; i++)
        if (!strcmp(band, ssi_bands[i].band))
            return (int)i;
    return 100;
}

int ssi_band_style(const char *survey, const char *band, size_t nth_unknown, unsigned *rgb,
                   ssi_shape *shape)
{
    int rank = ssi_band_rank(band), ztf = !strcmp(survey, "ztf");
    if (rank < 100) {
        const ssi_known *k = &ssi_bands[rank];
        unsigned c = ztf && k->ztf ? k->ztf : k->rubin;
        *rgb = c, *shape = k->shape;
        return 1;
    }
    *rgb = ssi_fallback[nth_unknown % SSI_NFALLBACK];
    *shape = (ssi_shape)(nth_unknown % SSI_SHAPE__COUNT);
    return 0;
}

/* A regular polygon of @p n corners, one of them straight up from the centre. */
static void ssi_polygon(cairo_t *cr, int n, double x, double y, double r, double turn)
{
    for (int k = 0; k < n; k++) {
        double a = -M_PI / 2 + turn + 2 * M_PI * k / n;
        if (k == 0)
            cairo_move_to(cr, x + r * cos(a), y + r * sin(a));
        else
            cairo_line_to(cr, x + r * cos(a), y + r * sin(a));
    }
    cairo_close_path(cr);
}

void ssi_marker_path(cairo_t *cr, ssi_shape shape, double x, double y, double r)
{
    cairo_new_sub_path(cr);
    switch (shape) {
    case SSI_SQUARE: cairo_rectangle(cr, x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r); break;
    case SSI_DIAMOND: ssi_polygon(cr, 4, x, y, 1.2 * r, 0); break;
    case SSI_TRIANGLE_UP: ssi_polygon(cr, 3, x, y + 0.2 * r, 1.3 * r, 0); break;
    case SSI_PENTAGON: ssi_polygon(cr, 5, x, y, 1.1 * r, 0); break;
    case SSI_HEXAGON: ssi_polygon(cr, 6, x, y, 1.1 * r, 0); break;
    default: cairo_arc(cr, x, y, r, 0, 2 * M_PI); cairo_close_path(cr);
    }
}

void ssi_limit_path(cairo_t *cr, double x, double y, double r)
{
    cairo_new_sub_path(cr);
    ssi_polygon(cr, 3, x, y - 0.2 * r, 1.3 * r, M_PI);
}
