-- ztf_star: rejects ZTF detections on a point source, i.e. a variable or flaring star rather than
-- an extragalactic transient. Halts the locus and writes ztf_reject_reason = "star". Cut (setup
-- key, default): the nearest Pan-STARRS1 source lies within max_distpsnr1 (2 arcsec) and its
-- star/galaxy score sgscore1 exceeds min_sgscore1 (0.76). 0.76 is the threshold Tachibana &
-- Miller (2018, PASP 130, 128001) recommend for their PS1 score (Fink's asteroid catcher uses it
-- too); "sgscore1 > 0.76 and distpsnr1 <= 2 arcsec" is Babamul's ZTF "stellar" rule.
-- sgscore1 and distpsnr1 are -999 (or null) when PS1 has no source within 30 arcsec: not a star.

NAME = "ztf_star"
VERSION = "1.0.0"
DESCRIPTION = "Halts ZTF detections within 2 arcsec of a Pan-STARRS1 point source (sgscore1 > 0.76)"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"ztf_fid"}
OUTPUT_LOCUS_PROPERTIES = {
    {name = "ztf_reject_reason", type = "str",
     description = "why a ZTF rejection filter halted the locus's latest update, or none"},
}

local min_sgscore1, max_distpsnr1 = 0.76, 2.0

local function number(data, key, default)
    if data[key] == nil then return default end
    return assert(tonumber(data[key]), key .. " must be a number, not '" .. data[key] .. "'")
end

function setup(data)
    min_sgscore1 = number(data, "min_sgscore1", min_sgscore1)
    max_distpsnr1 = number(data, "max_distpsnr1", max_distpsnr1)
end

function run(locus)
    local score = locus:newest_alert_property("ztf_sgscore1")
    local dist = locus:newest_alert_property("ztf_distpsnr1")
    if score and dist and dist >= 0 and dist <= max_distpsnr1 and score > min_sgscore1 then
        locus:set_property("ztf_reject_reason", "star")
        locus:halt()
    end
end
