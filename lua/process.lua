--- `process`: the running program — identity, environment, exit, events,
--- standard streams, clocks and memory.  A module singleton: its methods
--- work with `.` and `:` (process.on('exit', f), process:on('exit', f)).
local native = require('native.process')
local core = require('native.core')
local sched = require('luster.scheduler')
local errors = require('luster.errors')
local EventEmitter = require('events')
local ffi = require('ffi')

ffi.cdef [[ uint64_t uv_hrtime(void); ]]

---@class Process: EventEmitter
local Process = EventEmitter.extend({})
local process = setmetatable({}, Process)

local info = core.info()
local pid, ppid = native.ids()
process.pid = pid
process.ppid = ppid
process.platform = 'linux'
process.arch = jit.arch == 'x64' and 'x64' or jit.arch
process.execPath = native.exepath()
process.argv = { process.execPath }
process.argv0 = 'luster'
process.exitCode = nil
process.title = 'luster'
process.release = { name = 'luster' }

-- ---- version ----
local version = '0.1.0'
process.version = 'v' .. version
process.versions = { luster = version, luajit = jit.version, uv = nil }

-- ---- environment: a read/write view of the real environment ----
local env_mt = {
  __index = function(_, k) return native.getenv(tostring(k)) end,
  __newindex = function(_, k, v) native.setenv(tostring(k), v ~= nil and tostring(v) or nil) end,
  -- process.env() is a snapshot table, for iterating
  __call = function() return native.environ() end,
  __pairs = function() return next, native.environ(), nil end,
}
process.env = setmetatable({}, env_mt)

--- Replace the environment view with a private copy (worker threads with
--- their own `env`).  It behaves as the shared view does: indexing,
--- assignment (values become strings), process.env() for a snapshot table,
--- pairs.
function process._set_private_env(tbl)
  local vars = {}
  for k, v in next, tbl do vars[tostring(k)] = tostring(v) end
  local function snapshot()
    local t = {}
    for k, v in next, vars do t[k] = v end
    return t
  end
  process.env = setmetatable({}, {
    __index = function(_, k) return vars[tostring(k)] end,
    __newindex = function(_, k, v) vars[tostring(k)] = v ~= nil and tostring(v) or nil end,
    __call = snapshot,
    __pairs = function() return next, snapshot(), nil end,
  })
end

-- ---- cwd ----
function Process:cwd() return native.cwd() end
function Process:chdir(dir) native.chdir(dir) end

-- ---- clocks ----
local start_ns = native.hrtime()

--- [seconds, nanoseconds] since an arbitrary time; with `prev`, the difference.
local hrtime = setmetatable({}, { __call = function(_, prev)
  local t = native.hrtime()
  local sec, nsec = math.floor(t / 1e9), t % 1e9
  if prev then
    sec, nsec = sec - prev[1], nsec - prev[2]
    if nsec < 0 then sec, nsec = sec - 1, nsec + 1e9 end
  end
  return { sec, nsec }
end })
--- Nanoseconds as a uint64 cdata.
function hrtime.bigint() return ffi.C.uv_hrtime() end
process.hrtime = hrtime

function Process:uptime() return (native.hrtime() - start_ns) / 1e9 end

function Process:memoryUsage()
  local heap_used, heap_limit = core.heap()
  return {
    rss = native.rss(),
    heapTotal = heap_limit > 0 and heap_limit or heap_used,
    heapUsed = heap_used,
    external = 0,
    arrayBuffers = 0,
  }
end
process.memoryUsage = setmetatable({}, {
  __call = function() return Process.memoryUsage(process) end,
  __index = { rss = function() return native.rss() end },
})

-- ---- standard streams ----
local function stream(fd)
  local s = { fd = fd, isTTY = false, writable = true }
  --- Write a string (tostring'ed); works as s:write(x) and s.write(x).
  function s.write(a, b)
    local data = a
    if a == s then data = b end
    native.write(fd, type(data) == 'string' and data or tostring(data))
    return true
  end
  function s.on() return s end
  function s.once() return s end
  function s.finish(...) if select('#', ...) > 0 then s.write(...) end end
  s['end'] = s.finish
  return s
end
process.stdout = stream(1)
process.stderr = stream(2)
process.stdin = { fd = 0 }

-- ---- ticks ----
function Process:nextTick(fn, ...)
  errors.check_type(fn, 'callback', 'function')
  sched.next_tick(fn, ...)
end

-- ---- warnings (lua/luster/warnings.lua) ----
function Process:emitWarning(warning, kind, code)
  return require('luster.warnings').emit(warning, kind, code)
end

-- ---- exit ----
local exit_emitted = false

local function final_code()
  local c = tonumber(process.exitCode)
  return c and math.floor(c) or 0
end

--- Called by the C side when the state ends: emits 'exit' once.
--- `code` is the C side's exit code, used when process.exitCode is unset.
function process._emit_exit(code)
  if process.exitCode == nil and code and code ~= 0 then process.exitCode = code end
  if not exit_emitted then
    exit_emitted = true
    sched.exiting = false -- listeners of 'exit' still run
    local code = final_code()
    local ok, err = pcall(process.emit, process, 'exit', code)
    if not ok and err ~= sched.EXIT then
      io.stderr:write(errors.describe(type(err) == 'table' and rawget(err, 'value') or err), '\n')
      process.exitCode = 1
    end
    sched.exiting = true
  end
  return final_code()
end

--- Called by the C side when the loop runs dry.
function process._before_exit()
  if process:listenerCount('beforeExit') > 0 then
    sched.dispatch(process.emit, process, 'beforeExit', final_code())
  end
end

--- End the process (the current state, in a worker thread) with `code`.
---@param code? integer
function Process:exit(code)
  if code ~= nil then process.exitCode = code end
  if not sched.exiting then
    process._emit_exit()
  end
  sched.exiting = true
  core.exit(final_code())
  error(sched.EXIT, 0)
end

function Process:abort() os.exit(134) end

--- Send a signal to a process (`'SIGTERM'` by default).
function Process:kill(target, sig)
  return native.kill(target, sig or 'SIGTERM')
end

-- ---- uncaught errors ----
sched.on_uncaught = function(value, trace, origin)
  if process:listenerCount('uncaughtException') > 0 then
    local ok, err = sched.run(process.emit, process, 'uncaughtException', value, origin or 'uncaughtException')
    -- process.exit(n) in a listener: the state ends with n, nothing to report
    if ok or err == sched.EXIT then return end
    value, trace = err.value, err.trace
  end
  local hook = process._fatal_hook -- worker threads report to their parent
  if hook then return hook(value, trace, origin) end
  native.write(2, errors.describe(value, trace, origin) .. '\n')
  process.exitCode = 1
  sched.exiting = true
  core.exit(1)
end

-- ---- signals: a listener replaces the default action ----
local signal_listening = {}
function Process:_listeners_changed(name)
  if type(name) ~= 'string' or name:sub(1, 3) ~= 'SIG' or not native.signal_number(name) then return end
  local want = self:listenerCount(name) > 0
  if want == (signal_listening[name] or false) then return end
  signal_listening[name] = want
  if want then
    native.watch_signal(name, function(sig) process:emit(sig, sig) end)
  else
    native.watch_signal(name, nil)
  end
end

-- Only the main thread of a process owns its signals (as in Node).
if not info.isMainThread then
  function Process:_listeners_changed() end
end

EventEmitter.singleton(process)
return process
