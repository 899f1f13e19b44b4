#!/usr/bin/env bash
# Install the SDK to a scratch prefix, build the C template out of the tree against it with
# pkg-config, and check the result loads: what a filter author does first.
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
cmake -S "$source/sdk/template/c" -B "$work/b" >/dev/null
cmake --build "$work/b" >/dev/null
"$work/prefix/bin/skysieve" filter check "$work/b/my_filter.so" | grep -q '"name": "my_filter"'
echo "template filter built out of the tree and loaded"
