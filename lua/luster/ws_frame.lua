--- luster.ws_frame — RFC 6455 framing: the frame parser, the serializer,
--- masking and UTF-8 validation.  Pure Lua over LuaJIT's FFI and bit ops:
--- payload bytes are never walked as Lua strings.  Unmasking XORs 32-bit
--- words from the received string straight into a scratch buffer (one
--- ffi.string copy out); UTF-8 is checked in C (runtime/utf8.c).
---
--- new_parser(opts[, handler]) with opts = {isServer=, maxPayload=}.  What
--- it finds goes to `handler`'s methods (the WebSocket itself, so a
--- connection needs no closure per callback):
---   handler:_ws_message(data, isBinary), :_ws_ping(data), :_ws_pong(data),
---   :_ws_close(code|nil, reason), :_ws_error(err)
--- where err = {code=, message=, statusCode=} (statusCode: the close code
--- to answer with, as npm's ws: 1002 protocol error, 1007 invalid UTF-8,
--- 1009 too big).  Without a handler the parser calls the plain functions
--- set on it: on_message(data, isBinary), on_ping, on_pong, on_close,
--- on_error.  After an error or a close frame it ignores all further input.
---
--- frame(opcode, payload, fin, mask) -> the frame as one string.
local ffi = require('ffi')
local errors = require('luster.errors')

local band, bor, bxor, rshift, lshift = bit.band, bit.bor, bit.bxor, bit.rshift, bit.lshift
local byte, char, sub, concat = string.byte, string.char, string.sub, table.concat
local ffi_string, cast = ffi.string, ffi.cast
local floor = math.floor

local M = {}

M.OP_CONT, M.OP_TEXT, M.OP_BINARY = 0, 1, 2
M.OP_CLOSE, M.OP_PING, M.OP_PONG = 8, 9, 10

local u8p, u32p = ffi.typeof('const uint8_t *'), ffi.typeof('uint32_t *')
local cu32p = ffi.typeof('const uint32_t *')

-- ---- UTF-8 ----

