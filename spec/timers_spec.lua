-- Timers, immediates, nextTick and microtask ordering (API.md "Globals",
-- "Execution model").  Orders are checked in a fresh process, as a user
-- would see them from a script's top level or a callback.
local child = require('helpers.child')
local timers = require('timers')

local function ms_since(t0)
  local d = process.hrtime(t0)
  return d[1] * 1e3 + d[2] / 1e6
end

-- Run a script that fills `log` and prints it at exit.
local function order_of(body)
  local r = child.run('local log = {}\nlocal function p(s) log[#log + 1] = s end\n'
    .. "process:on('exit', function() console.log(table.concat(log, ' ')) end)\n" .. body)
  assert.are.equal(0, r.code, r.err)
  return (r.out:gsub('\n$', ''))
end

describe('the order callbacks run in', function()
  it('runs synchronous code, then nextTicks, then promise callbacks, then timers', function()
    assert.are.equal('sync tick promise timeout', order_of([[
      setTimeout(function() p('timeout') end, 0)
      Promise.resolve():next(function() p('promise') end)
      process.nextTick(function() p('tick') end)
      p('sync')
    ]]))
  end)

  it('runs nextTicks queued by nextTicks before any promise callback', function()
    assert.are.equal('tick1 tick2 promise', order_of([[
      Promise.resolve():next(function() p('promise') end)
      process.nextTick(function()
        p('tick1')
        process.nextTick(function() p('tick2') end)
      end)
    ]]))
  end)

  it('runs microtasks queued by promise callbacks before a nextTick queued there', function()
    assert.are.equal('promise1 promise2 tick', order_of([[
      Promise.resolve():next(function()
        p('promise1')
        process.nextTick(function() p('tick') end)
        Promise.resolve():next(function() p('promise2') end)
      end)
    ]]))
  end)

  it('drains nextTicks and microtasks between two timer callbacks', function()
    assert.are.equal('t1 t1-tick t1-promise t2', order_of([[
      setTimeout(function()
        p('t1')
        Promise.resolve():next(function() p('t1-promise') end)
        process.nextTick(function() p('t1-tick') end)
      end, 5)
      setTimeout(function() p('t2') end, 5)
    ]]))
  end)

  it('runs a setImmediate queued in a timer callback before a setTimeout 0 queued there', function()
    assert.are.equal('timer immediate timeout', order_of([[
      setTimeout(function()
        p('timer')
        setTimeout(function() p('timeout') end, 0)
        setImmediate(function() p('immediate') end)
      end, 1)
    ]]))
  end)

  it('runs timers by due time, and equal ones in the order they were set', function()
    assert.are.equal('a10 b10 c20 d30', order_of([[
      setTimeout(function() p('d30') end, 30)
      setTimeout(function() p('a10') end, 10)
      setTimeout(function() p('c20') end, 20)
      setTimeout(function() p('b10') end, 10)
    ]]))
  end)

  it('runs immediates in the order they were queued, one turn at a time', function()
    assert.are.equal('i1 i2 i3 i1-inner', order_of([[
      setImmediate(function()
        p('i1')
        setImmediate(function() p('i1-inner') end)
      end)
      setImmediate(function() p('i2') end)
      setImmediate(function() p('i3') end)
    ]]))
  end)
end)

describe('setTimeout', function()
  it('calls the function once after the delay', function()
    local t0 = process.hrtime()
    local calls = 0
    await(Promise.new(function(resolve)
      setTimeout(function() calls = calls + 1; resolve() end, 20)
    end))
    assert.is_true(ms_since(t0) >= 19, 'fired early')
    await(timers.sleep(30))
    assert.are.equal(1, calls)
  end)

  it('passes the extra arguments to the function, nils included', function()
    local got = await(Promise.new(function(resolve)
      setTimeout(function(...) resolve({ n = select('#', ...), ... }) end, 1, 'a', nil, 3)
    end))
    assert.are.equal(3, got.n)
    assert.are.equal('a', got[1])
    assert.is_nil(got[2])
    assert.are.equal(3, got[3])
  end)

  it('treats a missing, zero or negative delay as 1 ms', function()
    local n = 0
    await(Promise.new(function(resolve)
      setTimeout(function() n = n + 1 end)
      setTimeout(function() n = n + 1 end, 0)
      setTimeout(function() n = n + 1 end, -5)
      setTimeout(resolve, 10)
    end))
    assert.are.equal(3, n)
  end)

  it('refuses a callback that is not a function', function()
    local ok, e = pcall(setTimeout, 'not a function', 10)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)

  it('returns a Timeout object with ref, unref and hasRef', function()
    local t = setTimeout(function() end, 1)
    assert.is_true(t:hasRef())
    assert.are.equal(t, t:unref())
    assert.is_false(t:hasRef())
    t:ref()
    assert.is_true(t:hasRef())
    clearTimeout(t)
  end)
end)

