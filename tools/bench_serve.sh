#!/usr/bin/env bash
# bench_serve: requests per second and p50/p99 latency of `skysieve serve` (README "Figures"),
# measured with wrk (Debian's) on this machine, each route as a ratio against the server's
# cheapest answer (GET /api/v1, no store read) in the same run, repeated and reported as
# min/median/max; then the same while a broker ingests 1,000 alerts/s into the same store, and
# that broker's rate with and without the HTTP load.
#
# usage: tools/bench_serve.sh [BUILD_DIR] [--repeat N] [--seconds S] [--quick]
#   BUILD_DIR   a Release build (default build-rel)
#   --quick     a small store and short runs, to check the tool itself
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-rel
repeat=3 seconds=10 sources=20000 conns=32
while [ $# -gt 0 ]; do
    case $1 in
    --repeat) repeat=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --quick) repeat=1 seconds=2 sources=2000; shift ;;
    -*) echo "bench_serve: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
    esac
done
sks=$build/skysieve
[ -x "$sks" ] || { echo "bench_serve: no $sks (build it: cmake --build $build)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench_serve: wrk is missing (tools/deps.sh installs it)" >&2; exit 1; }
py=/usr/bin/python3
work=$(mktemp -d /tmp/bench_serve.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# ---- the store: a night of $sources sources, a tag on most loci, one locus of 500 points ----
echo "bench_serve: building the store ($sources sources)" >&2
"$sks" simulate --sources "$sources" --epochs 4 --scatter 0.3 --field 150,2,3 --quiet \
    --out "$work/night.csv"
"$sks" simulate --model constant=1 --epochs 125 --scatter 0.05 --field 20,-30,0.001 --seed 9 \
    --quiet --out "$work/long0.csv"
# its own alert ids (both simulations number theirs from 1): else they are duplicates
awk -F, 'NR == 1 { print; next } { $1 = "long" $1; print }' OFS=, "$work/long0.csv" > "$work/long.csv"
cat > "$work/bench.lua" <<'EOF'
NAME = "bench_tag"
DESCRIPTION = "tags loci of three detections or more"
AUTHOR = "bench"
OUTPUT_TAGS = {{name = "bench", description = "three detections or more"}}
function run(locus)
    if locus:alert_count() >= 3 then locus:tag("bench") end
end
EOF
printf '[filter bench]\npath = %s/bench.lua\n' "$work" > "$work/set.ini"
"$sks" ingest --quiet --store "$work/st" --filters "$work/set.ini" "$work/night.csv" "$work/long.csv" >/dev/null
long_id=$("$sks" loci --store "$work/st" | $py -c '
import json, sys
best = max((json.loads(l) for l in sys.stdin), key=lambda l: l["num_alerts"])
if best["num_alerts"] < 500: sys.exit("bench_serve: the long light curve has %d points" % best["num_alerts"])
print(best["locus_id"], best["num_alerts"], file=sys.stderr); print(best["locus_id"])')

# request lists for wrk: random loci by id, cones of 1 arcminute around random loci
"$sks" loci --store "$work/st" | $py -c '
import json, random, sys
loci = [json.loads(l) for l in sys.stdin]
random.seed(1)
pick = random.sample(loci, min(5000, len(loci)))
with open(sys.argv[1], "w") as f:
    for l in pick: print("/api/v1/loci/%s" % l["locus_id"], file=f)
with open(sys.argv[2], "w") as f:
    for l in pick: print("/api/v1/loci?ra=%.6f&dec=%.6f&radius=60" % (l["ra"], l["dec"]), file=f)
' "$work/ids.txt" "$work/cones.txt"
cat > "$work/paths.lua" <<'EOF'
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
    i = i + 1
    return wrk.format("GET", paths[(i * 7919) % #paths + 1])
end
EOF

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
"$sks" serve --store "$work/st" --listen "127.0.0.1:$port" --threads 2 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "$base/api/v1" >/dev/null && break; sleep 0.1; done

# One wrk run: "rps p50_ms p99_ms" on stdout.
run_wrk() { # NAME PATH [PATHS_FILE]
    local out
    if [ -n "${3:-}" ]; then
        out=$(BENCH_PATHS=$3 wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$work/paths.lua" "$base$2")
    else
        out=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency "$base$2")
    fi
    if echo "$out" | grep -q "Non-2xx"; then
        echo "bench_serve: $1: non-2xx answers:" >&2; echo "$out" >&2; exit 1
    fi
    echo "$out" | $py -c '
import re, sys
t = sys.stdin.read()
def ms(p):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)" % p, t, re.M)
    v = float(m.group(1)); return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
print(float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)), ms(50), ms(99))'
}

routes=(
    "reference|/api/v1|"
    "locus by id|/api/v1/loci/X|$work/ids.txt"
    "cone 1'|/api/v1/loci?ra=0|$work/cones.txt"
    "tag page of 100|/api/v1/tags/bench?page_size=100|"
    "light curve 500 pts JSON|/api/v1/loci/$long_id/lightcurve|"
    "light curve 500 pts CSV|/api/v1/loci/$long_id/lightcurve?format=csv|"
)

# Every route, $repeat times, each round starting with the reference.
measure() { # LABEL -> results in $work/$1.txt: route|rps|p50|p99|ratio
    : > "$work/$1.txt"
    for r in $(seq "$repeat"); do
        local ref=""
        for spec in "${routes[@]}"; do
            IFS='|' read -r name path list <<< "$spec"
            read -r rps p50 p99 < <(run_wrk "$name" "$path" "$list")
            [ -z "$ref" ] && ref=$rps
            echo "$name|$rps|$p50|$p99|$($py -c "print($rps / $ref)")" >> "$work/$1.txt"
            echo "  round $r: $name: $rps req/s, p50 $p50 ms, p99 $p99 ms" >&2
        done
    done
}

summary() { # LABEL TITLE
    echo
    echo "$2 ($repeat runs of ${seconds} s, wrk -t2 -c$conns; min / median / max)"
    $py - "$work/$1.txt" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, ratio = line.strip().split("|")
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99), float(ratio)))
def mmm(v, fmt):
    v = sorted(v); return "/".join(fmt % x for x in (v[0], statistics.median(v), v[-1]))
