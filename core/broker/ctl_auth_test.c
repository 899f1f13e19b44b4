/*
 * The control protocol's authentication (ctl_auth.h): a request made with the secret is accepted
 * once; changed, signed with another key, out of the broker's clock window, replayed, or sent the
 * old way (the plain secret) it is refused with its reason. Answers: a forged one is told apart.
 */
#include "ctl_auth.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "s3cr3t-of-the-unit-test"
#define T0     1760000000 /* the broker's clock in these tests */

/* A request for @p cmd / @p filter made at @p ts, as the broker parses it. */
static json_t *request(const char *secret, const char *cmd, const char *filter, int64_t ts,
                       ssi_ctl_nonce *nonce)
{
    char *text = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ssi_ctl_request(secret, cmd, filter, ts, nonce, &text, &err), 0);
    json_t *req = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(req);
    free(text);
    return req;
}

/* Check @p req (taken) at @p now against a guard of its own. @return the verdict. */
static ssi_ctl_verdict check_once(const char *secret, json_t *req, int64_t now, char *why, size_t n)
{
    ssi_ctl_guard *g = ssi_ctl_guard_new(16);
    ssi_ctl_nonce nonce;
    ck_assert_ptr_nonnull(g);
    ssi_ctl_verdict v = ssi_ctl_check(g, secret, req, now, &nonce, why, n);
    ssi_ctl_guard_free(g);
    json_decref(req);
    return v;
}

static void expect(ssi_ctl_verdict got, ssi_ctl_verdict want, const char *why, const char *word,
                   const char *what)
{
    ck_assert_msg(got == want, "%s: verdict %d, expected %d (%s)", what, got, want, why);
    ck_assert_msg(strcasestr(why, word), "%s: the reason should say '%s': %s", what, word, why);
    ck_assert_msg(!strstr(why, SECRET), "%s: the reason holds the secret: %s", what, why);
}

START_TEST(a_good_request_is_accepted)
{
    ssi_ctl_nonce sent, got;
    char why[256] = "";
    ssi_ctl_guard *g = ssi_ctl_guard_new(16);
    json_t *req = request(SECRET, "disable", "jump", T0, &sent);
    ck_assert_int_eq(ssi_ctl_check(g, SECRET, req, T0, &got, why, sizeof why), SSI_CTL_OK);
    ck_assert_mem_eq(sent.b, got.b, sizeof sent.b);
    json_decref(req);
    /* up to the window's edge either way: clocks a little apart are fine */
    req = request(SECRET, "status", NULL, T0 - SSI_CTL_WINDOW, &sent);
    ck_assert_int_eq(ssi_ctl_check(g, SECRET, req, T0, &got, why, sizeof why), SSI_CTL_OK);
    json_decref(req);
    req = request(SECRET, "status", NULL, T0 + SSI_CTL_WINDOW, &sent);
    ck_assert_int_eq(ssi_ctl_check(g, SECRET, req, T0, &got, why, sizeof why), SSI_CTL_OK);
    json_decref(req);
    ssi_ctl_guard_free(g);
}
END_TEST

START_TEST(a_changed_request_is_refused)
{
    ssi_ctl_nonce n;
    char why[256];
    json_t *req = request(SECRET, "status", NULL, T0, &n);
    json_object_set_new(req, "cmd", json_string("stop"));
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_BAD_MAC, why, "MAC",
           "cmd changed");
    req = request(SECRET, "disable", "jump", T0, &n);
    json_object_set_new(req, "filter", json_string("other"));
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_BAD_MAC, why, "MAC",
           "filter changed");
    req = request(SECRET, "disable", "", T0, &n);
    json_object_del(req, "filter"); /* an empty filter is not an absent one */
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_BAD_MAC, why, "MAC",
           "filter dropped");
    req = request(SECRET, "status", NULL, T0, &n);
    json_t *auth = json_object_get(req, "auth");
    json_object_set_new(auth, "ts", json_integer(T0 + 1));
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_BAD_MAC, why, "MAC",
           "timestamp changed");
    req = request(SECRET, "status", NULL, T0, &n);
    json_object_set_new(req, "extra", json_true());
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_MALFORMED, why, "extra",
           "a field the MAC does not cover");
}
END_TEST

