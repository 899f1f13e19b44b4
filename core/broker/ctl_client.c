/* The client side of the control socket (broker.h): one request, one answer; with a secret,
 * both authenticated (ctl_auth.h). */
#include "broker.h"
#include "ctl_auth.h"

#include <errno.h>
#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One request, one answer. @return the answer (caller frees with nn_freemsg) or NULL. */
static char *ssi_ctl_ask(const char *address, const char *req, double timeout, int *len,
                         ss_err *err)
{
    int s = nn_socket(AF_SP, NN_REQ), ms = (int)(timeout * 1000);
    char *reply = NULL;
    if (s < 0 || nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof ms) < 0 ||
        nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof ms) < 0 ||
        nn_connect(s, address) < 0 || nn_send(s, req, strlen(req), 0) < 0 ||
        (*len = nn_recv(s, &reply, NN_MSG, 0)) < 0) {
        int e = nn_errno();
        ss_err_set(err, e, "%s: %s", address,
                   e == ETIMEDOUT ? "no broker answered (is it running? is this its control "
                                    "address?)"
                                  : nn_strerror(e));
        reply = NULL;
    }
    if (s >= 0)
        nn_close(s);
    return reply;
}

/* The request's text: authenticated (ctl_auth.h) when there is a secret, else plain.
 * @return the text (malloc'd, owned by the caller) or NULL with @p err set. */
static char *ssi_ctl_text(const char *secret, const char *cmd, const char *filter,
                          ssi_ctl_nonce *nonce, ss_err *err)
{
    char *text = NULL;
    if (secret) {
        ssi_ctl_request(secret, cmd, filter, (int64_t)time(NULL), nonce, &text, err);
        return text;
    }
    json_t *req = json_pack("{s:s}", "cmd", cmd);
    if (req && filter)
        json_object_set_new(req, "filter", json_string(filter));
    text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text)
        ss_err_set(err, SS_ENOMEM, "out of memory");
    return text;
}

/* The answer to a request with a secret must carry the MAC of its nonce (ctl_auth.h). */
static int ssi_ctl_open(const char *address, const char *secret, const ssi_ctl_nonce *nonce,
                        const char *answer, int len, json_t **reply, ss_err *err)
{
    json_error_t je;
    if (secret)
        return ssi_ctl_reply_open(secret, nonce, answer, (size_t)len, reply, err)
                   ? ss_err_prefix(err, "%s", address)
                   : 0;
    *reply = json_loadb(answer, (size_t)len, 0, &je);
    return *reply ? 0 : ss_err_set(err, SS_EFORMAT, "%s: the broker's answer is not JSON", address);
}

int ss_broker_ctl(const char *address, const char *secret, const char *cmd, const char *filter,
                  double timeout, json_t **reply, ss_err *err)
{
    ssi_ctl_nonce nonce;
    char *text = ssi_ctl_text(secret, cmd, filter, &nonce, err);
    int len = 0;
    char *answer = text ? ssi_ctl_ask(address, text, timeout, &len, err) : NULL;
    free(text);
    if (!answer && err->code == ETIMEDOUT && !strcmp(cmd, "reload"))
        return ss_err_set(err, ETIMEDOUT,
                          "%s: no answer to reload within %g s: the new filter set may still be "
                          "loading (`ctl status` shows loading_generation meanwhile); --timeout "
                          "waits longer",
                          address, timeout);
    if (!answer)
        return err->code ? err->code : ss_err_set(err, SS_ENOMEM, "out of memory");
    int rc = ssi_ctl_open(address, secret, &nonce, answer, len, reply, err);
    nn_freemsg(answer);
    return rc;
}