print("| route | req/s | ratio to reference | p50 ms | p99 ms |")
print("|---|---|---|---|---|")
for name, v in rows.items():
    print("| %s | %s | %s | %s | %s |" % (name, mmm([x[0] for x in v], "%.0f"),
          mmm([x[3] for x in v], "%.2f"), mmm([x[1] for x in v], "%.2f"), mmm([x[2] for x in v], "%.2f")))
EOF
}

echo "bench_serve: the server alone" >&2
measure alone

# ---- with a broker ingesting 1,000 alerts/s into the same store ----
"$sks" simulate --sources 40000 --epochs 2 --scatter 0.3 --field 250,-20,3 --seed 4 --quiet \
    --out "$work/feed.csv"
mkdir -p "$work/feed"
$py - "$work/feed.csv" "$work/feed" <<'EOF'
import sys
rows = open(sys.argv[1]).read().splitlines()
head, rows = rows[0], rows[1:]
for i in range(0, len(rows), 100):  # 100 alerts a message: 10 messages a second is 1,000/s
    with open("%s/m%05d.csv" % (sys.argv[2], i // 100), "w") as f:
        f.write(head + "\n" + "\n".join(rows[i:i + 100]) + "\n")
EOF
printf '[broker]\nstore = %s/st\nrun_dir = %s/run\nstats_interval = 0\nbatch = 1000\n\n[input pull]\naddress = ipc://%s/in.ipc\n' \
    "$work" "$work" "$work" > "$work/broker.ini"
"$sks" run --config "$work/broker.ini" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do "$sks" ctl --config "$work/broker.ini" --timeout 1 status >/dev/null 2>&1 && break; sleep 0.1; done

# Alerts the store holds (stored and repeated): what the broker has committed.
committed() {
    curl -sf "$base/api/v1/stats" | $py -c 'import json,sys; s=json.load(sys.stdin); print(s["alerts"] + s["duplicates"])'
}
# The broker's rate while fed 1,000 alerts/s for $2 seconds from message $1 on: the alerts sent
# over the time from the first message to the commit of the last.
feed_rate() { # FIRST SECONDS
    local files=() n=$(($2 * 10)) i
    for ((i = $1; i < $1 + n; i++)); do files+=("$(printf '%s/feed/m%05d.csv' "$work" "$i")"); done
    local c0 t0 want t1
    c0=$(committed); t0=$(date +%s.%N)
    "$sks" send --rate 10 "ipc://$work/in.ipc" "${files[@]}" >/dev/null 2>&1
    want=$((c0 + n * 100))
    for _ in $(seq 600); do [ "$(committed)" -ge "$want" ] && break; sleep 0.1; done
    t1=$(date +%s.%N)
    [ "$(committed)" -ge "$want" ] || { echo "bench_serve: the broker did not store the feed" >&2; exit 1; }
    $py -c "print('%.0f' % ($n * 100 / ($t1 - $t0)))"
}

echo "bench_serve: the broker's rate at 1,000 alerts/s offered, without HTTP load" >&2
quiet_rate=$(feed_rate 0 60)
echo "bench_serve: the server while the broker ingests" >&2
( feed_rate 600 $((seconds * ${#routes[@]} * repeat + 5)) > "$work/busy_rate" ) &
feeder=$!
measure busy
wait $feeder
busy_rate=$(cat "$work/busy_rate")

summary alone "skysieve serve, store of $sources sources ($(cat "$work/night.csv" | wc -l) alerts)"
summary busy "the same while a broker ingests 1,000 alerts/s into the store"
echo
echo "broker fed 1,000 alerts/s: $quiet_rate alerts/s stored (first message to last commit)" \
    "without HTTP load, $busy_rate with it ($($py -c "print('%.1f' % (100 * (1 - $busy_rate / $quiet_rate)))")% lower)"
