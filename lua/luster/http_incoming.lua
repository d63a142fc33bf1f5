--- The request side of the HTTP server: IncomingMessage (`req`) and the
--- connection's socket object.
---
--- A request is one small table made per request by lua/http.lua; what a
--- handler rarely reads (headers, rawHeaders, path, query, httpVersion) is
--- computed on first access and then stored, so a handler that never looks
--- at the headers never pays for a headers table.
---
--- The body arrives with the request when it fit in the same read (most
--- requests), else in pieces through `_push`.  It is kept until read, as
--- a paused Node stream keeps it: `await(req:body())` gets it whole;
--- listening for 'data' switches the request to flowing mode, after which
--- pieces go to the listeners and are no longer kept.
local EventEmitter = require('events')
local Promise = require('luster.promise')
local sched = require('luster.scheduler')
local native = require('native.http')

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

--- Parse `a=1&b=2&b=3` into {a='1', b={'2','3'}} (repeats become arrays).
---@param qs string
---@return table<string, string|string[]>
function M.parse_query(qs)
  local q = {}
  for pair in qs:gmatch('[^&]+') do
    local k, v = pair:match('^([^=]*)=?(.*)$')
    k, v = unescape(k), unescape(v)
    local old = q[k]
    if old == nil then q[k] = v
    elseif type(old) == 'table' then old[#old + 1] = v
    else q[k] = { old, v } end
  end
  return q
end

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
local Req = EventEmitter.extend({})
M.IncomingMessage = Req
Req.aborted = false

local lazy = {}
function lazy.headers(r) return parse_headers(r._raw) end
function lazy.rawHeaders(r) return parse_headers(r._raw, true) end
function lazy.httpVersionMajor(r) return floor(r._ver / 10) end
function lazy.httpVersionMinor(r) return r._ver % 10 end
function lazy.httpVersion(r) return floor(r._ver / 10) .. '.' .. r._ver % 10 end
function lazy.connection(r) return r.socket end
function lazy.path(r)
  local u = r.url
  local q = u:find('?', 1, true)
  return q and u:sub(1, q - 1) or u
end
function lazy.query(r)
  local u = r.url
  local q = u:find('?', 1, true)
  return q and M.parse_query(u:sub(q + 1)) or {}
end

M.req_mt = {
  __index = function(t, k)
    local m = Req[k]
    if m ~= nil then return m end
    local f = lazy[k]
    if f == nil then return nil end
    local v = f(t)
    rawset(t, k, v)
    return v
  end,
}

-- Everything received and not yet read, as one string (kept as such).
local function take(self)
  local buf = rawget(self, '_buf')
  if buf then
    local b = rawget(self, '_body')
    if b then table.insert(buf, 1, b) end
    self._body = concat(buf)
    self._buf = nil
  end
  return rawget(self, '_body') or ''
end

local function start_flowing(self)
  if self._flowing then return end
  self._flowing = true
  local s = take(self)
  self._body = nil
  if s ~= '' then self:emit('data', s) end
  if self.complete and not self._ended then
    self._ended = true
    self:emit('end')
  end
end

-- Adding a 'data' or 'end' listener starts the flow (on the next tick, so
-- that both listeners can be added first, as in Node).
-- A 'close' listener added right after res:finish() still hears it (the
-- response emits the request's 'close' with its own, see http_outgoing).
function Req:_listeners_changed(name)
  if (name == 'data' or name == 'end') and not self._flow_scheduled then
    self._flow_scheduled = true
    sched.next_tick(start_flowing, self)
  elseif name == 'close' then
    local sock = self.socket
    local res = sock and rawget(sock, '_res')
    if res and res.req == self then res:_listeners_changed('close') end
  end
end

--- Start delivering 'data' / 'end' (also happens on adding a listener).
function Req:resume()
  start_flowing(self)
  return self
end

function Req:setEncoding() return self end
function Req:setTimeout() return self end

local function settle_waiters(self, ok, value)
  local ws = self._waiters
  if not ws then return end
  self._waiters = nil
  for i = 1, #ws do
    if ok then ws[i][1](value) else ws[i][2](value) end
  end
end

--- A piece of the body (chunk may be nil) and whether it was the last.
function Req:_push(chunk, ended)
  if chunk then
    if self._flowing then
      self:emit('data', chunk)
    else
      local buf = rawget(self, '_buf')
      if buf then buf[#buf + 1] = chunk else self._buf = { chunk } end
    end
  end
  if ended then
    self.complete = true
    if self._flowing and not self._ended then
      self._ended = true
      self:emit('end')
    end
    settle_waiters(self, true, take(self))
  end
end

--- The connection ended before the response did (client gone, timeout,
--- body too large): 'aborted' when the request had not all arrived, then
--- 'close' in any case.
function Req:_abort(err)
  if rawget(self, '_closed') then return end
  self._closed = true
  local cut = not self.complete
  if cut then
    self.aborted = true
    self._error = err
    settle_waiters(self, false, err)
  end
  if rawget(self, '_events') then
    if cut then self:emit('aborted') end
    self:emit('close')
  end
end

--- A promise of the whole body as a string (what 'data' listeners took
--- is not included).
---@return Promise
function Req:body()
  if self.complete then return Promise.resolve(take(self)) end
  if self.aborted then return Promise.reject(self._error) end
  return Promise.new(function(resolve, reject)
    local ws = self._waiters
    if not ws then ws = {}; self._waiters = ws end
    ws[#ws + 1] = { resolve, reject }
  end)
end

return M
