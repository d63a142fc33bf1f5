--- luster.ws_socket — the WebSocket object, one per connection, on either
--- side (npm's `ws` WebSocket class, written the Lua way).
---
--- It sits on a net.Socket that has finished the HTTP handshake: bytes read
--- go through the frame parser (lua/luster/ws_frame.lua), messages come out
--- as events, and send/ping/pong/close write frames.  Backpressure is the
--- socket's: `bufferedAmount` is its writableLength, `send`'s callback runs
--- once the frame is written, and `ws:pause()` pauses the socket, so a
--- reader that stops stops the kernel reads (lua/luster/stream.lua).
---
--- Events are EventEmitter events as in npm's ws ('open', 'message'(data,
--- isBinary), 'close'(code, reason), 'error'(err), 'ping'(data),
--- 'pong'(data), and 'drain' after a send that returned false) and the
--- browser-style properties work too:
--- `ws.onmessage = function(event) ... event.data ... end` (onopen,
--- onclose with event.code/.reason/.wasClean, onerror with event.error).
---
--- The close handshake follows RFC 6455 7.1 as ws does: close() sends a
--- close frame and waits (30 s at most) for the peer's; a received close is
--- answered with the same code; the server then ends the TCP connection
--- and the client waits for it.  'close' follows the socket's closing,
--- with 1005 when the peer's frame had no code and 1006 when none came.
local EventEmitter = require('events')
local errors = require('luster.errors')
local bytes = require('luster.bytes')
local frame = require('luster.ws_frame')
local stream = require('luster.stream')

local type, rawget, char, byte, floor = type, rawget, string.char, string.byte, math.floor
local new_frame, valid_utf8 = frame.frame, frame.valid_utf8

local CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
local STATE_NAMES = { [0] = 'CONNECTING', 'OPEN', 'CLOSING', 'CLOSED' }
local CLOSE_TIMEOUT = 30000

---@class WebSocket: EventEmitter
---@field readyState integer
---@field protocol string
---@field url string|nil
local WebSocket = EventEmitter.extend({})
WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED = CONNECTING, OPEN, CLOSING, CLOSED

-- The fields most connections never change live here, on the class: an
-- open WebSocket's own table then holds only what differs (its socket,
-- state, listeners), a few slots instead of a dozen.
WebSocket.protocol, WebSocket.extensions, WebSocket.binaryType = '', '', 'nodebuffer'
WebSocket.isServer = false
WebSocket._close_code, WebSocket._close_reason = 1006, ''
WebSocket._close_sent, WebSocket._close_received = false, false

-- The WebSocket whose read is being parsed, and the frames its listeners
-- send meanwhile (they leave in one socket write: see _write).  Parsing
-- is synchronous, so one batch at a time is all there is.
local batch_ws, batch_out, batch_len, batch_cbs = nil, nil, 0, nil

local getters = {}
function getters.bufferedAmount(self)
  local s = rawget(self, '_socket')
  local n = (rawget(self, '_after_close') or 0) + (batch_ws == self and batch_len or 0)
  if s and not s.destroyed then n = n + s.writableLength end
  return n
end
WebSocket.__index = function(t, k)
  local g = getters[k]
  if g then return g(t) end
  return WebSocket[k]
end

-- The server side's WebSockets: the same class but for `isServer`, which
-- they then need not keep each.
local ServerWebSocket = setmetatable({ isServer = true }, { __index = WebSocket })
ServerWebSocket.__index = function(t, k)
  local g = getters[k]
  if g then return g(t) end
  return ServerWebSocket[k]
end

local M = {}
M.WebSocket = WebSocket
M.CONNECTING, M.OPEN, M.CLOSING, M.CLOSED = CONNECTING, OPEN, CLOSING, CLOSED

--- A WebSocket in CONNECTING state; `_attach` makes it OPEN.
function M.new(is_server, opts)
  local self = setmetatable({ readyState = CONNECTING }, is_server and ServerWebSocket or WebSocket)
  if opts and opts.maxPayload then self._maxPayload = opts.maxPayload end
  return self
end

-- ---- events, both styles ----

