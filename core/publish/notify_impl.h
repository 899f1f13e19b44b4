/**
 * @file notify_impl.h
 * @brief Private to the notifier: the webhook side (notify_http.c) used by the spool and the
 * delivery thread (notify.c).
 */
#ifndef SS_NOTIFY_IMPL_H
#define SS_NOTIFY_IMPL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

/** What became of one POST. */
typedef enum ssi_nresult {
    SSI_N_DELIVERED, /* 2xx */
    SSI_N_RETRY,     /* 429, 5xx, a network error or a timeout */
    SSI_N_PERMANENT, /* any other answer: sending it again would get the same one */
    SSI_N_STOPPED    /* aborted because the notifier stops: not an attempt */
} ssi_nresult;

/** One delivery thread's HTTP client: a reused easy handle (connections are kept alive). */
typedef struct ssi_http {
    CURL *curl;
    struct curl_slist *headers;
    const atomic_int *stop; /* the notifier's: set, the transfer in flight is aborted */
    char body[160];         /* the start of the answer, quoted in errors */
    size_t nbody;
    char errbuf[CURL_ERROR_SIZE];
} ssi_http;

/** @return 0, or SS_ENOMEM. */
int ssi_http_init(ssi_http *h, const atomic_int *stop);
void ssi_http_free(ssi_http *h);

/**
 * POST @p len bytes of JSON to @p url within @p timeout seconds.
 * @param[out] why the reason when not delivered, one line.
 * @param[out] retry_after the server's Retry-After in seconds, or 0.
 */
ssi_nresult ssi_http_post(ssi_http *h, const char *url, const char *body, size_t len,
                          double timeout, char *why, size_t cap, double *retry_after);

/** The Slack-compatible payload for @p entry: {"text": "...", "skysieve": {entry less webhook}}.
 * @return malloc'd JSON owned by the caller, or NULL when out of memory. */
char *ssi_notify_payload(const char *list, json_t *entry);

/** @p url as logs may show it: scheme://host[:port]/..., without user, password, path, query or
 * fragment, any of which may be the secret (a Slack webhook's path is). Written to @p out. */
void ssi_url_public(const char *url, char *out, size_t cap);

/** @return 1 when @p url is an http:// or https:// URL with a host, else 0 with @p why. */
int ssi_url_ok(const char *url, char *why, size_t cap);

#endif
