/* /broker: the store's counts (as /api/v1/stats) and, when a broker is attached (serve --config of
 * a running one), its intake and its filters' runs, errors, time percentiles and disabled state
 * (as /api/v1/filters, through its control socket). Written server-side; broker.js refreshes it
 * and measures the alerts per hour between refreshes. */
#include "web_impl.h"

#include "broker.h"
#include "query.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SSI_WEB_REFRESH_S 5

static void ssi_stat(ssi_html *h, const char *label, const char *key, json_t *o)
{
    ssi_html_rawf(h, "<div class=\"stat\"><dt>%s</dt><dd data-stat=\"%s\">", label, key);
    json_t *v = json_object_get(o, key);
    if (v)
        ssi_html_json(h, v);
    else
        ssi_html_raw(h, "&#8212;");
    ssi_html_raw(h, "</dd></div>");
}

/* The labels and keys of one list of counts. */
typedef struct ssi_stat_def {
    const char *label, *key;
} ssi_stat_def;

static const ssi_stat_def ssi_store_stats[] = {
    {"Alerts", "alerts"},
    {"Detections", "detections"},
    {"Upper limits", "upper_limits"},
    {"Forced photometry", "forced_photometry"},
    {"Stamps", "cutouts"},
    {"Loci", "loci"},
    {"Duplicates", "duplicates"},
    {"Rejected", "rejected"},
};

static const ssi_stat_def ssi_broker_stats[] = {
    {"Alerts in", "alerts_in"}, {"Stored", "stored_alerts"}, {"Rejected", "rejected"},
    {"Loci", "loci"},           {"Queue", "queue"},          {"Intake", "intake"},
    {"Published", "published"},
};

static void ssi_stats(ssi_html *h, const ssi_stat_def *defs, size_t n, json_t *o)
{
    for (size_t i = 0; i < n; i++)
        ssi_stat(h, defs[i].label, defs[i].key, o);
}

static void ssi_store_counts(ssi_html *h, json_t *st)
{
    ssi_html_raw(h, "<section class=\"card wide\" id=\"store\"><h2>Store <span class=\"id\">");
    ssi_html_text(h, json_string_value(json_object_get(st, "store")));
    ssi_html_raw(h, "</span></h2>\n<dl class=\"stats\">");
    ssi_stats(h, ssi_store_stats, sizeof ssi_store_stats / sizeof *ssi_store_stats, st);
    ssi_html_raw(h, "<div class=\"stat\"><dt>Alerts per hour</dt><dd id=\"rate\">"
                    "<span class=\"muted\" title=\"measured between two refreshes of this page\">"
                    "measuring&#8230;</span></dd></div>");
    ssi_html_raw(h, "</dl>\n<svg class=\"spark\" id=\"rate-spark\" viewBox=\"0 0 300 40\" "
                    "preserveAspectRatio=\"none\" aria-hidden=\"true\"></svg>\n");
    json_t *last = json_object_get(st, "last_ingest");
    if (json_is_object(last)) {
        double read = json_number_value(json_object_get(last, "read"));
        double secs = json_number_value(json_object_get(last, "seconds"));
        ssi_html_raw(h, "<p class=\"note\" id=\"last-ingest\">Last ingest run: ");
        ssi_html_num(h, "%.0f", read);
        ssi_html_raw(h, " alerts read in ");
        ssi_html_num(h, "%.3g", secs);
        ssi_html_raw(h, " s, finished ");
        ssi_html_text(h, json_string_value(json_object_get(last, "finished")));
        ssi_html_raw(h, ".</p>\n");
    }
    ssi_html_raw(h, "<h3>Rejected, by reason</h3>\n<div class=\"scroll\"><table id=\"rejected\">"
                    "<thead><tr><th>Reason</th><th class=\"num\">Records</th></tr></thead>"
                    "<tbody>\n");
    const char *k;
    json_t *v;
    json_t *by = json_object_get(st, "rejected_by_reason");
    json_object_foreach(by, k, v)
    {
        ssi_html_raw(h, "<tr><td>");
        ssi_html_text(h, k);
        ssi_html_raw(h, "</td><td class=\"num\">");
        ssi_html_json(h, v);
        ssi_html_raw(h, "</td></tr>\n");
    }
    if (!json_object_size(by))
        ssi_html_raw(h, "<tr class=\"empty\"><td colspan=\"2\">None rejected.</td></tr>\n");
    ssi_html_raw(h, "</tbody></table></div>\n</section>\n");
}

