--- luster.fetch_exchange — the common fetch, without a ClientRequest: a
--- plain http: request with no body or a string body and no signal.
---
--- It uses the agent and the socket plumbing of the HTTP client
--- (lua/luster/http_client.lua: the same hooks, sink and pooled response
--- parsers), but writes the request head and body as one string with one
--- write, and reads the response straight from the parser's events: a
--- response whose body came with its head (the usual small answer) becomes
--- a Response holding the body as a string, so `res:text()` resolves with
--- no stream, no 'data' events and no extra tick.  A body still arriving
--- when the head has been read is streamed (a Readable with backpressure
--- down to the socket), and so is one to decode (Content-Encoding).
---
--- As the ClientRequest: a reused keep-alive socket found closed before any
--- byte of the response came is replaced, and an idempotent request sent
--- again on a new connection, once; a 1xx response is skipped.
local client = require('luster.http_client')
local stream = require('luster.stream')
local errors = require('luster.errors')
local Promise = require('luster.promise')

local type, rawget, concat = type, rawget, table.concat
local hook, parser_for, rest_parser = client._hook, client._parser_for, client._rest_parser
local settle_ok, settle_err = Promise._resolve, Promise._reject

local M = {}

local ENCODINGS = 'gzip, deflate, br'
-- what fetch sends unless the request says otherwise, in this order
local DEFAULTS = { 'accept', '*/*', 'accept-language', '*', 'user-agent', 'luster', 'accept-encoding', ENCODINGS }
M.DEFAULTS = DEFAULTS

local IDEMPOTENT = { GET = true, HEAD = true, OPTIONS = true, PUT = true, DELETE = true }
local NO_BODY = { GET = true, HEAD = true, DELETE = true, OPTIONS = true }

---@class FetchExchange
local Exchange = {}
Exchange.__index = Exchange

-- ---- the response body, when it streams ----

---@class FetchBody : Readable
local Body = stream.Readable.extend({})

-- The consumer wants more: read from the kernel again (the sink stopped
-- it when the buffer was full), while the socket still serves this body.
function Body:_read()
  local ex = self._ex
  local sock = ex and ex.sock
  if sock and not ex.complete and rawget(sock, '_h') and not rawget(sock, 'destroyed') then sock:_read() end
end

-- ---- the request ----

