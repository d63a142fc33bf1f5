--- Brings up the Lua side of a state: the globals of the API contract,
--- Node-style require, and the entry points the C side calls (returned).
-- No collection while the state is built: it allocates ~200 KB, all of it
-- kept, and a cycle here was 10% of the cost of creating a state.
collectgarbage('stop')
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
-- Run a builtin module's chunk (modules.c's searcher), bypassing
-- package.preload: the lazy placeholders below hook preload.
local builtin_searcher = package.loaders[2]
local function load_builtin(name)
  local loader = builtin_searcher(name)
  if type(loader) ~= 'function' then error(loader, 0) end
  return loader(name)
end

-- console (and luster.inspect behind it) loads on first use: a worker that
-- never logs does not pay for it.  The placeholder becomes the module:
-- require('luster.console') and _G.console are one table.
do
  local console = {}
  local function load()
    if getmetatable(console) == nil then return console end
    setmetatable(console, nil)
    package.preload['luster.console'] = nil
    for k, v in next, load_builtin('luster.console') do rawset(console, k, v) end
    package.loaded['luster.console'] = console
    return console
  end
  setmetatable(console, {
    __index = function(_, k) return load()[k] end,
    __newindex = function(_, k, v) rawset(load(), k, v) end,
    __pairs = function() return next, load(), nil end,
  })
  package.preload['luster.console'] = load
  _G.console = console
end
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
  -- The constructors (ArrayBuffer, Int32Array...) are placeholders until
  -- one is touched: luster.buffers' FFI declarations and metatypes were 40%
  -- of the cost of creating a state, which every worker thread pays.  The
  -- first use -- of a placeholder, or any require('luster.buffers'), e.g.
  -- by Atomics or by the structured-clone codec meeting a cdata -- loads
  -- the module and turns each placeholder into the real constructor (its
  -- fields and metatable copied, and the module's entry pointed at it), so
  -- `_G.Int32Array == require('luster.buffers').Int32Array` holds.
  local names = {
    'ArrayBuffer', 'SharedArrayBuffer', 'Int8Array', 'Uint8Array', 'Int16Array',
    'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array',
    'BigInt64Array', 'BigUint64Array',
  }
  local placeholders = {}
  local function adopt(buffers)
    for k, real in next, buffers do
      local p = placeholders[k]
      if p then
        setmetatable(p, nil)
        for f, v in next, real do rawset(p, f, v) end
        setmetatable(p, getmetatable(real))
        rawset(buffers, k, p)
      elseif rawget(_G, k) == nil then
        _G[k] = real
      end
    end
  end
  package.preload['luster.buffers'] = function(name)
    package.preload[name] = nil
    local buffers = load_builtin(name)
    if type(buffers) == 'table' then adopt(buffers) end
    return buffers
  end
  local function real(name)
    local ok, buffers = pcall(require, 'luster.buffers')
    return ok and type(buffers) == 'table' and rawget(buffers, name) or nil
  end
  for _, name in ipairs(names) do
    local p = {}
    placeholders[name] = p
    setmetatable(p, {
      __index = function(_, k) local r = real(name) return r and r[k] end,
      __newindex = function(_, k, v) real(name) rawset(p, k, v) end,
      __call = function(_, ...) real(name) return p(...) end,
      __pairs = function() real(name) return next, p, nil end,
    })
    _G[name] = p
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

-- URL and URLSearchParams are globals, as in Node.  lua/url.lua loads on
-- first use of either (most states never parse a URL) and makes these very
-- tables the constructors, so _G.URL == require('url').URL.
do
  for _, name in ipairs({ 'URL', 'URLSearchParams' }) do
    local placeholder = {}
    local function real() require('url') return placeholder end
    setmetatable(placeholder, {
      luster_lazy_global = name,
      __index = function(_, k) return rawget(real(), k) end,
      __call = function(_, ...) return real()(...) end,
    })
    _G[name] = placeholder
  end
end

-- fetch and its classes, and the WebSocket client, are globals, as in Node
-- (and browsers); the HTTP client loads on first use.
do
  _G.fetch = function(...) return require('luster.fetch').fetch(...) end
  local where = { Headers = 'luster.fetch_headers', Request = 'luster.fetch_classes',
                  Response = 'luster.fetch_classes', AbortController = 'luster.abort',
                  AbortSignal = 'luster.abort', WebSocket = 'ws' }
  for name, mod in pairs(where) do
    local function real()
      local m = require(mod)
      return m[name] or m
    end
    _G[name] = setmetatable({}, {
      luster_lazy_global = name,
      __index = function(_, k) return real()[k] end,
      __call = function(_, ...) return real()(...) end,
    })
  end
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

-- luster --prof: every state that boots looks (lua/luster/profiler.lua)
if os.getenv('LUSTER_PROF') then require('luster.profiler').start_from_env() end

collectgarbage('restart')
return {
  dispatch = sched.dispatch,
  error_new = errors.new,
  run_entry = run_entry,
  run_immediates = timers.run_immediates,
  before_exit = process._before_exit,
  emit_exit = process._emit_exit,
  -- hooks the C side calls (it requires no module by name): the
  -- structured-clone codec meeting a cdata, a MessagePort arriving in a
  -- message, a worker thread starting
  load_buffers = function() require('luster.buffers') end,
  wrap_port = function(h) return require('luster.worker_port').MessagePort._wrap(h) end,
  worker_start = function() return require('luster.worker_boot').start() end,
}
