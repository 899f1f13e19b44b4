/*
 * The scale tests' filter: appends the id of every alert it runs on to a file (setup.log), one
 * line each, so the tool counts the runs per alert: the broker's dispatch is at least once (a run
 * whose outputs were not committed before a kill runs again), its storage exactly once. Built as
 * scale_count (tags every locus "seen") and scale_tag (tags "seen_b": the second set of
 * scale_reload).
 */
#include <skysieve/filter.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SCALE_NAME
#define SCALE_NAME "scale_count"
#endif
#ifndef SCALE_TAG
#define SCALE_TAG "seen"
#endif

static const ss_tag_decl tags[] = {{SCALE_TAG, "every locus the filter ran on"}, {NULL, NULL}};

/* The log's descriptor, boxed: the state of one loaded copy of the filter. */
typedef struct count_state {
    int fd; /* -1: no log asked for */
} count_state;

static int count_setup(const ss_host_api *host, const ss_setup_item *items, size_t n, void **state)
{
    (void)host;
    count_state *s = malloc(sizeof *s); /* freed by teardown */
    if (!s)
        return ENOMEM;
    s->fd = -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(items[i].key, "log") &&
            (s->fd = open(items[i].value, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
            int e = errno;
            free(s);
            return e;
        }
    *state = s;
    return 0;
}

static int count_run(const ss_host_api *host, void *state, ss_locus_view *l)
{
    count_state *s = state;
    ss_alert_info a;
    if (s->fd >= 0 && host->alert(l, SS_TRIGGER, &a) == 0) {
        char line[128];
        int len = snprintf(line, sizeof line, "%s\n", a.alert_id);
        /* one write() with O_APPEND: whole lines even when a kill comes in between */
        if (len > 0 && len < (int)sizeof line && write(s->fd, line, (size_t)len) != len)
            return EIO;
    }
    return host->add_tag(l, SCALE_TAG);
}

static void count_teardown(void *state)
{
    count_state *s = state;
    if (s && s->fd >= 0)
        close(s->fd);
    free(s);
}

static const ss_filter_descriptor descriptor = {
    SS_FILTER_HEADER,
    .name = SCALE_NAME,
    .version = "1",
    .description = "counts its runs per alert (scale tests)",
    .author = "tools/scale_*",
    .output_tags = tags,
    .setup = count_setup,
    .run = count_run,
    .teardown = count_teardown,
};

const ss_filter_descriptor *skysieve_filter(void)
{
    return &descriptor;
}
