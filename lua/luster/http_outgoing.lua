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
local sched = require('luster.scheduler')
local native = require('native.http')
local new_table = require('table.new')

local respond, queued, inform = native.respond, native.queued, native.inform
local check_headers_c, check_header_c = native.check_headers, native.check_header
local Writable, wstate = stream.Writable, stream.wstate
local lower, type, tostring, rawget, pairs, next, find = string.lower, type, tostring, rawget, pairs, next, string.find

local M = {}

--- The standard reason phrases (Node's http.STATUS_CODES, the common ones;
--- runtime/http_response.c knows the same).
M.STATUS_CODES = {
  [100] = 'Continue', [101] = 'Switching Protocols', [102] = 'Processing', [103] = 'Early Hints',
  [200] = 'OK', [201] = 'Created', [202] = 'Accepted', [203] = 'Non-Authoritative Information',
  [204] = 'No Content', [205] = 'Reset Content', [206] = 'Partial Content', [207] = 'Multi-Status',
  [300] = 'Multiple Choices', [301] = 'Moved Permanently', [302] = 'Found', [303] = 'See Other',
  [304] = 'Not Modified', [307] = 'Temporary Redirect', [308] = 'Permanent Redirect',
  [400] = 'Bad Request', [401] = 'Unauthorized', [403] = 'Forbidden', [404] = 'Not Found',
  [405] = 'Method Not Allowed', [408] = 'Request Timeout', [409] = 'Conflict', [410] = 'Gone',
  [411] = 'Length Required', [412] = 'Precondition Failed', [413] = 'Payload Too Large',
  [414] = 'URI Too Long', [415] = 'Unsupported Media Type', [416] = 'Range Not Satisfiable',
  [417] = 'Expectation Failed', [418] = "I'm a Teapot", [422] = 'Unprocessable Entity',
  [426] = 'Upgrade Required', [428] = 'Precondition Required', [429] = 'Too Many Requests',
  [431] = 'Request Header Fields Too Large', [500] = 'Internal Server Error',
  [501] = 'Not Implemented', [502] = 'Bad Gateway', [503] = 'Service Unavailable',
  [504] = 'Gateway Timeout', [505] = 'HTTP Version Not Supported',
  [511] = 'Network Authentication Required',
}
local STATUS_CODES = M.STATUS_CODES

---@class ServerResponse: EventEmitter
---@field statusCode integer
---@field statusMessage string|nil
---@field headersSent boolean
---@field finished boolean
---@field req IncomingMessage
---@field socket HttpSocket
---@field sendDate boolean send an automatic Date header (default true)
---@field strictContentLength boolean the body must match a set Content-Length (default false)
local Res = Writable.extend({})
Res.sendDate = true
Res.strictContentLength = false
M.ServerResponse = Res

-- ---- the response table ----
-- One is made per request, so its size is most of a request's garbage.
-- Everything the library keeps in it lives in its array part: 14 slots,
-- allocated with the table itself (LuaJIT colocates up to 16), so a
-- response is one 184-byte object where named keys would need a separate
-- hash part (24 bytes a key).  The public fields are the slots CODE..SOCKET
-- behind __index/__newindex; the hash part only appears for keys a
-- handler or a listener adds (`_events`, `locals`, its own).
--   H        the connection's handle (runtime/http.c)
--   SEQ      which response of the connection this is (pipelining)
--   HV, HN   the header tables (see own_headers)
--   STATUS, REASON  what goes on the wire, fixed by writeHead (or false)
--   STARTED  the head went to C (a write, or finish)
--   FIN      the scheduler's turn of finish()
--   CODE, MSG, SENT, FINISHED, REQ, SOCKET  statusCode, statusMessage,
--            headersSent, finished, req, socket
local H, SEQ, HV, HN, STATUS, REASON, STARTED, FIN = 1, 2, 3, 4, 5, 6, 7, 8
local CODE, MSG, SENT, FINISHED, REQ, SOCKET = 9, 10, 11, 12, 13, 14
local public = { statusCode = CODE, statusMessage = MSG, headersSent = SENT, finished = FINISHED,
  req = REQ, socket = SOCKET }

local res_mt -- below

