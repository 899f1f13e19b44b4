#include "alert.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *const ssi_reason_names[SS_REASON__COUNT] = {
    [SS_REASON_MALFORMED] = "malformed_record",
    [SS_REASON_MISSING_FIELD] = "missing_field",
    [SS_REASON_UNPARSABLE_FIELD] = "unparsable_field",
    [SS_REASON_NON_FINITE] = "non_finite",
    [SS_REASON_RA_RANGE] = "ra_out_of_range",
    [SS_REASON_DEC_RANGE] = "dec_out_of_range",
    [SS_REASON_MJD_RANGE] = "mjd_out_of_range",
    [SS_REASON_NO_BRIGHTNESS] = "no_brightness",
    [SS_REASON_TOO_LONG] = "field_too_long",
    [SS_REASON_UNREADABLE] = "unreadable_input",
    [SS_REASON_ID_INVALID] = "id_invalid",
    [SS_REASON_TOO_LARGE] = "too_large",
};

const char *ss_reason_name(ss_reason r)
{
    return (unsigned)r < SS_REASON__COUNT ? ssi_reason_names[r] : "unknown";
}

int ss_reason_from_name(const char *name)
{
    for (int r = 0; r < SS_REASON__COUNT; r++)
        if (strcmp(name, ssi_reason_names[r]) == 0)
            return r;
    return -1;
}

int ss_reject_set(ss_reject *rej, ss_reason reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rej->detail, sizeof rej->detail, fmt, ap);
    va_end(ap);
    rej->reason = reason;
    return SS_EREJECT;
}

ss_packet *ss_packet_new(void)
{
    ss_packet *p = calloc(1, sizeof *p);
    if (p && !(p->arena = ss_arena_new())) {
        free(p);
        return NULL;
    }
    return p;
}

void ss_packet_free(ss_packet *p)
{
    if (!p)
        return;
    ss_arena_free(p->arena);
    free(p);
}

void ss_packet_reset(ss_packet *p)
{
    p->alerts = NULL;
    p->n = p->cap = 0;
    p->locus_props = NULL;
    p->nlocus_props = p->caplocus_props = 0;
    memset(p->cutouts, 0, sizeof p->cutouts);
    p->raw = NULL;
    p->raw_len = 0;
    ss_arena_reset(p->arena);
}

/* Arrays grow inside the arena: the old copy is garbage until the next reset, which costs less than
 * tracking heap arrays per alert. */
static void *ssi_grow(ss_arena *a, void *old, uint32_t n, uint32_t *cap, size_t elem)
{
    uint32_t ncap = *cap ? *cap * 2 : 8;
    void *fresh = ss_arena_alloc(a, (size_t)ncap * elem);
    if (!fresh)
        return NULL;
    if (old)
        memcpy(fresh, old, (size_t)n * elem);
    *cap = ncap;
    return fresh;
}

ss_alert *ss_packet_add(ss_packet *p)
{
    if (p->n == p->cap) {
        ss_alert *fresh = ssi_grow(p->arena, p->alerts, p->n, &p->cap, sizeof *fresh);
        if (!fresh)
            return NULL;
        p->alerts = fresh;
    }
    ss_alert *a = &p->alerts[p->n++];
    memset(a, 0, sizeof *a);
    a->ra = a->dec = a->mjd = NAN;
    a->mag = a->magerr = a->maglim = NAN;
    a->flux = a->fluxerr = NAN;
    a->kind = SS_ALERT_DETECTION;
    return a;
}

char *ss_packet_strdup(ss_packet *p, const char *s, size_t n)
{
    return ss_arena_strndup(p->arena, s, n);
}

char *ss_packet_id_dup(ss_packet *p, const char *s, size_t n)
{
    char *id = ss_arena_strndup(p->arena, s, n);
    for (size_t i = 0; id && i < n; i++)
        if (id[i] == '\0')
            id[i] = 0x1a;
    return id;
}

/* Append a property to an arena-held array; a string value is copied, and the name unless
 * @p borrow. */
