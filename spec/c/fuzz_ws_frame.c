/*
 * fuzz_ws_frame.c — libFuzzer target for the WebSocket frame parser
 * (lua/luster/ws_frame.lua).  The first input byte picks the role
 * (server: frames must be masked; client: they must not be), a small
 * maxPayload and how the bytes are cut into reads; the second picks the
 * mode:
 *   - raw: the rest of the input is fed as received bytes, in pieces;
 *   - model: the rest describes frames (opcode, fin, length, bytes) that
 *     are serialized with the module's own frame() (masked as the role
 *     wants), fed in pieces, and the messages, pings, pongs and close
 *     that come out must be the ones a plain model of RFC 6455 expects.
 * In both modes no Lua error may escape feed() (bad input must come out
 * through on_error with close code 1002, 1007 or 1009), and what the
 * parser holds between reads stays bounded: an incomplete header (< 14
 * bytes), the message being assembled (<= maxPayload) and one control
 * frame (<= 125 bytes).  An escaping error aborts: it is a finding.
 *   scripts/fuzz fuzz_ws_frame 600
 */
#include "fuzz_lua_harness.h"
#include <stdint.h>

static const char *SRC =
  "local wsf = require('luster.ws_frame')\n"
  "local byte, sub, concat = string.byte, string.sub, table.concat\n"
  "local ALLOWED = { [1002] = true, [1007] = true, [1009] = true }\n"
  "local function held(p)\n"
  "  local n = p.buf and #p.buf or 0\n"
  "  assert(n < 14, 'header buffer grew')\n"
  "  local m = 0\n"
  "  for i = 1, p.nparts do m = m + #p.parts[i] end\n"
  "  assert(p.max <= 0 or m <= p.max, 'message buffer beyond maxPayload')\n"
  "  local c = 0\n"
  "  if p.cparts then for i = 1, #p.cparts do c = c + #p.cparts[i] end end\n"
  "  assert(c <= 125, 'control buffer beyond 125')\n"
  "end\n"
  "local function new(is_server, max, out)\n"
  "  local p = wsf.new_parser({ isServer = is_server, maxPayload = max })\n"
  "  p.on_message = function(d, bin)\n"
  "    assert(max <= 0 or #d <= max, 'message beyond maxPayload')\n"
  "    if not bin then assert(wsf.valid_utf8(d), 'invalid UTF-8 text delivered') end\n"
  "    out[#out + 1] = (bin and 'B' or 'T') .. d\n"
  "  end\n"
  "  p.on_ping = function(d) assert(#d <= 125) out[#out + 1] = 'I' .. d end\n"
  "  p.on_pong = function(d) assert(#d <= 125) out[#out + 1] = 'O' .. d end\n"
  "  p.on_close = function(code, reason)\n"
  "    assert(code == nil or wsf.valid_close_code(code), 'bad close code delivered')\n"
  "    out[#out + 1] = 'C' .. tostring(code) .. ':' .. reason\n"
  "  end\n"
  "  p.on_error = function(e)\n"
  "    assert(type(e) == 'table' and ALLOWED[e.statusCode], 'unexpected error status')\n"
  "    assert(type(e.code) == 'string' and e.code:match('^WS_ERR_'), 'unexpected error code')\n"
  "    out[#out + 1] = 'E' .. e.statusCode\n"
  "  end\n"
  "  return p\n"
  "end\n"
  /* feed `s` in pieces whose sizes follow `piece`, checking the bounds */
  "local function pieces(p, s, piece)\n"
  "  local at = 1\n"
  "  while at <= #s do\n"
  "    p:feed(sub(s, at, at + piece - 1))\n"
  "    held(p)\n"
  "    at = at + piece\n"
  "    piece = piece * 7 % 97 + 1\n"
  "  end\n"
  "end\n"
  /* model mode: frames from the input, the expected events beside them */
  "local function model(data, is_server, max, piece)\n"
  "  local out, want = {}, {}\n"
  "  local p = new(is_server, max, out)\n"
  "  local wire, at, msg, mop, ended = {}, 3, {}, nil, false\n"
  "  while at + 1 <= #data and not ended do\n"
  "    local b, len = byte(data, at, at + 1)\n"
  "    at = at + 2\n"
  "    local op = ({ 0, 1, 2, 8, 9, 10, 1, 2 })[b % 8 + 1]\n"
  "    local fin = b % 16 < 8 or op >= 8\n"
  "    if b >= 128 then len = len * 4 end\n"   /* sometimes past maxPayload */
  "    if op >= 8 and len > 125 then len = len % 126 end\n"
  "    local payload = sub(data, at, at + len - 1)\n"
  "    at = at + len\n"
  "    if op == 8 then payload = '' end\n"   /* a close frame: empty, well-formed */
  "    if op == 0 and not mop then op = 2 end\n"   /* keep the sequence valid */
  "    if op ~= 0 and op < 8 and mop then op = 0 end\n"
  "    wire[#wire + 1] = wsf.frame(op, payload, fin, is_server)\n"
  "    if op == 8 then want[#want + 1] = 'Cnil:'; ended = true\n"
  "    elseif op == 9 then want[#want + 1] = 'I' .. payload\n"
  "    elseif op == 10 then want[#want + 1] = 'O' .. payload\n"
  "    else\n"
  "      if op ~= 0 then mop = op end\n"
  "      msg[#msg + 1] = payload\n"
  "      local m = concat(msg)\n"
  "      if max > 0 and #m > max then want[#want + 1] = 'E1009'; ended = true\n"
  "      elseif fin then\n"
  "        if mop == 1 and not wsf.valid_utf8(m) then want[#want + 1] = 'E1007'; ended = true\n"
  "        else want[#want + 1] = (mop == 2 and 'B' or 'T') .. m end\n"
  "        msg, mop = {}, nil\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "  pieces(p, concat(wire), piece)\n"
  "  assert(#out == #want, 'event count differs from the model')\n"
  "  for i = 1, #want do assert(out[i] == want[i], 'event differs from the model') end\n"
  "end\n"
  "return function(data)\n"
  "  if #data < 2 then return end\n"
  "  local b0, b1 = byte(data, 1, 2)\n"
  "  local is_server = b0 % 2 == 1\n"
  "  local max = ({ 0, 1, 16, 125, 126, 300, 65536, 70000 })[math.floor(b0 / 2) % 8 + 1]\n"
  "  local piece = math.floor(b0 / 16) + 1\n"
  "  if b1 % 2 == 0 then\n"
  "    pieces(new(is_server, max, {}), sub(data, 3), piece)\n"
  "  else\n"
  "    model(data, is_server, max, piece)\n"
  "  end\n"
  "end\n";

/* The parser is Lua: libFuzzer's own coverage sees only the VM.  A line
 * hook feeds it pairs (previous line, line) of the Lua code as extra
 * counters, so inputs that reach new branches of the parser are kept. */
__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t lua_edges[1 << 14];
static unsigned prev_line;

static void line_hook(lua_State *L, lua_Debug *ar) {
  if (!lua_getinfo(L, "Sl", ar)) return;
  unsigned here = (unsigned)ar->currentline * 2654435761u ^ (unsigned)(uintptr_t)ar->source;
  unsigned edge = (here ^ (prev_line >> 1)) & (sizeof lua_edges - 1);
  if (lua_edges[edge] != 255) lua_edges[edge]++;
  prev_line = here;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_lua_init("fuzz_ws_frame", SRC);
  lua_sethook(FUZZ_S->L, line_hook, LUA_MASKLINE, 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = FUZZ_S->L;
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.feed");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != 0) {
    /* unlike other harnesses an error here is a finding: the parser's
       refusals go through on_error, never out of feed() */
    fprintf(stderr, "fuzz_ws_frame: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
