--- luster.http_client — http.request/http.get (API.md "HTTP client and
--- fetch"): ClientRequest (a Writable) and the response (IncomingMessage, a
--- Readable), over net sockets from an Agent and llhttp's response parser
--- (runtime/http_parser.c).
---
--- Framing as Node: a Content-Length header is kept; a body given whole to
--- finish() gets one; otherwise a request with a body is chunked.  The
--- response parser pauses after each response, so a keep-alive socket goes
--- back to its agent only once both the request was written and the
--- response read.  Backpressure runs end to end: a response nobody reads
--- pauses the socket (which stops reading from the kernel), and request
--- writes wait for the socket's.
--- A request whose reused keep-alive socket turns out closed before any
--- response byte arrived is sent again on a new connection, once, when it
--- is idempotent (GET HEAD OPTIONS PUT DELETE TRACE) and its body is kept.
local stream = require('luster.stream')
local errors = require('luster.errors')
local Agent = require('luster.http_agent')
local native_parser = require('native.http_parser')
local net = require('net')

local type, tostring, tonumber, concat, rawget = type, tostring, tonumber, table.concat, rawget
local next_tick = require('luster.scheduler').next_tick

local M = {}

M.Agent = Agent
M.globalAgent = Agent.new { keepAlive = true }

local IDEMPOTENT = { GET = true, HEAD = true, OPTIONS = true, PUT = true, DELETE = true, TRACE = true }
local GOOD_METHOD = { GET = true, HEAD = true, POST = true, PUT = true, DELETE = true, OPTIONS = true,
                      PATCH = true, TRACE = true, CONNECT = true }
local NO_BODY = { GET = true, HEAD = true, DELETE = true, OPTIONS = true, TRACE = true, CONNECT = true }

local function err(code, msg) return errors.new(code, msg) end

-- ============================================================ response

---@class http.IncomingMessage : EventEmitter
local Response = stream.Readable.extend({})
Response.__index = stream.index(Response)
M.IncomingMessage = Response

-- headers and rawHeaders come from the parser's head when first read
-- (runtime/http_parser.c makes them from its raw string)
local function head_field(name)
  return function(res)
    local v = rawget(res, '_head')[name]
    rawset(res, name, v)
    return v
  end
end
Response._getters = { headers = head_field('headers'), rawHeaders = head_field('rawHeaders') }

local function new_response(req, head)
  return setmetatable({
    statusCode = head.status, statusMessage = head.statusMessage, httpVersion = head.httpVersion,
    _head = head, complete = false, aborted = false, req = req, socket = req.socket,
  }, Response)
end

