-- lsst_fast: tags Rubin/LSST transients that rise or fade fast, from the rate in mag/day per band.
--
-- Science case: kilonovae, GRB afterglows and fast blue optical transients change by a magnitude
-- or more within days, faster than supernovae; their rate alone singles them out early.
--
-- The light curve: every detection and forced measurement whose flux (nJy, with its sign) is at
-- least setup.min_sigma = 5 times its error, converted to mag = -2.5 log10(flux) + 31.4, with
-- error 1.0857 fluxerr / flux. Negative and insignificant fluxes have no magnitude and are left
-- out. 5 sigma: the SNR >= 5 points of rubin_sim's KNePopMetric ZTFReST logic (Andreoni et al.
-- 2022, after ZTFReST, Andreoni & Coughlin et al. 2021).
-- Per band, the rate is (newest mag - earlier mag) / dt between the newest point and the latest
-- one at least setup.min_dt_days = 0.125 before it (KNePopMetric's min_dt); positive is fading,
-- as in lcstats. It counts only when the change exceeds the two errors summed (KNePopMetric's
-- significance test).
-- Cuts: a rise of at least setup.rise_rate = 1 mag/day tags lsst_fast_rise, a fade of at least
-- setup.fade_rate = 0.3 mag/day tags lsst_fast_fade (ZTFReST / KNePopMetric: max_rise = -1,
-- min_fade = 0.3; Fink's Rubin fast-transient filter asks 0.3 mag/day of a rise, set rise_rate to
-- 0.3 for that).
-- Writes, on every run, lsst_fast_rate (the fastest significant band's rate, mag/day) and
-- lsst_fast_band (its band); 0 and "" when no band has a significant rate (the broker keeps no
-- null property, and a stale rate from an earlier alert would mislead lsst_rank).
-- Alerts of other surveys (no lsst_diaSource_diaSourceId) are skipped.

NAME = "lsst_fast"
VERSION = "1.0.0"
DESCRIPTION = "Tags Rubin transients rising >= 1 mag/day or fading >= 0.3 mag/day in a band"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"lsst_diaSource_diaSourceId"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "lsst_fast_rate", type = "float",
     description = "fastest significant rate between the newest and an earlier point of a band, mag/day (positive: fading)"},
    {name = "lsst_fast_band", type = "str", description = "the band of lsst_fast_rate, empty when there is none"},
}
OUTPUT_TAGS = {
    {name = "lsst_fast_rise", description = "brightening by >= rise_rate (1) mag/day in a band"},
    {name = "lsst_fast_fade", description = "fading by >= fade_rate (0.3) mag/day in a band"},
}

local ZEROPOINT = 31.4 -- Rubin fluxes are in nJy
local min_sigma, min_dt_days, rise_rate, fade_rate = 5.0, 0.125, 1.0, 0.3

function setup(data)
    for _, key in ipairs({"min_sigma", "min_dt_days", "rise_rate", "fade_rate"}) do
        if data[key] then
            local v = assert(tonumber(data[key]), key .. " must be a number")
            assert(v >= 0, key .. " must not be negative")
            if key == "min_sigma" then min_sigma = v
            elseif key == "min_dt_days" then min_dt_days = v
            elseif key == "rise_rate" then rise_rate = v
            else fade_rate = v end
        end
    end
end

-- Per band, the significant positive measurements in time order as {mjd, mag, err}, up to the
-- triggering alert: the rate is the one seen when it arrived, also for an alert that arrives late.
local function magnitudes(locus)
    local bands, now = {}, locus.alert.mjd
    for _, m in ipairs(locus:light_curve(nil, "detection,forced")) do
        local f, e = m.flux, m.fluxerr
        if m.mjd <= now and f and e and e > 0 and f >= min_sigma * e then
            local b = bands[m.passband]
            if not b then b = {}; bands[m.passband] = b end
            b[#b + 1] = {mjd = m.mjd, mag = -2.5 * math.log(f, 10) + ZEROPOINT,
                         magerr = 1.0857362 * e / f}
        end
    end
    return bands
end

-- The significant rate of one band's points, or nil: the feature library's latest rate (the
-- newest point against the latest one min_dt_days or more before it), counted when the change
-- exceeds the two errors summed.
local function band_rate(pts)
    local rate, _, old = features.latest_rate(pts, min_dt_days, math.huge)
    local new = pts[#pts]
    if rate and math.abs(new.mag - old.mag) > new.magerr + old.magerr then return rate end
    return nil
end

function run(locus)
    local best, best_band
    local bands = magnitudes(locus)
    local names = {}
    for band in pairs(bands) do names[#names + 1] = band end
    table.sort(names) -- a fixed order, so ties go the same way every run
    for _, band in ipairs(names) do
        local rate = band_rate(bands[band])
        if rate and (best == nil or math.abs(rate) > math.abs(best)) then
            best, best_band = rate, band
        end
        if rate and rate <= -rise_rate then locus:tag("lsst_fast_rise") end
        if rate and rate >= fade_rate then locus:tag("lsst_fast_fade") end
    end
    locus:set_property("lsst_fast_rate", best or 0.0)
    locus:set_property("lsst_fast_band", best_band or "")
end
