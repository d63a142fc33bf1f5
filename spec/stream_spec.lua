-- luster.stream: the one readable/writable model (API.md "Streams and
-- backpressure").  Each test runs in the entry coroutine, so it may await.
local stream = require('luster.stream')
local Readable, Writable = stream.Readable, stream.Writable

local function tick() await(Promise.new(function(r) setImmediate(r) end)) end

-- A push-driven source (like a socket): produces pieces while allowed,
-- records when it was told to stop and asked to go on.
local Source = Readable.extend({})
local function source(pieces, hwm)
  local s = setmetatable({ pieces = pieces, i = 0, stops = 0, reads = 0 }, Source)
  s:initReadable({ highWaterMark = hwm })
  return s
end
function Source:_read()
  self.reads = self.reads + 1
  self.producing = true
  setImmediate(function() self:produce() end)
end
function Source:produce()
  while self.producing do
    self.i = self.i + 1
    local p = self.pieces[self.i]
    if p == nil then self:push(nil); self.producing = false; return end
    if not self:push(p) then self.producing = false; self.stops = self.stops + 1 end
  end
end

-- A sink that takes a chunk only when released (a slow reader).
local Sink = Writable.extend({})
local function sink(hwm)
  local s = setmetatable({ got = {}, pending = {} }, Sink)
  s:initWritable({ highWaterMark = hwm })
  return s
end
function Sink:_write(chunk, cb) self.pending[#self.pending + 1] = function() self.got[#self.got + 1] = chunk; cb() end end
function Sink:release()
  local p = self.pending
  self.pending = {}
  for _, f in ipairs(p) do f() end
end

local function pieces(n, size)
  local t = {}
  for i = 1, n do t[i] = (string.char(96 + i % 26)):rep(size) end
  return t
end

describe('Readable', function()
  it('stops its source once a high-water mark is buffered and nobody reads', function()
    local s = source(pieces(100, 1000), 4000)
    s:read() -- one consumer call starts the source
    for _ = 1, 10 do tick() end
    assert.are.equal(1, s.stops)
    assert.is_true(s:readableState().length <= 4000)
    assert.is_true(s.i < 10)
  end)

  it('resumes the source as read() consumes, and read() gives nil at the end', function()
    local s = source(pieces(50, 1000), 2000)
    local total, chunks = 0, 0
    while true do
      local c = await(s:read())
      if c == nil then break end
      total, chunks = total + #c, chunks + 1
      assert.is_true(s:readableState().length <= 3000)
    end
    assert.are.equal(50000, total)
    assert.are.equal(50, chunks)
    assert.is_nil(await(s:read()))
    assert.is_true(s.reads > 1)
  end)

  it('flows into data listeners, pauses and resumes, and ends', function()
    local s = source(pieces(20, 100), 300)
    local got, ended = 0, false
    s:on('data', function(c)
      got = got + #c
      if got == 500 then
        s:pause()
        setTimeout(function() s:resume() end, 20)
      end
    end)
    s:on('end', function() ended = true end)
    await(Promise.new(function(r) setTimeout(r, 10) end))
    assert.are.equal(500, got)
    assert.is_true(s:isPaused())
    assert.is_true(s:readableState().length <= 400)
    await(Promise.new(function(r) setTimeout(r, 50) end))
    assert.are.equal(2000, got)
    assert.is_true(ended)
  end)

  it('collects the whole rest with body()', function()
    local s = source(pieces(30, 10), 25)
    assert.are.equal(table.concat(pieces(30, 10)), await(s:body()))
  end)

  it('rejects a pending read with the error it is destroyed with', function()
    local s = source({}, 10)
    local p = s:read()
    local seen
    s:on('error', function(e) seen = e end)
    s:destroy({ code = 'EBOOM' })
    local ok, e = pcall(await, p)
    assert.is_false(ok)
    assert.are.equal('EBOOM', e.code)
    tick()
    assert.are.equal('EBOOM', seen.code)
  end)
end)

describe('destroy', function()
  it('emits close, and does not raise an error nobody listens for', function()
    local s = source({}, 10)
    local closed = false
    s:on('close', function() closed = true end)
    s:destroy({ code = 'EQUIET' })
    tick()
    assert.is_true(closed)
    local ok, e = pcall(await, s:read())
    assert.is_false(ok)
    assert.are.equal('EQUIET', e.code)
  end)

  it('rejects a pending read with ERR_STREAM_PREMATURE_CLOSE when destroyed without an error', function()
    local s = source({}, 10)
    local p = s:read()
    s:destroy()
    local ok, e = pcall(await, p)
    assert.is_false(ok)
    assert.are.equal('ERR_STREAM_PREMATURE_CLOSE', e.code)
  end)
end)

describe('Writable', function()
  it('returns false from write once the high-water mark is queued, then emits drain', function()
    local w = sink(100)
    assert.is_true(w:write(('x'):rep(60)))
    assert.is_false(w:write(('x'):rep(60)))
    assert.are.equal(120, w.writableLength or w:writableState().length)
    local drained = false
    w:on('drain', function() drained = true end)
    w:release() -- the first chunk is taken; the second goes to _write
    w:release()
    tick()
    assert.is_true(drained)
    assert.are.equal(0, w:writableState().length)
    assert.are.equal(2, #w.got)
  end)

  it('emits finish after the last queued chunk is written', function()
    local w = sink(100)
    w:write('a')
    w:write('b')
    local finished = false
    w:finish('c', function() finished = true end)
    assert.is_false(finished)
    assert.has_error(function() w:write('d') end)
    for _ = 1, 3 do w:release() end
    assert.is_true(finished)
    assert.are.same({ 'a', 'b', 'c' }, w.got)
  end)
end)

describe('Writable over a sink that calls back at once', function()
  local Sync = Writable.extend({})
  function Sync:_write(chunk, cb) self.n = self.n + #chunk; cb() end

  it('writes a long corked queue without growing the stack, then finishes', function()
    local w = setmetatable({ n = 0 }, Sync)
    w:cork()
    for _ = 1, 100000 do w:write('ab') end
    assert.are.equal(0, w.n)
    assert.are.equal(200000, w:writableState().length)
    local finished = false
    w:on('finish', function() finished = true end)
    w:uncork()
    w:finish()
    assert.are.equal(200000, w.n)
    assert.is_true(finished)
  end)
end)

describe('pipe', function()
  it('moves everything with bounded buffers on both sides and ends the destination', function()
    local s = source(pieces(200, 100), 500)
    local w = sink(300)
    local finished, max_r, max_w = false, 0, 0
    w:on('finish', function() finished = true end)
    s:pipe(w)
    for _ = 1, 2000 do
      if finished then break end
      tick()
      max_r = math.max(max_r, s:readableState().length)
      max_w = math.max(max_w, w:writableState().length)
      w:release()
    end
    assert.is_true(finished)
    assert.are.equal(20000, #table.concat(w.got))
    assert.are.equal(table.concat(pieces(200, 100)), table.concat(w.got))
    assert.is_true(max_r <= 600, 'readable buffered ' .. max_r)
    assert.is_true(max_w <= 400, 'writable queued ' .. max_w)
  end)
end)

describe('Duplex', function()
  -- an echo socket: what is written comes back to be read
  local Echo = stream.Duplex.extend({})
  Echo.__index = stream.index(Echo)
  function Echo:_read() end
  function Echo:_write(chunk, cb) self:push(chunk:upper()); cb() end
  function Echo:_final(cb) self:push(nil); cb() end

  it('is readable and writable at once, with the getters', function()
    local e = setmetatable({}, Echo)
    e:initReadable({ highWaterMark = 4 })
    assert.is_true(e:write('ab'))
    assert.is_true(e:write('cd'))
    assert.are.equal(4, e.readableLength)
    assert.are.equal(4, e.readableHighWaterMark)
    assert.are.equal(0, e.writableLength)
    assert.is_false(e.writableEnded)
    e:finish()
    assert.is_true(e.writableEnded)
    assert.is_true(e.writableFinished)
    assert.are.equal('ABCD', await(e:body()))
    assert.is_true(e.readableEnded)
  end)
end)

describe('Writable callbacks that write again', function()
  it('keeps order and calls every callback once, sync and async sinks mixed', function()
    local stream = require('luster.stream')
    local got, calls = {}, {}
    local n = 0
    local w = stream.Writable.new { write = function(_, chunk, done)
      got[#got + 1] = chunk
      n = n + 1
      -- every third write completes later, the others at once
      if n % 3 == 0 then setTimeout(function() done() end, 1) else done() end
    end }
    local finished = false
    w:on('finish', function() finished = true end)
    local function write(i)
      w:write('c' .. i, function()
        calls[#calls + 1] = i
        if i < 12 and i % 2 == 1 then write(i + 100) end   -- a callback that writes again
        if #calls == 18 then w:finish() end
      end)
    end
    for i = 1, 12 do write(i) end
    await(Promise.new(function(r) setTimeout(r, 100) end))
    assert.is_true(finished)
    local seen = {}
    for _, i in ipairs(calls) do
      assert.is_nil(seen[i], 'callback twice: ' .. i)
      seen[i] = true
    end
    assert.are.equal(#got, #calls)
    -- one write at a time: each callback in the order of the writes
    for k, i in ipairs(calls) do assert.are.equal('c' .. i, got[k]) end
    assert.are.equal(18, #got)
    assert.are.equal(0, w:writableState().length)
  end)
end)
