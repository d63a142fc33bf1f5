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

---Promise forms (`require('timers/promises')`).
---@class timers.promises
local promises = {}
---A promise resolved with `value` after `ms` milliseconds.
---@generic T
---@param ms? number
---@param value? T
---@return Promise
function promises.setTimeout(ms, value) end
---A promise resolved with `value` after the poll phase.
---@generic T
---@param value? T
---@return Promise
function promises.setImmediate(value) end

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
