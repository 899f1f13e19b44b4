/**
 * @file skysieve.h
 * @brief skysieve: the types and error codes shared by the broker and everything built against it.
 *
 * This header is installed with the SDK. It holds what a filter, a tool or the broker itself must
 * agree on: the version of the package, the reserved range of error codes and the property value
 * types.
 *
 * Naming: every public name starts with `ss_` (functions, types) or `SS_` (macros, constants).
 * Names starting with `ssi_` are private to the broker and never appear in an installed header.
 *
 * Error codes follow the LMDB convention: functions return 0 on success, a positive errno value for
 * failures of the operating system, or a negative code from the reserved range below. LMDB's own
 * codes
 * (-30800 to -30780) pass through unchanged. ss_strerror() describes all three kinds.
 *
 * Change log of this header:
 *  - 0.1: first version: package version, error codes, value types.
 *  - 0.2: SS_EFILTER, SS_EUNDECLARED, SS_ETYPE, SS_ELIMIT for filters (filter.h); the version
 *         macros come from the generated <skysieve/version.h> (SS_VERSION_NUMBER and
 *         SS_VERSION_ENCODE added); ss_version().
 *  - 0.3: SS_ELOCKED (one writer per store, one broker per run directory).
 */
#ifndef SKYSIEVE_H
#define SKYSIEVE_H

/* SS_VERSION_MAJOR, _MINOR, _PATCH, _STRING and _NUMBER, generated from project(VERSION). */
#include <skysieve/version.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The version of the skysieve library a program runs with, as mdb_version() gives LMDB's: it may
 * differ from the SS_VERSION_* of the headers the program was compiled against. For programs
 * linked with the library (tools, tests); a filter cannot call it, as the broker does not export
 * its functions to the shared objects it loads.
 *
 * @param[out] major, minor, patch set to the library's version numbers when not NULL.
 * @return the library's SS_VERSION_STRING, e.g. "0.2.0": static, never NULL, never to be freed.
 */
const char *ss_version(int *major, int *minor, int *patch);

/**
 * @defgroup errors Error codes
 *
 * The reserved range is SS_ERROR_FIRST..SS_ERROR_LAST; codes are never renumbered, new ones are
 * added at the end of the range.
 * @{
 */
#define SS_ERROR_FIRST (-32000)
/** An argument or an option was invalid; the message says which. */
#define SS_EINVAL (-32000)
/** The store directory does not exist, or holds no store. */
#define SS_ENOSTORE (-32001)
/** The directory or file exists but is not a skysieve store. */
#define SS_ENOTSTORE (-32002)
/** The store was written by a newer skysieve (format version higher than this build supports). */
#define SS_EVERSION (-32003)
/** A record in the store failed its checks: the store is damaged. */
#define SS_ECORRUPT (-32004)
/** The store (its LMDB map) or the disk is full. */
#define SS_EFULL (-32005)
/** An input could not be parsed as a whole (header, framing); the message names the input. */
#define SS_EPARSE (-32006)
/** One record of an input was rejected; the rest of the input goes on. */
#define SS_EREJECT (-32007)
/** No such locus, alert or object. */
#define SS_ENOTFOUND (-32008)
/** An identifier matched more than one thing; the message lists them. */
#define SS_EAMBIGUOUS (-32009)
/** Out of memory. */
#define SS_ENOMEM (-32010)
/** No decoder recognises the input's format. */
#define SS_EFORMAT (-32011)
/** The store was created with other settings (e.g. association radius) than those asked for. */
#define SS_ESETTINGS (-32012)
/** A filter's run failed (it returned an error, raised in Lua, or called host->fail()). */
#define SS_EFILTER (-32013)
/** A filter wrote a property or tag it did not declare. */
#define SS_EUNDECLARED (-32014)
/** A filter wrote a value of another type than it declared. */
#define SS_ETYPE (-32015)
/** A filter went over a limit: its Lua memory cap or its instruction budget per run. */
#define SS_ELIMIT (-32016)
/** Another process holds the role asked for (a store's writer, a broker's run directory); the
 * message names its pid. */
#define SS_ELOCKED    (-32017)
#define SS_ERROR_LAST (-32017)
/** @} */

/**
 * Describe an error code.
 *
 * @param[in] code 0, a positive errno value, an LMDB code or a code of the reserved range.
 * @return a static string; never NULL; never to be freed.
 */
const char *ss_strerror(int code);

/**
 * @defgroup values Property values
 *
 * Alerts and loci carry named, typed properties. The types are those of the ANTARES devkit plus
 * bool and null.
 * @{
 */
typedef enum ss_type {
    SS_TYPE_NULL = 0,
    SS_TYPE_INT = 1,    /**< int64_t */
    SS_TYPE_FLOAT = 2,  /**< double; never NaN or infinite when stored as a property */
    SS_TYPE_STRING = 3, /**< UTF-8 bytes with a length; not necessarily NUL-terminated */
    SS_TYPE_BOOL = 4,   /**< 0 or 1 */
} ss_type;

/** A property value. The string bytes are owned by whoever owns the value (see each function). */
typedef struct ss_value {
    ss_type type;
    union {
        int64_t i;
        double f;
        int b;
        struct {
            const char *ptr;
            uint32_t len;
        } s;
    } u;
} ss_value;

/** Name of a type as used in declarations and JSON: "null", "int", "float", "string", "bool". */
const char *ss_type_name(ss_type t);
/** @} */

#ifdef __cplusplus
}
#endif
#endif /* SKYSIEVE_H */