static void ssi_filters_table(ssi_html *h, json_t *filters)
{
    ssi_html_raw(h, "<div class=\"scroll\"><table id=\"filters\"><thead><tr><th>Filter</th>"
                    "<th class=\"num\">Runs</th><th class=\"num\">Skipped</th>"
                    "<th class=\"num\">Errors</th><th class=\"num\">Crashes</th>"
                    "<th class=\"num\">Timeouts</th><th class=\"num\">Halts</th>"
                    "<th class=\"num\">Properties</th><th>Tags</th>"
                    "<th class=\"num\">p50 &#181;s</th><th class=\"num\">p90 &#181;s</th>"
                    "<th class=\"num\">p99 &#181;s</th><th>State</th></tr></thead><tbody>\n");
    size_t i;
    json_t *f;
    static const char *const counts[] = {
        "runs", "skipped", "errors", "crashes", "timeouts", "halts", "properties_written"};
    json_array_foreach(filters, i, f)
    {
        int off = json_is_true(json_object_get(f, "disabled"));
        ssi_html_raw(h, off ? "<tr class=\"disabled\"><td class=\"id\">" : "<tr><td class=\"id\">");
        ssi_html_text(h, json_string_value(json_object_get(f, "label")));
        ssi_html_raw(h, "<br><span class=\"muted\">");
        ssi_html_text(h, json_string_value(json_object_get(f, "name")));
        ssi_html_raw(h, " ");
        ssi_html_text(h, json_string_value(json_object_get(f, "version")));
        ssi_html_raw(h, " (");
        ssi_html_text(h, json_string_value(json_object_get(f, "runtime")));
        ssi_html_raw(h, ")</span></td>");
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
            ssi_html_raw(h, "<td class=\"num\">");
            ssi_html_json(h, json_object_get(f, counts[c]));
            ssi_html_raw(h, "</td>");
        }
        ssi_html_raw(h, "<td>");
        const char *tag;
        json_t *n;
        int k = 0;
        json_object_foreach(json_object_get(f, "tags"), tag, n)
        {
            ssi_url u;
            ssi_url_init(&u, "/tags/");
            ssi_url_seg(&u, tag);
            ssi_html_raw(h, k++ ? ", " : "");
            ssi_html_link(h, &u, "tag", tag);
            ssi_html_raw(h, "&#160;");
            ssi_html_json(h, n);
        }
        ssi_html_raw(h, "</td>");
        json_t *t = json_object_get(f, "time_us");
        static const char *const ps[] = {"p50", "p90", "p99"};
        for (size_t p = 0; p < 3; p++) {
            ssi_html_raw(h, "<td class=\"num\">");
            ssi_html_num(h, "%.1f", json_number_value(json_object_get(t, ps[p])));
            ssi_html_raw(h, "</td>");
        }
        ssi_html_raw(h, "<td>");
        if (off) {
            ssi_html_raw(h, "<strong>disabled</strong>: ");
            ssi_html_text(h, json_string_value(json_object_get(f, "disabled_reason")));
        } else
            ssi_html_raw(h, "running");
        const char *last = json_string_value(json_object_get(f, "last_error"));
        if (last) {
            ssi_html_raw(h, "<br><span class=\"muted\">last error: ");
            ssi_html_text(h, last);
            ssi_html_raw(h, "</span>");
        }
        ssi_html_raw(h, "</td></tr>\n");
    }
    ssi_html_raw(h, "</tbody></table></div>\n");
}

