-- ztf_rank: orders ZTF candidates for follow-up. Runs last, after the rejection filters halted
-- the junk, and writes ztf_score in [0, 1]; tags ztf_top when the score is at least top_score
-- (0.6). The score (each term in [0, 1], weights are setup keys, defaults summing to 1):
--   ztf_score = (w_real * real + w_young * young + w_fast * fast + w_bright * bright)
--               * (1 - variable_penalty if the locus is tagged ztf_variable_history)
--   real   = drb, or rb without drb (the trigger's real-bogus score);       w_real   0.3
--   young  = max(0, 1 - ztf_age_days / young_days (10)), from ztf_young;    w_young  0.3
--   fast   = min(1, largest |ztf_rate_g/r/i| / fast_rate (1 mag/day)),
--            from ztf_fast (1 mag/day: ZTFReST's rise cut);                 w_fast   0.2
--   bright = clamp((faint_mag (20.5) - mag) / (faint_mag - bright_mag (18.5))): 0 at ZTF's
--            5-sigma depth (20.5, Bellm et al. 2019), 1 at the Bright Transient Survey's
--            spectroscopic limit (18.5, Fremling et al. 2020) and brighter;  w_bright 0.2
--   variable_penalty 0.5: a known variable or AGN is a worse target for a transient programme.
-- The weights, young_days, top_score and the penalty are this filter's own choice (no broker
-- publishes one ranking): change them per programme. A term whose input is missing counts 0.

NAME = "ztf_rank"
VERSION = "1.0.0"
DESCRIPTION = "Scores ZTF candidates for follow-up (real, young, fast, bright) and tags the top ones"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"ztf_fid"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "ztf_score", type = "float", description = "follow-up score in [0, 1], higher first"},
}
OUTPUT_TAGS = {
    {name = "ztf_top", description = "ztf_score at least top_score (0.6)"},
}

local cfg = {
    w_real = 0.3, w_young = 0.3, w_fast = 0.2, w_bright = 0.2, young_days = 10, fast_rate = 1.0,
    faint_mag = 20.5, bright_mag = 18.5, variable_penalty = 0.5, top_score = 0.6,
}

function setup(data)
    for key in pairs(cfg) do
        if data[key] ~= nil then
            cfg[key] = assert(tonumber(data[key]), key .. " must be a number, not '" .. data[key] .. "'")
        end
    end
    assert(cfg.young_days > 0 and cfg.fast_rate > 0 and cfg.faint_mag > cfg.bright_mag,
           "young_days and fast_rate must be positive and faint_mag above bright_mag")
end

local function clamp(x)
    return math.max(0, math.min(1, x))
end

local function terms(locus)
    local real = locus:newest_alert_property("ztf_drb") or locus:newest_alert_property("ztf_rb") or 0
    local age = locus:property("ztf_age_days")
    local young = age and clamp(1 - age / cfg.young_days) or 0
    local rate = 0
    for _, band in ipairs({"g", "r", "i"}) do
        rate = math.max(rate, math.abs(locus:property("ztf_rate_" .. band) or 0))
    end
    local mag = locus.alert.mag
    local bright = mag and clamp((cfg.faint_mag - mag) / (cfg.faint_mag - cfg.bright_mag)) or 0
    return clamp(real), young, clamp(rate / cfg.fast_rate), bright
end

function run(locus)
    local real, young, fast, bright = terms(locus)
    local score = cfg.w_real * real + cfg.w_young * young + cfg.w_fast * fast + cfg.w_bright * bright
    if locus:has_tag("ztf_variable_history") then score = score * (1 - cfg.variable_penalty) end
    locus:set_property("ztf_score", score)
    if score >= cfg.top_score then locus:tag("ztf_top") end
end
