-- fast: tags a locus whose newest detection in a passband is brighter than the one before it, at
-- least a day earlier, by 0.4 mag a day or more: a fast riser such as a young supernova.

NAME = "fast_riser"
DESCRIPTION = "Tags loci brightening by 0.4 mag/day or more in one passband"
AUTHOR = "skysieve tests <dev@skysieve.invalid>"
OUTPUT_LOCUS_PROPERTIES = {
    {name = "fast_rate", type = "float", description = "brightening rate, mag/day (positive)"},
}
OUTPUT_TAGS = {{name = "fast", description = "brightening by 0.4 mag/day or more"}}

function run(locus)
    for _, band in ipairs(locus:passbands()) do
        local pts = locus:light_curve(band, "detection")
        local n = #pts
        local k = n - 1
        while k >= 1 and pts[n].mjd - pts[k].mjd < 1 do k = k - 1 end
        if k >= 1 then
            local rate = (pts[k].mag - pts[n].mag) / (pts[n].mjd - pts[k].mjd)
            if rate >= 0.4 then
                locus:set_property("fast_rate", rate)
                locus:tag("fast")
                return
            end
        end
    end
end
