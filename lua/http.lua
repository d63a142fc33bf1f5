--- HTTP/1.1 server (Node's `http`): createServer, Server, and the request
--- and response objects (lua/luster/http_incoming.lua, http_outgoing.lua).
---
--- The wire work is in C (runtime/http*.c): parsing, keep-alive,
--- pipelining, limits, timeouts, serialization.  This side makes a request
--- and a response table per request and runs the handler.  The handler
--- runs in the runtime coroutine C dispatched the request into, inside an
--- xpcall, so it may `await` and an error it raises (before or after an
--- await) becomes a 500 (or a closed connection, if the head went out
--- already) and is logged; the server keeps serving.
---
--- Options of createServer (Node's names, Node's defaults):
---   maxHeaderSize     16384   bytes of request line + headers, else 431
---   maxBodySize       0       bytes of body (0 = no limit), else 413
---   headersTimeout    60000   ms to receive the headers, else 408
---   requestTimeout    300000  ms to receive the whole request, else 408
---   keepAliveTimeout  5000    ms an idle keep-alive connection stays open
---   maxConnections    0       open connections (0 = no limit); more are dropped
---   highWaterMark     65536   bytes: req's readable and res's writable mark
--- (0 disables a timeout.)
local EventEmitter = require('events')
local errors = require('luster.errors')
local sched = require('luster.scheduler')
local native = require('native.http')
local tcp = require('native.tcp')
local net = require('luster.net')
local incoming = require('luster.http_incoming')
local outgoing = require('luster.http_outgoing')

local setmetatable, type, band = setmetatable, type, bit.band
local EXIT = sched.EXIT
local new_request, new_response = incoming.new, outgoing.new

local M = {}
M.IncomingMessage = incoming.IncomingMessage
M.ServerResponse = outgoing.ServerResponse
M.METHODS = { 'ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK',
  'M-SEARCH', 'MERGE', 'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH',
  'POST', 'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE',
  'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE' }
M.STATUS_CODES = outgoing.STATUS_CODES

---@class HttpServer: EventEmitter
---@field listening boolean
local Server = EventEmitter.extend({})
M.Server = Server

-- ---- running handlers ----

-- Handlers run under the scheduler's protected call (its trap keeps the
-- error and its traceback, even from a stack overflow).
local xcall = sched.xcall

-- A handler raised: log it; answer 500 if nothing was sent yet, else the
-- response cannot be repaired and the connection is closed.
local function handler_failed(res, rec)
  if rec == EXIT then error(EXIT, 0) end
  io.stderr:write('http: request handler error: ', errors.describe(rec.value, rec.trace), '\n')
  if res.finished and not res.destroyed then return end
  if res._started then return res:destroy() end
  res:_reset_headers()
  res.finished = false
  res.statusCode = 500
  res:setHeader('Content-Type', 'text/plain')
  res:finish('Internal Server Error')
end

local function guarded(fn, req, res)
  local ok, err = xcall(fn, req, res)
  if not ok then handler_failed(res, err) end
end

-- LuaJIT cannot compile a function that returns straight into a C frame
-- (xpcall, coroutine.resume): "NYI: return to lower frame".  So the
-- functions C and xpcall call are one-line trampolines, and the real work
-- (serve, the handler) is called from Lua and can be traced.
local function call_handler(handler, req, res)
  handler(req, res)
  return true
end

-- The request and response tables are copied from constant templates
-- (every key present, so the values below are plain stores): building them
-- key by key would make LuaJIT insert and hash each key per request.
local function serve(server, sock, seq, method, url, raw, ver, flags, body)
  local router = server._router_fields
  local req = new_request(method, url, raw, ver, sock, band(flags, 2) ~= 0, body or false, router)
  local res = new_response(sock, seq, req, router)
  sock._req, sock._res = req, res
  local hwm = server._hwm
  if hwm then -- only then: the usual request keeps its fixed set of keys
    req.readableHighWaterMark, res._hwm = hwm, hwm
  end
  local handler = server._handler
  if handler then
    local ok, err = xcall(call_handler, handler, req, res)
    if not ok then handler_failed(res, err) end
  else
    -- several listeners: each in its own coroutine, as emit would
    local l = server:listeners('request')
    for i = 1, #l do
      local ok, err = sched.run(guarded, l[i], req, res)
      if not ok then error(err == EXIT and EXIT or err.value, 0) end
    end
  end
end

local function make_on_request(server)
  return function(sock, seq, method, url, raw, ver, flags, body)
    serve(server, sock, seq, method, url, raw, ver, flags, body)
  end
end

