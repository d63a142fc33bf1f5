--- JSON, on lua-cjson (each state has its own cjson instance).
---   json.encode(v) / json.stringify(v)       -> string (raises on functions...)
---   json.decode(s) / json.parse(s)           -> value  (raises ERR_INVALID_JSON)
---   json.decode(s, {safe = true})            -> value | nil, message
---   json.null                                -- JSON null (cjson.null)
---   json.array(t)                            -> t, marked: encodes as [] even when empty
---   json.object(t)                           -> t, marked: encodes as {} even when a list
---   json.empty_array                         -- a (read-only) value that encodes as []
---
--- Lua has one table type, so an empty table is ambiguous; it encodes as {}
--- unless marked.  A mark is a metatable with `__jsontype = 'array'` or
--- `'object'` (dkjson's convention, so tables marked for dkjson keep their
--- meaning).  json.decode marks the empty arrays it reads, so `[]` read and
--- written again stays `[]`; other decoded tables carry no metatable.
local cjson = require('cjson').new()
local find, gsub = string.find, string.gsub
local errors = require('luster.errors')

cjson.encode_sparse_array(true)      -- {[1]=a, [5]=b} becomes an object, not an error
cjson.encode_max_depth(1000)
cjson.decode_max_depth(1000)

local M = { null = cjson.null }

local getmetatable, setmetatable = getmetatable, setmetatable
local array_mt = { __jsontype = 'array' }
local object_mt = { __jsontype = 'object' }
M.array_mt, M.object_mt = array_mt, object_mt
M.empty_array = setmetatable({}, {
  __jsontype = 'array',
  __newindex = function() error('json.empty_array is read-only', 2) end,
})

--- Mark `t` (default a new table) as a JSON array; returns it.  The mark
--- is t's metatable (any metatable t had is replaced).
---@param t? table
---@return table
function M.array(t)
  if t == nil then t = {} end
  errors.check_type(t, 't', 'table')
  return setmetatable(t, array_mt)
end

--- Mark `t` (default a new table) as a JSON object; returns it.
---@param t? table
---@return table
function M.object(t)
  if t == nil then t = {} end
  errors.check_type(t, 't', 'table')
  return setmetatable(t, object_mt)
end

-- The mark of a table: 'array', 'object' or nil.
local function marked(t)
  local mt = getmetatable(t)
  return mt and type(mt) == 'table' and mt.__jsontype or nil
end

-- ---- what cjson cannot write ----
-- cjson writes numbers with at most 14 significant digits: 2^53 would come
-- out as 9.007199254741e+15 (a different number) and 881999979000000 as
-- 8.81999979e+14; and it knows no marks (an empty table is always {}).
-- encode() first checks the value; if any number needs more digits, or a
-- mark changes what cjson would write, the whole value is written by the
-- encoder below, which makes the same choices as cjson (arrays, sparse
-- arrays, escapes, errors) but writes numbers exactly, as JavaScript does,
-- and honours marks.  The check is one walk without allocation, so the
-- common value still goes to cjson's C encoder.
local floor, fmt, huge = math.floor, string.format, math.huge
local type, pairs, next = type, pairs, next
local MAX_DEPTH = 1000

local function cjson_exact(n)
  if n == floor(n) then return n < 1e14 and n > -1e14 end
  return tonumber(fmt('%.14g', n)) == n
end

-- Whether cjson writes v as we would: every number exactly, no mark that
-- matters (walks as deep as cjson).  An 'array' mark matters on an empty
-- table or a sparse one, an 'object' mark on a list; checking only that a
-- table is marked keeps the walk simple (a marked table goes the Lua way).
local function all_exact(v, depth)
  local t = type(v)
  if t == 'number' then return cjson_exact(v) end
  if t ~= 'table' or depth > MAX_DEPTH then return true end
  if getmetatable(v) ~= nil and marked(v) then return false end
  for k, x in next, v do
    local tx = type(x)
    if tx == 'number' then
      if not cjson_exact(x) then return false end
    elseif tx == 'table' then
      if not all_exact(x, depth + 1) then return false end
    end
    if type(k) == 'number' and not cjson_exact(k) then return false end
  end
  return true
end

local function number_text(n)
  if n ~= n or n == huge or n == -huge then
    error('Cannot serialise number: must not be NaN or Inf', 0)
  end
  if n == floor(n) and n < 1e21 and n > -1e21 then return fmt('%.0f', n) end
  for p = 14, 17 do -- the shortest form that reads back as the same number
    local s = fmt('%.' .. p .. 'g', n)
    if tonumber(s) == n then return s end
  end
end

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['/'] = '\\/', ['\b'] = '\\b', ['\f'] = '\\f',
                  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function string_text(s)
  return '"' .. s:gsub('[%c"\\/\127]', function(c)
    return escapes[c] or fmt('\\u%04x', c:byte())
  end) .. '"'
end

-- cjson's array test: every key a positive integer; returns the length, or
-- nil for an object (excessively sparse arrays become objects, as cjson's
-- encode_sparse_array(true) does: length > 10 and over twice the items).
local function array_length(t)
  local max, items = 0, 0
  for k in next, t do
    if type(k) ~= 'number' or k < 1 or k ~= floor(k) then return nil end
    if k > max then max = k end
    items = items + 1
  end
  if max > 10 and max > items * 2 then return nil end
  return max
end

-- A list marked as an array keeps its holes, however sparse.
local function marked_array_length(t)
  local max = 0
  for k in next, t do
    if type(k) ~= 'number' or k < 1 or k ~= floor(k) then return nil end
    if k > max then max = k end
  end
  return max
end

