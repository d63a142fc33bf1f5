-- An await of a promise that is already settled may go on without
-- suspending when its continuation would be the next job anyway (the
-- scheduler's inline_await): these pin that what a script sees is still
-- Node's order.  Each expected string is what Node prints for the same
-- program written with async functions (checked with node 18).
local child = require('helpers.child')

local function order_of(body)
  local dir = child.tmpdir()
  local file = child.write(dir .. '/main.lua', 'local log = {}\nlocal function p(s) log[#log + 1] = tostring(s) end\n'
    .. "process:on('exit', function() console.log(table.concat(log, ' ')) end)\n" .. body)
  local r = child.sh('timeout 10 ' .. child.bin() .. ' ' .. file .. ' </dev/null')
  child.rmdir(dir)
  assert.are.equal(0, r.code, r.err)
  return (r.out:gsub('\n$', ''))
end

describe('await of a settled promise', function()
  it('lets ticks queued by the callback run first, then keeps microtasks before later ticks', function()
    assert.are.equal('tick1 after1 micro1 after2 end tick2', order_of([[
      process.nextTick(function() p('tick1') end)
      await(Promise.resolve())
      p('after1')
      process.nextTick(function() p('tick2') end)
      queueMicrotask(function() p('micro1') end)
      await(Promise.resolve())
      p('after2')
      p('end')
    ]]))
  end)

  it('runs queued microtasks before the continuation', function()
    assert.are.equal('m1 m2 after', order_of([[
      queueMicrotask(function() p('m1') end)
      Promise.resolve():next(function() p('m2') end)
      await(Promise.resolve())
      p('after')
    ]]))
  end)

  it('does not return to the caller of an async function before its first await', function()
    assert.are.equal('returned inside', order_of([[
      local f = async(function() await(Promise.resolve()) p('inside') end)
      f() p('returned')
    ]]))
  end)

  it('inside microtasks and handlers keeps their order among each other', function()
    assert.are.equal('m2 m3 m2-after then-after tick3', order_of([[
      queueMicrotask(function()
        p('m2')
        await(Promise.resolve())
        p('m2-after')
        process.nextTick(function() p('tick3') end)
      end)
      queueMicrotask(function() p('m3') end)
      Promise.resolve():next(function() await(Promise.resolve()) p('then-after') end)
    ]]))
  end)

  it('in a timer callback: its ticks first, then the next timer after the drain', function()
    assert.are.equal('t-tick t-after t-micro t-tick2 t2', order_of([[
      setTimeout(function()
        process.nextTick(function() p('t-tick') end)
        await(Promise.resolve()) p('t-after')
        queueMicrotask(function() p('t-micro') end)
        process.nextTick(function() p('t-tick2') end)
      end, 1)
      setTimeout(function() p('t2') end, 1)
    ]]))
  end)

  it('raises a settled rejection at the await, and marks it handled', function()
    assert.are.equal('caught:no handled', order_of([[
      process:on('unhandledRejection', function() p('unhandled') end)
      local r = Promise.reject('no')
      local ok, e = pcall(await, r)
      p((ok and 'ok' or 'caught') .. ':' .. tostring(e))
      await(Promise.resolve())
      p('handled')
    ]]))
  end)

  it('a rejection left alone across a settled await is caught in time', function()
    assert.are.equal('caught', order_of([[
      process:on('unhandledRejection', function() p('unhandled') end)
      local r = Promise.reject('x')
      await(Promise.resolve())
      r:catch(function() p('caught') end)
    ]]))
  end)
end)

-- The queue runner runs a queueMicrotask callback inline (no coroutine of
-- its own); one that suspends parks the runner, and the queue goes on
-- without it.  The microtask queue is a ring that grows.
describe('await of a promise a later microtask resolves', function()
  it('lets the jobs queued behind a suspended microtask run before its continuation', function()
    assert.are.equal('a1 b c r d a2 r2 r2-after a3', order_of([[
      queueMicrotask(function()
        p('a1')
        await(Promise.new(function(r) queueMicrotask(function() p('r') r() end) end))
        p('a2')
        await(Promise.new(function(r) queueMicrotask(function() p('r2') r() p('r2-after') end) end))
        p('a3')
      end)
      queueMicrotask(function() p('b') end)
      Promise.resolve():next(function() p('c') queueMicrotask(function() p('d') end) end)
    ]]))
  end)

  it('queues the continuation behind what the resolving microtask queued before resolving', function()
    assert.are.equal('m1 other after1 x1 m2 after2 x2 m3 after3 x3', order_of([[
      async(function()
        for i = 1, 3 do
          await(Promise.new(function(res)
            queueMicrotask(function() p('m' .. i) res(i) queueMicrotask(function() p('x' .. i) end) end)
          end))
          p('after' .. i)
        end
      end)()
      queueMicrotask(function() p('other') end)
    ]]))
  end)

  it('keeps first-in first-out order while the queue grows around its end', function()
    -- 200 jobs; the 100th queues 400 more (the ring grows while its
    -- head is halfway), the 150th resolves what a coroutine awaits
    local want = {}
    for j = 1, 200 do want[#want + 1] = 'j' .. j end
    for k = 1, 400 do want[#want + 1] = 'k' .. k end
    want[#want + 1] = 'resumed'
    assert.are.equal(table.concat(want, ' '), order_of([[
      local resolve_it
      async(function() await(Promise.new(function(r) resolve_it = r end)) p('resumed') end)()
      for j = 1, 200 do queueMicrotask(function()
        p('j' .. j)
        if j == 100 then for k = 1, 400 do queueMicrotask(function() p('k' .. k) end) end end
        if j == 150 then resolve_it() end
      end) end
    ]]))
  end)
end)
