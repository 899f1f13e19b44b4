/* Authentication of the control protocol (ctl_auth.h): HMAC-SHA256 with OpenSSL's libcrypto. */
#include "ctl_auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SSI_MAC_BYTES 32
/* Distinct tags (with their NUL) keep a request's MAC from ever verifying as an answer's. */
static const char ssi_tag_req[] = "skysieve ctl request " SSI_CTL_AUTH_VERSION;
static const char ssi_tag_rep[] = "skysieve ctl answer " SSI_CTL_AUTH_VERSION;

/* ---- MAC input: every field length-prefixed, so that no two messages share it ---- */

static unsigned char *ssi_put(unsigned char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static unsigned char *ssi_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *ssi_put_str(unsigned char *p, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    *p++ = s != NULL; /* an absent filter is not an empty one */
    p = ssi_put_u64(p, n);
    return ssi_put(p, s ? s : "", n);
}

static int ssi_hmac(const char *secret, const unsigned char *in, size_t n,
                    unsigned char mac[SSI_MAC_BYTES])
{
    unsigned int got = 0;
    return HMAC(EVP_sha256(), secret, (int)strlen(secret), in, n, mac, &got) && got == SSI_MAC_BYTES
               ? 0
               : -1;
}

static int ssi_request_mac(const char *secret, int64_t ts, const ssi_ctl_nonce *nonce,
                           const char *cmd, const char *filter, unsigned char mac[SSI_MAC_BYTES])
{
    size_t n = sizeof ssi_tag_req + 8 + sizeof nonce->b + 2 * 9 + strlen(cmd) +
               (filter ? strlen(filter) : 0);
    unsigned char *in = malloc(n), *p = in;
    if (!in)
        return -1;
    p = ssi_put(p, ssi_tag_req, sizeof ssi_tag_req);
    p = ssi_put_u64(p, (uint64_t)ts);
    p = ssi_put(p, nonce->b, sizeof nonce->b);
    p = ssi_put_str(p, cmd);
    p = ssi_put_str(p, filter);
    int rc = ssi_hmac(secret, in, (size_t)(p - in), mac);
    free(in);
    return rc;
}

static int ssi_reply_mac(const char *secret, const ssi_ctl_nonce *nonce, const char *body,
                         size_t blen, unsigned char mac[SSI_MAC_BYTES])
{
    size_t n = sizeof ssi_tag_rep + sizeof nonce->b + 8 + blen;
    unsigned char *in = malloc(n), *p = in;
    if (!in)
        return -1;
    p = ssi_put(p, ssi_tag_rep, sizeof ssi_tag_rep);
    p = ssi_put(p, nonce->b, sizeof nonce->b);
    p = ssi_put_u64(p, blen);
    p = ssi_put(p, body, blen);
    int rc = ssi_hmac(secret, in, (size_t)(p - in), mac);
    free(in);
    return rc;
}

/* ---- hex ---- */

static void ssi_hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int ssi_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* @return 0 when @p s is exactly 2 * @p n lower-case hex digits, decoded into @p b. */
static int ssi_unhex(const char *s, unsigned char *b, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = ssi_nibble(s[2 * i]), lo = ssi_nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* ---- the client's request ---- */

static int ssi_random(void *buf, size_t n, ss_err *err)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return ss_err_set(err, errno, "getrandom (a request's nonce): %s", strerror(errno));
        p += got, n -= (size_t)got;
    }
    return 0;
}

int ssi_ctl_request(const char *secret, const char *cmd, const char *filter, int64_t now,
                    ssi_ctl_nonce *nonce, char **text, ss_err *err)
{
    unsigned char mac[SSI_MAC_BYTES];
    char nhex[2 * SSI_CTL_NONCE_BYTES + 1], mhex[2 * SSI_MAC_BYTES + 1];
    *text = NULL;
    if (ssi_random(nonce->b, sizeof nonce->b, err))
        return err->code;
    if (ssi_request_mac(secret, now, nonce, cmd, filter, mac))
        return ss_err_set(err, SS_ENOMEM, "cannot compute the request's MAC (out of memory?)");
    ssi_hex(nonce->b, sizeof nonce->b, nhex);
    ssi_hex(mac, sizeof mac, mhex);
    json_t *req =
        json_pack("{s:s, s:{s:s, s:I, s:s, s:s}}", "cmd", cmd, "auth", "v", SSI_CTL_AUTH_VERSION,
                  "ts", (json_int_t)now, "nonce", nhex, "mac", mhex);
    if (req && filter)
        json_object_set_new(req, "filter", json_string(filter));
    *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return *text ? 0 : ss_err_set(err, SS_ENOMEM, "out of memory");
}

