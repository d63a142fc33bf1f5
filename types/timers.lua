---@meta timers
-- LuaCATS definitions for luster's `timers` (the same functions are
-- globals: setTimeout, setInterval, setImmediate and their clear*).

---A pending setTimeout/setInterval.
---@class Timeout
local Timeout = {}
---Keep the loop alive for this timer (the default).
---@return self
function Timeout:ref() end
---Let the process exit even though this timer is pending.
---@return self
function Timeout:unref() end
---@return boolean
function Timeout:hasRef() end
---Restart the countdown from now.
---@return self
function Timeout:refresh() end
---Clear the timer (as clearTimeout).
---@return self
function Timeout:close() end

---A pending setImmediate.
---@class Immediate
local Immediate = {}
---@return self
function Immediate:ref() end
---@return self
function Immediate:unref() end
---@return boolean
function Immediate:hasRef() end

---The iterator `timers.promises.setInterval` returns: a generic-for
---iterator (`for n, value in setInterval(100, 'v') do`, n counting the
---ticks; call :close() after a break) or Node's shape `await(it:next())`.
---@class IntervalIterator
local IntervalIterator = {}
---A promise of the next tick: `{value=, done=false}`, or `{done=true}`
---once closed (ticks nobody took yet are kept).
---@return Promise
function IntervalIterator:next() end
---Stop the interval (Node's `iterator.return()`).
---@return Promise
function IntervalIterator:close() end
---Alias of `close`.
---@return Promise
IntervalIterator['return'] = function(self) end

---@class timers.PromiseOptions
---@field ref? boolean false: the process may exit while it waits

---`scheduler.wait(ms)` and `scheduler.yield()`, as in Node.
---@class timers.Scheduler
local Scheduler = {}
---A promise fulfilled after `ms` milliseconds.
---@param ms number
---@param options? timers.PromiseOptions
---@return Promise
function Scheduler.wait(ms, options) end
---A promise fulfilled after the loop's poll phase.
---@return Promise
function Scheduler.yield() end

---Promise forms (`require('timers/promises')`, also `timers.promises`).
---A bad option rejects the promise rather than raising; `options.signal`
---is not supported yet (ERR_FEATURE_UNAVAILABLE_ON_PLATFORM).
---@class timers.promises
local promises = {}
---A promise fulfilled with `value` after `ms` milliseconds.
---@param ms? number
---@param value? any
---@param options? timers.PromiseOptions
---@return Promise
function promises.setTimeout(ms, value, options) end
---A promise fulfilled with `value` after the loop's poll phase.
---@param value? any
---@param options? timers.PromiseOptions
---@return Promise
function promises.setImmediate(value, options) end
---Ticks giving `value` every `ms` milliseconds, as an iterator.
---@param ms? number
---@param value? any
---@param options? timers.PromiseOptions
---@return IntervalIterator
function promises.setInterval(ms, value, options) end
---@type timers.Scheduler
promises.scheduler = Scheduler

---@class timers
local timers = {}

---@type Timeout
timers.Timeout = Timeout
---@type Immediate
timers.Immediate = Immediate
---@type timers.promises
timers.promises = promises

---Run `fn(...)` once after `ms` milliseconds (default 1).
---@param fn fun(...)
---@param ms? number
---@param ... any arguments for fn
---@return Timeout
function timers.setTimeout(fn, ms, ...) end
---Run `fn(...)` every `ms` milliseconds.
---@param fn fun(...)
---@param ms? number
---@param ... any
---@return Timeout
function timers.setInterval(fn, ms, ...) end
---Run `fn(...)` after the loop's poll phase.
---@param fn fun(...)
---@param ... any
---@return Immediate
function timers.setImmediate(fn, ...) end
---@param t Timeout|nil
function timers.clearTimeout(t) end
---@param t Timeout|nil
function timers.clearInterval(t) end
---@param im Immediate|nil
function timers.clearImmediate(im) end
---`await(timers.sleep(100))`: a promise resolved after `ms` milliseconds.
---@param ms number
---@param value? any
---@return Promise
function timers.sleep(ms, value) end
---Internal: runs the queued immediates (called by the runtime).
---@private
function timers.run_immediates() end

return timers