-- Stream events run the handler's listeners ('data', 'end', 'drain'): one
-- that raises is the handler's error (500 or a closed connection), not the
-- server's.
local function push_body(req, chunk, ended) req:_push(chunk, ended) end
local function drained(res) res:_drained() end
local function guarded_event(fn, sock, obj, a, b)
  local ok, rec = xcall(fn, obj, a, b)
  if not ok then
    handler_failed(sock._res, rec)
    if obj == sock._req then -- the rest of the body goes nowhere, once
      obj:removeAllListeners('data')
      obj:resume()
    end
  end
end
incoming.guard = function(req, fn) guarded_event(fn, req.socket, req) end

-- A request left HTTP (runtime/http_conn.c, "upgrades"): its connection
-- is now a net.Socket over `fd` (a tls.TLSSocket for https), and `req` a
-- complete request without a body; 'upgrade' (or 'connect' for CONNECT)
-- gets (req, socket, head).
local function upgrade(server, fd, head, method, url, raw, ver, tls_engine)
  -- an https connection brings its TLS session (lua/https.lua)
  local socket = tls_engine and server:_secure_socket(fd, tls_engine) or require('net').Socket.new({ fd = fd })
  local req = new_request(method, url, raw, ver, socket, true, false, false)
  req.upgrade = true
  server:emit(method == 'CONNECT' and 'connect' or 'upgrade', req, socket, head)
end

local function make_on_event(server)
  return function(kind, sock, a, b, ...)
    if kind == 'upgrade' then
      upgrade(server, sock, a, b, ...)
    elseif kind == 'body' then
      guarded_event(push_body, sock, sock._req, a, b)
    elseif kind == 'drain' then
      local res = sock._res
      if res then guarded_event(drained, sock, res) end
    elseif kind == 'abort' or kind == 'close' then
      local req, res = sock._req, sock._res
      if req then
        local code = kind == 'close' and 'ECONNRESET' or 'ERR_HTTP_REQUEST_ABORTED'
        local msg = kind == 'close' and 'the client closed the connection'
          or ('the request was answered with status %d and closed'):format(a)
        local err = errors.new(code, msg)
        err.status = a
        req:_abort(err)
        res:_abort()
      end
    elseif kind == 'connection' then
      server:emit('connection', sock)
    elseif kind == 'server_close' then
      server:_closed()
    end
  end
end

-- ---- the server ----

local LIMITS = { 'maxHeaderSize', 'maxBodySize', 'headersTimeout', 'requestTimeout',
  'keepAliveTimeout', 'maxConnections', 'highWaterMark' }
local DEFAULTS = { maxHeaderSize = 16384, maxBodySize = 0, headersTimeout = 60000,
  requestTimeout = 300000, keepAliveTimeout = 5000, maxConnections = 0,
  highWaterMark = 65536 }

-- Node's validateInteger(value, 'options.' .. k, 0); math.huge = none.
local function check_limit(k, v)
  if type(v) ~= 'number' then
    errors.throw('ERR_INVALID_ARG_TYPE', 'The "options.%s" property must be of type number. Received %s', k, type(v))
  end
  if v < 0 or v ~= v or (v % 1 ~= 0 and v ~= math.huge) then
    errors.throw('ERR_OUT_OF_RANGE', 'The value of "options.%s" is out of range. It must be an integer >= 0. Received %s',
      k, tostring(v))
  end
  return v == math.huge and 0 or v
end

-- The limits are properties too (server.keepAliveTimeout = 65000), kept
-- in _limits so that an assignment reaches the C side.
Server.__index = function(t, k)
  local v = Server[k]
  if v ~= nil or DEFAULTS[k] == nil then return v end
  return rawget(t, '_limits')[k]
end
Server.__newindex = function(t, k, v)
  if DEFAULTS[k] == nil then return rawset(t, k, v) end
  local c = check_limit(k, v)
  rawget(t, '_limits')[k] = v
  t._h:set_limits({ [k] = c })
end

--- Make a server; `handler(req, res)` becomes a 'request' listener.
---@param opts? table|fun(req: IncomingMessage, res: ServerResponse)
---@param handler? fun(req: IncomingMessage, res: ServerResponse)
---@return HttpServer
function M.createServer(opts, handler)
  if type(opts) == 'function' then opts, handler = nil, opts end
  opts = opts or {}
  local limits, shown = {}, {}
  for _, k in ipairs(LIMITS) do
    local v = opts[k]
    if v ~= nil then limits[k] = check_limit(k, v) end
    if v == nil then v = DEFAULTS[k] end
    shown[k] = v
  end
  -- as Node: the headers cannot take longer than the whole request
  local hto, rto = limits.headersTimeout, limits.requestTimeout
  if rto and rto > 0 and not hto and rto < DEFAULTS.headersTimeout then
    limits.headersTimeout, shown.headersTimeout = rto, opts.requestTimeout
  elseif hto and rto and hto > 0 and rto > 0 and hto > rto then
    errors.throw('ERR_OUT_OF_RANGE', 'The value of "headersTimeout" is out of range. It must be <= requestTimeout. Received %s',
      tostring(opts.headersTimeout))
  end
  local self = setmetatable({ listening = false, _opts = opts, _limits = shown, _router_fields = false }, Server)
  self._hwm = opts.highWaterMark or false
  self._h = native.new_server(limits, make_on_request(self), make_on_event(self), incoming.socket_mt)
  if handler then self:on('request', handler) end
  return self
