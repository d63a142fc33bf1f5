--- The scheduler: every callback the runtime makes runs here.
---
--- * A pool of coroutines runs callbacks, so any callback may `await`.  A
---   coroutine that finishes its function goes back to the pool; one that
---   suspends in `await` is held by the promise it waits for, and resumed
---   from the microtask queue when it settles.
--- * After each callback from the loop, `drain` runs the process.nextTick
---   queue, then the microtask queue, until both are empty — Node's order.
--- * An error nobody catches goes to process 'uncaughtException', or is
---   printed with its traceback and ends the state with exit code 1.
--- * `await` of a promise that is already settled does not suspend when
---   its continuation would be the very next job anyway (see inline_await):
---   the order Node shows is kept, without two coroutine switches.
local M = {}

local create, resume, yield, running = coroutine.create, coroutine.resume, coroutine.yield, coroutine.running
local traceback, unpack, select = debug.traceback, unpack, select

local DONE = {}     -- yielded by a pooled coroutine that finished its function
local AWAIT = {}    -- yielded by await()
M.AWAIT = AWAIT
--- Raised by process.exit() to unwind the running callback.
M.EXIT = setmetatable({}, { __tostring = function() return 'process.exit()' end })
local EXIT = M.EXIT

--- Set once the state is ending: no more callbacks run.
M.exiting = false

--- Coroutines owned by the runtime (await works only in these).
local is_runtime = setmetatable({}, { __mode = 'k' })
M.is_runtime = is_runtime

local pool, pool_n, POOL_MAX = {}, 0, 128

-- Runs inside a coroutine when its function raises: keeps the value and
-- the traceback of where it was raised.
--
-- On a stack overflow LuaJIT (2.1 before its 2024 rework) gives the handler
-- only ~40 free slots; the C call to traceback needs 20 at entry, and when
-- they are not there LuaJIT abandons the handler with 'error in error
-- handling'.  An error raised from a compiled trace skips the handler
-- altogether.  So trap first keeps the value in an upvalue (no call, no
-- stack needed), and body falls back to it when trap did not return.
local trapped, last_record
local function record_of(e)
  if rawequal(e, EXIT) then return e end -- rawequal: the value may have an __eq
  -- the frames below the callback (xpcall, this scheduler) are noise
  local trace = traceback('', 2):sub(2):gsub("\n\t%[C%]: in function 'xpcall'.*$", '')
  last_record = { value = e, trace = trace }
  return last_record
end
-- (the smallest frame there is: it must fit where the stack overflowed)
local function trap(e)
  trapped = e
  return record_of(e)
end

-- What xpcall(fn, trap, ...) returned, made whole: trap may have run out
-- of stack (or never run): then what it kept, or what xpcall got.  'error
-- in error handling' with nothing kept means even trap's frame did not
-- fit: the stack was full, and LuaJIT dropped the overflow's message (the
-- place it was raised is lost with it).
local function settle_call(ok, err, ...)
  if not ok and err ~= last_record and err ~= EXIT then
    if trapped == EXIT then err = EXIT
    elseif trapped ~= nil then err = { value = trapped }
    elseif err == 'error in error handling' then err = { value = 'stack overflow' }
    else err = { value = err } end
  end
  trapped, last_record = nil, nil
  return ok, err, ...
end

--- Call fn(...) protected by the runtime's handler: true and fn's results,
--- or false and a record {value=, trace=} (or EXIT).  Every place that runs
--- user code under xpcall uses this, so a stack overflow reports alike.
local function xcall(fn, ...)
  trapped = nil
  return settle_call(xpcall(fn, trap, ...))
end
M.xcall = xcall

-- A pooled coroutine's whole life: run a function, report, wait for the next.
local function body(fn, ...)
  local ok, err = xcall(fn, ...)
  return body(yield(DONE, ok, err))
end

local function take()
  if pool_n > 0 then
    local co = pool[pool_n]
    pool[pool_n] = nil
    pool_n = pool_n - 1
    return co
  end
  local co = create(body)
  is_runtime[co] = true
  return co
end

-- Interpret what a resumed coroutine gave back.
-- Returns true (finished or suspended) or false, error record.
local function settle(co, alive, tag, ok, err)
  if tag == DONE then
    if pool_n < POOL_MAX then
      pool_n = pool_n + 1
      pool[pool_n] = co
    end
    if ok then return true end
    if err == EXIT then return false, EXIT end
    return false, err
  end
  if not alive then -- died outside xpcall (e.g. yield across a C call)
    return false, { value = tag, trace = traceback(co) }
  end
  return true -- suspended in await
end

--- Run fn(...) in a runtime coroutine until it finishes or first suspends.
--- Returns true, or false and an error record {value=, trace=} when fn
--- raised before suspending (the caller decides who hears of it).
function M.run(fn, ...)
  local co = take()
  return settle(co, resume(co, fn, ...))
end

