--- The request side of the HTTP server: IncomingMessage (`req`) and the
--- connection's socket object.
---
--- A request is one small table made per request by lua/http.lua; what a
--- handler rarely reads (headers, rawHeaders, path, query, httpVersion) is
--- computed on first access and then stored, so a handler that never looks
--- at the headers never pays for a headers table.
---
--- The body arrives with the request when it fit in the same read (most
--- requests), else in pieces through `_push`.  `req` is a Readable
--- (lua/luster/stream.lua): 'data' listeners (flowing mode), pause/resume,
--- `await(req:read())`, `await(req:body())`, pipe.  An unread body is
--- buffered up to the high-water mark (64 KiB), then the connection stops
--- reading from the kernel until the handler reads.
local Promise = require('luster.promise')
local stream = require('luster.stream')
local native = require('native.http')

local Readable = stream.Readable
local read_body = native.read_body

local parse_headers = native.parse_headers
local rawget, rawset, concat, floor = rawget, rawset, table.concat, math.floor
local tonumber, char, type = tonumber, string.char, type

local M = {}

-- ---- the socket: one per connection, made by C on the first request ----

---@class HttpSocket
---@field remoteAddress string|nil
---@field remotePort integer|nil
---@field remoteFamily string|nil
local Socket = {}
local socket_fields = {
  remoteAddress = { 'address', false }, remotePort = { 'port', false }, remoteFamily = { 'family', false },
  localAddress = { 'address', true }, localPort = { 'port', true },
}

--- Close the connection now (no more of the response is sent).
function Socket:destroy() native.destroy(rawget(self, '_h')) end
Socket['end'] = Socket.destroy
function Socket:setTimeout() return self end
function Socket:setNoDelay() return self end
function Socket:setKeepAlive() return self end

M.socket_mt = {
  __index = function(t, k)
    local m = Socket[k]
    if m then return m end
    local f = socket_fields[k]
    if not f then return nil end
    local a = native.peer(rawget(t, '_h'), f[2])
    if not a then return nil end
    local prefix = f[2] and 'local' or 'remote'
    rawset(t, prefix .. 'Address', a.address)
    rawset(t, prefix .. 'Port', a.port)
    if not f[2] then rawset(t, 'remoteFamily', a.family) end
    return a[f[1]]
  end,
}

-- ---- query strings ----

local function unescape(s)
  s = s:gsub('+', ' ')
  return (s:gsub('%%(%x%x)', function(h) return char(tonumber(h, 16)) end))
end
M.unescape = unescape

--- Parse `a=1&b=2&b=3` into {a='1', b={'2','3'}} (repeats become arrays),
--- with the URL Standard's application/x-www-form-urlencoded rules (the
--- url module's parser: '+' is a space, bad UTF-8 becomes U+FFFD).
M.parse_query = require('luster.url_search').parse_query

-- ---- IncomingMessage ----

---@class IncomingMessage: EventEmitter
---@field method string
---@field url string
---@field path string the url without its query string
---@field query table<string, string|string[]>
---@field headers table<string, string|string[]> lower-cased names
---@field rawHeaders string[]
---@field httpVersion string
---@field socket HttpSocket
---@field complete boolean the whole body has arrived
local Req = Readable.extend({})
M.IncomingMessage = Req
Req.aborted = false

-- ---- the request table ----
-- One is made per request (lua/http.lua, M.new): its fields live in its
-- array part, 14 slots allocated with the table itself (LuaJIT colocates
-- up to 16), behind __index/__newindex, so that a request is one 184-byte
-- object; the hash part only appears for keys a handler or a listener
-- adds.  The fields computed on first read (headers, path, ...) have a
-- slot each, false until then.
local METHOD, URL, SOCKET, COMPLETE, RAW, VER, BODY = 1, 2, 3, 4, 5, 6, 7
local direct = { method = METHOD, url = URL, socket = SOCKET, complete = COMPLETE,
  _raw = RAW, _ver = VER, _body = BODY }
local lazy_slot = { headers = 8, rawHeaders = 9, path = 10, query = 11, httpVersion = 12,
  httpVersionMajor = 13, httpVersionMinor = 14 }

local lazy = {}
function lazy.headers(r) return parse_headers(r[RAW]) end
function lazy.rawHeaders(r) return parse_headers(r[RAW], true) end
function lazy.httpVersionMajor(r) return floor(r[VER] / 10) end
function lazy.httpVersionMinor(r) return r[VER] % 10 end
function lazy.httpVersion(r) return floor(r[VER] / 10) .. '.' .. r[VER] % 10 end
function lazy.connection(r) return r[SOCKET] end
function lazy.path(r)
  local u = r[URL]
  local q = u:find('?', 1, true)
  return q and u:sub(1, q - 1) or u
end
function lazy.query(r)
  local u = r[URL]
  local q = u:find('?', 1, true)
  return q and M.parse_query(u:sub(q + 1)) or {}
