--- EventEmitter, the base of every emitter in luster (Node's `events`).
---
--- Listeners receive the event's arguments (not the emitter).  Each
--- listener runs in its own runtime coroutine, so one that awaits does not
--- hold up the next one or the emitter — like an async listener in Node.
--- An error a listener raises before it first suspends propagates to the
--- caller of emit, as a synchronous throw does in Node.
local sched = require('luster.scheduler')
local errors = require('luster.errors')

local run = sched.run
local type, select, setmetatable = type, select, setmetatable

---@class EventEmitter
local EventEmitter = {}
EventEmitter.__index = EventEmitter
EventEmitter.defaultMaxListeners = 10

--- A new emitter, or `obj` turned into one.
---@return EventEmitter
function EventEmitter.new(obj)
  return setmetatable(obj or {}, EventEmitter)
end

--- Make `class` (a metatable with __index = class) inherit EventEmitter.
function EventEmitter.extend(class)
  class.__index = class
  return setmetatable(class, { __index = EventEmitter })
end

local function events_of(self)
  local ev = rawget(self, '_events')
  if not ev then
    ev = {}
    rawset(self, '_events', ev)
  end
  return ev
end

local function add(self, name, fn, prepend)
  errors.check_type(fn, 'listener', 'function')
  local ev = events_of(self)
  if ev.newListener and name ~= 'newListener' then self:emit('newListener', name, fn) end
  local l = ev[name]
  if l == nil then
    ev[name] = fn
  elseif type(l) == 'function' then
    ev[name] = prepend and { fn, l } or { l, fn }
  else
    if prepend then table.insert(l, 1, fn) else l[#l + 1] = fn end
  end
  local hook = self._listeners_changed
  if hook then hook(self, name) end
  return self
end

---@param name string
---@param fn function
---@return EventEmitter
function EventEmitter:on(name, fn) return add(self, name, fn, false) end
EventEmitter.addListener = EventEmitter.on

function EventEmitter:prependListener(name, fn) return add(self, name, fn, true) end

local function once_wrapper(self, name, fn)
  local w
  w = function(...)
    self:removeListener(name, w)
    return fn(...)
  end
  return w, fn
end

--- Listen for one emission only.
function EventEmitter:once(name, fn)
  errors.check_type(fn, 'listener', 'function')
  local w = once_wrapper(self, name, fn)
  local ev = events_of(self)
  ev._once = ev._once or setmetatable({}, { __mode = 'k' })
  ev._once[w] = fn
  return add(self, name, w, false)
end

function EventEmitter:prependOnceListener(name, fn)
  local w = once_wrapper(self, name, fn)
  local ev = events_of(self)
  ev._once = ev._once or setmetatable({}, { __mode = 'k' })
  ev._once[w] = fn
  return add(self, name, w, true)
end

local function matches(ev, l, fn)
  return l == fn or (ev._once and ev._once[l] == fn)
end

--- Remove the most recently added instance of fn.
function EventEmitter:removeListener(name, fn)
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then return self end
  if type(l) == 'function' then
    if matches(ev, l, fn) then ev[name] = nil else return self end
  else
    for i = #l, 1, -1 do
      if matches(ev, l[i], fn) then
        -- copy on write: an emit in progress keeps its own list
        local copy = {}
        for k = 1, #l do if k ~= i then copy[#copy + 1] = l[k] end end
        ev[name] = #copy == 1 and copy[1] or copy
        break
      end
    end
  end
  if ev.removeListener then self:emit('removeListener', name, fn) end
  local hook = self._listeners_changed
  if hook then hook(self, name) end
  return self
end
EventEmitter.off = EventEmitter.removeListener

function EventEmitter:removeAllListeners(name)
  local ev = rawget(self, '_events')
  if not ev then return self end
  local names = {}
  if name ~= nil then names[1] = name else for k in pairs(ev) do if k ~= '_once' then names[#names + 1] = k end end end
  for _, n in ipairs(names) do
    ev[n] = nil
    local hook = self._listeners_changed
    if hook then hook(self, n) end
  end
  return self
end

---@return integer
function EventEmitter:listenerCount(name)
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then return 0 end
  if type(l) == 'function' then return 1 end
  return #l
end

---@return function[]
function EventEmitter:listeners(name)
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then return {} end
  local list = type(l) == 'function' and { l } or { unpack(l) }
  for i, f in ipairs(list) do list[i] = (ev._once and ev._once[f]) or f end
  return list
end

function EventEmitter:eventNames()
  local ev, names = rawget(self, '_events') or {}, {}
  for k in pairs(ev) do if k ~= '_once' then names[#names + 1] = k end end
  return names
end

function EventEmitter:setMaxListeners() return self end
function EventEmitter:getMaxListeners() return EventEmitter.defaultMaxListeners end

local function call(fn, ...)
  local ok, err = run(fn, ...)
  if not ok then
    if err == sched.EXIT then error(err, 0) end
    error(err.value, 0)
  end
end

--- Call every listener of `name` with the arguments; true if there were any.
--- 'error' with no listener raises its argument.
---@return boolean
function EventEmitter:emit(name, ...)
  local ev = rawget(self, '_events')
  local l = ev and ev[name]
  if l == nil then
    if name == 'error' then
      local e = ...
      if e == nil or type(e) == 'number' or type(e) == 'boolean' then
        e = errors.new('ERR_UNHANDLED_ERROR', 'Unhandled error. (' .. tostring(e) .. ')')
      end
      error(e, 0)
    end
    return false
  end
  if type(l) == 'function' then
    call(l, ...)
  else
    for i = 1, #l do call(l[i], ...) end -- l is never mutated in place
  end
  return true
end

--- A promise of the arguments of the next `name` event (rejects on 'error').
function EventEmitter.once_promise(emitter, name)
  local Promise = require('luster.promise')
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

--- Let a module singleton be called with `.` or `:` (`cluster.on('exit', f)`
--- and `cluster:on('exit', f)`): its methods drop a leading self argument.
---@param obj table the singleton (its metatable must be its class)
function EventEmitter.singleton(obj)
  local class = getmetatable(obj)
  local cache = {}
  local function lookup(_, k)
    local m = class[k]
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
EventEmitter.once_event = EventEmitter.once_promise
return setmetatable(EventEmitter, { __call = function(_, obj) return EventEmitter.new(obj) end })
