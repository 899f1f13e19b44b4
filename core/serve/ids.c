/* Alert ids as the API shows them: the survey and the kind of measurement before the survey's own
 * id, as ANTARES shows "ztf_candidate:1234" and "ztf_upper_limit:…" (README "Alert ids"). */
#include "serve_impl.h"

#include "json_text.h"

#include <stdio.h>
#include <string.h>

/* ZTF keeps ANTARES's names; other surveys are "<survey>", "<survey>_upper_limit" and
 * "<survey>_forced". */
static const char *ssi_kind_suffix(const ss_alert *a)
{
    int ztf = !strcmp(a->survey, "ztf");
    switch (a->kind) {
    case SS_ALERT_UPPER_LIMIT: return "_upper_limit";
    case SS_ALERT_FORCED: return ztf ? "_fp" : "_forced";
    default: return ztf ? "_candidate" : "";
    }
}

void ssi_alert_id_show(const ss_alert *a, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s:%s", a->survey, ssi_kind_suffix(a), a->alert_id);
}

void ssi_show_id(const char *survey, const char *alert_id, ss_alert_kind kind, char *buf,
                 size_t cap)
{
    ss_alert a = {.survey = survey, .alert_id = alert_id, .kind = kind};
    ssi_alert_id_show(&a, buf, cap);
}

int ssi_alert_id_parse(const char *shown, char *buf, size_t cap, const char **survey,
                       const char **id)
{
    static const char *const suffixes[] = {"_candidate", "_upper_limit", "_forced", "_fp"};
    *survey = NULL;
    *id = shown;
    const char *colon = strchr(shown, ':');
    if (!colon)
        return 0;
    size_t n = (size_t)(colon - shown);
    if (n == 0 || n >= cap || !colon[1])
        return -1;
    memcpy(buf, shown, n);
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t s = strlen(suffixes[i]);
        if (n > s && !strcmp(buf + n - s, suffixes[i])) {
            buf[n - s] = '\0';
            break;
        }
    }
    *survey = buf;
    *id = colon + 1;
    return 1;
}

/* An alert's JSON as the API shows it: its shown id, and the survey's own id beside it. */
void ssi_alert_json_show(json_t *aj)
{
    ss_alert a = {.survey = json_string_value(json_object_get(aj, "survey")),
                  .alert_id = json_string_value(json_object_get(aj, "alert_id"))};
    const char *kind = json_string_value(json_object_get(aj, "kind"));
    if (!a.survey || !a.alert_id || !kind)
        return;
    a.kind = !strcmp(kind, "upper_limit")         ? SS_ALERT_UPPER_LIMIT
             : !strcmp(kind, "forced_photometry") ? SS_ALERT_FORCED
                                                  : SS_ALERT_DETECTION;
    char shown[SS_ID_MAX + 64];
    ssi_alert_id_show(&a, shown, sizeof shown);
    json_object_set_new(aj, "survey_alert_id", json_string(a.alert_id));
    json_object_set_new(aj, "alert_id", ss_json_text(shown));
}
