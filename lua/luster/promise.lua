--- Promises (Promises/A+ with JavaScript's semantics), `await` and `async`.
---
--- Reactions run as microtasks (scheduler.enqueue).  A handler passed to
--- `:next` runs in its own runtime coroutine, so it may `await` too.
--- `await(p)` parks the running runtime coroutine on `p`; the reaction
--- resumes it with the outcome.  Rejections that nobody handles by the end
--- of a microtask drain are reported as process 'unhandledRejection'.
local sched = require('luster.scheduler')
local errors = require('luster.errors')

local setmetatable, getmetatable, select, type, pcall = setmetatable, getmetatable, select, type, pcall
local yield, running = coroutine.yield, coroutine.running
local enqueue, run, run_in_job, AWAIT = sched.enqueue, sched.run, sched.run_in_job, sched.AWAIT

local PENDING, FULFILLED, REJECTED = 0, 1, 2

-- A promise's fields are in its array part (one allocation, no hash part):
-- its state (0 pending, 1 fulfilled, 2 rejected), its value, whether a
-- rejection was handled, its first reaction, the list of the others, and
-- whether it is locked onto another promise.  scheduler.lua reads [1], [2].
local STATE, VALUE, HANDLED, R, RS, LOCKED = 1, 2, 3, 4, 5, 6

---@class Promise
local Promise = {}
Promise.__index = Promise
Promise.__tostring = function(p)
  local names = { [0] = 'pending', 'fulfilled', 'rejected' }
  return 'Promise { <' .. names[p[STATE]] .. '> }'
end

local function is_promise(v) return getmetatable(v) == Promise end
Promise.isPromise = is_promise

-- Rejections with no handler yet; checked after each microtask drain.
local unhandled, unhandled_n = {}, 0

local resolve, reject

-- A reaction is either a coroutine parked in await (the common case: no
-- table needed) or a table whose `job` runs it.  The first reaction is kept
-- in p[R], any others in the list p[RS].
local await_job

local function queue_reaction(r, p)
  if type(r) == 'thread' then enqueue(await_job, r, p) else enqueue(r.job, r, p) end
end

local function settle(p, state, value)
  if p[STATE] ~= PENDING then return end
  p[STATE], p[VALUE] = state, value
  local r = p[R]
  if r then
    p[R] = false
    if type(r) == 'thread' then enqueue(await_job, r, p) else enqueue(r.job, r, p) end
    local rs = p[RS]
    if rs then
      p[RS] = false
      for i = 1, #rs do queue_reaction(rs[i], p) end
    end
  elseif state == REJECTED and not p[HANDLED] then
    unhandled_n = unhandled_n + 1
    unhandled[unhandled_n] = p
  end
end

-- The body of a `:next` handler, run in its own coroutine.
local function run_handler(h, value, derived)
  local ok, res = pcall(h, value)
  if derived then
    if ok then resolve(derived, res) else reject(derived, res) end
  elseif not ok then
    error(res, 0)
  end
end

local function then_job(r, p)
  local h
  if p[STATE] == FULFILLED then h = r.ok else h = r.err end
  if h == nil then
    if p[STATE] == FULFILLED then resolve(r.d, p[VALUE]) else reject(r.d, p[VALUE]) end
    return
  end
  local ok, err = run_in_job(run_handler, h, p[VALUE], r.d)
  if not ok then sched.uncaught(err) end
end

await_job = sched.resume_job

local function adopt_job(r, p)
  local target = r.target
  settle(target, p[STATE], p[VALUE])
end

local function subscribe(p, r)
  local state = p[STATE]
  -- (only a rejection asks whether it was handled: a fulfilled promise
  -- from Promise.resolve keeps its two slots)
  if state ~= FULFILLED then p[HANDLED] = true end
  if state == PENDING then
    if not p[R] then
      p[R] = r
    else
      local rs = p[RS]
      if rs then rs[#rs + 1] = r else p[RS] = { r } end
    end
  else
    queue_reaction(r, p)
  end
end

-- Every slot a promise will get is in the constructor, so the table is
-- allocated once at its final size (its array part comes with it).  The
-- state is written as the literal 0 (PENDING): a constructor of constants
-- only is copied from one template, with no store after it.
local function new_promise()
  return setmetatable({ 0, false, false, false, false, false }, Promise)
end

--- Resolve p with x: adopt x's outcome when x is a promise.
function resolve(p, x)
  if p[STATE] ~= PENDING or p[LOCKED] then return end
  if getmetatable(x) == Promise then
    if x == p then
      return settle(p, REJECTED, errors.new('ERR_INVALID_RETURN_VALUE', 'Chaining cycle detected for promise'))
    end
    p[LOCKED] = true
    return subscribe(x, { job = adopt_job, target = p })
  end
  return settle(p, FULFILLED, x)
end

function reject(p, e)
  if p[STATE] ~= PENDING or p[LOCKED] then return end
  settle(p, REJECTED, e)
end

--- `Promise.new(function(resolve, reject) ... end)`; the executor runs now.
---@param executor fun(resolve: fun(v: any), reject: fun(e: any))
---@return Promise
function Promise.new(executor)
  -- new_promise(), inline: the hottest constructor
  local p = setmetatable({ 0, false, false, false, false, false }, Promise)
  if executor ~= nil then
    -- resolve and reject ignore a promise already settled or locked onto
    -- another one: that is the "called once" of the resolving functions,
    -- with no flag of their own (one upvalue for the pair, not two)
    local function res(v) resolve(p, v) end
    local function rej(e) reject(p, e) end
    local ok, e = pcall(executor, res, rej)
    if not ok then reject(p, e) end
  end
  return p
end

--- `p:next(onFulfilled, onRejected)` — JavaScript's `then`.
---@return Promise
function Promise:next(on_ok, on_err)
  local d = new_promise()
  subscribe(self, { job = then_job, ok = on_ok, err = on_err, d = d })
  return d
end
Promise['then'] = Promise.next

---@return Promise
function Promise:catch(on_err) return self:next(nil, on_err) end

--- Runs f when settled; passes the outcome through (awaits f's promise).
---@return Promise
function Promise:finally(f)
  return self:next(function(v)
    local r = f()
    if is_promise(r) then Promise.await(r) end
    return v
  end, function(e)
    local r = f()
    if is_promise(r) then Promise.await(r) end
    error(e, 0)
  end)
end

---@return Promise
function Promise.resolve(v)
  if getmetatable(v) == Promise then return v end
  -- settled for good: no reactions will be kept, nor a handled flag asked,
  -- so state and value are all it needs
  return setmetatable({ FULFILLED, v }, Promise)
end

---@return Promise
function Promise.reject(e)
  local p = new_promise()
  settle(p, REJECTED, e)
  return p
end

local function count(list) return list.n or #list end

--- Fulfils with the list of values when all fulfil; rejects with the first rejection.
---@param list Promise[]|any[]
---@return Promise
function Promise.all(list)
  local p, n = new_promise(), count(list)
  local results, left = { n = n }, n
  if n == 0 then resolve(p, results) return p end
  for i = 1, n do
    Promise.resolve(list[i]):next(function(v)
      results[i] = v
      left = left - 1
      if left == 0 then resolve(p, results) end
    end, function(e) reject(p, e) end)
  end
  return p
end

--- Fulfils with {status='fulfilled', value=} / {status='rejected', reason=} for each.
---@return Promise
function Promise.allSettled(list)
  local p, n = new_promise(), count(list)
  local results, left = { n = n }, n
  if n == 0 then resolve(p, results) return p end
  for i = 1, n do
    Promise.resolve(list[i]):next(function(v)
      results[i] = { status = 'fulfilled', value = v }
      left = left - 1
      if left == 0 then resolve(p, results) end
    end, function(e)
      results[i] = { status = 'rejected', reason = e }
      left = left - 1
      if left == 0 then resolve(p, results) end
    end)
  end
  return p
end

--- Settles like the first of the list to settle.
---@return Promise
function Promise.race(list)
  local p = new_promise()
  for i = 1, count(list) do
    Promise.resolve(list[i]):next(function(v) resolve(p, v) end, function(e) reject(p, e) end)
  end
  return p
end

--- Fulfils with the first fulfilment; rejects with an AggregateError
--- (code 'ERR_AGGREGATE_ERROR', `.errors`) when all reject.
---@return Promise
function Promise.any(list)
  local p, n = new_promise(), count(list)
  local errs, left = { n = n }, n
  local function fail()
    local e = errors.new('ERR_AGGREGATE_ERROR', 'All promises were rejected')
    e.errors = errs
    reject(p, e)
  end
  if n == 0 then fail() return p end
  for i = 1, n do
    Promise.resolve(list[i]):next(function(v) resolve(p, v) end, function(e)
      errs[i] = e
      left = left - 1
      if left == 0 then fail() end
    end)
  end
  return p
end

--- Suspend the running coroutine until p settles; return its value or
--- raise its rejection.  A non-promise is returned as it is.
---@param p Promise|any
---@return any
local is_runtime, inline_await = sched.is_runtime, sched.inline_await
function Promise.await(p)
  if getmetatable(p) ~= Promise then return p end
  local co = running()
  if not is_runtime[co] then
    error(errors.new('ERR_AWAIT_OUTSIDE_COROUTINE',
      'await() needs a runtime coroutine (the entry chunk, a callback, or a function run by async()); '
      .. 'it was called from a coroutine created by coroutine.create/wrap', 2), 2)
  end
  local state = p[STATE]
  if state == PENDING then
    -- subscribe(p, co), for the common case of its first reaction
    p[HANDLED] = true
    if not p[R] then p[R] = co else subscribe(p, co) end
    local ok, v = yield(AWAIT)
    if ok then return v end
    error(v, 0)
  end
  if inline_await(co) then
    -- the continuation would be the next job: go on without suspending
    if state == FULFILLED then return p[VALUE] end
    p[HANDLED] = true
    error(p[VALUE], 0)
  end
  subscribe(p, co)
  local ok, v = yield(AWAIT)
  if ok then return v end
  error(v, 0)
end

local function async_body(fn, p, ...)
  local ok, v = pcall(fn, ...)
  if ok then resolve(p, v) else reject(p, v) end
end

--- A function that runs fn in a new coroutine and returns a promise of its result.
---@param fn function
---@return fun(...): Promise
function Promise.async(fn)
  errors.check_type(fn, 'fn', 'function')
  return function(...)
    local p = new_promise()
    local ok, err = run(async_body, fn, p, ...)
    if not ok then reject(p, err.value) end
    return p
  end
end

-- ---- unhandled rejections ----
-- What 'uncaughtException' gets for a rejection nobody handled: the reason
-- itself when it is an error value (a table or a string, Lua's two kinds),
-- else Node's ERR_UNHANDLED_REJECTION error naming it.
local function rejection_error(reason)
  local t = type(reason)
  if t == 'table' or t == 'string' then return reason end
  local e = errors.new('ERR_UNHANDLED_REJECTION', 'This error originated either by throwing inside of an async '
    .. 'function without a catch block, or by rejecting a promise which was not handled with :catch(). '
    .. 'The promise rejected with the reason "' .. require('luster.inspect').inspect(reason) .. '".')
  e.reason = reason
  return e
end

sched.has_pending_rejections = function() return unhandled_n > 0 end
sched.after_microtasks = function()
  local list, n = unhandled, unhandled_n
  unhandled, unhandled_n = {}, 0
  for i = 1, n do
    local p = list[i]
    if not p[HANDLED] then
      p[HANDLED] = true
      local process = package.loaded['process']
      if process and process:listenerCount('unhandledRejection') > 0 then
        local ok, err = run(process.emit, process, 'unhandledRejection', p[VALUE], p)
        if not ok then sched.uncaught(err) end
      else
        sched.uncaught({ value = rejection_error(p[VALUE]), origin = 'unhandledRejection' })
      end
    end
  end
end

-- (internal) settle a promise made by Promise.new() without an executor,
-- with no resolving closures: resolve(p, v) / reject(p, e)
Promise._resolve, Promise._reject = resolve, reject
-- (internal) a pending promise, made by a function with no closure in it
-- (LuaJIT compiles its callers' traces through it; not so Promise.new's)
Promise._pending = new_promise

-- `Promise(fn)` is `Promise.new(fn)`
return setmetatable(Promise, { __call = function(_, executor) return Promise.new(executor) end })
