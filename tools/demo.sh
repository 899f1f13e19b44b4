#!/usr/bin/env bash
# Install what is missing, build, and run skysieve on embedded defaults: generate a small night of
# tuple alerts (200 steady sources, 10 visits, plus a few bad rows), ingest it, show what was found.
set -eu  # no pipefail: `| head` closing early is fine here
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
demo="$build/demo"

bash "$root/tools/deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target skysieve gen_alerts

rm -rf "$demo" && mkdir -p "$demo"
"$build/tools/gen_alerts" --sources 200 --epochs 10 > "$demo/night.csv"
printf 'bad-1,12.5,95.0,60001.0,g,18.2,0.05\nbad-2,12.5,-3.0,60001.0,g,,0.05\n' >> "$demo/night.csv"
sks="$build/skysieve"

echo "== skysieve ingest --store $demo/store $demo/night.csv"
"$sks" ingest --store "$demo/store" "$demo/night.csv" || true
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
