--- Timers: setTimeout, setInterval, setImmediate and their clear*.
---
--- As in Node, timeouts with the same duration share one FIFO list (their
--- due times only grow, so appending keeps the list sorted), and a binary
--- heap orders the lists by their first timer's due time.  Starting or
--- clearing a timer is O(1) unless it changes a list's head; one native
--- timer (runtime/timer.c) is armed for the earliest due time, and only
--- re-armed when that changes.  Each callback runs in its own runtime
--- coroutine, and nextTicks and microtasks drain between callbacks.
local native = require('native.timer')
local core = require('native.core')
local ffi = require('ffi')

ffi.cdef [[
void lstr_timer_arm(void *t, double ms);
void lstr_timer_disarm(void *t);
void lstr_timer_ref(void *t, int on);
double lstr_timer_now(void *t, int update);
]]
local C = ffi.C
local handle -- the state's native timer (a void* for the FFI calls)
local sched = require('luster.scheduler')
local errors = require('luster.errors')

local M = {}
local floor, unpack, select = math.floor, unpack, select

local lists = {}             -- duration -> list {delay, head, tail, due, hi}
local heap, size = {}, 0     -- lists ordered by due
local refed = 0              -- scheduled timers that keep the loop alive
local armed_due, armed_ref   -- what the native timer is set to now
local guard                  -- keeps the native timer alive with the state

---@class Timeout
local Timeout = {}
Timeout.__index = Timeout
Timeout.__tostring = function() return 'Timeout' end

-- ---- the heap of lists ----
local function swap(i, j)
  heap[i], heap[j] = heap[j], heap[i]
  heap[i].hi, heap[j].hi = i, j
end

local function up(i)
  while i > 1 do
    local p = floor(i / 2)
    if heap[p].due <= heap[i].due then return end
    swap(i, p)
    i = p
  end
end

local function down(i)
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= size and heap[l].due < heap[m].due then m = l end
    if r <= size and heap[r].due < heap[m].due then m = r end
    if m == i then return end
    swap(i, m)
    i = m
  end
end

local function heap_remove(list)
  local i = list.hi
  list.hi = nil
  if i ~= size then
    heap[i] = heap[size]
    heap[i].hi = i
    heap[size] = nil
    size = size - 1
    up(i)
    down(i)
  else
    heap[size] = nil
    size = size - 1
  end
end

-- ---- the native timer ----
local function arm()
  local top = heap[1]
  local due = top and top.due
  if due ~= armed_due then
    armed_due = due
    if due then C.lstr_timer_arm(handle, due - C.lstr_timer_now(handle, 0)) else C.lstr_timer_disarm(handle) end
  end
  local want = refed > 0
  if want ~= armed_ref then
    armed_ref = want
    C.lstr_timer_ref(handle, want and 1 or 0)
  end
end

-- ---- scheduling ----
local function schedule(t, now)
  t.due = now + t.delay
  local list = lists[t.delay]
  if not list then
    list = { delay = t.delay }
    lists[t.delay] = list
  end
  t.list, t.next = list, nil
  local tail = list.tail
  t.prev = tail
  if tail then
    tail.next = t
    list.tail = t
  else
    list.head, list.tail, list.due = t, t, t.due
    size = size + 1
    heap[size] = list
    list.hi = size
    up(size)
  end
  if t.refed then refed = refed + 1 end
end

local function unschedule(t)
  local list = t.list
  if not list then return end
  t.list = nil
  if t.refed then refed = refed - 1 end
  local prev, nxt = t.prev, t.next
  if prev then prev.next = nxt else list.head = nxt end
  if nxt then nxt.prev = prev else list.tail = prev end
  t.prev, t.next = nil, nil
  if not list.head then
    heap_remove(list)
    lists[list.delay] = nil
  elseif not prev then -- the head changed: so did the list's due time
    list.due = list.head.due
    down(list.hi)
  end
end

local function fire()
  local now = C.lstr_timer_now(handle, 0)
  armed_due = nil -- the native timer has fired: it is no longer armed
  while size > 0 and not sched.exiting do
    local list = heap[1]
    if list.due > now then break end
    local t = list.head
    unschedule(t)
    if t.interval then schedule(t, now) end
    local ok, err
    if t.n == 0 then ok, err = sched.run(t.fn) else ok, err = sched.run(t.fn, unpack(t, 1, t.n)) end
    if not ok then sched.uncaught(err) end
    sched.drain()
  end
  if not sched.exiting then arm() end
end

-- Node's TIMEOUT_MAX: libuv and browsers keep delays in a signed 32-bit int
local TIMEOUT_MAX = 2147483647

local function overflow_warning(ms)
  require('luster.warnings').emit(require('luster.inspect').number(ms)
    .. ' does not fit into a 32-bit signed integer.\nTimeout duration was set to 1.', 'TimeoutOverflowWarning')
end

-- As in Node: a delay that is missing, not a number, below 1 or above
-- TIMEOUT_MAX is 1 ms (the last with a warning); fractions are dropped.
local function delay_of(ms)
  ms = tonumber(ms) or 1
  if ms >= 1 and ms <= TIMEOUT_MAX then return floor(ms) end
  if ms > TIMEOUT_MAX then overflow_warning(ms) end
  return 1
end

local function init_handle()
  local ptr
  guard, ptr = native.init(fire)
  handle = ffi.cast('void *', ptr)
