-- jump: the filter of the ANTARES streaming tutorial, in Lua. Tags a locus whose two latest
-- detections in one passband differ by 3 magnitudes or more (setup "threshold" changes the 3).
-- Gives the same results as jump.c on the same loci.

NAME = "jump_lua"
VERSION = "1.0.0"
DESCRIPTION = "Tags loci whose latest two detections in a passband differ by 3 mag or more"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
OUTPUT_LOCUS_PROPERTIES = {
    {name = "jump_magnitude", type = "float",
     description = "largest change between the two latest detections of a band"},
}
OUTPUT_TAGS = {
    {name = "jump", description = "the two latest detections in one passband differ by >= threshold (3) mag"},
}

local threshold = 3.0

function setup(data)
    if data.threshold then
        threshold = assert(tonumber(data.threshold), "threshold must be a number")
    end
end

function run(locus)
    local best = 0
    for _, band in ipairs(locus:passbands()) do
        local _, mag = locus:lightcurve(band)
        local n = #mag
        if n >= 2 then
            local jump = math.abs(mag[n] - mag[n - 1])
            if jump > best then best = jump end
        end
    end
    if best >= threshold then
        locus:set_property("jump_magnitude", best)
        locus:tag("jump")
    end
end
