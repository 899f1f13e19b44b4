-- lsst_quality: detection quality of a Rubin/LSST alert's diaSource; halts junk so later filters
-- skip it, and writes why (alert property lsst_quality_reason).
--
-- Science case: the first filter of any Rubin transient search. A difference-image detection can
-- be an artefact (a subtraction dipole, a cosmic ray, a bad or interpolated pixel, a glint of
-- space junk) or a source fainter than in the template (negative flux); neither is a new
-- transient.
--
-- Cuts, on the triggering diaSource (lsst_diaSource_* properties), in this order:
--   1. flux sign: isNegative true (psfFlux < 0) halts, reason "negative_flux";
--      setup.keep_negative = "true" keeps them (for variable-star or AGN work, where a fading
--      against the template is science). The ZTF analogue is keeping isdiffpos = 't' only.
--   2. flags: any of setup.bad_flags true halts, reason "flag:<name>". The default list is Fink's
--      Rubin "good quality" selection (fink-filters, rubin/livestream/filter_good_quality: isDipole,
--      shape_flag, forced_PsfFlux_flag, psfFlux_flag, apFlux_flag, centroid_flag,
--      pixelFlags_interpolated, pixelFlags_cr, forced_PsfFlux_flag_edge, pixelFlags_bad), plus
--      glint_trail, which Rubin sets on glints of rotating space junk but does not filter out
--      (Rubin prompt-products docs).
--   3. reliability (Rubin's CNN score, "probability (0-1) that the diaSource is astrophysical",
--      alert schema 8.0+ field doc) below setup.min_reliability = 0.5 halts, reason
--      "low_reliability". Rubin itself drops scores under 0.1 and leaves higher cuts to users for
--      purity (prompt-products docs); 0.5 keeps sources more likely real than not.
--   4. signal-to-noise: snr (else psfFlux / psfFluxErr) below setup.min_snr = 5 halts, reason
--      "low_snr"; 5 sigma is Rubin's difference-image detection threshold, so this only bites on
--      reprocessed or simulated streams.
--
-- Absent fields (older schemas, ELAsTiCC, null values): a cut whose field is missing is skipped,
-- not failed; the alert property lsst_quality_unchecked names what was skipped ("reliability",
-- "flags", "snr"). Schema 7.4 has reliability but many 7.4 streams leave it null; ELAsTiCC has
-- neither reliability nor flags. setup.require_reliability = "true" halts such alerts instead
-- (reason "no_reliability"). Schema 7.4 names the sign is_negative; skysieve fills isNegative
-- from the flux sign for it, so cut 1 works on every version.
-- Alerts of other surveys (no lsst_diaSource_diaSourceId) are skipped.

NAME = "lsst_quality"
VERSION = "1.0.0"
DESCRIPTION = "Halts Rubin alerts that are negative, flagged, unreliable or faint (detection quality)"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
REQUIRED_ALERT_PROPERTIES = {"lsst_diaSource_diaSourceId"}
OUTPUT_ALERT_PROPERTIES = {
    {name = "lsst_quality_reason", type = "str",
     description = "why the alert was halted: negative_flux, flag:<name>, low_reliability, no_reliability, low_snr"},
    {name = "lsst_quality_unchecked", type = "str",
     description = "cuts skipped because the alert lacks their field: reliability, flags, snr"},
}

local min_reliability = 0.5
local min_snr = 5.0
local keep_negative = false
local require_reliability = false
local bad_flags = {"isDipole", "shape_flag", "forced_PsfFlux_flag", "psfFlux_flag", "apFlux_flag",
                   "centroid_flag", "pixelFlags_interpolated", "pixelFlags_cr",
                   "forced_PsfFlux_flag_edge", "pixelFlags_bad", "glint_trail"}

local function number(data, key)
    return assert(tonumber(data[key]), key .. " must be a number")
end

local function boolean(data, key)
    local v = data[key]
    assert(v == "true" or v == "false", key .. " must be true or false")
    return v == "true"
end

function setup(data)
    if data.min_reliability then min_reliability = number(data, "min_reliability") end
    if data.min_snr then min_snr = number(data, "min_snr") end
    if data.keep_negative then keep_negative = boolean(data, "keep_negative") end
    if data.require_reliability then require_reliability = boolean(data, "require_reliability") end
    if data.bad_flags then
        bad_flags = {}
        for name in string.gmatch(data.bad_flags, "[^,%s]+") do bad_flags[#bad_flags + 1] = name end
    end
end

local function reject(locus, reason)
    locus:set_alert_property("lsst_quality_reason", reason)
    locus:halt()
end

-- The first set flag's name, or nil; and whether any flag was there to check.
local function raised_flag(locus)
    local seen = false
    for _, name in ipairs(bad_flags) do
        local v = locus:newest_alert_property("lsst_diaSource_" .. name)
        if v ~= nil then seen = true end
        if v == true then return name, true end
    end
    return nil, seen
end

function run(locus)
    local unchecked = {}
    local function prop(name) return locus:newest_alert_property("lsst_diaSource_" .. name) end
    local flux = prop("psfFlux") or prop("psFlux") or locus:newest_alert_property("ant_flux")
    local negative = prop("isNegative")
    if negative == nil and flux then negative = flux < 0 end
    if negative and not keep_negative then return reject(locus, "negative_flux") end

    local flag, seen = raised_flag(locus)
    if flag then return reject(locus, "flag:" .. flag) end
    if not seen then unchecked[#unchecked + 1] = "flags" end

    local rel = prop("reliability")
    if rel == nil then
        if require_reliability then return reject(locus, "no_reliability") end
        unchecked[#unchecked + 1] = "reliability"
    elseif rel < min_reliability then
        return reject(locus, "low_reliability")
    end

    local snr = prop("snr")
    local err = prop("psfFluxErr") or prop("psFluxErr")
    if snr == nil and flux and err and err > 0 then snr = math.abs(flux) / err end
    if snr == nil then
        unchecked[#unchecked + 1] = "snr"
    elseif snr < min_snr then
        return reject(locus, "low_snr")
    end
    if #unchecked > 0 then
        locus:set_alert_property("lsst_quality_unchecked", table.concat(unchecked, ","))
    end
end
