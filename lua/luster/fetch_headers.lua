--- luster.fetch_headers — the `Headers` class of fetch: case-insensitive,
--- `get` joins repeated values with ', ' (Set-Cookie apart:
--- `getSetCookie()`), iteration sorted by lower-cased name as the Fetch
--- Standard says: `for name, value in h:entries() do`, or `pairs(h)`.
local errors = require('luster.errors')
local parse_headers = require('native.http').parse_headers

local type, tostring, sort = type, tostring, table.sort

---@class Headers
local Headers = {}
Headers.__index = Headers
Headers.__name = 'Headers'

local function type_error(msg)
  local e = errors.new('ERR_INVALID_ARG_VALUE', msg, 3)
  e.name = 'TypeError'
  error(e, 3)
end

local function check_name(method, name)
  name = tostring(name)
  if name == '' or name:find('[^%w!#$%%&\'*+%-.^_`|~]') then
    type_error(('Headers.%s: "%s" is an invalid header name.'):format(method, name))
  end
  return name:lower()
end

-- Values lose leading/trailing whitespace; CR, LF and NUL are refused.
local function check_value(method, name, value)
  value = tostring(value):gsub('^[ \t\r\n]+', ''):gsub('[ \t\r\n]+$', '')
  if value:find('[\r\n%z]') then
    type_error(('Headers.%s: "%s" is an invalid header value.'):format(method, value))
  end
  return value
end

local function new() return setmetatable({ _names = {}, _values = {} }, Headers) end

--- Headers(init): init is a map {name = value}, a list of {name, value}
--- pairs, or another Headers.
function Headers.new(init)
  local self = new()
  if init == nil then return self end
  if getmetatable(init) == Headers then
    for _, k in ipairs(init._names) do
      local v = init._values[k]
      self._names[#self._names + 1] = k
      self._values[k] = type(v) == 'table' and { unpack(v) } or v
    end
  elseif type(init) == 'table' then
    if #init > 0 then
      for _, pair in ipairs(init) do
        if type(pair) ~= 'table' or #pair ~= 2 then type_error('Headers constructor: expected name/value pair to be length 2') end
        self:append(pair[1], pair[2])
      end
    else
      for k, v in pairs(init) do self:append(k, v) end
    end
  else
    type_error('Headers constructor: init must be a table or Headers')
  end
  return self
end
setmetatable(Headers, { __call = function(_, init) return Headers.new(init) end })

function Headers:append(name, value)
  local k = check_name('append', name)
  local v = check_value('append', name, value)
  local have = self._values[k]
  if have == nil then
    self._names[#self._names + 1] = k
    self._values[k] = k == 'set-cookie' and { v } or v
  elseif k == 'set-cookie' then
    have[#have + 1] = v
  else
    self._values[k] = have .. ', ' .. v
  end
end

function Headers:set(name, value)
  local k = check_name('set', name)
  local v = check_value('set', name, value)
  if self._values[k] == nil then self._names[#self._names + 1] = k end
  self._values[k] = k == 'set-cookie' and { v } or v
end

function Headers:delete(name)
  local k = check_name('delete', name)
  if self._values[k] == nil then return end
  self._values[k] = nil
  for i, n in ipairs(self._names) do if n == k then table.remove(self._names, i) break end end
end

--- The value (repeats joined with ', '), or nil.
function Headers:get(name)
  local v = self._values[check_name('get', name)]
  if type(v) == 'table' then return table.concat(v, ', ') end
  return v
end

function Headers:has(name) return self._values[check_name('has', name)] ~= nil end

--- Every Set-Cookie value, as a list.
function Headers:getSetCookie()
  local v = self._values['set-cookie']
  return v and { unpack(v) } or {}
end

-- The sorted (name, value) list that iteration walks.
local function sorted(self)
  local names = { unpack(self._names) }
  sort(names)
  local list = {}
  for _, k in ipairs(names) do
    local v = self._values[k]
    if k == 'set-cookie' then
      for _, one in ipairs(v) do list[#list + 1] = { k, one } end
    else
      list[#list + 1] = { k, v }
    end
  end
  return list
end

--- Iterate name, value pairs: `for name, value in h:entries() do`.
function Headers:entries()
  local list, i = sorted(self), 0
  return function()
    i = i + 1
    local e = list[i]
    if e then return e[1], e[2] end
  end
end
Headers.__pairs = function(self) return self:entries() end

function Headers:keys()
  local it = self:entries()
  return function() return (it()) end
end

function Headers:values()
  local it = self:entries()
  return function() local _, v = it() return v end
end

function Headers:forEach(fn)
  for k, v in self:entries() do fn(v, k, self) end
end

--- A new empty Headers (fetch without init.headers).
Headers.empty = new

--- Headers of a parsed response head (`rawHeaders`: name, value, ...,
--- or the parser's "name\0value\0" string): llhttp already refused bad
--- names and values; values are trimmed here.
function Headers.from_raw(raw)
  if type(raw) == 'string' then raw = parse_headers(raw, true) end
  local self = new()
  local names, values = self._names, self._values
  for i = 1, #raw, 2 do
    local k, v = raw[i]:lower(), raw[i + 1]
    if v:find('^[ \t]') or v:find('[ \t]$') then v = v:gsub('^[ \t]+', ''):gsub('[ \t]+$', '') end
    local have = values[k]
    if have == nil then
      names[#names + 1] = k
      values[k] = k == 'set-cookie' and { v } or v
    elseif k == 'set-cookie' then
      have[#have + 1] = v
    else
      values[k] = have .. ', ' .. v
    end
  end
  return self
end

--- Name → value as a plain table (what http.request takes).
function Headers:toTable()
  local t = {}
  for _, k in ipairs(self._names) do t[k] = self._values[k] end
  return t
end

return Headers