end

local getters = stream.getters
local req_mt = {
  __index = function(t, k)
    local d = direct[k]
    if d then return t[d] end
    local m = Req[k]
    if m ~= nil then return m end
    local f = lazy[k]
    if f == nil then
      local g = getters[k] -- readableLength, readableFlowing, ...
      return g and g(t)
    end
    local slot = lazy_slot[k]
    local v = slot and t[slot]
    if v then return v end
    v = f(t)
    if slot then t[slot] = v else rawset(t, k, v) end
    return v
  end,
  __newindex = function(t, k, v)
    local slot = direct[k] or lazy_slot[k]
    if slot then t[slot] = v else rawset(t, k, v) end
  end,
}
M.req_mt = req_mt

--- A request; `router`: with the fields a router gives every request
--- (lua/router.lua) in its hash part from the start.
function M.new(method, url, raw, ver, sock, complete, body, router)
  local req
  if router then
    req = setmetatable({ false, false, false, false, false, 0, false, false, false, false, false, false,
      false, false, baseUrl = false, originalUrl = false, app = false, params = false }, req_mt)
  else
    req = setmetatable({ false, false, false, false, false, 0, false, false, false, false, false, false,
      false, false }, req_mt)
  end
  req[METHOD], req[URL], req[SOCKET], req[COMPLETE], req[RAW], req[VER], req[BODY] =
    method, url, sock, complete, raw, ver, body
  return req
end

-- ---- the body: a Readable (lua/luster/stream.lua) ----
-- The state is made on first use only: a request whose handler never
-- touches the body costs no stream state.  The part of the body that came
-- with the head (`_body`) is its first chunk.  The source is C: push()
-- saying false stops reading from the kernel (read_body(h, false)), and
-- _read() starts it again.

function Req:_readable_state()
  local st = Readable._readable_state(self)
  local b = self[BODY]
  if b then
    self[BODY] = false
    Readable.push(self, b)
  end
  if self.complete then Readable.push(self, nil) end
  return st
end

function Req:_read()
  if not self.complete and not self.aborted then read_body(self.socket._h, true) end
end

-- A 'close' listener added right after res:finish() still hears it (the
-- response emits the request's 'close' with its own, see http_outgoing);
-- 'data' listeners start the flow as for every Readable.
function Req:_listeners_changed(name)
  Readable._listeners_changed(self, name)
  if name == 'close' then
    local sock = self.socket
    local res = sock and rawget(sock, '_res')
    if res and res.req == self then res:_listeners_changed('close') end
  end
end

--- A piece of the body from C (chunk may be nil) and whether it was the last.
function Req:_push(chunk, ended)
  if not rawget(self, '_rs') then
    self:_readable_state()
    -- a piece arrived before anyone read: the first consumer calls _read
  end
  if chunk and not self:push(chunk) and not ended then
    read_body(self.socket._h, false)
  end
  if ended then
    self.complete = true
    self:push(nil)
  end
end

-- The flow a 'data' listener starts runs on a later tick: what the
-- listeners raise there is the handler's error (lua/http.lua sets M.guard).
function Req:_tick_guard(fn)
  local guard = M.guard
  if guard then guard(self, fn) else fn(self) end
end

-- req:destroy([err]) closes the connection, as in Node.
function Req:_destroy()
  native.destroy(self.socket._h)
end

--- The connection ended before the response did (client gone, timeout,
--- body too large): 'aborted' when the request had not all arrived, then
--- 'close' in any case.
function Req:_abort(err)
  if rawget(self, '_closed') then return end
  self._closed = true
  local cut = not self.complete and not rawget(self, 'destroyed')
  if cut then
    self.aborted = true
    self._error = err
    local st = rawget(self, '_rs')
    if st then
      st.errored = err
      st.destroyed = true
      while st.waiters do
        local w = st.waiters
        local first = w[w.head]
        w[w.head] = nil
        w.head = w.head + 1
        if w.head > w.tail then st.waiters = nil end
        first[2](err)
      end
    end
  end
  if rawget(self, '_events') then
    if cut then self:emit('aborted') end
    self:emit('close')
  end
end

--- A promise of the whole body as a string (what 'data' listeners or
--- read() took is not included).  Asked again, the same promise.
---@return Promise
function Req:body()
  local p = rawget(self, '_body_p')
  if p then return p end
  if not rawget(self, '_rs') then
    -- the common case: the whole body came with the head
    if self.complete then
      p = Promise.resolve(self[BODY] or '')
      self[BODY] = false
      self._rs = false -- consumed: a later stream state starts ended and empty
      self._body_p = p
      return p
    end
    if self.aborted then return Promise.reject(self._error) end
  end
  p = Readable.body(self)
  self._body_p = p
  return p
end

function Req:setEncoding() return self end
function Req:setTimeout() return self end

return M
