#include "json_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *ss_json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

double ss_json_num_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

json_t *ss_json_textn(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *fixed = malloc(n * 3 + 1);
    size_t m = 0;
    for (size_t i = 0; fixed && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            fixed[m++] = (char)c;
        } else {
            memcpy(fixed + m, "\xef\xbf\xbd", 3);
            m += 3;
        }
    }
    j = fixed ? json_stringn(fixed, m) : json_null();
    free(fixed);
    return j;
}

json_t *ss_json_text(const char *s)
{
    return s ? ss_json_textn(s, strlen(s)) : json_null();
}

void ss_json_iso_text(double unix_time, char out[32])
{
    time_t t = (time_t)unix_time;
    struct tm tm;
    out[0] = '\0';
    if (gmtime_r(&t, &tm))
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *ss_json_iso_time(double unix_time)
{
    char iso[32];
    ss_json_iso_text(unix_time, iso);
    return json_string(iso);
}

json_t *ss_json_value(const ss_value *v)
{
    switch (v->type) {
    case SS_TYPE_INT: return json_integer(v->u.i);
    case SS_TYPE_FLOAT: return ss_json_num(v->u.f);
    case SS_TYPE_BOOL: return json_boolean(v->u.b);
    case SS_TYPE_STRING: return ss_json_textn(v->u.s.ptr, v->u.s.len);
    case SS_TYPE_NULL: break;
    }
    return json_null();
}

void ss_json_props(json_t *obj, const ss_prop *props, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_object_set_new(obj, props[i].name, ss_json_value(&props[i].value));
}
