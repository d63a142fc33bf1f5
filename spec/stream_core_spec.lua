-- luster.stream: the one stream/backpressure model (API.md "Streams and
-- backpressure"), exercised on in-memory streams.
local stream = require('luster.stream')

local function tick() await(Promise.new(function(r) setImmediate(r) end)) end

-- a source that pushes `n` chunks of `size` bytes whenever it is asked
local function source(n, size)
  local sent, reads = 0, 0
  local s
  s = stream.Readable.new {
    read = function(self)
      reads = reads + 1
      setImmediate(function()
        while sent < n do
          sent = sent + 1
          if not self:push(('x'):rep(size)) then return end
        end
        self:push(nil)
      end)
    end,
  }
  return s, function() return sent, reads end
end

describe('Readable', function()
  it('flows to a data listener and ends once', function()
    local s = source(10, 100)
    local got, ends = 0, 0
    s:on('data', function(c) got = got + #c end)
    s:on('end', function() ends = ends + 1 end)
    await(stream.finished(s))
    tick()
    assert.are.equal(1000, got)
    assert.are.equal(1, ends)
    assert.is_true(s:readableState().ended)
  end)

  it('stops its source at the high-water mark while nobody consumes', function()
    local s, stats = source(1000, 1024)
    assert.are.equal(1024, #await(s:read()))   -- one read starts the source
    for _ = 1, 5 do tick() end
    local sent = stats()
    assert.are.equal(65, sent)     -- the one read, then 64 KiB buffered and push said stop
    assert.are.equal(64 * 1024, s:readableState().length)
    s:pause()
    local total = 0
    s:on('data', function(c) total = total + #c end)
    tick()
    assert.are.equal(0, total)   -- explicitly paused: a listener does not resume it
    s:resume()
    await(stream.finished(s))
    assert.are.equal(999 * 1024, total)
  end)

  it('serves read(), read(n) and readline() in order, nil at the end', function()
    local s = stream.Readable.new { read = function() end }
    setImmediate(function()
      s:push('hello wor')
      s:push('ld\r\nsecond line\nrest')
      s:push('!')
      s:push(nil)
    end)
    assert.are.equal('hello', await(s:read(5)))
    assert.are.equal(' world', await(s:readline()))
    assert.are.equal('second line', await(s:readline()))
    assert.are.equal('rest!', await(s:read(5)))
    assert.is_nil(await(s:read()))
    assert.is_nil(await(s:read()))
  end)

  it('rejects read(n) and readline() with ERR_STREAM_PREMATURE_CLOSE at an early end', function()
    local s = stream.Readable.new { read = function() end }
    setImmediate(function() s:push('abc'); s:push(nil) end)
    local ok, e = pcall(await, s:read(10))
    assert.is_false(ok)
    assert.are.equal('ERR_STREAM_PREMATURE_CLOSE', e.code)
    local s2 = stream.Readable.new { read = function() end }
    setImmediate(function() s2:push('no newline'); s2:push(nil) end)
    ok, e = pcall(await, s2:readline())
    assert.is_false(ok)
    assert.are.equal('ERR_STREAM_PREMATURE_CLOSE', e.code)
  end)

  it('rejects pending reads with the error it was destroyed with', function()
    local s = stream.Readable.new { read = function() end }
    local errs = {}
    s:on('error', function(e) errs[#errs + 1] = e end)
    setImmediate(function() s:destroy(require('luster.errors').new('ECONNRESET', 'reset')) end)
    local ok, e = pcall(await, s:read())
    assert.is_false(ok)
    assert.are.equal('ECONNRESET', e.code)
    tick()
    assert.are.equal(1, #errs)
    assert.is_true(s.destroyed)
  end)

  it('iterates chunks with chunks()', function()
    local s = source(5, 3)
    local n = 0
    for c in s:chunks() do n = n + #c end
    assert.are.equal(15, n)
  end)
end)

describe('Writable', function()
  -- a sink that completes each write after a turn of the loop
  local function sink(log)
    return stream.Writable.new {
      write = function(self, chunk, done)
        log[#log + 1] = chunk
        setImmediate(done)
      end,
    }
  end

  it('returns false past the high-water mark and emits drain when empty', function()
    local log = {}
    local w = sink(log)
    local big = ('y'):rep(40 * 1024)
    assert.is_true(w:write(big))
    assert.is_false(w:write(big))
    assert.are.equal(80 * 1024, w:writableState().length)
    await(require('events').once_promise(w, 'drain'))
    assert.are.equal(0, w:writableState().length)
    assert.are.equal(2, #log)
  end)

  it('writes in order, runs callbacks and finishes', function()
    local log, order = {}, {}
    local w = sink(log)
    for i = 1, 5 do w:write('c' .. i, function() order[#order + 1] = i end) end
    local finished = false
    w:on('finish', function() finished = true end)
    w:finish('last')
    await(stream.finished(w))
    tick()
    assert.are.same({ 'c1', 'c2', 'c3', 'c4', 'c5', 'last' }, log)
    assert.are.same({ 1, 2, 3, 4, 5 }, order)
    assert.is_true(finished)
  end)

  it('completes many synchronous writes without growing the stack', function()
    local n = 0
    local w = stream.Writable.new { write = function(_, chunk, done) n = n + #chunk; done() end }
    w:cork()
    for _ = 1, 100000 do w:write('ab') end
    w:uncork()
    assert.are.equal(200000, n)
  end)

  it('refuses a write after end with ERR_STREAM_WRITE_AFTER_END', function()
    local w = sink({})
    w:finish()
    local ok, e = pcall(w.write, w, 'late')
    assert.is_false(ok)
    assert.are.equal('ERR_STREAM_WRITE_AFTER_END', e.code)
  end)
end)

describe('pipe and Transform', function()
  it('pipes a fast source into a slow sink with bounded buffering', function()
    local src = source(2000, 1024)
    local peak, got = 0, 0
    local dst = stream.Writable.new {
      write = function(_, chunk, done)
        got = got + #chunk
        setImmediate(done)
      end,
    }
    src:on('data', function() peak = math.max(peak, src:readableState().length + dst:writableState().length) end)
    src:pipe(dst)
    await(stream.finished(dst))
    assert.are.equal(2000 * 1024, got)
    assert.is_true(peak <= 192 * 1024, 'buffered ' .. peak)
  end)

  it('transforms with backpressure and flushes at the end', function()
    local upper = stream.Transform.new {
      transform = function(_, chunk, push, done) push(chunk:upper()); done() end,
      flush = function(_, push, done) push('!'); done() end,
    }
    local out = {}
    upper:on('data', function(c) out[#out + 1] = c end)
    upper:write('abc')
    upper:finish('def')
    await(stream.finished(upper))
    assert.are.equal('ABCDEF!', table.concat(out))
  end)

  it('runs a pipeline and reports the first error', function()
    local src = source(3, 10)
    local bad = stream.Transform.new {
      transform = function(_, _, _, done) done(require('luster.errors').new('EBAD', 'bad chunk')) end,
    }
    local dst = stream.Writable.new {}
    local ok, e = pcall(await, stream.pipeline(src, bad, dst))
    assert.is_false(ok)
    assert.are.equal('EBAD', e.code)
  end)
end)