local encode_value
local function encode_table(t, depth, buf)
  if depth > MAX_DEPTH then error(('Cannot serialise, excessive nesting (%d)'):format(depth), 0) end
  local mark = getmetatable(t) ~= nil and marked(t)
  local n
  if mark == 'array' then
    n = marked_array_length(t)
    if n == 0 then buf[#buf + 1] = '[]' return end
  elseif mark ~= 'object' then
    n = array_length(t)
  end
  if n and n > 0 then
    buf[#buf + 1] = '['
    for i = 1, n do
      if i > 1 then buf[#buf + 1] = ',' end
      encode_value(t[i], depth, buf)
    end
    buf[#buf + 1] = ']'
    return
  end
  buf[#buf + 1] = '{'
  local first = true
  for k, v in pairs(t) do
    local tk = type(k)
    if tk == 'number' then k = number_text(k)
    elseif tk ~= 'string' then error('Cannot serialise ' .. tk .. ': table key must be a number or string', 0) end
    if not first then buf[#buf + 1] = ',' end
    first = false
    buf[#buf + 1] = string_text(k)
    buf[#buf + 1] = ':'
    encode_value(v, depth, buf)
  end
  buf[#buf + 1] = '}'
end

function encode_value(v, depth, buf)
  local t = type(v)
  if t == 'string' then buf[#buf + 1] = string_text(v)
  elseif t == 'number' then buf[#buf + 1] = number_text(v)
  elseif t == 'boolean' then buf[#buf + 1] = v and 'true' or 'false'
  elseif t == 'nil' or v == cjson.null then buf[#buf + 1] = 'null'
  elseif t == 'table' then encode_table(v, depth + 1, buf)
  else error('Cannot serialise ' .. t .. ': type not supported', 0) end
end

local function exact_encode(value)
  local buf = {}
  encode_value(value, 0, buf)
  return table.concat(buf)
end

---@param value any
---@return string
function M.encode(value)
  local ok, s
  if all_exact(value, 1) then
    ok, s = pcall(cjson.encode, value)
  else
    ok, s = pcall(exact_encode, value)
  end
  if not ok then error(errors.new('ERR_INVALID_ARG_TYPE', 'json.encode: ' .. tostring(s), 2), 2) end
  -- cjson escapes every '/' as '\/'; JSON.stringify does not.  Each '\/' in
  -- cjson's output is such an escape (a '/' is never written bare), so
  -- undoing them all is exact.
  if find(s, '\\/', 1, true) then s = gsub(s, '\\/', '/') end
  return s
end

-- ---- keeping [] an array through decode ----
-- cjson reads [] and {} as the same empty table.  When the text has an
-- empty array outside its strings (rare: found with one find() first),
-- each one is rewritten as a one-element array holding a marker string
-- before cjson reads it, and every table read back that holds just the
-- marker is emptied and marked.  The marker is a string no JSON text
-- carries by accident (a NUL byte and a fixed tag).
local EMPTY = '\0luster.json:empty-array\0'
local EMPTY_JSON = '["\\u0000luster.json:empty-array\\u0000"]'
local sub = string.sub

-- The text with each [] outside a string replaced, or nil if there is none.
local function rewrite_empty_arrays(s)
  local out, from, pos, found = {}, 1, 1, false
  while true do
    local i = find(s, '[%["]', pos)
    if not i then break end
    if sub(s, i, i) == '"' then
      -- skip the string: to the next quote not escaped
      local j = i + 1
      while true do
        local k = find(s, '["\\]', j)
        if not k then return found and (table.concat(out) .. sub(s, from)) or nil end
        if sub(s, k, k) == '\\' then j = k + 2 else j = k + 1 break end
      end
      pos = j
    else
      local e = select(2, find(s, '^%[[ \t\r\n]*%]', i))
      if e then
        out[#out + 1] = sub(s, from, i - 1)
        out[#out + 1] = EMPTY_JSON
        from, found = e + 1, true
        pos = e + 1
      else
        pos = i + 1
      end
    end
  end
  if not found then return nil end
  out[#out + 1] = sub(s, from)
  return table.concat(out)
end

local function mark_empty_arrays(v, depth)
  if type(v) ~= 'table' or depth > MAX_DEPTH then return end
  if v[1] == EMPTY and next(v, next(v)) == nil then
    v[1] = nil
    setmetatable(v, array_mt)
    return
  end
  for _, x in next, v do
    if type(x) == 'table' then mark_empty_arrays(x, depth + 1) end
  end
end

local function cjson_decode(s)
  -- plain finds first: they are compiled, a pattern find is not
  if find(s, '[]', 1, true) or (find(s, '[', 1, true) and (find(s, '[ ', 1, true)
      or find(s, '[\n', 1, true) or find(s, '[\r', 1, true) or find(s, '[\t', 1, true))
      and find(s, '%[[ \t\r\n]*%]')) then
    local r = rewrite_empty_arrays(s)
    if r then
      local ok, v = pcall(cjson.decode, r)
      if ok then
        mark_empty_arrays(v, 1)
        return true, v
      end
      -- fall through: the error message must name positions in s itself
    end
  end
  return pcall(cjson.decode, s)
end

---@param s string
---@param opts? {safe?: boolean}
---@return any value, string? err
function M.decode(s, opts)
  if type(s) ~= 'string' then
    if opts and opts.safe then return nil, 'json.decode expects a string' end
    errors.check_type(s, 'text', 'string')
  end
  local ok, v = cjson_decode(s)
  if ok then return v end
  local msg = tostring(v):gsub('^Expected', 'Unexpected token: expected')
  if opts and opts.safe then return nil, msg end
  error(errors.new('ERR_INVALID_JSON', msg, 2), 2)
end

M.stringify = M.encode
M.parse = M.decode
return M
