/*
 * fuzz_inflate.c — libFuzzer target for decompression (runtime/zlib.c):
 * garbage into gunzip, inflate, inflateRaw, unzip and brotli, one-shot
 * (maxOutputLength 1 MiB) and streamed in pieces with a bounded output per
 * step, as zlib streams do.  Errors (Z_DATA_ERROR, ERR_BUFFER_TOO_LARGE...)
 * are expected; crashes, sanitizer reports and unbounded output are not.
 *   scripts/fuzz fuzz_inflate 600
 */
#include "fuzz_lua_harness.h"

static const char *SRC =
  "local native = require('native.zlib')\n"
  "local kinds = { 'gunzip', 'inflate', 'inflateRaw', 'unzip', 'brotliDecompress' }\n"
  "local opts = { maxOutputLength = 1024 * 1024, chunkSize = 1024 }\n"
  "return function(data)\n"
  "  if #data == 0 then return end\n"
  "  local kind = kinds[data:byte(1) % #kinds + 1]\n"
  "  local input = data:sub(2)\n"
  "  local ok, out = pcall(native.run, kind, opts, input)\n"
  "  if ok then assert(#out <= opts.maxOutputLength) end\n"
  "  local z = native.new(kind, opts)\n"
  "  local at, total = 1, 0\n"
  "  while at <= #input do\n"
  "    local piece = input:sub(at, at + 63)\n"
  "    at = at + 64\n"
  "    repeat\n"
  "      local ok2, o, ended, used, more = pcall(z.push, z, piece, 0, 4096)\n"
  "      if not ok2 then z:close(); return end\n"
  "      total = total + #o\n"
  "      if total > 8 * 1024 * 1024 then z:close(); return end\n"
  "      piece = more and piece:sub(used + 1) or ''\n"
  "    until not more\n"
  "  end\n"
  "  pcall(z.push, z, '', 4, 4096)\n"
  "  z:close()\n"
  "end\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_lua_init("fuzz_inflate", SRC);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_lua_feed(data, size);
  return 0;
}
