--- URLSearchParams and the application/x-www-form-urlencoded parser and
--- serializer of the WHATWG URL Standard; also the query table the HTTP
--- server gives handlers as `req.query`.
---
--- A URLSearchParams keeps its list as two arrays (names, values) and a
--- count; one that belongs to a URL writes itself back into that URL's
--- query after every change, and the URL refills it when its search changes.
local pct = require('luster.url_percent')
local errors = require('luster.errors')

local find, sub, gsub, byte, char = string.find, string.sub, string.gsub, string.byte, string.char
local concat, sort, tostring, type = table.concat, table.sort, tostring, type
local getmetatable, setmetatable = getmetatable, setmetatable
local decode, to_valid_utf8, encode_form = pct.decode, pct.to_valid_utf8, pct.encode_form
local strip_trailing_spaces = pct.strip_trailing_spaces

local M = {}

-- '+' is a space; %XX a byte; the result is made valid UTF-8
local function decode_form(s)
  if find(s, '[+%%]') then
    if find(s, '+', 1, true) then s = gsub(s, '%+', ' ') end
    s = decode(s)
  end
  return to_valid_utf8(s)
end
M.decode_form = decode_form

local function same(s) return s end

--- Call fn(state, name, value) for each pair of an urlencoded string.
local function each_pair(s, fn, state)
  -- most query strings have nothing to decode: one look says so for all
  local dec = find(s, '[+%%\128-\255]') and decode_form or same
  local start, len = 1, #s
  while start <= len do
    local amp = find(s, '&', start, true) or len + 1
    if amp > start then
      local eq = find(s, '=', start, true)
      if eq and eq < amp then
        fn(state, dec(sub(s, start, eq - 1)), dec(sub(s, eq + 1, amp - 1)))
      else
        fn(state, dec(sub(s, start, amp - 1)), '')
      end
    end
    start = amp + 1
  end
end

