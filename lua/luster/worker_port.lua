--- MessagePort and BroadcastChannel: EventEmitters over the port handles of
--- runtime/message_port.c.
---
--- A port delivers while it has 'message' listeners (or after :start()):
--- one wake-up from the C side runs `drain`, which takes every message
--- queued meanwhile and emits each one, running microtasks between them as
--- Node does.  Without listeners messages wait in the queue (and
--- receiveMessageOnPort can take them).
local native = require('native.worker')
local EventEmitter = require('events')
local sched = require('luster.scheduler')

local M = {}
local EXIT = sched.EXIT

--- Emit one event; an error escaping the listeners is reported as uncaught
--- (the drain goes on with the next message, as in Node).
local function deliver(obj, name, v)
  local ok, err = pcall(obj.emit, obj, name, v)
  if not ok then
    if err == EXIT then error(err, 0) end
    sched.uncaught({ value = err, trace = type(err) == 'string' and debug.traceback(err, 2) or nil })
  end
end
M.deliver = deliver

local run, uncaught, drain = sched.run, sched.uncaught, sched.drain

--- Emit 'message' with v.  The usual case, exactly one listener, runs it
--- straight in a scheduler coroutine (as emit would, minus the pcall and
--- the argument shuffling); the listener table is read afresh for every
--- message, so listeners added or removed meanwhile are honoured.
local function deliver_message(obj, v)
  local ev = rawget(obj, '_events')
  local l = ev and ev.message
  if type(l) ~= 'function' then
    if l ~= nil then deliver(obj, 'message', v) end
    return
  end
  local ok, err = run(l, v)
  if not ok then
    if err == EXIT then error(err, 0) end
    uncaught(err)
  end
end
M.deliver_message = deliver_message

local xcall = sched.xcall

--- Whether obj's 'message' listeners are one plain function (and no
--- onmessage): the case message_runs serves.
local function lone_listener(obj)
  local ev = rawget(obj, '_events')
  return ev ~= nil and type(ev.message) == 'function' and rawget(obj, 'onmessage') == nil
end

--- A run of messages for a lone function listener, delivered in one
--- coroutine: a loop calls the listener straight, and takes the next
--- message once the nextTicks and microtasks after the previous one have
--- run -- Node's order, without a coroutine switch per message.  A listener
--- that suspends in await parks the run's coroutine with it; the run is
--- then over (resumed, that coroutine only finishes its listener) and the
--- caller starts another one.
---
--- Returns next_run() -> kind, v: the item that ended the run and is left
--- to the caller (any kind but a message for a lone listener), false when
--- the queue is empty, nil when a listener suspended or delivery stopped.
function M.message_runs(obj, h, active)
  local take = h.take
  local current = 0 -- the run that may go on; any other one stops
  local held_kind, held_v
  local function loop(token)
    while current == token and active() do
      local kind, v = take(h)
      if kind ~= 'message' or not lone_listener(obj) then
        held_kind, held_v = kind or false, v
        return
      end
      local ok, err = xcall(rawget(obj, '_events').message, v)
      if not ok then
        if err == EXIT then error(err, 0) end
        uncaught(err)
      end
      if current ~= token then return end -- resumed after an await
      drain()
    end
  end
  return function()
    current = current + 1
    held_kind, held_v = nil, nil
    local ok, err = run(loop, current)
    current = current + 1 -- over, or parked in await: it must not go on
    if not ok then
      if err == EXIT then error(err, 0) end
      uncaught(err)
    end
    return held_kind, held_v
  end
end
local message_runs = M.message_runs

--- A drain's source of items: next_item(burst) -> kind, v.  When the
--- wake-up found several items (burst) and the listener is lone, a run of
--- messages (message_runs); else one item.  kind false: the queue is empty;
--- nil: a listener suspended mid-run (the rest goes on).
function M.items(obj, h, active)
  local take, next_run = h.take, message_runs(obj, h, active)
  return function(burst)
    if burst and lone_listener(obj) then return next_run() end
    local kind, v = take(h)
    if kind == nil then kind = false end
    return kind, v
  end
end
local items = M.items

---@class MessagePort: EventEmitter
local MessagePort = EventEmitter.extend({})
M.MessagePort = MessagePort

-- One wake-up: take every queued item, deliver each one, and run
-- nextTicks and microtasks after each (as Node does between messages).
local function make_drain(port, h)
  local next_item = items(port, h, function() return port._started and not sched.exiting end)
  return function()
    if not port._started then -- only watching for the other end's close
      if h:peer_closed() and not sched.exiting then port:close() end
      return
    end
    -- a run pays for itself from two messages on; one (a request/reply
    -- exchange) goes the plain way
    local burst = h:refill() > 1
    while port._started and not sched.exiting do
      local kind, v = next_item(burst)
      if kind == 'message' then
        deliver_message(port, v)
        local onmessage = rawget(port, 'onmessage')
        if onmessage then onmessage({ data = v, target = port }) end
      elseif kind == false then
        break -- the queue is empty
      elseif kind == 'messageerror' then
        deliver(port, kind, v)
      elseif kind == 'close' then
        port:close()
      end
      drain()
    end
  end
