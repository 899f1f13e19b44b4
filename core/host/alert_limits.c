#include "alert_limits.h"

#include "fileio.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

const char *const ss_alert_limits_keys[] = {"max_line_bytes", "max_value_bytes", "max_props",
                                            "max_history",    "max_alert_bytes", NULL};

/* Each cap: where it lives, its default, its range, and whether it is a size (suffixes allowed
 * and said in messages) or a count. Bounds: below the minimum no real alert fits; above 1 GiB or
 * 100 million the cap no longer bounds anything a machine holds. */
static const struct {
    size_t offset;
    uint64_t def, min, max;
    int size;
} ssi_caps[] = {
    {offsetof(ss_alert_limits, line_bytes), SS_LIMIT_LINE_BYTES, 1024, (uint64_t)1 << 30, 1},
    {offsetof(ss_alert_limits, value_bytes), SS_LIMIT_VALUE_BYTES, 1024, (uint64_t)1 << 30, 1},
    {offsetof(ss_alert_limits, props), SS_LIMIT_PROPS, 16, 100000000, 0},
    {offsetof(ss_alert_limits, history), SS_LIMIT_HISTORY, 1, 100000000, 0},
    {offsetof(ss_alert_limits, alert_bytes), SS_LIMIT_ALERT_BYTES, 4096, (uint64_t)1 << 30, 1},
};

static uint64_t *ssi_cap(ss_alert_limits *l, size_t i)
{
    return (uint64_t *)((char *)l + ssi_caps[i].offset);
}

ss_alert_limits ss_alert_limits_effective(const ss_alert_limits *l)
{
    ss_alert_limits out = l ? *l : (ss_alert_limits){0};
    for (size_t i = 0; i < sizeof ssi_caps / sizeof *ssi_caps; i++)
        if (!*ssi_cap(&out, i))
            *ssi_cap(&out, i) = ssi_caps[i].def;
    return out;
}

int ss_alert_limits_set(ss_alert_limits *l, const char *key, const char *value, ss_err *err)
{
    size_t i = 0;
    while (ss_alert_limits_keys[i] && strcmp(ss_alert_limits_keys[i], key))
        i++;
    if (!ss_alert_limits_keys[i])
        return 1;
    size_t v = 0;
    int ok = ss_file_parse_size(value, &v) == 0 && v >= ssi_caps[i].min && v <= ssi_caps[i].max;
    if (ok && !ssi_caps[i].size && strspn(value, "0123456789") != strlen(value))
        ok = 0; /* a count takes no suffix: 10K properties is a typo more often than not */
    if (!ok)
        return ss_err_set(err, SS_EINVAL,
                          ssi_caps[i].size ? "%s = '%s': need a size from %" PRIu64
                                             " bytes to 1G (suffixes K, M, G)"
                                           : "%s = '%s': need a count from %" PRIu64
                                             " to 100000000",
                          key, value, ssi_caps[i].min);
    *ssi_cap(l, i) = v;
    return 0;
}

int ss_alert_limits_reject(ss_reject *rej, const char *what, uint64_t actual, int at_least,
                           const char *key, uint64_t limit)
{
    return ss_reject_set(rej, SS_REASON_TOO_LARGE, "%s: %s%" PRIu64 " over %s = %" PRIu64, what,
                         at_least ? "at least " : "", actual, key, limit);
}

/* String values of @p props over the value cap. */
static int ssi_check_props(const ss_prop *props, uint32_t n, const char *whose,
                           const ss_alert_limits *l, ss_reject *rej)
{
    char what[96];
    if (n > l->props) {
        snprintf(what, sizeof what, "%s has too many properties", whose);
        return ss_alert_limits_reject(rej, what, n, 0, "max_props", l->props);
    }
    for (uint32_t i = 0; i < n; i++)
        if (props[i].value.type == SS_TYPE_STRING && props[i].value.u.s.len > l->value_bytes) {
            snprintf(what, sizeof what, "property %.64s is too long (bytes)", props[i].name);
            return ss_alert_limits_reject(rej, what, props[i].value.u.s.len, 0, "max_value_bytes",
                                          l->value_bytes);
        }
    return 0;
}

int ss_packet_check_limits(const ss_packet *p, const ss_alert_limits *limits, ss_reject *rej)
{
    ss_alert_limits l = ss_alert_limits_effective(limits);
    int rc;
    if (p->n > 1 && p->n - 1 > l.history)
        return ss_alert_limits_reject(rej, "too many history entries", p->n - 1, 0, "max_history",
                                      l.history);
    for (uint32_t i = 0; i < p->n; i++)
        if ((rc = ssi_check_props(p->alerts[i].props, p->alerts[i].nprops,
                                  i ? "a history entry" : "the alert", &l, rej)))
            return rc;
    if ((rc = ssi_check_props(p->locus_props, p->nlocus_props, "the locus", &l, rej)))
        return rc;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        if (p->cutouts[k].len > l.value_bytes)
            return ss_alert_limits_reject(rej, "a cutout is too long (bytes)", p->cutouts[k].len, 0,
                                          "max_value_bytes", l.value_bytes);
    return 0;
}
