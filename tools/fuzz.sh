#!/usr/bin/env bash
# Build the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined) and run each for a
# short time from the generated seeds and the known crashers (tests/fuzz/README.md): a smoke run
# on every CI run, so that the fuzz build keeps compiling and a shallow crash is caught at once.
# Usage: tools/fuzz.sh [SECONDS_PER_TARGET [TARGET...]] (default 25 s, all four targets). Skipped,
# with a message, without clang. For long runs: FUZZ_FORK=N runs N fuzzing processes per target
# (libFuzzer's -fork, one per core), FUZZ_KEEP=1 keeps the corpus grown in build-fuzz/fuzz-work,
# FUZZ_FLAGS adds libFuzzer flags (split on spaces), e.g. FUZZ_FLAGS=-entropic=0; FUZZ_PARALLEL=1
# runs the targets at the same time instead of one after another.
# FUZZ_SANITIZERS=none (or undefined) fuzzes with a volume build in build-fuzz-none: coverage only,
# about twice the executions a second; each input it kept is then replayed through the
# ASan/UBSan build (build-fuzz), so a memory error or a leak the volume build cannot see still
# fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitizers=${FUZZ_SANITIZERS:-address,undefined}
case "$sanitizers" in
address,undefined) build="$root/build-fuzz" ;;
none | undefined) build="$root/build-fuzz-$sanitizers" ;;
*)
    echo "fuzz: FUZZ_SANITIZERS='$sanitizers' is not one of address,undefined, undefined, none" >&2
    exit 2
    ;;
esac
seconds=${1:-25}
targets=(fuzz_avro fuzz_csv fuzz_jsonl fuzz_ingest)
[ $# -gt 1 ] && targets=("${@:2}")
fork=()
[ -n "${FUZZ_FORK:-}" ] && fork=(-fork="$FUZZ_FORK")
read -r -a extra_flags <<<"${FUZZ_FLAGS:-}"

if ! command -v clang >/dev/null; then
    echo "fuzz: skipped: clang is not installed (tools/deps.sh installs it)" >&2
    exit 0
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    echo "fuzz: skipped: clang has no libFuzzer runtime (libclang-rt-dev)" >&2
    exit 0
fi

# Optimised (-O2 -g): 1.8x the executions per second of -O0 (24,400/s against 13,800/s for
# fuzz_csv, 20 s each, same machine and load), with the same sanitizers and symbols.
configure() { # BUILD_DIR SANITIZERS
    CC=clang cmake -S "$root" -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSS_FUZZ=ON \
        -DSS_FUZZ_SANITIZERS="$2" -DPython3_EXECUTABLE="$(command -v python3)" >/dev/null
}
configure "$build" "$sanitizers"
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" fuzz_inputs
checked="$root/build-fuzz"
if [ "$build" != "$checked" ]; then
    configure "$checked" address,undefined
    cmake --build "$checked" -j"$(nproc)" --target "${targets[@]}"
fi

# Every input of DIR through the ASan/UBSan build of TARGET, one run each (libFuzzer runs the
# files it is given once and stops at the first that fails).
replay_checked() { # TARGET DIR LOG
    local n
    n=$(find "$2" -type f | wc -l)
    if find "$2" -type f -print0 | xargs -0 -r -n 256 "$checked/tests/fuzz/$1" -rss_limit_mb=2048 \
        -timeout=30 >"$3" 2>&1; then
        echo "fuzz: $1: the $n inputs kept, replayed under ASan/UBSan: no failure"
    else
        echo "fuzz: $1 FAILED in the ASan/UBSan replay of its corpus (log: $3):" >&2
        grep -E -B2 -A12 'ERROR|SUMMARY|broke its contract' "$3" | head -40 >&2 || true
        return 1
    fi
}

inputs="$build/tests/fuzz-inputs"
work="$build/fuzz-work"
crashes="$build/fuzz-crashes"
[ -n "${FUZZ_KEEP:-}" ] || rm -rf "$work"
rm -rf "$crashes"
mkdir -p "$crashes"
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan-fast.supp:print_suppressions=0"
# One target's run, then (volume build) the check of what it kept; 1 when either failed.
run_target() { # TARGET
    local t=$1 kind=${1#fuzz_} log="$build/$1.log" extra
    local dirs=("$inputs/seeds/$kind")
    for extra in "$inputs/corpus/$kind" "$root/tests/fuzz/corpus/$kind"; do
        [ -d "$extra" ] && dirs+=("$extra")
    done
    mkdir -p "$work/$kind"
    if ! "$build/tests/fuzz/$t" "${fork[@]}" "${extra_flags[@]}" -max_total_time="$seconds" \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$crashes/$t-" \
        "$work/$kind" "${dirs[@]}" >"$log" 2>&1; then
        echo "fuzz: $t FAILED (reproduce: $build/tests/fuzz/$t $crashes/$t-*):" >&2
        grep -E -A12 'ERROR|SUMMARY|broke its contract|fuzz_ingest:' "$log" | head -40 >&2 || true
        return 1
    fi
    # a single process ends with "Done N runs in S second(s)"; -fork's parent with "#N: ..."
    echo "fuzz: $t: $(grep -o -E 'Done [0-9]+ runs in [0-9]+ second\(s\)|^#[0-9]+: cov: [0-9]+ .*exec/s:? [0-9]+' "$log" | tail -1)"
    [ "$build" = "$checked" ] || replay_checked "$t" "$work/$kind" "$build/$t.replay.log"
}

# FUZZ_PARALLEL=1: the targets side by side (one core each), else one after another.
failed=0
pids=()
for t in "${targets[@]}"; do
    if [ -n "${FUZZ_PARALLEL:-}" ]; then
        run_target "$t" &
        pids+=($!)
    else
        run_target "$t" || failed=1
    fi
done
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
exit $failed
