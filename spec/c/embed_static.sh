#!/usr/bin/env bash
# Install luster into a temporary prefix, remove the shared library from it
# (so nothing can fall back to libluster.so), link spec/c/embed_static.c
# with `pkg-config --static luster` alone, and run spec/c/embed_static.lua
# in it: an HTTP request (curl) answered by a worker thread, Atomics and a
# timer (both reached through LuaJIT's FFI), lua-cjson, and a finalizer
# that reaches the runtime as luster_free closes the state.
set -euo pipefail
build="$1" src="$2"
prefix="$(mktemp -d)"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$prefix"; }
trap cleanup EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
rm -f "$prefix"/lib*/libluster.so*
export PKG_CONFIG_PATH="$(echo "$prefix"/lib*/pkgconfig)"
cc "$src/spec/c/embed_static.c" $(pkg-config --cflags luster) -o "$prefix/embed_static" \
   $(pkg-config --static --libs luster)
if readelf -d "$prefix/embed_static" | grep -q 'libluster'; then
  echo "embed_static: links libluster dynamically" >&2; exit 1
fi
out="$prefix/out"
"$prefix/embed_static" "$src/spec/c/embed_static.lua" >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening' "$out" && break; sleep 0.05; done
port="$(awk '/^listening/ { print $2 }' "$out")"
[ -n "$port" ] || { echo "embed_static: no server came up" >&2; cat "$out" >&2; exit 1; }
body="$(curl -sS --max-time 10 "http://127.0.0.1:$port/")"
echo "$body"
rc=0; wait "$pid" || rc=$?; pid=
cat "$out"
[ "$rc" -eq 0 ] || { echo "embed_static: exit code $rc" >&2; exit 1; }
grep -q '^finalizer at close: loop ms [0-9]' "$out" ||
  { echo "embed_static: no finalizer ran as the state closed" >&2; exit 1; }
[ "$body" = "worker: 12 squared is 144, Atomics 37, timer fired, json [1]" ] ||
  { echo "embed_static: unexpected answer" >&2; exit 1; }
