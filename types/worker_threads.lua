---@meta worker_threads
-- LuaCATS definitions for luster's `worker_threads`: OS threads, each with
-- its own Lua state and loop; values cross as structured clones.

---A worker's limits, with Node's names (0: no limit).
---@class worker_threads.ResourceLimits
---@field maxOldGenerationSizeMb? number the worker's Lua heap limit (ERR_WORKER_OUT_OF_MEMORY past it)
---@field maxHeapSizeMb? number alias of maxOldGenerationSizeMb
---@field stackSizeMb? number the thread's C stack (default 4)
---@field maxYoungGenerationSizeMb? number no LuaJIT counterpart: only reported back
---@field codeRangeSizeMb? number no LuaJIT counterpart: only reported back

---@class worker_threads.WorkerOptions
---@field workerData? any cloned into the worker's `workerData`
---@field transferList? table ArrayBuffers and MessagePorts to move
---@field eval? boolean the first argument is Lua source
---@field name? string
---@field argv? any[] appended to the worker's process.argv
---@field env? table<string, string>|table SHARE_ENV or a private copy
---@field resourceLimits? worker_threads.ResourceLimits
---@field stdout? boolean
---@field stderr? boolean
---@field stdin? boolean

---A port of a MessageChannel, or a worker's `parentPort`.  Events:
---'message'(value), 'messageerror'(err), 'close'.
---@class MessagePort: EventEmitter
local MessagePort = {}
---Send a structured clone of `value`; ports and ArrayBuffers in
---`transferList` are moved.
---@param value any
---@param transferList? table
function MessagePort:postMessage(value, transferList) end
---Start delivering messages (implied by an 'message' listener).
function MessagePort:start() end
---Stop delivering messages (they queue).
function MessagePort:stop() end
---Close both ends: each emits 'close'.
function MessagePort:close() end
---@return self
function MessagePort:ref() end
---@return self
function MessagePort:unref() end
---@return boolean
function MessagePort:hasRef() end

---A thread: events 'online', 'message'(value), 'messageerror', 'error'(err),
---'exit'(code).
---@class Worker: EventEmitter
---@overload fun(filename: string|function, options?: worker_threads.WorkerOptions): Worker
---@field threadId integer -1 once it has exited
---@field resourceLimits worker_threads.ResourceLimits the limits it runs with ({} once exited)
local Worker = {}
---Start a thread running `filename` (a path), Lua source (options.eval) or
---a Lua function with no upvalues (called with workerData).
---@param filename string|function
---@param options? worker_threads.WorkerOptions
---@return Worker
function Worker.new(filename, options) end
---Send a structured clone of `value` to the worker's parentPort.
---@param value any
---@param transferList? table
function Worker:postMessage(value, transferList) end
---Stop the thread; a promise of its exit code.
---@return Promise
function Worker:terminate() end
---@return self
function Worker:ref() end
---Let the process exit while the worker runs.
---@return self
function Worker:unref() end
---@return boolean
function Worker:hasRef() end

---@class MessageChannel
---@overload fun(): MessageChannel
---@field port1 MessagePort
---@field port2 MessagePort
local MessageChannel = {}
---@return MessageChannel
function MessageChannel.new() end

---Messages to every BroadcastChannel of the same name, in any thread.
---@class BroadcastChannel: EventEmitter
---@overload fun(name: string): BroadcastChannel
---@field name string
local BroadcastChannel = {}
---@param name string
---@return BroadcastChannel
function BroadcastChannel.new(name) end
---@param value any
function BroadcastChannel:postMessage(value) end
function BroadcastChannel:close() end
function BroadcastChannel:start() end
function BroadcastChannel:stop() end
---@return self
function BroadcastChannel:ref() end
---@return self
function BroadcastChannel:unref() end

---A fixed set of workers running one script, one task each at a time.
---@class WorkerPool
---@overload fun(filename: string, options?: {size?: integer}): WorkerPool
local WorkerPool = {}
---@param filename string
---@param options? {size?: integer} default os.availableParallelism()
---@return WorkerPool
function WorkerPool.new(filename, options) end
---A promise of the worker's reply to `data`.
---@param data any
---@param transferList? table
---@return Promise
function WorkerPool:run(data, transferList) end
---Tasks waiting for a worker.
---@return integer
function WorkerPool:pending() end
---Terminate every worker; queued tasks are rejected.
---@return Promise
function WorkerPool:destroy() end

---@class worker_threads
local worker_threads = {}
---@type boolean
worker_threads.isMainThread = true
---0 on the main thread.
---@type integer
worker_threads.threadId = 0
---In a worker: options.name ('' when none was given).
---@type string|nil
worker_threads.threadName = nil
---In a worker: the port to the thread that started it (nil on the main thread).
---@type MessagePort|nil
worker_threads.parentPort = nil
---In a worker: the clone of options.workerData.
---@type any
worker_threads.workerData = nil
---In a worker: its limits.
---@type worker_threads.ResourceLimits
worker_threads.resourceLimits = {}
---Pass as options.env to share the parent's environment.
---@type table
worker_threads.SHARE_ENV = {}
---@type Worker
worker_threads.Worker = Worker
---@type MessagePort
worker_threads.MessagePort = MessagePort
---@type MessageChannel
worker_threads.MessageChannel = MessageChannel
---@type BroadcastChannel
worker_threads.BroadcastChannel = BroadcastChannel
---@type WorkerPool
worker_threads.WorkerPool = WorkerPool

---Take one queued message off a port: `{message = v}` or nil.
---@param port MessagePort
---@return {message: any}|nil
function worker_threads.receiveMessageOnPort(port) end
---A value every worker started afterwards sees with getEnvironmentData.
---@param key any
---@param value any
function worker_threads.setEnvironmentData(key, value) end
---@param key any
---@return any
function worker_threads.getEnvironmentData(key) end
---Mark an ArrayBuffer as never transferable.
---@param buf ArrayBuffer
function worker_threads.markAsUntransferable(buf) end

return worker_threads