--- Continue a coroutine suspended in await with (ok, value).
function M.resume(co, ok, value)
  local good, err = settle(co, resume(co, ok, value))
  if not good then M.uncaught(err) end
end

--- The microtask job that resumes coroutine `co` parked in await on the
--- settled promise `p` (state 1 = fulfilled).  drain() runs it inline: it
--- is the hottest job there is.
function M.resume_job(co, p)
  M.resume(co, p[1] == 1, p[2]) -- a promise's state and value
end
local resume_job = M.resume_job

--- Whether the running code may await.
function M.can_await()
  return is_runtime[running()] == true
end

-- ---- queues ----
local ticks, tick_head, tick_tail = {}, 1, 0
local draining = false

-- The microtask queue is a ring of job triples (f, a, b): a chain of awaits
-- keeps it from ever emptying, so it must not grow with the work done.
-- Each ring is allocated with all its slots in the array part: a table
-- grown key by key from {} would keep the few live slots in its hash part
-- (a rehash counts only non-nil keys), and every lap round the ring would
-- insert keys anew.
local band = bit.band
local new_table = require('table.new')
local mq_cap, mq_mask = 256, 255
local mq_f, mq_a, mq_b = new_table(mq_cap, 0), new_table(mq_cap, 0), new_table(mq_cap, 0)
local mq_head, mq_count = 0, 0

-- The coroutine whose suspension would hand control straight back to the
-- queue runner, with nothing run in between: the one drain resumed from
-- the microtask queue (direct_micro), or the one running a callback from
-- the loop, before that callback's drain (not direct_micro).  When it
-- awaits a settled promise and no job is queued, its continuation would be
-- the next job: inline_await lets it go on without suspending.
local direct, direct_micro = nil, false
-- Set when a callback's code went on as the first microtask of its drain:
-- that drain then starts with the microtask queue (and is the same turn).
local micro_first = false

local function grow_microtasks()
  local f, a, b = new_table(mq_cap * 2, 0), new_table(mq_cap * 2, 0), new_table(mq_cap * 2, 0)
  for i = 0, mq_count - 1 do
    local k = band(mq_head + i, mq_mask)
    f[i], a[i], b[i] = mq_f[k], mq_a[k], mq_b[k]
  end
  mq_f, mq_a, mq_b = f, a, b
  mq_head = 0
  mq_cap = mq_cap * 2
  mq_mask = mq_cap - 1
end

--- process.nextTick(fn, ...)
function M.next_tick(fn, ...)
  local n = select('#', ...)
  tick_tail = tick_tail + 1
  ticks[tick_tail] = n == 0 and fn or { fn = fn, n = n, ... }
end

--- Whether coroutine co, awaiting a settled promise, may go on at once:
--- its continuation, queued now, would be the next job to run.
function M.inline_await(co)
  if co ~= direct or mq_count ~= 0 or M.exiting then return false end
  if not direct_micro then
    -- a callback's own code: its drain would run the ticks first
    if tick_head <= tick_tail then return false end
    direct_micro, micro_first = true, true
    M.turn = M.turn + 1 -- what the drain would have counted
  end
  return true
end

--- Queue an internal job f(a, b) on the microtask queue (promise reactions).
--- Jobs must not raise; user code inside them goes through M.run.
function M.enqueue(f, a, b)
  if mq_count == mq_cap then grow_microtasks() end
  local t = band(mq_head + mq_count, mq_mask)
  mq_count = mq_count + 1
  mq_f[t], mq_a[t], mq_b[t] = f, a, b
end

-- The coroutine running the microtask queue's jobs (see run_microtasks).
local runner = nil

--- Run fn(...) as part of the running microtask job: in the runner
--- itself when this is the runner (no coroutine switch), else in a
--- coroutine of its own.  Returns like M.run.  An fn that suspends parks
--- the runner with it; the queue goes on in another one.
local function run_in_job(fn, ...)
  local co = running()
  if co ~= runner then return M.run(fn, ...) end
  local prev, prev_micro = direct, direct_micro
  direct, direct_micro = co, true
  local ok, err = xcall(fn, ...)
  direct, direct_micro = prev, prev_micro
  return ok, err
end
M.run_in_job = run_in_job

-- The job of a queueMicrotask callback.  run_microtasks runs it inline
-- (the same as this, without the calls): it is the most common plain job.
local function run_user(fn)
  local ok, err = run_in_job(fn)
  if not ok then M.uncaught(err) end
end

--- queueMicrotask(fn)
function M.queue_microtask(fn)
  if type(fn) ~= 'function' then
    local errors = require('luster.errors')
    error(errors.new('ERR_INVALID_ARG_TYPE',
      'The "callback" argument must be of type function. Received ' .. (fn == nil and 'nil' or type(fn)), 2), 2)
  end
  if mq_count == mq_cap then grow_microtasks() end
  local t = band(mq_head + mq_count, mq_mask)
  mq_count = mq_count + 1
  mq_f[t], mq_a[t] = run_user, fn
end

