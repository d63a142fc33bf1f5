-- The seeds' cluster examples (examples/cluster_*.lua), run as they are
-- with real requests: several workers answer, and a worker killed with
-- SIGKILL is replaced (seed 004) or survived (the others).
local h = require('helpers.cluster')

local root = os.getenv('LUSTER_SOURCE_DIR') or '.'
local function run_example(name)
  local port = h.free_port()
  local p = h.start({ h.bin, root .. '/examples/' .. name }, { PORT = tostring(port) })
  return p, port
end

local function answering(port, n, pattern)
  local seen, count = {}, 0
  for _ = 1, n do
    local body = await(h.curl(('http://127.0.0.1:%d/'):format(port)))
    local pid = body:match(pattern)
    if pid and not seen[pid] then seen[pid] = true; count = count + 1 end
  end
  return seen, count
end

local function several_then_kill(name, pattern, restarts)
  return function()
    local p, port = run_example(name)
    local seen, count
    assert.is_true(h.wait_for(function()
      seen, count = answering(port, 4, pattern)
      return count >= 2
    end, 5000), p.out() .. p.err())
    local victim = next(seen)
    os.execute('kill -9 ' .. victim)
    assert.is_true(h.wait_for(function()
      local now, n = answering(port, 4, pattern)
      if now[victim] then return false end
      return restarts and n >= 2 or n >= 1
    end, 5000), p.out() .. p.err())
    if restarts then assert.is_truthy(p.out():find('Worker ' .. victim .. ' died')) end
    p.kill('SIGKILL') -- its workers follow it (PR_SET_PDEATHSIG)
    await(p.done)
  end
end

describe('the seed cluster examples', function()
  it('seed 000: cluster.isMaster, each worker answers "Handled by PID"',
    several_then_kill('cluster_server.lua', '^Handled by PID: (%d+)$', false))
  it('seed 004: cluster.isPrimary, "Hello from worker", a dead worker is replaced',
    several_then_kill('cluster_restart.lua', '^Hello from worker (%d+)$', true))
  it('seed 004 "When to Use Cluster": the router app on every worker',
    several_then_kill('cluster_app.lua', '^Hello from worker (%d+)$', false))
end)
