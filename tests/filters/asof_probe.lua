-- asof_probe: records what a run sees, so that tests can check a run never sees its locus's
-- future, whichever way the night came in: the newest MJD among the measurements it is shown, how
-- many there are, and how many runs on its locus came before (read from its own property, which
-- the previous run wrote).

NAME = "asof_probe"
DESCRIPTION = "Writes on each triggering alert what the run saw of its locus"
AUTHOR = "skysieve tests <dev@skysieve.invalid>"
OUTPUT_ALERT_PROPERTIES = {
    {name = "probe_newest_mjd", type = "float", description = "newest MJD the run was shown"},
    {name = "probe_seen", type = "int", description = "measurements the run was shown"},
    {name = "probe_alerts", type = "int", description = "alert_count() during the run"},
    {name = "probe_num_alerts", type = "int", description = "the num_alerts property then"},
    {name = "probe_runs_before", type = "int", description = "runs on the locus before this one"},
}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "probe_runs", type = "int", description = "runs on the locus so far"},
}

function run(locus)
    local lc = locus:light_curve()
    local newest = -1
    for _, p in ipairs(lc) do
        if p.mjd > newest then newest = p.mjd end
    end
    local runs = locus:property("probe_runs") or 0
    locus:set_alert_property("probe_newest_mjd", newest)
    locus:set_alert_property("probe_seen", #lc)
    locus:set_alert_property("probe_alerts", locus:alert_count())
    locus:set_alert_property("probe_num_alerts", locus:property("num_alerts"))
    locus:set_alert_property("probe_runs_before", runs)
    locus:set_property("probe_runs", runs + 1)
end
