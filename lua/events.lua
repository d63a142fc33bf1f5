--- EventEmitter, the base of every emitter in luster (Node's `events`).
---
--- Listeners receive the event's arguments (not the emitter).  Each
--- listener runs in its own runtime coroutine, so one that awaits does not
--- hold up the next one or the emitter — like an async listener in Node.
--- An error a listener raises before it first suspends propagates to the
--- caller of emit, as a synchronous throw does in Node.
---
--- As in Node, `require('events')` is the class: its own fields are the
--- module's functions (`events.once(emitter, name)` is a promise,
--- `events.listenerCount(emitter, name)`, `events.errorMonitor`, ...), and
--- `EventEmitter.prototype` holds the methods every emitter has
--- (`emitter:once(name, fn)`).  Keeping the two apart is what lets
--- `once` and `on` mean what they mean in Node in both places.
---
--- Storage (other modules read it: keep the shape): `emitter._events[name]`
--- is the one listener function, or a list of them in call order.  A list
--- an emit may be walking is never changed in place except by appending,
--- which a running emit does not see (its loop bound is fixed when it
--- starts); removing and prepending copy it.
local sched = require('luster.scheduler')
local errors = require('luster.errors')

local run = sched.run
local type, select, setmetatable, rawget, rawset, pairs, next = type, select, setmetatable, rawget, rawset, pairs, next

---@class EventEmitter
local EventEmitter = {}
local proto = {}
EventEmitter.prototype = proto
EventEmitter.__index = proto

