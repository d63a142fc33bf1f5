--- The pieces of the router that do not depend on a Router: running a
--- handler (errors raised before or after an await come back as values,
--- process.exit passes through), path patterns and their params, and
--- Route (one path, handlers by method: app:route(path)).
local errors = require('luster.errors')
local sched = require('luster.scheduler')

local type, xpcall, setmetatable, rawget = type, xpcall, setmetatable, rawget
local char, tonumber, find, sub, match = string.char, tonumber, string.find, string.sub, string.match
local lower, concat = string.lower, table.concat
local traceback, EXIT = debug.traceback, sched.EXIT

local M = {}

-- ---- running one handler ----

-- Tracebacks of the table errors handlers raised, for the final 500 log.
local traces = setmetatable({}, { __mode = 'k' })

-- A string cannot be a weak key: the last one raised keeps its trace.
local last_string, last_string_trace

local function trace_here()
  return (traceback('', 3):sub(2):gsub("\n\t%[C%]: in function 'xpcall'.*$", ''))
end

local function trap(e)
  if e == EXIT then return e end
  if e == nil then e = errors.new('ERR_UNHANDLED_ERROR', 'a handler raised nil') end
  local t = type(e)
  if t == 'table' then
    if traces[e] == nil and rawget(e, 'stack') == nil then traces[e] = trace_here() end
  elseif t == 'string' then
    last_string, last_string_trace = e, trace_here()
  end
  return e
end

--- The traceback of where err was raised in a handler, if known.
function M.trace_of(err)
  if type(err) == 'table' then return traces[err] end
  if err == last_string then return last_string_trace end
end

-- Runs a layer's handler, as an error handler when err is not nil; returns
-- the error it raised, or nil.
local function run(fn, err, req, res, nxt)
  local ok, e
  if err == nil then ok, e = xpcall(fn, trap, req, res, nxt)
  else ok, e = xpcall(fn, trap, err, req, res, nxt) end
  if ok then return nil end
  if e == EXIT then error(EXIT, 0) end
  return e
end

-- An app:param callback: fn(req, res, nxt, value, name).
local function run_param(fn, req, res, nxt, value, name)
  local ok, e = xpcall(fn, trap, req, res, nxt, value, name)
  if ok then return nil end
  if e == EXIT then error(EXIT, 0) end
  return e
end

local function arity(fn)
  return debug.getinfo(fn, 'u').nparams
end

