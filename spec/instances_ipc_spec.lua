-- User IPC under `luster -i` (API.md "Operating `luster -i`"): an
-- instance's process.send reaches --primary hooks.lua, hooks broadcast to
-- every instance, and without hooks the primary warns once per instance.
local h = require('helpers.instances')
local child = require('helpers.child')

after_each(h.cleanup)

local SENDER = [[
process:on('message', function(m)
  if type(m) == 'table' then console.log(('got %s from %s'):format(m.text, m.from)) end
end)
console.log('started ' .. process.env.LUSTER_INSTANCE)
process.send({ hello = tonumber(process.env.LUSTER_INSTANCE) })
process.send({ hello = tonumber(process.env.LUSTER_INSTANCE) })
setInterval(function() end, 1000)
]]

describe('luster -i --primary hooks.lua', function()
  it('hands each process.send to hooks.message, and hooks can broadcast to every instance', function()
    local dir = h.tmpdir()
    local hooks = child.write(dir .. '/hooks.lua', [[
      local primary = ...
      local seen = 0
      return {
        message = function(instance, msg, p)
          assert(p == primary)
          io.stderr:write(('hook: instance %d pid %d says hello %d\n'):format(instance.id, instance.pid, msg.hello))
          seen = seen + 1
          if seen == 4 then primary.broadcast({ text = 'hi all', from = 'primary' }) end
        end,
      }
    ]])
    local p = h.start({ '-i', '2', '--primary', hooks, h.script(SENDER) }, h.env())
    assert.is_true(h.wait_for(function()
      local _, n = p.out():gsub('got hi all from primary', '')
      return n == 2
    end, 8000), p.err() .. p.out())
    local err = p.err()
    assert.are.equal(2, select(2, err:gsub('hook: instance 0 pid %d+ says hello 0', '')))
    assert.are.equal(2, select(2, err:gsub('hook: instance 1 pid %d+ says hello 1', '')))
    assert.is_nil(err:find('no %-%-primary hooks'))
    p.kill('SIGTERM')
    assert.are.equal(0, await(p.done).code)
  end)

  it('without hooks, warns once per instance naming it', function()
    local p = h.start({ '-i', '2', h.script(SENDER) }, h.env())
    assert.is_true(h.wait_for(function()
      local _, n = p.err():gsub('sent a message but no %-%-primary hooks', '')
      return n >= 2
    end, 8000), p.err())
    await(h.sleep(200))
    local err = p.err()
    assert.are.equal(1, select(2, err:gsub('instance 0 %(worker %d+, pid %d+%) sent a message', '')))
    assert.are.equal(1, select(2, err:gsub('instance 1 %(worker %d+, pid %d+%) sent a message', '')))
    p.kill('SIGTERM')
    await(p.done)
  end)

  it('exits 1 with one line when the hooks file is bad', function()
    local dir = h.tmpdir()
    local hooks = child.write(dir .. '/hooks.lua', 'return 42')
    local r = h.ctl(h.env(), '-i', '1', '--primary', hooks, h.script(SENDER))
    assert.are.equal(1, r.code)
    assert.is_truthy(r.err:find('must return a table of hooks'))
  end)
end)
