---@meta process
-- LuaCATS definitions for luster's `process` (also the global `process`).
-- A module singleton: `process.on('exit', f)` and `process:on('exit', f)`
-- both work.  Events: 'exit'(code), 'beforeExit', 'uncaughtException'(err),
-- 'unhandledRejection'(reason, promise), 'warning'(warning), 'SIGINT',
-- 'SIGTERM', 'SIGHUP', ... and in a cluster worker 'message'(msg),
-- 'disconnect'.

---What process 'warning' listeners get (also printed to stderr as
---`(luster:PID) Name: message`).
---@class process.Warning
---@field name string e.g. 'Warning', 'MaxListenersExceededWarning', 'DeprecationWarning'
---@field message string
---@field code? string
---@field detail? string
---@field stack string

---@class process.Stream
---@field fd integer
---@field isTTY boolean
---@field writable boolean
local Stream = {}
---Node's `stream.end` (Lua's `end` is a keyword): the same as `finish`.
---@param data? string
Stream['end'] = function(self, data) end
---Write a string (whole, in one write).
---@param s string
---@return boolean
function Stream:write(s) end
---@param data? string
function Stream:finish(data) end
---@param name string
---@param fn fun(...)
function Stream:on(name, fn) end
---@param name string
---@param fn fun(...)
function Stream:once(name, fn) end

---@class process.hrtime
---@overload fun(prev?: integer[]): integer[]
local hrtime = {}
---Nanoseconds since an arbitrary time, as an int64 cdata.
---@return ffi.cdata*
function hrtime.bigint() end

---@class process.MemoryUsage
---@field rss integer
---@field heapTotal integer
---@field heapUsed integer
---@field external integer
---@field arrayBuffers integer

---@class process.memoryUsage
---@overload fun(): process.MemoryUsage
local memoryUsage = {}
---The resident set size in bytes (cheaper than memoryUsage()).
---@return integer
function memoryUsage.rss() end

---@class process: EventEmitter
process = {}

---@type integer
process.pid = 0
---@type integer
process.ppid = 0
---@type string 'linux'
process.platform = 'linux'
---@type string 'x64', 'arm64', ...
process.arch = 'x64'
---The luster binary's absolute path.
---@type string
process.execPath = ''
---`{exe, script, args...}` as in Node.
---@type string[]
process.argv = {}
---@type string
process.argv0 = 'luster'
---The exit code when the loop runs dry (default 0).
---@type integer|nil
process.exitCode = nil
---@type string
process.title = 'luster'
---@type {name: string}
process.release = {}
---@type string 'v0.1.0'
process.version = ''
---@type {luster: string, luajit: string}
process.versions = {}
---The environment (a read/write proxy: assigning sets the variable).
---@type table<string, string>
process.env = {}
---@type process.Stream
process.stdout = Stream
---@type process.Stream
process.stderr = Stream
---@type {fd: integer}
process.stdin = {}
---`process.hrtime([prev])` → {seconds, nanoseconds}; `.bigint()`.
---@type process.hrtime
process.hrtime = hrtime
---`process.memoryUsage()` → {rss=, heapUsed=, ...}; `.rss()`.
---@type process.memoryUsage
process.memoryUsage = memoryUsage
---In a cluster worker: whether the IPC channel to the primary is open.
---@type boolean|nil
process.connected = nil

---@return string
function process.cwd() end
---@param dir string
function process.chdir(dir) end
---Seconds since the process started.
---@return number
function process.uptime() end
---Run `fn(...)` before any promise callback and any I/O.
---@param fn fun(...)
---@param ... any
function process.nextTick(fn, ...) end
---Emit 'exit' and end the process (in a worker thread: that thread).
---@param code? integer
function process.exit(code) end
---End at once with SIGABRT's code.
function process.abort() end
---Send a signal (name or number) to a process.
---@param pid integer
---@param signal? string|integer default 'SIGTERM'
---@return boolean
function process.kill(pid, signal) end
---In a cluster worker: send a message to the primary.
---@param message any
---@param handle? any
---@param options? table
---@param cb? fun(err?: table)
---@return boolean
function process.send(message, handle, options, cb) end
---Emit a warning on the next tick: printed to stderr and given to
---'warning' listeners.  `emitWarning(message[, type[, code]])`,
---`emitWarning(message, {type=, code=, detail=})`, or a warning table
---delivered as it is.
---@param warning string|process.Warning
---@param type? string|{type?: string, code?: string, detail?: string}
---@param code? string
function process.emitWarning(warning, type, code) end
---In a cluster worker: close the IPC channel.
function process.disconnect() end

return process