local ON = { open = 'onopen', message = 'onmessage', close = 'onclose', error = 'onerror' }

local function browser_event(self, name, a, b)
  local ev = { type = name, target = self }
  if name == 'message' then ev.data, ev.isBinary = a, b
  elseif name == 'close' then ev.code, ev.reason, ev.wasClean = a, b, self._close_sent and self._close_received
  elseif name == 'error' then ev.error, ev.message = a, type(a) == 'table' and a.message or tostring(a) end
  return ev
end

function WebSocket:_event(name, a, b)
  local prop = ON[name]
  local fn = prop and rawget(self, prop)
  if name == 'error' and not fn and self:listenerCount('error') == 0 then
    return -- a peer's bad frame must not end the process: nobody asked to hear it
  end
  self:emit(name, a, b)
  if fn then fn(browser_event(self, name, a, b)) end
end

--- Browser-style listeners: fn(event) with event.data, .code, .reason...
function WebSocket:addEventListener(name, fn, opts)
  local wrapped = function(a, b) fn(browser_event(self, name, a, b)) end
  self._wrapped = self._wrapped or {}
  self._wrapped[fn] = wrapped
  if type(opts) == 'table' and opts.once then self:once(name, wrapped) else self:on(name, wrapped) end
end

function WebSocket:removeEventListener(name, fn)
  local w = self._wrapped and self._wrapped[fn]
  if w then self:removeListener(name, w); self._wrapped[fn] = nil end
end

-- ---- the connection ----

local function finish_socket(self)
  local s = self._socket
  if s and not s.destroyed then s:finish() end
end

-- What the parser finds (lua/luster/ws_frame.lua calls these on the
-- WebSocket: no closure per connection).
function WebSocket:_ws_message(data, is_binary) self:_event('message', data, is_binary) end
function WebSocket:_ws_ping(data)
  if self.readyState == OPEN then self:_control(frame.OP_PONG, data) end
  self:emit('ping', data)
end
function WebSocket:_ws_pong(data) self:emit('pong', data) end
function WebSocket:_ws_close(code, reason)
  self._close_received = true
  self._close_code, self._close_reason = code or 1005, reason
  self._socket:resume()
  if code == nil then self:close() else self:close(code, reason) end
end
function WebSocket:_ws_error(err)
  self._parser_failed = true
  self._close_code = err.statusCode
  self._socket:resume()   -- what comes now is dropped; the peer's FIN must be seen
  self:close(err.statusCode)
  self:_event('error', err)
end

-- A connection holds a frame parser only while a frame or a fragmented
-- message is partly read; between messages its parser rests here, for
-- whichever connection reads next (an idle WebSocket holds none).
local spare_parsers = require('luster.spares').new(16)

local function parser_of(self)
  local p = rawget(self, '_parser')
  if p then return p end
  p = spare_parsers:take()
  if p then
    p:reuse(self.isServer, self._maxPayload, self)
  else
    p = frame.new_parser({ isServer = self.isServer, maxPayload = self._maxPayload }, self)
  end
  self._parser = p
  return p
end

local function rest_parser(self)
  local p = rawget(self, '_parser')
  if not (p and p:idle()) then return end
  self._parser = nil
  p.handler = false   -- a resting parser holds no connection
  spare_parsers:give(p)
end

-- Parse bytes read; what the listeners send meanwhile leaves in one write.
local function parse(self, d)
  local outer_ws, outer_out, outer_len, outer_cbs = batch_ws, batch_out, batch_len, batch_cbs
  batch_ws, batch_out, batch_len, batch_cbs = self, nil, 0, nil
  local p = parser_of(self)
  local ok, e = pcall(p.feed, p, d)
  rest_parser(self)
  local out, cbs = batch_out, batch_cbs
  batch_ws, batch_out, batch_len, batch_cbs = outer_ws, outer_out, outer_len, outer_cbs
  if out then self:_flush(out, cbs) end
  if not ok then error(e, 0) end   -- a listener's error goes on as before
end

-- Bytes read go straight to the parser: the WebSocket is its socket's
-- sink (net.lua calls `socket._sink(socket, bytes)`: no 'data' event, no
-- readable buffer), and so the socket needs no other field to find it.
WebSocket.__call = function(self, _, d) parse(self, d) end
ServerWebSocket.__call = WebSocket.__call

