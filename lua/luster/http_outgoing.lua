--- The response side of the HTTP server: ServerResponse (`res`).
---
--- Headers are kept in two tables (lower-cased name -> value, and
--- lower-cased name -> name as spelled), made on the first setHeader; the
--- C side (runtime/http_response.c) turns status, headers and body into
--- one write when the response is finished, or the head plus the first
--- chunk on the first write().  So `res:writeHead(200); res:finish(s)` is
--- one call into C and one syscall.
local errors = require('luster.errors')
local stream = require('luster.stream')
local native = require('native.http')

local respond, queued = native.respond, native.queued
local Writable, wstate = stream.Writable, stream.wstate
local lower, type, tostring, rawget, pairs = string.lower, type, tostring, rawget, pairs

local M = {}

---@class ServerResponse: EventEmitter
---@field statusCode integer
---@field statusMessage string|nil
---@field headersSent boolean
---@field finished boolean
---@field req IncomingMessage
---@field socket HttpSocket
local Res = Writable.extend({})
M.ServerResponse = Res

-- ---- the Writable side (lua/luster/stream.lua) ----
-- res writes straight into C (one call per write, no Lua-side queue); its
-- queue is the connection's libuv write queue, which C reports through
-- `queued` and whose emptying C reports as a 'drain' event (lua/http.lua
-- calls _drained).  write() says false at 64 KiB queued, as Node's does.
local HWM = stream.DEFAULT_HIGH_WATER_MARK

function Res:_queued() return queued(self._h) end

local getters = {
  writableLength = function(r) return queued(r._h) end,
  writableHighWaterMark = function(r) return rawget(r, '_hwm') or HWM end,
  writableEnded = function(r) return r.finished end,
  writableFinished = function(r) return r.finished and not r.destroyed and queued(r._h) == 0 end,
  writableNeedDrain = function(r) local st = rawget(r, '_ws'); return st and st.need_drain or false end,
}
M.res_mt = {
  __index = function(t, k)
    local v = Res[k]
    if v ~= nil then return v end
    local g = getters[k]
    return g and g(t)
  end,
}

local function headers_sent()
  errors.throw('ERR_HTTP_HEADERS_SENT', 'Cannot set headers after they are sent to the client')
end

-- The header tables: _hv (lower-cased name -> value) and _hn (lower-cased
-- name -> name as spelled), or, after writeHead(status, headers) with no
-- header set before, the caller's table itself as _hv with _hn = true
-- ("raw": keys are names as spelled) -- no copy, no new tables.  They start
-- as false so that the response table never grows (and rehashes) for them.

-- Turn raw headers into the two tables.
local function own_headers(self)
  local hv, hn = self._hv, self._hn
  if hn == true then
    local raw = hv
    hv, hn = {}, {}
    for k, v in pairs(raw) do
      local low = lower(k)
      hv[low], hn[low] = v, k
    end
    self._hv, self._hn = hv, hn
  elseif not hv then
    hv, hn = {}, {}
    self._hv, self._hn = hv, hn
  end
  return hv, hn
end

--- Set a response header (a string, a number, or an array of them).
---@param name string
---@param value string|number|string[]
---@return ServerResponse
function Res:setHeader(name, value)
  if self.headersSent then headers_sent() end
  errors.check_type(name, 'name', 'string')
  if value == nil then errors.throw('ERR_HTTP_INVALID_HEADER_VALUE', 'Invalid value "nil" for header "%s"', name) end
  local hv, hn = own_headers(self)
  local k = lower(name)
  hv[k], hn[k] = value, name
  return self
end

---@param name string
---@return string|number|string[]|nil
function Res:getHeader(name)
  local hv = self._hv
  if not hv then return nil end
  local k = lower(name)
  if self._hn ~= true then return hv[k] end
  for n, v in pairs(hv) do
    if lower(n) == k then return v end
  end
end

---@param name string
---@return boolean
function Res:hasHeader(name) return self:getHeader(name) ~= nil end

---@param name string
function Res:removeHeader(name)
  if self.headersSent then headers_sent() end
  if self._hv then
    local hv, hn = own_headers(self)
    local k = lower(name)
    hv[k], hn[k] = nil, nil
  end
