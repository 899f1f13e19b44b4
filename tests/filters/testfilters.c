/*
 * Filters that misbehave on purpose, one shared object each (selected by -DTF_<KIND> at build
 * time), for the host's tests: declarations, enforcement, failures, ordering, ABI checks, and
 * filters that take their worker process down (TF_SEGV, TF_ABORT, TF_HANG) or misuse it
 * (TF_CLOSE_FDS, TF_CLOSE_ALL, TF_GREEDY, TF_FORK) for the broker's.
 */
#include <skysieve/filter.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#if defined(TF_CLOSE_ALL)
#define TF_CLOSE_UPTO 4096
#else
#define TF_CLOSE_UPTO 64
#endif

#if defined(TF_SEGV) || defined(TF_ABORT) || defined(TF_HANG) || defined(TF_CLOSE_FDS) ||          \
    defined(TF_CLOSE_ALL) || defined(TF_GREEDY) || defined(TF_FORK)
/*
 * The worker killers strike on every locus; with the setup item `only = PREFIX`, only when the
 * triggering alert's id starts with PREFIX (they run normally, writing nothing, on the others).
 * TF_FORK writes the pid of the child it leaves behind to the setup item `pidfile`. TF_CLOSE_FDS
 * closes fds 0-63 (the worker's socket to the broker survives), TF_CLOSE_ALL 0-4095 (it does not).
 */
typedef struct tf_state {
    char *only, *pidfile;
} tf_state;

static void tf_teardown(void *state)
{
    tf_state *st = state;
    free(st->only);
    free(st->pidfile);
    free(st);
}

static int tf_setup(const ss_host_api *host, const ss_setup_item *items, size_t n, void **state)
{
    (void)host;
    tf_state *st = calloc(1, sizeof *st);
    *state = st;
    for (size_t i = 0; st && i < n; i++) {
        char **slot = !strcmp(items[i].key, "only")      ? &st->only
                      : !strcmp(items[i].key, "pidfile") ? &st->pidfile
                                                         : NULL;
        if (slot && (free(*slot), !(*slot = strdup(items[i].value)))) {
            tf_teardown(st); /* a failed setup gets no teardown */
            *state = NULL;
            return SS_ENOMEM;
        }
    }
    return st ? 0 : SS_ENOMEM;
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

#if defined(TF_GREEDY)
/* Allocate and touch 16 MiB at a time, never freeing, as a leak does; a NULL from malloc is
 * fatal (as xmalloc makes it). The cap (1 GiB) only spares a machine with no limit set (a
 * sanitized build): reaching it, the filter tags the locus. */
static int tf_greedy(const ss_host_api *host, ss_locus_view *l)
{
    enum { CHUNK = 16 << 20, CAP = 64 };
    static void *kept[CAP];
    for (size_t i = 0; i < CAP; i++) {
        if (!(kept[i] = malloc(CHUNK)))
            abort();
        memset(kept[i], 1, CHUNK);
    }
    for (size_t i = 0; i < CAP; i++)
        free(kept[i]);
    return host->add_tag(l, "tf_tag");
}
#endif

#if defined(TF_FORK)
/* A child that would live on forever, in the worker's process group. */
static int tf_fork(const ss_host_api *host, const tf_state *st, ss_locus_view *l)
{
    static int forked;
    if (forked++)
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    FILE *fp = pid > 0 && st->pidfile ? fopen(st->pidfile, "w") : NULL;
    if (fp)
        fprintf(fp, "%d\n", (int)pid), fclose(fp);
    return fp ? 0 : host->fail(l, "fork or pidfile failed");
}
#endif

static int tf_strikes(const ss_host_api *host, const tf_state *st, ss_locus_view *l)
{
    ss_alert_info a;
    const char *only = st->only;
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
#elif defined(TF_CLOSE_FDS) || defined(TF_CLOSE_ALL)
    if (tf_strikes(host, state, l))
        for (int fd = 0; fd < TF_CLOSE_UPTO; fd++) /* as daemonising code does */
            close(fd);
    return 0;
#elif defined(TF_GREEDY)
    return tf_strikes(host, state, l) ? tf_greedy(host, l) : 0;
#elif defined(TF_FORK)
    return tf_strikes(host, state, l) ? tf_fork(host, state, l) : 0;
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