START_TEST(another_key_is_refused)
{
    ssi_ctl_nonce n;
    char why[256];
    json_t *req = request("a-guess", "stop", NULL, T0, &n);
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_BAD_MAC, why, "secret",
           "wrong key");
    req = request(SECRET "x", "stop", NULL, T0, &n); /* the secret and one more byte */
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_BAD_MAC, why, "secret",
           "longer key");
    req = json_pack("{s:s}", "cmd", "stop");
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_NO_AUTH, why, "secret",
           "no authentication");
}
END_TEST

START_TEST(a_timestamp_out_of_the_window_is_refused)
{
    ssi_ctl_nonce n;
    char why[256];
    json_t *req = request(SECRET, "status", NULL, T0 - SSI_CTL_WINDOW - 1, &n);
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_CLOCK, why, "clocks are apart",
           "old timestamp");
    ck_assert_msg(strstr(why, "61 s behind"), "should say how far: %s", why);
    req = request(SECRET, "status", NULL, T0 + 3600, &n);
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_CLOCK, why, "clocks are apart",
           "future timestamp");
    ck_assert_msg(strstr(why, "3600 s ahead"), "should say how far: %s", why);
}
END_TEST

START_TEST(a_replayed_nonce_is_refused)
{
    ssi_ctl_nonce n, got;
    char why[256];
    ssi_ctl_guard *g = ssi_ctl_guard_new(16);
    json_t *req = request(SECRET, "stop", NULL, T0, &n);
    ck_assert_int_eq(ssi_ctl_check(g, SECRET, req, T0, &got, why, sizeof why), SSI_CTL_OK);
    for (int later = 0; later <= SSI_CTL_WINDOW; later += 30)
        expect(ssi_ctl_check(g, SECRET, req, T0 + later, &got, why, sizeof why), SSI_CTL_REPLAY,
               why, "replayed", "the same request again");
    /* once the nonce is forgotten, the clock refuses the request */
    expect(ssi_ctl_check(g, SECRET, req, T0 + SSI_CTL_WINDOW + 1, &got, why, sizeof why),
           SSI_CTL_CLOCK, why, "clocks", "the same request after the window");
    json_decref(req);
    ssi_ctl_guard_free(g);
}
END_TEST

START_TEST(the_plain_secret_of_old_clients_is_refused)
{
    char why[256];
    ssi_ctl_nonce n;
    json_t *req = json_pack("{s:s, s:s}", "cmd", "stop", "secret", SECRET);
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_PLAIN_SECRET, why, "upgrade",
           "old client");
    req = request(SECRET, "stop", NULL, T0, &n); /* even beside a good MAC */
    json_object_set_new(req, "secret", json_string(SECRET));
    expect(check_once(SECRET, req, T0, why, sizeof why), SSI_CTL_PLAIN_SECRET, why, "upgrade",
           "secret beside a MAC");
}
END_TEST

/* The nonce set is bounded: full of live nonces it refuses (forgetting one would let its request
 * be replayed); as they age out of the window it takes requests again. */
START_TEST(the_nonce_set_is_bounded)
{
    ssi_ctl_nonce n, got;
    char why[256];
    ssi_ctl_guard *g = ssi_ctl_guard_new(2);
    for (int i = 0; i < 3; i++) {
        json_t *req = request(SECRET, "status", NULL, T0, &n);
        ssi_ctl_verdict v = ssi_ctl_check(g, SECRET, req, T0, &got, why, sizeof why);
        json_decref(req);
        if (i < 2)
            ck_assert_int_eq(v, SSI_CTL_OK);
        else
            expect(v, SSI_CTL_BUSY, why, "requests within", "a full nonce set");
    }
    json_t *req = request(SECRET, "status", NULL, T0 + SSI_CTL_WINDOW + 1, &n);
    ck_assert_int_eq(ssi_ctl_check(g, SECRET, req, T0 + SSI_CTL_WINDOW + 1, &got, why, sizeof why),
                     SSI_CTL_OK);
    json_decref(req);
    ssi_ctl_guard_free(g);
}
END_TEST

/* What crosses the wire: the bytes of a request hold neither the secret nor its hex, and the
 * same bytes given to the broker twice work once. */
