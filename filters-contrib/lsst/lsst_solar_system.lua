-- lsst_solar_system: rejects solar-system objects from a Rubin/LSST transient search; halts them
-- and writes why (alert property lsst_sso_reason).
--
-- Science case: asteroids are the most common moving "transients" in a difference image; a
-- transient search must drop them before spending follow-up on them.
--
-- Cuts, in this order:
--   1. Rubin's association: the diaSource's ssObjectId names the known solar-system object Rubin
--      associated it with (MPC orbits; alert schema 7.x-11.x). A non-zero ssObjectId halts,
--      reason "known_sso". 0 means Rubin found none (LSSTCam schema 9.0 streams); a null or
--      missing ssObjectId (many 7.4 streams, ELAsTiCC) means the association is unknown.
--   2. Two detections: a locus whose positive detections do not include two at least
--      setup.min_gap_minutes = 15 minutes apart halts, reason "single_epoch": an object seen at
--      one position at two times that far apart is not moving. 15 minutes is the issue's rule for
--      ZTF brokers and the gap (0.0105 d) that rubin_sim's KNePopMetric (ZTFReST logic) requires
--      between two detections. setup.two_detections chooses when it applies:
--        "fallback" (default): only when Rubin's association is unknown (cut 1 could not decide);
--        "always": also when ssObjectId is 0, since Rubin only knows already-catalogued objects
--        and unknown asteroids are plentiful early in the survey; this halts every first alert;
--        "never": cut 1 only.
-- Alerts of other surveys (no lsst_diaSource_diaSourceId) are skipped.

NAME = "lsst_solar_system"
VERSION = "1.0.0"
DESCRIPTION = "Halts Rubin alerts of known solar-system objects, and single-epoch loci when unassociated"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"lsst_diaSource_diaSourceId"}
OUTPUT_ALERT_PROPERTIES = {
    {name = "lsst_sso_reason", type = "str",
     description = "why the alert was halted: known_sso (Rubin's ssObjectId), single_epoch (no two detections 15 min apart)"},
}

local min_gap_days = 15 / 1440
local mode = "fallback"

function setup(data)
    if data.min_gap_minutes then
        local m = assert(tonumber(data.min_gap_minutes), "min_gap_minutes must be a number")
        assert(m >= 0, "min_gap_minutes must not be negative")
        min_gap_days = m / 1440
    end
    if data.two_detections then
        mode = data.two_detections
        assert(mode == "fallback" or mode == "always" or mode == "never",
               "two_detections must be fallback, always or never")
    end
end

local function reject(locus, reason)
    locus:set_alert_property("lsst_sso_reason", reason)
    locus:halt()
end

-- Whether the locus has two positive detections at least min_gap_days apart.
local function two_epochs(locus)
    local first, last
    for _, m in ipairs(locus:light_curve(nil, "detection")) do
        if m.flux == nil or m.flux > 0 then
            if first == nil or m.mjd < first then first = m.mjd end
            if last == nil or m.mjd > last then last = m.mjd end
        end
    end
    return first ~= nil and last - first >= min_gap_days
end

function run(locus)
    local sso = locus:newest_alert_property("lsst_diaSource_ssObjectId")
    if sso ~= nil and sso ~= 0 then return reject(locus, "known_sso") end
    local apply = mode == "always" or (mode == "fallback" and sso == nil)
    if apply and not two_epochs(locus) then return reject(locus, "single_epoch") end
end
