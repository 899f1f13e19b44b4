/*
 * my_filter: a template for a skysieve filter in C. Copy this folder, rename, and change the
 * declarations and run(). Build out of the tree against the installed SDK:
 *
 *     cmake -S . -B build && cmake --build build      # finds the SDK with pkg-config
 *     skysieve filter check build/my_filter.so        # validate and show the declarations
 *     skysieve filter run --store STORE build/my_filter.so --all
 *
 * This one flags loci that brightened by more than 1 magnitude between their two latest
 * detections in any passband, and writes the brightening as a property.
 */
#include <math.h>
#include <skysieve/filter.h>

/* What the filter reads: it is not run on a locus lacking these (that is not an error). */
static const char *const required_locus[] = {"num_mag_values", NULL};

/* What it may write, with types: anything else fails the run. */
static const ss_property_decl locus_outputs[] = {
    {"my_brightening", SS_TYPE_FLOAT, "magnitudes gained between the two latest detections"},
    {NULL, 0, NULL},
};
static const ss_tag_decl tags[] = {
    {"my_brightening", "brightened by more than 1 mag between two detections in one band"},
    {NULL, NULL},
};

static int my_run(const ss_host_api *host, void *state, ss_locus_view *l)
{
    (void)state;
    const char *bands[16];
    size_t nb = host->passbands(l, bands, 16);
    double best = 0;
    for (size_t b = 0; b < nb && b < 16; b++) {
        ss_lightcurve lc; /* arrays owned by the host, valid during this run */
        if (host->lightcurve(l, bands[b], 0, &lc) == 0 && lc.n >= 2)
            best = fmax(best, lc.mag[lc.n - 2] - lc.mag[lc.n - 1]); /* smaller mag: brighter */
    }
    if (best <= 1.0)
        return 0;
    ss_value v = {.type = SS_TYPE_FLOAT, .u.f = best};
    int rc = host->set_locus_property(l, "my_brightening", v);
    return rc ? rc : host->add_tag(l, "my_brightening");
}

static const ss_filter_descriptor descriptor = {
    SS_FILTER_HEADER, /* magic, size, ABI version: checked before anything else */
    .name = "my_filter",
    .version = "0.1.0",
    .description = "Flags loci that brightened by more than 1 mag between two detections",
    .author = "you <you@example.org>",
    .required_locus_properties = required_locus,
    .output_locus_properties = locus_outputs,
    .output_tags = tags,
    .run = my_run,
};

const ss_filter_descriptor *skysieve_filter(void)
{
    return &descriptor;
}
