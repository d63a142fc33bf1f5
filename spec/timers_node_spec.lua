-- Timers and immediates, ported from Node's test/parallel/test-timers-*
-- (API.md "Globals", "Execution model").  Behaviour that shows only in a
-- whole process (exiting, ordering, uncaught errors) runs in a fresh one.
local child = require('helpers.child')
local timers = require('timers')

-- Run a script in a new luster process (killed after 10 s).
local function script(src)
  local dir = child.tmpdir()
  local file = child.write(dir .. '/main.lua', src)
  local r = child.sh('timeout 10 ' .. child.bin() .. ' ' .. file .. ' </dev/null')
  child.rmdir(dir)
  return r
end

-- The lines a script prints, which must exit 0.
local function output_of(src)
  local r = script(src)
  assert.are.equal(0, r.code, r.err)
  return r.out
end

describe('timer arguments (test-timers-args, -throw-when-cb-not-function)', function()
  it('passes up to many extra arguments to setTimeout, setInterval and setImmediate callbacks', function()
    for _, n in ipairs({ 0, 1, 7, 128 }) do
      local args = { n = n }
      for i = 1, n do args[i] = i - 1 end
      local got = await(Promise.new(function(resolve)
        setTimeout(function(...) resolve({ n = select('#', ...), ... }) end, 1, unpack(args, 1, n))
      end))
      assert.are.same(args, got)
      local iv
      got = await(Promise.new(function(resolve)
        iv = setInterval(function(...) resolve({ n = select('#', ...), ... }) end, 1, unpack(args, 1, n))
      end))
      clearInterval(iv)
      assert.are.same(args, got)
      got = await(Promise.new(function(resolve)
        setImmediate(function(...) resolve({ n = select('#', ...), ... }) end, unpack(args, 1, n))
      end))
      assert.are.same(args, got)
    end
  end)

  it('refuses a callback that is not a function with ERR_INVALID_ARG_TYPE', function()
    for _, set in ipairs({ setTimeout, setInterval, setImmediate }) do
      for _, bad in ipairs({ 'foo', { foo = 'bar' }, false, 0 }) do
        local ok, err = pcall(set, bad, 0)
        assert.is_false(ok)
        assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
      end
      local ok, err = pcall(set)
      assert.is_false(ok)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
    end
  end)
end)

