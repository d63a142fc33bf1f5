--- Percent-encoding and UTF-8 helpers of the WHATWG URL Standard.
---
--- Lua strings are bytes and the URL parser works on them directly: every
--- byte >= 0x80 is in every percent-encode set, so encoding a UTF-8 string
--- byte by byte gives exactly what the Standard's "UTF-8 percent-encode a
--- code point" gives.  A byte string that is not valid UTF-8 is encoded as
--- it stands (lossless) where a JavaScript string could not even hold it.
---
--- Each encode set is a Lua pattern class, so encoding a whole component is
--- one gsub with the shared HEX table (no per-byte Lua loop).
local byte, char, fmt, gsub, find = string.byte, string.char, string.format, string.gsub, string.find
local tonumber, concat = tonumber, table.concat

local M = {}

-- every byte to its %XX form
local HEX = {}
for b = 0, 255 do HEX[char(b)] = fmt('%%%02X', b) end
M.HEX = HEX

-- The encode sets (https://url.spec.whatwg.org/#percent-encoded-bytes).
M.C0 = '[%z\1-\31\127-\255]'
M.FRAGMENT = '[%z\1-\32"<>`\127-\255]'
M.QUERY = '[%z\1-\32"#<>\127-\255]'
M.SPECIAL_QUERY = "[%z\1-\32\"#<>'\127-\255]"
M.PATH = '[%z\1-\32"#<>?`{}\127-\255]'
M.USERINFO = '[%z\1-\32"#<>?`{}/:;=@%[\\%]%^|\127-\255]'
M.COMPONENT = '[%z\1-\32"#<>?`{}/:;=@%[\\%]%^|$%%&+,\127-\255]'
-- application/x-www-form-urlencoded: all but ASCII alphanumerics and *-._
M.FORM = '[^0-9A-Za-z*%-._]'

local FORM_REPL = setmetatable({ [' '] = '+' }, { __index = HEX })

-- For each set, the bytes it holds: "is there anything to encode?" is a
-- loop of byte() and table lookups, which LuaJIT compiles (a pattern
-- class costs one comparison per item per byte, in the interpreter).
local HOLDS = {}
for _, set in ipairs({ M.C0, M.FRAGMENT, M.QUERY, M.SPECIAL_QUERY, M.PATH, M.USERINFO, M.COMPONENT }) do
  local t = {}
  for b = 0, 255 do
    if find(char(b), set) then t[b] = true end
  end
  HOLDS[set] = t
end

--- Encode the bytes of `s` that `set` (one of the classes above) matches.
---@param s string
---@param set string
---@return string
function M.encode(s, set)
  local holds = HOLDS[set]
  for i = 1, #s do
    if holds[byte(s, i)] then return (gsub(s, set, HEX)) end
  end
  return s
end

--- Encode for application/x-www-form-urlencoded (space becomes '+').
---@param s string
---@return string
function M.encode_form(s)
  if not find(s, M.FORM) then return s end
  return (gsub(s, M.FORM, FORM_REPL))
end

--- Percent-decode: every %XX becomes its byte, a % not followed by two hex
--- digits stays as it is.
---@param s string
---@return string
function M.decode(s)
  if not find(s, '%', 1, true) then return s end
  return (gsub(s, '%%(%x%x)', function(h) return char(tonumber(h, 16)) end))
end

--- An opaque path without its trailing spaces (when its query and fragment
--- go, the Standard drops them).  By index: an end-anchored pattern would
--- backtrack over every inner run of spaces.
function M.strip_trailing_spaces(s)
  local j = #s
  while j > 0 and byte(s, j) == 32 do j = j - 1 end
  return j < #s and string.sub(s, 1, j) or s
end

-- ---- UTF-8 ----

--- The code point of the UTF-8 sequence at byte i of s and its length, or
--- nil when the bytes there are not valid UTF-8 (overlong forms,
--- surrogates and values past U+10FFFF are invalid).
---@return integer|nil cp, integer len
local function decode_at(s, i)
  local c = byte(s, i)
  if c < 0x80 then return c, 1 end
  local n, cp, min
  if c >= 0xC2 and c <= 0xDF then n, cp, min = 1, c - 0xC0, 0x80
  elseif c >= 0xE0 and c <= 0xEF then n, cp, min = 2, c - 0xE0, 0x800
  elseif c >= 0xF0 and c <= 0xF4 then n, cp, min = 3, c - 0xF0, 0x10000
  else return nil, 1 end
  for k = 1, n do
    local d = byte(s, i + k)
    if not d or d < 0x80 or d > 0xBF then return nil, k end
    cp = cp * 64 + (d - 0x80)
  end
  if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil, 1 end
  return cp, n + 1
end
M.decode_at = decode_at

--- The code points of s, or nil when s is not valid UTF-8.
---@param s string
---@return integer[]|nil
function M.codepoints(s)
  local out, i, n, len = {}, 1, 0, #s
  while i <= len do
    local cp, l = decode_at(s, i)
    if not cp then return nil end
    n = n + 1
    out[n] = cp
    i = i + l
  end
  return out
end

--- The UTF-8 bytes of one code point.
---@param cp integer
---@return string
local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64,
    0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
end
M.utf8_char = utf8_char

--- The UTF-8 string of a list of code points.
function M.from_codepoints(cps, i, j)
  local parts = {}
  for k = i or 1, j or #cps do parts[#parts + 1] = utf8_char(cps[k]) end
  return concat(parts)
end

--- s with each invalid UTF-8 sequence replaced by U+FFFD, as the Standard's
--- "UTF-8 decode without BOM" does (ASCII strings cost one find).
---@param s string
---@return string
function M.to_valid_utf8(s)
  if not find(s, '[\128-\255]') then return s end
  local parts, i, len, start = {}, 1, #s, 1
  while i <= len do
    if byte(s, i) < 0x80 then
      i = i + 1
    else
      local cp, l = decode_at(s, i)
      if cp then
        i = i + l
      else
        parts[#parts + 1] = s:sub(start, i - 1)
        parts[#parts + 1] = '\239\191\189'
        i = i + l
        start = i
      end
    end
  end
  if start == 1 then return s end
  parts[#parts + 1] = s:sub(start)
  return concat(parts)
end

return M
