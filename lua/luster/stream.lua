--- luster.stream — the one stream and backpressure model (API.md "Streams
--- and backpressure"), under every readable and writable: sockets, TLS,
--- the HTTP client, zlib streams, WebSocket.  Node's semantics, reduced to
--- what those need:
---
--- Readable (implementations define `_read()` and call `push(chunk)`, and
--- `push(nil)` at the end):
---   * `push` returns false once `readableHighWaterMark` bytes are buffered:
---     the source must stop (e.g. read_stop) until `_read()` is called again.
---   * Flowing mode ('data' listener, `resume()`, `pipe`) hands chunks out as
---     they come; `pause()` buffers them.  'end' comes once, after the last
---     chunk was consumed.
---   * The coroutine form: `await(s:read())` the next chunk or nil at a clean
---     end; `await(s:read(n))` exactly n bytes; `await(s:readline())` a line
---     without its `\n`/`\r\n`.  The last two reject with
---     ERR_STREAM_PREMATURE_CLOSE if the stream ends first; all reject with
---     the stream's error.  When the value is already buffered it is
---     returned as is (await passes plain values through), so a driver
---     reading a buffered reply pays no promise.
--- Writable (implementations define `_write(chunk, done)`, and optionally
--- `_final(done)`):
---   * `write(chunk[, cb])` returns false once `writableHighWaterMark` bytes
---     are queued; 'drain' follows when the queue is empty.  One `_write` at a
---     time; the rest waits in order.
---   * `finish([chunk][, cb])` (Node's end()): 'finish' once everything was
---     written and `_final` is done; then the stream is destroyed ('close')
---     unless `autoDestroy = false`.
--- Both: `destroy([err])` (implementations may define `_destroy(err)`):
---   'error' (if err) then 'close', each once; pending reads reject.
--- Duplex = both on one object; Transform = a Duplex whose
--- `_transform(chunk, push, done)` / `_flush(push, done)` map input to output,
--- holding `done` while the readable side is full (that is its backpressure).
local EventEmitter = require('events')
local errors = require('luster.errors')
local Promise = require('luster.promise')

local type, tostring, concat = type, tostring, table.concat

local M = {}
M.DEFAULT_HIGH_WATER_MARK = 64 * 1024

local nextTick = function(...) return process.nextTick(...) end

local function stream_error(code, msg) return errors.new(code, msg) end

local function bytes_of(chunk)
  if type(chunk) == 'string' then return chunk end
  return require('luster.bytes').of(chunk, 'chunk')
end

-- ============================================================== Readable

local R = {}   -- Readable methods, mixed into Readable, Duplex, Transform

--- Set up the readable half of `self`.  opts: highWaterMark, objectMode.
function M.init_readable(self, opts)
  opts = opts or {}
  self._r = {
    hwm = opts.readableHighWaterMark or opts.highWaterMark or M.DEFAULT_HIGH_WATER_MARK,
    object = opts.objectMode or opts.readableObjectMode or false,
    buf = {}, head = 1, tail = 0, length = 0,
    flowing = nil,        -- nil: not yet decided; true; false (paused)
    ended = false,        -- push(nil) was called
    need_read = true,     -- _read must be called before more data comes
    waiters = nil,        -- pending read()/read(n)/readline() promises
    flow_scheduled = false,
  }
  self.readable = true
  self.readableEnded = false
  self.destroyed = false
  return self
end

local function rlen(r, chunk) return r.object and 1 or #chunk end

local function shift(r)
  local c = r.buf[r.head]
  r.buf[r.head] = nil
  r.head = r.head + 1
  r.length = r.length - rlen(r, c)
  return c
end

local function emit_end(self)
  local r = self._r
  if r.end_emitted or r.length > 0 or not r.ended then return end
  r.end_emitted = true
  self.readableEnded = true
  self.readable = false
  nextTick(function()
    self:emit('end')
    local w = self._w
    if self._auto_destroy ~= false and (not w or w.finished) then self:destroy() end
  end)
end

-- Ask the source for more when there is room and it was told to stop.
local function kick(self)
  local r = self._r
  if r.need_read and not r.ended and not self.destroyed and r.length < r.hwm then
    r.need_read = false
    self:_read()
  end
end
R._kick = kick

-- Join the whole buffer into one string (for read(n) and readline).
local function joined(r)
  if r.tail - r.head >= 1 then
    local s = concat(r.buf, '', r.head, r.tail)
    for i = r.head, r.tail do r.buf[i] = nil end
    r.head, r.tail = 1, 1
    r.buf[1] = s
  end
  return r.buf[r.head] or ''
end

-- Take `n` bytes from the front of a byte buffer.
local function take(r, n)
  local s = joined(r)
  local out = s:sub(1, n)
  local rest = s:sub(n + 1)
  r.buf[r.head] = rest ~= '' and rest or nil
  if rest == '' then r.head, r.tail = 1, 0 end
  r.length = r.length - #out
  return out
end

-- Try to answer a waiter from the buffer: returns true, value when it can.
local function answer(self, kind, n)
  local r = self._r
  if kind == 'chunk' then
    if r.length > 0 then return true, shift(r) end
    if r.ended or (self.destroyed and not self._error) then return true, nil end
  elseif kind == 'n' then
    if r.length >= n then return true, take(r, n) end
  else -- line
    if r.length > 0 then
      local s = joined(r)
      local i = s:find('\n', 1, true)
      if i then
        local line = take(r, i)
        return true, line:sub(-2) == '\r\n' and line:sub(1, -3) or line:sub(1, -2)
      end
    end
  end
  if r.ended or self.destroyed then
    return false, self._error or stream_error('ERR_STREAM_PREMATURE_CLOSE', 'Premature close')
  end
  return nil
end

-- Settle pending reads in order, as far as the buffer goes.
local function serve_waiters(self)
  local r = self._r
  local ws = r.waiters
  while ws and ws.first <= ws.last do
    local w = ws[ws.first]
    local ok, v = answer(self, w.kind, w.n)
    if ok == nil then break end
    ws[ws.first] = nil
    ws.first = ws.first + 1
    if ok then w.resolve(v) else w.reject(v) end
  end
  if r.ended then emit_end(self) end
end

local function flow(self)
  local r = self._r
  r.flow_scheduled = false
  if r.in_flow then return end
  r.in_flow = true
  while r.flowing and r.length > 0 and not self.destroyed do
    self:emit('data', shift(r))
  end
  r.in_flow = false
  if r.ended then emit_end(self) end
  if r.flowing then kick(self) end
end

--- Hand a chunk to the consumer (nil: the end).  False means "stop".
function R:push(chunk)
  local r = self._r
  if chunk == nil then
    r.ended = true
    if r.waiters then serve_waiters(self) end
    if r.flowing and r.length > 0 and not r.in_flow then flow(self) end
    emit_end(self)
    return false
  end
  if r.ended or self.destroyed then return false end
  if not r.object then
    chunk = bytes_of(chunk)
    if #chunk == 0 then return true end
  end
  if r.flowing and r.length == 0 and not r.in_flow and not r.waiters then
    self:emit('data', chunk)   -- the common case: straight to the listener
  else
    r.tail = r.tail + 1
    r.buf[r.tail] = chunk
    r.length = r.length + rlen(r, chunk)
    if r.waiters then serve_waiters(self) end
    if r.flowing and not r.in_flow then flow(self) end
  end
  if r.length >= r.hwm then
    r.need_read = true
    return false
  end
  return true
end

--- Put a chunk back at the front.
function R:unshift(chunk)
  local r = self._r
  if r.head > 1 then r.head = r.head - 1 else table.insert(r.buf, 1, chunk); r.tail = r.tail + 1 end
  r.buf[r.head] = chunk
  r.length = r.length + rlen(r, chunk)
end

function R:_read() end

--- Switch to flowing mode: buffered chunks are emitted as 'data'.
function R:resume()
  local r = self._r
  r.flowing = true
  self.readableFlowing = true
  if not r.flow_scheduled then
    r.flow_scheduled = true
    nextTick(flow, self)
  end
  return self
end

--- Stop emitting 'data'; chunks are buffered up to the high-water mark.
function R:pause()
  self._r.flowing = false
  self.readableFlowing = false
  return self
end

function R:isPaused() return self._r.flowing == false end

local function wait(self, kind, n)
  local r = self._r
  if r.flowing == nil then r.flowing = false end
  if not (r.waiters and r.waiters.first <= r.waiters.last) then
    local ok, v = answer(self, kind, n)
    if ok then
      kick(self)
      if r.ended then emit_end(self) end
      return v
    end
    if ok == false then return Promise.reject(v) end
  end
  return Promise.new(function(resolve, reject)
    r.waiters = r.waiters or { first = 1, last = 0 }
    local ws = r.waiters
    ws.last = ws.last + 1
    ws[ws.last] = { kind = kind, n = n, resolve = resolve, reject = reject }
    kick(self)
  end)
end

--- The next chunk (or nil at the end), or exactly `n` bytes.
function R:read(n)
  if n == nil then return wait(self, 'chunk') end
  if type(n) ~= 'number' or n < 0 or n ~= math.floor(n) then
    error(stream_error('ERR_INVALID_ARG_VALUE', 'read(n): n must be a whole number of bytes'), 2)
  end
  if n == 0 then return '' end
  return wait(self, 'n', n)
end

--- The next line, without its line ending.
function R:readline() return wait(self, 'line') end

--- `for chunk in s:chunks() do ... end` (inside a runtime coroutine).
function R:chunks()
  return function() return await(self:read()) end
end

--- Pipe into `dest`, honouring both sides' backpressure; ends dest at the
--- end unless opts['end'] == false.  Returns dest.
function R:pipe(dest, opts)
  local src = self
  local function ondata(chunk)
    if dest:write(chunk) == false then src:pause() end
  end
  local function ondrain() if src._r.flowing == false then src:resume() end end
  dest:on('drain', ondrain)
  src:on('data', ondata)
  src._pipes = src._pipes or {}
  src._pipes[dest] = { data = ondata, drain = ondrain }
  if not (opts and opts['end'] == false) then
    src:once('end', function() dest:finish() end)
  end
  if dest.emit then dest:emit('pipe', src) end
  src:resume()
  return dest
end

function R:unpipe(dest)
  local p = self._pipes and self._pipes[dest]
  if p then
    self:removeListener('data', p.data)
    dest:removeListener('drain', p.drain)
    self._pipes[dest] = nil
  end
  return self
end

function R:setEncoding() return self end

-- ============================================================== Writable

local W = {}

--- Set up the writable half of `self`.  opts: highWaterMark, objectMode.
function M.init_writable(self, opts)
  opts = opts or {}
  self._w = {
    hwm = opts.writableHighWaterMark or opts.highWaterMark or M.DEFAULT_HIGH_WATER_MARK,
    object = opts.objectMode or opts.writableObjectMode or false,
    length = 0, queue = {}, qhead = 1, qtail = 0,
    writing = false, ended = false, finished = false, need_drain = false,
    corked = 0,
  }
  self.writable = true
  self.writableEnded = false
  self.writableFinished = false
  self.writableHighWaterMark = self._w.hwm
  self.writableLength = 0
  self.destroyed = false
  if opts.autoDestroy == false then self._auto_destroy = false end
  return self
end

local function finish_maybe(self)
  local w = self._w
  if not w.ended or w.finished or w.finishing or w.writing or w.qhead <= w.qtail or self.destroyed then return end
  w.finishing = true
  local function done(err)
    if err then return self:destroy(err) end
    w.finished = true
    self.writableFinished = true
    nextTick(function()
      self:emit('finish')
      local r = self._r
      if self._auto_destroy ~= false and (not r or r.end_emitted) then self:destroy() end
    end)
  end
  if self._final then self:_final(done) else done() end
end

local do_write

local function after_write(self, len, cb, err, sync)
  local w = self._w
  w.length = w.length - len
  self.writableLength = w.length
  w.writing = false
  if err then
    if cb then nextTick(cb, err) end
    return self:destroy(err)
  end
  if cb then if sync then nextTick(cb) else cb() end end
  if not w.in_flush then
    -- completed later: start the next queued write, then maybe drain
    while not w.writing and w.qhead <= w.qtail and w.corked == 0 and not self.destroyed do
      local item = w.queue[w.qhead]
      w.queue[w.qhead] = nil
      w.qhead = w.qhead + 1
      do_write(self, item[1], item[2])
    end
  end
  if w.length == 0 and w.need_drain and not w.writing then
    w.need_drain = false
    if sync then nextTick(function() self:emit('drain') end) else self:emit('drain') end
  end
  if w.length == 0 then finish_maybe(self) end
end

do_write = function(self, chunk, cb)
  local w = self._w
  -- a loop, not recursion: while each _write completes synchronously, the
  -- queue is emptied here (after_write leaves it to us, see in_flush)
  while true do
    local len = w.object and 1 or #chunk
    w.writing = true
    local sync, called = true, false
    local item_cb = cb
    w.in_flush = true
    self:_write(chunk, function(err)
      if called then return end
      called = true
      after_write(self, len, item_cb, err, sync)
    end)
    w.in_flush = false
    sync = false
    if not (called and not w.writing and w.qhead <= w.qtail and w.corked == 0 and not self.destroyed) then
      return
    end
    local item = w.queue[w.qhead]
    w.queue[w.qhead] = nil
    w.qhead = w.qhead + 1
    chunk, cb = item[1], item[2]
  end
end

--- Queue a chunk; false once the queue holds the high-water mark or more.
function W:write(chunk, cb)
  local w = self._w
  if type(cb) ~= 'function' then cb = nil end
  if w.ended then
    local err = stream_error('ERR_STREAM_WRITE_AFTER_END', 'write after end')
    nextTick(function()
      if cb then cb(err) end
      self:emit('error', err)
    end)
    return false
  end
  if self.destroyed then
    local err = stream_error('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed')
    if cb then nextTick(cb, err) end
    return false
  end
  if not w.object then chunk = bytes_of(chunk) end
  local len = w.object and 1 or #chunk
  w.length = w.length + len
  self.writableLength = w.length
  local ret = w.length < w.hwm
  if not ret then w.need_drain = true end
  if w.writing or w.corked > 0 or w.qhead <= w.qtail then
    w.qtail = w.qtail + 1
    w.queue[w.qtail] = { chunk, cb }
  else
    do_write(self, chunk, cb)
  end
  return ret
end

function W:cork() self._w.corked = self._w.corked + 1 end

function W:uncork()
  local w = self._w
  if w.corked > 0 then w.corked = w.corked - 1 end
  if w.corked == 0 and not w.writing and w.qhead <= w.qtail then
    local item = w.queue[w.qhead]
    w.queue[w.qhead] = nil
    w.qhead = w.qhead + 1
    do_write(self, item[1], item[2])
  end
end

--- Node's end(): write the last chunk (if any), then 'finish'.
function W:finish(chunk, cb)
  if type(chunk) == 'function' then chunk, cb = nil, chunk end
  local w = self._w
  if chunk ~= nil then self:write(chunk) end
  if cb then
    if w.finished then nextTick(cb) else self:once('finish', cb) end
  end
  if w.ended then return self end
  w.ended = true
  self.writableEnded = true
  self.writable = false
  w.corked = 0
  if not w.writing and w.qhead <= w.qtail then self:uncork() end
  finish_maybe(self)
  return self
end
W['end'] = W.finish

function W:_write(chunk, done) done() end

-- ============================================================== both

local B = {}

--- Tear the stream down; 'error' (when err) and 'close' follow, each once.
function B:destroy(err)
  if self.destroyed then return self end
  self.destroyed = true
  self.readable, self.writable = false, false
  if err then self._error = err end
  local r = self._r
  if r and r.waiters then
    local ws = r.waiters
    r.waiters = nil
    for i = ws.first, ws.last do
      local w = ws[i]
      local ok, v = answer(self, w.kind, w.n)
      if ok then w.resolve(v) else w.reject(err or v) end
    end
  end
  if self._destroy then self:_destroy(err) end
  nextTick(function()
    if err then self:emit('error', err) end
    self.closed = true
    self:emit('close', self._error ~= nil)   -- hadError, as net.Socket's
  end)
  return self
end

-- ============================================================== classes

local function class(...)
  local c = EventEmitter.extend({})
  for i = 1, select('#', ...) do
    for k, v in pairs((select(i, ...))) do c[k] = v end
  end
  return c
end

--- Listening for 'data' starts the flow, as in Node.
local function on(self, name, fn)
  EventEmitter.on(self, name, fn)
  if name == 'data' and self._r and self._r.flowing ~= false then self:resume() end
  return self
end

M.Readable = class(R, B, { on = on, addListener = on })
M.Writable = class(W, B)
M.Duplex = class(R, W, B, { on = on, addListener = on })

--- A readable, writable or duplex with the given hooks:
--- M.Readable.new{ read = fn } etc. (the hooks are methods on the object).
local function ctor(cls, readable, writable)
  return function(opts)
    local self = setmetatable({}, cls)
    if readable then M.init_readable(self, opts) end
    if writable then M.init_writable(self, opts) end
    if opts then   -- only hooks given here become own fields (subclasses keep theirs)
      if opts.read then self._read = opts.read end
      if opts.write then self._write = opts.write end
      if opts.final then self._final = opts.final end
      if opts.destroy then self._destroy = opts.destroy end
    end
    return self
  end
end
M.Readable.new = ctor(M.Readable, true, false)
M.Writable.new = ctor(M.Writable, false, true)
M.Duplex.new = ctor(M.Duplex, true, true)

-- ---------------------------------------------------------------- Transform

local T = {}

function T:_write(chunk, done)
  local function push(out)
    if out ~= nil and R.push(self, out) == false then self._t_full = true end
  end
  self:_transform(chunk, push, function(err, out)
    if err then return done(err) end
    push(out)
    if self._t_full then self._t_pending = done else done() end
  end)
end

function T:_read()
  self._t_full = false
  local d = self._t_pending
  if d then self._t_pending = nil; d() end
end

function T:_final(done)
  local function finish_read(err)
    if err then return done(err) end
    R.push(self, nil)
    done()
  end
  if self._flush then
    self:_flush(function(out) if out ~= nil then R.push(self, out) end end, finish_read)
  else
    finish_read()
  end
end

function T:_transform(chunk, push, done) done(nil, chunk) end

M.Transform = class(R, W, B, T, { on = on, addListener = on })
M.Transform.new = function(opts)
  local self = ctor(M.Transform, true, true)(opts)
  if opts then
    if opts.transform then self._transform = opts.transform end
    if opts.flush then self._flush = opts.flush end
  end
  return self
end
M.PassThrough = M.Transform

--- Make a class inherit one of the stream classes (like EventEmitter.extend).
function M.extend(base, cls)
  for k, v in pairs(base) do if cls[k] == nil and k ~= '__index' then cls[k] = v end end
  cls.__index = cls
  return setmetatable(cls, getmetatable(base))
end

--- Resolves when `s` has finished or ended (or closed); rejects on error.
function M.finished(s)
  return Promise.new(function(resolve, reject)
    local done = false
    local function ok() if not done then done = true; resolve() end end
    s:once('error', function(e) if not done then done = true; reject(e) end end)
    if s._w then s:once('finish', ok) else s:once('end', ok) end
    s:once('close', function()
      if not done then
        done = true
        local finished = (s._w and s._w.finished) or (s._r and s._r.end_emitted)
        if finished then resolve() else reject(stream_error('ERR_STREAM_PREMATURE_CLOSE', 'Premature close')) end
      end
    end)
  end)
end

--- pipeline(src, ..., dest): pipe each into the next; the promise resolves
--- when dest has finished, and any error destroys every stream.
function M.pipeline(...)
  local list = { ... }
  for i = 1, #list - 1 do list[i]:pipe(list[i + 1]) end
  local failed = false
  for _, s in ipairs(list) do
    s:on('error', function(e)
      if failed then return end
      failed = true
      for _, o in ipairs(list) do if o ~= s then o:destroy(e) end end
    end)
  end
  return M.finished(list[#list])
end

return M
