#!/usr/bin/env bash
# Install what is missing, build with AddressSanitizer and UndefinedBehaviorSanitizer and run every
# test; then build the Release tree too (-O3 and -Werror: some warnings only appear at -O3); then
# build the fuzzers with clang and run each briefly (tools/fuzz.sh, about two minutes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-asan"
release="$root/build-rel"

bash "$root/tools/deps.sh" clang-format python3
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSS_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$build" && ctest --output-on-failure -j"$(nproc)")
cmake -S "$root" -B "$release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$release" -j"$(nproc)"
bash "$root/tools/fuzz.sh" 25
