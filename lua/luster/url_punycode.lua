--- Punycode (RFC 3492): Unicode labels as ASCII for IDNA's "xn--" form.
--- Works on lists of code points; returns nil for input it cannot take
--- (overflow, a bad digit), as RFC 3492 says the decoder must fail.
local floor, char, byte = math.floor, string.char, string.byte
local concat = table.concat

local M = {}

local BASE, TMIN, TMAX, SKEW, DAMP = 36, 1, 26, 38, 700
local INITIAL_BIAS, INITIAL_N = 72, 128
local MAXINT = 0x7FFFFFFF

local function adapt(delta, numpoints, first)
  delta = first and floor(delta / DAMP) or floor(delta / 2)
  delta = delta + floor(delta / numpoints)
  local k = 0
  while delta > floor((BASE - TMIN) * TMAX / 2) do
    delta = floor(delta / (BASE - TMIN))
    k = k + BASE
  end
  return k + floor((BASE - TMIN + 1) * delta / (delta + SKEW))
end

-- digit value to its character: 0..25 a..z, 26..35 0..9
local function digit_char(d)
  return char(d < 26 and 97 + d or 22 + d)
end

local function char_digit(c)
  if c >= 48 and c <= 57 then return c - 22 end
  if c >= 65 and c <= 90 then return c - 65 end
  if c >= 97 and c <= 122 then return c - 97 end
  return nil
end

--- Encode a list of code points to the Punycode string (without "xn--").
---@param cps integer[]
---@return string|nil
function M.encode(cps)
  local out, n, delta, bias = {}, INITIAL_N, 0, INITIAL_BIAS
  for i = 1, #cps do
    if cps[i] < 0x80 then out[#out + 1] = char(cps[i]) end
  end
  local b = #out
  local h = b
  if b > 0 then out[#out + 1] = '-' end
  while h < #cps do
    local m = MAXINT
    for i = 1, #cps do
      local c = cps[i]
      if c >= n and c < m then m = c end
    end
    if (m - n) > floor((MAXINT - delta) / (h + 1)) then return nil end
    delta = delta + (m - n) * (h + 1)
    n = m
    for i = 1, #cps do
      local c = cps[i]
      if c < n then
        delta = delta + 1
        if delta > MAXINT then return nil end
      end
      if c == n then
        local q, k = delta, BASE
        while true do
          local t = k <= bias and TMIN or (k >= bias + TMAX and TMAX or k - bias)
          if q < t then break end
          out[#out + 1] = digit_char(t + (q - t) % (BASE - t))
          q = floor((q - t) / (BASE - t))
          k = k + BASE
        end
        out[#out + 1] = digit_char(q)
        bias = adapt(delta, h + 1, h == b)
        delta = 0
        h = h + 1
      end
    end
    delta = delta + 1
    n = n + 1
  end
  return concat(out)
end

--- Decode a Punycode string (without "xn--") to a list of code points.
---@param s string
---@return integer[]|nil
function M.decode(s)
  local out, n, i, bias = {}, INITIAL_N, 0, INITIAL_BIAS
  local last_dash = 0
  for j = #s, 1, -1 do
    if byte(s, j) == 45 then last_dash = j break end
  end
  for j = 1, last_dash - 1 do
    local c = byte(s, j)
    if c >= 0x80 then return nil end
    out[#out + 1] = c
  end
  local pos = last_dash + 1
  local len = #s
  while pos <= len do
    local oldi, w, k = i, 1, BASE
    while true do
      if pos > len then return nil end
      local d = char_digit(byte(s, pos))
      pos = pos + 1
      if not d then return nil end
      if d > floor((MAXINT - i) / w) then return nil end
      i = i + d * w
      local t = k <= bias and TMIN or (k >= bias + TMAX and TMAX or k - bias)
      if d < t then break end
      if w > floor(MAXINT / (BASE - t)) then return nil end
      w = w * (BASE - t)
      k = k + BASE
    end
    local count = #out + 1
    bias = adapt(i - oldi, count, oldi == 0)
    if floor(i / count) > MAXINT - n then return nil end
    n = n + floor(i / count)
    i = i % count
    if n > 0x10FFFF or (n >= 0xD800 and n <= 0xDFFF) or n < 0x80 then return nil end
    table.insert(out, i + 1, n)
    i = i + 1
  end
  return out
end

return M
