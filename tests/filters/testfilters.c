/*
 * Filters that misbehave on purpose, one shared object each (selected by -DTF_<KIND> at build
 * time), for the host's tests: declarations, enforcement, failures, ordering, ABI checks, and
 * filters that take their worker process down (TF_SEGV, TF_ABORT, TF_HANG) for the broker's.
 */
#include <skysieve/filter.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const ss_property_decl tf_locus_props[] = {
    {"tf_score", SS_TYPE_FLOAT, "a score"},
    {"tf_label", SS_TYPE_STRING, "a label"},
    {NULL, 0, NULL},
};
static const ss_property_decl tf_alert_props[] = {
    {"tf_flag", SS_TYPE_BOOL, "a flag on the alert"},
    {NULL, 0, NULL},
};

#if defined(TF_PRODUCER) || defined(TF_CYCLE_A)
static const ss_tag_decl tf_tags[] = {{"tf_a", "produced"}, {NULL, NULL}};
#elif defined(TF_CONSUMER) || defined(TF_CYCLE_B)
static const ss_tag_decl tf_tags[] = {{"tf_b", "consumed a"}, {NULL, NULL}};
#else
static const ss_tag_decl tf_tags[] = {{"tf_tag", "a tag"}, {NULL, NULL}};
#endif

#if defined(TF_CONSUMER)
static const char *const tf_req_tags[] = {"tf_a", NULL};
#elif defined(TF_CYCLE_A)
static const char *const tf_req_tags[] = {"tf_b", NULL};
#elif defined(TF_CYCLE_B)
static const char *const tf_req_tags[] = {"tf_a", NULL};
#else
static const char *const *const tf_req_tags = NULL;
#endif

#if defined(TF_NEEDS_PROP)
static const char *const tf_req_props[] = {"tf_absent_property", NULL};
#else
static const char *const *const tf_req_props = NULL;
#endif

#if defined(TF_SEGV) || defined(TF_ABORT) || defined(TF_HANG)
/*
 * The worker killers strike on every locus; with the setup item `only = PREFIX`, only when the
 * triggering alert's id starts with PREFIX (they run normally, writing nothing, on the others).
 * The state is that prefix, or NULL.
 */
static int tf_setup(const ss_host_api *host, const ss_setup_item *items, size_t n, void **state)
{
    (void)host;
    *state = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(items[i].key, "only")) {
            free(*state);
            if (!(*state = strdup(items[i].value)))
                return SS_ENOMEM;
        }
    return 0;
}

static void tf_teardown(void *state)
{
    free(state);
}

#if defined(TF_SEGV)
/* A write through NULL: a real SIGSEGV, also in sanitized builds (UBSan's null check would end the
 * process with its own report before the fault). */
__attribute__((no_sanitize("undefined"))) static void tf_segfault(void)
{
    volatile int *volatile nowhere = NULL; /* volatile: the compiler keeps the write */
    *nowhere = 42;
}
#endif

static int tf_strikes(const ss_host_api *host, const char *only, ss_locus_view *l)
{
    ss_alert_info a;
    if (!only)
        return 1;
    return host->alert(l, SS_TRIGGER, &a) == 0 && a.alert_id &&
           !strncmp(a.alert_id, only, strlen(only));
}
#define TF_SETUP    tf_setup
#define TF_TEARDOWN tf_teardown
#else
#define TF_SETUP    NULL
#define TF_TEARDOWN NULL
#endif

static int tf_run(const ss_host_api *host, void *state, ss_locus_view *l)
{
    (void)state;
    ss_value f = {.type = SS_TYPE_FLOAT, .u.f = 0.5};
    (void)f; /* not every kind uses it */
#if defined(TF_EMPTY) || defined(TF_NEEDS_PROP)
    (void)host, (void)l, (void)f;
    return 0;
#elif defined(TF_GOOD)
    ss_value b = {.type = SS_TYPE_BOOL, .u.b = 1}, s = {.type = SS_TYPE_STRING};
    s.u.s.ptr = "labelled", s.u.s.len = 8;
    int rc;
    if ((rc = host->set_locus_property(l, "tf_score", f)) ||
        (rc = host->set_locus_property(l, "tf_label", s)) ||
        (rc = host->set_alert_property(l, "tf_flag", b)))
        return rc;
    return host->add_tag(l, "tf_tag");
#elif defined(TF_UNDECLARED)
    host->set_locus_property(l, "tf_score", f); /* kept only if the run succeeds: it will not */
    return host->set_locus_property(l, "not_declared", f);
#elif defined(TF_WRONG_TYPE)
    ss_value i = {.type = SS_TYPE_INT, .u.i = 3};
    host->add_tag(l, "tf_tag");
    return host->set_alert_property(l, "tf_flag", i);
#elif defined(TF_FAILS)
    host->set_locus_property(l, "tf_score", f);
    return host->fail(l, "deliberate failure");
#elif defined(TF_HALTS)
    host->halt(l);
    return 0;
#elif defined(TF_SEGV)
    if (tf_strikes(host, state, l))
        tf_segfault();
    return 0;
#elif defined(TF_ABORT)
    if (tf_strikes(host, state, l))
        abort();
    return 0;
#elif defined(TF_HANG)
    if (tf_strikes(host, state, l)) {
        volatile unsigned long spins = 0; /* busy, as a runaway loop is: only a kill ends it */
        for (;;)
            spins++;
    }
    return 0;
#elif defined(TF_PRODUCER) || defined(TF_CYCLE_A)
    (void)f;
    return host->add_tag(l, "tf_a");
#elif defined(TF_CONSUMER) || defined(TF_CYCLE_B)
    (void)f;
    return host->has_tag(l, "tf_a") ? host->add_tag(l, "tf_b") : host->fail(l, "tf_a missing");
#else
    (void)host, (void)l, (void)f;
    return 0;
#endif
}

#ifndef TF_NAME
#define TF_NAME "tf"
#endif

static ss_filter_descriptor tf_descriptor = {
    SS_FILTER_HEADER,
    .name = TF_NAME,
    .version = "0",
    .description = "test filter",
    .author = "tests",
    .required_locus_properties = tf_req_props,
    .required_tags = tf_req_tags,
    .output_locus_properties = tf_locus_props,
    .output_alert_properties = tf_alert_props,
    .output_tags = tf_tags,
    .setup = TF_SETUP,
    .run = tf_run,
    .teardown = TF_TEARDOWN,
};

#if defined(TF_NO_ENTRY) /* exports a descriptor under another name: not a filter */
const ss_filter_descriptor *not_the_entry(void)
{
    return &tf_descriptor;
}
#else
const ss_filter_descriptor *skysieve_filter(void)
{
#if defined(TF_BAD_MAGIC)
    tf_descriptor.magic = 0xdeadbeef;
#elif defined(TF_ABI_2)
    tf_descriptor.abi_major = 2;
    tf_descriptor.abi_minor = 0;
#elif defined(TF_ABI_MINOR_NEWER)
    tf_descriptor.abi_minor = SS_FILTER_ABI_MINOR + 1;
#elif defined(TF_SMALL)
    tf_descriptor.size = 16;
#endif
    return &tf_descriptor;
}
#endif