-- The socket's events, shared by every WebSocket (net.lua's hooks).
local HOOKS = {
  ['end'] = function(socket)
    local self = socket._sink
    self.readyState = CLOSING
    finish_socket(self)
  end,
  error = function(socket) socket._sink.readyState = CLOSING; socket:destroy() end,
  close = function(socket) socket._sink:_closed() end,
  drain = function(socket) socket._sink:emit('drain') end,
}

local function feed_head(self, head) parse(self, head) end

--- Take over `socket` after a successful handshake; `head` is what was
--- read past the HTTP head (the first frames, possibly).
function WebSocket:_attach(socket, head)
  self._socket = socket
  socket:setTimeout(0)
  socket:setNoDelay(true)
  require('net')._add_hooks(socket, HOOKS)
  -- bytes the socket buffered since the handshake come after `head`
  local buffered = stream.take_buffered(socket)
  if buffered then head = (head or '') .. buffered end
  socket._sink = self
  if rawget(socket, '_rs') and not socket.destroyed then socket:resume() end
  require('net')._compact_idle(socket)
  self.readyState = OPEN
  self:_event('open')
  if head and #head > 0 then
    -- the listeners of 'connection'/'open' are set up by now
    process.nextTick(feed_head, self, head)
  end
end

function WebSocket:_closed()
  if self.readyState == CLOSED then return end
  self.readyState = CLOSED
  if self._close_timer then clearTimeout(self._close_timer); self._close_timer = nil end
  local wss = rawget(self, '_wss')
  if wss then wss.clients[self] = nil end
  self:_event('close', self._close_code, self._close_reason)
end

-- ---- sending ----