end

--- A copy of the headers set so far, by lower-cased name.
---@return table<string, any>
function Res:getHeaders()
  local t = {}
  for k, v in pairs(self._hv or {}) do t[lower(k)] = v end
  return t
end

---@return string[]
function Res:getHeaderNames()
  local t = {}
  for k in pairs(self._hv or {}) do t[#t + 1] = lower(k) end
  return t
end

--- Forget every header (an error response replaces the handler's).
function Res:_reset_headers()
  self._hv, self._hn, self.statusMessage, self.headersSent = false, false, false, false
end

--- Set the status (and reason, and headers); they are sent with the body.
--- `headers` is a table {name = value} or a flat list {name, value, ...}.
---@param status integer
---@param reason? string|table
---@param headers? table
---@return ServerResponse
function Res:writeHead(status, reason, headers)
  if self._started then headers_sent() end
  if type(reason) == 'table' then reason, headers = nil, reason end
  if type(status) ~= 'number' or status < 100 or status > 999 or status % 1 ~= 0 then
    errors.throw('ERR_HTTP_INVALID_STATUS_CODE', 'Invalid status code: %s', tostring(status))
  end
  self.statusCode = status
  if reason then self.statusMessage = reason end
  if headers then
    if not self._hv and headers[1] == nil then
      self._hv, self._hn = headers, true
    else
      self.headersSent = false
      if headers[1] ~= nil then
        for i = 1, #headers, 2 do self:setHeader(headers[i], headers[i + 1]) end
      else
        for k, v in pairs(headers) do self:setHeader(k, v) end
      end
    end
  end
  self.headersSent = true
  return self
end

local function as_chunk(data)
  if data == nil or type(data) == 'string' then return data end
  if type(data) == 'number' then return tostring(data) end
  errors.throw('ERR_INVALID_ARG_TYPE', 'The "chunk" argument must be of type string. Received %s', type(data))
end

local function write_after_end()
  errors.throw('ERR_STREAM_WRITE_AFTER_END', 'write after end')
end

--- Send a piece of the body (chunked unless a Content-Length was set).
--- Returns false when the connection is gone or 64 KiB or more wait in
--- its queue; 'drain' follows once the queue is empty.
---@param chunk string
---@return boolean
function Res:write(chunk)
  if self.finished then write_after_end() end
  chunk = as_chunk(chunk)
  local ok
  if self._started then
    ok = respond(self._h, self._seq, chunk, nil, nil, nil, nil, false)
  else
    ok = respond(self._h, self._seq, chunk, self.statusCode, self.statusMessage, self._hv, self._hn, false)
    self._started, self.headersSent = true, true
  end
  if not ok then wstate(self).need_drain = true end
  return ok
end

--- Finish the response, with an optional last piece of the body
--- (Node's `res.end`, also available as `res['end']`).
---@param data? string
---@return ServerResponse
function Res:finish(data)
  if self.finished then return self end
  data = as_chunk(data)
  if self._started then
    respond(self._h, self._seq, data, nil, nil, nil, nil, true)
  else
    -- raises on an invalid header: the response is then still unsent
    respond(self._h, self._seq, data, self.statusCode, self.statusMessage, self._hv, self._hn, true)
    self._started = true
  end
  self.finished, self.headersSent = true, true
  if rawget(self, '_events') then
    self:emit('finish')
    self:emit('close')
  end
  return self
end
Res['end'] = Res.finish

--- Send `value` as JSON (Content-Type application/json unless set).
---@param value any
---@param status? integer
---@return ServerResponse
function Res:json(value, status)
  local body = require('json').encode(value)
  if status then self.statusCode = status end
  if not self.headersSent and not self:getHeader('content-type') then
    self:setHeader('Content-Type', 'application/json')
  end
  return self:finish(body)
end

--- The client went away, or C answered for us (timeout, body too large).
function Res:_abort()
  if self.finished then return end
  self.finished, self.destroyed = true, true
  if rawget(self, '_events') then self:emit('close') end
end

--- Close the connection without finishing the response.
function Res:destroy() native.destroy(self._h) end

function Res:setTimeout() return self end
function Res:flushHeaders() end

return M
