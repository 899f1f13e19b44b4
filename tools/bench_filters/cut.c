/*
 * Filters for bench_filters: EMPTY does nothing; otherwise a cut on three locus properties that
 * tags the loci passing it. Built in several copies with different names (BENCH_NAME).
 */
#include <skysieve/filter.h>

#ifndef BENCH_NAME
#define BENCH_NAME "bench_cut"
#endif

static const ss_tag_decl tags[] = {{"bright_repeat", "bright source seen more than once"},
                                   {NULL, NULL}};

static int cut_run(const ss_host_api *host, void *state, ss_locus_view *l)
{
    (void)state;
#ifdef BENCH_EMPTY
    (void)host, (void)l;
    return 0;
#else
    ss_value n, newest, brightest;
    if (host->locus_property(l, "num_mag_values", &n) ||
        host->locus_property(l, "newest_alert_magnitude", &newest) ||
        host->locus_property(l, "brightest_alert_magnitude", &brightest))
        return 0;
    if (n.u.i >= 2 && newest.u.f < 19.0 && brightest.u.f < 18.5)
        return host->add_tag(l, "bright_repeat");
    return 0;
#endif
}

static const ss_filter_descriptor descriptor = {
    SS_FILTER_HEADER,  .name = BENCH_NAME,  .version = "1", .description = "benchmark filter",
    .author = "bench", .output_tags = tags, .run = cut_run,
};

const ss_filter_descriptor *skysieve_filter(void)
{
    return &descriptor;
}