/* ---- the broker's check ---- */

struct ssi_ctl_guard {
    size_t n, cap;
    struct ssi_seen {
        ssi_ctl_nonce nonce;
        int64_t ts;
    } * seen;
};

ssi_ctl_guard *ssi_ctl_guard_new(size_t cap)
{
    ssi_ctl_guard *g = calloc(1, sizeof *g);
    if (g && !(g->seen = calloc(cap ? cap : 1, sizeof *g->seen))) {
        free(g);
        return NULL;
    }
    if (g)
        g->cap = cap ? cap : 1;
    return g;
}

void ssi_ctl_guard_free(ssi_ctl_guard *g)
{
    if (g)
        free(g->seen);
    free(g);
}

/* A nonce whose ts is out of the window may go: its request would be refused by the clock. */
static void ssi_guard_expire(ssi_ctl_guard *g, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++)
        if (g->seen[i].ts + SSI_CTL_WINDOW >= now)
            g->seen[k++] = g->seen[i];
    g->n = k;
}

static ssi_ctl_verdict ssi_guard_take(ssi_ctl_guard *g, const ssi_ctl_nonce *nonce, int64_t ts,
                                      int64_t now, char *why, size_t whylen)
{
    ssi_guard_expire(g, now);
    for (size_t i = 0; i < g->n; i++)
        if (!memcmp(g->seen[i].nonce.b, nonce->b, sizeof nonce->b)) {
            snprintf(why, whylen,
                     "a replayed request (its nonce was already used within the last %d s)",
                     SSI_CTL_WINDOW);
            return SSI_CTL_REPLAY;
        }
    if (g->n == g->cap) { /* forgetting a nonce would let its request be replayed: refuse */
        snprintf(why, whylen, "more than %zu control requests within %d s: try again later", g->cap,
                 SSI_CTL_WINDOW);
        return SSI_CTL_BUSY;
    }
    g->seen[g->n++] = (struct ssi_seen){*nonce, ts};
    return SSI_CTL_OK;
}

/* Only fields the MAC covers may be acted on: any other is refused. */
static ssi_ctl_verdict ssi_check_fields(const json_t *req, char *why, size_t whylen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)req, k, v)
    {
        if (strcmp(k, "cmd") && strcmp(k, "filter") && strcmp(k, "auth")) {
            snprintf(why, whylen,
                     "the request has the field \"%.40s\", which its MAC does not cover", k);
            return SSI_CTL_MALFORMED;
        }
    }
    const json_t *f = json_object_get(req, "filter");
    if (!json_is_string(json_object_get(req, "cmd")) || (f && !json_is_string(f))) {
        snprintf(why, whylen, "the request needs a string \"cmd\" (and \"filter\", if any)");
        return SSI_CTL_MALFORMED;
    }
    return SSI_CTL_OK;
}

static ssi_ctl_verdict ssi_check_form(const json_t *req, int64_t *ts, ssi_ctl_nonce *nonce,
                                      unsigned char mac[SSI_MAC_BYTES], char *why, size_t whylen)
{
    if (json_object_get(req, "secret")) {
        snprintf(why, whylen,
                 "the request carries the secret itself, as clients older than this broker do: "
                 "upgrade skysieve on the client's side (the secret no longer crosses the wire)");
        return SSI_CTL_PLAIN_SECRET;
    }
    const json_t *a = json_object_get(req, "auth");
    if (!json_is_object(a)) {
        snprintf(why, whylen,
                 "the request is not authenticated: this control socket needs the shared secret "
                 "(ctl --secret-file F, or --config)");
        return SSI_CTL_NO_AUTH;
    }
    ssi_ctl_verdict v = ssi_check_fields(req, why, whylen);
    if (v)
        return v;
    const char *ver = json_string_value(json_object_get(a, "v"));
    if (!ver || strcmp(ver, SSI_CTL_AUTH_VERSION)) {
        snprintf(why, whylen, "unknown authentication version '%.32s' (this broker speaks %s)",
                 ver ? ver : "", SSI_CTL_AUTH_VERSION);
        return SSI_CTL_MALFORMED;
    }
    const json_t *t = json_object_get(a, "ts");
    if (!json_is_integer(t) ||
        ssi_unhex(json_string_value(json_object_get(a, "nonce")), nonce->b, sizeof nonce->b) ||
        ssi_unhex(json_string_value(json_object_get(a, "mac")), mac, SSI_MAC_BYTES)) {
        snprintf(why, whylen,
                 "the request's auth needs an integer ts, a %d-digit hex nonce and "
                 "a 64-digit hex mac",
                 2 * SSI_CTL_NONCE_BYTES);
        return SSI_CTL_MALFORMED;
    }
    *ts = (int64_t)json_integer_value(t);
    return SSI_CTL_OK;
}

