--- require('os'): Lua's own `os` table (the global), extended in place
--- with Node's os functions.
local native = require('native.os')

local M = os

--- One entry per logical CPU: {model=, speed=, times={user=, nice=, sys=, idle=, irq=}}.
M.cpus = native.cpus
--- How many threads can run in parallel (respects CPU affinity).
M.availableParallelism = native.availableParallelism
M.totalmem = native.totalmem
M.freemem = native.freemem
M.hostname = native.hostname
M.loadavg = native.loadavg
M.uptime = native.uptime
M.homedir = native.homedir
M.tmpdir = native.tmpdir
M.EOL = '\n'
M.devNull = '/dev/null'
function M.platform() return 'linux' end
function M.type() return 'Linux' end
function M.arch() return jit.arch == 'x64' and 'x64' or jit.arch end
function M.release() local u = native.uname(); return u and u.release or '' end
function M.machine() local u = native.uname(); return u and u.machine or '' end
function M.endianness() return require('ffi').abi('le') and 'LE' or 'BE' end
return M
