--- Helpers for the cluster specs.  The spec process itself is a cluster
--- primary, so nothing here may block its loop (in round-robin mode the
--- primary accepts every connection): commands run as child processes
--- through native.cluster.spawn and are awaited.
local native = require('native.cluster')
local Promise = require('luster.promise')
local timers = require('timers')

local M = {}

M.bin = os.getenv('LUSTER_BIN') or (os.getenv('LUSTER_BUILD_DIR') or 'build') .. '/luster'

local tmpdir = os.getenv('TMPDIR') or '/tmp'
local counter = 0

--- Write Lua source to a fresh file; returns its path.
function M.script(src)
  counter = counter + 1
  local path = ('%s/luster_cluster_%d_%d.lua'):format(tmpdir, process.pid, counter)
  local f = assert(io.open(path, 'w'))
  f:write(src)
  f:close()
  return path
end

--- Run argv (argv[1] is the program); a promise of {code=, signal=, out=, err=}.
function M.run(argv, env)
  return Promise.new(function(resolve)
    local out, err, done, result = {}, {}, 0, {}
    local function finish()
      done = done + 1
      if done == 3 then
        result.out, result.err = table.concat(out), table.concat(err)
        resolve(result)
      end
    end
    local envl = {}
    for k, v in pairs(process.env()) do envl[#envl + 1] = k .. '=' .. v end
    for k, v in pairs(env or {}) do envl[#envl + 1] = k .. '=' .. v end
    native.spawn({
      file = argv[1], args = argv, env = envl, silent = true,
      on_output = function(stream, data)
        if data == nil then return finish() end
        if stream == 'stdout' then out[#out + 1] = data else err[#err + 1] = data end
      end,
      on_exit = function(code, signal) result.code, result.signal = code, signal; finish() end,
    })
  end)
end

--- Start a long-running process; returns {pid=, kill=fn, done=promise, out=fn}.
function M.start(argv, env)
  local h = { lines = {} }
  local out, err = {}, {}
  local envl = {}
  for k, v in pairs(process.env()) do envl[#envl + 1] = k .. '=' .. v end
  for k, v in pairs(env or {}) do envl[#envl + 1] = k .. '=' .. v end
  h.done = Promise.new(function(resolve)
    local proc = native.spawn({
      file = argv[1], args = argv, env = envl, silent = true,
      on_output = function(stream, data)
        if data then
          if stream == 'stdout' then out[#out + 1] = data else err[#err + 1] = data end
        end
      end,
      on_exit = function(code, signal) h.code, h.signal = code, signal; resolve(h) end,
    })
    h.proc = proc
    h.pid = proc:pid()
  end)
  function h.kill(sig) return h.proc:kill(sig or 'SIGTERM') end
  function h.out() return table.concat(out) end
  function h.err() return table.concat(err) end
  return h
end

--- GET url with curl; a promise of the body ('' on failure) and the result.
function M.curl(url, extra)
  local argv = { '/usr/bin/curl', '-s', '--max-time', '5' }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = url
  return M.run(argv):next(function(r) return r.code == 0 and r.out or '', r end)
end

function M.sleep(ms)
  return Promise.new(function(resolve) timers.setTimeout(resolve, ms) end)
end

--- Await until fn() is truthy (polling every 20 ms), at most ms.
function M.wait_for(fn, ms)
  local deadline = ms or 5000
  local waited = 0
  while not fn() do
    if waited >= deadline then return false end
    await(M.sleep(20))
    waited = waited + 20
  end
  return true
end

--- A promise of the arguments of emitter's next `name` event.
function M.event(emitter, name)
  return Promise.new(function(resolve)
    emitter:once(name, function(...) resolve({ ... }) end)
  end)
end

function M.alive(pid)
  return os.execute('kill -0 ' .. pid .. ' 2>/dev/null') == 0
end

--- A TCP port nobody listens on now: the OS picks it (specs run side by
--- side under ctest -j, so fixed or pid-derived ports collide).
function M.free_port()
  local tcp = require('native.tcp')
  local fd = assert(tcp.listen('127.0.0.1', 0, 1, false))
  local port = tcp.address(fd).port
  tcp.close(fd)
  return port
end

return M