static int ssi_props_append(ss_arena *arena, ss_prop **items, uint32_t *n, uint32_t *cap,
                            const char *name, size_t name_len, ss_value v, int borrow)
{
    if (*n == *cap) {
        ss_prop *fresh = ssi_grow(arena, *items, *n, cap, sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        *items = fresh;
    }
    ss_prop *pr = &(*items)[*n];
    if (!(pr->name = borrow ? name : ss_arena_strndup(arena, name, name_len)))
        return SS_ENOMEM;
    if (v.type == SS_TYPE_STRING) {
        char *copy = ss_arena_strndup(arena, v.u.s.ptr, v.u.s.len);
        if (!copy)
            return SS_ENOMEM;
        v.u.s.ptr = copy;
    }
    pr->value = v;
    (*n)++;
    return 0;
}

int ss_alert_reserve_props(ss_packet *p, ss_alert *a, uint32_t n)
{
    if (a->capprops - a->nprops >= n)
        return 0;
    if (n > UINT32_MAX / 2 - a->nprops)
        return SS_ENOMEM;
    uint32_t cap = a->nprops + n;
    ss_prop *fresh = ss_arena_alloc(p->arena, (size_t)cap * sizeof *fresh);
    if (!fresh)
        return SS_ENOMEM;
    if (a->nprops)
        memcpy(fresh, a->props, (size_t)a->nprops * sizeof *fresh);
    a->props = fresh;
    a->capprops = cap;
    return 0;
}

int ss_alert_add_prop(ss_packet *p, ss_alert *a, const char *name, size_t name_len, ss_value v)
{
    return ssi_props_append(p->arena, &a->props, &a->nprops, &a->capprops, name, name_len, v, 0);
}

int ss_alert_add_prop_borrowed(ss_packet *p, ss_alert *a, const char *name, size_t name_len,
                               ss_value v)
{
    return ssi_props_append(p->arena, &a->props, &a->nprops, &a->capprops, name, name_len, v, 1);
}

int ss_packet_add_locus_prop(ss_packet *p, const char *name, size_t name_len, ss_value v)
{
    return ssi_props_append(p->arena, &p->locus_props, &p->nlocus_props, &p->caplocus_props, name,
                            name_len, v, 0);
}

const char *ss_alert_kind_name(ss_alert_kind k)
{
    return k == SS_ALERT_DETECTION     ? "detection"
           : k == SS_ALERT_UPPER_LIMIT ? "upper_limit"
           : k == SS_ALERT_FORCED      ? "forced_photometry"
                                       : "unknown";
}

static const char *const ssi_cutout_names[SS_CUTOUT__COUNT] = {"science", "template", "difference"};

const char *ss_cutout_kind_name(ss_cutout_kind k)
{
    return (unsigned)k < SS_CUTOUT__COUNT ? ssi_cutout_names[k] : "unknown";
}

int ss_cutout_kind_from_name(const char *name)
{
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        if (strcmp(name, ssi_cutout_names[k]) == 0)
            return k;
    return -1;
}

/* Keep stamp @p kind: @p data by pointer when @p borrow, else a copy in the packet's arena. */
static int ssi_keep_cutout(ss_packet *p, ss_cutout_kind kind, const void *data, size_t len,
                           const char *file_name, int borrow)
{
    if ((unsigned)kind >= SS_CUTOUT__COUNT)
        return SS_EINVAL;
    if (p->skip_cutouts)
        return 0;
    unsigned char *copy = borrow ? NULL : ss_arena_alloc(p->arena, len ? len : 1);
    char *name = file_name ? ss_arena_strndup(p->arena, file_name, strlen(file_name)) : NULL;
    if ((!borrow && !copy) || (file_name && !name))
        return SS_ENOMEM;
    if (copy)
        memcpy(copy, data, len);
    p->cutouts[kind] = (ss_cutout){borrow ? data : copy, len, name};
    return 0;
}

int ss_packet_set_cutout(ss_packet *p, ss_cutout_kind kind, const void *data, size_t len,
                         const char *file_name)
{
    return ssi_keep_cutout(p, kind, data, len, file_name, 0);
}

int ss_packet_lend_cutout(ss_packet *p, ss_cutout_kind kind, const void *data, size_t len,
                          const char *file_name)
{
    return ssi_keep_cutout(p, kind, data, len, file_name, p->borrow_cutouts);
}

const ss_prop *ss_alert_prop(const ss_alert *a, const char *name)
{
    for (uint32_t i = 0; i < a->nprops; i++)
        if (strcmp(a->props[i].name, name) == 0)
            return &a->props[i];
    return NULL;
}

static int ssi_check_len(const char *what, const char *s, size_t max, ss_reject *rej)
{
    if (!s || !*s)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "%s is missing or empty", what);
    if (strlen(s) > max)
        return ss_reject_set(rej, SS_REASON_TOO_LONG, "%s is longer than %zu bytes", what, max);
    return 0;
}

