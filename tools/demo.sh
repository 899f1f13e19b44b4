#!/usr/bin/env bash
# Install what is missing, build, and run skysieve on embedded defaults: simulate the ANTARES
# streaming tutorial's survey (127 built-in sources, two of which jump by 3.5 mag halfway), load a
# star catalog that holds the steady sources and one of the jumpers (a flaring star), replay the
# night through the default filter set (config/filters.ini), and show what was found against the
# simulation's truth: the tutorial pair (not_a_star, then jump) flags the jumper that is not a
# star, at the epoch it jumps, and nothing else.
set -eu  # no pipefail: `| head` closing early is fine here
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
demo="$build/demo"

bash "$root/tools/deps.sh" python3
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target skysieve jump lcstats

rm -rf "$demo" && mkdir -p "$demo"
sks="$build/skysieve"
# Two rows a survey could send by mistake, to show that bad input is set aside, not lost.
bad='bad-1,12.5,95.0,60001.0,g,18.2,0.05\nbad-2,12.5,-3.0,60001.0,g,,0.05\n'

echo "== skysieve simulate --out night.csv --truth truth.jsonl   (the tutorial's survey)"
"$sks" simulate --model constant=100 --model periodic=20 --model transient=5 --model jump=2 \
    --out "$demo/night.csv" --truth "$demo/truth.jsonl"
printf 'alert_id,ra,dec,mjd,passband,mag,magerr\n'"$bad" > "$demo/mistakes.csv"
# The stars: the steady and periodic sources, and the last jump source, a flaring star.
python3 - "$demo/truth.jsonl" > "$demo/stars.csv" <<'EOF'
import json, sys
src = list(map(json.loads, open(sys.argv[1])))
flare = [s for s in src if s["model"] == "jump"][-1]["object_id"]
print("name,ra,dec,kind")
for s in src:
    if s["model"] in ("constant", "periodic") or s["object_id"] == flare:
        kind = "flare star" if s["object_id"] == flare else s["model"] + " star"
        print("%s,%.9f,%.9f,%s" % (s["object_id"], s["ra"], s["dec"], kind))
EOF
echo
echo "== skysieve catalog load --store catalogs --name stars --radius 5 stars.csv"
"$sks" catalog load --store "$demo/catalogs" --name stars --radius 5 "$demo/stars.csv"
echo
# Alerts are scattered by 1" around their source, so loci gather them within 5".
echo "== skysieve replay --filters config/filters.ini --catalogs-from catalogs --radius 5 night.csv mistakes.csv"
"$sks" replay --filters "$root/config/filters.ini" --catalogs-from "$demo/catalogs" --radius 5 \
    --store "$demo/store" --report "$demo/report.json" --validate "$demo/night.csv" \
    "$demo/mistakes.csv"
echo
echo "== what the filters found, against the truth"
python3 - "$demo/report.json" "$demo/truth.jsonl" "$demo/stars.csv" <<'EOF'
import csv, json, sys
report = json.load(open(sys.argv[1]))
truth = {t["object_id"]: t for t in map(json.loads, open(sys.argv[2]))}
stars = {row["name"] for row in csv.DictReader(open(sys.argv[3]))}
found = report["set"]["tags"].get("jump", {"list": []})["list"]
flagged = set()
for hit in found:
    oid = next((v for k, v in hit.items() if k.endswith("_object_id")), "?")
    flagged.add(oid)
    t = truth.get(oid, {})
    want = t.get("params", t).get("first_bright_mjd")
    verdict = "at the jump epoch" if want is not None and abs(hit["alert"]["mjd"] - want) < 1e-6 \
        else "NOT a jump source" if t.get("model") != "jump" else "at the wrong epoch (%s)" % want
    if oid in stars:
        verdict += ", but it is a catalog star"
    print("  %s (%s model) flagged at MJD %.4f by %s: %s" % (oid, t.get("model", "?"),
          hit["alert"]["mjd"], hit["filter"], verdict))
jumpers = [o for o, t in truth.items() if t["model"] == "jump" and o not in stars]
missed = [o for o in jumpers if o not in flagged]
wrong = [o for o in flagged if o not in jumpers]
halts = next(f for f in report["set"]["filters"] if f["label"] == "not_a_star")["halts"]
print("  %d of %d jump sources that are not stars flagged; %d of %d other sources flagged" %
      (len(jumpers) - len(missed), len(jumpers), len(wrong), len(truth) - len(jumpers)))
print("  not_a_star set aside %d updates of loci that match one of the %d catalog stars"
      " (the flaring star among them)" % (halts, len(stars)))
sys.exit(1 if missed or wrong else 0)
EOF
echo
echo "== the kept store: skysieve stats, then the rejected rows (kept for inspection)"
"$sks" stats --store "$demo/store" | head -c 400; echo ...
"$sks" rejected --store "$demo/store"
jumper=$("$sks" tagged --store "$demo/store" jump | head -1 | sed 's/.*"locus_id":"\([^"]*\)".*/\1/')
if [ -n "$jumper" ]; then
    echo
    echo "== the jumping source: skysieve locus $jumper (properties and tags)"
    "$sks" locus --store "$demo/store" "$jumper" | sed 's/,"alerts":.*,"tags"/,"alerts":[...],"tags"/'
fi
