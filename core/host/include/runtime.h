/**
 * @file runtime.h
 * @brief The extension point for filter runtimes: plugins/runtime_<name>/ (shared objects, Lua).
 *
 * A runtime loads a filter from a file and exposes it as an ss_filter_descriptor (sdk filter.h):
 * the C runtime returns the filter's own; the Lua runtime builds one from the script's
 * declarations. The host validates declarations, orders filters, enforces outputs and stores
 * results; a runtime only loads, sets up, runs and unloads. Runtimes are compiled in and listed by
 * the build.
 *
 * Threading: one loaded filter is used by one thread at a time.
 *
 * ABI: a runtime sets .abi to SS_RUNTIME_ABI, the major version it was written for; skysieve
 * refuses to start with a runtime of another major version (ss_runtime_check()). The rule for
 * changing it: an op added at the end of ss_runtime_ops, or a field at the end of
 * ss_filter_limits, raises SS_RUNTIME_ABI_MINOR (an added op is optional: NULL, which a runtime
 * written before it leaves there, means the runtime lacks it); anything else (an op removed,
 * moved, or given other arguments or another meaning; a field inserted) raises
 * SS_RUNTIME_ABI_MAJOR and sets the minor to 0. A call that must change gets a numbered twin at
 * the end (load2), never a near-identical name, and the old one keeps its meaning until a major
 * version drops it. The filters a runtime loads have their own ABI (filter.h), versioned apart.
 *
 * ABI change log (append only):
 *  - 1.0: first version: load(), setup(), run(), unload(); ss_filter_limits.memory_bytes and
 *         .instructions.
 *  - 1.1: ss_filter_limits.run_ms and .setup_ms (wall-clock limits).
 */
#ifndef SS_RUNTIME_H
#define SS_RUNTIME_H

#include "err.h"

#include <skysieve/filter.h>
#include <stddef.h>
#include <stdint.h>

#define SS_RUNTIME_ABI_MAJOR 1
#define SS_RUNTIME_ABI_MINOR 1
/** What a runtime sets .abi to: the major version (see the rule above). */
#define SS_RUNTIME_ABI SS_RUNTIME_ABI_MAJOR

/** Limits the filter set configuration gives each filter. 0 means the runtime's default. */
typedef struct ss_filter_limits {
    size_t memory_bytes;   /**< Lua: cap on the state's allocations (default 64 MiB) */
    uint64_t instructions; /**< Lua: VM instructions per run() (default 10,000,000) */
    uint32_t run_ms;       /**< Lua: wall-clock milliseconds per run() (default 1000) */
    uint32_t setup_ms;     /**< Lua: the same for loading the script and setup() (default 10000) */
} ss_filter_limits;

typedef struct ss_runtime_ops {
    unsigned abi;                  /**< SS_RUNTIME_ABI */
    const char *name;              /**< "so", "lua" */
    const char *const *extensions; /**< NULL-terminated file name endings, e.g. ".lua" */
    /**
     * Load the filter in @p path.
     * @param[out] impl the runtime's state for this filter, freed by unload().
     * @param[out] desc the filter's descriptor, owned by @p impl (valid until unload()).
     * @return 0, or an error with @p err naming @p path and the reason (nothing to unload then).
     */
    int (*load)(const char *path, const ss_filter_limits *limits, void **impl,
                const ss_filter_descriptor **desc, ss_err *err);
    /**
     * Run the filter's setup once with the set's setup data. @p host outlives the filter.
     * @return 0, or an error with @p err saying why (the set is then refused).
     */
    int (*setup)(void *impl, const ss_host_api *host, const ss_setup_item *items, size_t n,
                 ss_err *err);
    /**
     * Run the filter on one locus.
     * @return 0; or non-zero when the run failed, with @p err holding the filter's message
     *         (a Lua error, a limit exceeded; for C filters the host keeps host->fail() messages).
     *         SS_ELIMIT when a memory or instruction limit was exceeded.
     */
    int (*run)(void *impl, const ss_host_api *host, ss_locus_view *locus, ss_err *err);
    /** Tear the filter down (its teardown, then the runtime's own state). NULL is allowed. */
    void (*unload)(void *impl);
} ss_runtime_ops;

/**
 * Refuse a runtime written for another major version of this ABI.
 * @return 0, or SS_EINVAL with @p err naming the runtime and both versions.
 */
int ss_runtime_check(const ss_runtime_ops *ops, ss_err *err);

/** Every compiled-in runtime. @param[out] n their number. */
const ss_runtime_ops *const *ss_runtimes(size_t *n);
/** The runtime whose extensions match @p path, or NULL. */
const ss_runtime_ops *ss_runtime_for(const char *path);

#endif
