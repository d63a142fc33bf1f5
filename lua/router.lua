--- A small Express-style router over `http`:
---
---   local router = require('router')
---   local app = router()
---   app:use(function(req, res, nxt) ... nxt() end)
---   app:get('/users/:id', function(req, res) res:json({id = req.params.id}) end)
---   app:post('/items', function(req, res) res:status(201):json(req.body) end)
---   local api = router.Router()
---   api:get('/health', function(req, res) res:send('ok') end)
---   app:use('/api', api)
---   app:use('/assets', router.static('public'))
---   app:listen(3000)
---
--- Layers (middleware, routes, mounted routers) run in the order they were
--- added, as in Express.  Every handler gets `nxt` (Lua's `next` is a
--- builtin): `nxt()` passes on, `nxt(err)` fails, `nxt('route')` skips the
--- rest of the current route's handlers, `nxt('router')` leaves the router.
--- A handler taking four parameters, `function(err, req, res, nxt)`, is an
--- error handler: it runs only while an error is pending (found with
--- debug.getinfo(fn).nparams, Lua's `fn.length`).  Handlers may `await`; an
--- error they raise, before or after an await, goes to the error handlers.
--- Nothing matching gives 404 `Cannot GET /path`; an error nobody handles
--- gives its `status` (4xx: JSON {error = message}) or 500.
---
--- Body parsing is a layer too (router.json{}, router.urlencoded{},
--- router.text{}, router.raw{}; lua/luster/router_body.lua), run where it
--- was added.  For a request that met no router.json on its way, the app
--- parses JSON with its `limit` just before the first route handler that
--- matches it (in the app or any router mounted in it), so middleware
--- before it (a logger, an error handler) sees the 400/413 it produces;
--- router({json = false}) turns that off.
---
--- `app:use(path, ...)` matches path prefixes at a '/' boundary and strips
--- the prefix while its handlers run: inside, req.url and req.path are
--- relative, req.baseUrl holds what was stripped and req.originalUrl the
--- url as it arrived (Express's names).  Paths are matched as sent
--- (percent-encoded) and, as Express, case-insensitively unless the
--- router has {caseSensitive = true}; params are percent-decoded ('+'
--- stays '+'), and a param that is not valid percent-encoding gives 400.
--- A trailing '/' is optional.  Middleware that reads req.body must come
--- after an explicit router.json() (the app's own parser runs later).
local http = require('http')
local errors = require('luster.errors')
local body = require('luster.router_body')
local static = require('luster.router_static')
require('luster.router_response') -- req/res helpers (res:send, res:redirect, req:get, ...)

local route_lib = require('luster.router_route')
local call_unrecorded = require('native.http').call_unrecorded

local type, setmetatable, rawget, tonumber, find, sub = type, setmetatable, rawget, tonumber, string.find, string.sub
local lower = string.lower
local run, run_param, arity, flatten = route_lib.run, route_lib.run_param, route_lib.arity, route_lib.flatten
local compile, simple_shape, match_route, match_prefix = route_lib.compile, route_lib.simple_shape,
  route_lib.match_route, route_lib.match_prefix
local NO_PARAMS, Route, METHODS, trace_of = route_lib.NO_PARAMS, route_lib.Route, route_lib.METHODS, route_lib.trace_of

-- ---- Router ----

---@class Router
---@field stack table[] layers: {prefix=|pattern=, keys=, plain=, fn=, arity=, route=}
---@field locals table app.locals (an app), shared by its requests as req.app.locals
local Router = {}
Router.__index = Router

local function check_path(path, what)
  if type(path) ~= 'string' then
    errors.throw('ERR_INVALID_ARG_TYPE', 'The "path" argument of %s must be of type string. Received %s',
      what, type(path))
  end
end

--- A Route for `path`, to which handlers are added by method:
--- `app:route('/book'):get(f):post(g)`.
---@param path string
---@return Route
function Router:route(path)
  check_path(path, 'route()')
  local route = setmetatable({ path = path, stack = {}, methods = {} }, Route)
  local layer = { route = route }
  local fold = not self.caseSensitive
  if find(path, '[:*]') then
    local pat, keys, risky = compile(path, fold)
    layer.pattern, layer.keys, layer.risky = '^' .. pat .. '/?$', keys, risky
    local pre, suf = simple_shape(path, fold)
    if pre then
      layer.pre, layer.suf = pre, suf
      layer.suf_slash = suf .. '/'
    end
  else
    if fold then path = path:lower() end
    layer.plain = path
    layer.plain_slash = path ~= '/' and path .. '/' or nil
  end
  self.stack[#self.stack + 1] = layer
  return route
end

for _, m in ipairs(METHODS) do
  --- Add a route for this method: `app:get(path, fn...)`.
  Router[m] = function(self, path, ...)
    if type(path) == 'function' then
      errors.throw('ERR_INVALID_ARG_TYPE', 'app:%s() requires a path as its first argument', m)
    end
    local route = self:route(path)
    route[m](route, ...)
    return self
  end
end

-- A router (or anything with :handle) used as middleware.
local function as_handler(x)
  if type(x) == 'function' then return x, arity(x) end
  if type(x) == 'table' and type(x.handle) == 'function' then
    return function(req, res, nxt) return x:handle(req, res, nxt) end, 3
  end
  errors.throw('ERR_INVALID_ARG_TYPE',
    'The "handler" argument must be a function or a router. Received %s', type(x))
end

--- Add middleware or mount routers, optionally under a path prefix:
--- `app:use([path,] fn_or_router...)`.
---@return Router
function Router:use(path, ...)
  local fns
  if type(path) == 'string' then
    fns = flatten({ ... })
  else
    fns = flatten({ path, ... })
    path = nil
  end
  if #fns == 0 then errors.throw('ERR_INVALID_ARG_TYPE', 'app:use() requires a middleware function') end
  local prefix, pattern, keys, risky
  if path and path ~= '/' then
    prefix = path:gsub('/$', '')
    if find(prefix, '[:*]') then
      pattern, keys, risky = compile(prefix, not self.caseSensitive)
      pattern = '^' .. pattern
    elseif not self.caseSensitive then
      prefix = prefix:lower()
    end
  end
  for _, x in ipairs(fns) do
    local fn, n = as_handler(x)
    self.stack[#self.stack + 1] = {
      prefix = prefix, plain = prefix and not pattern, pattern = pattern, keys = keys, risky = risky, fn = fn,
      arity = n,
    }
  end
  return self
end

--- `app:param(name, fn)`: fn(req, res, nxt, value, name) runs before the
--- handlers of a route whose path has :name, once per request and value.
---@param name string
---@param fn function
---@return Router
function Router:param(name, fn)
  errors.check_type(name, 'name', 'string')
  errors.check_type(fn, 'fn', 'function')
  local list = self.params[name]
  if not list then list = {}; self.params[name] = list end
  list[#list + 1] = fn
  return self
end

-- Runs the app:param callbacks for the params of a matched route, then cont(err).
local function run_params(self, layer, req, res, cont)
  local keys = layer.keys
  if not keys or next(self.params) == nil then return cont() end
  local called = rawget(req, '_params_called')
  if not called then called = {}; req._params_called = called end
  local ki, ci, list, name, value = 0, 0, nil, nil, nil
  local function step(err)
    if err ~= nil then return cont(err) end
    while true do
      if list and ci < #list then
        ci = ci + 1
        local e = run_param(list[ci], req, res, step, value, name)
        if e ~= nil then return cont(e) end
        return
      end
      if list then called[name] = value end
      ki = ki + 1
      name = keys[ki]
      if name == nil then return cont() end
      value = req.params[name]
      list = self.params[name]
      if list and called[name] == value then list = nil end
      ci = 0
    end
  end
  step()
end

local function describe(err)
  local ok, s = pcall(errors.describe, err, trace_of(err))
  return ok and s or '(an error that cannot be described)'
end

local BODY_HEADERS = { 'Content-Encoding', 'Content-Language', 'Content-Range', 'Content-Length',
  'Content-Disposition', 'ETag', 'Last-Modified' }

-- What the app answers for an error nobody handled (Express's finalhandler).
local function send_error(res, err)
  local status = type(err) == 'table' and tonumber(rawget(err, 'status') or rawget(err, 'statusCode')) or 500
  if not status or status < 400 or status > 599 then status = 500 end
  if status >= 500 then io.stderr:write('router: ', describe(err), '\n') end
  if res.finished then return end
  if res._started then return res:destroy() end
  if res.headersSent then
    res:_reset_headers() -- writeHead without a body yet: start over
  else
    -- as Express's finalhandler: headers set so far (CORS, cookies) stay,
    -- those that described the body that will not be sent go
    for _, h in ipairs(BODY_HEADERS) do res:removeHeader(h) end
  end
  res.statusCode = status
  local msg = status < 500 and type(err) == 'table' and rawget(err, 'expose') ~= false
    and type(rawget(err, 'message')) == 'string' and rawget(err, 'message') or nil
  if msg then
    res:setHeader('Content-Type', 'application/json')
    res:finish(require('json').encode({ error = msg }))
  else
    res:setHeader('Content-Type', 'text/plain; charset=utf-8')
    res:finish(http.STATUS_CODES[status] or 'Error')
  end
end

-- Express answers OPTIONS itself when routes have the path but none has OPTIONS.
local function send_options(res, allow)
  local list = {}
  for m in pairs(allow) do if m ~= 'ALL' then list[#list + 1] = m end end
  table.sort(list)
  local text = table.concat(list, ',')
  res.statusCode = 200
  res:setHeader('Allow', text)
  res:setHeader('Content-Type', 'text/plain; charset=utf-8')
  res:finish(text)
end

local function final(req, res, err)
  if err ~= nil and err ~= 'router' then return send_error(res, err) end
  if not res.finished then
    res.statusCode = 404
    res:setHeader('Content-Type', 'text/plain; charset=utf-8')
    res:finish('Cannot ' .. req.method .. ' ' .. (rawget(req, 'originalUrl') or req.url):gsub('%?.*', ''))
  end
end

-- The slow halves of start_route and parse_then_route, which make a
-- closure: kept apart so that the common path has none (a function that
-- makes a closure closes its upvalues on every return, which LuaJIT does
-- not compile, so the whole request path would run interpreted).
local function route_after_params(self, layer, req, res, nxt)
  return run_params(self, layer, req, res, function(err)
    if err ~= nil then return nxt(err) end
    return layer.route:dispatch(req, res, nxt)
  end)
end

-- A matched route: its app:param callbacks, then its handlers.
local function start_route(self, layer, req, res, nxt)
  if not layer.keys or next(self.params) == nil then return layer.route:dispatch(req, res, nxt) end
  return route_after_params(self, layer, req, res, nxt)
end

-- Whether the request surely has no body: complete with nothing received
-- (http_incoming's fields), for a method that does not carry one.
local function bodiless(req)
  local m = req.method
  return (m == 'GET' or m == 'HEAD') and req.complete and not req._body and not rawget(req, '_buf')
end

local function parse_first(self, layer, req, res, nxt, parse)
  local e = run(parse, nil, req, res, function(err)
    if err ~= nil then return nxt(err) end
    return start_route(self, layer, req, res, nxt)
  end)
  if e ~= nil then return nxt(e) end
end

-- The app's JSON parser first, for a request no router.json has seen.
local function parse_then_route(self, layer, req, res, nxt)
  local app = rawget(req, 'app')
  local parse = app and app._default_json
  if not parse or rawget(req, '_json_seen') or bodiless(req) then
    return start_route(self, layer, req, res, nxt)
  end
  return parse_first(self, layer, req, res, nxt, parse)
end

-- One request's walk through one router's stack.  Its state is one table
-- (and `nxt` one closure over it): a closure over a dozen locals would make
-- a dozen upvalue objects per request per router, most of the garbage a
-- request made.  The table is an array, whose slots are these (an array
-- of 15 is one allocation a third the size of a table of 15 named keys):
local S_SELF, S_REQ, S_RES, S_OUT, S_URL, S_PATH, S_LPATH, S_BASE = 1, 2, 3, 4, 5, 6, 7, 8
local S_PARENT_PARAMS, S_OWN_PARAMS, S_I, S_STRIPPED, S_ALLOW, S_NXT, S_METHOD = 9, 10, 11, 12, 13, 14, 15
-- (S_OUT: the caller's continuation or false; S_LPATH: the path as matched,
-- case-folded unless caseSensitive; S_I: the layer reached; S_STRIPPED:
-- whether a mount prefix is cut from req.url now; S_ALLOW: the methods an
-- OPTIONS request found; S_METHOD: req.method as it came in.)
-- `step` looks at one layer and goes on to the next with a tail call
-- rather than a loop: LuaJIT will not compile a trace through a loop it
-- enters with a few iterations, and the request's trace (from http.lua's
-- serve down to the response) passes through here.
local step

-- Leaving this router: the request as it came in.
local function leave(st, err)
  local req, res = st[S_REQ], st[S_RES]
  req.url, req.path, req.baseUrl, req.params = st[S_URL], st[S_PATH], st[S_BASE], st[S_PARENT_PARAMS] or nil
  local allow = st[S_ALLOW]
  if allow and err == nil and not res.finished then return send_options(res, allow) end
  local out = st[S_OUT]
  if out then return out(err ~= 'router' and err or nil) end
  return final(req, res, err)
end

local function merge_parent_params(params, parent)
  for k, v in pairs(parent) do if params[k] == nil then params[k] = v end end
end

local function note_options(st, route)
  local allow = st[S_ALLOW]
  if not allow then allow = {}; st[S_ALLOW] = allow end
  for m in pairs(route.methods) do allow[m] = true end
  if route.methods.GET then allow.HEAD = true end
end

-- A route layer: dispatches the request when it matches; else the next layer.
local function step_route(st, layer, route, err)
  local method, path, lpath = st[S_METHOD], st[S_PATH], st[S_LPATH]
  -- a route runs only with no error pending, for a method it has
  if err ~= nil then return step(st, err) end
  if route:_handles(method) then
    local params, perr = match_route(layer, path, lpath)
    if perr then return step(st, perr) end
    if params then
      if params == NO_PARAMS then
        params = st[S_OWN_PARAMS]
        if not params then params = {}; st[S_OWN_PARAMS] = params end
      elseif st[S_SELF].mergeParams and st[S_PARENT_PARAMS] then
        merge_parent_params(params, st[S_PARENT_PARAMS])
      end
      local req = st[S_REQ]
      req.params = params
      return parse_then_route(st[S_SELF], layer, req, st[S_RES], st[S_NXT])
    end
  elseif method == 'OPTIONS' and match_route(layer, path, lpath) then
    note_options(st, route)
  end
  return step(st, err)
end

-- A middleware layer whose prefix matched: strips it and runs the handler.
local function run_middleware(st, layer, err, params, removed)
  local req = st[S_REQ]
  if params ~= NO_PARAMS then
    if st[S_SELF].mergeParams and st[S_PARENT_PARAMS] then merge_parent_params(params, st[S_PARENT_PARAMS]) end
    req.params = params
  else
    local own = st[S_OWN_PARAMS]
    if not own then own = {}; st[S_OWN_PARAMS] = own end
    if rawget(req, 'params') ~= own then req.params = own end
  end
  local url, path = st[S_URL], st[S_PATH]
  if removed ~= '' then
    st[S_STRIPPED] = true
    local rest = sub(url, #removed + 1)
    if sub(rest, 1, 1) ~= '/' then rest = '/' .. rest end
    req.url = rest
    req.path = sub(path, #removed + 1)
    if req.path == '' then req.path = '/' end
    req.baseUrl = st[S_BASE] .. removed
  end
  local e = run(layer.fn, err, req, st[S_RES], st[S_NXT])
  if e == nil then return end
  if st[S_STRIPPED] then
    req.url, req.path, req.baseUrl = url, path, st[S_BASE]
    st[S_STRIPPED] = false
  end
  return step(st, e)
end

step = function(st, err)
  local i = st[S_I] + 1
  st[S_I] = i
  local layer = st[S_SELF].stack[i]
  if not layer or err == 'router' then return leave(st, err) end
  local route = layer.route
  if route then return step_route(st, layer, route, err) end
  if (err ~= nil) == (layer.arity == 4) then
    local params, removed, perr = match_prefix(layer, st[S_PATH], st[S_LPATH])
    if perr then return step(st, perr) end
    if params then return run_middleware(st, layer, err, params, removed) end
  end
  return step(st, err)
end

-- What `nxt(err)` does: back to the request as this router had it, then on.
local function walk(st, err)
  if st[S_STRIPPED] then
    local req = st[S_REQ]
    req.url, req.path, req.baseUrl = st[S_URL], st[S_PATH], st[S_BASE]
    st[S_STRIPPED] = false
  end
  if err == 'route' then err = nil end
  return step(st, err)
end

local function make_nxt(st)
  return function(err) return walk(st, err) end
end
jit.off(make_nxt) -- called from C, never part of a trace

--- Handle one request (also usable as a plain `http` handler, or as
--- middleware: `out(err)` is called when nothing here answered).
---@param req IncomingMessage
---@param res ServerResponse
---@param out? fun(err?: any)
function Router:handle(req, res, out)
  local url, path = req.url, req.path
  local base = rawget(req, 'baseUrl')
  if not base then -- false: a field of the router's server's request (http.lua)
    base = ''
    req.baseUrl, req.originalUrl = '', url
  end
  if self.is_app and not rawget(req, 'app') then
    req.app = self
    res.locals = {} -- Express's res.locals: this request's, for the handlers after
  end
  local parent_params = rawget(req, 'params')
  -- the state is an array (its slots are named S_* above): one allocation
  local st = { self, req, res, out or false, url, path, self.caseSensitive and path or lower(path), base,
    parent_params or false, self.mergeParams and (parent_params or {}) or false, 0, false, false, false, req.method }
  -- made outside the trace (see runtime/http.c): LuaJIT 2.1 does not
  -- compile the making of a closure
  st[S_NXT] = call_unrecorded(make_nxt, st)
  return step(st, nil)
end

--- Serve the app: `app:listen(port[, host][, cb])` returns the server.
---@return HttpServer
function Router:listen(...)
  local server = http.createServer(self.options, function(req, res) self:handle(req, res) end)
  server._router_fields = true
  self.server = server
  return server:listen(...)
end

-- A router is callable as middleware: router(req, res, nxt).
Router.__call = function(self, req, res, nxt) return self:handle(req, res, nxt) end

--- A router to mount with app:use(path, router).  Options (Express's):
--- mergeParams (see the parent's params), caseSensitive (default false:
--- '/Users' and '/users' are the same route).
---@param options? {mergeParams?: boolean, caseSensitive?: boolean}
---@return Router
local function new_router(options)
  options = options or {}
  return setmetatable({ stack = {}, params = {}, options = options, mergeParams = options.mergeParams or false,
    caseSensitive = options.caseSensitive or false }, Router)
end

setmetatable(Router, { __call = function(_, options) return new_router(options) end })

--- A new app.  Options: `limit` (largest JSON body for the default parser,
--- default 1 MiB; a number of bytes or '100kb'), `json = false` (no default
--- parser), `caseSensitive` (as router.Router's) and any option of
--- http.createServer.
---@param options? table
---@return Router
local function new_app(options)
  options = options or {}
  local self = new_router(options)
  self.is_app = true
  self.locals = {}
  self.limit = options.limit or 1024 * 1024
  self._default_json = options.json ~= false and body.json({ limit = self.limit, type = { 'application/json', '*/*+json', '*/json' } }) or false
  return self
end

return setmetatable({
  new = new_app,
  Router = Router, -- the class; callable: router.Router(opts) makes one
  Route = Route,
  json = body.json,
  urlencoded = body.urlencoded,
  text = body.text,
  raw = body.raw,
  static = static.serve,
  compression = require('luster.router_compression'),
}, { __call = function(_, opts) return new_app(opts) end })
