--- A small Express-style router over `http`:
---
---   local app = require('router')()
---   app:use(function(req, res, nxt) ... nxt() end)
---   app:get('/users/:id', function(req, res) res:json({id = req.params.id}) end)
---   app:post('/items', function(req, res) res:status(201):json(req.body) end)
---   app:listen(3000)
---
--- Routes and middleware run in the order they were added.  A handler that
--- takes a third argument gets `nxt` (Lua's `next` is a builtin) and may
--- pass on with `nxt()` or fail with `nxt(err)`; handlers may `await`.
--- Before the routes run, a JSON body (Content-Type */json) is read and
--- parsed into `req.body` (a body that does not parse gives 400, one over
--- `limit` bytes 413; an empty one gives {}); other bodies are left to the
--- handler, for which `req:body()` (the method) still reads them.
--- Nothing matching gives 404; an error gives 500 (or `err.status`).
local http = require('http')
local json = require('json')
local errors = require('luster.errors')
local outgoing = require('luster.http_outgoing')
local incoming = require('luster.http_incoming')

local Res = outgoing.ServerResponse
local type, await, unescape = type, _G.await, incoming.unescape

--- `res:status(code)` — set the status code; chainable.
---@param code integer
---@return ServerResponse
function Res:status(code)
  self.statusCode = code
  return self
end

--- `res:send(body)` — finish with a string (text/html unless a type was
--- set), a table (as JSON) or a number (as a status code with its name).
---@param body? string|table|number
---@return ServerResponse
function Res:send(body)
  local t = type(body)
  if t == 'table' then return self:json(body) end
  if t == 'number' then
    self.statusCode = body
    body = http.STATUS_CODES[body] or tostring(body)
  end
  if not self.headersSent and not self:getHeader('content-type') then
    self:setHeader('Content-Type', 'text/html; charset=utf-8')
  end
  return self:finish(body)
end

--- `res:set(name, value)` — setHeader, chainable.
function Res:set(name, value)
  self:setHeader(name, value)
  return self
end

--- `res:type(mime)` — the Content-Type, chainable.
function Res:type(mime)
  return self:set('Content-Type', mime)
end

---@class Router
---@field stack table[] layers: {method=, pattern=, keys=, prefix=, fn=}
local Router = {}
Router.__index = Router

-- '/users/:id/files/*' -> Lua pattern and the parameter names
local function compile(path)
  local keys = {}
  local pat = path:gsub('[%-%.%+%[%]%(%)%$%^%%%?]', '%%%0')
  pat = pat:gsub(':([%w_]+)', function(k)
    keys[#keys + 1] = k
    return '([^/]+)'
  end)
  pat = pat:gsub('%*', function()
    keys[#keys + 1] = #keys
    return '(.*)'
  end)
  return '^' .. pat .. '/?$', keys
end

local function add(self, method, path, fns)
  if type(path) == 'function' then
    table.insert(fns, 1, path)
    path = nil
  end
  for _, fn in ipairs(fns) do
    errors.check_type(fn, 'handler', 'function')
    local layer = { method = method, fn = fn, arity = debug.getinfo(fn, 'u').nparams }
    if method == 'USE' then
      layer.prefix = path and path ~= '/' and path:gsub('/$', '') or nil
    else
      layer.pattern, layer.keys = compile(path or '*')
    end
    self.stack[#self.stack + 1] = layer
  end
  return self
end

for _, m in ipairs({ 'get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'all' }) do
  local method = m:upper()
  --- Add a route for this method: `app:get(path, fn...)`.
  Router[m] = function(self, path, ...) return add(self, method, path, { ... }) end
end

--- Add middleware (optionally only under a path prefix).
---@return Router
function Router:use(path, ...)
  return add(self, 'USE', path, { ... })
end

local function match(layer, req, path)
  local method = layer.method
  if method == 'USE' then
    local prefix = layer.prefix
    if not prefix then return true end
    return path == prefix or path:sub(1, #prefix + 1) == prefix .. '/'
  end
  if method ~= 'ALL' and method ~= req.method and not (method == 'GET' and req.method == 'HEAD') then
    return false
  end
  local caps = { path:match(layer.pattern) }
  if caps[1] == nil then return false end
  local params = {}
  for i, k in ipairs(layer.keys) do params[k] = unescape(caps[i] or '') end
  req.params = params
  return true
end

local function send_error(res, err)
  local status = type(err) == 'table' and tonumber(err.status or err.statusCode) or 500
  if status < 400 or status > 599 then status = 500 end
  if status >= 500 then
    io.stderr:write('router: ', errors.describe(err), '\n')
  end
  if res.finished then return end
  if res._started then return res:destroy() end
  res:_reset_headers()
  res.statusCode = status
  res:setHeader('Content-Type', 'text/plain')
  res:finish(http.STATUS_CODES[status] or 'Error')
end

-- Read and parse a JSON body into req.body; false when it answered 4xx.
local function parse_body(self, req, res)
  local ctype = req.headers['content-type']
  if not ctype or not ctype:lower():find('json', 1, true) then return true end
  local ok, raw = pcall(await, req:body())
  if not ok then return false end -- the client went away or a limit answered
  if #raw > self.limit then
    send_error(res, { status = 413 })
    return false
  end
  if raw == '' then
    req.body = {}
    return true
  end
  local value, err = json.decode(raw, { safe = true })
  if value == nil and err then
    res:status(400):json({ error = 'invalid JSON body: ' .. err })
    return false
  end
  req.body = value
  return true
end

--- Handle one request (also usable as a plain `http` handler).
---@param req IncomingMessage
---@param res ServerResponse
function Router:handle(req, res)
  -- req.body: the parsed JSON (rawget: otherwise `body` is req:body())
  if rawget(req, 'body') == nil and not parse_body(self, req, res) then return end
  local stack, path, i = self.stack, req.path, 0
  local function nxt(err)
    while true do
      i = i + 1
      local layer = stack[i]
      if not layer then
        if err ~= nil then return send_error(res, err) end
        if not res.finished then res:status(404):send('Cannot ' .. req.method .. ' ' .. path) end
        return
      end
      if match(layer, req, path) then
        local wants_err = layer.method == 'USE' and layer.arity == 4
        if (err ~= nil) == wants_err then
          local ok, e
          if wants_err then ok, e = pcall(layer.fn, err, req, res, nxt)
          else ok, e = pcall(layer.fn, req, res, nxt) end
          if not ok then err = e else return end
        end
      end
    end
  end
  nxt()
end

--- Serve the app: `app:listen(port[, host][, cb])` returns the server.
---@return HttpServer
function Router:listen(...)
  local server = http.createServer(self.options, function(req, res) self:handle(req, res) end)
  self.server = server
  return server:listen(...)
end

--- A new app.  Options: `limit` (largest JSON body, default 1 MiB) and any
--- option of http.createServer.
---@param options? table
---@return Router
local function new(options)
  options = options or {}
  local self = setmetatable({ stack = {}, options = options, limit = options.limit or 1024 * 1024 }, Router)
  return self
end

return setmetatable({ new = new, Router = Router }, { __call = function(_, opts) return new(opts) end })
