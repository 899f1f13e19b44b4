#include "seen.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static uint64_t ssi_seen_hash(const char *survey, const char *alert_id)
{
    return XXH3_64bits_withSeed(alert_id, strlen(alert_id), XXH3_64bits(survey, strlen(survey)));
}

/* The slot of (survey, alert_id): where it is, or the empty slot where it would go. */
static size_t ssi_seen_slot(const ssi_seen *s, const char *survey, const char *alert_id)
{
    size_t mask = s->cap - 1, i = (size_t)ssi_seen_hash(survey, alert_id) & mask;
    while (s->slots[i] &&
           (strcmp(s->slots[i]->alert_id, alert_id) || strcmp(s->slots[i]->survey, survey)))
        i = (i + 1) & mask;
    return i;
}

static int ssi_seen_grow(ssi_seen *s)
{
    ssi_seen bigger = {calloc(s->cap ? s->cap * 2 : 1024, sizeof *s->slots),
                       s->cap ? s->cap * 2 : 1024, 0};
    if (!bigger.slots)
        return SS_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            bigger.slots[ssi_seen_slot(&bigger, s->slots[i]->survey, s->slots[i]->alert_id)] =
                s->slots[i];
    bigger.n = s->n;
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
        size_t i = ssi_seen_slot(s, a->survey, a->alert_id);
        if (!s->slots[i]) {
            s->slots[i] = a;
            s->n++;
        }
    }
    return 0;
}

int ssi_seen_has(const ssi_seen *s, const char *survey, const char *alert_id)
{
    return s->cap && s->slots[ssi_seen_slot(s, survey, alert_id)] != NULL;
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