-- The request head (and body): what ClientRequest's head() sends for the
-- same request, in its order.
local function request_bytes(method, path, host_header, names, values, defaults, keep_alive, body)
  local lines, n = { method, ' ', path, ' HTTP/1.1\r\n' }, 4
  if values.host == nil then
    n = n + 1
    lines[n] = 'Host: ' .. host_header .. '\r\n'
  end
  for i = 1, #names do
    local k = names[i]
    local v = values[k]
    if type(v) == 'table' then
      for j = 1, #v do n = n + 1; lines[n] = k .. ': ' .. v[j] .. '\r\n' end
    else
      n = n + 1
      lines[n] = k .. ': ' .. v .. '\r\n'
    end
  end
  for i = 1, #defaults, 2 do
    local k = defaults[i]
    if values[k] == nil then n = n + 1; lines[n] = k .. ': ' .. defaults[i + 1] .. '\r\n' end
  end
  if values.connection == nil then
    n = n + 1
    lines[n] = keep_alive and 'Connection: keep-alive\r\n' or 'Connection: close\r\n'
  end
  local chunked = false
  if values['content-length'] == nil and values['transfer-encoding'] == nil then
    if body ~= nil and (#body > 0 or not NO_BODY[method]) then
      n = n + 1
      lines[n] = 'Content-Length: ' .. #body .. '\r\n'
    end
  elseif values['transfer-encoding'] and values['transfer-encoding']:lower():find('chunked') then
    chunked = true
  end
  n = n + 1
  lines[n] = '\r\n'
  if body and #body > 0 then
    n = n + 1
    lines[n] = chunked and ('%x\r\n'):format(#body) .. body .. '\r\n0\r\n\r\n' or body
  elseif chunked then
    n = n + 1
    lines[n] = '0\r\n\r\n'
  end
  return concat(lines, '', 1, n)
end

-- The bytes of a request nobody set headers for, by agent kind and URL:
-- a service fetches the same few URLs over and over.  Bounded.
local plain_cache, plain_cached, CACHE_MAX = { [true] = {}, [false] = {} }, 0, 256

local function plain_bytes(u, defaults, keep_alive)
  local by_url = plain_cache[keep_alive]
  local b = by_url[u.href]
  if b then return b end
  b = request_bytes('GET', (u.pathname ~= '' and u.pathname or '/') .. u.search, u.host, {}, {}, defaults, keep_alive)
  if plain_cached >= CACHE_MAX then plain_cache, plain_cached = { [true] = {}, [false] = {} }, 0 end
  plain_cache[keep_alive][u.href], plain_cached = b, plain_cached + 1
  return b
end

-- The connection options of an origin, shared with the ClientRequest's
-- (the agent caches its pool key on them).
local function target(agent, host, port)
  local cache = agent._targets
  local by_port = cache[host]
  local t = by_port and by_port[port]
  if t then return t end
  t = { host = host, port = port, servername = host }
  if not by_port then by_port = {}; cache[host] = by_port end
  by_port[port] = t
  return t
end

--- Whether `agent` can serve an exchange (an http.Agent of ours).
function M.usable_agent(agent)
  return type(agent) == 'table' and type(rawget(agent, '_targets')) == 'table' and agent.addRequest ~= nil
end

--- (set by fetch.lua) called once per exchange: on_done(ex, state) with
--- ex.error, or ex.head (the parser's: status, statusMessage, raw,
--- contentEncoding; headers and rawHeaders made from raw when read) and
--- ex.value (the body: a string, a Readable, or nil).
M.on_done = nil

--- Start the exchange of `state` (fetch.lua's: url, method, headers,
--- body, decode) over `agent`.
function M.start(state, agent)
  local u = state.url
  local host = u.hostname
  if host:byte(1) == 91 then host = host:sub(2, -2) end   -- '[::1]'
  local port = tonumber(u.port) or 80
  local bytes
  local given, method, body = state.headers, state.method, state.body
  if given._plain and method == 'GET' and body == nil then
    bytes = plain_bytes(u, DEFAULTS, agent.keepAlive)
  else
    bytes = request_bytes(method, (u.pathname ~= '' and u.pathname or '/') .. u.search, u.host,
      given._names, given._values, DEFAULTS, agent.keepAlive, body)
  end
  -- the fields of the common path, made at once (rarer ones come as needed)
  local self = setmetatable({
    state = state, bytes = bytes, agent = agent, target = target(agent, host, port),
    sock = false, parser = false, got_bytes = false, head = false, parts = false,
    complete = false, finished = false, value = false, eof = false, stream = false, info = false,
  }, Exchange)
  agent:addRequest(self, self.target)
  return self
end

local send = client._send

function Exchange:_assignSocket(sock)
  self.sock, self.eof = sock, false
  hook(sock)
  sock._http_req = self
  local parser = parser_for(sock)
  self.parser = parser
  parser:begin(self.state.method)
  if rawget(sock, '_h') and not sock.connecting and not rawget(sock, 'destroyed') then sock:_read() end
  if not send(sock, self.bytes) then sock:write(self.bytes) end
end

-- ---- the end of an exchange ----

local function over(self)
  if self.finished then return false end
  self.finished = true
  return true
end

-- The socket is done with this exchange: back to its agent or closed.
local function release(self, reusable)
  local sock = self.sock
  if not sock then return end
  self.sock = false
  if sock._http_req == self then sock._http_req = nil end
  if reusable then rest_parser(sock) end
  self.agent:release(sock, reusable)
end

local deliver

-- `parse_error`: the server sent what is not HTTP; the body, when out,
-- fails with that error (else with an ECONNRESET 'aborted').
local function fail(self, e, parse_error)
  local sock = self.sock
  self.complete = true
  if sock then
    self.sock = false
    if sock._http_req == self then sock._http_req = nil end
    sock:destroy()
  end
  local body = self.stream
  if body then
    -- the response was handed out: its body fails
    return body:destroy(parse_error and e or errors.new('ECONNRESET', 'aborted'))
  end
  if not over(self) then return end
  if not e or e.code == nil then e = errors.new('ECONNRESET', 'socket hang up') end
  self.error = e
  M.on_done(self, self.state)
end

-- The response head arrived: hand it out (with the body when complete).
function deliver(self)
  if not over(self) then return end
  local h = self.head
  local parts = self.parts
  local status = h.status
  local body
  if self.state.method == 'HEAD' or status == 204 or status == 304 then
    body = nil
  elseif self.complete and not (self.state.decode and h.contentEncoding) then
    body = parts and (parts[2] and concat(parts) or parts[1]) or ''
  else
    body = setmetatable({ _ex = self }, Body)
    self.stream = body
    stream.rstate(body)   -- made now: a destroy before any push must be seen by readers
    if parts then for i = 1, #parts do body:push(parts[i]) end end
    if self.complete then body:push(nil) end
  end
  self.parts = false
  self.value = body
  M.on_done(self, self.state)
end

-- The response is complete: the socket goes back, then the response out.
local function complete(self, keepalive)
  self.complete = true
  local h = self.head
  -- (keepAlive is llhttp's: false for `Connection: close` and for a body
  -- that ends with the connection)
  release(self, keepalive and not self.eof and h.keepAlive)
  local body = self.stream
  if body then body:push(nil) else deliver(self) end
end

-- Walk the parser's events.  Returns false to stop the socket reading (a
-- streamed body's buffer is full).
local function on_events(self, events, rest)
  local i, n = 1, #events
  local full = false
  while i <= n do
    local kind = events[i]
    if kind == 'head' then
      local h = events[i + 1]
      i = i + 2
      self.got_bytes = true
      if h.upgrade or h.status == 101 then
        return fail(self, errors.new('UND_ERR_NOT_SUPPORTED', 'the server switched protocols'))
      elseif h.status < 200 then
        self.info = true
      else
        self.head = h
      end
    elseif kind == 'body' then
      local s = events[i + 1]
      i = i + 2
      local body = self.stream
      if body then
        if not body:push(s) then full = true end
      else
        local parts = self.parts
        if parts then parts[#parts + 1] = s else self.parts = { s } end
      end
    else   -- 'done'
      i = i + 1
      if self.info then
        self.info = false
        self.parser:resume()
      elseif self.head then
        -- bytes after the response: the server is not speaking HTTP/1.1
        -- keep-alive as we do, so the connection is not reused
        complete(self, rest == nil or #rest == 0)
        return
      end
    end
  end
  return not full
end

function Exchange:_on_data(data)
  local parser = self.parser
  while data do
    local events, rest, perr = parser:execute(data)
    if on_events(self, events, rest) == nil then return end   -- over, or failed
    if perr then
      -- a head that parsed is answered (as by a ClientRequest); its body fails
      if self.head and not self.finished then deliver(self) end
      return fail(self, perr, true)
    end
    data = rest
  end
  -- what this read brought is handled: a head whose body is still coming
  -- goes out now, with a streamed body
  if self.head and not self.finished then deliver(self) end
  local body = self.stream
  if body and stream.rstate(body).length >= stream.rstate(body).hwm then return false end
end

-- The peer closed: a body read to its end is complete, else the exchange
-- failed.
function Exchange:_on_end()
  if self.complete then return end
  local events, _, perr = self.parser:finish()
  self.eof = true   -- a body read to the close: the socket is not reused
  if self.head and on_events(self, events, nil) == nil then return end
  if self.complete then return end
  self:_socket_failed(perr)
end

function Exchange:_on_close() if not self.complete then self:_on_end() end end
function Exchange:_on_timeout() end

function Exchange:_socket_failed(e)
  if self.complete then return end
  local sock = self.sock
  if sock and not sock._agent_fresh and not self.got_bytes and not self.retried and IDEMPOTENT[self.state.method] then
    -- a stale keep-alive socket: the whole request again on a new one
    self.retried = true
    self.sock = false
    if sock._http_req == self then sock._http_req = nil end
    sock:destroy()
    return self:_assignSocket(self.agent:_fresh_socket(self.target))
  end
  fail(self, e)
end

M.Exchange = Exchange
M._request_bytes = request_bytes
return M
