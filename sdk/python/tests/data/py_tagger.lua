-- The Python client's tests (sdk/python/tests): a filter whose every output the tests can predict
-- from the alerts they ingest.
--   py_ndet   (locus)  the detections of the locus so far
--   py_three  (tag)    set once, by the run of the locus's third detection
--   py_bright (tag)    set once, by the run of its first detection brighter than magnitude 18
NAME = "py_tagger"
VERSION = "1"
DESCRIPTION = "Python client tests: counts detections, tags the third one and the first one brighter than 18"
AUTHOR = "skysieve Python client tests <tests@skysieve.invalid>"
OUTPUT_LOCUS_PROPERTIES = {
    {name = "py_ndet", type = "int", description = "detections of the locus so far"},
}
OUTPUT_TAGS = {
    {name = "py_three", description = "three detections or more (set once, at the third)"},
    {name = "py_bright", description = "a detection brighter than 18 (set once, at the first)"},
}

function run(locus)
    local n = #locus:light_curve(nil, "detection")
    locus:set_property("py_ndet", n)
    if n >= 3 and not locus:has_tag("py_three") then
        locus:tag("py_three")
    end
    local a = locus:newest_alert()
    if not a.upper_limit and a.mag and a.mag < 18 and not locus:has_tag("py_bright") then
        locus:tag("py_bright")
    end
end
