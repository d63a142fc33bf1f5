--- The URL parser's fast path: an absolute http(s)/ws(s)/ftp URL with a
--- plain domain (or dotted-decimal IPv4) host, no credentials, and a path,
--- query and fragment that hold nothing to encode or resolve -- what
--- servers and clients parse all day.  It returns the record the state
--- machine (luster/url_parser.lua) would return for such input, after one
--- pass over the bytes, or nil for anything else, which then goes to the
--- state machine.  The scans are loops of byte() and table lookups, which
--- LuaJIT compiles (pattern classes it does not, and a class of twenty
--- characters tested per byte is slow).
local hostp = require('luster.url_host')

local byte, sub, find, lower, char = string.byte, string.sub, string.find, string.lower, string.char
local tonumber = tonumber

local SPECIAL_PORT = { ftp = 21, http = 80, https = 443, ws = 80, wss = 443 }
local SLASH, QMARK, HASH, COLON = 47, 63, 35, 58

-- host bytes: 1 lower-case letter, digit, '-' or '.'; 2 upper-case letter
local HOST_BYTE, REST_BAD = {}, {}
for b = 0, 255 do
  local ch = char(b)
  if find(ch, '[%l%d.-]') then HOST_BYTE[b] = 1 elseif find(ch, '%u') then HOST_BYTE[b] = 2 end
  -- what some encode set of the path, query or fragment holds, or '\'
  if b <= 32 or b >= 127 or find(ch, '["<>\\`{}]') then REST_BAD[b] = true end
end

-- The end of the host that starts at i, whether it had capitals, and
-- where its last label starts.
local function scan_host(input, i)
  local upper, label = false, i
  local c = byte(input, i)
  while c do
    local k = HOST_BYTE[c]
    if not k then break end
    if k == 2 then upper = true elseif c == 46 and HOST_BYTE[byte(input, i + 1)] then label = i + 1 end
    i = i + 1
    c = byte(input, i)
  end
  return i, upper, label
end

-- Where the query and fragment of the rest (from i) start, or false when
-- the rest holds something only the state machine handles.
local function scan_rest(input, i)
  local q, h = nil, nil
  for j = i, #input do
    local b = byte(input, j)
    if REST_BAD[b] then return false end
    if b == QMARK then
      if not q and not h then q = j end
    elseif b == HASH then
      if not h then h = j end
    elseif h then -- the fragment takes anything else
    elseif q then
      if b == 39 then return false end -- ' is in the special-query encode set
    elseif b == 46 then
      if byte(input, j - 1) == SLASH then return false end -- a dot segment, maybe
    elseif b == 37 then
      if byte(input, j + 1) == 50 then return false end -- %2e, maybe
    end
  end
  return q, h
end

---@param input string
---@return table|nil record, string|nil href
return function(input)
  local i, c = 1, byte(input, 1)
  while c and c >= 97 and c <= 122 do
    i = i + 1
    c = byte(input, i)
  end
  if c ~= COLON or byte(input, i + 1) ~= SLASH or byte(input, i + 2) ~= SLASH then return nil end
  local scheme = sub(input, 1, i - 1)
  local default = SPECIAL_PORT[scheme]
  if not default then return nil end
  local hs = i + 3
  local upper, label
  i, upper, label = scan_host(input, hs)
  if i == hs then return nil end
  c = byte(input, i)
  local host = sub(input, hs, i - 1)
  local href = input
  if upper then host, href = lower(host), nil end
  if find(host, 'xn--', 1, true) then return nil end
  local lb = byte(input, label)
  if lb >= 48 and lb <= 57 then -- the last label is a number: an IPv4 address
    host, href = hostp.parse_ipv4(host), nil
    if not host then return nil end
  end
  local port = nil
  if c == COLON then
    local ps = i + 1
    i = ps
    c = byte(input, i)
    while c and c >= 48 and c <= 57 do
      i = i + 1
      c = byte(input, i)
    end
    href = nil
    if i > ps then
      port = tonumber(sub(input, ps, i - 1))
      if port > 65535 then return nil end
      if port == default then port = nil end
    end
  end
  if c and c ~= SLASH and c ~= QMARK and c ~= HASH then return nil end
  local q, h = scan_rest(input, i)
  if q == false then return nil end
  local path = sub(input, i, (q or h or #input + 1) - 1)
  if path == '' then path, href = '/', nil end
  return { scheme = scheme, username = '', password = '', host = host, port = port, path = path,
    query = q and sub(input, q + 1, (h or 0) - 1) or nil, fragment = h and sub(input, h + 1) or nil }, href
end
