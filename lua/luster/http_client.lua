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

local type, tostring, tonumber, concat = type, tostring, tonumber, table.concat

local M = {}

M.Agent = Agent
M.globalAgent = Agent.new { keepAlive = true }

local IDEMPOTENT = { GET = true, HEAD = true, OPTIONS = true, PUT = true, DELETE = true, TRACE = true }
local NO_BODY = { GET = true, HEAD = true, DELETE = true, OPTIONS = true, TRACE = true, CONNECT = true }

local function err(code, msg) return errors.new(code, msg) end

-- ============================================================ response

---@class http.IncomingMessage : EventEmitter
local Response = stream.Readable.extend({})
Response.__index = stream.index(Response)
M.IncomingMessage = Response

local function new_response(req, head)
  local res = setmetatable({}, Response)
  res.statusCode = head.status
  res.statusMessage = head.statusMessage
  res.httpVersion = head.httpVersion
  res.rawHeaders = head.rawHeaders
  local headers = {}
  local raw = head.rawHeaders
  for i = 1, #raw, 2 do
    local k, v = raw[i]:lower(), raw[i + 1]
    local have = headers[k]
    if have == nil then headers[k] = k == 'set-cookie' and { v } or v
    elseif k == 'set-cookie' then have[#have + 1] = v
    else headers[k] = have .. ', ' .. v end
  end
  res.headers = headers
  res.complete = false
  res.aborted = false
  res.req = req
  res.socket = req.socket
  return res
end

function Response:_read()
  local sock = self.socket
  if sock and stream.rstate(sock).flowing == false and not self._done then sock:resume() end
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

--- http.request(url | opts[, opts][, cb])
function M.request(a, b, c)
  local o, cb = {}, nil
  if type(a) == 'string' then
    from_url(a, o)
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

function Request.new(o, cb)
  local self = setmetatable({}, Request)
  local protocol = o.protocol or 'http:'
  if protocol ~= 'http:' and protocol ~= (o._tls and 'https:' or 'http:') then
    error(err('ERR_INVALID_PROTOCOL', ('Protocol "%s" not supported. Expected "%s"'):format(protocol, o._tls and 'https:' or 'http:')), 3)
  end
  self.method = (o.method or 'GET'):upper()
  if not self.method:match('^[%w!#$%%&\'*+%-.^_`|~]+$') then
    error(err('ERR_INVALID_HTTP_TOKEN', 'Method must be a valid HTTP token ["' .. self.method .. '"]'), 3)
  end
  self.path = o.path or '/'
  if self.path:find('[%s%z]') then
    error(err('ERR_UNESCAPED_CHARACTERS', 'Request path contains unescaped characters'), 3)
  end
  self.host = o.hostname or (o.host and o.host:gsub(':%d+$', '')) or 'localhost'
  self.host = self.host:gsub('^%[(.*)%]$', '%1')
  self.port = tonumber(o.port) or (o._tls and 443 or 80)
  self.protocol = protocol
  self._opts = o
  self._names, self._values = {}, {}   -- lower name -> original name, value
  self._order = {}
  if o.headers then
    local h = o.headers
    if h.entries and type(h.entries) == 'function' then
      for k, v in h:entries() do self:setHeader(k, v) end
    else
      for k, v in pairs(h) do self:setHeader(k, v) end
    end
  end
  if o.auth and not self:hasHeader('authorization') then
    local mime = require('native.crypto').encode(o.auth, 'base64')
    self:setHeader('Authorization', 'Basic ' .. mime)
  end
  if cb then self:once('response', cb) end
  local agent = o.agent
  if agent == nil then agent = o._default_agent or M.globalAgent end
  self.agent = agent or nil
  self._body_parts = {}
  self._keep_body = IDEMPOTENT[self.method]
  if o.timeout then self:setTimeout(o.timeout) end
  if o.signal then
    local signal = o.signal
    if signal.aborted then
      process.nextTick(function() self:destroy(M._abort_error(signal)) end)
    else
      signal:addEventListener('abort', function() self:destroy(M._abort_error(signal)) end)
    end
  end
  process.nextTick(function() self:_connect() end)
  return self
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
local function head(self, whole_body)
  local lines = { self.method, ' ', self.path, ' HTTP/1.1\r\n' }
  local v = self._values
  if v.host == nil and self._opts.setHost ~= false then
    local h = self.host:find(':') and ('[' .. self.host .. ']') or self.host
    local default = self._opts._tls and 443 or 80
    lines[#lines + 1] = 'Host: ' .. h .. (self.port ~= default and (':' .. self.port) or '') .. '\r\n'
  end
  for _, k in ipairs(self._order) do
    local val = v[k]
    if val ~= nil then
      local name = self._names[k]
      if type(val) == 'table' then
        for _, one in ipairs(val) do lines[#lines + 1] = name .. ': ' .. tostring(one) .. '\r\n' end
      else
        lines[#lines + 1] = name .. ': ' .. tostring(val) .. '\r\n'
      end
    end
  end
  if v.connection == nil then
    lines[#lines + 1] = (self.agent and self.agent.keepAlive) and 'Connection: keep-alive\r\n' or 'Connection: close\r\n'
  end
  self._chunked = false
  if v['content-length'] == nil and v['transfer-encoding'] == nil then
    if whole_body ~= nil then
      if #whole_body > 0 or not NO_BODY[self.method] then
        lines[#lines + 1] = 'Content-Length: ' .. #whole_body .. '\r\n'
      end
    else
      lines[#lines + 1] = 'Transfer-Encoding: chunked\r\n'
      self._chunked = true
    end
  elseif v['transfer-encoding'] and tostring(v['transfer-encoding']):lower():find('chunked') then
    self._chunked = true
  end
  lines[#lines + 1] = '\r\n'
  self.headersSent = true
  return concat(lines)
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
  self.socket:write(out, function(e) done(e) end)
end

-- What was sent, kept for a retry while it is small (64 KiB at most).
function Request:_keep(out)
  if not self._keep_body then return end
  self._kept = (self._kept or 0) + #out
  if self._kept > 65536 then
    self._keep_body, self._body_parts = false, nil
    return
  end
  self._body_parts[#self._body_parts + 1] = out
end

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
    self.socket:write(out, function(e) done(e) end)
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

function Request:_connect()
  if self.destroyed then return end
  local o = self._opts
  local target = { host = self.host, port = self.port, socketPath = o.socketPath, family = o.family,
                   localAddress = o.localAddress, servername = o.servername or self.host,
                   ca = o.ca, cert = o.cert, key = o.key, rejectUnauthorized = o.rejectUnauthorized,
                   ALPNProtocols = o.ALPNProtocols }
  if self.agent then
    self.agent:addRequest(self, target)
  else
    local sock = o.createConnection and o.createConnection(target) or Agent.createConnection({}, target)
    self:_assignSocket(sock)
  end
end

-- Feed what the socket read into the parser and act on each event.
local function on_data(self, data)
  local parser = self._parser
  while data do
    local events, rest, perr = parser:execute(data)
    data = nil
    for i = 1, #events do
      local kind = events[i]
      if kind == 'head' then
        local h = events[i + 1]
        self._got_bytes = true
        if h.status >= 100 and h.status < 200 and h.status ~= 101 then
          local info = new_response(self, h)
          if h.status == 100 then self:emit('continue') end  -- as Node, before 'information'
          self:emit('information', { statusCode = info.statusCode, statusMessage = info.statusMessage,
            httpVersion = info.httpVersion, headers = info.headers, rawHeaders = info.rawHeaders })
          self._info = true
        elseif h.upgrade then
          return self:_upgrade(h, rest or '')
        else
          local res = new_response(self, h)
          self.res = res
          -- nobody listens: drain the body so the socket can be reused (as
          -- Node's _dump).  emit's result, not listenerCount: a once()
          -- listener is already gone when emit returns.
          if not self:emit('response', res) then res:resume() end
        end
      elseif kind == 'body' then
        local res = self.res
        if res and not res:push(events[i + 1]) then self.socket:pause() end
      elseif kind == 'done' then
        if self._info then
          self._info = false
        elseif self.res then
          self.res.complete = true
          self.res._done = true
          self._response_done = true
          self.res:push(nil)
          if self._head_keepalive == nil then self._head_keepalive = true end
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
end

function Request:_assignSocket(sock)
  if self.destroyed then
    if self.agent then self.agent:release(sock, true) else sock:destroy() end
    return
  end
  self.socket = sock
  self.connection = sock
  self._parser = self._parser or native_parser.new(self._opts.maxHeaderSize)
  self._parser:reset()
  self._parser:expect(self.method)
  local function ondata(d) on_data(self, d) end
  local function onend()
    if self._response_done then return end
    local events, _, perr = self._parser:finish()
    for i = 1, #events do
      if events[i] == 'done' and self.res then
        self.res.complete = true
        self.res._done = true
        self._response_done = true
        self.res:push(nil)
        self._head_keepalive = false
        return self:_maybe_release()
      end
    end
    self:_socket_failed(perr)
  end
  local function onerror(e) self:_socket_failed(e) end
  local function onclose() if not self._response_done then onend() end end
  local function ontimeout() self:emit('timeout') end
  self._listeners = { data = ondata, ['end'] = onend, error = onerror, close = onclose, timeout = ontimeout }
  for k, f in pairs(self._listeners) do sock:on(k, f) end
  if self._timeout then sock:setTimeout(self._timeout) end
  if stream.rstate(sock).flowing == false then sock:resume() end
  self:emit('socket', sock)
  local pw, pf = self._pending_write, self._pending_final
  self._pending_write, self._pending_final = nil, nil
  if pw then self:_write(pw[1], pw[2]) end
  if pf then self:_final(pf) end
end

-- Stop hearing the socket (before it goes back to the pool or away).
function Request:_detach()
  local sock = self.socket
  if not sock or not self._listeners then return end
  for k, f in pairs(self._listeners) do sock:removeListener(k, f) end
  self._listeners = nil
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
    fresh:write(concat(self._body_parts))
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

-- Both halves done: the socket goes back to the agent (or is closed).
function Request:_maybe_release()
  if not (self._response_done and self._request_sent) or self._released then return end
  self._released = true
  local sock = self.socket
  self:_detach()
  local reusable = self._head_keepalive ~= false and self.res and self.res.headers.connection ~= 'close'
  if self.agent and sock then
    self.agent:release(sock, reusable)
  elseif sock then
    sock:destroy()
  end
  self.socket = nil
  process.nextTick(function() self:emit('close') end)
end

function Request:_upgrade(h, rest)
  local res = new_response(self, h)
  local sock = self.socket
  self:_detach()
  self._response_done = true
  self._released = true
  if self.agent and sock._agent_name then
    -- the socket leaves the pool for good
    local name = sock._agent_name
    local l = self.agent.sockets[name]
    if l then for i = #l, 1, -1 do if l[i] == sock then table.remove(l, i) end end end
    self.agent.totalSocketCount = self.agent.totalSocketCount - 1
    sock._agent_name = nil
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
