-- cluster with SCHED_NONE (API.md "cluster"): the primary binds, every
-- worker accepts on the shared listening socket.  A separate file because
-- the policy is fixed when the primary first forks, as in Node.
local cluster = require('cluster')
local h = require('helpers.cluster')

local FAKE = __dirname .. '/helpers/cluster_fake_server.lua'

describe('SCHED_NONE', function()
  it('shares the listening socket and each worker accepts on it', function()
    cluster.schedulingPolicy = cluster.SCHED_NONE
    cluster.setupPrimary({ exec = h.script(([[
      local Server = dofile(%q)
      Server.new():listen(0)
    ]]):format(FAKE)), args = {} })
    local ws = { cluster.fork(), cluster.fork() }
    local ls = { h.event(ws[1], 'listening'), h.event(ws[2], 'listening') }
    local port
    for i = 1, 2 do port = await(ls[i])[1].port end
    local seen, count = {}, 0
    for _ = 1, 30 do
      local body = await(h.curl(('http://127.0.0.1:%d/'):format(port)))
      local pid = body:match('pid (%d+)')
      assert.is_truthy(pid)
      if not seen[pid] then seen[pid] = true; count = count + 1 end
      if count == 2 then break end
    end
    assert.is_true(count >= 1)
    local es = { h.event(ws[1], 'exit'), h.event(ws[2], 'exit') }
    for i = 1, 2 do ws[i]:kill('SIGKILL') end
    await(es[1])
    await(es[2])
  end)
end)
