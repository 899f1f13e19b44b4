#!/usr/bin/env bash
# Install the Debian packages skysieve builds with, when any is missing (apt-get; sudo when not root).
# Extra package names given as arguments are installed too (the tests add clang-format).
set -euo pipefail

packages=(build-essential cmake pkg-config liblmdb-dev libjansson-dev libcsv-dev libxxhash-dev
          check libsubunit-dev liblua5.4-dev libnanomsg-dev libinih-dev
          libavro-dev libsnappy-dev zlib1g-dev libzstd-dev libcfitsio-dev libcurl4-openssl-dev librdkafka-dev
          libchealpix-dev libgsl-dev libfftw3-dev libmicrohttpd-dev libcairo2-dev libssl-dev chromium fonts-dejavu-core
          python3 python3-requests python3-pandas python3-astropy python3-scipy python3-healpy python3-pytest python3-matplotlib
          python3-setuptools python3-websocket wrk clang libclang-rt-dev "$@")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
