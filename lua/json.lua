--- JSON, on lua-cjson (each state has its own cjson instance).
---   json.encode(v) / json.stringify(v)       -> string (raises on functions...)
---   json.decode(s) / json.parse(s)           -> value  (raises ERR_INVALID_JSON)
---   json.decode(s, {safe = true})            -> value | nil, message
---   json.null                                -- JSON null (cjson.null)
local cjson = require('cjson').new()
local find, gsub = string.find, string.gsub
local errors = require('luster.errors')

cjson.encode_sparse_array(true)      -- {[1]=a, [5]=b} becomes an object, not an error
cjson.encode_max_depth(1000)
cjson.decode_max_depth(1000)

local M = { null = cjson.null }

-- ---- numbers cjson cannot write exactly ----
-- cjson writes numbers with at most 14 significant digits: 2^53 would come
-- out as 9.007199254741e+15 (a different number) and 881999979000000 as
-- 8.81999979e+14.  encode() first checks the value; if any number needs
-- more, the whole value is written by the encoder below, which makes the
-- same choices as cjson (arrays, sparse arrays, escapes, errors) but writes
-- numbers exactly, as JavaScript does.
local floor, fmt, huge = math.floor, string.format, math.huge
local type, pairs, next = type, pairs, next
local MAX_DEPTH = 1000

local function cjson_exact(n)
  if n == floor(n) then return n < 1e14 and n > -1e14 end
  return tonumber(fmt('%.14g', n)) == n
end

-- Whether cjson writes every number in v exactly (walks as deep as cjson).
local function all_exact(v, depth)
  local t = type(v)
  if t == 'number' then return cjson_exact(v) end
  if t ~= 'table' or depth > MAX_DEPTH then return true end
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

local encode_value
local function encode_table(t, depth, buf)
  if depth > MAX_DEPTH then error(('Cannot serialise, excessive nesting (%d)'):format(depth), 0) end
  local n = array_length(t)
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

---@param s string
---@param opts? {safe?: boolean}
---@return any value, string? err
function M.decode(s, opts)
  if type(s) ~= 'string' then
    if opts and opts.safe then return nil, 'json.decode expects a string' end
    errors.check_type(s, 'text', 'string')
  end
  local ok, v = pcall(cjson.decode, s)
  if ok then return v end
  local msg = tostring(v):gsub('^Expected', 'Unexpected token: expected')
  if opts and opts.safe then return nil, msg end
  error(errors.new('ERR_INVALID_JSON', msg, 2), 2)
end

M.stringify = M.encode
M.parse = M.decode
return M