/* An id that is not printable text: a NUL (copied as SUB by ss_packet_id_dup()) or another
 * control character would print as nothing, or as a different id, in every listing. */
static int ssi_check_id_text(const char *what, const char *s, ss_reject *rej)
{
    for (const unsigned char *c = (const unsigned char *)s; s && *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return ss_reject_set(rej, SS_REASON_ID_INVALID,
                                 "%s holds %s (byte 0x%02x at offset %zu)", what,
                                 *c == 0x1a ? "a NUL or SUB character" : "a control character", *c,
                                 (size_t)(c - (const unsigned char *)s));
    return 0;
}

static int ssi_check_ids(const ss_alert *a, ss_reject *rej)
{
    int rc;
    if ((rc = ssi_check_len("alert_id", a->alert_id, SS_ID_MAX, rej)) ||
        (rc = ssi_check_id_text("alert_id", a->alert_id, rej)))
        return rc;
    if (a->object_id && strlen(a->object_id) > SS_ID_MAX)
        return ss_reject_set(rej, SS_REASON_TOO_LONG, "object_id is longer than %d bytes",
                             SS_ID_MAX);
    return ssi_check_id_text("object_id", a->object_id, rej);
}

static int ssi_check_position(const ss_alert *a, ss_reject *rej)
{
    if (!isfinite(a->ra) || !isfinite(a->dec))
        return ss_reject_set(rej, SS_REASON_NON_FINITE, "ra/dec not finite (ra=%g, dec=%g)", a->ra,
                             a->dec);
    if (a->ra < 0.0 || a->ra >= 360.0)
        return ss_reject_set(rej, SS_REASON_RA_RANGE, "ra=%.10g outside [0, 360)", a->ra);
    if (a->dec < -90.0 || a->dec > 90.0)
        return ss_reject_set(rej, SS_REASON_DEC_RANGE, "dec=%.10g outside [-90, 90]", a->dec);
    return 0;
}

/* A forced measurement needs a flux and its error; its magnitude exists only for a positive flux.
 */
static int ssi_check_forced(const ss_alert *a, ss_reject *rej)
{
    if (!isfinite(a->flux) || !isfinite(a->fluxerr))
        return ss_reject_set(rej, SS_REASON_NON_FINITE,
                             "forced photometry without a finite flux (flux=%g, fluxerr=%g)",
                             a->flux, a->fluxerr);
    if (a->fluxerr < 0)
        return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "fluxerr=%g is negative", a->fluxerr);
    return 0;
}

static int ssi_check_brightness(const ss_alert *a, ss_reject *rej)
{
    if (a->kind == SS_ALERT_FORCED)
        return ssi_check_forced(a, rej);
    if (a->kind == SS_ALERT_DETECTION) {
        if (!isfinite(a->mag) || !isfinite(a->magerr))
            return ss_reject_set(rej, SS_REASON_NON_FINITE,
                                 "mag/magerr not finite (mag=%g, magerr=%g)", a->mag, a->magerr);
        if (a->magerr < 0)
            return ss_reject_set(rej, SS_REASON_UNPARSABLE_FIELD, "magerr=%g is negative",
                                 a->magerr);
    } else if (!isfinite(a->maglim)) {
        return ss_reject_set(rej, SS_REASON_NO_BRIGHTNESS, "upper limit without a finite maglim");
    }
    return 0;
}