end

function Server:_listeners_changed(name)
  if name == 'request' then
    local ev = rawget(self, '_events')
    local l = ev and ev.request
    self._handler = type(l) == 'function' and l or nil
  elseif name == 'connection' then
    self._h:notify_connection(self:listenerCount('connection') > 0)
  elseif name == 'upgrade' or name == 'connect' then
    self._h:notify_upgrade(self:listenerCount('upgrade') > 0, self:listenerCount('connect') > 0)
  end
end

-- listen(port[, host][, backlog][, cb]) or listen({port=, host=, backlog=, reusePort=}[, cb])
-- listen()'s arguments, as every server takes them (lua/luster/net.lua);
-- the C server listens on TCP ports only
local function listen_args(...)
  local opts, cb = net.listen_args(...)
  if opts.path then
    errors.throw('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', 'http servers listen on TCP ports, not on paths (%s)', opts.path)
  end
  return opts, cb
end

--- Start listening.  `server:listen(port[, host][, backlog][, cb])` or
--- `server:listen{port=, host=, backlog=, reusePort=}`; port 0 picks a free
--- port.  'listening' (and cb) follow on the next tick, or 'error'.  In a
--- cluster worker the primary decides how connections arrive.
---@return HttpServer
function Server:listen(...)
  local opts, cb = listen_args(...)
  if cb then self:once('listening', cb) end
  self._closing = nil
  net.listen(self, opts)
  return self
end

--- Bind our own listening socket (also the cluster seam's reusePort path).
---@return boolean|nil ok, table? err
function Server:_bind_local(opts)
  local fd, err = tcp.listen(opts.host, opts.port or 0, opts.backlog, opts.reusePort)
  if not fd then
    local host = opts.host or '::'
    err.message = err.message .. ' ' .. host .. ':' .. tostring(opts.port)
    err.address, err.port = host, opts.port
    return nil, err
  end
  return self:_adopt_listen_fd(fd)
end

--- Take over a listening socket (ours, or the cluster primary's).
function Server:_adopt_listen_fd(fd)
  local ok, err = self._h:listen_fd(fd)
  if not ok then return nil, err end
  self.listening = true
  return true
end

--- Serve one connection accepted elsewhere (the cluster primary's, SCHED_RR).
function Server:_adopt_connection_fd(fd)
  return self._h:adopt(fd)
end

function Server:_listening(address)
  self.listening = true
  self._address = address or self._h:address()
  self:emit('listening')
end

function Server:_listen_failed(err)
  self.listening = false
  self:emit('error', err)
end

--- {port=, address=, family=} of the listening socket, or nil.
---@return table|nil
function Server:address()
  if not self.listening then return nil end
  return self._h:address() or self._address
end

--- Stop accepting connections; 'close' follows once the open ones have
--- finished their current response (idle ones are closed now).
---@param cb? fun(err?: table)
---@return HttpServer
function Server:close(cb)
  if self._closing then
    if cb then
      sched.next_tick(cb, errors.new('ERR_SERVER_NOT_RUNNING', 'Server is not running.'))
    end
    return self
  end
  if cb then self:once('close', cb) end
  self._closing = true
  self.listening = false
  if net.cluster_close then net.cluster_close(self) end
  if self._h:close() == 0 then sched.next_tick(function() self:_closed() end) end
  return self
end

function Server:_closed()
  if self._close_emitted then return end
  self._close_emitted = true
  self:emit('close')
  self._h:release()
end

function Server:closeIdleConnections() self._h:close_idle() end
function Server:getConnections(cb)
  local n = self._h:connections()
  if cb then sched.next_tick(cb, nil, n) end
  return n
end
function Server:ref() self._h:ref(); return self end
function Server:unref() self._h:unref(); return self end
function Server:setTimeout() return self end

-- The client side (lua/luster/http_client.lua) loads on first use.
local CLIENT = { request = true, get = true, Agent = true, globalAgent = true,
                 ClientRequest = true, IncomingMessage = true }
setmetatable(M, { __index = function(_, k)
  if CLIENT[k] then return require('luster.http_client')[k] end
end })

return M
