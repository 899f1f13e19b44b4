-- my_filter: a template for a skysieve filter in Lua 5.4. Copy, rename, change the declarations
-- and run(). Check it with `skysieve filter check my_filter.lua`; try it on a store with
-- `skysieve filter run --store STORE my_filter.lua --all`.
--
-- This one flags loci that brightened by more than 1 magnitude between their two latest
-- detections in any passband, and writes the brightening as a property.

NAME = "my_filter_lua"
VERSION = "0.1.0"
DESCRIPTION = "Flags loci that brightened by more than 1 mag between two detections"
AUTHOR = "you <you@example.org>"

-- What the filter reads: it is not run on a locus lacking these (that is not an error).
REQUIRED_LOCUS_PROPERTIES = {"num_mag_values"}

-- What it may write, with types: anything else fails the run.
OUTPUT_LOCUS_PROPERTIES = {
    {name = "my_brightening", type = "float",
     description = "magnitudes gained between the two latest detections"},
}
OUTPUT_TAGS = {
    {name = "my_brightening",
     description = "brightened by more than 1 mag between two detections in one band"},
}

function run(locus)
    local best = 0
    for _, band in ipairs(locus:passbands()) do
        local _, mag = locus:lightcurve(band)
        if #mag >= 2 then
            best = math.max(best, mag[#mag - 1] - mag[#mag]) -- smaller mag: brighter
        end
    end
    if best > 1.0 then
        locus:set_property("my_brightening", best)
        locus:tag("my_brightening")
    end
end
