--- worker_threads: Node's threads for Lua.  Each Worker is an OS thread
--- with its own Lua state and event loop (runtime/worker.c); they talk by
--- structured-clone messages (runtime/message_port.c) and share memory
--- through SharedArrayBuffer.
---
---   local wt = require('worker_threads')
---   local w = wt.Worker('job.lua', { workerData = { n = 42 } })
---   w:on('message', function(v) print(v) end)
local native = require('native.worker')
local core = require('native.core')
local EventEmitter = require('events')
local Promise = require('luster.promise')
local errors = require('luster.errors')
local process = require('process')
local ports = require('luster.worker_port')

local M = {}

M.MessagePort = ports.MessagePort
M.BroadcastChannel = ports.BroadcastChannel
M.resourceLimits = {}
M.SHARE_ENV = setmetatable({}, { __tostring = function() return 'SHARE_ENV' end })

local environment_data = {}

-- ---------------------------------------------------------------- Worker

---@class Worker: EventEmitter
---@field threadId integer
local Worker = EventEmitter.extend({})
M.Worker = Worker

local function file_exists(p)
  local f = io.open(p, 'r')
  if f then f:close() return true end
  return false
end

-- The script a path names.  Node resolves relative paths against the
-- working directory; when no file is there, luster also tries the
-- directory of the script that creates the worker (so examples run from
-- anywhere).
local function resolve(file)
  if file:sub(1, 7) == 'file://' then file = file:sub(8) end
  if file:sub(1, 1) == '/' then return file end
  local from_cwd = process.cwd() .. '/' .. file
  if file_exists(from_cwd) then return from_cwd end
  for level = 3, 8 do
    local i = debug.getinfo(level, 'S')
    if not i then break end
    local src = i.source
    if src:sub(1, 1) == '@' and src:sub(1, 8) ~= '@luster/' then
      local dir = src:sub(2):match('^(.*)/[^/]*$') or '.'
      if dir:sub(1, 1) ~= '/' then dir = process.cwd() .. '/' .. dir end
      local p = dir .. '/' .. file
      if file_exists(p) then return p end
      break
    end
  end
  return from_cwd
end

local function as_error(v)
  if type(v) == 'table' then return setmetatable(v, errors.Error) end
  return errors.new('ERR_WORKER_ERROR', tostring(v))
end

local function on_exit(self, code)
  self._exited = true
  self._exit_code = code
  self._h:close()
  self.threadId = -1
  self.resourceLimits = {}
  local waiting = self._terminating
  self._terminating = nil
  if waiting then for _, resolve in ipairs(waiting) do resolve(code) end end
  ports.flush() -- what the worker posted on other ports comes first
  ports.deliver(self, 'exit', code)
end

local sched = require('luster.scheduler')
local deliver, deliver_message, drain = ports.deliver, ports.deliver_message, sched.drain

-- One wake-up: every item the worker queued (messages and its life cycle).
local function make_drain(self, h)
  local next_item = ports.items(self, h, function() return not self._exited and not sched.exiting end)
  return function()
    local burst = h:refill() > 1 -- see luster.worker_port's drain
    while not self._exited and not sched.exiting do
      local kind, v = next_item(burst) -- nil: a listener suspended mid-run
      if kind == 'message' then deliver_message(self, v)
      elseif kind == false then break
      elseif kind == 'messageerror' then deliver(self, kind, v)
      elseif kind == 'online' then deliver(self, 'online')
      elseif kind == 'error' then deliver(self, 'error', as_error(v))
      elseif kind == 'exit' then on_exit(self, v)
      end
      drain()
    end
  end
end

-- The option checks Node makes in the constructor, before anything starts.
local function check_option(options, key, want, what)
  local v = options[key]
  if v == nil or type(v) == want then return v end
  errors.throw('ERR_INVALID_ARG_TYPE', 'The "options.%s" property must be %s. Received type %s',
    key, what, type(v))
end

-- resourceLimits with Node's field names.  maxOldGenerationSizeMb (alias:
-- maxHeapSizeMb) is the worker's Lua heap limit; stackSizeMb sizes its
-- thread's C stack; maxYoungGenerationSizeMb and codeRangeSizeMb have no
-- counterpart in LuaJIT and are only reported back.  0 means "no limit".
local LIMIT_FIELDS = { 'maxYoungGenerationSizeMb', 'maxOldGenerationSizeMb', 'codeRangeSizeMb',
  'stackSizeMb', 'maxHeapSizeMb' }
