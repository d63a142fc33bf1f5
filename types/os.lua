---@meta os
-- LuaCATS definitions for luster's `os`: Lua's os library (its functions
-- are LuaLS's own `oslib`) extended with Node's.

---@class os.CpuInfo
---@field model string
---@field speed integer MHz
---@field times {user: integer, nice: integer, sys: integer, idle: integer, irq: integer}

---@class luster.os: oslib
local os = {}

---@type string '\n'
os.EOL = '\n'
---@type string '/dev/null'
os.devNull = '/dev/null'

---@return os.CpuInfo[]
function os.cpus() end
---How many threads can run in parallel (respects CPU affinity).
---@return integer
function os.availableParallelism() end
---@return integer bytes
function os.totalmem() end
---@return integer bytes
function os.freemem() end
---@return string
function os.hostname() end
---@return number[] # 1, 5 and 15 minute load averages
function os.loadavg() end
---@return number seconds
function os.uptime() end
---@return string # 'linux'
function os.platform() end
---@return string # 'x64', 'arm64', ...
function os.arch() end
---@return string # 'x86_64', ...
function os.machine() end
---@return string # the kernel release
function os.release() end
---@return string # 'Linux'
function os.type() end
---@return string
function os.homedir() end
---@return string
function os.tmpdir() end
---@return 'LE'|'BE'
function os.endianness() end

-- Lua's own os functions, named so that the module's whole surface is here.
---@param code? boolean|integer
---@param close? boolean
function os.exit(code, close) end
---@return number
function os.clock() end
---@param format? string
---@param time? integer
---@return string|osdate
function os.date(format, time) end
---@param t2 integer
---@param t1 integer
---@return number
function os.difftime(t2, t1) end
---@param command? string
---@return integer|boolean
function os.execute(command) end
---@param name string
---@return string?
function os.getenv(name) end
---@param filename string
---@return boolean|nil, string?
function os.remove(filename) end
---@param oldname string
---@param newname string
---@return boolean|nil, string?
function os.rename(oldname, newname) end
---@param locale? string
---@param category? string
---@return string?
function os.setlocale(locale, category) end
---@param t? osdateparam
---@return integer
function os.time(t) end
---@return string
function os.tmpname() end

return os
