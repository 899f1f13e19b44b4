-- ztf_quality: detection quality and real-bogus for ZTF alerts. Halts a locus whose triggering
-- detection looks like an artefact, so that later filters skip it, and writes why in
-- ztf_reject_reason. Cuts (setup key, default):
--   drb >= min_drb (0.5): the deep-learning real-bogus score (Duev et al. 2019, MNRAS 489, 3582);
--       0.5 is the cut of Fink's ZTF science filters (drb > 0.5).
--   rb >= min_rb (0.55): the random-forest score (Mahabal et al. 2019, PASP 131, 038002), used
--       only when the alert has no drb (schemas before 3.3); 0.55 is Fink's quality cut.
--   nbad <= max_nbad (0): bad pixels within 5x5 pixels; nbad = 0 is ZTF/IPAC's recommended cut
--       for a pure sample (ztf-avro-alert docs/filtering.md) and AMPEL's.
--   |magdiff| <= max_magdiff (0.3): aperture minus PSF magnitude; 0.3 is AMPEL's NuclearFilter /
--       GROWTH marshal cut (IPAC suggest 0.1 for a purer, smaller sample).
-- A field the alert lacks (or holds null) is not cut on; an alert with neither drb nor rb is
-- halted ("no_realbogus"). Known limit: drb is 0 for some very bright (saturated) detections.
-- Only ZTF alerts run it (REQUIRED_ALERT_PROPERTIES). As the first filter of the set it also
-- resets ztf_reject_reason to "none" when this update passes, so the property always describes
-- the locus's latest update.

NAME = "ztf_quality"
VERSION = "1.0.0"
DESCRIPTION = "Halts ZTF detections with a low real-bogus score, bad pixels or a PSF/aperture mismatch"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"ztf_fid"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "ztf_reject_reason", type = "str",
     description = "why a ZTF rejection filter halted the locus's latest update, or none"},
}

local min_drb, min_rb, max_nbad, max_magdiff = 0.5, 0.55, 0, 0.3

local function number(data, key, default)
    if data[key] == nil then return default end
    return assert(tonumber(data[key]), key .. " must be a number, not '" .. data[key] .. "'")
end

function setup(data)
    min_drb = number(data, "min_drb", min_drb)
    min_rb = number(data, "min_rb", min_rb)
    max_nbad = number(data, "max_nbad", max_nbad)
    max_magdiff = number(data, "max_magdiff", max_magdiff)
end

-- The reason to reject the triggering alert, or nil.
local function reason(locus)
    local drb = locus:newest_alert_property("ztf_drb")
    if drb ~= nil then
        if drb < min_drb then return "drb" end
    else
        local rb = locus:newest_alert_property("ztf_rb")
        if rb == nil then return "no_realbogus" end
        if rb < min_rb then return "rb" end
    end
    local nbad = locus:newest_alert_property("ztf_nbad")
    if nbad ~= nil and nbad > max_nbad then return "nbad" end
    local magdiff = locus:newest_alert_property("ztf_magdiff")
    if magdiff ~= nil and math.abs(magdiff) > max_magdiff then return "magdiff" end
    return nil
end

function run(locus)
    local why = reason(locus)
    -- first in the set, it overwrites the reason an earlier update left ("none": this update
    -- passed so far; the host refuses nil for a declared str property)
    locus:set_property("ztf_reject_reason", why or "none")
    if why then locus:halt() end
end
