/**
 * @file ctl_auth.h
 * @brief Private to the broker: authentication of the control protocol (ctl_client.c asks,
 * broker.c answers) with a shared secret that never crosses the wire.
 *
 * A request is a JSON object {"cmd", "filter"?, "auth": {"v", "ts", "nonce", "mac"}}: "ts" is the
 * client's clock in unix seconds, "nonce" 128 random bits (getrandom) in hex, "mac" the
 * HMAC-SHA256, keyed by the secret, of a version tag, ts, the nonce, cmd and filter, each
 * length-prefixed so that no two requests share their MAC input. The broker refuses a request
 * whose MAC does not verify, whose ts is more than SSI_CTL_WINDOW s from its clock, whose nonce it
 * has seen (a replay), that carries any other field (not covered by the MAC), or that still
 * carries the plain "secret" of older clients.
 *
 * An accepted request's answer is {"v", "body", "mac"}: body is the answer's JSON text, mac the
 * HMAC of another tag, the request's nonce and body, so the client can tell a forged answer or one
 * to another request. Refusals are sent unauthenticated (the broker cannot tell whether the client
 * holds the secret); the client takes them as refusals only, never as success.
 *
 * What this does not do: encrypt. Commands and answers (the status) travel in clear.
 */
#ifndef SS_CTL_AUTH_H
#define SS_CTL_AUTH_H

#include "err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SSI_CTL_AUTH_VERSION "ss-ctl-1"
#define SSI_CTL_WINDOW       60 /* seconds a request's ts may be from the broker's clock */
#define SSI_CTL_NONCE_BYTES  16
#define SSI_CTL_GUARD_CAP    4096 /* nonces remembered within a window: requests, not clients */

/** A request's nonce: chosen by the client, echoed in the answer's MAC. */
typedef struct ssi_ctl_nonce {
    unsigned char b[SSI_CTL_NONCE_BYTES];
} ssi_ctl_nonce;

/** Why a request was refused (ssi_ctl_check()); 0 when it was accepted. */
typedef enum ssi_ctl_verdict {
    SSI_CTL_OK = 0,
    SSI_CTL_PLAIN_SECRET, /* an old client sending the secret itself */
    SSI_CTL_NO_AUTH,      /* no "auth" at all */
    SSI_CTL_MALFORMED,    /* an unknown version or field, a bad ts, nonce or mac encoding */
    SSI_CTL_BAD_MAC,      /* a wrong secret, or an altered request */
    SSI_CTL_CLOCK,        /* ts more than SSI_CTL_WINDOW s from the broker's clock */
    SSI_CTL_REPLAY,       /* the nonce was already used within the window */
    SSI_CTL_BUSY          /* more than the guard's capacity of requests within the window */
} ssi_ctl_verdict;

/**
 * The request for @p cmd (and @p filter, or NULL) at the unix time @p now, with a fresh nonce.
 * @param[out] nonce the request's nonce, to check its answer with.
 * @param[out] text the request's JSON text, malloc'd, owned by the caller.
 * @return 0; an errno code (getrandom) or SS_ENOMEM, with @p err saying which.
 */
int ssi_ctl_request(const char *secret, const char *cmd, const char *filter, int64_t now,
                    ssi_ctl_nonce *nonce, char **text, ss_err *err);

/** The nonces seen within the last window (a bounded set): owned by the broker. */
typedef struct ssi_ctl_guard ssi_ctl_guard;

/** @p cap: the most nonces remembered (SSI_CTL_GUARD_CAP). @return the guard, or NULL (memory). */
ssi_ctl_guard *ssi_ctl_guard_new(size_t cap);
void ssi_ctl_guard_free(ssi_ctl_guard *g);

/**
 * Check @p req against @p secret at the broker's unix time @p now; an accepted nonce is remembered
 * in @p g so that the same request is refused when it comes again.
 * @param[out] nonce the request's nonce, to authenticate its answer with (when accepted).
 * @param[out] why the reason of a refusal, one line without the secret, for the reply and the log.
 * @return SSI_CTL_OK, or the reason's kind.
 */
ssi_ctl_verdict ssi_ctl_check(ssi_ctl_guard *g, const char *secret, const json_t *req, int64_t now,
                              ssi_ctl_nonce *nonce, char *why, size_t whylen);

/** The authenticated answer wrapping @p body (JSON text) for the request of @p nonce.
 * @return its text, malloc'd, owned by the caller; NULL when out of memory. */
char *ssi_ctl_reply_seal(const char *secret, const ssi_ctl_nonce *nonce, const char *body);

/**
 * Open the broker's answer (@p len bytes of @p text) to the request of @p nonce.
 * @param[out] reply the answer's JSON, owned by the caller, when it is authenticated.
 * @return 0; EBADMSG when the answer's MAC does not verify or an unauthenticated answer claims
 *         anything but a refusal; EACCES for an (unauthenticated) refusal; SS_EFORMAT when it is
 *         not JSON. @p err says which.
 */
int ssi_ctl_reply_open(const char *secret, const ssi_ctl_nonce *nonce, const char *text, size_t len,
                       json_t **reply, ss_err *err);

#endif
