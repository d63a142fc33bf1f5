--- Brings up the Lua side of a state: the globals of the API contract,
--- Node-style require, and the entry points the C side calls (returned).
local sched = require('luster.scheduler')
local errors = require('luster.errors')
local Promise = require('luster.promise')
local timers = require('timers')
local process = require('process')
local core = require('native.core')

require('luster.require').install()
package.loaded.os = nil -- Lua's os, extended by lua/os.lua
require('os')

-- ---- globals of the API contract ----
_G.process = process
_G.console = require('luster.console')
_G.Promise = Promise
_G.await = Promise.await
_G.async = Promise.async
_G.setTimeout, _G.setInterval, _G.setImmediate = timers.setTimeout, timers.setInterval, timers.setImmediate
_G.clearTimeout, _G.clearInterval, _G.clearImmediate = timers.clearTimeout, timers.clearInterval, timers.clearImmediate
_G.queueMicrotask = sched.queue_microtask
-- print writes each line with one write(2), like console.log: no stdio
-- buffering to reorder the two, and whole lines from every thread.
do
  local write, tostring, select, concat = require('native.process').write, tostring, select, table.concat
  _G.print = function(...)
    local n = select('#', ...)
    local parts = { ... }
    for i = 1, n do parts[i] = tostring(parts[i]) end
    write(1, concat(parts, '\t', 1, n) .. '\n')
  end
end
-- pairs honours __pairs, as in Lua 5.2+ (LuaJIT's own pairs ignores it);
-- process.env is such a proxy.
do
  local raw_pairs, getmetatable = pairs, getmetatable
  _G.pairs = function(t)
    local mt = getmetatable(t)
    local custom = mt and mt.__pairs
    if custom then return custom(t) end
    return raw_pairs(t)
  end
end
_G.bit = require('bit')
_G.ffi = require('ffi')
-- shared memory, typed arrays and Atomics (lua/luster/buffers.lua, atomics.lua)
do
  local ok, buffers = pcall(require, 'luster.buffers')
  if ok and type(buffers) == 'table' then
    for k, v in pairs(buffers) do _G[k] = v end
  end
  -- Atomics is filled in on first use: its FFI declarations were a third
  -- of the cost of creating a state (every worker thread pays it), and most
  -- states never touch Atomics.
  local Atomics = {}
  local function load()
    setmetatable(Atomics, nil)
    local ok2, atomics = pcall(require, 'luster.atomics')
    if ok2 then
      for k, v in next, atomics do Atomics[k] = v end
      package.loaded['luster.atomics'] = Atomics
    end
    return Atomics
  end
  setmetatable(Atomics, {
    __index = function(_, k) return load()[k] end,
    __pairs = function() return next, load(), nil end,
  })
  _G.Atomics = Atomics
end

local function dirname(p) return p:match('^(.*)/[^/]*$') or '.' end

--- Run the entry chunk: kind 'file' (source is a path) or 'string'.
--- Returns true, or nil and a message for a chunk that cannot load.
local function run_entry(kind, source, chunkname, argv)
  process.argv = argv
  if process.execPath then argv[1] = process.execPath end
  if kind == 'file' then argv[2] = source end -- absolute, as in Node
  local fn, err, why
  if kind == 'file' then
    fn, err, why = core.loadfile(source)
    if not fn then
      if why == 'file' then return nil, ("luster: cannot open script '%s': no such file or readable"):format(chunkname) end
      return nil, err
    end
    _G.__filename = source
    _G.__dirname = dirname(source)
  else
    fn, err = loadstring(source, chunkname)
    if not fn then return nil, err end
    _G.__filename = '[eval]'
    _G.__dirname = process.cwd()
  end
  -- Lua's standalone convention: arg[0] is the script, arg[1..] its arguments
  local arg = { [-1] = argv[1], [0] = kind == 'file' and source or '-e' }
  local first = kind == 'file' and 3 or 2
  for i = first, #argv do arg[#arg + 1] = argv[i] end
  _G.arg = arg
  sched.dispatch(fn, unpack(arg, 1, #arg))
  return true
end

-- A cluster worker (a process a primary spawned) joins its cluster before
-- the script runs, so an unmodified script's listen() shares the port.
if core.info().isMainThread and process.env.LUSTER_UNIQUE_ID then
  require('luster.cluster_worker').setup()
end

return {
  dispatch = sched.dispatch,
  error_new = errors.new,
  run_entry = run_entry,
  run_immediates = timers.run_immediates,
  before_exit = process._before_exit,
  emit_exit = process._emit_exit,
}
