# Shared by scripts/bench.d workloads that run one script per runtime:
# where Node and Bun are, and `run_js NAME FILE ARGS...` that runs FILE in
# each JavaScript runtime present, prefixing nothing (the script prints its
# own "IMPL METRIC VALUE UNIT BETTER" lines with IMPL taken from argv).
# shellcheck shell=bash
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
LUSTER="${LUSTER:-$ROOT/build/luster}"
# Bun ships as the npm package @oven/bun-linux-x64 (scripts/setup --bench)
BUN="${BUN:-$ROOT/build/bench-npm/node_modules/@oven/bun-linux-x64/bin/bun}"
[ -x "$BUN" ] || BUN=""
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# run_js FILE ARGS...: node (and bun, when installed) run FILE; the script
# gets its runtime's name as the first argument.
run_js() {
  local f="$1"; shift
  node "$f" node "$@"
  if [ -n "$BUN" ]; then "$BUN" "$f" bun "$@"; fi
}
