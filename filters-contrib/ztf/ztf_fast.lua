-- ztf_fast: fast transients (kilonovae, fast blue optical transients, GRB afterglows), whose
-- brightness changes by a magnitude or more a day, and whose colour changes fast too. Reads the
-- locus's positive ZTF detections (difference flux > 0) per band, writes the rates and tags.
-- Cuts (setup key, default):
--   rate per band g, r, i: (m2 - m1) / (t2 - t1) in mag/day between the latest detection and the
--       latest earlier one at least min_dt_days (0.1 day) and at most max_dt_days (10 days)
--       before it; positive is fading, as lcstats' rates. Tag ztf_fast when it rises faster than
--       min_rise_rate (1 mag/day) or fades faster than min_fade_rate (0.3 mag/day): the cuts of
--       ZTFReST's kilonova search (Andreoni et al. 2021, ApJ 918, 63).
--   colour g - r: from a g and an r detection at most colour_window_days (0.5 day: one night)
--       apart; its rate between the latest colour and the latest earlier one (same min_dt_days,
--       max_dt_days). Tag ztf_colour_change when |rate| >= min_colour_rate (0.3 mag/day, this
--       filter's own choice: the fade cut above, so that a colour changing as fast as a fast
--       transient fades is flagged; kilonovae redden fast).
--   Both tags need the change to be significant: |delta mag| >= min_sigma (3) times its error.
-- A band without two such detections gets no rate (an earlier value of the locus stays).

NAME = "ztf_fast"
VERSION = "1.0.0"
DESCRIPTION = "Rise/fade rate per ZTF band and g-r colour rate; tags fast risers, faders, colour changes"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"ztf_fid"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "ztf_rate_g", type = "float", description = "g rate in mag/day, positive: fading"},
    {name = "ztf_rate_r", type = "float", description = "r rate in mag/day, positive: fading"},
    {name = "ztf_rate_i", type = "float", description = "i rate in mag/day, positive: fading"},
    {name = "ztf_colour_gr", type = "float", description = "latest g - r colour (one night)"},
    {name = "ztf_colour_rate", type = "float",
     description = "g - r change in mag/day, positive: reddening"},
}
OUTPUT_TAGS = {
    {name = "ztf_fast", description = "rises faster than 1 mag/day or fades faster than 0.3 mag/day"},
    {name = "ztf_colour_change", description = "g - r changes by 0.3 mag/day or more"},
}

local cfg = {
    min_dt_days = 0.1, max_dt_days = 10, min_rise_rate = 1.0, min_fade_rate = 0.3,
    colour_window_days = 0.5, min_colour_rate = 0.3, min_sigma = 3,
}

function setup(data)
    for key in pairs(cfg) do
        if data[key] ~= nil then
            cfg[key] = assert(tonumber(data[key]), key .. " must be a number, not '" .. data[key] .. "'")
        end
    end
end

-- Positive ZTF detections of a band, in time order, as light_curve() gives them.
local function points(locus, band)
    local out = {}
    for _, p in ipairs(locus:light_curve(band, "detection")) do
        if p.survey == "ztf" and p.mag and (p.flux == nil or p.flux > 0) then
            out[#out + 1] = p
        end
    end
    return out
end

-- The rate of the colour series (newest first) between its newest entry and the latest earlier
-- one min_dt..max_dt before it, and its significance (|delta| / error); nil when there is none.
-- series[k] = {t, value, err^2}. The bands' rates are the feature library's latest_rate, which
-- is this walk on a series in time order.
local function rate_of(series, latest, step)
    local n = #series
    if n < 2 then return nil end
    local t2, v2, e2 = series[latest][1], series[latest][2], series[latest][3]
    local k = latest + step
    while k >= 1 and k <= n do
        local dt = math.abs(t2 - series[k][1])
        if dt > cfg.max_dt_days then return nil end
        if dt >= cfg.min_dt_days then
            local delta = v2 - series[k][2]
            local err = math.sqrt(e2 + series[k][3])
            local sigma = err > 0 and math.abs(delta) / err or math.huge
            return delta / (t2 - series[k][1]), sigma
        end
        k = k + step
    end
    return nil
end


-- g - r colours, newest first: each g detection with the r detection nearest in time, when they
-- are at most colour_window_days apart. Both lists are in time order, so one backward pass.
local function colours(g, r)
    local out, j = {}, #r
    if j == 0 then return out end
    for i = #g, 1, -1 do
        local t = g[i].mjd
        if g[#g].mjd - t > cfg.max_dt_days + cfg.colour_window_days then break end
        while j > 1 and math.abs(r[j - 1].mjd - t) <= math.abs(r[j].mjd - t) do j = j - 1 end
        if math.abs(r[j].mjd - t) <= cfg.colour_window_days then
            local eg, er = g[i].magerr or 0, r[j].magerr or 0
            out[#out + 1] = {(t + r[j].mjd) / 2, g[i].mag - r[j].mag, eg ^ 2 + er ^ 2}
        end
    end
    return out
end

function run(locus)
    local fast = false
    local pts = {}
    for _, band in ipairs({"g", "r", "i"}) do
        pts[band] = points(locus, band)
        local rate, sigma = features.latest_rate(pts[band], cfg.min_dt_days, cfg.max_dt_days)
        if rate then
            locus:set_property("ztf_rate_" .. band, rate)
            if sigma >= cfg.min_sigma and (rate <= -cfg.min_rise_rate or rate >= cfg.min_fade_rate) then
                fast = true
            end
        end
    end
    if fast then locus:tag("ztf_fast") end
    local c = colours(pts.g, pts.r)
    if #c == 0 then return end
    locus:set_property("ztf_colour_gr", c[1][2])
    local rate, sigma = rate_of(c, 1, 1)
    if rate then
        locus:set_property("ztf_colour_rate", rate)
        if sigma >= cfg.min_sigma and math.abs(rate) >= cfg.min_colour_rate then
            locus:tag("ztf_colour_change")
        end
    end
end
