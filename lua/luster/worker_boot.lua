--- The worker-thread side of worker_threads: what a worker state does
--- before its entry chunk runs (called from runtime/worker.c).
---
--- It takes the boot table the parent sent (source, workerData, env, argv,
--- environment data), gives the state a private copy of the environment,
--- and reports an uncaught error to the parent (process._fatal_hook)
--- instead of printing it.  (`print` writes whole lines in every state, see
--- bootstrap.lua.)
local native = require('native.worker')
local core = require('native.core')
local sched = require('luster.scheduler')
local errors = require('luster.errors')
local process = require('process')

local M = {}
local boot = {}

-- An error value as a plain, clonable table: message, code, the worker's
-- traceback in `stack`, and the other simple fields it had.
local function plain_error(value, trace)
  local e = {}
  if type(value) == 'table' then
    for k, v in pairs(value) do
      local t = type(v)
      if type(k) == 'string' and (t == 'string' or t == 'number' or t == 'boolean') then e[k] = v end
    end
    if e.message == nil then e.message = errors.tostring(value) end
  else
    e.message = errors.tostring(value)
  end
  e.stack = errors.describe(value, trace)
  return e
end

local function fatal(value, trace)
  if not native.is_oom() then -- out of memory is reported by the C side
    local ok = pcall(native.report_error, plain_error(value, trace))
    if not ok then native.report_error({ message = errors.tostring(value) }) end
  end
  process.exitCode = 1
  sched.exiting = true
  core.exit(1)
end

--- Prepare the state; returns what run_entry needs:
--- kind ('file' | 'string'), source, chunkname, argv.
function M.start()
  boot = native.boot() or {}
  process._fatal_hook = fatal
  if type(boot.env) == 'table' then process._set_private_env(boot.env) end
  local argv = { process.execPath }
  local kind, source, chunk = 'string', boot.source, '=[worker eval]'
  if boot.kind == 'file' then
    kind, chunk = 'file', boot.source
    argv[2] = boot.source
  elseif boot.kind == 'function' then
    source = "return require('luster.worker_boot').run_function()"
    chunk = '=[worker function]'
    argv[2] = '[worker function]'
  else
    argv[2] = '[worker eval]'
  end
  for _, a in ipairs(boot.argv or {}) do argv[#argv + 1] = tostring(a) end
  -- loaded ahead by a spare state: now it can know which worker it is in
  local wt = package.loaded['worker_threads']
  if type(wt) == 'table' and rawget(wt, '_bind_thread') then wt._bind_thread() end
  return kind, source, chunk, argv
end

--- The entry of a worker started from a Lua function: its bytecode, called
--- with workerData.
function M.run_function()
  local fn, err = loadstring(boot.function_code, '=[worker function]')
  if not fn then error(err, 0) end
  return fn(boot.workerData)
end

--- The boot table (workerData, name, envData...).
function M.data() return boot end

return M
