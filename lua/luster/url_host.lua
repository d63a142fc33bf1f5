--- Host parsing and serialization of the WHATWG URL Standard: domains
--- (to ASCII, with Punycode for non-ASCII labels), IPv4 in all the forms the
--- Standard accepts (0x hex, 0 octal, fewer than four parts), IPv6 with "::"
--- compression and an embedded IPv4 tail, and opaque hosts of non-special
--- schemes.  A host is kept in its serialized form (a string: "1.2.3.4",
--- "[::1]", "example.com"), which is all the rest of the URL code needs.
---
--- Domain to ASCII is a partial UTS #46: the mapping covers ASCII and
--- fullwidth forms, the ideographic full stops, the ignored (zero-width)
--- code points and the Latin-1, Latin Extended-A, Greek and Cyrillic capitals;
--- a small list of disallowed code points fails.  There is no NFC
--- normalization, no Bidi or ContextJ rule (ZWJ/ZWNJ fail), no combining-mark
--- check beyond U+0300..U+036F.  "xn--" labels are checked by decoding them.
--- A non-ASCII or "xn--" label longer than 1024 code points is refused.
local pct = require('luster.url_percent')
local punycode = require('luster.url_punycode')

local byte, find, lower, sub, fmt = string.byte, string.find, string.lower, string.sub, string.format
local tonumber, concat, floor = tonumber, table.concat, math.floor

local M = {}

local FORBIDDEN_HOST = '[%z\t\n\r #/:<>?@%[\\%]%^|]'
local FORBIDDEN_DOMAIN = '[%z\1-\32#/:<>?@%[\\%]%^|%%\127]'

-- ---- IPv4 ----

-- One dotted part: decimal, 0x hex or 0 octal; nil when it is none.
local function ipv4_number(part)
  if part == '' then return nil end
  local radix = 10
  local b1, b2 = byte(part, 1, 2)
  if #part >= 2 and b1 == 48 and (b2 == 120 or b2 == 88) then
    part, radix = sub(part, 3), 16
  elseif #part >= 2 and b1 == 48 then
    part, radix = sub(part, 2), 8
  end
  if part == '' then return 0 end
  if radix == 10 then
    if find(part, '[^0-9]') then return nil end
  elseif radix == 16 then
    if find(part, '[^0-9A-Fa-f]') then return nil end
  elseif find(part, '[^0-7]') then
    return nil
  end
  return tonumber(part, radix)
end

local function split_dots(s)
  local parts, n, start = {}, 0, 1
  while true do
    local dot = find(s, '.', start, true)
    n = n + 1
    if not dot then parts[n] = sub(s, start) break end
    parts[n] = sub(s, start, dot - 1)
    start = dot + 1
  end
  return parts
end

