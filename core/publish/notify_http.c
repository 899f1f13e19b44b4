/* Webhooks (notify_impl.h): the Slack-compatible payload, one POST with libcurl's easy API, and
 * URLs as logs may show them. */
#include "notify_impl.h"

#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the payload ---- */

/* Slack reads <...> as a link or a mention and & as an entity: escaped, names stay plain text. */
static void ssi_text_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
    }
}

/* A string, an integer, or a real with @p prec decimals (%g when negative). */
static void ssi_text_val(FILE *f, const json_t *v, int prec)
{
    if (json_is_string(v))
        ssi_text_str(f, json_string_value(v));
    else if (json_is_integer(v))
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v) && prec < 0)
        fprintf(f, "%g", json_real_value(v));
    else if (json_is_real(v))
        fprintf(f, "%.*f", prec, json_real_value(v));
    else
        fputc('?', f);
}

/* "Watch list L: O matched locus X at RA r Dec d (s" away). S alert A: b = m mag at MJD t." */
static void ssi_text(FILE *f, const char *list, const json_t *e)
{
    const json_t *sep = json_object_get(e, "separation_arcsec");
    const json_t *survey = json_object_get(e, "survey"), *alert = json_object_get(e, "alert_id");
    const json_t *band = json_object_get(e, "passband"), *mag = json_object_get(e, "mag");
    const json_t *mjd = json_object_get(e, "mjd");
    fputs("Watch list ", f);
    ssi_text_str(f, list);
    fputs(": ", f);
    ssi_text_val(f, json_object_get(e, "object"), -1);
    fputs(" matched locus ", f);
    ssi_text_val(f, json_object_get(e, "locus_id"), -1);
    fputs(" at RA ", f);
    ssi_text_val(f, json_object_get(e, "ra"), 6);
    fputs(" Dec ", f);
    ssi_text_val(f, json_object_get(e, "dec"), 6);
    if (json_is_number(sep))
        fprintf(f, " (%.2f\" away)", json_number_value(sep));
    if (json_is_string(survey) || alert)
        fputs(".", f);
    if (json_is_string(survey))
        fputc(' ', f), ssi_text_str(f, json_string_value(survey));
    if (alert)
        fputs(" alert ", f), ssi_text_val(f, alert, 0);
    if (json_is_number(mag)) {
        fputs(json_is_string(survey) || alert ? ": " : ". ", f);
        if (json_is_string(band))
            ssi_text_str(f, json_string_value(band)), fputs(" = ", f);
        fprintf(f, "%.3f mag", json_number_value(mag));
    }
    if (json_is_number(mjd))
        fprintf(f, " at MJD %.5f", json_number_value(mjd));
    fputc('.', f);
}

char *ssi_notify_payload(const char *list, json_t *entry)
{
    char *text = NULL, *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    ssi_text(f, list, entry);
    if (fclose(f))
        return free(text), NULL;
    json_t *fields = json_deep_copy(entry);
    if (fields)
        json_object_del(fields, "webhook"); /* the receiver knows its own address */
    json_t *p = fields ? json_pack("{s:s, s:o}", "text", text, "skysieve", fields) : NULL;
    if (p)
        out = json_dumps(p, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(p);
    free(text);
    return out;
}

/* ---- URLs ---- */

void ssi_url_public(const char *url, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0))
        snprintf(out, cap, "(not a URL)");
    else {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0))
            port = NULL;
        if (curl_url_get(u, CURLUPART_PATH, &path, 0))
            path = NULL;
        snprintf(out, cap, "%s://%s%s%s/%s", scheme, host, port ? ":" : "", port ? port : "",
                 path && strcmp(path, "/") ? "..." : "");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

int ssi_url_ok(const char *url, char *why, size_t cap)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = 0;
    if (!u)
        snprintf(why, cap, "out of memory");
    else if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ||
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0))
        snprintf(why, cap, "not a URL");
    else if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))
        snprintf(why, cap, "the scheme is %s, not http or https", scheme);
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) || !host[0])
        snprintf(why, cap, "no host");
    else
        ok = 1;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* ---- one POST ---- */

static size_t ssi_keep_body(char *p, size_t size, size_t n, void *ctx)
{
    ssi_http *h = ctx;
    size_t len = size * n, room = sizeof h->body - 1 - h->nbody, k = len < room ? len : room;
    for (size_t i = 0; i < k; i++) /* quoted in one log line */
        h->body[h->nbody++] = (unsigned char)p[i] < 0x20 ? ' ' : p[i];
    h->body[h->nbody] = '\0';
    return len;
}

/* Called at least about once a second while a transfer waits: stopping aborts it. */
static int ssi_check_stop(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(((ssi_http *)ctx)->stop) ? 1 : 0;
}

int ssi_http_init(ssi_http *h, const atomic_int *stop)
{
    *h = (ssi_http){.stop = stop};
    struct curl_slist *a = curl_slist_append(NULL, "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip (a one-second wait on servers that ignore it) */
    struct curl_slist *b = a ? curl_slist_append(a, "Expect:") : NULL;
    h->headers = b ? b : a;
    if (!b || !(h->curl = curl_easy_init())) {
        ssi_http_free(h);
        return SS_ENOMEM;
    }
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for resolver timeouts */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirected POST is an error */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "skysieve-notify/1");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ssi_keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, ssi_check_stop);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    return 0;
}

void ssi_http_free(ssi_http *h)
{
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    h->curl = NULL;
    h->headers = NULL;
}

/* A transfer that failed: errors in the address are permanent, the others may pass. */
static ssi_nresult ssi_curl_failed(ssi_http *h, CURLcode rc, char *why, size_t cap)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK && atomic_load(h->stop))
        return snprintf(why, cap, "stopped"), SSI_N_STOPPED;
    snprintf(why, cap, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
    return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? SSI_N_PERMANENT
                                                                         : SSI_N_RETRY;
}

ssi_nresult ssi_http_post(ssi_http *h, const char *url, const char *body, size_t len,
                          double timeout, char *why, size_t cap, double *retry_after)
{
    CURL *c = h->curl;
    long ms = (long)(timeout * 1000), status = 0;
    curl_off_t ra = 0;
    h->nbody = 0;
    h->body[0] = h->errbuf[0] = '\0';
    *retry_after = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        return ssi_curl_failed(h, rc, why, cap);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return SSI_N_DELIVERED;
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        *retry_after = (double)ra;
    snprintf(why, cap, "HTTP %ld%s%s%s", status, h->nbody ? " \"" : "", h->body,
             h->nbody ? "\"" : "");
    if (status >= 300 && status < 400)
        snprintf(why + strlen(why), cap - strlen(why), " (redirects are not followed)");
    return status == 429 || status >= 500 ? SSI_N_RETRY : SSI_N_PERMANENT;
}
