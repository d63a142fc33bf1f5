--- Helpers for the `luster -i` operating specs: primaries started with a
--- private control-socket directory ($XDG_RUNTIME_DIR), the client
--- commands run against it, and cleanup of whatever a failed test left.
local h = require('helpers.cluster')
local child = require('helpers.child')
local json = require('json')

local M = setmetatable({}, { __index = h })

--- A fresh temporary directory (removed by M.cleanup).
function M.tmpdir()
  local d = child.tmpdir()
  M.dirs[#M.dirs + 1] = d
  return d
end

M.dirs, M.running = {}, {}

--- An environment with its own control-socket directory.
function M.env(extra)
  local env = { XDG_RUNTIME_DIR = M.tmpdir() }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

--- Start `luster ARGS...` in the background; killed by M.cleanup if still up.
--- A primary (-i) gets --kill-timeout 600: the specs' instances keep
--- intervals running, and the default would hold each stop for seconds.
function M.start(args, env)
  local argv = { h.bin }
  if args[1] == '-i' then argv[2], argv[3] = '--kill-timeout', '600' end
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local p = h.start(argv, env)
  M.running[#M.running + 1] = p
  return p
end

--- Start any program (argv[1] its path) in the background, cleaned up as M.start's.
function M.spawn(argv, env)
  local p = h.start(argv, env)
  M.running[#M.running + 1] = p
  return p
end

--- Run `luster ARGS...` to its end: {code=, out=, err=}.
function M.ctl(env, ...)
  local argv = { h.bin, ... }
  return await(h.run(argv, env))
end

--- `luster ls --json`, decoded (nil when it failed).
function M.ls(env)
  local r = M.ctl(env, 'ls', '--json')
  if r.code ~= 0 then return nil, r end
  return json.decode(r.out), r
end

--- Wait until app `name` lists n instances in `state` ('listening' by default).
function M.wait_state(env, n, state, ms)
  local rows
  local ok = h.wait_for(function()
    rows = M.ls(env)
    local k = 0
    for _, r in ipairs(rows or {}) do if r.state == (state or 'listening') then k = k + 1 end end
    return k >= n
  end, ms or 8000)
  return ok, rows
end

--- The pids of an ls result, as a set and a count.
function M.pids(rows)
  local set, n = {}, 0
  for _, r in ipairs(rows or {}) do
    if type(r.pid) == 'number' then set[r.pid] = true n = n + 1 end
  end
  return set, n
end

function M.cleanup()
  for i, p in ipairs(M.running) do
    if p.code == nil and p.signal == nil then pcall(p.kill, 'SIGKILL') end
    M.running[i] = nil
  end
  for i, d in ipairs(M.dirs) do child.rmdir(d) M.dirs[i] = nil end
end

return M
