-- ztf_young: young transients, first detected within a few days with nothing detected at their
-- position before, for early spectroscopy (shock cooling, flash features, infant supernovae).
-- Writes ztf_age_days and tags ztf_young. Cuts (setup key, default):
--   age <= max_age_days (3): the age is the time from the first detection at this position to
--       the triggering one: the earlier of ZTF's jdstarthist (all time, within 1.5 arcsec) and the
--       locus's first detection in any survey, so a detection the locus holds from before
--       jdstarthist (another survey, older alerts) makes the source old. 3 days is one cycle of
--       ZTF's public survey cadence (Bellm et al. 2019, PASP 131, 018002), so an older source
--       would have been seen before; Fink's early supernova filters ask for a young age the
--       same way (jd - jdstarthist).
--   the triggering detection is positive (isdiffpos "t" or "1"; absent counts as positive): a
--       new source brightens on the reference.
-- ztf_age_days is written for every positive detection, young or not (ztf_rank reads it); when
-- jdstarthist already makes the source old, it is the age from jdstarthist.

NAME = "ztf_young"
VERSION = "1.0.0"
DESCRIPTION = "Tags positive ZTF detections first seen at their position within the last 3 days"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"ztf_fid"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "ztf_age_days", type = "float",
     description = "days from the first detection at this position to the latest positive one"},
}
OUTPUT_TAGS = {
    {name = "ztf_young", description = "first detected at this position within the last 3 days"},
}

local max_age_days = 3.0
local JD_MJD = 2400000.5

function setup(data)
    if data.max_age_days ~= nil then
        max_age_days = assert(tonumber(data.max_age_days),
                              "max_age_days must be a number, not '" .. data.max_age_days .. "'")
    end
end

-- The MJD of the first detection known at this position. ZTF's jdstarthist answers first: when
-- it already makes the source old, the light curve is not read (it costs far more).
local function first_detection(locus, now)
    local first = now
    local start = locus:newest_alert_property("ztf_jdstarthist")
    if start and start > 0 then first = math.min(first, start - JD_MJD) end
    if now - first > max_age_days then return first end
    for _, band in ipairs(locus:passbands()) do
        local mjd = locus:lightcurve(band)
        if #mjd > 0 then first = math.min(first, mjd[1]) end
    end
    return first
end

function run(locus)
    local a = locus.alert
    if a.upper_limit or a.mjd == nil then return end
    local pos = locus:newest_alert_property("ztf_isdiffpos")
    if pos ~= nil and pos ~= "t" and pos ~= "1" then return end
    local age = a.mjd - first_detection(locus, a.mjd)
    locus:set_property("ztf_age_days", age)
    if age <= max_age_days then locus:tag("ztf_young") end
end