describe('clearing (test-timers-clear-null-does-not-throw-error, -clear-object-, -clear-timeout-interval-equivalent)', function()
  it('ignores nil and values that are not timers', function()
    for _, clear in ipairs({ clearTimeout, clearInterval, clearImmediate }) do
      for _, v in ipairs({ false, 0, 'x', {}, function() end }) do
        assert.has_no.errors(function() clear(v) end)
      end
      assert.has_no.errors(function() clear() end)
      assert.has_no.errors(function() clear(nil) end)
    end
  end)

  it('ignores a timer given to clearImmediate and an immediate given to clearTimeout', function()
    local ran = {}
    local t = setTimeout(function() ran[#ran + 1] = 'timeout' end, 1)
    local im = setImmediate(function() ran[#ran + 1] = 'immediate' end)
    clearImmediate(t)
    clearTimeout(im)
    await(timers.sleep(10))
    table.sort(ran)
    assert.are.same({ 'immediate', 'timeout' }, ran)
  end)

  it('stops an interval with clearTimeout and a timeout with clearInterval', function()
    local n = 0
    clearTimeout(setInterval(function() n = n + 1 end, 1))
    clearInterval(setTimeout(function() n = n + 1 end, 1))
    await(timers.sleep(10))
    assert.are.equal(0, n)
  end)

  it('lets an interval clear itself from its callback', function()
    local n, iv = 0, nil
    iv = setInterval(function() n = n + 1; if n == 3 then clearInterval(iv) end end, 1)
    await(timers.sleep(30))
    assert.are.equal(3, n)
  end)

  it('keeps the new timer of a delay whose earlier timer was cleared after firing (test-timers-same-timeout-wrong-list-deleted)', function()
    local log = {}
    await(Promise.new(function(resolve)
      local handle1
      handle1 = setTimeout(function()
        clearTimeout(handle1)
        local handle2 = setTimeout(function() log[#log + 1] = 'handle2 fired' end, 20)
        setTimeout(function() clearTimeout(handle2); log[#log + 1] = 'cleared'; resolve() end, 1)
      end, 20)
    end))
    await(timers.sleep(40))
    assert.are.same({ 'cleared' }, log)
  end)
end)

describe('delays (test-timers-max-duration-warning, -non-integer-delay, -zero-timeout)', function()
  it('uses 1 ms for a delay over 2^31-1, with a TimeoutOverflowWarning', function()
    local r = script([[
      process:on('warning', function(w) console.log(w.name) console.log(w.message) end)
      local t0 = process.hrtime()
      setTimeout(function()
        local d = process.hrtime(t0)
        console.log('fired', d[1] == 0 and d[2] < 5e8)
      end, 2^31)
      clearInterval(setInterval(function() end, math.huge))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('TimeoutOverflowWarning\n2147483648 does not fit into a 32-bit signed integer.\n'
      .. 'Timeout duration was set to 1.\nTimeoutOverflowWarning\nInfinity does not fit into a 32-bit '
      .. 'signed integer.\nTimeout duration was set to 1.\nfired true\n', r.out)
    assert.matches('%(luster:%d+%) TimeoutOverflowWarning: 2147483648 does not fit', r.err)
  end)

  it('uses 1 ms without a warning for a delay that is missing, negative or not a number', function()
    local r = script([[
      process:on('warning', function(w) console.log('warned', w.name) end)
      for _, d in ipairs({ -10, 0, 0 / 0, 'soon' }) do setTimeout(function() console.log('fired') end, d) end
      setTimeout(function() console.log('fired') end)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(('fired\n'):rep(5), r.out)
  end)

  it('takes fractional delays', function()
    local n = 0
    await(Promise.new(function(resolve)
      local iv
      iv = setInterval(function() n = n + 1; if n == 5 then clearInterval(iv); resolve() end end, 1.5)
    end))
    assert.are.equal(5, n)
  end)

  it('repeats a zero-delay interval, with its arguments', function()
    local got = {}
    await(Promise.new(function(resolve)
      local iv
      iv = setInterval(function(a, b)
        got[#got + 1] = a .. b
        if #got == 3 then clearInterval(iv); resolve() end
      end, 0, 'x', 'y')
    end))
    assert.are.same({ 'xy', 'xy', 'xy' }, got)
  end)
end)

describe('ordering (test-timers-ordering, -nested, -next-tick)', function()
  it('runs timers due at the same time in the order they were set', function()
    assert.are.equal('a b c d e\n', output_of([[
      local log = {}
      for _, name in ipairs({ 'a', 'b', 'c', 'd', 'e' }) do
        setTimeout(function() log[#log + 1] = name end, 5)
      end
      setTimeout(function() console.log(table.concat(log, ' ')) end, 30)
    ]]))
  end)

  it('does not run a timer set by a callback in the same pass, even with the same delay', function()
    assert.are.equal('A tick B\n', output_of([[
      local log = {}
      setTimeout(function()
        log[#log + 1] = 'A'
        setTimeout(function() log[#log + 1] = 'B' end, 5)
        local t0 = process.hrtime()
        repeat local d = process.hrtime(t0) until d[1] > 0 or d[2] > 10e6 -- outlast B's delay
        process.nextTick(function() log[#log + 1] = 'tick' end)
      end, 5)
      process:on('exit', function() console.log(table.concat(log, ' ')) end)
    ]]))
  end)

  it('runs a setImmediate before a setTimeout 0 set in an I/O callback', function()
    assert.are.equal('immediate timeout\n', output_of([[
      local log = {}
      require('fs').readFile(__filename, function()
        setTimeout(function() log[#log + 1] = 'timeout' end, 0)
        setImmediate(function() log[#log + 1] = 'immediate' end)
      end)
      process:on('exit', function() console.log(table.concat(log, ' ')) end)
    ]]))
  end)
end)

describe('refresh (test-timers-refresh, -refresh-in-callback)', function()
  it('returns the timer and keeps an unref\'d timer unref\'d', function()
    local r = script([[
      local t = setTimeout(function() console.log('unref fired') end, 5000)
      t:unref()
      assert(t:refresh() == t)
      assert(t:hasRef() == false)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('', r.out)
  end)

  it('schedules a timeout again when called in its own callback', function()
    assert.are.equal('fired\nfired\n', output_of([[
      local again = true
      local t
      t = setTimeout(function()
        console.log('fired')
        if again then again = false; t:refresh() end
      end, 1)
    ]]))
  end)

  it('schedules a fired timeout again from a later tick, ref\'d', function()
    assert.are.equal('fired\ntrue\nfired\n', output_of([[
      local called = false
      local t
      t = setTimeout(function()
        console.log('fired')
        if not called then
          called = true
          process.nextTick(function() t:refresh() console.log(t:hasRef()) end)
        end
      end, 1)
    ]]))
  end)

  it('does nothing to a cleared timer', function()
    assert.are.equal('', output_of([[
      local t = setTimeout(function() console.log('fired') end, 1)
      clearTimeout(t)
      t:refresh()
    ]]))
  end)

  it('restarts an interval', function()
    assert.are.equal('timeout\ninterval 1\ninterval 2\n', output_of([[
      local n, iv = 0, nil
      iv = setInterval(function()
        n = n + 1
        console.log('interval ' .. n)
        if n == 2 then clearInterval(iv) end
      end, 20)
      setTimeout(function() console.log('timeout') end, 20)
      iv:refresh()
    ]]))
  end)
end)

describe('ref and unref (test-timers-unref, -unrefd-interval-still-fires, -unref-throw-then-ref)', function()
  it('chains unref and ref and reports hasRef', function()
    local t = setTimeout(function() end, 10)
    assert.is_true(t:hasRef())
    assert.are.equal(t, t:unref():ref():unref())
    assert.is_false(t:hasRef())
    clearTimeout(t)
    local iv = setInterval(function() end, 10):unref():ref():unref()
    assert.is_false(iv:hasRef())
    clearInterval(iv)
  end)

  it('keeps firing an unref\'d interval while something else holds the process', function()
    assert.are.equal('1\n2\n3\ndone\n', output_of([[
      local n = 0
      local keep = setTimeout(function() console.log('timed out') end, 5000)
      local iv
      iv = setInterval(function()
        n = n + 1
        console.log(n)
        if n == 3 then clearInterval(iv) clearTimeout(keep) console.log('done') end
      end, 1)
      iv:unref()
    ]]))
  end)

  it('does not hold the process for unref\'d timers, nor for one unref\'d in its callback', function()
    local r = script([[
      setInterval(function() console.log('interval should not fire') end, 10000):unref()
      setTimeout(function() console.log('timer should not fire') end, 10000):unref()
      local iv
      iv = setInterval(function() console.log('tick') iv:unref() end, 5)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('tick\n', r.out)
  end)

  it('lets an unref\'d timer ref itself and throw to uncaughtException', function()
    assert.are.equal('caught Timeout Error\nother timer\n', output_of([[
      process:once('uncaughtException', function(err) console.log('caught', (tostring(err):match('Timeout Error'))) end)
      local called = false
      local t
      t = setTimeout(function()
        assert(not called)
        called = true
        t:ref()
        error('Timeout Error')
      end, 1):unref()
      setTimeout(function() console.log('other timer') end, 1)
    ]]))
  end)
end)

describe('errors in callbacks (test-timers-interval-throw, -uncaught-exception, -immediate-queue-throw)', function()
  it('keeps rescheduling an interval that throws', function()
    assert.are.equal('IntervalError\nIntervalError\n', output_of([[
      local count = 2
      local iv = setInterval(function() error('IntervalError', 0) end, 1)
      process:on('uncaughtException', function(err)
        console.log(err)
        count = count - 1
        if count == 0 then clearInterval(iv) end
      end)
    ]]))
  end)

  it('goes on with the other timers after one throws', function()
    assert.are.equal('caught\nsecond\n', output_of([[
      process:on('uncaughtException', function() console.log('caught') end)
      setTimeout(function() error('first') end, 1)
      setTimeout(function() console.log('second') end, 1)
    ]]))
  end)

  it('runs the rest of the immediate queue after one throws, and new immediates the next turn', function()
    assert.are.equal('0 0 0 throw caught 1 1 1 2 2 2\n', output_of([[
      local log = {}
      local threw = false
      local function run(stage)
        log[#log + 1] = stage
        if not threw then setImmediate(run, 2) end
      end
      process:once('uncaughtException', function() log[#log + 1] = 'caught' end)
      for _ = 1, 3 do setImmediate(run, 0) end
      setImmediate(function() log[#log + 1] = 'throw' error('setImmediate Err') end)
      for _ = 1, 3 do setImmediate(run, 1) end
      setTimeout(function() threw = true end, 50)
      process:on('exit', function() console.log(table.concat(log, ' ', 1, 11)) end)
    ]]))
  end)
end)

describe('immediates (test-timers-immediate-queue, test-timers-setimmediate-infinite-loop)', function()
  it('runs immediates queued while the queue runs on the next turn', function()
    assert.are.equal('hit 10\n', output_of([[
      local ticked, hit = false, 0
      local function run()
        if hit == 0 then
          setTimeout(function() ticked = true end, 1)
          local t0 = process.hrtime()
          repeat local d = process.hrtime(t0) until d[1] > 0 or d[2] > 2e6
        end
        if ticked then return end
        hit = hit + 1
        setImmediate(run)
      end
      for _ = 1, 10 do setImmediate(run) end
      process:on('exit', function() console.log('hit', hit) end)
    ]]))
  end)

  it('does not get stuck when an immediate clears the ones after it', function()
    assert.are.equal('first\n', output_of([[
      local i2, i3
      setImmediate(function() console.log('first') clearImmediate(i2) clearImmediate(i3) end)
      i2 = setImmediate(function() console.log('i2') end)
      i3 = setImmediate(function() console.log('i3') end)
    ]]))
  end)
end)

describe('Immediate ref and unref (test-timers-immediate-unref, -immediate-unref-nested-once)', function()
  it('chains ref and unref and reports hasRef', function()
    local im = setImmediate(function() end)
    assert.is_true(im:hasRef())
    assert.are.equal(im, im:unref())
    assert.is_false(im:hasRef())
    assert.is_true(im:ref():unref():unref():ref():hasRef())
    clearImmediate(im)
  end)

  it('does not hold the process for an unref\'d immediate', function()
    local r = script([[ setImmediate(function() console.log('should not run') end):unref() ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('', r.out)
  end)

  it('does not hold the process for one set from an immediate or a timer', function()
    for _, setter in ipairs({ 'setImmediate', 'setTimeout' }) do
      local r = script(setter .. [[(function()
        setImmediate(function() console.log('should not run') end):unref()
      end)]])
      assert.are.equal(0, r.code, r.err)
      assert.are.equal('', r.out, setter)
    end
  end)

  it('runs an unref\'d immediate while something else holds the process, and one ref\'d again', function()
    assert.are.equal('first\nunref ran\ntimeout\nsecond\nfinal\n', output_of([[
      local function finalStep()
        console.log('final')
        setImmediate(function() console.log('should not run') end):unref()
      end
      local function secondStep()
        console.log('second')
        local immA, immB
        immA = setImmediate(function()
          clearImmediate(immA)
          clearImmediate(immB)
          immA:ref()
          immB:ref()
        end):unref()
        immB = setImmediate(function() console.log('immB should not run') end):unref()
        setImmediate(finalStep)
      end
      local function firstStep()
        console.log('first')
        setImmediate(function() console.log('unref ran') end):unref()
        -- 50 ms, not Node's 0 (1 ms): a loaded machine can take a millisecond
        -- between two turns, and the timer then fires before the immediate
        setTimeout(function() console.log('timeout') setImmediate(secondStep) end, 50)
      end
      setImmediate(firstStep):ref():unref():unref():ref()
    ]]))
  end)

  it('lets the process end when beforeExit sets unref\'d timers and immediates (test-timers-unrefed-in-beforeexit)', function()
    assert.are.equal('beforeExit 1\n', output_of([[
      local n = 0
      process:on('beforeExit', function()
        n = n + 1
        setTimeout(function() console.log('timer fired') end, 1):unref()
        setImmediate(function() console.log('immediate ran') end):unref()
      end)
      process:on('exit', function() console.log('beforeExit', n) end)
    ]]))
  end)

  it('keeps the process for an unref\'d immediate that is ref\'d again', function()
    assert.are.equal('ran\n', output_of([[ setImmediate(function() console.log('ran') end):unref():ref() ]]))
  end)
end)

describe('timers/promises (test-timers-promises, -timeout-promisified, -immediate-promisified, -interval-promisified)', function()
  local tp = require('timers/promises')

  it('is require("timers").promises', function()
    assert.are.equal(tp, timers.promises)
    assert.are.equal(tp, require('node:timers/promises'))
  end)

  it('fulfils setTimeout and setImmediate with the value given, or nil', function()
    assert.is_nil(await(tp.setTimeout(1)))
    assert.are.equal('foobar', await(tp.setTimeout(1, 'foobar')))
    assert.is_nil(await(tp.setImmediate()))
    assert.are.equal('foobar', await(tp.setImmediate('foobar')))
    assert.is_nil(await(tp.scheduler.wait(1)))
    assert.is_nil(await(tp.scheduler.yield()))
  end)

  it('rejects bad options with ERR_INVALID_ARG_TYPE', function()
    for _, bad in ipairs({ 1, '', false, 1 / 0 }) do
      local ok, err = pcall(await, tp.setTimeout(10, nil, bad))
      assert.is_false(ok)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
      ok, err = pcall(await, tp.setImmediate(10, bad))
      assert.is_false(ok)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
    end
    for _, ref in ipairs({ 1, '', 1 / 0, {} }) do
      local ok, err = pcall(await, tp.setTimeout(10, nil, { ref = ref }))
      assert.is_false(ok)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
      ok, err = pcall(await, tp.setInterval(10, nil, { ref = ref }):next())
      assert.is_false(ok)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
    end
  end)

  it('lets the process end while an unref\'d one waits', function()
    local r = script([[
      local tp = require('timers/promises')
      tp.setTimeout(1000, nil, { ref = false }):next(function() console.log('timeout fired') end)
      tp.setImmediate(nil, { ref = false }):next(function() console.log('immediate fired') end)
      tp.setInterval(1000, nil, { ref = false }):next():next(function() console.log('interval fired') end)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('', r.out)
    assert.are.equal('', r.err)
  end)

  it('gives interval ticks through next() until closed', function()
    local it_ = tp.setInterval(1, 'foobar')
    local first = await(it_:next())
    assert.are.same({ value = 'foobar', done = false }, first)
    assert.are.same({ value = 'foobar', done = false }, await(it_:next()))
    assert.are.same({ done = true }, await(it_['return'](it_)))
    assert.are.same({ done = true }, await(it_:next()))
  end)

  it('iterates interval ticks in a for loop', function()
    local seen = {}
    local it_ = tp.setInterval(2, 'v')
    for n, v in it_ do
      seen[#seen + 1] = n .. v
      if n == 3 then break end
    end
    it_:close()
    assert.are.same({ '1v', '2v', '3v' }, seen)
  end)

  it('keeps ticks nobody has taken yet', function()
    local it_ = tp.setInterval(5)
    await(tp.setTimeout(40))
    local t0 = process.hrtime()
    await(it_:next())
    await(it_:next())
    local d = process.hrtime(t0)
    it_:close()
    assert.is_true(d[1] == 0 and d[2] < 4e6, 'kept ticks were not given at once')
  end)

  it('paces interval ticks by the interval', function()
    local pre, post = false, false
    tp.setTimeout(1):next(function() pre = true end)
    tp.setTimeout(150):next(function() post = true end)
    local it_ = tp.setInterval(100)
    await(it_:next())
    assert.is_true(pre, 'interval ran too early')
    assert.is_false(post, 'interval ran too late')
    await(it_:next())
    assert.is_true(post, 'second interval ran too early')
    it_:close()
  end)
end)
