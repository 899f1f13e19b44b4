-- gw_counterpart: optical counterparts of gravitational-wave events, kilonovae first. Reads the
-- events the locus is in (locus:gw_events(): inside an event's 90% credible region, with a
-- detection from 1 day before to 14 days after the merger; maps are loaded with `skysieve gw
-- load`) and the locus's positive detections.
-- Cuts (setup key, default):
--   the locus's first detection is at or after the merger: a source seen before it is not the
--       counterpart (the ZTF and GROWTH searches' "no history before the merger", Kasliwal et al.
--       2020, ApJ 905, 145);
--   and it is new (a single detection) or brightening: the library's latest rate is negative
--       (rising) beyond min_sigma (2) times its error (features.latest_rate, 0.01 to 14 days back);
--   then tag gw_counterpart. Of the events it is in, the densest (probability per steradian at the
--   locus) is reported.
--   The absolute magnitude at the map's distance along the line of sight, peak mag - 5 log10(d /
--   10 pc), is kilonova-like between kn_brightest (-17.5) and kn_faintest (-12): AT2017gfo peaked
--   near -16 (Kasliwal et al. 2017, Science 358, 1559), and kilonova models span about -17 to -12
--   in the optical (Kasen et al. 2017); tag gw_kilonova_like. Without a distance, no such tag.
--   gw_rank = log10(probability density) + 1 when kilonova-like: densest first, kilonova-like
--   before others of the same density (this filter's choice).
--   min_ns_probability (0: every event): skip events whose alert notice gives BNS + NSBH below
--       it; a binary black hole merger is not expected to shine, and a kilonova search may set,
--       say, 0.1. An event loaded from a file has no classification and is always kept.
--   gw_p_ns = BNS + NSBH of the chosen event, when the notice gave them.

NAME = "gw_counterpart"
VERSION = "1.0.0"
DESCRIPTION = "New or brightening sources in a gravitational-wave event's 90% region after the merger"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
OUTPUT_LOCUS_PROPERTIES = {
    {name = "gw_event", type = "str", description = "the densest event the locus is in"},
    {name = "gw_credible_level", type = "float", description = "smallest credible region holding it"},
    {name = "gw_probdensity", type = "float", description = "probability density at the locus, sr^-1"},
    {name = "gw_days_since_merger", type = "float", description = "newest detection minus the merger"},
    {name = "gw_distance_mpc", type = "float", description = "mean distance along the line of sight"},
    {name = "gw_abs_mag", type = "float", description = "peak magnitude at that distance"},
    {name = "gw_rank", type = "float", description = "log10(density) + 1 when kilonova-like"},
    {name = "gw_p_ns", type = "float", description = "the event's BNS + NSBH probability"},
}
OUTPUT_TAGS = {
    {name = "gw_counterpart", description = "new or brightening after the merger, inside the 90% region"},
    {name = "gw_kilonova_like", description = "absolute magnitude between -17.5 and -12 at the event's distance"},
}

local cfg = {min_sigma = 2, kn_brightest = -17.5, kn_faintest = -12, min_ns_probability = 0}

-- BNS + NSBH of an event, nil when its notice did not classify it.
local function p_ns(e)
    if e.p_bns == nil and e.p_nsbh == nil then return nil end
    return (e.p_bns or 0) + (e.p_nsbh or 0)
end

function setup(data)
    for key in pairs(cfg) do
        if data[key] ~= nil then
            cfg[key] = assert(tonumber(data[key]), key .. " must be a number, not '" .. data[key] .. "'")
        end
    end
end

-- Positive detections in time order (a negative difference flux is a fading of a known source).
local function detections(locus)
    local out = {}
    for _, p in ipairs(locus:light_curve(nil, "detection")) do
        if p.mag and (p.flux == nil or p.flux > 0) then out[#out + 1] = p end
    end
    return out
end

local function brightening(dets)
    if #dets == 1 then return true end
    local rate, sigma = features.latest_rate(dets, 0.01, 14)
    return rate ~= nil and rate < 0 and sigma >= cfg.min_sigma
end

function run(locus)
    local events = locus:gw_events()
    if #events == 0 then return end
    local dets = detections(locus)
    if #dets == 0 or not brightening(dets) then return end
    local best
    for _, e in ipairs(events) do
        local after = e.merger_mjd == nil or dets[1].mjd >= e.merger_mjd
        local ns = p_ns(e)
        local kind_ok = ns == nil or ns >= cfg.min_ns_probability
        if after and kind_ok and (best == nil or e.probdensity > best.probdensity) then best = e end
    end
    if best == nil then return end
    locus:tag("gw_counterpart")
    locus:set_property("gw_event", best.id)
    locus:set_property("gw_credible_level", best.credible_level)
    locus:set_property("gw_probdensity", best.probdensity)
    if p_ns(best) then locus:set_property("gw_p_ns", p_ns(best)) end
    if best.days_since_merger then locus:set_property("gw_days_since_merger", best.days_since_merger) end
    local rank = math.log(math.max(best.probdensity, 1e-300), 10)
    if best.dist_mean and best.dist_mean > 0 and best.dist_mean < math.huge then
        local peak = math.huge
        for _, p in ipairs(dets) do peak = math.min(peak, p.mag) end
        local abs = peak - 5 * math.log(best.dist_mean * 1e5, 10)
        locus:set_property("gw_distance_mpc", best.dist_mean)
        locus:set_property("gw_abs_mag", abs)
        if abs >= cfg.kn_brightest and abs <= cfg.kn_faintest then
            locus:tag("gw_kilonova_like")
            rank = rank + 1
        end
    end
    locus:set_property("gw_rank", rank)
end