--- A response for request `req` on connection `sock`, the `seq`th.
function M.new(sock, seq, req, router)
  local res
  if router then
    -- a router's server (lua/router.lua) gives every response `locals`
    res = setmetatable({ false, 0, false, false, false, false, false, false,
      200, false, false, false, false, false, locals = false }, res_mt)
  else
    res = setmetatable({ false, 0, false, false, false, false, false, false,
      200, false, false, false, false, false }, res_mt)
  end
  res[H], res[SEQ], res[REQ], res[SOCKET] = sock._h, seq, req, sock
  return res
end

-- The internal slots by name, read-only, for code outside this file
-- (lua/router.lua and router_compression.lua read _started, _status).
local internal = { _h = H, _seq = SEQ, _hv = HV, _hn = HN, _status = STATUS, _reason = REASON,
  _started = STARTED, _fin = FIN }

-- ---- the Writable side (lua/luster/stream.lua) ----
-- res writes straight into C (one call per write, no Lua-side queue); its
-- queue is the connection's libuv write queue, which C reports through
-- `queued` and whose emptying C reports as a 'drain' event (lua/http.lua
-- calls _drained).  write() says false at 64 KiB queued, as Node's does.
local HWM = stream.DEFAULT_HIGH_WATER_MARK

function Res:_queued() return queued(self[H]) end

local getters = {
  writableLength = function(r) return queued(r[H]) end,
  writableHighWaterMark = function(r) return rawget(r, '_hwm') or HWM end,
  writableEnded = function(r) return r[FINISHED] end,
  writableFinished = function(r) return r[FINISHED] and not r.destroyed and queued(r[H]) == 0 end,
  writableNeedDrain = function(r) local st = rawget(r, '_ws'); return st and st.need_drain or false end,
}
res_mt = {
  __index = function(t, k)
    local p = public[k]
    if p then return t[p] end
    local v = Res[k]
    if v ~= nil then return v end
    local g = getters[k]
    if g then return g(t) end
    local slot = internal[k]
    if slot then return t[slot] end
  end,
  __newindex = function(t, k, v)
    local p = public[k]
    if p then t[p] = v else rawset(t, k, v) end
  end,
}
M.res_mt = res_mt

local function headers_sent(verb)
  error(errors.new('ERR_HTTP_HEADERS_SENT',
    ('Cannot %s headers after they are sent to the client'):format(verb or 'set'), 3), 3)
end