-- Private keys of an `_events` table (never equal to a user's event name).
-- ORDER maps each event name to when it was first added, so eventNames()
-- lists them in insertion order as Node does; it is only created once an
-- emitter has two event names at the same time.  WARNED holds the names
-- whose listener count already raised a MaxListenersExceededWarning.
local ORDER, WARNED = {}, {}

-- What is stored for a listener is the user's function, a once record, or
-- a wrapper for captureRejections; orig_of[wrapper] is the user's function.
local orig_of = setmetatable({}, { __mode = 'k' })
local is_capture = setmetatable({}, { __mode = 'k' }) -- the captureRejections ones

-- A once listener is stored as a record, callable like a function: it
-- removes itself before calling, so an emit from inside the call does not
-- find it, and `fired` stops an emit that started earlier and still holds
-- it in its list.  One small table per waiting listener (a closure, its
-- upvalue and a weak-table entry were three more objects, kept as long as
-- the listener waits: an 'error' listener on every connection).
-- It is also what rawListeners() gives: callable, with `.listener`.
local EMITTER, NAME, CALL, FIRED, LISTENER = 1, 2, 3, 4, 5
local Once = {}
Once.__call = function(rec, ...)
  if rec[FIRED] then return end
  rec[FIRED] = true
  rec[EMITTER]:removeListener(rec[NAME], rec)
  return rec[CALL](...)
end
Once.__index = function(rec, k) if k == 'listener' then return rawget(rec, LISTENER) end end

-- Whether what `_events[name]` holds is one listener (a function or a once
-- record) rather than a list of them.
local function is_one(l)
  return type(l) == 'function' or getmetatable(l) == Once
end

-- The user's function behind what is stored.
local function user_fn(l)
  if getmetatable(l) == Once then return l[LISTENER] end
  return orig_of[l] or l
end


--- The event name `errorMonitor` listeners are called with every 'error'
--- emit, before the 'error' listeners (and before an unhandled one raises).
EventEmitter.errorMonitor = setmetatable({}, { __tostring = function() return 'events.errorMonitor' end })
local errorMonitor = EventEmitter.errorMonitor

local default_max = 10
local capture_default = false -- EventEmitter.captureRejections

local function check_capture(v, what, level)
  if type(v) ~= 'boolean' then
    error(errors.new('ERR_INVALID_ARG_TYPE', ('The "%s" property must be of type boolean. Received %s')
      :format(what, v == nil and 'nil' or type(v)), level + 1), level + 1)
  end
end

local function is_private(k) return k == ORDER or k == WARNED end

--- A new emitter, or `obj` turned into one.  `obj.captureRejections =
--- true` (as Node's constructor option) sends the errors of listeners
--- that fail after suspending to the emitter's 'error' event.
---@return EventEmitter
function EventEmitter.new(obj)
  if obj == nil then return setmetatable({}, EventEmitter) end
  local capture = rawget(obj, 'captureRejections')
  if capture ~= nil then check_capture(capture, 'options.captureRejections', 2) end
  return setmetatable(obj, EventEmitter)
end

--- Make `class` (a metatable with __index = class) inherit EventEmitter.
function EventEmitter.extend(class)
  class.__index = class
  return setmetatable(class, { __index = proto })
end

local function events_of(self)
  local ev = rawget(self, '_events')
  if not ev then
    ev = {}
    rawset(self, '_events', ev)
  end
  return ev
end

local function check_listener(fn)
  if type(fn) ~= 'function' then
    local got = fn == nil and 'nil' or type(fn)
    error(errors.new('ERR_INVALID_ARG_TYPE',
      'The "listener" argument must be of type function. Received ' .. got, 3), 3)
  end
end

-- A name about to get its first listener: remember when, for eventNames().
local function note_new_name(ev, name)
  local order = ev[ORDER]
  if order then
    local n = order[ORDER] + 1
    order[ORDER], order[name] = n, n
    return
  end
  -- without ORDER there has never been more than one name at a time
  local other = next(ev)
  while other ~= nil and is_private(other) do other = next(ev, other) end
  if other ~= nil then ev[ORDER] = { [ORDER] = 2, [other] = 1, [name] = 2 } end
end

-- The last listener of `name` is gone.
local function forget_name(ev, name)
  ev[name] = nil
  local order, warned = ev[ORDER], ev[WARNED]
  if order then
    order[name] = nil
    -- down to one name: no order to keep until a second comes again
    -- (note_new_name), so a long-lived emitter does not hold the table
    local first = next(ev)
    while first ~= nil and is_private(first) do first = next(ev, first) end
    local second = first
    repeat second = next(ev, second) until second == nil or not is_private(second)
    if first == nil or second == nil then ev[ORDER] = nil end
  end
  if warned then warned[name] = nil end
end

local function class_name(self)
  local mt = getmetatable(self)
  local n = type(mt) == 'table' and rawget(mt, '__name')
  return type(n) == 'string' and n or 'EventEmitter'
end

local function warn_leak(self, ev, name, count, max)
  local warned = ev[WARNED]
  if warned and warned[name] then return end
  if not warned then warned = {}; ev[WARNED] = warned end
  warned[name] = true
  local shown = type(name) == 'string' and name or tostring(name)
  local w = require('luster.warnings').new('MaxListenersExceededWarning',
    ('Possible EventEmitter memory leak detected. %d %s listeners added to [%s]. '
      .. 'MaxListeners is %s. Use emitter:setMaxListeners() to increase limit')
      :format(count, shown, class_name(self), require('luster.inspect').number(max)))
  w.emitter, w.type, w.count = self, name, count
  require('luster.warnings').emit(w)
end

-- `fn` is what is stored (the function, or a wrapper), `orig` the user's function.
local function add(self, name, fn, prepend, orig)
  local ev = events_of(self)
  if ev.newListener ~= nil then self:emit('newListener', name, orig) end
  local l = ev[name]
  if l == nil then
    note_new_name(ev, name)
    ev[name] = fn
  else
    if is_one(l) then
      l = prepend and { fn, l } or { l, fn }
      ev[name] = l
    elseif prepend then
      local copy = { fn }
      for i = 1, #l do copy[i + 1] = l[i] end
      l = copy
      ev[name] = l
    else
      l[#l + 1] = fn
    end
    local max = rawget(self, '_maxListeners') or default_max
    if max > 0 and #l > max then warn_leak(self, ev, name, #l, max) end
  end
  local hook = self._listeners_changed
  if hook then hook(self, name) end
  return self
end

-- ---- captureRejections ----
-- A listener that fails after it first suspends (or returns a promise that
-- rejects) has nobody to raise to; with captureRejections the emitter
-- hears of it: its [captureRejectionSymbol](self, err, name, ...) method,
-- or else its 'error' event.  'error' listeners are never wrapped, so an
-- error there cannot loop.
local captureRejectionSymbol = setmetatable({}, { __tostring = function() return 'nodejs.rejection' end })
EventEmitter.captureRejectionSymbol = captureRejectionSymbol

local function deliver_rejection(self, err, name, ...)
  sched.next_tick(function(...)
    local handler = self[captureRejectionSymbol]
    if type(handler) == 'function' then return handler(self, err, name, ...) end
    self:emit('error', err)
  end, ...)
end

local function capturing(self, name, fn)
  local Promise = require('luster.promise')
  local function body(suspended, ...)
    local ok, r = pcall(fn, ...)
    if not ok then
      if not suspended.yes then error(r, 0) end -- raised before suspending: to emit's caller
      return deliver_rejection(self, r, name, ...)
    end
    if Promise.isPromise(r) then
      local n, args = select('#', ...), { ... }
      r:catch(function(e) deliver_rejection(self, e, name, unpack(args, 1, n)) end)
    end
  end
  local c = function(...)
    local suspended = { yes = false }
    local ok, err = run(body, suspended, ...)
    suspended.yes = true
    if not ok then error(err == sched.EXIT and err or err.value, 0) end
  end
  orig_of[c], is_capture[c] = fn, true
  return c
end

-- What to store for fn: fn itself, or fn wrapped to capture its rejections.
local function stored(self, name, fn)
  if name == 'error' then return fn end
  local capture = self.captureRejections
  if capture == nil then capture = capture_default end
  if capture then return capturing(self, name, fn) end
  return fn
end

---@param name any
---@param fn function
---@return EventEmitter
function proto:on(name, fn)
  check_listener(fn)
  return add(self, name, stored(self, name, fn), false, fn)
end
proto.addListener = proto.on

--- Add fn before the listeners already there.
function proto:prependListener(name, fn)
  check_listener(fn)
  return add(self, name, stored(self, name, fn), true, fn)
end

local function once_record(self, name, fn)
  return setmetatable({ self, name, stored(self, name, fn), false, fn }, Once)
end

--- Listen for one emission only.
function proto:once(name, fn)
  check_listener(fn)
  return add(self, name, once_record(self, name, fn), false, fn)
end

function proto:prependOnceListener(name, fn)
  check_listener(fn)
  return add(self, name, once_record(self, name, fn), true, fn)
end

local function matches(l, fn)
  return l == fn or user_fn(l) == fn
end

--- Remove the most recently added instance of fn (a once listener is
--- removed by its own function too).
function proto:removeListener(name, fn)
  if getmetatable(fn) ~= Once then check_listener(fn) end
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then return self end
  local removed
  if is_one(l) then
    if not matches(l, fn) then return self end
    removed = l
    forget_name(ev, name)
  else
    for i = #l, 1, -1 do
      if matches(l[i], fn) then
        removed = l[i]
        -- copy on write: an emit in progress keeps its own list
        local copy = {}
        for k = 1, #l do if k ~= i then copy[#copy + 1] = l[k] end end
        ev[name] = #copy == 1 and copy[1] or copy
        break
      end
    end
    if not removed then return self end
  end
  if ev.removeListener ~= nil then self:emit('removeListener', name, user_fn(removed)) end
  local hook = self._listeners_changed
  if hook then hook(self, name) end
  return self
end
proto.off = proto.removeListener

local function names_in_order(ev)
  local names = {}
  for k in pairs(ev) do if not is_private(k) then names[#names + 1] = k end end
  local order = ev[ORDER]
  if order and #names > 1 then table.sort(names, function(a, b) return order[a] < order[b] end) end
  return names
end

--- Remove every listener of `name`, or of every event.  'removeListener'
--- listeners hear of each one (last added first), and are removed last.
function proto:removeAllListeners(name)
  local ev = rawget(self, '_events')
  if not ev then return self end
  if ev.removeListener == nil then -- nobody to tell: just drop them
    local names = name == nil and names_in_order(ev) or { name }
    for _, n in ipairs(names) do
      if ev[n] ~= nil then
        forget_name(ev, n)
        local hook = self._listeners_changed
        if hook then hook(self, n) end
      end
    end
    return self
  end
  if name == nil then
    for _, n in ipairs(names_in_order(ev)) do
      if n ~= 'removeListener' then self:removeAllListeners(n) end
    end
    return self:removeAllListeners('removeListener')
  end
  local l = ev[name]
  if is_one(l) then
    self:removeListener(name, l)
  elseif l then
    for i = #l, 1, -1 do self:removeListener(name, l[i]) end
  end
  return self
end

---@return integer
function proto:listenerCount(name, fn)
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then return 0 end
  if is_one(l) then
    if fn ~= nil then return matches(l, fn) and 1 or 0 end
    return 1
  end
  if fn == nil then return #l end
  local n = 0
  for i = 1, #l do if matches(l[i], fn) then n = n + 1 end end
  return n
end

--- The listeners of `name` in call order, as a new list (once listeners
--- as the functions that were passed to once).
---@return function[]
function proto:listeners(name)
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then return {} end
  if is_one(l) then return { user_fn(l) } end
  local list = {}
  for i = 1, #l do list[i] = user_fn(l[i]) end
  return list
end

--- Like listeners(), but a once listener is given as its wrapper: callable
--- (it removes itself, then calls the function) with `.listener`.
function proto:rawListeners(name)
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then return {} end
  if is_one(l) then l = { l } end
  local list = {}
  for i = 1, #l do
    local f = l[i]
    if getmetatable(f) == Once then list[i] = f else list[i] = orig_of[f] or f end
  end
  return list
end

--- The names of the events that have listeners, in the order they were
--- first added.
function proto:eventNames()
  local ev = rawget(self, '_events')
  if not ev then return {} end
  return names_in_order(ev)
end

local function check_max(n, level)
  if type(n) ~= 'number' then
    error(errors.new('ERR_INVALID_ARG_TYPE',
      'The "n" argument must be of type number. Received ' .. type(n), level + 1), level + 1)
  end
  if n ~= n or n < 0 then
    error(errors.new('ERR_OUT_OF_RANGE', 'The value of "n" is out of range. It must be a non-negative number. Received '
      .. require('luster.inspect').number(n), level + 1), level + 1)
  end
end

--- Warn (once per event) when an event gets more than n listeners; 0 means
--- no limit.  The default is EventEmitter.defaultMaxListeners (10).
function proto:setMaxListeners(n)
  check_max(n, 2)
  rawset(self, '_maxListeners', n)
  return self
end

function proto:getMaxListeners()
  return rawget(self, '_maxListeners') or default_max
end

local function call(fn, ...)
  local ok, err = run(fn, ...)
  if not ok then
    if err == sched.EXIT then error(err, 0) end
    error(err.value, 0)
  end
end

-- 'error' with nobody listening: raise it.  Tables and strings are Lua's
-- error values and are raised as they are; anything else is wrapped.
local function unhandled_error(...)
  local e = ...
  local t = type(e)
  if t ~= 'table' and t ~= 'string' then
    local shown = select('#', ...) == 0 and 'nil' or require('luster.inspect').inspect(e)
    local wrapped = errors.new('ERR_UNHANDLED_ERROR', 'Unhandled error. (' .. shown .. ')', 3)
    wrapped.context = e
    e = wrapped
  end
  error(e, 0)
end

--- Call every listener of `name` with the arguments; true if there were any.
--- 'error' with no listener raises its argument.
---@return boolean
function proto:emit(name, ...)
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then
    if name == 'error' then
      if ev and ev[errorMonitor] ~= nil then self:emit(errorMonitor, ...) end
      unhandled_error(...)
    end
    return false
  end
  if name == 'error' and ev[errorMonitor] ~= nil then self:emit(errorMonitor, ...) end
  if type(l) == 'function' or getmetatable(l) == Once then
    call(l, ...)
  else
    for i = 1, #l do call(l[i], ...) end -- a running emit never sees l change
  end
  return true
end

-- ---- the module's own functions (Node's `events.*`) ----

--- `events.listenerCount(emitter, name)`
function EventEmitter.listenerCount(emitter, name) return proto.listenerCount(emitter, name) end

--- `events.getEventListeners(emitter, name)`: a copy of its listeners.
function EventEmitter.getEventListeners(emitter, name) return proto.listeners(emitter, name) end

function EventEmitter.getMaxListeners(emitter) return proto.getMaxListeners(emitter) end

--- `events.setMaxListeners(n[, ...emitters])`: of those emitters, or the
--- default for every emitter when none is given.
function EventEmitter.setMaxListeners(n, ...)
  if type(n) == 'table' then return proto.setMaxListeners(n, ...) end -- see below
  check_max(n, 2)
  local count = select('#', ...)
  if count == 0 then default_max = n return end
  for i = 1, count do
    local e = select(i, ...)
    if type(e) ~= 'table' or type(e.setMaxListeners) ~= 'function' then
      error(errors.new('ERR_INVALID_ARG_TYPE',
        'The "eventTargets" argument must be an instance of EventEmitter. Received ' .. type(e), 2), 2)
    end
    e:setMaxListeners(n)
  end
end

local function check_emitter(emitter)
  if type(emitter) ~= 'table' or type(emitter.on) ~= 'function' or type(emitter.removeListener) ~= 'function' then
    return errors.new('ERR_INVALID_ARG_TYPE',
      'The "emitter" argument must be an instance of EventEmitter. Received ' .. type(emitter), 3)
  end
end

--- `events.once(emitter, name)`: a promise of the arguments of the next
--- `name` event, as a list `{n=, ...}`; it rejects if 'error' comes first.
---@return Promise
function EventEmitter.once(emitter, name, options)
  if type(options) == 'function' then return proto.once(emitter, name, options) end -- see below
  local Promise = require('luster.promise')
  local bad = check_emitter(emitter)
  if not bad and options ~= nil and type(options) ~= 'table' then
    bad = errors.new('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type table. Received ' .. type(options), 2)
  end
  if bad then return Promise.reject(bad) end
  return Promise.new(function(resolve, reject)
    local on_error
    local function on_event(...)
      if on_error then emitter:removeListener('error', on_error) end
      resolve({ n = select('#', ...), ... })
    end
    if name ~= 'error' then
      on_error = function(e) emitter:removeListener(name, on_event); reject(e) end
      emitter:once('error', on_error)
    end
    emitter:once(name, on_event)
  end)
end
EventEmitter.once_promise = EventEmitter.once
EventEmitter.once_event = EventEmitter.once

-- ---- events.on: the events of an emitter as an iterator ----
---@class EventIterator
local EventIterator = {}
EventIterator.__index = EventIterator

local function iterator_finish(it)
  if it.done then return end
  it.done = true
  local e = it.emitter
  e:removeListener(it.name, it.on_event)
  if it.on_error then e:removeListener('error', it.on_error) end
  for _, n in ipairs(it.close_names) do e:removeListener(n, it.on_close) end
  -- whoever still waits gets the end (or the error, the first of them)
  local waiters = it.waiters
  it.waiters = {}
  for i = 1, #waiters do
    local w = waiters[i]
    if i == 1 and it.error ~= nil then
      local err = it.error
      it.error = nil
      w.reject(err)
    else
      w.resolve({ done = true })
    end
  end
end

--- `events.on(emitter, name[, {close = {names...}}])`: every later `name`
--- event, in order, as an iterator.  Events nobody has taken yet are kept.
--- An 'error' event ends it: the error is raised after the kept events.
--- A `close` event ends it quietly.
---   for args, first in events.on(emitter, 'data') do ... end
--- (args is the event's argument list `{n=, ...}`; call `:close()` after a
--- break), or Node's shape: `await(it:next())` → `{value=args, done=}`.
---@return EventIterator
function EventEmitter.on(emitter, name, options)
  if type(options) == 'function' then return proto.on(emitter, name, options) end -- see below
  local bad = check_emitter(emitter)
  if not bad and options ~= nil and type(options) ~= 'table' then
    bad = errors.new('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type table. Received ' .. type(options), 2)
  end
  if bad then error(bad, 2) end
  local it = setmetatable({ emitter = emitter, name = name, kept = {}, waiters = {}, done = false,
                            close_names = options and options.close or {} }, EventIterator)
  it.on_event = function(...)
    local args = { n = select('#', ...), ... }
    local w = table.remove(it.waiters, 1)
    if w then w.resolve({ value = args, done = false }) else it.kept[#it.kept + 1] = args end
  end
  emitter:on(name, it.on_event)
  if name ~= 'error' then
    it.on_error = function(e)
      it.error = e
      iterator_finish(it)
    end
    emitter:on('error', it.on_error)
  end
  it.on_close = function() iterator_finish(it) end
  for _, n in ipairs(it.close_names) do emitter:on(n, it.on_close) end
  return it
end

--- A promise of the next event: `{value = args, done = false}`, or
--- `{done = true}` once ended; it rejects with the error that ended it.
---@return Promise
function EventIterator:next()
  local Promise = require('luster.promise')
  local args = table.remove(self.kept, 1)
  if args then return Promise.resolve({ value = args, done = false }) end
  if self.error ~= nil then
    local err = self.error
    self.error = nil
    return Promise.reject(err)
  end
  if self.done then return Promise.resolve({ done = true }) end
  local waiters = self.waiters
  return Promise.new(function(resolve, reject) waiters[#waiters + 1] = { resolve = resolve, reject = reject } end)
end

--- Stop listening (Node's `iterator.return()`); kept events are dropped.
function EventIterator:close()
  self.kept = {}
  iterator_finish(self)
  return require('luster.promise').resolve({ done = true })
end
EventIterator['return'] = EventIterator.close

-- the generic-for form: each step awaits the next event
EventIterator.__call = function(self)
  local r = await(self:next())
  if r.done then return nil end
  return r.value, unpack(r.value, 1, r.value.n)
end

--- Let a module singleton be called with `.` or `:` (`cluster.on('exit', f)`
--- and `cluster:on('exit', f)`): its methods drop a leading self argument.
---@param obj table the singleton (its metatable must be its class)
function EventEmitter.singleton(obj)
  local class = getmetatable(obj)
  local index = rawget(class, '__index')
  if type(index) ~= 'table' then index = class end
  local cache = {}
  local function lookup(_, k)
    local m = index[k]
    if type(m) ~= 'function' then return m end
    local w = cache[k]
    if not w then
      w = function(first, ...)
        if first == obj then return m(obj, ...) end
        return m(obj, first, ...)
      end
      cache[k] = w
    end
    return w
  end
  local mt = {}
  for k, v in pairs(class) do mt[k] = v end
  mt.__index = lookup
  return setmetatable(obj, mt)
end

-- `require('events')` is the class itself, with Node's aliases
EventEmitter.EventEmitter = EventEmitter
-- Classes made with `setmetatable(C, {__index = EventEmitter})` instead of
-- extend() find the methods on the class too; the module functions that
-- share a method's name (once, on, setMaxListeners) act as that method
-- when called the method's way.
for k, v in pairs(proto) do
  if rawget(EventEmitter, k) == nil then EventEmitter[k] = v end
end
-- EventEmitter.defaultMaxListeners and .captureRejections read and (checked)
-- set the defaults for every emitter
return setmetatable(EventEmitter, {
  __call = function(_, obj) return EventEmitter.new(obj) end,
  __index = function(_, k)
    if k == 'defaultMaxListeners' then return default_max end
    if k == 'captureRejections' then return capture_default end
  end,
  __newindex = function(t, k, v)
    if k == 'defaultMaxListeners' then
      check_max(v, 2)
      default_max = v
    elseif k == 'captureRejections' then
      check_capture(v, 'EventEmitter.captureRejections', 2)
      capture_default = v
    else
      rawset(t, k, v)
    end
  end,
})
