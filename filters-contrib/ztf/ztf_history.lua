-- ztf_history: AGN and variable stars, i.e. sources with a long detection history at their
-- position, which a search for new transients wants out and a variability study wants in.
-- Writes the history's span and tags ztf_variable_history. Cuts (setup key, default):
--   ndethist >= min_ndethist (20): ZTF's count of detections within 1.5 arcsec, all time;
--   jd - jdstarthist >= min_span_days (365): the first of them a year or more ago, longer than
--       all but the most luminous supernovae stay detectable to ZTF.
-- Both values are this filter's own choice; Fink's supernova filters veto variables with the
-- looser ndethist >= 400. halt (false): when true, a tagged locus is also halted (reason
-- "variable_history"), turning the filter into a rejection for transient searches.
-- An alert without ndethist or jdstarthist is neither tagged nor halted.

NAME = "ztf_history"
VERSION = "1.0.0"
DESCRIPTION = "Tags ZTF sources detected at least 20 times over at least a year (AGN, variables)"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"ztf_fid"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "ztf_history_days", type = "float",
     description = "days from the first ZTF detection at this position (jdstarthist) to the latest"},
    {name = "ztf_reject_reason", type = "str",
     description = "why a ZTF rejection filter halted the locus's latest update, or none"},
}
OUTPUT_TAGS = {
    {name = "ztf_variable_history",
     description = "detected at least 20 times (ndethist) over at least 365 days"},
}

local min_ndethist, min_span_days, halt = 20, 365, false

local function number(data, key, default)
    if data[key] == nil then return default end
    return assert(tonumber(data[key]), key .. " must be a number, not '" .. data[key] .. "'")
end

function setup(data)
    min_ndethist = number(data, "min_ndethist", min_ndethist)
    min_span_days = number(data, "min_span_days", min_span_days)
    if data.halt ~= nil then
        assert(data.halt == "true" or data.halt == "false",
               "halt must be true or false, not '" .. data.halt .. "'")
        halt = data.halt == "true"
    end
end

function run(locus)
    local ndethist = locus:newest_alert_property("ztf_ndethist")
    local jd = locus:newest_alert_property("ztf_jd")
    local start = locus:newest_alert_property("ztf_jdstarthist")
    if not (ndethist and jd and start) then return end
    local span = jd - start
    locus:set_property("ztf_history_days", span)
    if ndethist >= min_ndethist and span >= min_span_days then
        locus:tag("ztf_variable_history")
        if halt then
            locus:set_property("ztf_reject_reason", "variable_history")
            locus:halt()
        end
    end
end