int ss_alert_validate(const ss_alert *a, int require_position, ss_reject *rej)
{
    rej->origin = a->origin;
    rej->line = a->line;
    rej->raw = NULL;
    rej->raw_len = 0;
    int rc;
    if ((rc = ssi_check_len("survey", a->survey, SS_SURVEY_MAX, rej)) ||
        (rc = ssi_check_ids(a, rej)) ||
        (rc = ssi_check_len("passband", a->passband, SS_PASSBAND_MAX, rej)))
        return rc;
    if (require_position || !isnan(a->ra) || !isnan(a->dec))
        if ((rc = ssi_check_position(a, rej)))
            return rc;
    if (!isfinite(a->mjd))
        return ss_reject_set(rej, SS_REASON_NON_FINITE, "mjd not finite (%g)", a->mjd);
    if (a->mjd < SS_MJD_MIN || a->mjd > SS_MJD_MAX)
        return ss_reject_set(rej, SS_REASON_MJD_RANGE, "mjd=%.10g outside [%g, %g]", a->mjd,
                             SS_MJD_MIN, SS_MJD_MAX);
    if (!isnan(a->maglim) && !isfinite(a->maglim))
        return ss_reject_set(rej, SS_REASON_NON_FINITE, "maglim not finite");
    return ssi_check_brightness(a, rej);
}

int ss_alert_derive_id(ss_packet *p, ss_alert *a)
{
    /* Strings are length-prefixed so no separator can be forged; cutting them at 64 bytes only
     * touches alerts the validator rejects (survey and passband have lower limits). This string is
     * part of the ids stored by users: never change it. */
    char canon[512];
    int n = snprintf(canon, sizeof canon, "%zu:%.64s|%.17g|%.17g|%.17g|%zu:%.64s|%.17g|%.17g|%.17g",
                     strlen(a->survey), a->survey, a->ra, a->dec, a->mjd, strlen(a->passband),
                     a->passband, a->mag, a->magerr, a->maglim);
    if (n < 0 || (size_t)n >= sizeof canon)
        return SS_EINVAL; /* cannot happen: every part is bounded */
    char id[20];
    int idn = snprintf(id, sizeof id, "h%016" PRIx64, (uint64_t)XXH3_64bits(canon, (size_t)n));
    return (a->alert_id = ss_packet_strdup(p, id, (size_t)idn)) ? 0 : SS_ENOMEM;
}

ss_value ss_prop_float(double v)
{
    ss_value out = {.type = isfinite(v) ? SS_TYPE_FLOAT : SS_TYPE_NULL};
    out.u.f = v;
    return out;
}

ss_value ss_prop_text(const char *s)
{
    ss_value out = {.type = s && *s ? SS_TYPE_STRING : SS_TYPE_NULL};
    out.u.s.ptr = s;
    out.u.s.len = s ? (uint32_t)strlen(s) : 0;
    return out;
}

int ss_alert_normalised(const ss_alert *a, const char *name, ss_value *out)
{
    if (strncmp(name, "ant_", 4) != 0)
        return 0;
    const char *f = name + 4;
    if (!strcmp(f, "mjd"))
        *out = ss_prop_float(a->mjd);
    else if (!strcmp(f, "ra"))
        *out = ss_prop_float(a->ra);
    else if (!strcmp(f, "dec"))
        *out = ss_prop_float(a->dec);
    else if (!strcmp(f, "mag"))
        *out = ss_prop_float(a->mag);
    else if (!strcmp(f, "magerr"))
        *out = ss_prop_float(a->magerr);
    else if (!strcmp(f, "maglim"))
        *out = ss_prop_float(a->maglim);
    else if (!strcmp(f, "passband"))
        *out = ss_prop_text(a->passband);
    else if (!strcmp(f, "survey"))
        *out = ss_prop_text(a->survey);
    else
        return 0;
    return 1;
}