START_TEST(a_captured_request_cannot_be_replayed)
{
    ssi_ctl_nonce n, got;
    ss_err err = {0};
    char *wire = NULL, why[256], hex[2 * sizeof SECRET + 1];
    ck_assert_int_eq(ssi_ctl_request(SECRET, "stop", NULL, T0, &n, &wire, &err), 0);
    for (size_t i = 0; i < strlen(SECRET); i++)
        sprintf(hex + 2 * i, "%02x", (unsigned char)SECRET[i]);
    ck_assert_msg(!strstr(wire, SECRET) && !strstr(wire, "s3cr3t") && !strcasestr(wire, hex),
                  "the request holds the secret: %s", wire);
    ssi_ctl_guard *g = ssi_ctl_guard_new(16);
    for (int round = 0; round < 2; round++) {
        json_t *req = json_loads(wire, 0, NULL); /* the captured bytes, parsed afresh */
        ssi_ctl_verdict v = ssi_ctl_check(g, SECRET, req, T0 + round, &got, why, sizeof why);
        json_decref(req);
        if (round == 0)
            ck_assert_int_eq(v, SSI_CTL_OK);
        else
            expect(v, SSI_CTL_REPLAY, why, "replayed", "the captured request again");
    }
    ssi_ctl_guard_free(g);
    free(wire);
}
END_TEST

/* Open @p text as the answer to @p n. @return its code; @p msg gets the error's message. */
static int open_answer(const char *secret, const ssi_ctl_nonce *n, const char *text, char *msg)
{
    json_t *o = NULL;
    ss_err err = {0};
    int rc = ssi_ctl_reply_open(secret, n, text, strlen(text), &o, &err);
    ck_assert(rc || json_is_object(o));
    ck_assert(!rc || !o);
    json_decref(o);
    strcpy(msg, err.msg);
    return rc;
}

START_TEST(a_forged_answer_is_told_apart)
{
    ssi_ctl_nonce n, other;
    char msg[SS_ERR_MSG_MAX];
    json_decref(request(SECRET, "status", NULL, T0, &n));
    json_decref(request(SECRET, "status", NULL, T0, &other));
    const char *body = "{\"ok\":true,\"status\":{\"pid\":42}}";
    char *sealed = ssi_ctl_reply_seal(SECRET, &n, body);
    ck_assert_ptr_nonnull(sealed);
    ck_assert_int_eq(open_answer(SECRET, &n, sealed, msg), 0);
    ck_assert_int_eq(open_answer(SECRET, &other, sealed, msg), EBADMSG); /* another request's */
    ck_assert_msg(strstr(msg, "MAC does not verify"), "%s", msg);
    ck_assert_int_eq(open_answer("a-guess", &n, sealed, msg), EBADMSG);
    char *forged = strdup(sealed), *at = strstr(forged, "42");
    at[0] = '6'; /* the body altered on the way */
    ck_assert_int_eq(open_answer(SECRET, &n, forged, msg), EBADMSG);
    free(forged), free(sealed);
    /* without a MAC: a success is ignored, a refusal passed on as one */
    ck_assert_int_eq(open_answer(SECRET, &n, body, msg), EBADMSG);
    ck_assert_msg(strstr(msg, "not authenticated"), "%s", msg);
    ck_assert_int_eq(open_answer(SECRET, &n, "{\"ok\":false,\"error\":\"refused: x\"}", msg),
                     EACCES);
    ck_assert_msg(strstr(msg, "refused: x") && strstr(msg, "unauthenticated"), "%s", msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ctl_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, a_good_request_is_accepted);
    tcase_add_test(tc, a_changed_request_is_refused);
    tcase_add_test(tc, another_key_is_refused);
    tcase_add_test(tc, a_timestamp_out_of_the_window_is_refused);
    tcase_add_test(tc, a_replayed_nonce_is_refused);
    tcase_add_test(tc, the_plain_secret_of_old_clients_is_refused);
    tcase_add_test(tc, the_nonce_set_is_bounded);
    tcase_add_test(tc, a_captured_request_cannot_be_replayed);
    tcase_add_test(tc, a_forged_answer_is_told_apart);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
