--- luster.zlib_stream — zlib.createGzip() and friends: Transform streams
--- over one native engine (runtime/zlib.c).
---
--- Backpressure holds at the output side too: each input chunk is fed in
--- steps that produce at most `chunkSize` * 4 bytes, and the next step waits
--- while the readable side is full, so a small chunk of a zip bomb cannot
--- inflate into unbounded memory.  `flush()` (Z_SYNC_FLUSH), `params()`,
--- `reset()`, `bytesWritten` as Node's.
local native = require('native.zlib')
local stream = require('luster.stream')
local Transform = require('luster.stream_transform').Transform

local M = {}

local Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FINISH = 0, 2, 4

local ZStream = Transform.extend({})
ZStream.__index = stream.index(ZStream)
M.ZStream = ZStream

-- Feed `input` (with `flush`) in bounded steps; call done() when consumed.
local function feed(self, input, flush, done)
  local engine, limit = self._engine, self._step
  local function step()
    if self.destroyed then return end
    local ok, out, _, consumed, more = pcall(engine.push, engine, input, flush, limit)
    if not ok then return done(out) end
    input = more and input:sub(consumed + 1) or ''
    local room = true
    if #out > 0 then room = stream.Readable.push(self, out) end
    if not more and room then return done() end
    if room then return step() end
    -- the readable side is full: wait for _read, before the next step or,
    -- with this input consumed, before taking the next chunk (so that
    -- write() says false while nobody reads)
    self._resume_step = more and step or function() done() end
  end
  step()
end

function ZStream:_transform(chunk, _, done)
  self.bytesWritten = self.bytesWritten + #chunk
  feed(self, chunk, Z_NO_FLUSH, done)
end

function ZStream:_flush(_, done) feed(self, '', Z_FINISH, done) end

function ZStream:_read()
  local s = self._resume_step
  if s then self._resume_step = nil; return s() end
  return Transform._read(self)
end

--- Flush what the compressor holds (Z_SYNC_FLUSH), then cb().
function ZStream:flush(kind, cb)
  if type(kind) == 'function' then kind, cb = nil, kind end
  self:write('', function() end)
  feed(self, '', kind or Z_SYNC_FLUSH, function(err) if cb then cb(err) end end)
end

function ZStream:params(level, strategy, cb)
  self._engine:params(level, strategy)
  if cb then process.nextTick(cb) end
end

function ZStream:reset() self._engine:reset() end
function ZStream:close(cb) if cb then self:once('close', cb) end self:destroy() end
function ZStream:_destroy() self._engine:close() end

--- A new stream of `kind` ('gzip', 'inflate', 'brotliCompress'...) with
--- checked options (lua/zlib.lua validates them).
function M.new(kind, opts)
  local self = setmetatable({}, ZStream)
  self._engine = native.new(kind, opts)
  self._step = (opts.chunkSize or 16384) * 4
  self.bytesWritten = 0
  return self
end

return M
