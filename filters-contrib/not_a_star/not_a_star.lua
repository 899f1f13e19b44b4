-- not_a_star: the second half of the ANTARES streaming tutorial's pair. A locus that matches a
-- star in a loaded catalog is a variable star, not the transient the tutorial looks for: the
-- filter records the star and halts the locus, so filters after it (the jump filter) never see
-- it. Run it before them in the set.
--
-- Cuts: a match in one of the catalogs named by setup "catalogs" (default "stars"; a comma
-- separated list), within the catalog's own match radius (`skysieve catalog load --radius`) or,
-- when setup "radius" is given, within that many arcsec. The catalog decides what a star is
-- (Gaia stars with a significant parallax, a survey's point sources, ...), as the tutorial's
-- "is this a known star?" check does; the filter adds no cut of its own.
--
-- A locus of a store without the catalog matches nothing and passes: load the catalog first
-- (`skysieve catalog load --store DIR --name stars FILE`, or `replay --catalog stars=FILE`).

NAME = "not_a_star"
VERSION = "1.0.0"
DESCRIPTION = "Halts loci that match a star of a loaded catalog (default catalog name: stars)"
AUTHOR = "skysieve developers <dev@skysieve.invalid>"
OUTPUT_LOCUS_PROPERTIES = {
    {name = "star_catalog", type = "str", description = "the catalog of the matched star"},
    {name = "star_id", type = "str", description = "the matched star's id in it"},
    {name = "star_separation_arcsec", type = "float", description = "locus to star, arcsec"},
}

local catalogs = {stars = true}
local radius = math.huge

function setup(data)
    if data.catalogs then
        catalogs = {}
        for name in string.gmatch(data.catalogs, "[^,%s]+") do catalogs[name] = true end
        assert(next(catalogs), "catalogs: give at least one catalog name")
    end
    if data.radius then
        radius = assert(tonumber(data.radius), "radius must be a number of arcsec")
        assert(radius > 0, "radius must be positive")
    end
end

function run(locus)
    local star
    for _, m in ipairs(locus:catalog_matches()) do
        if catalogs[m.catalog] and m.separation_arcsec <= radius
            and (not star or m.separation_arcsec < star.separation_arcsec) then
            star = m
        end
    end
    if star then
        locus:set_property("star_catalog", star.catalog)
        locus:set_property("star_id", star.object_id)
        locus:set_property("star_separation_arcsec", star.separation_arcsec)
        locus:halt()
    end
end
