---@meta events
-- LuaCATS definitions for luster's `events` module (for the Lua Language
-- Server; see docs/embedding.md "Editors").  Not loaded at run time.

---Node's EventEmitter, the base of every emitter in luster.  Listeners run
---each in its own coroutine, so they may `await`.
---@class EventEmitter
---@overload fun(obj?: table): EventEmitter
local EventEmitter = {}

---The class itself (Node's `require('events').EventEmitter`).
---@type EventEmitter
EventEmitter.EventEmitter = EventEmitter

---Listeners per event beyond which a leak warning is printed (default 10).
---@type integer
EventEmitter.defaultMaxListeners = 10

---A new emitter; `obj` (optional) becomes it.
---@param obj? table
---@return EventEmitter
function EventEmitter.new(obj) end

---Derive a class: `local Server = EventEmitter.extend({})`; instances made
---with `setmetatable(o, Server)` inherit every emitter method.
---@generic T: table
---@param class T
---@return T
function EventEmitter.extend(class) end

---Make a module singleton accept both `obj.method(...)` and `obj:method(...)`.
---@generic T: table
---@param obj T
---@return T
function EventEmitter.singleton(obj) end

---A promise of the arguments of the next `name` event on `emitter` (a list);
---rejects if `'error'` comes first.  Node's `events.once(emitter, name)`.
---@param emitter EventEmitter
---@param name string
---@return Promise
function EventEmitter.once_promise(emitter, name) end

---Alias of `once_promise`.
---@param emitter EventEmitter
---@param name string
---@return Promise
function EventEmitter.once_event(emitter, name) end

---Add a listener at the end of the list.
---@param name string|any
---@param listener fun(...)
---@return self
function EventEmitter:on(name, listener) end

---Alias of `on`.
---@param name string|any
---@param listener fun(...)
---@return self
function EventEmitter:addListener(name, listener) end

---Add a listener that is removed before its first call.
---@param name string|any
---@param listener fun(...)
---@return self
function EventEmitter:once(name, listener) end

---Add a listener at the front of the list.
---@param name string|any
---@param listener fun(...)
---@return self
function EventEmitter:prependListener(name, listener) end

---Add a once-listener at the front of the list.
---@param name string|any
---@param listener fun(...)
---@return self
function EventEmitter:prependOnceListener(name, listener) end

---Remove a listener (the most recently added match).
---@param name string|any
---@param listener fun(...)
---@return self
function EventEmitter:removeListener(name, listener) end

---Alias of `removeListener`.
---@param name string|any
---@param listener fun(...)
---@return self
function EventEmitter:off(name, listener) end

---Remove every listener of `name`, or of every event.
---@param name? string|any
---@return self
function EventEmitter:removeAllListeners(name) end

---Call the listeners of `name` with the arguments, in order.  Emitting
---`'error'` with no listener raises the error.
---@param name string|any
---@param ... any
---@return boolean had_listeners
function EventEmitter:emit(name, ...) end

---@param name string|any
---@return integer
function EventEmitter:listenerCount(name) end

---A copy of the listeners of `name`.
---@param name string|any
---@return fun(...)[]
function EventEmitter:listeners(name) end

---The events that have listeners.
---@return any[]
function EventEmitter:eventNames() end

---@param n integer
---@return self
function EventEmitter:setMaxListeners(n) end

---@return integer
function EventEmitter:getMaxListeners() end

return EventEmitter
