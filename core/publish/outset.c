/* The fan-out: every event a command publishes goes to each output it opened. */
#include "publish.h"

int ss_publish_set_add(ss_publish_set *set, const ss_output_ops *ops, void *impl, ss_err *err)
{
    if (set->n == SS_PUBLISH_MAX_OUTPUTS) {
        ops->close(impl);
        return ss_err_set(err, SS_EINVAL, "output %s: at most %d outputs", ops->name,
                          SS_PUBLISH_MAX_OUTPUTS);
    }
    set->ops[set->n] = ops;
    set->impl[set->n++] = impl;
    return 0;
}

/* Every output is tried even when one fails: Kafka being full must not starve nanomsg. The error
 * returned is the first one. */
static int ssi_set_publish(void *impl, const char *topic, const char *key, const void *msg,
                           size_t len, ss_err *err)
{
    ss_publish_set *set = impl;
    int rc = 0;
    for (size_t i = 0; i < set->n; i++) {
        ss_err e = {0};
        int r = set->ops[i]->publish(set->impl[i], topic, key, msg, len, &e);
        if (r && !rc)
            rc = ss_err_set(err, r, "%s", e.msg);
    }
    return rc;
}

void ss_publish_set_poll(ss_publish_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->ops[i]->poll)
            set->ops[i]->poll(set->impl[i]);
}

void ss_publish_set_close(ss_publish_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        set->ops[i]->close(set->impl[i]);
    set->n = 0;
}

int ss_publish_send(ss_publish_set *set, const char *topic, const char *key, const void *msg,
                    size_t len, ss_err *err)
{
    return ssi_set_publish(set, topic, key, msg, len, err);
}

int ss_publish_set_open(ss_publish_set *set, const char *address, ss_err *err)
{
    const ss_output_ops *ops = ss_output_for(address);
    if (!ops)
        return ss_err_set(err, SS_EINVAL, "publish %s: no output serves this address", address);
    void *impl;
    int rc = ops->open(address, &impl, err);
    return rc ? rc : ss_publish_set_add(set, ops, impl, err);
}

const ss_output_ops ss_publish_set_ops = {
    .abi = SS_OUTPUT_ABI,
    .name = "outset",
    .publish = ssi_set_publish,
};
