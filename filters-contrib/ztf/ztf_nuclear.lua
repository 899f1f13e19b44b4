-- ztf_nuclear: nuclear transients (tidal disruption events, AGN flares, nuclear supernovae): a
-- positive ZTF detection at the centre of a galaxy. Tags ztf_nuclear and writes the offset.
-- Cuts (setup key, default), all AMPEL's NuclearFilter (van Velzen et al. 2019, ApJ 872, 198;
-- ampel-nuclear) defaults:
--   0 <= distnr <= max_distnr (0.5 arcsec): the nearest source in the ZTF reference image, the
--       host's nucleus (AMPEL maxDeltaRad).
--   0 <= sgscore1 <= max_sgscore1 (0.3): that source is a galaxy by its Pan-STARRS1 star/galaxy
--       score (AMPEL maxSgscore) ...
--   0 <= distpsnr1 <= max_distpsnr1 (1 arcsec): ... and it is the same source (AMPEL
--       maxDistPS1source).
--   isdiffpos true ("t" or "1"): a brightening, as AMPEL's removeNegative; an alert without
--       isdiffpos counts as positive.
-- -999 (or null) in any of these fields means no host: not nuclear.

NAME = "ztf_nuclear"
VERSION = "1.0.0"
DESCRIPTION = "Tags positive ZTF detections within 0.5 arcsec of a galaxy's nucleus"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"ztf_fid"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "ztf_nuclear_distnr", type = "float",
     description = "arcsec from the host nucleus (distnr) of the latest nuclear detection"},
}
OUTPUT_TAGS = {
    {name = "ztf_nuclear", description = "a positive detection within 0.5 arcsec of a galaxy's nucleus"},
}

local max_distnr, max_sgscore1, max_distpsnr1 = 0.5, 0.3, 1.0

local function number(data, key, default)
    if data[key] == nil then return default end
    return assert(tonumber(data[key]), key .. " must be a number, not '" .. data[key] .. "'")
end

function setup(data)
    max_distnr = number(data, "max_distnr", max_distnr)
    max_sgscore1 = number(data, "max_sgscore1", max_sgscore1)
    max_distpsnr1 = number(data, "max_distpsnr1", max_distpsnr1)
end

local function within(v, max)
    return v ~= nil and v >= 0 and v <= max
end

function run(locus)
    local pos = locus:newest_alert_property("ztf_isdiffpos")
    if pos ~= nil and pos ~= "t" and pos ~= "1" then return end
    local distnr = locus:newest_alert_property("ztf_distnr")
    if within(distnr, max_distnr) and
        within(locus:newest_alert_property("ztf_sgscore1"), max_sgscore1) and
        within(locus:newest_alert_property("ztf_distpsnr1"), max_distpsnr1) then
        locus:set_property("ztf_nuclear_distnr", distnr)
        locus:tag("ztf_nuclear")
    end
end
