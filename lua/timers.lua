--- Timers: setTimeout, setInterval, setImmediate and their clear*.
---
--- All timeouts of a state live in one binary heap ordered by due time (and
--- creation order for ties); a single native timer is armed for the earliest.
--- Each callback runs in its own runtime coroutine, and nextTicks and
--- microtasks drain between callbacks, as in Node.
local native = require('native.timer')
local core = require('native.core')
local sched = require('luster.scheduler')
local errors = require('luster.errors')

local M = {}
local floor, unpack, select = math.floor, unpack, select
local heap, size, seq, refed = {}, 0, 0, 0

---@class Timeout
local Timeout = {}
Timeout.__index = Timeout
Timeout.__tostring = function(t) return 'Timeout' end

local function less(a, b)
  return a.due < b.due or (a.due == b.due and a.seq < b.seq)
end

local function swap(i, j)
  heap[i], heap[j] = heap[j], heap[i]
  heap[i].hi, heap[j].hi = i, j
end

local function up(i)
  while i > 1 do
    local p = floor(i / 2)
    if not less(heap[i], heap[p]) then break end
    swap(i, p)
    i = p
  end
end

local function down(i)
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= size and less(heap[l], heap[m]) then m = l end
    if r <= size and less(heap[r], heap[m]) then m = r end
    if m == i then return end
    swap(i, m)
    i = m
  end
end

local function push(t)
  size = size + 1
  heap[size] = t
  t.hi = size
  up(size)
end

local function remove(t)
  local i = t.hi
  if not i then return end
  t.hi = nil
  if i ~= size then
    heap[i] = heap[size]
    heap[i].hi = i
    heap[size] = nil
    size = size - 1
    up(i)
    down(heap[i] and i or 1)
  else
    heap[size] = nil
    size = size - 1
  end
end

local guard -- keeps the native timer alive with the state

local function arm()
  local top = heap[1]
  if top then
    native.arm(top.due - native.now())
  else
    native.disarm()
  end
  native.ref(refed > 0)
end

local function set_ref(t, on)
  if t.refed == on then return end
  t.refed = on
  if t.hi then refed = refed + (on and 1 or -1) end
end

local function schedule(t)
  seq = seq + 1
  t.seq = seq
  native.update_time() -- the loop clock is cached; a timer must not fire early
  t.due = native.now() + t.delay
  push(t)
  if t.refed then refed = refed + 1 end
end

local function unschedule(t)
  if t.hi then
    remove(t)
    if t.refed then refed = refed - 1 end
  end
end

local function fire()
  local now = native.now()
  while size > 0 and not sched.exiting do
    local t = heap[1]
    if t.due > now then break end
    unschedule(t)
    if t.interval then schedule(t) end
    local ok, err
    if t.n == 0 then ok, err = sched.run(t.fn) else ok, err = sched.run(t.fn, unpack(t, 1, t.n)) end
    if not ok then sched.uncaught(err) end
    sched.drain()
  end
  if not sched.exiting then arm() end
end

local function delay_of(ms)
  ms = tonumber(ms) or 1
  if ms < 1 or ms > 2147483647 or ms ~= ms then return 1 end
  return ms
end

local function new_timeout(fn, ms, interval, ...)
  errors.check_type(fn, 'callback', 'function')
  if not guard then guard = native.init(fire) end
  local n = select('#', ...)
  local t = setmetatable({ fn = fn, n = n, delay = delay_of(ms), interval = interval, refed = true, ... }, Timeout)
  schedule(t)
  arm()
  return t
end

--- Run fn(...) once after ms milliseconds.
---@param fn function
---@param ms? number
---@return Timeout
function M.setTimeout(fn, ms, ...) return new_timeout(fn, ms, false, ...) end

--- Run fn(...) every ms milliseconds.
---@return Timeout
function M.setInterval(fn, ms, ...) return new_timeout(fn, ms, true, ...) end

function M.clearTimeout(t)
  if getmetatable(t) ~= Timeout then return end
  t.interval = false
  unschedule(t)
  arm()
end
M.clearInterval = M.clearTimeout

--- Keep the loop alive for this timer (the default).
function Timeout:ref() set_ref(self, true); if guard then arm() end return self end
--- Let the process exit even though this timer is pending.
function Timeout:unref() set_ref(self, false); if guard then arm() end return self end
function Timeout:hasRef() return self.refed end
--- Restart the timer's countdown from now.
function Timeout:refresh()
  if self.hi then unschedule(self); schedule(self); arm() end
  return self
end
function Timeout:close() M.clearTimeout(self) return self end

-- ---- setImmediate ----
local immediates, live = {}, 0

---@class Immediate
local Immediate = {}
Immediate.__index = Immediate
function Immediate:ref() return self end
function Immediate:unref() return self end
function Immediate:hasRef() return true end

--- Run fn(...) after the loop's poll phase (before timers of the next turn).
---@return Immediate
function M.setImmediate(fn, ...)
  errors.check_type(fn, 'callback', 'function')
  local im = setmetatable({ fn = fn, n = select('#', ...), ... }, Immediate)
  immediates[#immediates + 1] = im
  live = live + 1
  if live == 1 then core.immediates(true) end
  return im
end

function M.clearImmediate(im)
  if getmetatable(im) ~= Immediate or im.cleared then return end
  im.cleared = true
  live = live - 1
  if live == 0 then core.immediates(false) end
end

--- Runs the immediates queued before this turn (called from C).
function M.run_immediates()
  local list = immediates
  immediates = {}
  for i = 1, #list do
    if sched.exiting then return end
    local im = list[i]
    if not im.cleared then
      im.cleared = true
      live = live - 1
      local ok, err = sched.run(im.fn, unpack(im, 1, im.n))
      if not ok then sched.uncaught(err) end
      sched.drain()
    end
  end
  if live == 0 then core.immediates(false) end
end

M.Timeout = Timeout
M.Immediate = Immediate

--- timers/promises-style helpers: `await(timers.sleep(100))`.
function M.sleep(ms, value)
  local Promise = require('luster.promise')
  return Promise.new(function(resolve) M.setTimeout(resolve, ms, value) end)
end
M.promises = { setTimeout = function(ms, value) return M.sleep(ms, value) end,
               setImmediate = function(value)
                 local Promise = require('luster.promise')
                 return Promise.new(function(resolve) M.setImmediate(resolve, value) end)
               end }

return M