end

local function new_timeout(fn, ms, interval, ...)
  errors.check_type(fn, 'callback', 'function')
  if not guard then init_handle() end
  local t = setmetatable({ fn = fn, n = select('#', ...), delay = delay_of(ms), interval = interval,
                           refed = true, cleared = false, due = 0, list = false, prev = false, next = false,
                           ... }, Timeout)
  t.list, t.prev, t.next = nil, nil, nil
  -- the loop clock is cached: refresh it so a timer never fires early
  schedule(t, C.lstr_timer_now(handle, 1))
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
  t.interval, t.cleared = false, true
  if t.list then
    unschedule(t)
    arm()
  end
end
M.clearInterval = M.clearTimeout

local function set_ref(t, on)
  if t.refed == on then return end
  t.refed = on
  if t.list then refed = refed + (on and 1 or -1) end
  if guard then arm() end
end

--- Keep the loop alive for this timer (the default).
function Timeout:ref() set_ref(self, true) return self end
--- Let the process exit even though this timer is pending.
function Timeout:unref() set_ref(self, false) return self end
function Timeout:hasRef() return self.refed end
--- Restart the timer's countdown from now; a timeout that has fired (but
--- was not cleared) is scheduled again, as in Node.
function Timeout:refresh()
  if self.cleared then return self end
  if self.list then unschedule(self) end
  schedule(self, C.lstr_timer_now(handle, 1))
  arm()
  return self
end
function Timeout:close() M.clearTimeout(self) return self end

-- ---- setImmediate ----
-- `live` immediates are queued and not cleared; `refed_live` of them keep
-- the loop alive.  The native check/idle pair runs while any is live; it
-- is unref'd (native.immediate_ref) while none of the live ones is ref'd,
-- so an unref'd immediate runs only if something else keeps the loop up.
local immediates, live, refed_live = {}, 0, 0
local handles_refed = true -- libuv handles start ref'd

local function sync_immediate_ref()
  if live == 0 then return end -- stopped handles keep nobody alive
  local want = refed_live > 0
  if want ~= handles_refed then
    handles_refed = want
    native.immediate_ref(want)
  end
end

---@class Immediate
local Immediate = {}
Immediate.__index = Immediate
Immediate.__tostring = function() return 'Immediate' end

--- Keep the loop alive until this immediate has run (the default).
function Immediate:ref()
  if not self.refed then
    self.refed = true
    if not self.cleared then refed_live = refed_live + 1; sync_immediate_ref() end
  end
  return self
end
--- Let the process exit even though this immediate has not run.
function Immediate:unref()
  if self.refed then
    self.refed = false
    if not self.cleared then refed_live = refed_live - 1; sync_immediate_ref() end
  end
  return self
end
function Immediate:hasRef() return self.refed end

--- Run fn(...) after the loop's poll phase (before timers of the next turn).
---@return Immediate
function M.setImmediate(fn, ...)
  errors.check_type(fn, 'callback', 'function')
  local im = setmetatable({ fn = fn, n = select('#', ...), refed = true, cleared = false, ... }, Immediate)
  immediates[#immediates + 1] = im
  live, refed_live = live + 1, refed_live + 1
  if live == 1 then core.immediates(true) end
  if not handles_refed then sync_immediate_ref() end
  return im
end

-- The immediate is done (ran or cleared): it no longer counts.
local function retire(im)
  im.cleared = true
  live = live - 1
  if im.refed then refed_live = refed_live - 1 end
end

function M.clearImmediate(im)
  if getmetatable(im) ~= Immediate or im.cleared then return end
  retire(im)
  if live == 0 then core.immediates(false) else sync_immediate_ref() end
end

--- Runs the immediates queued before this turn (called from C).
function M.run_immediates()
  -- Node's libuv runs timers after the check phase, 1.44 (ours) before it:
  -- an unref'd immediate set by a timer callback would run in this same
  -- turn, where Node lets the process end first.  So unref'd ones wait
  -- unless something else keeps the loop alive.
  if refed_live == 0 and not native.loop_alive() then return end
  local list = immediates
  immediates = {}
  for i = 1, #list do
    if sched.exiting then return end
    local im = list[i]
    if not im.cleared then
      retire(im)
      local ok, err = sched.run(im.fn, unpack(im, 1, im.n))
      if not ok then sched.uncaught(err) end
      sched.drain()
    end
  end
  if live == 0 then core.immediates(false) else sync_immediate_ref() end
end

--- Internal: the loop's clock in ms, as cached for this turn (the clock
--- timers are due against).  For stamps taken per request, where
--- `process.hrtime` would make a table each time and a fresher clock buys
--- nothing.
function M._loop_now()
  if not guard then init_handle() end
  return C.lstr_timer_now(handle, 0)
end

M.Timeout = Timeout
M.Immediate = Immediate

--- `await(timers.sleep(100))`: timers/promises' setTimeout.
function M.sleep(ms, value) return M.promises.setTimeout(ms, value) end

-- `timers.promises` is `require('timers/promises')` (lua/timers/promises.lua),
-- loaded on first use: most states never touch it.
package.preload['timers/promises'] = function() return require('timers.promises') end
setmetatable(M, { __index = function(t, k)
  if k == 'promises' then
    local p = require('timers.promises')
    rawset(t, 'promises', p)
    return p
  end
end })

return M