-- Handlers as given: functions, routers, and (nested) arrays of them.
local function flatten(list, out)
  out = out or {}
  for i = 1, #list do
    local fn = list[i]
    if type(fn) == 'table' and getmetatable(fn) == nil then
      flatten(fn, out)
    else
      out[#out + 1] = fn
    end
  end
  return out
end

-- ---- paths ----

-- decodeURIComponent for a path param: nil when the text is not valid
-- percent-encoding ('+' is a plus sign in a path).
local function hex_byte(h) return char(tonumber(h, 16)) end
local function decode_param(s)
  if not find(s, '%', 1, true) then return s end
  if find(s, '%%%X') or find(s, '%%%x%X') or find(s, '%%.?$') then return nil end
  return (s:gsub('%%(%x%x)', hex_byte))
end

-- '/users/:id/files/*' -> a Lua pattern, the param names ('*' are 0,
-- 1...) and whether the pattern can take quadratic time.  Params are
-- position captures, so that a pattern can be matched against the
-- case-folded path while params are cut from the path itself (fold: the
-- literal text is lower-cased, Express's default).
--
-- Backtracking: a param followed by a literal character stops before that
-- character (':from-:to' is ([^/-]+)-([^/]+), as path-to-regexp does since
-- CVE-2024-45296), which keeps the match linear.  What stays quadratic (two
-- '*', a '*' before a param, two params side by side) is flagged: such a
-- route is matched only against paths up to RISKY_PATH bytes.
local MAGIC = '[%-%.%+%[%]%(%)%$%^%%%?]'
local function compile(path, fold)
  local keys, out, i, stars, risky = {}, {}, 1, 0, false
  local last -- 'param', 'star' or nil: the token before this one
  while i <= #path do
    local _, e, name = find(path, '^:([%w_]+)', i)
    if name then
      if last then risky = true end
      keys[#keys + 1] = name
      local after = sub(path, e + 1, e + 1)
      if after ~= '' and after ~= '/' and after ~= ':' and after ~= '*' then
        if fold then after = lower(after) end
        out[#out + 1] = '()[^/' .. (find(after, MAGIC) and '%' .. after or after) .. ']+()'
      else
        out[#out + 1] = '()[^/]+()'
      end
      i, last = e + 1, 'param'
    else
      local c = sub(path, i, i)
      if c == '*' then
        if stars > 0 or last then risky = true end
        keys[#keys + 1] = stars
        stars = stars + 1
        out[#out + 1] = '().*()'
        last = 'star'
      else
        if fold then c = lower(c) end
        out[#out + 1] = find(c, MAGIC) and '%' .. c or c
        if last == 'param' then last = nil end
      end
      i = i + 1
    end
  end
  return concat(out), keys, risky
end

-- Longest path a quadratic route pattern is tried on (~1 ms of matching).
local RISKY_PATH = 1024

local function bad_param()
  local e = errors.new('ERR_INVALID_URI', 'Failed to decode param: not valid percent-encoding')
  e.status = 400
  return e
end

-- Fills params from the position captures of a match; nil, err for a bad param.
local function fill(params, keys, path, ...)
  for i = 1, #keys do
    local from, to = select(2 * i - 1, ...)
    local v = decode_param(sub(path, from, to - 1))
    if v == nil then return nil, bad_param() end
    params[keys[i]] = v
  end
  return params
end

-- The layer's params when it matches (NO_PARAMS, never given to a
-- handler, for a layer without params), or nil; and for a prefix layer
-- the part of path matched.  lpath is path case-folded (or path itself
-- for a case-sensitive router); the layer's plain text and pattern were
-- folded the same way.
local NO_PARAMS = {}
local function fill_match(keys, path, first, ...)
  if first == nil then return nil end
  return fill({}, keys, path, first, ...)
end

-- A route with one param (the usual one) is matched without a loop and
-- without passing match's results on as varargs: LuaJIT compiles neither
-- a loop of one iteration inside the request's trace nor a call to a
-- builtin it does not compile (string.match) whose results are passed on
-- (it can stitch the trace around a call with a fixed number of results).
local function match_one(key, pattern, path, lpath)
  local from, to = match(lpath, pattern)
  if from == nil then return nil end
  local v = decode_param(sub(path, from, to - 1))
  if v == nil then return nil, bad_param() end
  return { [key] = v }
end

-- The usual route, '/users/:id' or '/users/:id/posts': literal text, one
-- param ending at a '/' or at the end, literal text.  Such a route is
-- matched by comparing the two texts and finding the '/' (what the pattern
-- '^/users/()[^/]+()/?$' would do), without string.match, which LuaJIT
-- does not compile.  Returns the two texts (folded as the pattern is), or
-- nil for any other route.
local function simple_shape(path, fold)
  local pre, name, suf = match(path, '^([^:*]*):([%w_]+)(.*)$')
  if not pre or find(suf, '[:*]') or (suf ~= '' and sub(suf, 1, 1) ~= '/') then return nil end
  if fold then pre, suf = lower(pre), lower(suf) end
  return pre, suf, name
end

local function match_simple(layer, path, lpath)
  local pre = layer.pre
  local n = #pre
  if sub(lpath, 1, n) ~= pre then return nil end
  local slash = find(lpath, '/', n + 1, true)
  local to = slash or #lpath + 1
  if to == n + 1 then return nil end -- an empty param
  if slash then
    local rest = sub(lpath, slash)
    if rest ~= layer.suf and rest ~= layer.suf_slash then return nil end
  elseif layer.suf ~= '' then
    return nil
  end
  local v = decode_param(sub(path, n + 1, to - 1))
  if v == nil then return nil, bad_param() end
  return { [layer.keys[1]] = v }
end

local function match_route(layer, path, lpath)
  local plain = layer.plain
  if plain then
    if lpath == plain or lpath == layer.plain_slash then return NO_PARAMS end
    return nil
  end
  if layer.pre then return match_simple(layer, path, lpath) end
  if layer.risky and #lpath > RISKY_PATH then return nil end
  local keys = layer.keys
  if keys[2] == nil and keys[1] ~= nil then return match_one(keys[1], layer.pattern, path, lpath) end
  return fill_match(keys, path, match(lpath, layer.pattern))
end

local function match_prefix(layer, path, lpath)
  local prefix = layer.prefix
  if prefix == nil then return NO_PARAMS, '' end
  if layer.plain then
    local n = #prefix
    if sub(lpath, 1, n) ~= prefix then return nil end
    local c = sub(lpath, n + 1, n + 1)
    if c ~= '' and c ~= '/' then return nil end
    return NO_PARAMS, sub(path, 1, n)
  end
  if layer.risky and #lpath > RISKY_PATH then return nil end
  local caps = { find(lpath, layer.pattern) }
  if caps[1] == nil then return nil end
  local e = caps[2]
  local c = sub(lpath, e + 1, e + 1)
  if c ~= '' and c ~= '/' then return nil end
  local params, err = fill({}, layer.keys, path, unpack(caps, 3))
  if not params then return nil, nil, err end
  return params, sub(path, 1, e)
end

-- ---- Route: one path, handlers by method (app:route(path)) ----

---@class Route
---@field path string
local Route = {}
Route.__index = Route

local METHODS = { 'get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'all' }

for _, m in ipairs(METHODS) do
  local method = m:upper()
  --- Add handlers for this method to the route: `route:get(fn...)`.
  Route[m] = function(self, ...)
    local fns = flatten({ ... })
    if #fns == 0 then errors.throw('ERR_INVALID_ARG_TYPE', 'Route.%s() requires a handler', m) end
    for _, fn in ipairs(fns) do
      local n
      if type(fn) == 'table' and type(fn.handle) == 'function' then
        -- a router as one of a route's handlers (Express allows it)
        local r = fn
        fn, n = function(req, res, nxt) return r:handle(req, res, nxt) end, 3
      else
        errors.check_type(fn, 'handler', 'function')
        n = arity(fn)
      end
      self.stack[#self.stack + 1] = { method = method, fn = fn, arity = n }
    end
    self.methods[method] = true
    return self
  end
end

function Route:_handles(method)
  local m = self.methods
  return m.ALL or m[method] or (method == 'HEAD' and m.GET) or false
end

-- Runs the route's handlers for req.method; done(err) leaves the route.
function Route:dispatch(req, res, done)
  local stack, i = self.stack, 0
  local method = req.method
  if method == 'HEAD' and not self.methods.HEAD then method = 'GET' end
  if #stack == 1 then
    -- one handler: the router's own nxt means the same ('route' and no
    -- more handlers both pass on), so no closure is made per request
    local h = stack[1]
    if h.arity ~= 4 and (h.method == method or h.method == 'ALL') then
      local e = run(h.fn, nil, req, res, done)
      if e ~= nil then return done(e) end
      return
    end
    return done()
  end
  local function nxt(err)
    if err == 'route' then return done() end
    if err == 'router' then return done('router') end
    while true do
      i = i + 1
      local h = stack[i]
      if not h then return done(err) end
      if h.method == method or h.method == 'ALL' then
        if (err ~= nil) == (h.arity == 4) then
          local e = run(h.fn, err, req, res, nxt)
          if e == nil then return end
          err = e
        end
      end
    end
  end
  nxt()
end


M.run, M.run_param, M.arity, M.flatten = run, run_param, arity, flatten
M.compile, M.simple_shape, M.match_route, M.match_prefix = compile, simple_shape, match_route, match_prefix
M.NO_PARAMS = NO_PARAMS
M.Route, M.METHODS = Route, METHODS
return M
