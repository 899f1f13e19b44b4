-- lsst_young: tags young Rubin/LSST transients, first detected a few days ago with nothing before.
--
-- Science case: early supernovae, kilonovae, tidal disruptions and the like are worth most in
-- their first days, when spectra and rapid photometry catch what is gone later.
--
-- Cuts:
--   - age: the triggering alert's time minus the object's first detection at most
--     setup.max_age_days = 5 (Fink's Rubin fast-transient filter, fink-filters
--     rubin/livestream/filter_fast_transient_gvom: "new (< 5 days first apparition)"). The first
--     detection is the diaObject's firstDiaSourceMjdTai when Rubin fills it (schema 9.0+; the
--     LSSTCam 9.0 alerts leave it null), else the earliest positive detection the locus holds
--     (Rubin sends 12 months of prvDiaSources, so a locus is no younger than it looks).
--   - nothing before: no forced measurement before the first detection with flux at least
--     setup.forced_sigma = 5 times its error (Rubin's detection threshold): a source already
--     there, below the detection pipeline's notice, is a variable, not a new transient.
--   - the triggering alert is a positive detection (a fading against the template is not young).
-- Writes the locus property lsst_age_days (days since the first detection) on every run that
-- has a positive detection.
-- Alerts of other surveys (no lsst_diaSource_diaSourceId) are skipped.

NAME = "lsst_young"
VERSION = "1.0.0"
DESCRIPTION = "Tags Rubin transients first detected at most 5 days ago, with no earlier forced detection"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"lsst_diaSource_diaSourceId"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "lsst_age_days", type = "float",
     description = "days from the first detection to the triggering alert"},
}
OUTPUT_TAGS = {
    {name = "lsst_young", description = "first detected at most max_age_days (5) ago, nothing before"},
}

local max_age_days = 5.0
local forced_sigma = 5.0

function setup(data)
    if data.max_age_days then
        max_age_days = assert(tonumber(data.max_age_days), "max_age_days must be a number")
    end
    if data.forced_sigma then
        forced_sigma = assert(tonumber(data.forced_sigma), "forced_sigma must be a number")
    end
end

-- The earliest positive detection's time and whether a forced measurement before it was
-- significant (flux >= forced_sigma * error).
local function history(locus)
    local first, forced = nil, {}
    for _, m in ipairs(locus:light_curve(nil, "detection,forced")) do
        if m.kind == "forced" then
            if m.flux and m.fluxerr and m.flux >= forced_sigma * m.fluxerr then
                forced[#forced + 1] = m.mjd
            end
        elseif first == nil and (m.flux == nil or m.flux > 0) then
            first = m.mjd
        end
    end
    return first, forced
end

function run(locus)
    local now = locus.alert.mjd
    local first, forced = history(locus)
    local known = locus:property("lsst_diaObject_firstDiaSourceMjdTai")
    if known and (first == nil or known < first) then first = known end
    if first == nil then return end -- no positive detection yet: no age
    local age = now - first
    locus:set_property("lsst_age_days", age)
    local flux = locus:newest_alert_property("ant_flux")
    if age > max_age_days or (flux and flux <= 0) then return end
    for _, mjd in ipairs(forced) do
        if mjd < first then return end
    end
    locus:tag("lsst_young")
end