local function add_to_query(q, k, v)
  local old = q[k]
  if old == nil then q[k] = v
  elseif type(old) == 'table' then old[#old + 1] = v
  else q[k] = { old, v } end
end

--- Parse a query string (without its '?') into {name = value}, a name
--- that repeats giving the list of its values, as `req.query` is.
---@param qs string
---@return table<string, string|string[]>
function M.parse_query(qs)
  local q = {}
  if qs ~= '' then each_pair(qs, add_to_query, q) end
  return q
end

-- ---- URLSearchParams ----

---@class URLSearchParams
---@field size integer the number of name-value pairs
local P = {}
local P_mt = {}
M.P_mt = P_mt

local function append_pair(self, k, v)
  local n = self._n + 1
  self._n = n
  self._k[n], self._v[n] = k, v
end

--- Refill from an urlencoded string (the owning URL's query changed).
function M.fill(self, s)
  self._k, self._v, self._n = {}, {}, 0
  if s and s ~= '' then each_pair(s, append_pair, self) end
end

local function serialize(self)
  local k, v, out = self._k, self._v, {}
  for i = 1, self._n do out[i] = encode_form(k[i]) .. '=' .. encode_form(v[i]) end
  return concat(out, '&')
end

-- After a change: the owning URL's query becomes the serialization.
local function update(self)
  local url = self._url
  if not url then return end
  local s = serialize(self)
  local r = url._r
  r.query = s ~= '' and s or nil
  url._href = nil
  if s == '' and r.opaque and not r.fragment then r.path = strip_trailing_spaces(r.path) end
end

local function str(v, name)
  if v == nil then
    errors.throw('ERR_MISSING_ARGS', 'The "%s" argument must be specified', name)
  end
  return type(v) == 'string' and v or tostring(v)
end

--- Add a pair at the end.
function P:append(name, value)
  append_pair(self, str(name, 'name'), str(value, 'value'))
  update(self)
end

-- Remove the pairs for which drop(name, value) is true.
local function filter(self, drop)
  local k, v, n = self._k, self._v, 0
  for i = 1, self._n do
    if not drop(k[i], v[i]) then
      n = n + 1
      k[n], v[n] = k[i], v[i]
    end
  end
  for i = n + 1, self._n do k[i], v[i] = nil, nil end
  self._n = n
end

--- Remove every pair with that name (and that value, when given).
function P:delete(name, value)
  name = str(name, 'name')
  if value ~= nil then
    value = str(value)
    filter(self, function(k, v) return k == name and v == value end)
  else
    filter(self, function(k) return k == name end)
  end
  update(self)
end

--- The first value for name, or nil.
---@return string|nil
function P:get(name)
  name = str(name, 'name')
  local k = self._k
  for i = 1, self._n do
    if k[i] == name then return self._v[i] end
  end
  return nil
end

--- Every value for name, in order.
---@return string[]
function P:getAll(name)
  name = str(name, 'name')
  local k, v, out = self._k, self._v, {}
  for i = 1, self._n do
    if k[i] == name then out[#out + 1] = v[i] end
  end
  return out
end

--- Whether a pair has that name (and that value, when given).
---@return boolean
function P:has(name, value)
  name = str(name, 'name')
  if value ~= nil then value = str(value) end
  local k, v = self._k, self._v
  for i = 1, self._n do
    if k[i] == name and (value == nil or v[i] == value) then return true end
  end
  return false
end

--- Set the first pair with that name to value and remove the others (or
--- append the pair when there is none).
function P:set(name, value)
  name, value = str(name, 'name'), str(value, 'value')
  local k, v, found = self._k, self._v, false
  for i = 1, self._n do
    if k[i] == name then
      v[i] = value
      found = i
      break
    end
  end
  if found then
    local n = found
    for i = found + 1, self._n do
      if k[i] ~= name then
        n = n + 1
        k[n], v[n] = k[i], v[i]
      end
    end
    for i = n + 1, self._n do k[i], v[i] = nil, nil end
    self._n = n
  else
    append_pair(self, name, value)
  end
  update(self)
end

-- A byte string that sorts as the name's UTF-16 code units do: UTF-8
-- sorts U+E000..U+FFFF before the supplementary planes, UTF-16 after.
local function utf16_key(s)
  if not find(s, '[\240-\244]') then return s end
  return (gsub(s, '[\240-\244]', function(c) return '\237' .. char(0xA0 + byte(c) - 0xF0) end))
end

--- Sort the pairs by name (stable: equal names keep their order).
function P:sort()
  local n, k, v = self._n, self._k, self._v
  local idx, keys = {}, {}
  for i = 1, n do idx[i], keys[i] = i, utf16_key(k[i]) end
  sort(idx, function(a, b)
    if keys[a] ~= keys[b] then return keys[a] < keys[b] end
    return a < b
  end)
  local nk, nv = {}, {}
  for i = 1, n do nk[i], nv[i] = k[idx[i]], v[idx[i]] end
  self._k, self._v = nk, nv
  update(self)
end

--- The urlencoded string (without '?').
---@return string
function P:toString() return serialize(self) end

--- Iterate `for name, value in params:entries()` (sees changes made while
--- iterating, as a JavaScript iterator does).
function P:entries()
  local i = 0
  return function()
    i = i + 1
    if i <= self._n then return self._k[i], self._v[i] end
  end
end

function P:keys()
  local i = 0
  return function()
    i = i + 1
    if i <= self._n then return self._k[i] end
  end
end

function P:values()
  local i = 0
  return function()
    i = i + 1
    if i <= self._n then return self._v[i] end
  end
end

--- fn(value, name, params) for each pair, as in JavaScript.
function P:forEach(fn)
  errors.check_type(fn, 'callback', 'function')
  local i = 1
  while i <= self._n do
    fn(self._v[i], self._k[i], self)
    i = i + 1
  end
end

P_mt.__index = function(self, key)
  if key == 'size' then return self._n end
  return P[key]
end
P_mt.__tostring = serialize
P_mt.__pairs = function(self) return P.entries(self) end
P_mt.__name = 'URLSearchParams'

local function is_params(v) return getmetatable(v) == P_mt end
M.is_params = is_params

local function new_params(init)
  local self = setmetatable({ _k = {}, _v = {}, _n = 0 }, P_mt)
  if init == nil then return self end
  if is_params(init) then
    for i = 1, init._n do append_pair(self, init._k[i], init._v[i]) end
    return self
  end
  if type(init) == 'table' then
    if init[1] ~= nil then
      for i = 1, #init do
        local pair = init[i]
        if type(pair) ~= 'table' or #pair ~= 2 then
          errors.throw('ERR_INVALID_TUPLE', 'Each query pair must be an iterable [name, value] tuple')
        end
        append_pair(self, str(pair[1]), str(pair[2]))
      end
    else
      -- a map: its keys in sorted order (Lua tables have no insertion
      -- order); a list value gives one pair per element
      local names = {}
      for k in next, init do names[#names + 1] = str(k) end
      sort(names)
      for _, name in ipairs(names) do
        local v = init[name]
        if v == nil then v = init[tonumber(name)] end
        if type(v) == 'table' and not getmetatable(v) then
          for j = 1, #v do append_pair(self, name, str(v[j])) end
        else
          append_pair(self, name, str(v))
        end
      end
    end
    return self
  end
  local s = str(init)
  if byte(s, 1) == 63 then s = sub(s, 2) end
  each_pair(s, append_pair, self)
  return self
end
M.new = new_params

--- The URLSearchParams of a URL object (its list is the URL's query).
function M.for_url(url)
  local self = setmetatable({ _k = {}, _v = {}, _n = 0, _url = url }, P_mt)
  local q = url._r.query
  if q and q ~= '' then each_pair(q, append_pair, self) end
  return self
end

---@class URLSearchParamsConstructor
---@overload fun(init?: string|table|URLSearchParams): URLSearchParams
-- The constructor is the placeholder global bootstrap.lua made, when it is
-- there (see there), else a new table.
function M.constructor(name)
  local g = rawget(_G, name)
  local mt = g and getmetatable(g)
  if mt and mt.luster_lazy_global == name then return g end
  return {}
end

M.URLSearchParams = setmetatable(M.constructor('URLSearchParams'), {
  __call = function(_, init) return new_params(init) end,
})
M.URLSearchParams.new = new_params

return M
