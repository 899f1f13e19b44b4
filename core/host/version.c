#include <skysieve/skysieve.h>

#include <stddef.h>

/* The macros are read here, when the library is compiled, so a program can compare the answer with
 * the SS_VERSION_* of the headers it was compiled against. */
const char *ss_version(int *major, int *minor, int *patch)
{
    if (major)
        *major = SS_VERSION_MAJOR;
    if (minor)
        *minor = SS_VERSION_MINOR;
    if (patch)
        *patch = SS_VERSION_PATCH;
    return SS_VERSION_STRING;
}
