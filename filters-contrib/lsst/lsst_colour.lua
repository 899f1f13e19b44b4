-- lsst_colour: measures a Rubin/LSST transient's colour and tags a significant change of it.
--
-- Science case: colour evolution separates fast transients: kilonovae redden within days as
-- their ejecta cool, afterglows keep a steady power-law colour, young supernovae are blue. A
-- colour change between two epochs is the cheapest such signal in an alert stream.
--
-- Magnitudes as in lsst_fast: detections and forced measurements with flux at least
-- setup.min_sigma = 5 times its error, mag = -2.5 log10(flux_nJy) + 31.4.
-- A colour is bluer band minus redder band (u g r i z y) of two points at most
-- setup.max_pair_days = 0.125 apart (Rubin takes a field's visits of a night within hours, often in
-- two bands; 0.125 d is KNePopMetric's min_dt, so a colour epoch is shorter than the time a rate
-- is measured over). For each band pair, the newest colour epoch is compared with the earliest
-- one at least setup.min_dt_days = 0.5 before it.
-- Cut: a change of at least setup.min_change = 0.3 mag, and larger than setup.change_sigma = 3
-- times its error, tags lsst_colour_change. No broker publishes a colour-change cut for Rubin
-- yet: 0.3 mag is skysieve's choice, three times the 0.1 mag error of a 10-sigma point; tune it.
-- Writes lsst_colour (the newest colour) and lsst_colour_bands (e.g. "g-r") when the locus has a
-- colour (they keep the last one measured), and on every run lsst_colour_change (newest minus
-- earliest colour of those bands; positive: redder), 0 when it cannot be measured yet.
-- Alerts of other surveys (no lsst_diaSource_diaSourceId) are skipped.

NAME = "lsst_colour"
VERSION = "1.0.0"
DESCRIPTION = "Measures a Rubin transient's colour; tags a change of 0.3 mag or more between epochs"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"lsst_diaSource_diaSourceId"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "lsst_colour", type = "float", description = "the newest colour (bluer minus redder band), mag"},
    {name = "lsst_colour_bands", type = "str", description = "the bands of lsst_colour, e.g. g-r"},
    {name = "lsst_colour_change", type = "float",
     description = "newest minus earliest colour of the same bands, mag (positive: redder)"},
}
OUTPUT_TAGS = {
    {name = "lsst_colour_change", description = "colour changed by >= min_change (0.3) mag between epochs"},
}

local ZEROPOINT = 31.4 -- Rubin fluxes are in nJy
local ORDER = {u = 1, g = 2, r = 3, i = 4, z = 5, y = 6}
local min_sigma, max_pair_days, min_dt_days, min_change, change_sigma = 5.0, 0.125, 0.5, 0.3, 3.0

function setup(data)
    local keys = {"min_sigma", "max_pair_days", "min_dt_days", "min_change", "change_sigma"}
    local values = {}
    for _, key in ipairs(keys) do
        if data[key] then
            values[key] = assert(tonumber(data[key]), key .. " must be a number")
            assert(values[key] >= 0, key .. " must not be negative")
        end
    end
    min_sigma = values.min_sigma or min_sigma
    max_pair_days = values.max_pair_days or max_pair_days
    min_dt_days = values.min_dt_days or min_dt_days
    min_change = values.min_change or min_change
    change_sigma = values.change_sigma or change_sigma
end

-- The significant positive measurements of the Rubin bands, in time order, up to the triggering
-- alert (as lsst_fast).
local function points(locus)
    local out, now = {}, locus.alert.mjd
    for _, m in ipairs(locus:light_curve(nil, "detection,forced")) do
        local f, e = m.flux, m.fluxerr
        if m.mjd <= now and ORDER[m.passband] and f and e and e > 0 and f >= min_sigma * e then
            out[#out + 1] = {mjd = m.mjd, band = m.passband,
                             mag = -2.5 * math.log(f, 10) + ZEROPOINT, err = 1.0857362 * e / f}
        end
    end
    return out
end

-- Colour epochs per band pair "b1-b2": each point paired with the nearest point of a redder band
-- within max_pair_days, as {mjd, colour, err}, in time order. The points are in time order, so
-- only the window around each is scanned.
local function colour_epochs(pts)
    local out = {}
    for i, a in ipairs(pts) do
        local nearest = {}
        local function consider(b)
            if ORDER[b.band] > ORDER[a.band] then
                local n = nearest[b.band]
                if not n or math.abs(b.mjd - a.mjd) < math.abs(n.mjd - a.mjd) then nearest[b.band] = b end
            end
        end
        local j = i - 1
        while j >= 1 and a.mjd - pts[j].mjd <= max_pair_days do consider(pts[j]); j = j - 1 end
        j = i + 1
        while j <= #pts and pts[j].mjd - a.mjd <= max_pair_days do consider(pts[j]); j = j + 1 end
        for band, b in pairs(nearest) do
            local key = a.band .. "-" .. band
            local list = out[key]
            if not list then list = {}; out[key] = list end
            list[#list + 1] = {mjd = math.max(a.mjd, b.mjd), colour = a.mag - b.mag,
                               err = math.sqrt(a.err ^ 2 + b.err ^ 2)}
        end
    end
    return out
end

function run(locus)
    local epochs = colour_epochs(points(locus))
    local keys = {}
    for key in pairs(epochs) do keys[#keys + 1] = key end
    table.sort(keys)
    local newest, newest_key, changes = nil, nil, {}
    for _, key in ipairs(keys) do
        local list = epochs[key]
        table.sort(list, function(x, y) return x.mjd < y.mjd end)
        local last = list[#list]
        if newest == nil or last.mjd > newest.mjd then newest, newest_key = last, key end
        -- the earliest epoch, when it is at least min_dt_days before the newest
        local first = list[1]
        if last.mjd - first.mjd >= min_dt_days then
            local dc = last.colour - first.colour
            local err = math.sqrt(last.err ^ 2 + first.err ^ 2)
            changes[key] = dc
            if math.abs(dc) >= min_change and math.abs(dc) > change_sigma * err then
                locus:tag("lsst_colour_change")
            end
        end
    end
    if newest then
        locus:set_property("lsst_colour", newest.colour)
        locus:set_property("lsst_colour_bands", newest_key)
    end
    locus:set_property("lsst_colour_change", newest_key and changes[newest_key] or 0.0)
end
