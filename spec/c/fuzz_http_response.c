/*
 * fuzz_http_response.c — libFuzzer target for the HTTP client's response
 * parser (runtime/http_parser.c over llhttp): each input is fed in pieces
 * whose sizes come from the first byte, as a socket would deliver it; the
 * parser is resumed after each response (keep-alive) and finished at the
 * end (a body read to EOF).  The request method alternates GET/HEAD, so
 * the no-body rule is exercised too.
 *   scripts/fuzz fuzz_http_response 600
 */
#include "fuzz_lua_harness.h"

static const char *SRC =
  "local native = require('native.http_parser')\n"
  "local p = native.new(4096)\n"
  "local n = 0\n"
  "return function(data)\n"
  "  n = n + 1\n"
  "  p:reset()\n"
  "  p:expect(n % 4 == 0 and 'HEAD' or 'GET')\n"
  "  local piece = #data > 0 and data:byte(1) % 61 + 1 or 1\n"
  "  local at, bodies = 1, 0\n"
  "  while at <= #data do\n"
  "    local chunk = data:sub(at, at + piece - 1)\n"
  "    at = at + piece\n"
  "    piece = piece * 7 % 89 + 1\n"
  "    while chunk do\n"
  "      local events, rest, err = p:execute(chunk)\n"
  "      if err then return end\n"
  "      chunk = nil\n"
  "      for i = 1, #events do\n"
  "        local e = events[i]\n"
  "        if e == 'head' then\n"
  "          local h = events[i + 1]\n"
  "          assert(type(h.status) == 'number')\n"
  "          assert(type(h.headers) == 'table' and #h.rawHeaders % 2 == 0)\n"  /* made from h.raw */
  "        end\n"
  "        if e == 'body' then bodies = bodies + #events[i + 1] end\n"
  "        if e == 'done' then p:resume(); chunk = rest; p:expect('GET') end\n"
  "      end\n"
  "      if not chunk and rest then return end\n"  /* an upgrade: the rest is another protocol */
  "    end\n"
  "  end\n"
  "  p:finish()\n"
  "end\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_lua_init("fuzz_http_response", SRC);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_lua_feed(data, size);
  return 0;
}
