/* The benchmarks' filter set (bench_broker, bench_replay). */
#ifndef SS_TOOLS_GEN_SET_H
#define SS_TOOLS_GEN_SET_H

/**
 * Write a filter set into directory @p dir: lcstats.so and jump.so from @p filters_dir, then
 * @p nlua generated Lua filters computing light-curve statistics (standard deviation, amplitude,
 * slope, weighted mean, median, chi-square), each writing one property. With @p tag (may be
 * NULL), the first Lua filter also tags every locus with it.
 * @return the set's INI path (caller frees), or NULL with errno set.
 */
char *gen_filter_set(const char *dir, const char *filters_dir, int nlua, const char *tag);

#endif
