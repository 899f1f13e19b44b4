-- A filter for the broker's tests (tests/test_broker.c): it counts its runs on each locus and
-- stamps each triggering alert, so that a test can check that every alert was dispatched exactly
-- once, and by which filter-set generation:
--   tf_count (locus)  the runs on this locus so far: the previous value + 1, or 1
--   tf_seq   (alert)  tf_count as this alert's run left it: a locus's alerts hold 1..n, each once
--   tf_gen   (alert)  the setup item `gen` of the set that ran ("none" without one)
-- Setup item `spin_ms`: spend that much CPU time in each run, to make the filter slow.
-- Setup item `setup_ms`: spend that much time in setup, to make a reload slow.
NAME = "tf_count"
VERSION = "1"
DESCRIPTION = "Counts its runs per locus and stamps each triggering alert with the set's generation"
AUTHOR = "skysieve tests <tests@example.org>"
OUTPUT_LOCUS_PROPERTIES = {
    {name = "tf_count", type = "int", description = "runs on this locus: previous value + 1"},
}
OUTPUT_ALERT_PROPERTIES = {
    {name = "tf_seq", type = "int", description = "tf_count after this alert's run"},
    {name = "tf_gen", type = "str", description = "the setup item gen of the set that ran"},
}

local gen = "none"
local spin = 0

function setup(data)
    gen = data.gen or gen
    if data.setup_ms then
        local deadline = os.clock() + assert(tonumber(data.setup_ms), "setup_ms: a number") / 1000
        while os.clock() < deadline do end
    end
    if data.spin_ms then
        spin = assert(tonumber(data.spin_ms), "spin_ms must be a number") / 1000
    end
end

function run(locus)
    if spin > 0 then
        local deadline = os.clock() + spin
        while os.clock() < deadline do end
    end
    local n = (locus:property("tf_count") or 0) + 1
    locus:set_property("tf_count", n)
    locus:set_alert_property("tf_seq", n)
    locus:set_alert_property("tf_gen", gen)
end