--- Whether a domain's last label is a number (then it must be an IPv4).
local function ends_in_number(s)
  local parts = split_dots(s)
  if parts[#parts] == '' then
    if #parts == 1 then return false end
    parts[#parts] = nil
  end
  local last = parts[#parts]
  if last ~= '' and not find(last, '[^0-9]') then return true end
  return ipv4_number(last) ~= nil
end

--- The dotted-decimal form of an IPv4 host, or nil when it is invalid.
local function parse_ipv4(s)
  local parts = split_dots(s)
  if parts[#parts] == '' and #parts > 1 then parts[#parts] = nil end
  local n = #parts
  if n > 4 then return nil end
  local nums = {}
  for i = 1, n do
    nums[i] = ipv4_number(parts[i])
    if not nums[i] then return nil end
  end
  for i = 1, n - 1 do
    if nums[i] > 255 then return nil end
  end
  if nums[n] >= 256 ^ (5 - n) then return nil end
  local v = nums[n]
  for i = 1, n - 1 do v = v + nums[i] * 256 ^ (4 - i) end
  return fmt('%d.%d.%d.%d', floor(v / 16777216), floor(v / 65536) % 256, floor(v / 256) % 256, v % 256)
end
M.parse_ipv4 = parse_ipv4

-- ---- IPv6 ----

local function hexval(c)
  if not c then return nil end
  if c >= 48 and c <= 57 then return c - 48 end
  if c >= 97 and c <= 102 then return c - 87 end
  if c >= 65 and c <= 70 then return c - 55 end
  return nil
end

--- The 8 pieces (0-based) of an IPv6 address, or nil when it is invalid.
local function parse_ipv6(s)
  local address = { [0] = 0, 0, 0, 0, 0, 0, 0, 0 }
  local piece, compress, p = 0, nil, 1
  if byte(s, 1) == 58 then
    if byte(s, 2) ~= 58 then return nil end
    p = 3
    piece = 1
    compress = piece
  end
  local c = byte(s, p)
  while c do
    if piece == 8 then return nil end
    if c == 58 then
      if compress then return nil end
      p = p + 1
      piece = piece + 1
      compress = piece
    else
      local value, length = 0, 0
      while length < 4 do
        local h = hexval(c)
        if not h then break end
        value = value * 16 + h
        p = p + 1
        length = length + 1
        c = byte(s, p)
      end
      if c == 46 then
        if length == 0 then return nil end
        p = p - length
        if piece > 6 then return nil end
        local seen = 0
        c = byte(s, p)
        while c do
          local v4 = nil
          if seen > 0 then
            if c == 46 and seen < 4 then
              p = p + 1
              c = byte(s, p)
            else
              return nil
            end
          end
          if not c or c < 48 or c > 57 then return nil end
          while c and c >= 48 and c <= 57 do
            local d = c - 48
            if v4 == nil then v4 = d
            elseif v4 == 0 then return nil
            else v4 = v4 * 10 + d end
            if v4 > 255 then return nil end
            p = p + 1
            c = byte(s, p)
          end
          address[piece] = address[piece] * 256 + v4
          seen = seen + 1
          if seen == 2 or seen == 4 then piece = piece + 1 end
        end
        if seen ~= 4 then return nil end
        break
      elseif c == 58 then
        p = p + 1
        if not byte(s, p) then return nil end
      elseif c then
        return nil
      end
      address[piece] = value
      piece = piece + 1
    end
    c = byte(s, p)
  end
  if compress then
    local swaps = piece - compress
    piece = 7
    while piece ~= 0 and swaps > 0 do
      local j = compress + swaps - 1
      address[piece], address[j] = address[j], address[piece]
      piece = piece - 1
      swaps = swaps - 1
    end
  elseif piece ~= 8 then
    return nil
  end
  return address
end

--- "[...]" text of 8 pieces: lower-case hex, the first longest run of two
--- or more zero pieces compressed to "::".
local function serialize_ipv6(a)
  local best, best_len, i = nil, 1, 0
  while i < 8 do
    if a[i] == 0 then
      local j = i
      while j < 8 and a[j] == 0 do j = j + 1 end
      if j - i > best_len then best, best_len = i, j - i end
      i = j
    else
      i = i + 1
    end
  end
  local out, n, k = {}, 0, 0
  while k < 8 do
    if k == best then
      n = n + 1
      out[n] = k == 0 and '::' or ':'
      k = k + best_len
    else
      n = n + 1
      out[n] = fmt('%x', a[k])
      if k ~= 7 then n = n + 1 out[n] = ':' end
      k = k + 1
    end
  end
  return '[' .. concat(out) .. ']'
end

-- ---- domains ----

-- code points UTS #46 maps to nothing
local IGNORED = { [0xAD] = true, [0x34F] = true, [0x180B] = true, [0x180C] = true, [0x180D] = true,
  [0x200B] = true, [0x2060] = true, [0xFEFF] = true }

local function map_cp(cp)
  if cp < 0x80 then
    if cp >= 65 and cp <= 90 then return cp + 32 end
    return cp
  end
  if IGNORED[cp] or (cp >= 0xFE00 and cp <= 0xFE0F) then return false end
  if cp == 0x3002 or cp == 0xFF0E or cp == 0xFF61 then return 0x2E end
  if cp >= 0xFF01 and cp <= 0xFF5E then return map_cp(cp - 0xFEE0) end
  if cp == 0xA0 or (cp >= 0x2000 and cp <= 0x200A) or cp == 0x3000 then return 0x20 end
  if cp >= 0xC0 and cp <= 0xDE and cp ~= 0xD7 then return cp + 32 end
  if (cp >= 0x100 and cp <= 0x12F) or (cp >= 0x132 and cp <= 0x137) or (cp >= 0x14A and cp <= 0x177) then
    return cp % 2 == 0 and cp + 1 or cp
  end
  if (cp >= 0x139 and cp <= 0x148) or (cp >= 0x179 and cp <= 0x17E) then
    return cp % 2 == 1 and cp + 1 or cp
  end
  if cp == 0x178 then return 0xFF end
  if cp == 0x17F then return 0x73 end
  if cp >= 0x391 and cp <= 0x3A9 and cp ~= 0x3A2 then return cp + 32 end
  if cp >= 0x410 and cp <= 0x42F then return cp + 32 end
  if cp >= 0x400 and cp <= 0x40F then return cp + 80 end
  return cp
end

-- Enclosed alphanumerics (circled numbers...) are mapped by UTS #46 to
-- ASCII; this partial mapping does not know them, so they are refused
-- rather than encoded wrongly (and an "xn--" label holding one is invalid).
local function disallowed(cp)
  return (cp >= 0x2460 and cp <= 0x24FF) or (cp >= 0x3251 and cp <= 0x325F) or (cp >= 0x32B1 and cp <= 0x32BF) or (cp >= 0x80 and cp <= 0x9F) or cp == 0xFFFD or cp == 0xFFFE or cp == 0xFFFF
    or (cp >= 0xFDD0 and cp <= 0xFDEF) or (cp >= 0xE000 and cp <= 0xF8FF) or cp >= 0xF0000
    or cp == 0x200C or cp == 0x200D or cp == 0x2028 or cp == 0x2029 or cp % 0x10000 >= 0xFFFE
end

-- Whether a decoded label's code points are all valid (no "xn--" inside,
-- no leading combining mark, nothing disallowed).
local function valid_label(cps)
  if cps[1] and cps[1] >= 0x300 and cps[1] <= 0x36F then return false end
  if cps[1] == 120 and cps[2] == 110 and cps[3] == 45 and cps[4] == 45 then return false end
  for i = 1, #cps do
    -- a code point the mapping changes is not in mapped form
    if disallowed(cps[i]) or map_cp(cps[i]) ~= cps[i] then return false end
  end
  return true
end

-- Punycode takes time quadratic in a label's length; DNS allows 63 bytes,
-- and a label past this is refused rather than let a URL from elsewhere
-- (a redirect's Location) spend seconds here.
local MAX_IDN_LABEL = 1024

-- One label (code points, already mapped) to ASCII, or nil.
local function label_to_ascii(cps)
  if #cps > MAX_IDN_LABEL then
    for i = 1, #cps do
      if cps[i] >= 0x80 then return nil end
    end
    if cps[1] == 120 and cps[2] == 110 and cps[3] == 45 and cps[4] == 45 then return nil end
  end
  local ascii = true
  for i = 1, #cps do
    if cps[i] >= 0x80 then ascii = false break end
  end
  if ascii then
    local s = pct.from_codepoints(cps)
    if sub(s, 1, 4) == 'xn--' then
      local decoded = punycode.decode(sub(s, 5))
      if not decoded or #decoded == 0 or not valid_label(decoded) then return nil end
      local all_ascii = true
      for i = 1, #decoded do
        if decoded[i] >= 0x80 then all_ascii = false break end
      end
      if all_ascii then return nil end
    end
    return s
  end
  if not valid_label(cps) then return nil end
  local enc = punycode.encode(cps)
  return enc and 'xn--' .. enc
end

--- Domain to ASCII (see the top comment for how much of UTS #46 this is);
--- nil on failure.
---@param domain string UTF-8
---@return string|nil
local function domain_to_ascii(domain)
  local result
  if not find(domain, '[\128-\255]') then
    result = lower(domain)
    if find(result, 'xn--', 1, true) then result = nil end
  end
  if not result then
    local cps = pct.codepoints(domain)
    if not cps then return nil end
    local labels, label = {}, {}
    for i = 1, #cps do
      local m = map_cp(cps[i])
      if m == 0x2E then
        labels[#labels + 1] = label
        label = {}
      elseif m then
        label[#label + 1] = m
      end
    end
    labels[#labels + 1] = label
    for i = 1, #labels do
      local l = label_to_ascii(labels[i])
      if not l then return nil end
      labels[i] = l
    end
    result = concat(labels, '.')
  end
  if result == '' then return nil end
  return result
end
M.domain_to_ascii = domain_to_ascii

--- The Unicode form of an ASCII domain ("xn--" labels decoded; a label
--- that does not decode, or is too long to, stays as it is).
---@param domain string
---@return string
function M.domain_to_unicode(domain)
  local labels = split_dots(domain)
  for i = 1, #labels do
    local l = labels[i]
    if #l <= MAX_IDN_LABEL and sub(lower(l), 1, 4) == 'xn--' then
      local cps = punycode.decode(sub(l, 5))
      if cps then labels[i] = pct.from_codepoints(cps) end
    end
  end
  return concat(labels, '.')
end

--- Parse a host: the serialized host string, or nil on failure.
---@param input string
---@param is_opaque boolean the scheme is not special
---@return string|nil
function M.parse(input, is_opaque)
  if byte(input, 1) == 91 then
    if byte(input, -1) ~= 93 then return nil end
    local a = parse_ipv6(sub(input, 2, -2))
    return a and serialize_ipv6(a)
  end
  if is_opaque then
    if find(input, FORBIDDEN_HOST) then return nil end
    return pct.encode(input, pct.C0)
  end
  local domain = pct.to_valid_utf8(pct.decode(input))
  local ascii = domain_to_ascii(domain)
  if not ascii then return nil end
  -- (letters, digits, . and - are never forbidden: look for others first)
  if find(ascii, '[^%w.-]') and find(ascii, FORBIDDEN_DOMAIN) then return nil end
  local last = byte(ascii, -1)
  if (last >= 48 and last <= 57) or last == 46 or last == 120 or last == 88 or (last >= 97 and last <= 102) then
    if ends_in_number(ascii) then return parse_ipv4(ascii) end
  end
  return ascii
end

return M
