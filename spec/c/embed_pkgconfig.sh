#!/usr/bin/env bash
# Install luster into a temporary prefix with `cmake --install`, build the
# embedding example against it with `pkg-config luster` alone, and run it.
set -euo pipefail
build="$1" src="$2"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$(echo "$prefix"/lib*/pkgconfig)"
# luster.pc names the prefix it was installed into, not the configured one
[ "$(pkg-config --variable=prefix luster)" = "$prefix" ] ||
  { echo "luster.pc: prefix is $(pkg-config --variable=prefix luster), not $prefix" >&2; exit 1; }
test -f "$(pkg-config --variable=includedir luster)/luster.h"
cc "$src/examples/embed/embed.c" $(pkg-config --cflags luster) -o "$prefix/embed" \
   -Wl,-rpath,"$(echo "$prefix"/lib*)" $(pkg-config --libs luster)
out="$("$prefix/embed" "$src/examples/embed/handler.lua")"
echo "$out"
grep -q "Hello, embedder!" <<<"$out"
grep -q "handled from C" <<<"$out"
grep -q "finished with code 0" <<<"$out"