--- Hooks set by promise.lua: checks rejections nobody handled.
M.after_microtasks = nil
M.has_pending_rejections = function() return false end

--- Counts the callbacks from the loop and the drains after them: code
--- that ran since the last count is "this turn" (http's 'finish' uses it:
--- a listener added in the same turn as res:finish() still hears it, as
--- Node's nextTick-emitted event).
M.turn = 0

-- The body of the runner: run microtask jobs until the queue is empty.
-- User code in a job runs right here (run_in_job); when it suspends in
-- await, this coroutine is parked on that promise and drain starts another
-- runner.  Resumed later (by that runner, as a job), the parked one
-- finishes its job and returns: it is no longer the runner.
local function run_microtasks()
  local me = running()
  while mq_count > 0 and not M.exiting do
    local h = mq_head
    local f, a, b = mq_f[h], mq_a[h], mq_b[h]
    mq_f[h], mq_a[h], mq_b[h] = nil, nil, nil
    mq_head = band(h + 1, mq_mask)
    mq_count = mq_count - 1
    if f == resume_job then
      local prev, prev_micro = direct, direct_micro
      direct, direct_micro = a, true
      local alive, tag, ok, err = resume(a, b[1] == 1, b[2])
      direct, direct_micro = prev, prev_micro
      if tag ~= AWAIT then
        local good, e = settle(a, alive, tag, ok, err)
        if not good then M.uncaught(e) end
      end
    elseif f == run_user then
      -- run_in_job(a) for a queueMicrotask callback, inline
      local prev, prev_micro = direct, direct_micro
      direct, direct_micro = me, true
      trapped = nil
      local ok, err = xpcall(a, trap)
      direct, direct_micro = prev, prev_micro
      if not ok then M.uncaught((select(2, settle_call(false, err)))) end
      if runner ~= me then return end
    else
      f(a, b)
      if runner ~= me then return end
    end
  end
  runner = nil
end

-- Run nextTicks and microtasks until both queues are empty; skip_ticks:
-- the callback already went on as the drain's first microtask (so the
-- microtask queue comes first, and the turn is already counted).
local function drain(skip_ticks)
  if draining then return end
  draining = true
  if not skip_ticks then M.turn = M.turn + 1 end
  repeat
    while tick_head <= tick_tail and not M.exiting and not skip_ticks do
      local t = ticks[tick_head]
      ticks[tick_head] = nil
      tick_head = tick_head + 1
      local ok, err
      if type(t) == 'function' then ok, err = M.run(t)
      else ok, err = M.run(t.fn, unpack(t, 1, t.n)) end
      if not ok then M.uncaught(err) end
    end
    if tick_head > tick_tail then tick_head, tick_tail = 1, 0 end
    skip_ticks = false
    while mq_count > 0 and not M.exiting do
      local co = take()
      runner = co
      -- back when the queue is empty, or when the runner parked in await
      local good, err = settle(co, resume(co, run_microtasks))
      if runner == co then runner = nil end
      if not good then M.uncaught(err) end
    end
    if M.has_pending_rejections() and not M.exiting then M.after_microtasks() end
  until M.exiting or (tick_head > tick_tail and mq_count == 0)
  draining = false
end

--- Run nextTicks and microtasks until both queues are empty.
function M.drain() drain(false) end

--- Entry point for every callback from C: run it, then drain the queues.
function M.dispatch(fn, ...)
  if M.exiting then return end
  M.turn = M.turn + 1
  local co = take()
  local prev, prev_micro, prev_first = direct, direct_micro, micro_first
  -- inside a drain (a callback from C made while a job runs) the code that
  -- follows is the job's, not the queues': nothing may go on inline
  if draining then direct = nil else direct, direct_micro = co, false end
  micro_first = false
  local ok, err = settle(co, resume(co, fn, ...))
  local skip_ticks = micro_first
  direct, direct_micro, micro_first = prev, prev_micro, prev_first
  if not ok then M.uncaught(err) end
  if skip_ticks or tick_tail >= tick_head or mq_count > 0 or M.has_pending_rejections() then drain(skip_ticks) end
end

--- Set by process.lua: handles an error nobody caught.  Default: print it
--- and end the state.
M.on_uncaught = nil

-- The last resort: print the error and end the state.
local function fatal(rec)
  io.stderr:write(require('luster.errors').describe(rec.value, rec.trace, rec.origin), '\n')
  M.exiting = true
  require('native.core').exit(1)
end

--- An error record {value=, trace=} that reached the top.  Whatever the
--- value is (a table whose __index or __tostring raises included), this
--- does not raise: a handler that fails while reporting ends the state
--- the default way instead of unwinding into C.
function M.uncaught(rec)
  if rec == EXIT or M.exiting then return end
  if M.on_uncaught then
    local ok, err = pcall(M.on_uncaught, rec.value, rec.trace, rec.origin)
    if ok or rawequal(err, EXIT) or M.exiting then return end
  end
  fatal(rec)
end

return M
