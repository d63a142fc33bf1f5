--- Printing values the way Node's util.inspect / util.format do, in Lua's
--- own notation: `{ 1, 2, 3 }`, `{ a = 1, ['x-y'] = 2 }`, strings quoted
--- with single quotes inside tables, whole numbers without exponent.
local M = {}

local type, tostring, floor, huge, fmt = type, tostring, math.floor, math.huge, string.format
local concat, sort = table.concat, table.sort

--- A number as JavaScript prints it: 881999979000000, 0.1, 1e+21, NaN, -0.
---@param n number
---@return string
function M.number(n)
  if n ~= n then return 'NaN' end
  if n == huge then return 'Infinity' end
  if n == -huge then return '-Infinity' end
  if n == 0 then return 1 / n < 0 and '-0' or '0' end
  if n == floor(n) and n < 1e21 and n > -1e21 then return fmt('%.0f', n) end
  local s
  for p = 1, 17 do
    s = fmt('%.' .. p .. 'g', n)
    if tonumber(s) == n then break end
  end
  -- JavaScript writes exponents as e+21 / e-7, no leading zeros
  return (s:gsub('e([+-])0*(%d)', 'e%1%2'))
end

local escapes = { ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t', ["'"] = "\\'", ['\\'] = '\\\\' }
local function quote(s)
  return "'" .. s:gsub("[\n\r\t'\\]", escapes):gsub('[%z\1-\8\11\12\14-\31\127]', function(c)
    return fmt('\\x%02X', c:byte())
  end) .. "'"
end
M.quote = quote

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not
  or repeat return then true until while]]):gmatch('%a+') do keywords[w] = true end

-- Keys written bare (`name = 1`) must be valid Lua names; others are
-- bracketed (`['x-y'] = 1`, `['end'] = 2`).
local function is_identifier(k)
  return type(k) == 'string' and k:match('^[%a_][%w_]*$') ~= nil and not keywords[k]
end

-- Keys print numbers first, then strings, booleans, the rest; a total
-- order (table.sort may fail on an inconsistent one).
local type_rank = { number = 1, string = 2, boolean = 3 }
local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    local ra, rb = type_rank[ta] or 4, type_rank[tb] or 4
    if ra ~= rb then return ra < rb end
    return ta < tb
  end
  if ta == 'number' or ta == 'string' then return a < b end
  if ta == 'boolean' then return b and not a end
  return tostring(a) < tostring(b)
end

-- json.null (cjson.null) is a light userdata holding NULL.
local function is_null(v)
  return getmetatable(v) == nil and tostring(v) == 'userdata: NULL'
end

local inspect_value

local function inspect_table(t, depth, seen, opts)
  local mt = getmetatable(t)
  if mt and mt.__tostring then return tostring(t) end
  if seen[t] then return '[Circular]' end
  if depth > opts.depth then return '[table]' end
  seen[t] = true
  local parts, n = {}, #t
  for i = 1, n do parts[i] = inspect_value(t[i], depth + 1, seen, opts) end
  local keys = {}
  for k in pairs(t) do
    if not (type(k) == 'number' and k >= 1 and k <= n and k == floor(k)) then keys[#keys + 1] = k end
  end
  sort(keys, key_order)
  for _, k in ipairs(keys) do
    local ks = is_identifier(k) and k or ('[' .. inspect_value(k, depth + 1, seen, opts) .. ']')
    parts[#parts + 1] = ks .. ' = ' .. inspect_value(t[k], depth + 1, seen, opts)
  end
  seen[t] = nil
  if #parts == 0 then return '{}' end
  local one = '{ ' .. concat(parts, ', ') .. ' }'
  if #one + depth * 2 <= 72 and not one:find('\n') then return one end
  local pad = ('  '):rep(depth + 1)
  return '{\n' .. pad .. concat(parts, ',\n' .. pad) .. '\n' .. ('  '):rep(depth) .. '}'
end

function inspect_value(v, depth, seen, opts)
  local t = type(v)
  if t == 'string' then return depth == 0 and opts.top_raw and v or quote(v) end
  if t == 'number' then return M.number(v) end
  if t == 'table' then return inspect_table(v, depth, seen, opts) end
  if t == 'function' then return '[function]' end
  if t == 'nil' then return 'nil' end
  if t == 'userdata' and is_null(v) then return 'null' end
  return tostring(v)
end

--- A readable rendering of any value.
---@param v any
---@param opts? {depth?: integer}
---@return string
function M.inspect(v, opts)
  local o = { depth = opts and opts.depth or 2 }
  return inspect_value(v, 0, {}, o)
end

-- How console.log shows one argument: strings raw, errors by their stack.
local function show(v)
  local t = type(v)
  if t == 'string' then return v end
  if t == 'number' then return M.number(v) end
  if t == 'table' then
    local mt = getmetatable(v)
    if mt and mt.__tostring then
      if type(rawget(v, 'stack')) == 'string' then return v.stack end
      return tostring(v)
    end
  end
  return M.inspect(v)
end

local function to_integer_string(v)
  local n = tonumber(v)
  if not n then return 'NaN' end
  if n ~= n or n == huge or n == -huge then return M.number(n) end
  return M.number(n < 0 and -floor(-n) or floor(n))
end

--- util.format: printf-like %s %d %i %f %j %o %O %c %%, then the rest
--- of the arguments joined by spaces.
---@return string
function M.format(...)
  local n = select('#', ...)
  if n == 0 then return '' end
  local args = { ... }
  local first, i = args[1], 2
  local out
  if type(first) == 'string' and first:find('%', 1, true) then
    out = first:gsub('%%([sdifjoOc%%])', function(c)
      if c == '%' then return '%' end
      if i > n then return '%' .. c end
      local a = args[i]
      i = i + 1
      if c == 's' then
        if type(a) == 'string' then return a end
        if type(a) == 'number' then return M.number(a) end
        return M.inspect(a, { depth = 1 })
      elseif c == 'd' then
        local x = tonumber(a)
        return x and M.number(x) or 'NaN'
      elseif c == 'i' then return to_integer_string(a)
      elseif c == 'f' then
        local x = tonumber(a)
        return x and M.number(x) or 'NaN'
      elseif c == 'j' then
        local ok, s = pcall(require('json').encode, a)
        return ok and s or '[Circular]'
      elseif c == 'c' then return ''
      else return M.inspect(a, { depth = 4 }) end
    end)
  else
    out = show(first)
  end
  local parts = { out }
  for k = i, n do parts[#parts + 1] = show(args[k]) end
  return concat(parts, ' ')
end

return M