-- The consumer wants more: read from the kernel again (on_data stopped it
-- when the response's buffer was full).
function Response:_read()
  local sock = self.socket
  if sock and not self._done and sock._h and not rawget(sock, 'destroyed')
     and stream.rstate(sock).flowing ~= false then   -- not while the user paused the socket
    sock:_read()
  end
end

--- A promise of the whole body (also `res:body()`, from the stream model).
Response.text = stream.Readable.body

function Response:setTimeout(ms, cb)
  if self.socket then self.socket:setTimeout(ms, cb) end
  return self
end

-- ============================================================ request

---@class http.ClientRequest : EventEmitter
local Request = stream.Writable.extend({})
Request.__index = stream.index(Request)
M.ClientRequest = Request

-- Parse 'http://user:pass@host:port/path?q' into request options.
local function from_url(s, into)
  local scheme, rest = s:match('^(%a[%w+.-]*):(.*)$')
  if not scheme then error(err('ERR_INVALID_URL', 'Invalid URL: ' .. s), 3) end
  into.protocol = scheme:lower() .. ':'
  local authority, path = rest:match('^//([^/?#]*)(.*)$')
  if not authority then error(err('ERR_INVALID_URL', 'Invalid URL: ' .. s), 3) end
  local userinfo, hostport = authority:match('^(.*)@(.*)$')
  if userinfo then into.auth = userinfo else hostport = authority end
  local host, port = hostport:match('^%[(.-)%]:?(%d*)$')
  if not host then host, port = hostport:match('^([^:]*):?(%d*)$') end
  into.hostname = host
  into.port = tonumber(port)
  path = path:gsub('#.*$', '')
  into.path = path == '' and '/' or (path:sub(1, 1) == '?' and '/' .. path or path)
  return into
end
M._from_url = from_url

local function check_header(name, value)
  if type(name) ~= 'string' or name == '' or name:find('[^%w!#$%%&\'*+%-.^_`|~]') then
    error(err('ERR_INVALID_HTTP_TOKEN', ('Header name must be a valid HTTP token ["%s"]'):format(tostring(name))), 3)
  end
  if value == nil then
    error(err('ERR_HTTP_INVALID_HEADER_VALUE', ('Invalid value "nil" for header "%s"'):format(name)), 3)
  end
  local vs = type(value) == 'table' and value or { value }
  for _, v in ipairs(vs) do
    if tostring(v):find('[\r\n%z]') then
      error(err('ERR_INVALID_CHAR', ('Invalid character in header content ["%s"]'):format(name)), 3)
    end
  end
end

-- Parsed URL strings (a client asks the same few URLs over and over).
local url_cache, url_cached, URL_CACHE_MAX = {}, 0, 256
local URL_PARTS = { 'protocol', 'auth', 'hostname', 'port', 'path' }

local function from_url_cached(s, into)
  local u = url_cache[s]
  if not u then
    u = from_url(s, {})
    if url_cached >= URL_CACHE_MAX then url_cache, url_cached = {}, 0 end
    url_cache[s], url_cached = u, url_cached + 1
  end
  for i = 1, #URL_PARTS do local k = URL_PARTS[i]; into[k] = u[k] end
  return into
end

--- http.request(url | opts[, opts][, cb])
function M.request(a, b, c)
  local o, cb = {}, nil
  if type(a) == 'string' then
    from_url_cached(a, o)
    if type(b) == 'table' then for k, v in pairs(b) do o[k] = v end; cb = c else cb = b end
  elseif type(a) == 'table' then
    if a.href then from_url(a.href, o) end
    for k, v in pairs(a) do if k ~= 'href' then o[k] = v end end
    cb = b
  else
    error(err('ERR_INVALID_ARG_TYPE', 'The "url" argument must be of type string or an object. Received ' .. type(a)), 2)
  end
  return Request.new(o, cb)
end

function M.get(...)
  local req = M.request(...)
  req:finish()
  return req
end

--- (fetch) A request from an options table the caller made for it alone.
function M._request(o) return Request.new(o) end

-- The header lists of a request that has none (never written: setHeader
-- makes the request its own first).
local NO_NAMES, NO_VALUES, NO_ORDER = {}, {}, {}

function Request.new(o, cb)
  -- the fields a request gets during its life, made at once (no rehash as
  -- they arrive one by one); false where false and nil mean the same
  local self = setmetatable({
    method = false, path = false, host = false, port = false, protocol = false, _opts = o,
    _names = false, _values = false, _order = false, agent = false, _keep_body = false,
    headersSent = false, _chunked = false, _got_bytes = false, _response_done = false,
    _request_sent = false, _released = false, _parser = false, _wrote = false, _info = false,
  }, Request)
  local protocol = o.protocol or 'http:'
  if protocol ~= 'http:' and protocol ~= (o._tls and 'https:' or 'http:') then
    error(err('ERR_INVALID_PROTOCOL', ('Protocol "%s" not supported. Expected "%s"'):format(protocol, o._tls and 'https:' or 'http:')), 3)
  end
  local method = o.method
  if method == nil then method = 'GET'
  elseif not GOOD_METHOD[method] then
    method = method:upper()
    if not method:match('^[%w!#$%%&\'*+%-.^_`|~]+$') then
      error(err('ERR_INVALID_HTTP_TOKEN', 'Method must be a valid HTTP token ["' .. method .. '"]'), 3)
    end
  end
  self.method = method
  local path = o.path or '/'
  if path ~= '/' and path:find('[%s%z]') then
    error(err('ERR_UNESCAPED_CHARACTERS', 'Request path contains unescaped characters'), 3)
  end
  self.path = path
  local host = o.hostname or (o.host and o.host:gsub(':%d+$', '')) or 'localhost'
  if host:byte(1) == 91 then host = host:gsub('^%[(.*)%]$', '%1') end  -- '[::1]'
  self.host = host
  self.port = tonumber(o.port) or (o._tls and 443 or 80)
  self.protocol = protocol
  self._opts = o
  local h = o.headers
  if o._trusted_headers then
    -- fetch's own path: lower-cased names, already validated by Headers
    -- (copied: setHeader on this request must not reach the Headers)
    local names, values, order = {}, {}, {}
    for i = 1, #h do
      local k = h[i]
      names[k], values[k], order[i] = k, h[k], k
    end
    self._names, self._values, self._order = names, values, order
  elseif h == nil and not o.auth then
    -- no header yet: shared empty lists until setHeader (own_headers)
    self._names, self._values, self._order = NO_NAMES, NO_VALUES, NO_ORDER
  else
    self._names, self._values = {}, {}   -- lower name -> original name, value
    self._order = {}
    if h then
      if h.entries and type(h.entries) == 'function' then
        for k, v in h:entries() do self:setHeader(k, v) end
      else
        for k, v in pairs(h) do self:setHeader(k, v) end
      end
    end
  end
  if o.auth and not self:hasHeader('authorization') then
    local mime = require('native.crypto').encode(o.auth, 'base64')
    self:setHeader('Authorization', 'Basic ' .. mime)
  end
  if cb then self:once('response', cb) end
  local agent = o.agent
  if agent == nil then agent = o._default_agent or (o._tls and require('https').globalAgent) or M.globalAgent end
  self.agent = agent or nil
  self._keep_body = IDEMPOTENT[self.method]
  if o.timeout then self:setTimeout(o.timeout) end
  if o.signal then Request._watch(self, o.signal) end
  next_tick(Request._connect, self)
  return self
end

-- (apart from new: a function that makes a closure is not compiled by LuaJIT)
function Request._watch(self, signal)
  if signal.aborted then
    process.nextTick(function() self:destroy(M._abort_error(signal)) end)
  else
    signal:addEventListener('abort', function() self:destroy(M._abort_error(signal)) end)
  end
end
setmetatable(Request, { __index = stream.Writable })

function M._abort_error(signal)
  local reason = signal and signal.reason
  if type(reason) == 'table' and reason.name then return reason end
  local e = err('ABORT_ERR', 'The operation was aborted')
  e.name = 'AbortError'
  return e
end

-- ---- headers ----

function Request:setHeader(name, value)
  if self.headersSent then
    error(err('ERR_HTTP_HEADERS_SENT', 'Cannot set headers after they are sent to the client'), 2)
  end
  check_header(name, value)
  if self._values == NO_VALUES then self._names, self._values, self._order = {}, {}, {} end
  local k = name:lower()
  if not self._names[k] then self._order[#self._order + 1] = k end
  self._names[k], self._values[k] = name, value
  return self
end

function Request:getHeader(name) return self._values[tostring(name):lower()] end
function Request:hasHeader(name) return self._values[tostring(name):lower()] ~= nil end
function Request:removeHeader(name)
  if self.headersSent then
    error(err('ERR_HTTP_HEADERS_SENT', 'Cannot remove headers after they are sent to the client'), 2)
  end
  local k = tostring(name):lower()
  if self._values == NO_VALUES then return end
  self._names[k], self._values[k] = nil, nil
end
function Request:getHeaders()
  local t = {}
  for k, v in pairs(self._values) do t[k] = v end
  return t
end
function Request:getHeaderNames()
  local t = {}
  for _, k in ipairs(self._order) do if self._values[k] ~= nil then t[#t + 1] = k end end
  return t
end

-- The request head, with framing decided from what is known when it is sent.
-- One scratch list for every head (head() never yields, so it is not shared).
local lines = {}

local function head(self, whole_body)
  lines[1], lines[2], lines[3], lines[4] = self.method, ' ', self.path, ' HTTP/1.1\r\n'
  local n = 4
  local v = self._values
  if v.host == nil and self._opts.setHost ~= false then
    local h = self.host:find(':', 1, true) and ('[' .. self.host .. ']') or self.host
    local default = self._opts._tls and 443 or 80
    n = n + 1
    lines[n] = self.port ~= default and ('Host: ' .. h .. ':' .. self.port .. '\r\n') or ('Host: ' .. h .. '\r\n')
  end
  local order, names = self._order, self._names
  for i = 1, #order do
    local k = order[i]
    local val = v[k]
    if val ~= nil then
      local name = names[k]
      if type(val) == 'table' then
        for _, one in ipairs(val) do n = n + 1; lines[n] = name .. ': ' .. tostring(one) .. '\r\n' end
      else
        n = n + 1
        lines[n] = name .. ': ' .. tostring(val) .. '\r\n'
      end
    end
  end
  if v.connection == nil then
    n = n + 1
    lines[n] = (self.agent and self.agent.keepAlive) and 'Connection: keep-alive\r\n' or 'Connection: close\r\n'
  end
  self._chunked = false
  if v['content-length'] == nil and v['transfer-encoding'] == nil then
    if whole_body ~= nil then
      if #whole_body > 0 or not NO_BODY[self.method] then
        n = n + 1
        lines[n] = 'Content-Length: ' .. #whole_body .. '\r\n'
      end
    else
      n = n + 1
      lines[n] = 'Transfer-Encoding: chunked\r\n'
      self._chunked = true
    end
  elseif v['transfer-encoding'] and tostring(v['transfer-encoding']):lower():find('chunked') then
    self._chunked = true
  end
  n = n + 1
  lines[n] = '\r\n'
  self.headersSent = true
  local out = concat(lines, '', 1, n)
  for i = 1, n do lines[i] = nil end
  return out
end

-- ---- writing ----

function Request:_write(chunk, done)
  if not self.socket then
    self._pending_write = { chunk, done }
    return
  end
  local out = chunk
  if not self.headersSent then
    out = head(self, nil) .. (self._chunked and ('%x\r\n'):format(#chunk) .. chunk .. '\r\n' or chunk)
  elseif self._chunked then
    out = ('%x\r\n'):format(#chunk) .. chunk .. '\r\n'
  end
  self:_keep(out)
  self.socket:write(out, done)
end

-- What was sent, kept for a retry while it is small (64 KiB at most).
function Request:_keep(out)
  if not self._keep_body then return end
  self._kept = (self._kept or 0) + #out
  if self._kept > 65536 then
    self._keep_body, self._body_parts = false, nil
    return
  end
  local parts = self._body_parts
  if not parts then parts = {}; self._body_parts = parts end
  parts[#parts + 1] = out
end

-- Write a request's last bytes (usually all of it: head and body) straight
-- to the kernel when the socket's own stream has nothing queued, is
-- connected and plain TCP; false when the caller must go through the
-- socket's stream.  Small writes only, so 'finish' still waits for the
-- socket to take a large body.
local SEND_MAX = 65536
local function send(sock, bytes)
  if #bytes > SEND_MAX then return false end
  local h = rawget(sock, '_h')
  if not h or sock.connecting or getmetatable(sock) ~= net.Socket then return false end
  local ws = rawget(sock, '_ws')
  if ws and (ws.writing or ws.head <= ws.tail or ws.ending or ws.destroyed) then return false end
  if not pcall(h.write, h, bytes) then return false end
  sock.bytesWritten = sock.bytesWritten + #bytes
  local t = rawget(sock, '_timer')
  if t then t:refresh() end
  return true
end
M._send = send

function Request:_final(done)
  if not self.socket then
    self._pending_final = done
    return
  end
  local out
  if not self.headersSent then
    out = head(self, self._last_chunk or '') .. (self._last_chunk or '')
  elseif self._chunked then
    out = '0\r\n\r\n'
  end
  self._request_sent = true
  if out then
    self:_keep(out)
    if send(self.socket, out) then done() else self.socket:write(out, done) end
  else
    done()
  end
  self:_maybe_release()
end

--- Node's end(): a body given whole and alone is sent with a Content-Length.
function Request:finish(chunk, cb)
  if type(chunk) == 'function' then chunk, cb = nil, chunk end
  if chunk ~= nil and not self.headersSent and stream.wstate(self).length == 0 and not self._wrote then
    self._last_chunk = type(chunk) == 'string' and chunk or require('luster.bytes').of(chunk)
    return stream.Writable.finish(self, nil, cb)
  end
  return stream.Writable.finish(self, chunk, cb)
end
Request['end'] = Request.finish

function Request:write(chunk, cb)
  self._wrote = true
  return stream.Writable.write(self, chunk, cb)
end

function Request:flushHeaders()
  if self.socket and not self.headersSent then self.socket:write(head(self, nil)) end
end

function Request:setTimeout(ms, cb)
  if cb then self:once('timeout', cb) end
  self._timeout = ms
  if self.socket then self.socket:setTimeout(ms) end
  return self
end
function Request:setNoDelay(on) if self.socket then self.socket:setNoDelay(on) end end
function Request:setSocketKeepAlive(on, ms) if self.socket then self.socket:setKeepAlive(on, ms) end end

function Request:abort()
  if self.aborted then return end
  self.aborted = true
  process.nextTick(function() self:emit('abort') end)
  self:destroy()
end

--- destroy([err]): without an error, a request whose connection exists and
--- has no response yet fails with 'socket hang up' (ECONNRESET), as Node's.
function Request:destroy(e)
  if e == nil and not self.destroyed and self.socket and not self.res then
    e = err('ECONNRESET', 'socket hang up')
  end
  return stream.Writable.destroy(self, e)
end

function Request:_destroy(e)
  local sock = self.socket
  if sock then
    self:_detach()
    sock:destroy()
  end
  if self.res and not self.res.complete then
    self.res.aborted = true
    self.res:emit('aborted')
    self.res:destroy(e or err('ECONNRESET', 'aborted'))
  end
end

-- ---- the socket ----

-- The options a connection is made from.  Requests of a plain origin
-- (host and port only) share one table per agent, with its pool key
-- cached on it: the agent asks getName once per origin, not per request.
local function target_of(self)
  local o = self._opts
  if o.socketPath == nil and o.family == nil and o.localAddress == nil and o.servername == nil
     and o.ca == nil and o.cert == nil and o.key == nil and o.rejectUnauthorized == nil
     and o.ALPNProtocols == nil then
    local agent = self.agent
    local cache = agent and agent._targets
    if cache then
      local by_port = cache[self.host]
      local t = by_port and by_port[self.port]
      if t then return t end
      t = { host = self.host, port = self.port, servername = self.host }
      if not by_port then by_port = {}; cache[self.host] = by_port end
      by_port[self.port] = t
      return t
    end
  end
  return { host = self.host, port = self.port, socketPath = o.socketPath, family = o.family,
           localAddress = o.localAddress, servername = o.servername or self.host,
           ca = o.ca, cert = o.cert, key = o.key, rejectUnauthorized = o.rejectUnauthorized,
           ALPNProtocols = o.ALPNProtocols }
end

function Request:_connect()
  if self.destroyed then return end
  local target = target_of(self)
  if self.agent then
    self.agent:addRequest(self, target)
  else
    local o = self._opts
    local sock = o.createConnection and o.createConnection(target) or Agent.createConnection({}, target)
    self:_assignSocket(sock)
  end
end

local function response_over(self, keepalive)
  local res = self.res
  res.complete = true
  res._done = true
  self._response_done = true
  res:push(nil)
  if keepalive ~= nil then self._head_keepalive = keepalive
  elseif self._head_keepalive == nil then self._head_keepalive = true end
end

-- Feed what the socket read into the parser and act on each event.
-- Returns false when the response's buffer is full: the socket stops
-- reading until the response is read (Response:_read).
local function on_data(self, data)
  local parser = self._parser
  local full = false
  while data do
    local events, rest, perr = parser:execute(data)
    data = nil
    -- 'head' and 'body' carry a payload in the next slot, 'done' none: the
    -- walk steps over payloads (a body that reads "done" is a body)
    local i, n = 1, #events
    while i <= n do
      local kind = events[i]
      if kind == 'head' then
        local h = events[i + 1]
        i = i + 2
        self._got_bytes = true
        local status = h.status
        if status >= 100 and status < 200 and status ~= 101 then
          if status == 100 then self:emit('continue') end  -- as Node, before 'information'
          self:emit('information', { statusCode = status, statusMessage = h.statusMessage,
            httpVersion = h.httpVersion, headers = h.headers, rawHeaders = h.rawHeaders })
          self._info = true
        elseif h.upgrade then
          return self:_upgrade(h, rest or '')
        else
          local res = new_response(self, h)
          self.res = res
          -- llhttp's answer: false for `Connection: close`, for HTTP/1.0
          -- without keep-alive, and for a body that ends with the connection
          if not h.keepAlive then self._head_keepalive = false end
          -- nobody to hear it: the body is dumped, so the socket is freed
          -- (Node's rule; a once listener has already removed itself, so
          -- what counts is whether emit found one)
          if not self:emit('response', res) then res:resume() end
        end
      elseif kind == 'body' then
        local res = self.res
        if res and not res:push(events[i + 1]) then full = true end
        i = i + 2
      else   -- 'done'
        i = i + 1
        if self._info then
          self._info = false
        elseif self.res then
          response_over(self)
        end
        parser:resume()
        if self._response_done then
          if rest and #rest > 0 then self._head_keepalive = false end
          return self:_maybe_release()
        end
        data = rest
      end
    end
    if perr then
      self._head_keepalive = false
      return self:destroy(perr)
    end
  end
  if full then return false end
end

-- The peer closed: a body read to EOF is complete, anything else failed.
local function on_end(self)
  if self._response_done then return end
  local events, _, perr = self._parser:finish()
  for i = 1, #events do
    if events[i] == 'done' and self.res then
      response_over(self, false)
      return self:_maybe_release()
    end
  end
  self:_socket_failed(perr)
end

-- What the socket reads goes to the request it serves now, as a plain call
-- (net.lua's sink: no 'data' event, no stream buffer in between); between
-- requests (a pooled socket) it is dropped, as a server may not speak
-- unasked.
-- The request it serves may be a ClientRequest or fetch's own exchange
-- (lua/luster/fetch_exchange.lua): both answer _on_data, _on_end,
-- _on_close, _socket_failed and _on_timeout.
local function sink(sock, data)
  local req = sock._http_req
  if req then return req:_on_data(data) end
end

Request._on_data = on_data
Request._on_end = on_end
function Request:_on_close() if not self._response_done then on_end(self) end end
function Request:_on_timeout() self:emit('timeout') end

-- A socket's hooks (net.lua: shared by every socket, no closure each) are
-- set once, when it serves its first request, and speak to whichever
-- request it serves (`sock._http_req`).
local HOOKS = {
  ['end'] = function(sock) local r = sock._http_req; if r then r:_on_end() end end,
  error = function(sock, e) local r = sock._http_req; if r then r:_socket_failed(e) end end,
  close = function(sock) local r = sock._http_req; if r then r:_on_close() end end,
  timeout = function(sock) local r = sock._http_req; if r then r:_on_timeout() end end,
}

-- Response parsers of sockets resting in a pool, for the next request on
-- any socket: an idle keep-alive connection holds none.
local spare_parsers = require('luster.spares').new(64)

local function parser_for(sock)
  local p = rawget(sock, '_http_parser')
  if p then return p end
  p = spare_parsers:take() or native_parser.new()
  sock._http_parser = p
  return p
end

local function rest_parser(sock)
  local p = rawget(sock, '_http_parser')
  if not p then return end
  sock._http_parser = nil
  spare_parsers:give(p)
end

local function hook(sock)
  if rawget(sock, '_sink') == sink then return end
  net._add_hooks(sock, HOOKS)
  sock._sink = sink
end

-- (fetch's exchange) the same socket plumbing as a ClientRequest's
M._hook, M._parser_for, M._rest_parser = hook, parser_for, rest_parser

-- The socket leaves HTTP (an upgrade): its hooks go.
local function unhook(sock)
  if not net._remove_hooks(sock, HOOKS) then return end
  sock._sink, sock._http_req = nil, nil
  sock._http_parser = nil
end

function Request:_assignSocket(sock)
  if self.destroyed then
    if self.agent then self.agent:release(sock, true) else sock:destroy() end
    return
  end
  self.socket = sock
  self.connection = sock
  hook(sock)
  sock._http_req = self
  local parser = parser_for(sock)
  self._parser = parser
  parser:begin(self.method, self._opts.maxHeaderSize)
  if self._timeout then sock:setTimeout(self._timeout) end
  -- reading again on a socket a full response stopped
  if sock._h and not sock.connecting and not rawget(sock, 'destroyed') then sock:_read() end
  self:emit('socket', sock)
  local pw, pf = self._pending_write, self._pending_final
  if pw then self._pending_write = nil; self:_write(pw[1], pw[2]) end
  if pf then self._pending_final = nil; self:_final(pf) end
end

-- Stop hearing the socket (before it goes back to the pool or away).
function Request:_detach()
  local sock = self.socket
  if sock and sock._http_req == self then sock._http_req = nil end
end

-- The connection failed or closed before the response was complete.
function Request:_socket_failed(e)
  if self._response_done or self.destroyed then return end
  local sock = self.socket
  local reused = sock and not sock._agent_fresh
  if reused and not self._got_bytes and self._keep_body and self._request_sent and not self._retried
     and self.agent then
    -- a stale keep-alive socket: send the whole request again on a new one
    self._retried = true
    self:_detach()
    self.socket = nil
    sock:destroy()
    local o = self._opts
    local fresh = self.agent:_fresh_socket({ host = self.host, port = self.port, socketPath = o.socketPath,
      family = o.family, localAddress = o.localAddress, servername = o.servername or self.host,
      ca = o.ca, cert = o.cert, key = o.key, rejectUnauthorized = o.rejectUnauthorized })
    self:_assignSocket(fresh)
    fresh:write(concat(self._body_parts or {}))
    return
  end
  if self.res and not self.res.complete then
    self.res.aborted = true
    self.res:emit('aborted')
    local ae = err('ECONNRESET', 'aborted')
    self.res:destroy(ae)
    return self:destroy()
  end
  if not e or e.code == nil then e = err('ECONNRESET', 'socket hang up') end
  self:destroy(e)
end

local function emit_close(self) self:emit('close') end

-- Both halves done: the socket goes back to the agent (or is closed).
function Request:_maybe_release()
  if not (self._response_done and self._request_sent) or self._released then return end
  self._released = true
  local sock = self.socket
  self:_detach()
  local reusable = self._head_keepalive ~= false and self.res
  if self.agent and sock then
    if reusable and not sock._http_req then rest_parser(sock); self._parser = false end
    self.agent:release(sock, reusable)
  elseif sock then
    sock:destroy()
  end
  self.socket = nil
  next_tick(emit_close, self)
end

function Request:_upgrade(h, rest)
  local res = new_response(self, h)
  local sock = self.socket
  self:_detach()
  unhook(sock)
  self._response_done = true
  self._released = true
  if self.agent and sock._agent_name then
    self.agent:_forget(sock)   -- the socket leaves the pool for good
  end
  local event = self.method == 'CONNECT' and 'connect' or 'upgrade'
  if self:listenerCount(event) == 0 then
    sock:destroy()
    return
  end
  sock:setTimeout(0)
  -- not flowing until the new owner listens, so no byte is lost meanwhile
  stream.rstate(sock).flowing = nil
  self:emit(event, res, sock, rest)
end

return M
