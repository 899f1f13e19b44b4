-- ztf_solar_system: rejects ZTF detections that are, or may be, Solar System objects, which move
-- and so never give two detections at one position minutes apart. Halts the locus and writes
-- ztf_reject_reason. Cuts (setup key, default):
--   known object: 0 <= ssdistnr < max_ssdistnr (10 arcsec) and min_ssmagnr (10) <= ssmagnr <=
--       max_ssmagnr (20): ZTF's match to a known (MPC) object, the cut of issue 7; Fink's
--       asteroid catcher uses 5 arcsec, Babamul 12 arcsec. Reason "known_sso"; the object's name
--       (ssnamenr) goes to ztf_sso_name.
--   moving: no two detections at this position at least min_separation_minutes (15) apart
--       (require_stationary, true). AMPEL's NuclearFilter rejects movers the same way with
--       minDeltaJD = 0.01 day (14.4 min); Fink's asteroid catcher flags pairs within 30 min. The
--       span is jd - jdstarthist when ndethist >= 2 (ZTF's own count of detections within
--       1.5 arcsec, older than 30 days too), else that of the locus's detections (any survey).
--       Reason "moving". This halts every first detection: leave it off for the youngest transients.
-- ssdistnr and ssmagnr are -999 (or null) when no known object is near: not a known object.

NAME = "ztf_solar_system"
VERSION = "1.0.0"
DESCRIPTION = "Halts ZTF detections of known Solar System objects and of sources seen only once"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"ztf_fid"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "ztf_reject_reason", type = "str",
     description = "why a ZTF rejection filter halted the locus's latest update, or none"},
    {name = "ztf_sso_name", type = "str", description = "the known Solar System object (ssnamenr)"},
}

local max_ssdistnr, min_ssmagnr, max_ssmagnr = 10, 10, 20
local min_separation_minutes = 15
local require_stationary = true

local function number(data, key, default)
    if data[key] == nil then return default end
    return assert(tonumber(data[key]), key .. " must be a number, not '" .. data[key] .. "'")
end

local function boolean(data, key, default)
    local v = data[key]
    if v == nil then return default end
    assert(v == "true" or v == "false", key .. " must be true or false, not '" .. v .. "'")
    return v == "true"
end

function setup(data)
    max_ssdistnr = number(data, "max_ssdistnr", max_ssdistnr)
    min_ssmagnr = number(data, "min_ssmagnr", min_ssmagnr)
    max_ssmagnr = number(data, "max_ssmagnr", max_ssmagnr)
    min_separation_minutes = number(data, "min_separation_minutes", min_separation_minutes)
    require_stationary = boolean(data, "require_stationary", require_stationary)
end

local function known_object(locus)
    local dist = locus:newest_alert_property("ztf_ssdistnr")
    local mag = locus:newest_alert_property("ztf_ssmagnr")
    return dist ~= nil and mag ~= nil and dist >= 0 and dist < max_ssdistnr and
               mag >= min_ssmagnr and mag <= max_ssmagnr
end

-- Whether two detections at this position lie at least min_separation_minutes apart. ZTF's own
-- history (ndethist, jdstarthist) answers first, without reading the light curve.
local function stationary(locus)
    local min_days = min_separation_minutes / 1440
    local ndethist = locus:newest_alert_property("ztf_ndethist")
    local jd = locus:newest_alert_property("ztf_jd")
    local start = locus:newest_alert_property("ztf_jdstarthist")
    if ndethist and ndethist >= 2 and jd and start and jd - start >= min_days then
        return true
    end
    -- detections of any survey at this locus count: a mover is not at one position twice
    local first, last = math.huge, -math.huge
    for _, band in ipairs(locus:passbands()) do
        local mjd = locus:lightcurve(band)
        if #mjd > 0 then
            first = math.min(first, mjd[1])
            last = math.max(last, mjd[#mjd])
        end
    end
    return last - first >= min_days
end

function run(locus)
    if known_object(locus) then
        local name = locus:newest_alert_property("ztf_ssnamenr")
        -- a string in ZTF alerts; other sources may type a numbered object as a number
        if name ~= nil then locus:set_property("ztf_sso_name", tostring(name)) end
        locus:set_property("ztf_reject_reason", "known_sso")
        locus:halt()
    elseif require_stationary and not stationary(locus) then
        locus:set_property("ztf_reject_reason", "moving")
        locus:halt()
    end
end