-- Every frame goes out through _write.  While a read of this WebSocket is
-- being parsed the frames queue in the batch and leave as one socket write
-- (an echo of a read holding many messages costs one syscall, not one per
-- message); bufferedAmount counts them.
function WebSocket:_write(data, cb)
  local socket = self._socket
  if batch_ws ~= self then return socket:write(data, cb) end
  local out = batch_out
  if not out then out = {}; batch_out = out end
  out[#out + 1] = data
  batch_len = batch_len + #data
  if cb then
    local cbs = batch_cbs
    if not cbs then cbs = {}; batch_cbs = cbs end
    cbs[#cbs + 1] = cb
  end
  return socket.writableLength + batch_len < socket.writableHighWaterMark
end

function WebSocket:_flush(out, cbs)
  local cb
  if cbs then cb = function(err) for i = 1, #cbs do cbs[i](err) end end end
  local socket = self._socket
  if socket.destroyed then
    if cb then process.nextTick(cb, errors.new('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed')) end
    return
  end
  socket:write(#out == 1 and out[1] or table.concat(out), cb)
end

local function not_open(self, what, cb)
  local e = errors.new('ERR_WS_NOT_OPEN', ('WebSocket is not open: readyState %d (%s)'):format(self.readyState, STATE_NAMES[self.readyState]))
  if self.readyState == CONNECTING then error(e, 3) end
  self._after_close = (rawget(self, '_after_close') or 0) + #what
  if cb then process.nextTick(cb, e) end
end

--- send(data[, {binary=, fin=, mask=}][, cb]): a string is sent as text
--- when it is valid UTF-8 and `binary` is not set; typed arrays and
--- ArrayBuffers as binary.  `fin = false` sends a fragment (the next sends
--- continue the message until one with fin ~= false).  cb(err) once the
--- frame is written.  Returns false once bufferedAmount reaches the
--- socket's high-water mark (a luster addition: wait for 'drain').
function WebSocket:send(data, opts, cb)
  if type(opts) == 'function' then opts, cb = nil, opts end
  local binary
  if type(data) ~= 'string' then
    data = bytes.of(data, 'data')
    binary = not (opts and opts.binary == false)
  else
    binary = opts and opts.binary
  end
  if self.readyState ~= OPEN then return not_open(self, data, cb) end
  local fin = not (opts and opts.fin == false)
  local op = self._fragment_op
  if op then
    op = frame.OP_CONT
  else
    op = (binary or not valid_utf8(data)) and frame.OP_BINARY or frame.OP_TEXT
  end
  if fin then self._fragment_op = nil elseif not self._fragment_op then self._fragment_op = op end
  local mask = not self.isServer
  if opts and opts.mask ~= nil then mask = opts.mask end
  return self:_write(new_frame(op, data, fin, mask), cb)
end

function WebSocket:_control(op, data, cb)
  self:_write(new_frame(op, data, true, not self.isServer), cb)
end

local function control_data(data)
  if data == nil then return '' end
  if type(data) ~= 'string' then data = bytes.of(data, 'data') end
  if #data > 125 then errors.throw('ERR_OUT_OF_RANGE', 'The data size must not be greater than 125 bytes') end
  return data
end

--- ping([data][, mask][, cb]) — data at most 125 bytes.
function WebSocket:ping(data, mask, cb)
  if type(data) == 'function' then data, cb = nil, data elseif type(mask) == 'function' then cb = mask end
  data = control_data(data)
  if self.readyState ~= OPEN then return not_open(self, data, cb) end
  self:_control(frame.OP_PING, data, cb)
end

--- pong([data][, mask][, cb]) — an unsolicited pong (pings are answered
--- automatically).
function WebSocket:pong(data, mask, cb)
  if type(data) == 'function' then data, cb = nil, data elseif type(mask) == 'function' then cb = mask end
  data = control_data(data)
  if self.readyState ~= OPEN then return not_open(self, data, cb) end
  self:_control(frame.OP_PONG, data, cb)
end

-- ---- closing ----

--- close([code[, reason]]): start the closing handshake.  `code` is 1000,
--- one of 1001-1014 that may be sent, or 3000-4999; `reason` at most 123
--- bytes of UTF-8.
function WebSocket:close(code, reason)
  if self.readyState == CLOSED then return end
  if self.readyState == CONNECTING then
    return self:_abort_handshake(errors.new('ERR_WS_CLOSED', 'WebSocket was closed before the connection was established'))
  end
  if code ~= nil and (type(code) ~= 'number' or not frame.valid_close_code(code)) then
    errors.throw('ERR_INVALID_ARG_VALUE', 'First argument must be a valid error code number')
  end
  reason = reason ~= nil and tostring(reason) or ''
  if #reason > 123 then errors.throw('ERR_OUT_OF_RANGE', 'The message must not be greater than 123 bytes') end
  if code == nil and #reason > 0 then code = 1000 end
  if self.readyState == CLOSING then
    if self._close_sent and (self._close_received or self._parser_failed) then finish_socket(self) end
    return
  end
  self.readyState = CLOSING
  local payload = code and (char(floor(code / 256), code % 256) .. reason) or ''
  local socket = self._socket
  self:_write(new_frame(frame.OP_CLOSE, payload, true, not self.isServer), function(err)
    if err then return end
    self._close_sent = true
    if self._close_received or self._parser_failed then finish_socket(self) end
  end)
  self._close_timer = setTimeout(function()
    self._close_timer = nil
    socket:destroy()
  end, CLOSE_TIMEOUT)
  self._close_timer:unref()
end

--- Close the connection now, without the closing handshake.
function WebSocket:terminate()
  if self.readyState == CLOSED then return end
  if self.readyState == CONNECTING then
    return self:_abort_handshake(errors.new('ERR_WS_CLOSED', 'WebSocket was closed before the connection was established'))
  end
  self.readyState = CLOSING
  self._socket:destroy()
end

--- Stop (and start again) reading: an unread socket stops its kernel reads.
function WebSocket:pause() if self._socket then self._socket:pause() end end
function WebSocket:resume() if self._socket then self._socket:resume() end end

-- The client's handshake failed or was given up (lua/luster/ws_client.lua
-- sets _abort for its request).
function WebSocket:_abort_handshake(err)
  self.readyState = CLOSING
  local abort = self._abort
  self._abort = nil
  if abort then abort() end
  if err then self:_event('error', err) end
  self:_closed()
end

M.STATE_NAMES = STATE_NAMES
return M
