/*
 * The JSON writer (json_text.h) against jansson: the same text for reals of every magnitude,
 * strings of any bytes, and property sets with repeated names.
 */
#include "json_text.h"
#include "testutil.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What jansson prints for @p v (a new string). */
static char *jansson_text(json_t *v)
{
    char *t = json_dumps(v, SS_JSON_FLAGS | JSON_ENCODE_ANY);
    json_decref(v);
    return t;
}

static void same_real(double v)
{
    char mine[SS_JSON_REAL_MAX];
    size_t n = ss_json_real_text(v, mine);
    char *want = jansson_text(json_real(v));
    ck_assert_msg(!strcmp(mine, want) && n == strlen(want), "%.17g: wrote %s, jansson %s", v, mine,
                  want);
    free(want);
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

START_TEST(reals_as_jansson_prints_them)
{
    static const double edges[] = {0.0,
                                   -0.0,
                                   0.1,
                                   1.0,
                                   -1.0,
                                   1e15,
                                   1e14,
                                   1e-5,
                                   1e-4,
                                   9.9999999999999995e-5,
                                   123456789012345678.0,
                                   0.5,
                                   2.5,
                                   1e300,
                                   1e-300,
                                   5e-324,
                                   1.7976931348623157e308,
                                   60000.1,
                                   19.6279,
                                   58849.5781133999,
                                   2458224.7012384};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
        same_real(edges[i]), same_real(-edges[i]);
    uint64_t s = 88172645463325252ULL;
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = next(&s);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v))
            same_real(v); /* any double */
        double scale = pow(10, (double)(next(&s) % 40) - 20);
        same_real((double)(next(&s) % 100000000) / 1e4 * scale);  /* few digits, any magnitude */
        same_real(60000 + (double)(next(&s) % 1000000000) / 1e6); /* MJDs */
        same_real((double)(next(&s) % 360000000) / 1e6);          /* positions */
    }
}
END_TEST

START_TEST(integers_as_jansson_prints_them)
{
    uint64_t s = 7;
    for (int i = 0; i < 100000; i++) {
        long long v = (long long)next(&s) >> (next(&s) % 64);
        if (i < 3)
            v = i == 0 ? LLONG_MIN : i == 1 ? LLONG_MAX : 0;
        ss_wbuf b = {0};
        ss_jw w;
        ss_jw_init(&w, &b);
        ss_jw_int(&w, v);
        char *want = jansson_text(json_integer(v));
        ck_assert_msg(b.len == strlen(want) && !memcmp(b.data, want, b.len), "%lld", v);
        free(want);
        ss_wbuf_free(&b);
    }
}
END_TEST

static void same_string(const char *s, size_t n)
{
    ss_wbuf b = {0};
    ss_jw w;
    ss_jw_init(&w, &b);
    ss_jw_strn(&w, s, n);
    char *want = jansson_text(ss_json_textn(s, n));
    ck_assert_msg(b.len == strlen(want) && !memcmp(b.data, want, b.len), "wrote %.*s, jansson %s",
                  (int)b.len, b.data, want);
    free(want);
    ss_wbuf_free(&b);
}

START_TEST(strings_of_any_bytes)
{
    same_string("plain", 5);
    same_string("quote\" slash\\ /tab\t nl\n cr\r bs\b ff\f nul\0 esc\x1b", 39);
    same_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xad", 14);
    same_string("latin-1 caf\xe9", 12);        /* not UTF-8: every high byte replaced */
    same_string("\xed\xa0\x80 surrogate", 13); /* UTF-16 surrogates are not UTF-8 */
    same_string("\xc0\xaf overlong", 11);
    uint64_t s = 1;
    char buf[64];
    for (int i = 0; i < 100000; i++) {
        size_t n = next(&s) % sizeof buf;
        for (size_t k = 0; k < n; k++)
            buf[k] = (char)(next(&s) % 4 ? next(&s) % 0x80 : next(&s) % 256);
        same_string(buf, n);
    }
}
END_TEST

/* Nested values and repeated property names: one text, as built and printed by jansson. */
START_TEST(objects_and_repeated_properties)
{
    ss_prop a[] = {{.name = "x", .value = {.type = SS_TYPE_INT, .u.i = 1}},
                   {.name = "y", .value = {.type = SS_TYPE_FLOAT, .u.f = NAN}},
                   {.name = "s", .value = {.type = SS_TYPE_STRING, .u.s = {"t", 1}}}};
    ss_prop b[] = {{.name = "x", .value = {.type = SS_TYPE_BOOL, .u.b = 1}},
                   {.name = "z", .value = {.type = SS_TYPE_NULL}},
                   {.name = "y", .value = {.type = SS_TYPE_FLOAT, .u.f = 2.5}}};
    json_t *o = json_object(), *arr = json_array();
    ss_json_props(o, a, 3);
    ss_json_props(o, b, 3);
    json_array_append_new(arr, json_integer(-7));
    json_array_append_new(arr, json_object());
    json_object_set_new(o, "list", arr);
    char *want = jansson_text(o);
    ss_wbuf buf = {0};
    ss_jw w;
    ss_jw_init(&w, &buf);
    ss_jw_open(&w, '{');
    ss_jw_props(&w, (ss_jw_set[]){{a, 3}, {b, 3}}, 2);
    ss_jw_key(&w, "list");
    ss_jw_open(&w, '[');
    ss_jw_int(&w, -7);
    ss_jw_open(&w, '{');
    ss_jw_close(&w, '}');
    ss_jw_close(&w, ']');
    ss_jw_close(&w, '}');
    ck_assert_msg(buf.len == strlen(want) && !memcmp(buf.data, want, buf.len),
                  "wrote %.*s, jansson %s", (int)buf.len, buf.data, want);
    free(want);
    ss_wbuf_free(&buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_write");
    TCase *tc = tcase_create("writer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reals_as_jansson_prints_them);
    tcase_add_test(tc, integers_as_jansson_prints_them);
    tcase_add_test(tc, strings_of_any_bytes);
    tcase_add_test(tc, objects_and_repeated_properties);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
