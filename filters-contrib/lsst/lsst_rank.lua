-- lsst_rank: a score that orders Rubin/LSST candidates for follow-up; runs after the others.
--
-- Science case: follow-up time is scarce; of the alerts that pass quality and solar-system
-- rejection, the reliable, young, fast-changing and bright ones deserve a spectrum first.
--
-- lsst_rank_score = sum of weight * term, each term in [0, 1]:
--   reliability   setup.w_reliability = 0.3  the diaSource's reliability; setup.missing_reliability
--                                            = 0.5 when the alert has none (older schemas, ELAsTiCC)
--   youth         setup.w_young = 0.2        1 - lsst_age_days / max_age_days (5, as lsst_young),
--                                            0 when older or unknown
--   speed         setup.w_fast = 0.25        |lsst_fast_rate| / setup.fast_scale (1 mag/day, the
--                                            ZTFReST rise cut), at most 1
--   colour        setup.w_colour = 0.1       |lsst_colour_change| / setup.colour_scale (0.3 mag, as
--                                            lsst_colour), at most 1
--   brightness    setup.w_bright = 0.15      1 at or above setup.bright_mag = 21 (Fink's Rubin
--                                            fast-transient filter: mag < 21, within reach of
--                                            spectroscopy), falling linearly to 0 two mag fainter
-- The weights are skysieve's choice (no broker publishes a Rubin ranking): they sum to 1, and
-- only the order they give matters. A score of at least setup.min_score = 0.5 tags
-- lsst_followup. Reads what lsst_young, lsst_fast and lsst_colour wrote, so it runs after them;
-- without them their terms are 0.
-- Alerts of other surveys (no lsst_diaSource_diaSourceId) are skipped.

NAME = "lsst_rank"
VERSION = "1.0.0"
DESCRIPTION = "Scores Rubin candidates for follow-up (reliability, youth, speed, colour, brightness)"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"lsst_diaSource_diaSourceId"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "lsst_rank_score", type = "float", description = "follow-up priority in [0, 1], higher first"},
}
OUTPUT_TAGS = {
    {name = "lsst_followup", description = "lsst_rank_score >= min_score (0.5)"},
}

local cfg = {
    w_reliability = 0.3, w_young = 0.2, w_fast = 0.25, w_colour = 0.1, w_bright = 0.15,
    missing_reliability = 0.5, max_age_days = 5.0, fast_scale = 1.0, colour_scale = 0.3,
    bright_mag = 21.0, min_score = 0.5,
}

function setup(data)
    for key in pairs(cfg) do
        if data[key] then
            cfg[key] = assert(tonumber(data[key]), key .. " must be a number")
        end
    end
    for _, key in ipairs({"max_age_days", "fast_scale", "colour_scale"}) do
        assert(cfg[key] > 0, key .. " must be positive")
    end
end

local function clamp(x)
    return x < 0 and 0 or (x > 1 and 1 or x)
end

function run(locus)
    local rel = locus:newest_alert_property("lsst_diaSource_reliability") or cfg.missing_reliability
    local age = locus:property("lsst_age_days")
    local rate = locus:property("lsst_fast_rate")
    local colour = locus:property("lsst_colour_change")
    local mag = locus.alert.mag
    local young = age and age <= cfg.max_age_days and 1 - age / cfg.max_age_days or 0
    local fast = rate and math.abs(rate) / cfg.fast_scale or 0
    local change = colour and math.abs(colour) / cfg.colour_scale or 0
    local bright = mag and 1 - (mag - cfg.bright_mag) / 2 or 0
    local flux = locus:newest_alert_property("ant_flux")
    if flux and flux <= 0 then bright = 0 end -- the magnitude of |flux| of a fading
    local score = cfg.w_reliability * clamp(rel) + cfg.w_young * clamp(young) +
                  cfg.w_fast * clamp(fast) + cfg.w_colour * clamp(change) +
                  cfg.w_bright * clamp(bright)
    locus:set_property("lsst_rank_score", score)
    if score >= cfg.min_score then locus:tag("lsst_followup") end
end