end

--- Wrap a port handle (a new MessageChannel end, or a port received in a
--- message) in a MessagePort.
function MessagePort._wrap(h)
  local port = setmetatable({ _h = h, _started = false, _closed = false }, MessagePort)
  rawset(port, '_drain', make_drain(port, h))
  return port
end

--- Send a structured clone of `value` to the other end.  Raises
--- DataCloneError (and sends nothing) for values that cannot be cloned.
---@param value any
---@param transferList? table ArrayBuffers and MessagePorts to move
function MessagePort:postMessage(value, transferList)
  self._h:post(value, transferList)
end

-- The ports of this state that deliver (weak: a collected port is gone).
local started = setmetatable({}, { __mode = 'k' })

--- Deliver whatever every started port of this state has queued now.  A
--- Worker's 'exit' runs this first: each message the worker posted before
--- it ended, on any port, is in a queue by then, and Node delivers them
--- all before 'exit'.
function M.flush()
  for port in next, started do
    if port._started and not sched.exiting then port._drain() end
  end
end

--- Begin delivering queued and future messages.
function MessagePort:start()
  if self._closed or self._started then return end
  self._started = true
  started[self] = true
  self._h:start(self._drain)
end

--- Stop delivering (messages queue up).
function MessagePort:stop()
  if not self._started then return end
  self._started = false
  started[self] = nil
  self._h:stop()
end

--- Close this end; both ends emit 'close'.
function MessagePort:close()
  if self._closed then return end
  self._closed = true
  self._started = false
  started[self] = nil
  self._h:close()
  sched.next_tick(function() self:emit('close') end)
  -- The other end, when this state still holds it, closes now: it may be
  -- watching for the close with nothing keeping the loop alive.  (In
  -- another thread it hears of it through its queue.)
  local peer = rawget(self, '_peer')
  if peer and not peer._closed and peer._h:is_open() then peer:close() end
end

--- Keep (or stop keeping) the event loop alive while listening.
function MessagePort:ref() self._h:ref(true); return self end
function MessagePort:unref() self._h:ref(false); return self end
---@return boolean
function MessagePort:hasRef() return self._h:has_ref() end

-- A 'message' listener starts the port; the last one leaving stops it, so
-- later messages wait in the queue rather than reach nobody.
-- A 'close' listener makes the port watch for the other end's close even
-- while it delivers nothing.
function MessagePort:_listeners_changed(name)
  if name == 'close' then
    if not self._closed and not self._watching and self:listenerCount('close') > 0 then
      self._watching = true
      self._h:watch_close(self._drain)
    end
    return
  end
  if name ~= 'message' then return end
  if self:listenerCount('message') > 0 then self:start() else self:stop() end
end

--- receiveMessageOnPort: the oldest queued message as {message = v}, or nil.
---@param port MessagePort
---@return table|nil
function M.receive(port)
  local h = port._h
  while true do
    local kind, v = h:take()
    if kind == nil then
      if h:refill() == 0 then return nil end
      kind, v = h:take()
    end
    if kind == 'message' then return { message = v } end
    if kind == 'close' then port:close(); return nil end
    if kind == nil then return nil end
    -- messageerror: skipped, as a message that could not be delivered
  end
end

---@class BroadcastChannel: EventEmitter
---@field name string
local BroadcastChannel = EventEmitter.extend({})
M.BroadcastChannel = BroadcastChannel

--- A channel to every other BroadcastChannel of the same name, in any thread.
---@param name string
---@return BroadcastChannel
function BroadcastChannel.new(name)
  name = tostring(name)
  local h = native.broadcast_join(name)
  local bc = setmetatable({ name = name, _h = h, _started = false, _closed = false }, BroadcastChannel)
  rawset(bc, '_drain', make_drain(bc, h))
  return bc
end
setmetatable(BroadcastChannel, {
  __index = EventEmitter.prototype,
  __call = function(_, name) return BroadcastChannel.new(name) end,
})

--- Send `value` to every other subscriber of this name.
function BroadcastChannel:postMessage(value)
  if self._closed then
    require('luster.errors').throw('ERR_INVALID_STATE', 'BroadcastChannel is closed')
  end
  native.broadcast_post(self._h, self.name, value)
end

function BroadcastChannel:close()
  if self._closed then return end
  self._closed = true
  self._started = false
  started[self] = nil
  native.broadcast_leave(self._h)
end

BroadcastChannel.start = MessagePort.start
BroadcastChannel.stop = MessagePort.stop
BroadcastChannel.ref = MessagePort.ref
BroadcastChannel.unref = MessagePort.unref
BroadcastChannel._listeners_changed = MessagePort._listeners_changed

-- `bc.onmessage = fn` also starts delivery (fn receives {data = value}).
BroadcastChannel.__newindex = function(t, k, v)
  rawset(t, k, v)
  if k == 'onmessage' then
    if v then t:start() elseif t:listenerCount('message') == 0 then t:stop() end
  end
end
MessagePort.__newindex = BroadcastChannel.__newindex

return M
