#!/usr/bin/env bash
# Install luster into a temporary prefix with `cmake --install`, build the
# embedding example against it with `pkg-config luster` alone, and run it.
set -euo pipefail
build="$1" src="$2"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
# luster.pc holds the configure-time prefix; point pkg-config at ours
sed -i "s|^prefix=.*|prefix=$prefix|" "$prefix"/lib*/pkgconfig/luster.pc
export PKG_CONFIG_PATH="$(echo "$prefix"/lib*/pkgconfig)"
cc "$src/examples/embed/embed.c" $(pkg-config --cflags luster) -o "$prefix/embed" \
   -Wl,-rpath,"$(echo "$prefix"/lib*)" $(pkg-config --libs luster)
out="$("$prefix/embed" "$src/examples/embed/handler.lua")"
echo "$out"
grep -q "Hello, embedder!" <<<"$out"
grep -q "handled from C" <<<"$out"
grep -q "finished with code 0" <<<"$out"
