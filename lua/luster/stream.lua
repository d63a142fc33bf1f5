--- luster.stream — the one stream and backpressure model of the runtime
--- (API.md "Streams and backpressure").  The HTTP request and response use
--- it; sockets, zlib streams, the HTTP client and WebSocket build on it.
---
--- Readable and Writable are classes over EventEmitter with Node's
--- semantics written the Lua way.  A concrete stream inherits one (or
--- Duplex, both) with `Readable.extend(class)` and supplies a few hooks;
--- the model does the buffering, the events and the backpressure.
---
--- READABLE — for the source (the concrete stream):
---   self:push(chunk) -> bool   hand over data; false means "stop
---                              producing until _read() is called again"
---                              (the buffer holds highWaterMark or more)
---   self:push(nil)             the end of the data (EOF)
---   self:destroy(err)          the source failed (or is torn down)
---   hook self:_read()          the consumer wants data: start (or keep)
---                              producing.  Called at the first consumption
---                              and whenever the buffer falls below the
---                              high-water mark after push() said false.
---                              A push-driven source (a socket) just resumes
---                              reading from the kernel here.
---   hook self:_destroy(err)    release the source (optional)
---   hook self:_tick_guard(fn)  optional: run fn(self) for the flow started
---                              on the tick after a 'data' listener was
---                              added, to catch what its listeners raise
--- for the consumer (Node's names):
---   'data'(chunk), 'end', 'error'(err), 'close'
---   on('data') switches to flowing mode (on the next tick, unless
---   pause() was called); pause() / resume() / isPaused()
---   await(s:read())   -> the next chunk, or nil once ended cleanly; rejects
---                        only on an error (ERR_STREAM_PREMATURE_CLOSE if
---                        destroyed before its end without one)
---   await(s:read(n))  -> exactly n bytes; await(s:readline()) -> the next
---                        line without its \n or \r\n (byte protocols:
---                        Redis, SMTP...); both reject with
---                        ERR_STREAM_PREMATURE_CLOSE if the stream ends first
---   for chunk in s:chunks() do ... end   (in a runtime coroutine)
---   await(s:body())   -> everything left, as one string
---   s:pipe(dest[, {['end'] = false}]) -> dest, with backpressure both ways
---   s:unpipe([dest]), s:destroy([err])
---   s:readableState() -> {length=, highWaterMark=, flowing=, ended=}
--- Invariant: the buffer grows past highWaterMark only by what a source
--- pushes after being told false (one read's worth for a socket), so an
--- unread stream holds bounded memory whatever the peer sends.
---
--- WRITABLE — for the sink:
---   hook self:_write(chunk, cb)   write one chunk; call cb([err]) once it
---                                 is taken (synchronously is fine).  One
---                                 at a time: the model queues the rest.
---   hook self:_final(cb)          optional: flush before 'finish'
---   hook self:_queued() -> bytes  optional: bytes the sink itself still
---                                 holds after calling cb (a libuv write
---                                 queue); they count in writableLength,
---                                 and the sink calls self:_drained() when
---                                 they are gone
---   hook self:_destroy(err)       optional
--- for the producer:
---   s:write(chunk[, cb]) -> false once writableLength >= highWaterMark;
---                           'drain' follows when everything is written
---   s:finish([chunk][, cb])       Node's end(); 'finish' once all is written
---   s:destroy([err]), s:cork(), s:uncork()
---   s:writableState() -> {length=, highWaterMark=, needDrain=, ended=,
---                         finished=}
---   Getter names for classes with a function __index: stream.getters
---   (writableLength, writableHighWaterMark, writableEnded,
---   writableFinished, writableNeedDrain, readableLength, readableFlowing,
---   readableEnded, readableHighWaterMark, destroyed).
---
--- State lives in `self._rs` / `self._ws`, made on first use, so a stream
--- that is never streamed (a GET whose handler never reads) costs nothing.
--- A class that already holds data when its state is made (an HTTP request
--- whose body came with its head) overrides `_readable_state`.
local EventEmitter = require('events')
local Promise = require('luster.promise')
local errors = require('luster.errors')
local sched = require('luster.scheduler')

local rawget, rawset, type, concat = rawget, rawset, type, table.concat
local next_tick = sched.next_tick

local M = {}
M.DEFAULT_HIGH_WATER_MARK = 64 * 1024

-- ---- Readable ----

local serve_waiters   -- defined below push's helpers

---@class Readable: EventEmitter
local Readable = EventEmitter.extend({})
M.Readable = Readable

--- Make `class` inherit Readable (its instances use `class` as metatable).
function Readable.extend(class)
  class.__index = class
  return setmetatable(class, { __index = Readable })
end

--- A fresh readable state; `opts.highWaterMark` in bytes.
function Readable:_readable_state(opts)
  local st = {
    hwm = opts and opts.highWaterMark or rawget(self, 'readableHighWaterMark') or M.DEFAULT_HIGH_WATER_MARK,
    buf = false, head = 1, tail = 0, length = 0,   -- buf: made by the first chunk kept
    flowing = nil,       -- nil: no consumer yet; true: flowing; false: paused
    ended = false,       -- the source pushed nil
    end_emitted = false,
    need_read = true,    -- the source waits for _read()
    waiters = nil,       -- pending read() calls: {resolve, reject} pairs
    destroyed = false, errored = nil, pipes = nil,
  }
  rawset(self, '_rs', st)
  return st
end

local function rstate(self) return rawget(self, '_rs') or self:_readable_state() end
M.rstate = rstate

--- Set up the readable side now (constructors may call it with options).
function Readable:initReadable(opts) return self:_readable_state(opts) end

local function shift(st)
  local h = st.head
  if h > st.tail then return nil end
  local chunk = st.buf[h]
  st.buf[h] = nil
  st.head = h + 1
  st.length = st.length - #chunk
  if st.head > st.tail then st.head, st.tail = 1, 0 end
  return chunk
end

local function enqueue(st, chunk)
  local t = st.tail + 1
  local buf = st.buf
  if not buf then buf = {}; st.buf = buf end
  buf[t] = chunk
  st.tail = t
  st.length = st.length + #chunk
end

-- Ask the source for more when a consumer is there and the buffer has room.
local function maybe_read(self, st)
  if st.need_read and not st.ended and not st.destroyed and st.length < st.hwm
      and (st.flowing or st.waiters) then
    st.need_read = false
    local hook = self._read
    if hook then hook(self) end
  end
end

local function emit_end(self, st)
  if st.end_emitted then return end
  st.end_emitted = true
  self:emit('end')
end

-- Flowing mode: hand the buffer to the 'data' listeners until it is empty
-- or a listener pauses.
local function flow_loop(self, st)
  while st.flowing and st.head <= st.tail do
    self:emit('data', shift(st))
  end
end

local function flow(self, st)
  if st.in_flow then return end
  st.in_flow = true
  -- a listener that raises must not leave the stream stuck "in flow"
  local ok, err = pcall(flow_loop, self, st)
  st.in_flow = false
  if not ok then error(err, 0) end
  if st.flowing and st.ended and st.length == 0 then emit_end(self, st) end
  maybe_read(self, st)
end

local function take_waiter(st)
  local w = st.waiters
  local first = w[w.head]
  w[w.head] = nil
  w.head = w.head + 1
  if w.head > w.tail then st.waiters = nil end
  return first
end

local function premature()
  return errors.new('ERR_STREAM_PREMATURE_CLOSE', 'Premature close')
end

-- The whole buffer as one string (read(n) and readline() look across chunks).
local function joined(st)
  if st.tail > st.head then
    local whole = concat(st.buf, '', st.head, st.tail)
    for i = st.head, st.tail do st.buf[i] = nil end
    st.head, st.tail = 1, 1
    st.buf[1] = whole
  end
  local buf = st.buf
  return buf and buf[st.head] or ''
end

-- Take n bytes from the front of the buffer.
local function take(st, n)
  local whole = joined(st)
  local out, rest = whole:sub(1, n), whole:sub(n + 1)
  if rest == '' then
    st.buf[st.head] = nil
    st.head, st.tail = 1, 0
  else
    st.buf[st.head] = rest
  end
  st.length = st.length - #out
  return out
end

-- Answer waiting reads in order, as far as the buffer goes; at the end,
-- plain reads get nil and byte-counting reads fail (they cannot complete).
serve_waiters = function(self, st)
  while st.waiters do
    local w = st.waiters[st.waiters.head]
    local ok, v
    if w[3] then ok, v = w[3](st)
    elseif st.length > 0 then ok, v = true, shift(st) end
    if ok then
      take_waiter(st)[1](v)
    elseif st.ended then
      take_waiter(st)
      if w[3] then w[2](premature()) else w[1](nil) end
    else
      break
    end
  end
end

--- (source) Hand over a chunk, or nil at the end.  Returns false when the
--- source should stop until _read() is called again.
---@param chunk string|nil
---@return boolean
function Readable:push(chunk)
  local st = rstate(self)
  if st.ended or st.destroyed then return false end
  if chunk == nil then
    st.ended = true
    if st.waiters then serve_waiters(self, st) end
    -- `eager` sources (sockets, as after Node's read(0)) end at once when
    -- nothing is buffered, consumer or not
    if st.length == 0 and (st.flowing or st.read_called or st.eager) then emit_end(self, st) end
    return false
  end
  if type(chunk) ~= 'string' then chunk = tostring(chunk) end
  if #chunk > 0 then
    if st.waiters then
      if st.length == 0 and not st.waiters[st.waiters.head][3] then
        take_waiter(st)[1](chunk)
      else
        enqueue(st, chunk)
        serve_waiters(self, st)
      end
    elseif st.flowing and st.length == 0 and not st.in_flow then
      self:emit('data', chunk)
    else
      enqueue(st, chunk)
      if st.flowing then flow(self, st) end
    end
  end
  local ok = st.length < st.hwm
  if not ok then st.need_read = true end
  return ok
end

--- Start or continue delivering 'data' (flowing mode).
function Readable:resume()
  local st = rstate(self)
  st.flowing = true
  flow(self, st)
  return self
end

--- Stop delivering 'data'; what arrives is buffered up to the high-water
--- mark, then the source is stopped.
function Readable:pause()
  rstate(self).flowing = false
  return self
end

function Readable:isPaused() return rstate(self).flowing == false end

local function start_flow(self)
  local st = rstate(self)
  st.flow_scheduled = false
  if st.flowing ~= nil then return end
  local guard = self._tick_guard -- a class may catch its listeners' errors here
  if guard then guard(self, Readable.resume) else self:resume() end
end

-- A 'data' listener starts the flow on the next tick (so that 'end' and
-- 'error' listeners can be added first), unless pause() was called.
function Readable:_listeners_changed(name)
  if name == 'data' then
    local st = rstate(self)
    if st.flowing == nil and not st.flow_scheduled and self:listenerCount('data') > 0 then
      st.flow_scheduled = true
      next_tick(start_flow, self)
    end
  end
end

--- A promise of the next chunk, or of nil once the stream has ended
--- cleanly; rejects with the stream's error.
---@return Promise
function Readable:read()
  local st = rstate(self)
  st.read_called = true
  local chunk = shift(st)
  if chunk then
    maybe_read(self, st)
    return Promise.resolve(chunk)
  end
  if st.errored then return Promise.reject(st.errored) end
  if st.ended then
    emit_end(self, st)
    return Promise.resolve(nil)
  end
  if st.destroyed then return Promise.reject(premature()) end
  local p = Promise.new(function(resolve, reject)
    local w = st.waiters
    if not w then w = { head = 1, tail = 0 }; st.waiters = w end
    w.tail = w.tail + 1
    w[w.tail] = { resolve, reject }
  end)
  maybe_read(self, st)
  return p
end

-- A read that needs more than "a chunk": want(st) answers true, value
-- once the buffer can satisfy it.
local function wait_for(self, want)
  local st = rstate(self)
  st.read_called = true
  if not st.waiters then
    local ok, v = want(st)
    if ok then
      maybe_read(self, st)
      return Promise.resolve(v)
    end
  end
  if st.errored then return Promise.reject(st.errored) end
  if st.ended or st.destroyed then return Promise.reject(premature()) end
  local p = Promise.new(function(resolve, reject)
    local w = st.waiters
    if not w then w = { head = 1, tail = 0 }; st.waiters = w end
    w.tail = w.tail + 1
    w[w.tail] = { resolve, reject, want }
  end)
  maybe_read(self, st)
  return p
end

local function line(st)
  if st.length == 0 then return false end
  local i = joined(st):find('\n', 1, true)
  if not i then return false end
  local l = take(st, i)
  return true, l:sub(-2) == '\r\n' and l:sub(1, -3) or l:sub(1, -2)
end

--- A promise of exactly `n` bytes (n = nil: the next chunk, as read()).
local plain_read = Readable.read
function Readable:read(n)
  if n == nil then return plain_read(self) end
  if type(n) ~= 'number' or n < 0 or n % 1 ~= 0 then
    errors.throw('ERR_INVALID_ARG_VALUE', 'read(n): n must be a whole number of bytes')
  end
  if n == 0 then return Promise.resolve('') end
  return wait_for(self, function(st) if st.length >= n then return true, take(st, n) end return false end)
end

--- A promise of the next line, without its line ending.
function Readable:readline() return wait_for(self, line) end

--- Iterate the chunks in a runtime coroutine: `for c in s:chunks() do ... end`.
function Readable:chunks()
  return function() return await(self:read()) end
end

--- A promise of everything not yet consumed, as one string.
---@return Promise
function Readable:body()
  local st = rstate(self)
  st.read_called = true
  return Promise.new(function(resolve, reject)
    local parts, n = {}, 0
    local step
    local function got(chunk)
      if chunk == nil then return resolve(concat(parts)) end
      n = n + 1
      parts[n] = chunk
      step()
    end
    step = function()
      while true do
        local chunk = shift(st)
        if not chunk then break end
        n = n + 1
        parts[n] = chunk
      end
      if st.errored then return reject(st.errored) end
      if st.ended then
        emit_end(self, st)
        return resolve(concat(parts))
      end
      if st.destroyed then return reject(premature()) end
      local w = st.waiters
      if not w then w = { head = 1, tail = 0 }; st.waiters = w end
      w.tail = w.tail + 1
      w[w.tail] = { got, reject }
      maybe_read(self, st)
    end
    step()
  end)
end


function Readable:readableState()
  local st = rstate(self)
  return { length = st.length, highWaterMark = st.hwm, flowing = st.flowing, ended = st.ended,
    destroyed = st.destroyed }
end

-- ---- Writable ----

---@class Writable: EventEmitter
local Writable = EventEmitter.extend({})
M.Writable = Writable

--- Make `class` inherit Writable.
function Writable.extend(class)
  class.__index = class
  return setmetatable(class, { __index = Writable })
end

function Writable:_writable_state(opts)
  local st = {
    hwm = opts and opts.highWaterMark or rawget(self, 'writableHighWaterMark') or M.DEFAULT_HIGH_WATER_MARK,
    length = 0,          -- bytes accepted by write() and not yet taken by _write
    queue = false, head = 1, tail = 0,   -- queue: made by the first write that waits
    writing = false, corked = 0,
    need_drain = false, ending = false, finished = false, destroyed = false,
    -- the write in flight (do_write)
    written = false, w_n = 0, w_cb = false, in_write = false, w_id = 0, done_id = 0,
  }
  rawset(self, '_ws', st)
  return st
end

local function wstate(self) return rawget(self, '_ws') or self:_writable_state() end
M.wstate = wstate

function Writable:initWritable(opts) return self:_writable_state(opts) end

local function writable_length(self, st)
  local q = self._queued
  return st.length + (q and q(self) or 0)
end

local function finished(self, st, err)
  if err then return self:destroy(err) end
  st.finished = true
  self:emit('finish')
end

-- _final's callback (apart: a function that makes a closure is not
-- compiled by LuaJIT, and finish_maybe runs on every finish())
local function final_callback(self, st)
  return function(err) finished(self, st, err) end
end

local function finish_maybe(self, st)
  if not st.ending or st.finished or st.writing or st.head <= st.tail or st.destroyed then return end
  if st.finishing then return end
  st.finishing = true
  local final = self._final
  if final then final(self, final_callback(self, st)) else finished(self, st) end
end

--- (sink) The sink's own queue (see _queued) is empty: 'drain' if a
--- write() said false.
function Writable:_drained()
  local st = wstate(self)
  if st.need_drain and not st.writing and st.head > st.tail and writable_length(self, st) == 0 then
    st.need_drain = false
    self:emit('drain')
  end
end

-- The queue is empty (or corked): 'drain' if write() said false, 'finish'
-- if ending.
local function queue_idle(self, st)
  if st.need_drain and not st.drain_scheduled then
    -- after the current call returns, as Node does (never inside write())
    st.drain_scheduled = true
    next_tick(function() st.drain_scheduled = false; Writable._drained(self) end)
  end
  finish_maybe(self, st)
end

local function pop(st)
  if st.head > st.tail or st.corked > 0 then return nil end
  local e = st.queue[st.head]
  st.queue[st.head] = nil
  st.head = st.head + 1
  return e[1], e[2]
end

-- Write chunk, then what queues behind it.  A sink that calls back at once
-- is driven by this loop (no recursion however long the queue); one that
-- calls back later continues the queue from its callback.
--
-- One write is in flight at a time, so the callback _write gets is made
-- once per stream (st.written) and the write it answers is in the state
-- (w_n bytes, w_cb the writer's callback): no closure per write.
local do_write

local function written(self, st, err)
  local id = st.w_id   -- the write this answers (the one in flight)
  st.writing = false
  st.length = st.length - st.w_n
  local cb = st.w_cb
  st.w_cb = false
  if err then
    if cb then cb(err) end
    return self:destroy(err)
  end
  if cb then cb() end
  if st.writing then
    return   -- the callback wrote again: that write, in flight, goes on with the queue
  elseif st.in_write and st.w_id == id then
    st.done_id = id -- this write called back at once: its do_write loop goes on
  elseif not st.destroyed then
    local c2, cb2 = pop(st)
    if c2 then do_write(self, st, c2, cb2) else queue_idle(self, st) end
  end
end

local function write_callback(self, st)
  local f = function(err) written(self, st, err) end
  st.written = f
  return f
end

function do_write(self, st, chunk, cb)
  local done = st.written or write_callback(self, st)
  while chunk do
    st.writing = true
    st.in_write = true
    -- which write this is: a callback that writes again runs a do_write of
    -- its own, and only this write's own callback lets this loop go on
    local id = st.w_id + 1
    st.w_id = id
    st.w_n, st.w_cb = #chunk, cb or false
    self:_write(chunk, done)
    st.in_write = false
    if st.done_id ~= id or st.destroyed then return end
    chunk, cb = pop(st)
  end
  queue_idle(self, st)
end

--- Write a chunk; false once writableLength reaches the high-water mark
--- (keep the chunk, wait for 'drain').
---@param chunk string
---@param cb? fun(err?: table)
---@return boolean
function Writable:write(chunk, cb)
  local st = wstate(self)
  if st.ending then errors.throw('ERR_STREAM_WRITE_AFTER_END', 'write after end') end
  if st.destroyed then
    if cb then next_tick(cb, errors.new('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed')) end
    return false
  end
  if type(chunk) ~= 'string' then
    if type(chunk) == 'number' then chunk = tostring(chunk)
    else errors.throw('ERR_INVALID_ARG_TYPE', 'The "chunk" argument must be of type string. Received %s', type(chunk)) end
  end
  st.length = st.length + #chunk
  if st.writing or st.corked > 0 then
    local q = st.queue
    if not q then q = {}; st.queue = q end
    st.tail = st.tail + 1
    q[st.tail] = { chunk, cb }
  else
    do_write(self, st, chunk, cb)
  end
  local ok = writable_length(self, st) < st.hwm
  if not ok then st.need_drain = true end
  return ok
end

--- Write the last chunk (optional) and end; 'finish' once all is written.
---@param chunk? string
---@param cb? function
function Writable:finish(chunk, cb)
  if type(chunk) == 'function' then chunk, cb = nil, chunk end
  local st = wstate(self)
  if chunk ~= nil then self:write(chunk) end
  if cb then self:once('finish', cb) end
  if st.ending then return self end
  st.ending = true
  finish_maybe(self, st)
  return self
end
Writable['end'] = Writable.finish

function Writable:cork() local st = wstate(self); st.corked = st.corked + 1 end
function Writable:uncork()
  local st = wstate(self)
  if st.corked == 0 then return end
  st.corked = st.corked - 1
  if st.corked == 0 and not st.writing and st.head <= st.tail then
    local e = st.queue[st.head]
    st.queue[st.head] = nil
    st.head = st.head + 1
    do_write(self, st, e[1], e[2])
  end
end

function Writable:writableState()
  local st = wstate(self)
  return { length = writable_length(self, st), highWaterMark = st.hwm, needDrain = st.need_drain,
    ended = st.ending, finished = st.finished, destroyed = st.destroyed }
end

--- Drop the writable state of a stream that is idle and as a fresh one
--- would be (nothing queued, not ending, no custom high-water mark): an
--- idle pooled socket or WebSocket then holds none; the next write makes
--- it again (wstate).
function M.compact(self)
  local st = rawget(self, '_ws')
  if not st or st.length ~= 0 or st.writing or st.in_write or st.corked ~= 0 or st.need_drain
      or st.ending or st.finishing or st.finished or st.destroyed or st.errored
      or st.head <= st.tail or st.hwm ~= M.DEFAULT_HIGH_WATER_MARK
      or rawget(self, 'writableHighWaterMark') then
    return
  end
  local q = self._queued
  if q and q(self) ~= 0 then return end
  rawset(self, '_ws', nil)
end

--- Drop the readable state of a stream that holds nothing and waits for
--- nothing, when the class makes an equivalent one again on demand
--- (net.Socket: an eager socket; see its _readable_state).  Not when paused
--- (the source was stopped) nor with a custom high-water mark.
function M.compact_readable(self)
  local st = rawget(self, '_rs')
  if not st or st.length ~= 0 or st.ended or st.end_emitted or st.destroyed or st.errored
      or st.waiters or st.in_flow or st.flow_scheduled or st.pipes or st.flowing == false
      or st.hwm ~= M.DEFAULT_HIGH_WATER_MARK or rawget(self, 'readableHighWaterMark') then
    return
  end
  rawset(self, '_rs', nil)
end

--- (for an internal consumer taking over a readable) Everything buffered,
--- as one string or nil, the buffer left empty.
function M.take_buffered(self)
  local st = rawget(self, '_rs')
  if not st or st.length == 0 then return nil end
  local whole = joined(st)
  st.buf[st.head] = nil
  st.head, st.tail, st.length = 1, 0, 0
  return whole
end

-- ---- both ----

-- Tear down: waiting readers reject, 'error' (when err) and 'close' follow
-- on the next tick.  Unlike Node, an 'error' nobody listens for is not
-- raised: it would end the process from a tick nobody can catch, and the
-- stream's readers and writers see the error anyway (read() rejects,
-- write() says false).
local function destroy(self, err)
  local rs, ws = rawget(self, '_rs'), rawget(self, '_ws')
  if (rs and rs.destroyed) or (ws and ws.destroyed) or rawget(self, 'destroyed') then return self end
  rawset(self, 'destroyed', true)
  if rs then
    rs.destroyed = true
    if err then rs.errored = err end
    while rs.waiters do take_waiter(rs)[2](err or premature()) end
  end
  if ws then ws.destroyed = true end
  local hook = self._destroy
  if hook then hook(self, err) end
  next_tick(function()
    if err and self:listenerCount('error') > 0 then self:emit('error', err) end
    self:emit('close', err ~= nil)   -- hadError, as net.Socket's 'close' has
  end)
  return self
end
Readable.destroy = destroy
Writable.destroy = destroy

--- Duplex: both sides (a socket).  Methods that exist on both (destroy) are
--- shared; the readable's `_listeners_changed` is kept.
---@class Duplex: Readable, Writable
local Duplex = Readable.extend({})
for k, v in pairs(Writable) do
  if k ~= '__index' and Duplex[k] == nil and rawget(Readable, k) == nil then Duplex[k] = v end
end
M.Duplex = Duplex
function Duplex.extend(class)
  class.__index = class
  return setmetatable(class, { __index = Duplex })
end

-- ---- constructors from hooks: Readable.new{read = fn}, Writable.new{write = fn} ----

local function from_hooks(class, opts)
  local self = setmetatable({}, class)
  if opts then
    for _, k in ipairs { 'read', 'write', 'final', 'destroy' } do
      if opts[k] then self['_' .. k] = opts[k] end
    end
    if opts.highWaterMark then
      if self.initReadable then self:initReadable(opts) end
      if self.initWritable then self:initWritable(opts) end
    end
  end
  return self
end
function Readable.new(opts) return from_hooks(Readable, opts) end
function Writable.new(opts) return from_hooks(Writable, opts) end
function Duplex.new(opts) return from_hooks(Duplex, opts) end

-- ---- getters, for classes whose __index is a function ----

M.getters = {
  readableLength = function(s) return rstate(s).length end,
  readableHighWaterMark = function(s) return rstate(s).hwm end,
  readableFlowing = function(s) return rstate(s).flowing end,
  readableEnded = function(s) return rstate(s).end_emitted end,
  writableLength = function(s) return writable_length(s, wstate(s)) end,
  writableHighWaterMark = function(s) return wstate(s).hwm end,
  writableEnded = function(s) return wstate(s).ending end,
  writableFinished = function(s) return wstate(s).finished end,
  writableNeedDrain = function(s) return wstate(s).need_drain end,
}

--- An __index function for `class` that also answers the getters above.
--- A class (and its subclasses) may add getters of its own in
--- `class._getters` (net.Socket's addresses).
function M.index(class)
  local getters = M.getters
  return function(t, k)
    local v = class[k]
    if v ~= nil then return v end
    local g = getters[k]
    if g then return g(t) end
    local own = class._getters
    g = own and own[k]
    if g then return g(t) end
    return nil
  end
end

-- pipe and unpipe (lua/luster/stream_pipe.lua)
require('luster.stream_pipe')(Readable, rstate)

-- Transform, PassThrough, finished and pipeline build on the above
-- (lua/luster/stream_transform.lua), loaded on first use.
setmetatable(M, { __index = function(_, k)
  if k == 'Transform' or k == 'PassThrough' or k == 'finished' or k == 'pipeline' then
    return require('luster.stream_transform')[k]
  end
end })

return M
