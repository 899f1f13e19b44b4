/*
 * jump: the filter of the ANTARES streaming tutorial. Tags a locus whose two latest detections in
 * one passband differ by 3 magnitudes or more (setup "threshold" changes the 3).
 *
 * The Lua version (jump.lua) gives the same results on the same loci; a test checks that.
 */
#include <math.h>
#include <skysieve/filter.h>
#include <stdlib.h>
#include <string.h>

typedef struct jump_state {
    double threshold;
} jump_state;

static int jump_setup(const ss_host_api *host, const ss_setup_item *items, size_t n, void **state)
{
    (void)host;
    jump_state *st = malloc(sizeof *st);
    if (!st)
        return SS_ENOMEM;
    st->threshold = 3.0;
    for (size_t i = 0; i < n; i++) {
        char *end;
        double v = strtod(items[i].value, &end);
        if (strcmp(items[i].key, "threshold") || end == items[i].value || *end || !(v > 0)) {
            free(st);
            return SS_EINVAL;
        }
        st->threshold = v;
    }
    *state = st;
    return 0;
}

static int jump_run(const ss_host_api *host, void *state, ss_locus_view *l)
{
    const jump_state *st = state;
    const char *bands[32];
    size_t nb = host->passbands(l, bands, 32);
    double best = 0;
    for (size_t b = 0; b < nb && b < 32; b++) {
        ss_lightcurve lc;
        if (host->lightcurve(l, bands[b], 0, &lc) || lc.n < 2)
            continue;
        double jump = fabs(lc.mag[lc.n - 1] - lc.mag[lc.n - 2]);
        if (jump > best)
            best = jump;
    }
    if (best < st->threshold)
        return 0;
    ss_value v = {.type = SS_TYPE_FLOAT, .u.f = best};
    int rc = host->set_locus_property(l, "jump_magnitude", v);
    return rc ? rc : host->add_tag(l, "jump");
}

static void jump_teardown(void *state)
{
    free(state);
}

static const ss_property_decl jump_locus_props[] = {
    {"jump_magnitude", SS_TYPE_FLOAT, "largest change between the two latest detections of a band"},
    {NULL, 0, NULL},
};
static const ss_tag_decl jump_tags[] = {
    {"jump", "the two latest detections in one passband differ by >= threshold (3) mag"},
    {NULL, NULL},
};

static const ss_filter_descriptor jump_descriptor = {
    SS_FILTER_HEADER,
    .name = "jump",
    .version = "1.0.0",
    .description = "Tags loci whose latest two detections in a passband differ by 3 mag or more",
    .author = "skysieve developers <dev@skysieve.invalid>",
    .output_locus_properties = jump_locus_props,
    .output_tags = jump_tags,
    .setup = jump_setup,
    .run = jump_run,
    .teardown = jump_teardown,
};

const ss_filter_descriptor *skysieve_filter(void)
{
    return &jump_descriptor;
}