static void ssi_broker_status(ssi_html *h, json_t *st)
{
    ssi_html_raw(h, "<dl class=\"stats\">");
    ssi_stats(h, ssi_broker_stats, sizeof ssi_broker_stats / sizeof *ssi_broker_stats, st);
    double up = json_number_value(json_object_get(st, "uptime_s"));
    double in = json_number_value(json_object_get(st, "alerts_in"));
    ssi_html_raw(h, "<div class=\"stat\"><dt>Alerts per hour since start</dt>"
                    "<dd data-stat=\"per_hour\">");
    ssi_html_num(h, "%.0f", up > 0 ? in / up * 3600 : NAN);
    ssi_html_raw(h, "</dd></div><div class=\"stat\"><dt>Up</dt><dd data-stat=\"uptime_s\">");
    ssi_html_num(h, "%.0f", up);
    ssi_html_raw(h, " s</dd></div></dl>\n");
    const char *why = json_string_value(json_object_get(st, "paused_because"));
    if (why) {
        ssi_html_raw(h, "<p class=\"error\">Intake paused: ");
        ssi_html_text(h, why);
        ssi_html_raw(h, "</p>\n");
    }
    json_t *filters = json_object_get(st, "filters");
    size_t i;
    json_t *f;
    int off = 0;
    ssi_html_raw(h, "<h3>Filters</h3>\n<p id=\"disabled\" class=\"");
    json_array_foreach(filters, i, f) off += json_is_true(json_object_get(f, "disabled"));
    ssi_html_raw(h, off ? "error\">Disabled: " : "note\">No filter is disabled.");
    int k = 0;
    json_array_foreach(filters, i, f)
    {
        if (!json_is_true(json_object_get(f, "disabled")))
            continue;
        ssi_html_raw(h, k++ ? ", <strong>" : "<strong>");
        ssi_html_text(h, json_string_value(json_object_get(f, "label")));
        ssi_html_raw(h, "</strong> (");
        ssi_html_text(h, json_string_value(json_object_get(f, "disabled_reason")));
        ssi_html_raw(h, ")");
    }
    ssi_html_raw(h, "</p>\n");
    ssi_filters_table(h, filters);
}

void ssi_web_broker(ssi_req *r)
{
    const ss_serve_conf *c = r->srv->conf;
    ssi_html h;
    ssi_html_begin(&h, r, "Broker", "broker");
    ssi_html_rawf(&h,
                  "<h1>Broker</h1>\n<div class=\"grid\" id=\"broker-page\" data-refresh=\"%d\""
                  " data-broker=\"%d\">\n",
                  SSI_WEB_REFRESH_S, c->control != NULL);
    unsigned status = MHD_HTTP_OK;
    json_t *st = NULL;
    ss_err err = {0};
    int rc = ss_query_stats(ssi_store(r), &st, &err);
    if (rc) {
        ssi_html_raw(&h, "<p class=\"error\">The store cannot be read: ");
        ssi_html_text(&h, err.msg);
        ssi_html_raw(&h, "</p>\n");
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
    } else {
        /* the store's directory is a detail of this machine: its name only */
        const char *path = json_string_value(json_object_get(st, "store"));
        const char *slash = path ? strrchr(path, '/') : NULL;
        if (slash)
            json_object_set_new(st, "store", json_string(slash + 1));
        ssi_store_counts(&h, st);
    }
    json_decref(st);
    ssi_html_raw(&h, "<section class=\"card wide\" id=\"running\"><h2>Running broker</h2>\n");
    if (!c->control)
        ssi_html_raw(&h, "<p class=\"notice\" id=\"no-broker\"><strong>No broker is attached to "
                         "this server.</strong> It was started over a store alone, so it knows "
                         "no running broker's filters. Start it with <code>skysieve serve "
                         "--config FILE</code> of the broker (or give the broker's configuration "
                         "a <code>[serve]</code> section, and <code>skysieve run</code> starts it "
                         "beside itself) to see the filters' runs, errors and times here.</p>\n");
    else {
        json_t *o = NULL;
        ss_err e = {0};
        json_t *bst = NULL;
        if (!ss_broker_ctl(c->control, c->secret, "status", NULL, 2.0, &o, &e))
            bst = json_object_get(o, "status");
        if (!json_is_object(bst)) {
            const char *said = json_string_value(json_object_get(o, "error"));
            ssi_html_raw(&h, "<p class=\"error\" id=\"broker-down\">The broker did not answer: ");
            ssi_html_text(&h, said ? said : e.msg[0] ? e.msg : "no status");
            ssi_html_raw(&h, ". Is <code>skysieve run</code> running?</p>\n");
        } else
            ssi_broker_status(&h, bst);
        json_decref(o);
    }
    ssi_html_raw(&h, "</section>\n</div>\n");
    static const char *const scripts[] = {"site.js", "broker.js", NULL};
    ssi_html_end(&h, status, scripts);
}
