-- process.nextTick and queueMicrotask, ported from Node's
-- test/parallel/test-next-tick-* (API.md "Execution model").  Orders are
-- checked in a fresh process, as a script sees them.
local child = require('helpers.child')

-- Run a script in a new luster process (killed after 10 s).
local function script(src)
  local dir = child.tmpdir()
  local file = child.write(dir .. '/main.lua', src)
  local r = child.sh('timeout 10 ' .. child.bin() .. ' ' .. file .. ' </dev/null')
  child.rmdir(dir)
  return r
end

-- Run a script that fills `log` (with p) and prints it at exit.
local function order_of(body)
  local r = script('local log = {}\nlocal function p(s) log[#log + 1] = tostring(s) end\n'
    .. "process:on('exit', function() console.log(table.concat(log, ' ')) end)\n" .. body)
  assert.are.equal(0, r.code, r.err)
  return (r.out:gsub('\n$', ''))
end

describe('process.nextTick (test-next-tick)', function()
  it('passes its extra arguments, nils included', function()
    local got = await(Promise.new(function(resolve)
      process.nextTick(function(...) resolve({ n = select('#', ...), ... }) end, 42, nil, 'x', nil)
    end))
    assert.are.same({ n = 4, 42, nil, 'x' }, got)
  end)

  it('runs ticks queued by ticks, and ticks queued by timers', function()
    assert.are.equal('t1 t2 t3 t4 timer t5', order_of([[
      process.nextTick(function()
        p('t1')
        process.nextTick(function() p('t3') process.nextTick(function() p('t4') end) end)
      end)
      process.nextTick(function() p('t2') end)
      setTimeout(function() p('timer') process.nextTick(function() p('t5') end) end, 20)
    ]]))
  end)

  it('does not run a tick queued by an exit listener', function()
    local r = script([[
      process:on('exit', function()
        console.log('exit')
        process.nextTick(function() console.log('tick after exit') end)
      end)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('exit\n', r.out)
  end)

  it('does not run a tick queued by an exit listener after process.exit() (test-next-tick-when-exiting)', function()
    local r = script([[
      process:on('exit', function()
        console.log('exiting')
        process.nextTick(function() console.log('should not run') end)
      end)
      process.exit()
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('exiting\n', r.out)
  end)

  it('does not keep the process alive by itself (test-next-tick-doesnt-hang)', function()
    local r = script([[ process.nextTick(function() console.log('tick') end) ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('tick\n', r.out)
  end)
end)

describe('process.nextTick arguments (test-next-tick-errors)', function()
  it('refuses anything but a function with ERR_INVALID_ARG_TYPE', function()
    for _, bad in ipairs({ false, true, 1, 'str', {}, nil }) do
      local ok, err = pcall(process.nextTick, bad)
      assert.is_false(ok)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
    end
  end)

  it('drops a tick that raised and runs the rest once the error is handled', function()
    assert.are.equal('A B:uncaughtException C', order_of([[
      process.nextTick(function() p('A') error('what') end)
      process.nextTick(function() p('C') end)
      local handled = false
      process:on('uncaughtException', function(err, origin)
        if handled then p('OOPS') return end
        handled = true
        p('B:' .. origin)
      end)
    ]]))
  end)
end)

describe('ticks and the other queues (test-next-tick-ordering, -ordering2, -intentional-starvation)', function()
  it('runs ticks before timers, also a tick queued by a tick', function()
    assert.are.equal('nextTick setTimeout', order_of([[
      process.nextTick(function()
        setTimeout(function() p('setTimeout') end, 0)
        process.nextTick(function() p('nextTick') end)
      end)
    ]]))
  end)

  it('runs a tick before timers of any delay', function()
    local out = order_of([[
      process.nextTick(function() p('nextTick') end)
      for i = 0, 29 do setTimeout(function() p(i) end, i) end
    ]])
    assert.are.equal('nextTick', out:match('^%S+'))
  end)

  it('starves a due timer for as long as ticks keep queueing ticks', function()
    local r = script([[
      local start, starved = process.hrtime(), false
      local function ms() local d = process.hrtime(start) return d[1] * 1e3 + d[2] / 1e6 end
      local function spin()
        if ms() > 100 then starved = true return end
        process.nextTick(spin)
      end
      spin()
      setTimeout(function() console.log(starved and 'timer ran after the ticks' or 'the timer escaped') end, 50)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('timer ran after the ticks\n', r.out)
  end)

  it('runs ticks queued by a promise callback after the microtasks queued with them', function()
    assert.are.equal('p1 p2 tick p3', order_of([[
      Promise.resolve():next(function()
        p('p1')
        process.nextTick(function()
          p('tick')
          Promise.resolve():next(function() p('p3') end)
        end)
        Promise.resolve():next(function() p('p2') end)
      end)
    ]]))
  end)
end)

describe('queueMicrotask', function()
  it('refuses anything but a function with ERR_INVALID_ARG_TYPE', function()
    for _, bad in ipairs({ false, 1, 'str', {}, nil }) do
      local ok, err = pcall(queueMicrotask, bad)
      assert.is_false(ok)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
      assert.matches('The "callback" argument must be of type function', err.message)
    end
  end)

  it('shares the promise queue, in order, after nextTicks', function()
    assert.are.equal('tick m1 p1 m2 p2', order_of([[
      queueMicrotask(function() p('m1') end)
      Promise.resolve():next(function() p('p1') end)
      queueMicrotask(function() p('m2') queueMicrotask(function() end) end)
      Promise.resolve():next(function() p('p2') end)
      process.nextTick(function() p('tick') end)
    ]]))
  end)

  it('sends an error to uncaughtException and goes on with the queue', function()
    assert.are.equal('caught:boom after', order_of([[
      process:on('uncaughtException', function(err) p('caught:' .. tostring(err):match('boom')) end)
      queueMicrotask(function() error('boom') end)
      queueMicrotask(function() p('after') end)
    ]]))
  end)
end)
