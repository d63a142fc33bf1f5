--- luster.stream_transform — Transform/PassThrough streams and the
--- pipeline/finished helpers, over the one model in lua/luster/stream.lua.
---
--- A Transform is a Duplex whose input goes through
--- `_transform(chunk, push, done)` (and, at the end, `_flush(push, done)`)
--- to its readable side.  Backpressure: when a push finds the readable side
--- full, the transform holds `done` — so the writable side stops taking
--- input — until the consumer reads (`_read`).
local stream = require('luster.stream')
local errors = require('luster.errors')
local Promise = require('luster.promise')

local M = {}

local Transform = stream.Duplex.extend({})
M.Transform = Transform
M.PassThrough = Transform

function Transform.extend(class)
  class.__index = class
  return setmetatable(class, { __index = Transform })
end

--- Transform.new{transform = fn(self, chunk, push, done), flush = fn(self, push, done)}
function Transform.new(opts)
  local self = setmetatable({}, Transform)
  if opts then
    if opts.transform then self._transform = opts.transform end
    if opts.flush then self._flush = opts.flush end
    if opts.highWaterMark then self:initReadable(opts); self:initWritable(opts) end
  end
  return self
end

function Transform:_transform(chunk, push, done) done(nil, chunk) end

function Transform:_write(chunk, done)
  local full = false
  local function push(out)
    if out ~= nil and stream.Readable.push(self, out) == false then full = true end
  end
  self:_transform(chunk, push, function(err, out)
    if err then return done(err) end
    push(out)
    if full then self._held = done else done() end
  end)
end

function Transform:_read()
  local held = self._held
  if held then self._held = nil; held() end
end

function Transform:_final(done)
  local function close_readable(err)
    if err then return done(err) end
    stream.Readable.push(self, nil)
    done()
  end
  if self._flush then
    self:_flush(function(out) if out ~= nil then stream.Readable.push(self, out) end end, close_readable)
  else
    close_readable()
  end
end

--- A promise that resolves when `s` has finished (writable) or ended
--- (readable), and rejects on its error or a close before that.
function M.finished(s)
  local function done_now()
    local rs, ws = rawget(s, '_rs'), rawget(s, '_ws')
    if s._read and s._write then return rs and rs.end_emitted end   -- a duplex: its readable end
    if s._write then return ws and ws.finished end
    return rs and rs.end_emitted
  end
  if done_now() then return Promise.resolve() end
  return Promise.new(function(resolve, reject)
    local settled = false
    local function settle(ok, e)
      if settled then return end
      settled = true
      if ok then resolve() else reject(e) end
    end
    s:once('error', function(e) settle(false, e) end)
    s:once(s._read and 'end' or 'finish', function() settle(true) end)
    s:once('close', function()
      if done_now() then settle(true)
      else settle(false, s._rs and s._rs.errored or errors.new('ERR_STREAM_PREMATURE_CLOSE', 'Premature close')) end
    end)
  end)
end

--- pipeline(src, ..., dest): pipe each into the next; resolves when dest is
--- done, and the first error destroys every stream and rejects.
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