static ssi_ctl_verdict ssi_check_clock(int64_t ts, int64_t now, char *why, size_t whylen)
{
    int64_t d = ts - now;
    if (d <= SSI_CTL_WINDOW && d >= -SSI_CTL_WINDOW)
        return SSI_CTL_OK;
    snprintf(why, whylen,
             "the request's timestamp is %lld s %s the broker's clock (more than %d s): the two "
             "clocks are apart (synchronise them, e.g. NTP), or an old request was replayed",
             (long long)(d < 0 ? -d : d), d < 0 ? "behind" : "ahead of", SSI_CTL_WINDOW);
    return SSI_CTL_CLOCK;
}

ssi_ctl_verdict ssi_ctl_check(ssi_ctl_guard *g, const char *secret, const json_t *req, int64_t now,
                              ssi_ctl_nonce *nonce, char *why, size_t whylen)
{
    int64_t ts = 0;
    unsigned char got[SSI_MAC_BYTES], want[SSI_MAC_BYTES];
    ssi_ctl_verdict v = ssi_check_form(req, &ts, nonce, got, why, whylen);
    if (v)
        return v;
    /* the MAC first: the clock and the nonce set answer only requests from a key holder */
    if (ssi_request_mac(secret, ts, nonce, json_string_value(json_object_get(req, "cmd")),
                        json_string_value(json_object_get(req, "filter")), want) ||
        CRYPTO_memcmp(got, want, sizeof want)) {
        snprintf(why, whylen,
                 "the request's MAC does not verify: a wrong or missing secret, or a request "
                 "altered on the way");
        return SSI_CTL_BAD_MAC;
    }
    if ((v = ssi_check_clock(ts, now, why, whylen)))
        return v;
    return ssi_guard_take(g, nonce, ts, now, why, whylen);
}

/* ---- the answer ---- */

char *ssi_ctl_reply_seal(const char *secret, const ssi_ctl_nonce *nonce, const char *body)
{
    unsigned char mac[SSI_MAC_BYTES];
    char mhex[2 * SSI_MAC_BYTES + 1];
    if (ssi_reply_mac(secret, nonce, body, strlen(body), mac))
        return NULL;
    ssi_hex(mac, sizeof mac, mhex);
    json_t *o = json_pack("{s:s, s:s, s:s}", "v", SSI_CTL_AUTH_VERSION, "body", body, "mac", mhex);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* An answer without a MAC: a refusal is passed on as one; anything else may be forged. */
static int ssi_open_plain(const json_t *o, ss_err *err)
{
    const char *e = json_string_value(json_object_get(o, "error"));
    if (json_is_false(json_object_get(o, "ok")) && e)
        return ss_err_set(err, EACCES, "%s (an unauthenticated answer)", e);
    return ss_err_set(err, EBADMSG,
                      "the answer is not authenticated: not from a broker holding this secret "
                      "(forged, or a broker without secret_file); ignored");
}

int ssi_ctl_reply_open(const char *secret, const ssi_ctl_nonce *nonce, const char *text, size_t len,
                       json_t **reply, ss_err *err)
{
    json_error_t je;
    unsigned char got[SSI_MAC_BYTES], want[SSI_MAC_BYTES];
    *reply = NULL;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return ss_err_set(err, SS_EFORMAT, "the broker's answer is not a JSON object");
    }
    json_t *body = json_object_get(o, "body");
    int rc = 0;
    if (!json_object_get(o, "mac"))
        rc = ssi_open_plain(o, err);
    else if (!json_is_string(body) ||
             ssi_unhex(json_string_value(json_object_get(o, "mac")), got, sizeof got) ||
             ssi_reply_mac(secret, nonce, json_string_value(body), json_string_length(body),
                           want) ||
             CRYPTO_memcmp(got, want, sizeof want))
        rc = ss_err_set(err, EBADMSG,
                        "the answer's MAC does not verify: a forged or altered answer, or one from "
                        "a broker with another secret; ignored");
    else if (!(*reply = json_loadb(json_string_value(body), json_string_length(body), 0, &je)))
        rc = ss_err_set(err, SS_EFORMAT, "the broker's answer is not JSON");
    json_decref(o);
    return rc;
}