--- Is `s` well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF)?
--- (runtime/utf8.c: a string passed to the FFI allocates nothing, where
--- byte pointers over it here cost two cdata a message)
ffi.cdef [[ int lstr_utf8_valid(const char *s, size_t n); ]]
local utf8_valid = ffi.C.lstr_utf8_valid
function M.valid_utf8(s) return utf8_valid(s, #s) == 1 end

-- ---- masking ----

local scratch, scratch_size = nil, 0
local function scratch_for(n)
  if n > scratch_size then
    scratch_size = math.max(n, 64 * 1024)
    scratch = ffi.new('uint8_t[?]', scratch_size + 4)
  end
  return scratch
end

--- XOR `n` bytes of `s` from offset `off` (0-based) with the 4-byte mask
--- `key` (a string), the mask starting at its byte `moff`; a new string.
function M.unmask(s, off, n, key, moff)
  if n == 0 then return '' end
  local m0, m1 = byte(key, moff % 4 + 1), byte(key, (moff + 1) % 4 + 1)
  local m2, m3 = byte(key, (moff + 2) % 4 + 1), byte(key, (moff + 3) % 4 + 1)
  local word = bor(m0, lshift(m1, 8), lshift(m2, 16), lshift(m3, 24))   -- little-endian
  if ffi.abi('be') then word = bor(m3, lshift(m2, 8), lshift(m1, 16), lshift(m0, 24)) end
  local dst = scratch_for(n)
  local src = cast(u8p, s) + off
  local d32, s32 = cast(u32p, dst), cast(cu32p, src)
  local words = rshift(n, 2)
  for i = 0, words - 1 do d32[i] = bxor(s32[i], word) end
  for i = words * 4, n - 1 do
    local j = i % 4
    dst[i] = bxor(src[i], j == 0 and m0 or j == 1 and m1 or j == 2 and m2 or m3)
  end
  return ffi_string(dst, n)
end

-- 4 random mask bytes per frame, taken from a pooled block of
-- crypto.randomBytes (RFC 6455 5.3: unpredictable masks).
local pool, pool_pos = '', 1
local function mask_key()
  if pool_pos + 3 > #pool then
    pool, pool_pos = require('crypto').randomBytes(4096), 1
  end
  local k = sub(pool, pool_pos, pool_pos + 3)
  pool_pos = pool_pos + 4
  return k
end

--- One frame as a string: `opcode`, `payload` (a string), `fin` (boolean),
--- `mask` (true: a client's frame, masked with a fresh key).
function M.frame(opcode, payload, fin, mask)
  local n = #payload
  local b0 = bor(fin == false and 0 or 0x80, opcode)
  local mbit = mask and 0x80 or 0
  local head
  if n < 126 then
    head = char(b0, bor(mbit, n))
  elseif n < 65536 then
    head = char(b0, bor(mbit, 126), rshift(n, 8), band(n, 255))
  else
    local hi, lo = floor(n / 4294967296), n % 4294967296
    head = char(b0, bor(mbit, 127), band(rshift(hi, 24), 255), band(rshift(hi, 16), 255),
      band(rshift(hi, 8), 255), band(hi, 255), floor(lo / 16777216) % 256, floor(lo / 65536) % 256,
      floor(lo / 256) % 256, lo % 256)
  end
  if not mask then return head .. payload end
  local key = mask_key()
  return head .. key .. M.unmask(payload, 0, n, key, 0)
end

-- ---- the parser ----

local Parser = {}
Parser.__index = Parser
M.Parser = Parser

local function perror(code, status, fmt, ...)
  local e = errors.new(code, fmt:format(...))
  e.statusCode = status
  return e
end
M.error = perror

function M.new_parser(opts, handler)
  -- only non-nil fields in the constructor: they size its hash part
  local p = setmetatable({
    is_server = opts.isServer and true or false,
    max = opts.maxPayload or 100 * 1024 * 1024,
    state = 0,            -- 0: want a header, 1: in a payload
    fin = false, opcode = 0, key = false, left = 0, moff = 0,
    nparts = 0, msg_len = 0,   -- the data message being assembled (in parts)
    failed = false,
  }, Parser)
  -- buf: bytes of an incomplete header; msg_op: the data message's opcode;
  -- cparts: the control frame's payload pieces; parts: the data message's
  -- (all nil until needed: an idle connection holds none)
  p.handler = handler or p
  return p
end

--- Is the parser between frames, holding nothing (it can then serve
--- another connection: reuse)?
function Parser:idle()
  return self.state == 0 and not self.failed and not self.buf and not self.msg_op
    and self.nparts == 0 and not self.cparts
end

--- Serve another connection (an idle parser only).
function Parser:reuse(is_server, max_payload, handler)
  self.is_server = is_server and true or false
  self.max = max_payload or 100 * 1024 * 1024
  self.handler = handler
  self.key, self.left, self.moff, self.msg_len = false, 0, 0, 0
end

-- the callbacks of a parser without a handler
function Parser:_ws_message(data, is_binary) return self.on_message(data, is_binary) end
function Parser:_ws_ping(data) return self.on_ping(data) end
function Parser:_ws_pong(data) return self.on_pong(data) end
function Parser:_ws_close(code, reason) return self.on_close(code, reason) end
function Parser:_ws_error(err) return self.on_error(err) end

function Parser:fail(err)
  self.failed = true
  self.parts, self.nparts, self.cparts = nil, 0, nil
  self.handler:_ws_error(err)
end

-- Parse a header at offset `pos` of `s` (0-based); returns the offset past
-- it, or nil when it is not all there yet (or the frame was rejected).
local function header(self, s, pos, n)
  if n - pos < 2 then return nil end
  local b0, b1 = byte(s, pos + 1, pos + 2)
  local len = band(b1, 0x7F)
  local masked = band(b1, 0x80) ~= 0
  local need = 2 + (len == 126 and 2 or len == 127 and 8 or 0) + (masked and 4 or 0)
  if n - pos < need then return nil end
  local at = pos + 2
  if len == 126 then
    local a, b = byte(s, at + 1, at + 2)
    len = a * 256 + b
    at = at + 2
  elseif len == 127 then
    local a, b, c, d, e, f, g, h = byte(s, at + 1, at + 8)
    if a ~= 0 or b > 0x1F then   -- above 2^53 - 1: a number cannot hold it
      self:fail(perror('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009, 'Unsupported WebSocket frame: payload length > 2^53 - 1'))
      return nil
    end
    len = ((((((b * 256 + c) * 256 + d) * 256 + e) * 256 + f) * 256 + g) * 256) + h
    at = at + 8
  end
  if band(b0, 0x70) ~= 0 then
    self:fail(perror('WS_ERR_UNEXPECTED_RSV_1', 1002, 'Invalid WebSocket frame: RSV1, RSV2 and RSV3 must be clear'))
    return nil
  end
  local fin, op = band(b0, 0x80) ~= 0, band(b0, 0x0F)
  if op >= 8 then
    if op > 10 then
      self:fail(perror('WS_ERR_INVALID_OPCODE', 1002, 'Invalid WebSocket frame: invalid opcode %d', op))
      return nil
    end
    if not fin then
      self:fail(perror('WS_ERR_EXPECTED_FIN', 1002, 'Invalid WebSocket frame: FIN must be set'))
      return nil
    end
    if len > 125 then
      self:fail(perror('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002, 'Invalid WebSocket frame: invalid payload length %d', len))
      return nil
    end
  elseif op == 0 then
    if not self.msg_op then
      self:fail(perror('WS_ERR_INVALID_OPCODE', 1002, 'Invalid WebSocket frame: invalid opcode 0'))
      return nil
    end
  elseif op <= 2 then
    if self.msg_op then
      self:fail(perror('WS_ERR_INVALID_OPCODE', 1002, 'Invalid WebSocket frame: invalid opcode %d', op))
      return nil
    end
  else
    self:fail(perror('WS_ERR_INVALID_OPCODE', 1002, 'Invalid WebSocket frame: invalid opcode %d', op))
    return nil
  end
  if masked ~= self.is_server then
    if masked then
      self:fail(perror('WS_ERR_UNEXPECTED_MASK', 1002, 'Invalid WebSocket frame: MASK must be clear'))
    else
      self:fail(perror('WS_ERR_EXPECTED_MASK', 1002, 'Invalid WebSocket frame: MASK must be set'))
    end
    return nil
  end
  if op < 8 then
    if self.max > 0 and self.msg_len + len > self.max then
      self:fail(perror('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009, 'Max payload size exceeded'))
      return nil
    end
    if op ~= 0 then self.msg_op = op end
    self.msg_len = self.msg_len + len
  else
    self.cparts = {}
  end
  self.fin, self.opcode, self.left, self.moff = fin, op, len, 0
  if masked then
    self.key = sub(s, at + 1, at + 4)
    at = at + 4
  else
    self.key = false
  end
  self.state = 1
  return at
end

local function close_frame(self, data)
  local n = #data
  if n == 0 then return self.handler:_ws_close(nil, '') end
  if n == 1 then
    return self:fail(perror('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002, 'Invalid WebSocket frame: invalid payload length 1'))
  end
  local a, b = byte(data, 1, 2)
  local code = a * 256 + b
  if not M.valid_close_code(code) then
    return self:fail(perror('WS_ERR_INVALID_CLOSE_CODE', 1002, 'Invalid WebSocket frame: invalid status code %d', code))
  end
  local reason = sub(data, 3)
  if not M.valid_utf8(reason) then
    return self:fail(perror('WS_ERR_INVALID_UTF8', 1007, 'Invalid WebSocket frame: invalid UTF-8 sequence'))
  end
  self.handler:_ws_close(code, reason)
end

-- A whole frame's payload is in: act on it.
local function frame_done(self)
  self.state = 0
  local op = self.opcode
  if op >= 8 then
    local data = concat(self.cparts)
    self.cparts = nil
    if op == 8 then
      close_frame(self, data)
      self.failed = true   -- nothing may follow a close frame (RFC 6455 5.5.1)
      return
    end
    if op == 9 then return self.handler:_ws_ping(data) end
    return self.handler:_ws_pong(data)
  end
  if not self.fin then return end
  local parts, k = self.parts, self.nparts
  local data = k == 0 and '' or k == 1 and parts[1] or concat(parts, '', 1, k)
  for i = 1, k do parts[i] = nil end
  local mop = self.msg_op
  self.nparts, self.msg_len, self.msg_op = 0, 0, nil
  if mop == 1 and not M.valid_utf8(data) then
    return self:fail(perror('WS_ERR_INVALID_UTF8', 1007, 'Invalid WebSocket frame: invalid UTF-8 sequence'))
  end
  self.handler:_ws_message(data, mop == 2)
end

--- Feed bytes read from the socket.
function Parser:feed(s)
  if self.failed then return end
  local buf = self.buf
  if buf then s = buf .. s; self.buf = nil end
  local n, pos = #s, 0
  while pos < n or (self.state == 1 and self.left == 0) do
    if self.failed then return end
    if self.state == 0 then
      local at = header(self, s, pos, n)
      if not at then
        if not self.failed then self.buf = sub(s, pos + 1) end
        return
      end
      pos = at
    else
      local take = self.left
      if take > n - pos then take = n - pos end
      if take > 0 then
        local piece
        if self.key then
          piece = M.unmask(s, pos, take, self.key, self.moff)
          self.moff = self.moff + take
        elseif pos == 0 and take == n then
          piece = s
        else
          piece = sub(s, pos + 1, pos + take)
        end
        pos = pos + take
        self.left = self.left - take
        if self.opcode >= 8 then
          self.cparts[#self.cparts + 1] = piece
        else
          local k = self.nparts + 1
          local parts = self.parts
          if not parts then parts = {}; self.parts = parts end
          parts[k] = piece
          self.nparts = k
        end
      end
      if self.left == 0 then frame_done(self) end
    end
  end
end

--- May `code` travel in a close frame (RFC 6455 7.4, as npm's ws checks)?
function M.valid_close_code(code)
  return (code >= 1000 and code <= 1014 and code ~= 1004 and code ~= 1005 and code ~= 1006)
    or (code >= 3000 and code <= 4999)
end

return M
