#include "seen.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* The id alone: surveys' ids rarely coincide, and when they do the survey is compared. */
uint64_t ssi_seen_hash(const char *alert_id)
{
    return XXH3_64bits(alert_id, strlen(alert_id));
}

/* The slot of (survey, alert_id): where it is, or the empty slot where it would go. */
static size_t ssi_seen_find(const ssi_seen *s, uint64_t hash, const char *survey,
                            const char *alert_id)
{
    size_t mask = s->cap - 1, i = (size_t)hash & mask;
    for (; s->slots[i].alert; i = (i + 1) & mask) {
        const ss_alert *a = s->slots[i].alert;
        if (s->slots[i].hash == hash && !strcmp(a->alert_id, alert_id) &&
            !strcmp(a->survey, survey))
            break;
    }
    return i;
}

static int ssi_seen_grow(ssi_seen *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    ssi_seen bigger = {calloc(cap, sizeof *s->slots), cap, s->n};
    if (!bigger.slots)
        return SS_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].alert) {
            size_t at = (size_t)s->slots[i].hash & (cap - 1);
            while (bigger.slots[at].alert) /* every alert differs: no string to compare */
                at = (at + 1) & (cap - 1);
            bigger.slots[at] = s->slots[i];
        }
    free(s->slots);
    *s = bigger;
    return 0;
}

int ssi_seen_add_packet(ssi_seen *s, const ss_packet *pkt)
{
    for (uint32_t k = 0; k < pkt->n; k++) {
        const ss_alert *a = &pkt->alerts[k];
        if ((s->n + 1) * 2 > s->cap && ssi_seen_grow(s))
            return SS_ENOMEM;
        uint64_t hash = ssi_seen_hash(a->alert_id);
        size_t i = ssi_seen_find(s, hash, a->survey, a->alert_id);
        if (!s->slots[i].alert) {
            s->slots[i] = (ssi_seen_slot){hash, a};
            s->n++;
        }
    }
    return 0;
}

int ssi_seen_has(const ssi_seen *s, uint64_t hash, const char *survey, const char *alert_id)
{
    return s->cap && s->slots[ssi_seen_find(s, hash, survey, alert_id)].alert != NULL;
}

void ssi_seen_clear(ssi_seen *s)
{
    if (s->n)
        memset(s->slots, 0, s->cap * sizeof *s->slots);
    s->n = 0;
}

void ssi_seen_free(ssi_seen *s)
{
    free(s->slots);
    *s = (ssi_seen){0};
}
