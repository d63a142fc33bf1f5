#!/usr/bin/env bash
# `cpack -G DEB` makes a .deb with the binary, both libraries, the header,
# a luster.pc for /usr and the editor definitions, whose Depends name the
# Debian package of every shared library the binary links (found with
# dpkg -S, so a new dependency that is not declared fails here) and
# lua-cjson.  Installing it on a clean Debian root: scripts/test --fresh.
set -euo pipefail
build="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$build" && cpack -G DEB -B "$tmp" >/dev/null)
deb="$(ls "$tmp"/luster_*.deb)"
depends="$(dpkg-deb -f "$deb" Depends)"
echo "Depends: $depends"
fail() { echo "package_deb: $*" >&2; exit 1; }

contents="$(dpkg-deb -c "$deb" | awk '{ print $6 }')" # the name (a symlink's target follows)
for f in ./usr/bin/luster ./usr/lib/libluster.so.0 ./usr/lib/libluster.a ./usr/include/luster.h \
         ./usr/lib/pkgconfig/luster.pc ./usr/share/luster/types/http.lua \
         ./usr/share/luster/types/globals.lua ./usr/share/doc/luster/examples/hello.lua; do
  grep -qxF "$f" <<<"$contents" || fail "no $f in the package"
done

dpkg-deb -x "$deb" "$tmp/root"
grep -qx 'prefix=/usr' "$tmp/root/usr/lib/pkgconfig/luster.pc" || fail "luster.pc's prefix is not /usr"

# every library the binary needs comes from a package the .deb depends on
for lib in $(readelf -d "$build/luster" | awk -F'[][]' '/NEEDED/ { print $2 }'); do
  path="$(ldd "$build/luster" | awk -v l="$lib" '$1 == l { print $3 }')"
  [ -n "$path" ] || continue # the dynamic loader itself
  # dpkg knows a file by the path its package ships (/lib or /usr/lib: usrmerge)
  real="$(readlink -f "$path")" pkg=
  for p in "$path" "$real" "${real#/usr}" "/usr$real"; do
    pkg="$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1)" || true
    [ -n "$pkg" ] && break
  done
  [ -n "$pkg" ] || fail "$lib ($path) belongs to no package"
  case "$pkg" in libc6|libgcc-s1) continue ;; esac # essential
  grep -qE "(^|, )$pkg( |,|$)" <<<"$depends" || fail "links $lib from $pkg, which Depends does not name"
done
grep -qE '(^|, )lua-cjson( |,|$)' <<<"$depends" || fail "Depends lacks lua-cjson (json loads its cjson.so)"