describe('clearTimeout', function()
  it('stops a pending timeout from firing', function()
    local fired = false
    local t = setTimeout(function() fired = true end, 5)
    clearTimeout(t)
    await(timers.sleep(20))
    assert.is_false(fired)
  end)

  it('ignores nil, a fired timer and other values', function()
    local t = setTimeout(function() end, 1)
    await(timers.sleep(10))
    assert.has_no.errors(function()
      clearTimeout(nil)
      clearTimeout(t)
      clearTimeout({})
      clearTimeout(42)
    end)
  end)

  it('can cancel one timer from another timer\'s callback', function()
    local fired = {}
    local b
    setTimeout(function() fired[#fired + 1] = 'a'; clearTimeout(b) end, 5)
    b = setTimeout(function() fired[#fired + 1] = 'b' end, 10)
    await(timers.sleep(25))
    assert.are.same({ 'a' }, fired)
  end)
end)

describe('setInterval and clearInterval', function()
  it('calls the function repeatedly until cleared', function()
    local n = 0
    local iv
    await(Promise.new(function(resolve)
      iv = setInterval(function(step)
        n = n + step
        if n == 3 then clearInterval(iv); resolve() end
      end, 2, 1)
    end))
    await(timers.sleep(15))
    assert.are.equal(3, n)
  end)

  it('keeps the interval between calls', function()
    local stamps = {}
    local iv
    local t0 = process.hrtime()
    await(Promise.new(function(resolve)
      iv = setInterval(function()
        stamps[#stamps + 1] = ms_since(t0)
        if #stamps == 3 then clearInterval(iv); resolve() end
      end, 15)
    end))
    assert.is_true(stamps[3] >= 44, 'three 15 ms intervals took ' .. stamps[3] .. ' ms')
  end)

  it('clearTimeout also stops an interval', function()
    local n = 0
    local iv = setInterval(function() n = n + 1 end, 2)
    await(timers.sleep(9))
    clearTimeout(iv)
    local seen = n
    await(timers.sleep(10))
    assert.is_true(seen >= 1)
    assert.are.equal(seen, n)
  end)
end)

describe('unref and refresh', function()
  it('does not keep the process alive for an unref\'d timer', function()
    local t0 = process.hrtime()
    local r = child.run([[
      setTimeout(function() console.log('fired') end, 5000):unref()
      console.log('end of script')
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('end of script\n', r.out)
    assert.is_true(ms_since(t0) < 3000)
  end)

  it('still fires an unref\'d timer while something else keeps the process alive', function()
    local r = child.run([[
      setTimeout(function() console.log('unref fired') end, 5):unref()
      setTimeout(function() console.log('ref fired') end, 40)
    ]])
    assert.are.equal('unref fired\nref fired\n', r.out)
  end)

  it('keeps the process alive again after ref()', function()
    local r = child.run([[
      local t = setTimeout(function() console.log('fired') end, 10)
      t:unref()
      t:ref()
    ]])
    assert.are.equal('fired\n', r.out)
  end)

  it('does not keep the process alive for an unref\'d interval', function()
    local r = child.run([[
      setInterval(function() end, 5):unref()
      setTimeout(function() console.log('done') end, 20)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('done\n', r.out)
  end)

  it('restarts the countdown with refresh()', function()
    local t0 = process.hrtime()
    local fired_at
    local t = setTimeout(function() fired_at = ms_since(t0) end, 30)
    await(timers.sleep(20))
    local refreshed_at = ms_since(t0)
    assert.are.equal(t, t:refresh())
    await(timers.sleep(12)) -- past the original due time, before the new one
    assert.is_nil(fired_at, 'fired at the original due time')
    await(timers.sleep(40))
    assert.is_not_nil(fired_at)
    assert.is_true(fired_at - refreshed_at >= 29, ('fired %.1f ms after refresh'):format(fired_at - refreshed_at))
  end)
end)

describe('setImmediate and clearImmediate', function()
  it('runs the function with its arguments after the current code', function()
    local log = {}
    await(Promise.new(function(resolve)
      setImmediate(function(a, b) log[#log + 1] = a .. b; resolve() end, 'x', 'y')
      log[#log + 1] = 'sync'
    end))
    assert.are.same({ 'sync', 'xy' }, log)
  end)

  it('does not run a cleared immediate', function()
    local ran = false
    local im = setImmediate(function() ran = true end)
    clearImmediate(im)
    await(timers.sleep(5))
    assert.is_false(ran)
  end)

  it('can clear an immediate from an earlier immediate of the same turn', function()
    local r = child.run([[
      local b
      setImmediate(function() console.log('a') clearImmediate(b) end)
      b = setImmediate(function() console.log('b') end)
    ]])
    assert.are.equal('a\n', r.out)
  end)

  it('keeps the process alive until it has run', function()
    local r = child.run([[ setImmediate(function() console.log('immediate ran') end) ]])
    assert.are.equal('immediate ran\n', r.out)
  end)
end)

describe('awaiting timers', function()
  it('lets a script await a timer promise at top level', function()
    local r = child.run([[
      local timers = require('timers')
      console.log('before')
      local v = await(timers.promises.setTimeout(10, 'value'))
      console.log('after', v)
      console.log(await(timers.promises.setImmediate('imm')))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('before\nafter value\nimm\n', r.out)
  end)

  it('lets a script await a promise that a timer resolves', function()
    local r = child.run([[
      local v = await(Promise.new(function(resolve) setTimeout(resolve, 10, 'done') end))
      console.log(v)
    ]])
    assert.are.equal('done\n', r.out)
  end)
end)