-- ---- header validation (Node's validateHeaderName / validateHeaderValue),
-- at setHeader/writeHead time so the error points at the caller ----

local NOT_TOKEN = "[^%w!#$%%&'*+%-.^_`|~]"  -- RFC 9110 token characters
local NOT_FIELD_VALUE = '[^\t\32-\126\128-\255]' -- CR, LF, NUL, other controls

-- Pattern matching is not compiled by LuaJIT, and most responses send the
-- same few names and values again and again: short strings already found
-- valid are remembered (interned, so a lookup is a hash probe), in tables
-- dropped when they fill so that memory stays bounded.
local CACHE_MAX, CACHE_LEN = 256, 256
local good_names, n_names, good_values, n_values = {}, 0, {}, 0

local function check_name(name, level)
  if good_names[name] then return end
  if type(name) ~= 'string' or name == '' or find(name, NOT_TOKEN) then
    error(errors.new('ERR_INVALID_HTTP_TOKEN',
      ('Header name must be a valid HTTP token ["%s"]'):format(errors.tostring(name)), level), level)
  end
  if #name <= CACHE_LEN then
    if n_names >= CACHE_MAX then good_names, n_names = {}, 0 end
    good_names[name], n_names = true, n_names + 1
  end
end

local function bad_char(name, level)
  error(errors.new('ERR_INVALID_CHAR', ('Invalid character in header content ["%s"]'):format(name), level), level)
end

local function check_string_value(name, v, level)
  if good_values[v] then return end
  if find(v, NOT_FIELD_VALUE) then bad_char(name, level + 1) end
  if #v <= CACHE_LEN then
    if n_values >= CACHE_MAX then good_values, n_values = {}, 0 end
    good_values[v], n_values = true, n_values + 1
  end
end

local function check_value(name, value, level)
  local t = type(value)
  if t == 'string' then
    check_string_value(name, value, level + 1)
  elseif t == 'table' then
    if check_header_c(name, value) then bad_char(name, level + 1) end
  elseif value == nil then
    error(errors.new('ERR_HTTP_INVALID_HEADER_VALUE',
      ('Invalid value "nil" for header "%s"'):format(name), level), level)
  end
end

-- The header tables: HV (lower-cased name -> value) and HN (lower-cased
-- name -> name as spelled), or, after writeHead(status, headers) with no
-- header set before, the caller's table itself as HV with HN = true
-- ("raw": keys are names as spelled) -- no copy, no new tables.  Both start
-- as false.
--
-- Most responses spell a name the way every other response does
-- (Content-Type), so HN is usually SPELLING, shared by all responses: the
-- first spelling seen of each name.  Its entries are only ever added,
-- never changed, so the names of a response that uses it stay as they
-- were set.  A response that spells a name another way (or a name met
-- once SPELLING is full) gets an HN of its own, a copy of the entries its
-- headers use.
local SPELLING, n_spelling = {}, 0

-- hv[k] = value, named `name` on the wire.
local function put_header(self, hv, hn, k, name, value)
  if hn == SPELLING then
    local s = SPELLING[k]
    if s == nil and n_spelling < CACHE_MAX and #name <= CACHE_LEN then
      SPELLING[k], n_spelling, s = name, n_spelling + 1, name
    end
    if s ~= name then
      hn = new_table(0, 4)
      for low in pairs(hv) do hn[low] = SPELLING[low] end
      self[HN] = hn
    end
  end
  if hn ~= SPELLING then hn[k] = name end
  hv[k] = value
end

-- Turn raw headers into the two tables.
local function own_headers(self)
  local hv, hn = self[HV], self[HN]
  if hn == true then
    local raw = hv
    hv, hn = {}, {}
    for k, v in pairs(raw) do
      local low = lower(k)
      hv[low], hn[low] = v, k
    end
    self[HV], self[HN] = hv, hn
  elseif not hv then
    -- room for a few headers: growing a table from empty reallocates it
    -- at 1, 2 and 4 keys
    hv, hn = new_table(0, 4), SPELLING
    self[HV], self[HN] = hv, hn
  end
  return hv, hn
end

--- Set a response header (a string, a number, or an array of them).
---@param name string
---@param value string|number|string[]
---@return ServerResponse
function Res:setHeader(name, value)
  if self[SENT] then headers_sent('set') end
  check_name(name, 3)
  check_value(name, value, 3)
  if type(value) == 'boolean' then value = tostring(value) end -- Node sends String(value)
  local hv, hn = own_headers(self)
  put_header(self, hv, hn, lower(name), name, value)
  return self
end

--- Add a value to a header (Node's appendHeader): a second value makes
--- the header a list, sent as one line per value.
---@param name string
---@param value string|number|string[]
---@return ServerResponse
function Res:appendHeader(name, value)
  if self[SENT] then headers_sent('append') end
  check_name(name, 3)
  check_value(name, value, 3)
  local hv, hn = own_headers(self)
  local k = lower(name)
  local old = hv[k]
  if old == nil then
    put_header(self, hv, hn, k, name, value)
    return self
  end
  local list = {}
  for _, v in ipairs(type(old) == 'table' and old or { old }) do list[#list + 1] = v end
  for _, v in ipairs(type(value) == 'table' and value or { value }) do list[#list + 1] = v end
  hv[k] = list
  return self
end

---@param name string
---@return string|number|string[]|nil
function Res:getHeader(name)
  if type(name) ~= 'string' then errors.check_type(name, 'name', 'string') end
  local hv = self[HV]
  if not hv then return nil end
  local k = lower(name)
  if self[HN] ~= true then return hv[k] end
  for n, v in pairs(hv) do
    if lower(n) == k then return v end
  end
end

---@param name string
---@return boolean
function Res:hasHeader(name)
  if type(name) ~= 'string' then errors.check_type(name, 'name', 'string') end
  return self:getHeader(name) ~= nil
end

--- Remove a header; removing `Date` also stops the automatic one (as
--- `res.sendDate = false`).
---@param name string
function Res:removeHeader(name)
  errors.check_type(name, 'name', 'string')
  if self[SENT] then headers_sent('remove') end
  if lower(name) == 'date' then self.sendDate = false end
  if self[HV] then
    local hv, hn = own_headers(self)
    local k = lower(name)
    hv[k] = nil
    if hn ~= SPELLING then hn[k] = nil end
  end
end

--- A copy of the headers set so far, by lower-cased name.
---@return table<string, any>
function Res:getHeaders()
  local t = {}
  for k, v in pairs(self[HV] or {}) do t[lower(k)] = v end
  return t
end

---@return string[]
function Res:getHeaderNames()
  local t = {}
  for k in pairs(self[HV] or {}) do t[#t + 1] = lower(k) end
  return t
end

--- Forget every header (an error response replaces the handler's).
function Res:_reset_headers()
  self[HV], self[HN], self[MSG], self[SENT] = false, false, false, false
  self[STATUS], self[REASON] = false, false
end

-- The headers of writeHead(status, headers) as {name = value}: a flat
-- list {name, value, ...} is turned into one.
local function header_map(headers)
  if headers[1] == nil then return headers end
  local t = {}
  for i = 1, #headers, 2 do t[headers[i]] = headers[i + 1] end
  return t
end

-- One header of writeHead's table; names and values seen before cost two
-- hash probes.
local function check_pair(k, v, level)
  if good_names[k] and good_values[v] then return end
  check_name(k, level + 1)
  check_value(k, v, level + 1)
end

-- writeHead's table.  No loop for the usual few headers: a loop here
-- would keep LuaJIT from compiling the request path around it (next() is
-- compiled); a larger table is checked in C.  `level` as error() counts
-- it from here: 3 is the caller of writeHead.
local function check_headers(headers, level)
  local k, v = next(headers)
  if k == nil then return end
  check_pair(k, v, level + 1)
  k, v = next(headers, k)
  if k == nil then return end
  check_pair(k, v, level + 1)
  k, v = next(headers, k)
  if k == nil then return end
  check_pair(k, v, level + 1)
  if next(headers, k) == nil then return end
  local code, name = check_headers_c(headers)
  if not code then return end
  if code == 'ERR_INVALID_HTTP_TOKEN' then
    error(errors.new(code, ('Header name must be a valid HTTP token ["%s"]'):format(name), level), level)
  end
  check_value(name, headers[name], level + 1)
end

local function check_status(status)
  if type(status) ~= 'number' or status < 100 or status > 999 or status % 1 ~= 0 then
    error(errors.new('ERR_HTTP_INVALID_STATUS_CODE',
      ('Invalid status code: %s'):format(errors.tostring(status)), 3), 3)
  end
end

--- Send an informational (1xx) response now; the final one still follows.
--- False when it could not be sent (HTTP/1.0 client, connection gone).
---@param status integer 100..199
---@param reason? string
---@param headers? table
---@return boolean
function Res:_inform(status, reason, headers)
  if self[SENT] then headers_sent('write') end
  if headers then
    headers = header_map(headers)
    check_headers(headers, 4)
  end
  return inform(self[H], self[SEQ], status, reason, headers)
end

--- Set the status (and reason, and headers); they are sent with the body.
--- `headers` is a table {name = value} or a flat list {name, value, ...};
--- they are merged over those setHeader set.  What is set afterwards
--- (statusCode, statusMessage) changes nothing sent.  A 1xx status other
--- than 101 is informational: it is sent at once and the final status
--- still follows.
---@param status integer
---@param reason? string|table
---@param headers? table
---@return ServerResponse
function Res:writeHead(status, reason, headers)
  if self[SENT] then headers_sent('write') end
  if type(reason) == 'table' then reason, headers = nil, reason end
  check_status(status)
  if status < 200 and status ~= 101 then
    self:_inform(status, reason, headers)
    return self
  end
  if reason ~= nil then
    if type(reason) ~= 'string' then errors.check_type(reason, 'statusMessage', 'string') end
    if find(reason, NOT_FIELD_VALUE) then -- response splitting
      error(errors.new('ERR_INVALID_CHAR', 'Invalid character in statusMessage', 2), 2)
    end
  end
  if headers then
    if not self[HV] and headers[1] == nil then
      check_headers(headers, 3)
      self[HV], self[HN] = headers, true
    else
      if headers[1] ~= nil then
        for i = 1, #headers, 2 do self:setHeader(headers[i], headers[i + 1]) end
      else
        for k, v in pairs(headers) do self:setHeader(k, v) end
      end
    end
  end
  self[CODE] = status
  if reason then self[MSG] = reason
  elseif not self[MSG] then self[MSG] = STATUS_CODES[status] or false end
  -- what goes on the wire, whatever is assigned later
  self[STATUS], self[REASON] = status, self[MSG]
  self[SENT] = true
  return self
end

--- `100 Continue` (for a request with `Expect: 100-continue`; sent
--- automatically unless the handler sends it first).
function Res:writeContinue(cb)
  self:_inform(100)
  if cb then sched.next_tick(cb) end
end

--- `102 Processing`.
function Res:writeProcessing(cb)
  self:_inform(102)
  if cb then sched.next_tick(cb) end
end

--- `103 Early Hints`: `hints` is a Link value (a string or a list of them)
--- or a table {link = ..., ['x-other'] = ...}; nothing is sent without a
--- link.
---@param hints string|string[]|table
---@param cb? function
function Res:writeEarlyHints(hints, cb)
  local t = type(hints)
  if t ~= 'table' and t ~= 'string' then errors.check_type(hints, 'hints', 'table') end
  local headers
  if t == 'string' or hints[1] ~= nil or next(hints) == nil then
    headers = { Link = hints }
  else
    headers = {}
    for k, v in pairs(hints) do
      if type(k) == 'string' and lower(k) == 'link' then headers.Link = v else headers[k] = v end
    end
  end
  local link = headers.Link
  if type(link) == 'table' then
    for i = 1, #link do
      if type(link[i]) ~= 'string' then errors.check_type(link[i], 'hints.link[' .. i .. ']', 'string') end
    end
    link = table.concat(link, ', ')
    headers.Link = link
  end
  if link == nil or link == '' then return end
  self:_inform(103, nil, headers)
  if cb then sched.next_tick(cb) end
end

local function as_chunk(data)
  if data == nil or type(data) == 'string' then return data end
  if type(data) == 'number' then return tostring(data) end
  errors.throw('ERR_INVALID_ARG_TYPE', 'The "chunk" argument must be of type string. Received %s', type(data))
end

-- ---- 'finish' and 'close' ----
-- They are emitted after finish() returns, in a nextTick, as Node does:
-- a listener added right after finish() still hears them.  So that a
-- response nobody listens to costs nothing, finish() only notes the
-- scheduler's turn; a listener added in that same turn schedules them.

local function emit_done_events(self)
  local req = self[REQ]
  self:emit('finish')
  self:emit('close')
  if req and not rawget(req, '_closed') then
    req._closed = true
    req:emit('close')
  end
end

local function keep_trace(e) return { value = e, trace = debug.traceback('', 2):sub(2) } end

-- A listener that raises is handler code failing: logged like a handler
-- error, and the server keeps serving.
local function emit_done(self)
  local ok, rec = xpcall(emit_done_events, keep_trace, self)
  if not ok then
    io.stderr:write('http: response listener error: ', errors.describe(rec.value, rec.trace), '\n')
  end
end

local function schedule_done(self)
  if rawget(self, '_done_scheduled') then return end
  self._done_scheduled = true
  sched.next_tick(emit_done, self)
end
M.schedule_done = schedule_done

-- A 'finish'/'close' listener added after finish() in the same turn.
function Res:_listeners_changed(name)
  if self[FINISHED] and not self.destroyed and self[FIN] == sched.turn and (name == 'finish' or name == 'close') then
    schedule_done(self)
  end
end

local function write_after_end(self)
  local err = errors.new('ERR_STREAM_WRITE_AFTER_END', 'write after end', 3)
  -- as Node: an 'error' event on the next tick, and write returns false;
  -- with nobody listening, a plain raise (so a handler gets its 500/log
  -- instead of an uncaught error ending the process)
  if self:listenerCount('error') == 0 then error(err, 3) end
  sched.next_tick(function() self:emit('error', err) end)
  return false
end

-- res.strictContentLength (Node's): the body must match a Content-Length
-- the handler set, else ERR_HTTP_CONTENT_LENGTH_MISMATCH before anything
-- more is sent.  Bodiless responses (HEAD, 1xx, 204, 304) are exempt.
local function check_length(self, chunk, final)
  local declared = tonumber(self:getHeader('content-length'))
  if not declared then return end
  local status = self[STATUS] or self[CODE]
  local req = self[REQ]
  if status == 204 or status == 304 or status < 200 or (req and req.method == 'HEAD') then return end
  local sent = (rawget(self, '_body_bytes') or 0) + (chunk and #chunk or 0)
  if sent > declared or (final and sent ~= declared) then
    error(errors.new('ERR_HTTP_CONTENT_LENGTH_MISMATCH',
      ("Response body's content-length of %d byte(s) does not match the content-length of %d byte(s) set in header")
        :format(sent, declared), 3), 3)
  end
  self._body_bytes = sent
end

-- The status a response without writeHead goes out with; like writeHead,
-- it fills in statusMessage.
local function implicit_status(self)
  local status, reason = self[CODE], self[MSG]
  if not reason then
    reason = STATUS_CODES[status] or false
    self[MSG] = reason
  end
  return status, reason
end

--- Send a piece of the body (chunked unless a Content-Length was set).
--- Returns false when the connection is gone or 64 KiB or more wait in
--- its queue; 'drain' follows once the queue is empty.
---@param chunk string
---@return boolean
function Res:write(chunk)
  if self[FINISHED] then
    if self.destroyed then return false end -- the connection is gone (Node: ERR_STREAM_DESTROYED, no 'error')
    return write_after_end(self)
  end
  chunk = as_chunk(chunk)
  if self.strictContentLength then check_length(self, chunk, false) end
  local ok
  if self[STARTED] then
    ok = respond(self[H], self[SEQ], chunk, nil, nil, nil, nil, false)
  else
    local status, reason = self[STATUS], self[REASON]
    if not status then status, reason = implicit_status(self) end
    ok = respond(self[H], self[SEQ], chunk, status, reason, self[HV], self[HN], false, self.sendDate)
    self[STARTED], self[SENT] = true, true
  end
  if not ok then wstate(self).need_drain = true end
  return ok
end

--- Finish the response, with an optional last piece of the body
--- (Node's `res.end`, also available as `res['end']`).  'finish' and
--- 'close' follow after this returns.
---@param data? string
---@return ServerResponse
function Res:finish(data)
  if self[FINISHED] then return self end
  data = as_chunk(data)
  if self.strictContentLength then check_length(self, data, true) end
  if self[STARTED] then
    respond(self[H], self[SEQ], data, nil, nil, nil, nil, true)
  else
    local status, reason = self[STATUS], self[REASON]
    if not status then status, reason = implicit_status(self) end
    -- raises on an invalid header: the response is then still unsent
    respond(self[H], self[SEQ], data, status, reason, self[HV], self[HN], true, self.sendDate)
    self[STARTED] = true
  end
  self[FINISHED], self[SENT] = true, true
  self[FIN] = sched.turn
  local req = self[REQ]
  if rawget(self, '_events') or (req and rawget(req, '_events')) then schedule_done(self) end
  return self
end
Res['end'] = Res.finish

--- Send `value` as JSON (Content-Type application/json unless set).
---@param value any
---@param status? integer
---@return ServerResponse
local json_encode
function Res:json(value, status)
  if not json_encode then json_encode = require('json').encode end
  local body = json_encode(value)
  if status then self[CODE] = status end
  if not self[SENT] then
    -- setHeader's work without its checks and case folding: the name and
    -- value are known good
    local hv, hn = own_headers(self)
    if hv['content-type'] == nil then put_header(self, hv, hn, 'content-type', 'Content-Type', 'application/json') end
  end
  return self:finish(body)
end

--- The client went away, or C answered for us (timeout, body too large).
function Res:_abort()
  if self[FINISHED] then return end
  self[FINISHED], self.destroyed = true, true
  if rawget(self, '_events') then self:emit('close') end
end

--- Close the connection without finishing the response.
function Res:destroy() native.destroy(self[H]) end

function Res:setTimeout() return self end
--- Send the head now (with chunked framing to follow), if not sent yet.
function Res:flushHeaders()
  if not self[STARTED] and not self[FINISHED] then self:write('') end
end

return M
