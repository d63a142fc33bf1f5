--- `require('timers/promises')` (also `require('timers').promises`): the
--- timers as promises, as in Node.  `await(setTimeout(100, 'v'))` → 'v'.
---
--- Options (`{ref = false}` lets the process exit while it waits) are
--- checked the way Node checks them: a bad one rejects the promise rather
--- than raising.  AbortSignal (`options.signal`) is not supported yet.
local timers = require('timers')
local Promise = require('luster.promise')
local errors = require('luster.errors')

local M = {}

-- nil, or the error a bad options argument gets
local function bad_options(options)
  if options == nil then return nil end
  if type(options) ~= 'table' then
    return errors.new('ERR_INVALID_ARG_TYPE',
      'The "options" argument must be of type table. Received ' .. type(options), 3)
  end
  if options.ref ~= nil and type(options.ref) ~= 'boolean' then
    return errors.new('ERR_INVALID_ARG_TYPE',
      'The "options.ref" property must be of type boolean. Received ' .. type(options.ref), 3)
  end
  if options.signal ~= nil then
    return errors.new('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', 'options.signal is not supported by luster yet', 3)
  end
end

--- A promise that fulfils with `value` after `ms` milliseconds.
---@param ms? number
---@param value? any
---@param options? {ref?: boolean}
---@return Promise
function M.setTimeout(ms, value, options)
  local bad = bad_options(options)
  if bad then return Promise.reject(bad) end
  return Promise.new(function(resolve)
    local t = timers.setTimeout(resolve, ms, value)
    if options and options.ref == false then t:unref() end
  end)
end

--- A promise that fulfils with `value` after the loop's poll phase.
---@return Promise
function M.setImmediate(value, options)
  local bad = bad_options(options)
  if bad then return Promise.reject(bad) end
  return Promise.new(function(resolve)
    local im = timers.setImmediate(resolve, value)
    if options and options.ref == false then im:unref() end
  end)
end

-- ---- setInterval: an iterator of ticks ----
---@class IntervalIterator
local Interval = {}
Interval.__index = Interval

--- Ticks yield `value` every `ms` ms; ticks nobody has taken yet are kept
--- (each next() then fulfils at once), as Node's async iterator does.
---   for n, v in setInterval(100, 'v') do ... if n == 3 then break end end
--- (a Lua for loop: n counts the ticks; call :close() after a break), or
--- Node's shape: `await(it:next())` → `{value=, done=}`, `it:close()`.
---@return IntervalIterator
function M.setInterval(ms, value, options)
  local it = setmetatable({ value = value, pending = 0, count = 0, done = false, waiters = {} }, Interval)
  it.error = bad_options(options)
  if it.error then it.done = true return it end
  it.timer = timers.setInterval(function()
    local resolve = table.remove(it.waiters, 1)
    if resolve then resolve({ value = value, done = false }) else it.pending = it.pending + 1 end
  end, ms)
  if options and options.ref == false then it.timer:unref() end
  return it
end

--- A promise of the next tick: `{value=, done=false}`, or `{done=true}`
--- once closed.
---@return Promise
function Interval:next()
  if self.error then return Promise.reject(self.error) end
  if self.done then return Promise.resolve({ done = true }) end
  if self.pending > 0 then
    self.pending = self.pending - 1
    return Promise.resolve({ value = self.value, done = false })
  end
  local waiters = self.waiters
  return Promise.new(function(resolve) waiters[#waiters + 1] = resolve end)
end

--- Stop the interval (Node's `iterator.return()`); pending next()s
--- fulfil with `{done=true}`.
---@return Promise
function Interval:close()
  if not self.done then
    self.done = true
    timers.clearInterval(self.timer)
    local waiters = self.waiters
    self.waiters = {}
    for i = 1, #waiters do waiters[i]({ done = true }) end
  end
  return Promise.resolve({ done = true })
end
Interval['return'] = Interval.close

-- the generic-for form: each call awaits the next tick
Interval.__call = function(self)
  local r = await(self:next())
  if r.done then return nil end
  self.count = self.count + 1
  return self.count, r.value
end

--- `scheduler.wait(ms)` and `scheduler.yield()`, as in Node.
M.scheduler = {
  wait = function(ms, options) return M.setTimeout(ms, nil, options) end,
  yield = function() return M.setImmediate() end,
}

return M
