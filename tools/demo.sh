#!/usr/bin/env bash
# Install what is missing, build, and run skysieve on embedded defaults: generate a small night of
# tuple alerts (200 steady sources, 10 visits, a source that jumps by 4 mag, two bad rows), ingest
# it through the example filter set (config/filters.ini), and show what was found.
set -eu  # no pipefail: `| head` closing early is fine here
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
demo="$build/demo"

bash "$root/tools/deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target skysieve gen_alerts jump lcstats

rm -rf "$demo" && mkdir -p "$demo"
"$build/tools/gen_alerts" --sources 200 --epochs 10 > "$demo/night.csv"
printf 'bad-1,12.5,95.0,60001.0,g,18.2,0.05\nbad-2,12.5,-3.0,60001.0,g,,0.05\n' >> "$demo/night.csv"
for e in 0 1 2 3 4; do  # a steady source in g until its last visit, 4 mag brighter
    printf 'jumper-%d,200.0,-10.0,%d.5,g,%s,0.05\n' $e $((60000 + 2 * e)) \
        "$( [ $e -lt 4 ] && echo 18.$e || echo 14.1 )" >> "$demo/night.csv"
done
sks="$build/skysieve"

echo "== skysieve ingest --store $demo/store --filters config/filters.ini $demo/night.csv"
"$sks" ingest --store "$demo/store" --filters "$root/config/filters.ini" "$demo/night.csv" || true
echo
echo "== skysieve stats"
"$sks" stats --store "$demo/store"
echo
echo "== skysieve loci (first 5 of $("$sks" loci --store "$demo/store" | wc -l))"
"$sks" loci --store "$demo/store" | head -5
line=$("$sks" loci --store "$demo/store" | head -1)
id=$(sed 's/.*"locus_id":"\([^"]*\)".*/\1/' <<<"$line")
ra=$(sed 's/.*"ra":\([^,]*\),.*/\1/' <<<"$line")
dec=$(sed 's/.*"dec":\([^,]*\),.*/\1/' <<<"$line")
echo
echo "== skysieve locus $id (its first two alerts)"
"$sks" locus --store "$demo/store" "$id" | sed 's/},{"alert_id"/},\n  {"alert_id"/g' | head -3
echo
echo "== skysieve cone $ra $dec 600 (loci within 10 arcmin, nearest first)"
"$sks" cone --store "$demo/store" "$ra" "$dec" 600
echo
echo "== skysieve rejected (kept for inspection)"
"$sks" rejected --store "$demo/store"
echo
echo "== skysieve tagged jump (what the filters found)"
"$sks" tagged --store "$demo/store" jump
jumper=$("$sks" tagged --store "$demo/store" jump | head -1 | sed 's/.*"locus_id":"\([^"]*\)".*/\1/')
if [ -n "$jumper" ]; then
    echo
    echo "== its properties and tags (skysieve locus $jumper)"
    "$sks" locus --store "$demo/store" "$jumper" | sed 's/,"alerts":.*,"tags"/,"alerts":[...],"tags"/'
fi