local DEFAULT_STACK_MB = 4

local function parse_limits(given)
  local limits = {}
  for _, k in ipairs(LIMIT_FIELDS) do
    local v = given and given[k]
    if v ~= nil and (type(v) ~= 'number' or v ~= v or v < 0) then
      errors.throw(type(v) == 'number' and 'ERR_OUT_OF_RANGE' or 'ERR_INVALID_ARG_TYPE',
        'The "options.resourceLimits.%s" property must be a non-negative number. Received %s',
        k, type(v) == 'number' and tostring(v) or 'type ' .. type(v))
    end
    limits[k] = v or 0
  end
  local heap = given and (given.maxOldGenerationSizeMb or given.maxHeapSizeMb) or 0
  limits.maxOldGenerationSizeMb, limits.maxHeapSizeMb = heap, heap
  if limits.stackSizeMb == 0 then limits.stackSizeMb = DEFAULT_STACK_MB end
  return limits
end

local function copy_limits(l)
  local t = {}
  for k, v in pairs(l) do t[k] = v end
  return t
end

--- Start a worker thread running `filename` (a path), Lua source
--- (options.eval = true) or a Lua function with no upvalues (its bytecode
--- runs in the new state with workerData as its argument).  Options are
--- checked here (ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE), workerData
--- and transferList too (DataCloneError): a Worker that cannot start
--- raises and nothing runs.
---@param filename string|function
---@param options? {workerData?:any, transferList?:table, eval?:boolean, name?:string, argv?:table, env?:table, resourceLimits?:{maxOldGenerationSizeMb?:number, maxHeapSizeMb?:number, stackSizeMb?:number, maxYoungGenerationSizeMb?:number, codeRangeSizeMb?:number}, stdout?:boolean, stderr?:boolean}
---@return Worker
function Worker.new(filename, options)
  if options == nil then options = {} end
  errors.check_type(options, 'options', 'table')
  check_option(options, 'argv', 'table', 'an instance of Array (a table)')
  check_option(options, 'name', 'string', 'of type string')
  check_option(options, 'eval', 'boolean', 'of type boolean')
  check_option(options, 'transferList', 'table', 'an instance of Array (a table)')
  check_option(options, 'stdout', 'boolean', 'of type boolean')
  check_option(options, 'stderr', 'boolean', 'of type boolean')
  check_option(options, 'stdin', 'boolean', 'of type boolean')
  check_option(options, 'resourceLimits', 'table', 'of type object (a table)')
  if options.env ~= nil and options.env ~= M.SHARE_ENV and type(options.env) ~= 'table' then
    errors.throw('ERR_INVALID_ARG_TYPE',
      'The "options.env" property must be a table or worker_threads.SHARE_ENV. Received type %s',
      type(options.env))
  end
  local limits = parse_limits(options.resourceLimits)
  local boot = {
    workerData = options.workerData,
    argv = options.argv,
    name = options.name or '',
    envData = next(environment_data) and environment_data or nil,
    resourceLimits = limits,
  }
  if type(filename) == 'function' then
    if debug.getinfo(filename, 'u').nups > 0 then
      errors.throw('ERR_INVALID_ARG_VALUE', 'A function passed to Worker must not have upvalues')
    end
    boot.kind, boot.function_code = 'function', string.dump(filename)
  elseif type(filename) == 'string' then
    if options.eval then boot.kind, boot.source = 'eval', filename
    else boot.kind, boot.source = 'file', resolve(filename) end
  else
    errors.throw('ERR_INVALID_ARG_TYPE',
      'The "filename" argument must be of type string or a function. Received type %s', type(filename))
  end
  if options.env == M.SHARE_ENV then
    boot.env = nil
  elseif type(options.env) == 'table' then
    local env = {}
    for k, v in pairs(options.env) do env[tostring(k)] = tostring(v) end
    boot.env = env
  else -- a snapshot of this thread's environment, as Node does
    local env = process.env
    boot.env = type(env) == 'table' and getmetatable(env) and env() or env
    if type(boot.env) ~= 'table' then boot.env = nil end
  end
  local mem = limits.maxOldGenerationSizeMb * 1024 * 1024
  local h, tid = native.spawn(boot, options.transferList, mem, limits.stackSizeMb * 1024 * 1024)
  -- worker.resourceLimits: its limits (Node's field names) while it runs,
  -- an empty table once it has exited, as in Node
  local self = setmetatable({ _h = h, threadId = tid, _exited = false,
    resourceLimits = copy_limits(limits) }, Worker)
  h:start(make_drain(self, h))
  return self
end

setmetatable(Worker, {
  __index = EventEmitter.prototype,
  __call = function(_, ...) return Worker.new(...) end,
})

--- Send a structured clone of `value` to the worker's parentPort.  Dropped
--- silently once the worker has exited.
---@param value any
---@param transferList? table
function Worker:postMessage(value, transferList)
  self._h:post(value, transferList)
end

--- Stop the worker as soon as possible, even inside a busy (or compiled)
--- loop.  Returns a promise of its exit code (1 when it was stopped).
---@return Promise
function Worker:terminate()
  if self._exited then return Promise.resolve(nil) end
  local p = Promise.new(function(resolve)
    local t = self._terminating or {}
    self._terminating = t
    t[#t + 1] = resolve
  end)
  -- as in Node: an unref()'d worker being stopped keeps the loop until
  -- its 'exit', so that the promise settles
  self._h:ref(true)
  native.terminate(self._h)
  return p
end

--- Whether the worker keeps this thread's event loop alive (default: yes).
function Worker:ref() if not self._exited then self._h:ref(true) end return self end
function Worker:unref() if not self._exited then self._h:ref(false) end return self end
---@return boolean
function Worker:hasRef() return not self._exited and self._h:has_ref() end

-- ------------------------------------------------------- channels, ports

---@class MessageChannel
---@field port1 MessagePort
---@field port2 MessagePort

local MessageChannel = {}

--- Two entangled ports: what one posts, the other receives.
---@return MessageChannel
function MessageChannel.new()
  local a, b = native.channel()
  local port1, port2 = ports.MessagePort._wrap(a), ports.MessagePort._wrap(b)
  rawset(port1, '_peer', port2)
  rawset(port2, '_peer', port1)
  return { port1 = port1, port2 = port2 }
end
M.MessageChannel = setmetatable(MessageChannel, {
  __call = function(_, ...) return MessageChannel.new(...) end,
})

--- The oldest message waiting on `port`, as {message = value}, or nil.
---@param port MessagePort
---@return {message:any}|nil
function M.receiveMessageOnPort(port)
  if type(port) ~= 'table' or getmetatable(port) == nil or rawget(port, '_h') == nil then
    errors.throw('ERR_INVALID_ARG_TYPE', 'The "port" argument must be a MessagePort instance')
  end
  return ports.receive(port)
end

--- Values every worker started from now on sees with getEnvironmentData.
---@param key any
---@param value any  nil removes the key
function M.setEnvironmentData(key, value)
  environment_data[key] = value
end

---@param key any
---@return any
function M.getEnvironmentData(key)
  return environment_data[key]
end

--- Mark an ArrayBuffer (or a view's buffer) as never transferable: listing
--- it in a transferList raises DataCloneError.
function M.markAsUntransferable(buf)
  require('luster.buffers').markAsUntransferable(buf)
end

-- WorkerPool (lua/luster/worker_pool.lua) loads on first use: most
-- states, and every pooled worker, never need it.
setmetatable(M, { __index = function(t, k)
  if k ~= 'WorkerPool' then return nil end
  local pool = require('luster.worker_pool')(t)
  rawset(t, 'WorkerPool', pool)
  return pool
end })

-- ------------------------------------------------- inside a worker thread

-- What depends on the thread this state runs.  A spare worker state
-- (runtime/worker.c) loads this module before it knows which worker it
-- will be: luster.worker_boot calls this again once it does.
local function bind_thread()
  local info = core.info()
  local in_worker = native.in_worker()
  M.isMainThread = info.isMainThread and not in_worker
  M.threadId = info.threadId or 0
  if in_worker then
    local boot = require('luster.worker_boot').data()
    M.workerData = boot.workerData
    M.threadName = boot.name
    if type(boot.resourceLimits) == 'table' then M.resourceLimits = boot.resourceLimits end
    for k, v in pairs(boot.envData or {}) do environment_data[k] = v end
    local port = ports.MessagePort._wrap(native.parent_port())
    M.parentPort = EventEmitter.singleton(port)
  else
    M.parentPort = nil
    M.workerData = nil
  end
end
bind_thread()
rawset(M, '_bind_thread', bind_thread)

return M
