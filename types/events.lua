---@meta events
-- LuaCATS definitions for luster's `events` module (for the Lua Language
-- Server; see docs/embedding.md "Editors").  Not loaded at run time.
--
-- As in Node, `require('events')` is the EventEmitter class: its own
-- functions are the module's (`events.once(emitter, name)` is a promise),
-- and `EventEmitter.prototype` holds the methods every emitter has
-- (`emitter:once(name, fn)`).  `EventEmitter` below is an emitter; the
-- module is the class `events`.

---Node's EventEmitter, the base of every emitter in luster.  Listeners run
---each in its own coroutine, so they may `await`.  Event names are any
---value (a string, or `events.errorMonitor`).
---@class EventEmitter
---@field captureRejections? boolean set on an emitter (or in new's obj): errors of listeners that fail after suspending go to its 'error' event
local EventEmitter = {}

---Add a listener at the end of the list.
---@param name any
---@param listener fun(...)
---@return self
function EventEmitter:on(name, listener) end

---Alias of `on`.
---@param name any
---@param listener fun(...)
---@return self
function EventEmitter:addListener(name, listener) end

---Add a listener that is removed before its first call.
---@param name any
---@param listener fun(...)
---@return self
function EventEmitter:once(name, listener) end

---Add a listener at the front of the list.
---@param name any
---@param listener fun(...)
---@return self
function EventEmitter:prependListener(name, listener) end

---Add a once-listener at the front of the list.
---@param name any
---@param listener fun(...)
---@return self
function EventEmitter:prependOnceListener(name, listener) end

---Remove a listener (the most recently added match; a once listener by
---the function given to once).
---@param name any
---@param listener fun(...)
---@return self
function EventEmitter:removeListener(name, listener) end

---Alias of `removeListener`.
---@param name any
---@param listener fun(...)
---@return self
function EventEmitter:off(name, listener) end

---Remove every listener of `name`, or of every event ('removeListener'
---listeners hear of each).
---@param name? any
---@return self
function EventEmitter:removeAllListeners(name) end

---Call the listeners of `name` with the arguments, in order.  Emitting
---'error' with no listener raises the error; `errorMonitor` listeners hear
---every 'error' first.
---@param name any
---@param ... any
---@return boolean had_listeners
function EventEmitter:emit(name, ...) end

---How many listeners `name` has (of them, how many are `listener`).
---@param name any
---@param listener? fun(...)
---@return integer
function EventEmitter:listenerCount(name, listener) end

---A copy of the listeners of `name`, in call order (once listeners as the
---functions given to once).
---@param name any
---@return fun(...)[]
function EventEmitter:listeners(name) end

---Like listeners(), but a once listener is given as its wrapper: callable
---(it removes itself, then calls the function), with the function as
---`.listener`.
---@param name any
---@return (fun(...)|{listener: fun(...)})[]
function EventEmitter:rawListeners(name) end

---The events that have listeners, in the order they were first added.
---@return any[]
function EventEmitter:eventNames() end

---Warn (once per event) when an event gets more than `n` listeners; 0
---means no limit.
---@param n integer
---@return self
function EventEmitter:setMaxListeners(n) end

---@return integer
function EventEmitter:getMaxListeners() end

---The iterator `events.on(emitter, name)` returns: a generic-for iterator
---(`for args, first in events.on(e, 'data') do`, args being the event's
---arguments `{n=, ...}`) or Node's shape `await(it:next())`.
---@class EventIterator
local EventIterator = {}

---A promise of the next event: `{value = args, done = false}`, or
---`{done = true}` once ended; rejects with the error that ended it.
---@return Promise
function EventIterator:next() end

---Stop listening (Node's `iterator.return()`); kept events are dropped.
---@return Promise
function EventIterator:close() end

---Alias of `close` (Node's `iterator.return`).
---@return Promise
EventIterator['return'] = function(self) end

---The module: the EventEmitter class with Node's `events.*` functions.
---Called, it makes an emitter: `local e = require('events')()`.
---@class events: EventEmitter
---@overload fun(obj?: table): EventEmitter
local events = {}

---The class itself (Node's `require('events').EventEmitter`).
---@type events
events.EventEmitter = events

---The methods every emitter has.
---@type EventEmitter
events.prototype = EventEmitter

---Listeners per event beyond which a MaxListenersExceededWarning is
---emitted (default 10; assigning is checked).
---@type integer
events.defaultMaxListeners = 10

---The default of every emitter's `captureRejections` (default false).
---@type boolean
events.captureRejections = false

---An event name: its listeners hear every 'error' emit, before the
---'error' listeners (and before an unhandled one raises).
---@type table
events.errorMonitor = {}

---The method an emitter with captureRejections may define
---(`emitter[events.captureRejectionSymbol] = function(self, err, name, ...)`)
---to hear its listeners' failures instead of 'error'.
---@type table
events.captureRejectionSymbol = {}

---A new emitter; `obj` (optional) becomes it (`obj.captureRejections`
---as Node's constructor option).
---@param obj? table
---@return EventEmitter
function events.new(obj) end

---Derive a class: `local Server = events.extend({})`; instances made
---with `setmetatable(o, Server)` inherit every emitter method.
---@generic T: table
---@param class T
---@return T
function events.extend(class) end

---Make a module singleton accept both `obj.method(...)` and `obj:method(...)`.
---@generic T: table
---@param obj T
---@return T
function events.singleton(obj) end

---`events.once(emitter, name)`: a promise of the arguments of the next
---`name` event, as a list `{n=, ...}`; rejects if 'error' comes first.
---(Called as a method with a listener, it is the method `once`.)
---@param emitter EventEmitter
---@param name any
---@param options? table
---@return Promise
---@overload fun(self: EventEmitter, name: any, listener: fun(...)): EventEmitter
function events.once(emitter, name, options) end

---Alias of `events.once` (the promise form).
---@param emitter EventEmitter
---@param name any
---@return Promise
function events.once_promise(emitter, name) end

---Alias of `events.once` (the promise form).
---@param emitter EventEmitter
---@param name any
---@return Promise
function events.once_event(emitter, name) end

---`events.on(emitter, name[, {close = {names...}}])`: every later `name`
---event, in order, as an iterator; an 'error' event ends it with the
---error, a `close` event quietly.  (Called as a method with a listener, it
---is the method `on`.)
---@param emitter EventEmitter
---@param name any
---@param options? {close?: any[]}
---@return EventIterator
---@overload fun(self: EventEmitter, name: any, listener: fun(...)): EventEmitter
function events.on(emitter, name, options) end

---`events.listenerCount(emitter, name)`.
---@param emitter EventEmitter
---@param name any
---@return integer
---@overload fun(self: EventEmitter, name: any, listener?: fun(...)): integer
function events.listenerCount(emitter, name) end

---A copy of the listeners `emitter` has for `name`.
---@param emitter EventEmitter
---@param name any
---@return fun(...)[]
function events.getEventListeners(emitter, name) end

---The limit `setMaxListeners` set on `emitter`.
---@param emitter EventEmitter
---@return integer
function events.getMaxListeners(emitter) end

---`events.setMaxListeners(n[, ...emitters])`: of those emitters, or the
---default for every emitter when none is given.
---@param n integer
---@param ... EventEmitter
---@overload fun(self: EventEmitter, n: integer): EventEmitter
function events.setMaxListeners(n, ...) end

return events
