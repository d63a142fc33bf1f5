-- Promises, await and async (API.md "Execution model").
-- Each test runs in the entry coroutine, so it may await.
local child = require('helpers.child')

-- A promise that settles after `ms` milliseconds.
local function later(ms, value)
  return Promise.new(function(resolve) setTimeout(resolve, ms, value) end)
end
local function later_reject(ms, reason)
  return Promise.new(function(_, reject) setTimeout(reject, ms, reason) end)
end

-- The outcome of a promise as (ok, value), without raising.
local function outcome(p)
  local ok, v = pcall(await, p)
  return ok, v
end

describe('Promise.new', function()
  it('runs the executor at once', function()
    local ran = false
    local p = Promise.new(function() ran = true end)
    assert.is_true(ran)
    assert.is_true(Promise.isPromise(p))
  end)

  it('fulfils with the value given to resolve', function()
    assert.are.equal(42, await(Promise.new(function(resolve) resolve(42) end)))
  end)

  it('rejects with the reason given to reject', function()
    local ok, e = outcome(Promise.new(function(_, reject) reject('bad') end))
    assert.is_false(ok)
    assert.are.equal('bad', e)
  end)

  it('rejects with the error the executor raises', function()
    local ok, e = outcome(Promise.new(function() error('exec failed', 0) end))
    assert.is_false(ok)
    assert.are.equal('exec failed', e)
  end)

  it('settles only once: later resolve and reject calls are ignored', function()
    local p = Promise.new(function(resolve, reject)
      resolve('first')
      resolve('second')
      reject('third')
    end)
    assert.are.equal('first', await(p))
  end)

  it('can be settled later from outside the executor', function()
    local settle
    local p = Promise.new(function(resolve) settle = resolve end)
    setTimeout(function() settle('from a timer') end, 1)
    assert.are.equal('from a timer', await(p))
  end)

  it('is also callable as Promise(fn)', function()
    local p = Promise(function(resolve) resolve('called') end)
    assert.is_true(Promise.isPromise(p))
    assert.are.equal('called', await(p))
  end)
end)

describe('Promise.resolve and Promise.reject', function()
  it('Promise.resolve wraps a value', function()
    assert.are.equal('v', await(Promise.resolve('v')))
  end)

  it('Promise.resolve returns a promise unchanged', function()
    local p = later(1, 'x')
    assert.are.equal(p, Promise.resolve(p))
  end)

  it('Promise.reject makes a rejected promise', function()
    local ok, e = outcome(Promise.reject('no'))
    assert.is_false(ok)
    assert.are.equal('no', e)
  end)

  it('prints its state with tostring', function()
    local p = Promise.new(function() end)
    assert.are.equal('Promise { <pending> }', tostring(p))
    local q = Promise.resolve(1)
    assert.are.equal('Promise { <fulfilled> }', tostring(q))
  end)
end)

describe('promise:next', function()
  it('calls onFulfilled with the value and fulfils with its return', function()
    local p = Promise.resolve(2):next(function(v) return v * 10 end)
    assert.are.equal(20, await(p))
  end)

  it('chains: each step receives the previous step\'s result', function()
    local p = Promise.resolve(1)
      :next(function(v) return v + 1 end)
      :next(function(v) return v * 3 end)
      :next(function(v) return 'got ' .. v end)
    assert.are.equal('got 6', await(p))
  end)

  it('adopts a promise returned by a handler', function()
    local p = Promise.resolve(1):next(function() return later(5, 'inner') end)
    assert.are.equal('inner', await(p))
  end)

  it('adopts the rejection of a promise returned by a handler', function()
    local p = Promise.resolve(1):next(function() return later_reject(2, 'inner failed') end)
    local ok, e = outcome(p)
    assert.is_false(ok)
    assert.are.equal('inner failed', e)
  end)

  it('adopts a promise passed to resolve', function()
    local p = Promise.new(function(resolve) resolve(later(2, 'adopted')) end)
    assert.are.equal('adopted', await(p))
  end)

  it('calls onRejected with the reason', function()
    local p = Promise.reject('why'):next(function() return 'not me' end, function(e) return 'handled ' .. e end)
    assert.are.equal('handled why', await(p))
  end)

  it('rejects the next promise when a handler raises', function()
    local p = Promise.resolve(1):next(function() error({ code = 'E_HANDLER' }) end)
    local ok, e = outcome(p)
    assert.is_false(ok)
    assert.are.equal('E_HANDLER', e.code)
  end)

  it('passes a value through when onFulfilled is missing', function()
    assert.are.equal('through', await(Promise.resolve('through'):next(nil, function() end)))
  end)

  it('passes a rejection through when onRejected is missing', function()
    local ok, e = outcome(Promise.reject('skip'):next(function() return 'no' end))
    assert.is_false(ok)
    assert.are.equal('skip', e)
  end)

  it('calls every handler attached to the same promise, in order', function()
    local log = {}
    local p = later(1, 'v')
    local a = p:next(function(v) log[#log + 1] = 'a' .. v end)
    local b = p:next(function(v) log[#log + 1] = 'b' .. v end)
    await(Promise.all({ a, b }))
    assert.are.same({ 'av', 'bv' }, log)
  end)

  it('rejects a promise resolved with itself', function()
    local p
    p = Promise.resolve(1):next(function() return p end)
    local ok, e = outcome(p)
    assert.is_false(ok)
    assert.matches('cycle', tostring(e.message or e))
  end)

  it('is also reachable as promise["then"]', function()
    assert.are.equal(3, await(Promise.resolve(1)['then'](Promise.resolve(2), function(v) return v + 1 end)))
  end)
end)

describe('handlers run asynchronously', function()
  it('does not run a handler of an already settled promise before the current code ends', function()
    local log = {}
    local p = Promise.resolve('x'):next(function() log[#log + 1] = 'handler' end)
    log[#log + 1] = 'after next()'
    assert.are.same({ 'after next()' }, log)
    await(p)
    assert.are.same({ 'after next()', 'handler' }, log)
  end)

  it('runs resolve\'s reactions later, not inside resolve', function()
    local log = {}
    local resolve
    local p = Promise.new(function(r) resolve = r end)
    local done = p:next(function() log[#log + 1] = 'handler' end)
    resolve()
    log[#log + 1] = 'after resolve()'
    await(done)
    assert.are.same({ 'after resolve()', 'handler' }, log)
  end)
end)

describe('promise:catch', function()
  it('handles a rejection and fulfils with the handler\'s result', function()
    assert.are.equal('recovered: e', await(Promise.reject('e'):catch(function(e) return 'recovered: ' .. e end)))
  end)

  it('is skipped for a fulfilled promise', function()
    local called = false
    assert.are.equal(5, await(Promise.resolve(5):catch(function() called = true end)))
    assert.is_false(called)
  end)

  it('catches an error raised earlier in the chain', function()
    local p = Promise.resolve(1)
      :next(function() error('step 1 failed', 0) end)
      :next(function() return 'skipped' end)
      :catch(function(e) return 'caught ' .. e end)
    assert.are.equal('caught step 1 failed', await(p))
  end)
end)

describe('promise:finally', function()
  it('runs on fulfilment and passes the value through', function()
    local ran = false
    assert.are.equal('v', await(Promise.resolve('v'):finally(function() ran = true return 'ignored' end)))
    assert.is_true(ran)
  end)

  it('runs on rejection and passes the rejection through', function()
    local ran = false
    local ok, e = outcome(Promise.reject('r'):finally(function() ran = true end))
    assert.is_true(ran)
    assert.is_false(ok)
    assert.are.equal('r', e)
  end)

  it('waits for a promise the callback returns', function()
    local log = {}
    local p = Promise.resolve('v'):finally(function()
      return later(5):next(function() log[#log + 1] = 'cleanup done' end)
    end):next(function(v) log[#log + 1] = 'then ' .. v end)
    await(p)
    assert.are.same({ 'cleanup done', 'then v' }, log)
  end)

  it('rejects with the error the callback raises', function()
    local ok, e = outcome(Promise.resolve('v'):finally(function() error('cleanup failed', 0) end))
    assert.is_false(ok)
    assert.are.equal('cleanup failed', e)
  end)
end)

describe('Promise.all', function()
  it('fulfils with the values in the order of the list, not of settling', function()
    local r = await(Promise.all({ later(10, 'slow'), later(1, 'fast'), 'plain' }))
    assert.are.equal('slow', r[1])
    assert.are.equal('fast', r[2])
    assert.are.equal('plain', r[3])
  end)

  it('rejects with the first rejection', function()
    local ok, e = outcome(Promise.all({ later(20, 'a'), later_reject(2, 'b failed'), later_reject(10, 'c failed') }))
    assert.is_false(ok)
    assert.are.equal('b failed', e)
  end)

  it('fulfils with an empty list for an empty list', function()
    local r = await(Promise.all({}))
    assert.are.equal(0, #r)
  end)

  it('keeps nil values in their place', function()
    local r = await(Promise.all({ n = 3, 1, nil, 3 }))
    assert.are.equal(1, r[1])
    assert.is_nil(r[2])
    assert.are.equal(3, r[3])
    assert.are.equal(3, r.n)
  end)
end)

describe('Promise.allSettled', function()
  it('reports each outcome once all have settled', function()
    local r = await(Promise.allSettled({ later(5, 'ok'), later_reject(1, 'no'), 7 }))
    assert.are.same({ status = 'fulfilled', value = 'ok' }, r[1])
    assert.are.same({ status = 'rejected', reason = 'no' }, r[2])
    assert.are.same({ status = 'fulfilled', value = 7 }, r[3])
  end)

  it('never rejects', function()
    local ok = outcome(Promise.allSettled({ Promise.reject('a'), Promise.reject('b') }))
    assert.is_true(ok)
  end)
end)

describe('Promise.race', function()
  it('settles like the first promise to settle', function()
    assert.are.equal('fast', await(Promise.race({ later(30, 'slow'), later(1, 'fast') })))
  end)

  it('rejects when the first to settle rejects', function()
    local ok, e = outcome(Promise.race({ later(30, 'slow'), later_reject(1, 'fast no') }))
    assert.is_false(ok)
    assert.are.equal('fast no', e)
  end)
end)

describe('Promise.any', function()
  it('fulfils with the first fulfilment, ignoring rejections', function()
    assert.are.equal('good', await(Promise.any({ later_reject(1, 'x'), later(5, 'good'), later(30, 'late') })))
  end)

  it('rejects with an AggregateError holding every reason when all reject', function()
    local ok, e = outcome(Promise.any({ later_reject(5, 'a'), later_reject(1, 'b') }))
    assert.is_false(ok)
    assert.are.equal('ERR_AGGREGATE_ERROR', e.code)
    assert.are.equal('a', e.errors[1])
    assert.are.equal('b', e.errors[2])
    assert.matches('ERR_AGGREGATE_ERROR: ', tostring(e), 1, true)
  end)

  it('rejects with an AggregateError for an empty list', function()
    local ok, e = outcome(Promise.any({}))
    assert.is_false(ok)
    assert.are.equal('ERR_AGGREGATE_ERROR', e.code)
  end)
end)

describe('await', function()
  it('returns a non-promise value as it is', function()
    assert.are.equal(5, await(5))
    assert.are.equal('s', await('s'))
    assert.is_nil(await(nil))
    local t = {}
    assert.are.equal(t, await(t))
  end)

  it('returns the value of a fulfilled promise', function()
    assert.are.equal('done', await(later(2, 'done')))
  end)

  it('raises the reason of a rejected promise', function()
    local ok, e = pcall(await, later_reject(2, { code = 'E_REJECTED' }))
    assert.is_false(ok)
    assert.are.equal('E_REJECTED', e.code)
  end)

  it('suspends until the promise settles while the loop keeps running', function()
    local ticks = 0
    local iv = setInterval(function() ticks = ticks + 1 end, 1)
    await(later(30))
    clearInterval(iv)
    assert.is_true(ticks >= 3, 'the interval ran ' .. ticks .. ' times')
  end)

  it('works inside a timer callback', function()
    local got = await(Promise.new(function(resolve)
      setTimeout(function()
        local v = await(later(2, 'inner'))
        resolve('callback saw ' .. v)
      end, 1)
    end))
    assert.are.equal('callback saw inner', got)
  end)

  it('works inside a promise handler', function()
    local p = Promise.resolve(1):next(function(v) return v + await(later(2, 10)) end)
    assert.are.equal(11, await(p))
  end)

  it('works inside an event listener', function()
    local e = require('events').new()
    local p = Promise.new(function(resolve)
      e:on('go', function(x) resolve(x .. await(later(2, '!'))) end)
    end)
    e:emit('go', 'went')
    assert.are.equal('went!', await(p))
  end)

  it('raises a clear error inside a coroutine.wrap coroutine', function()
    local ok, e = pcall(coroutine.wrap(function() return await(Promise.resolve(1)) end))
    assert.is_false(ok)
    assert.are.equal('ERR_AWAIT_OUTSIDE_COROUTINE', e.code)
    assert.matches('coroutine', e.message)
  end)

  it('still returns a plain value inside a coroutine.wrap coroutine', function()
    assert.are.equal(3, coroutine.wrap(function() return await(3) end)())
  end)
end)

describe('async', function()
  it('returns a function that returns a promise of fn\'s result', function()
    local add = async(function(a, b) return a + b end)
    local p = add(2, 3)
    assert.is_true(Promise.isPromise(p))
    assert.are.equal(5, await(p))
  end)

  it('rejects the promise with the error fn raises', function()
    local ok, e = outcome(async(function() error('inside async', 0) end)())
    assert.is_false(ok)
    assert.are.equal('inside async', e)
  end)

  it('rejects the promise when fn awaits a rejection it does not catch', function()
    local ok, e = outcome(async(function() await(later_reject(1, 'deep')) return 'no' end)())
    assert.is_false(ok)
    assert.are.equal('deep', e)
  end)

  it('runs fn at once, up to its first await', function()
    local log = {}
    local p = async(function()
      log[#log + 1] = 'start'
      await(later(1))
      log[#log + 1] = 'resumed'
    end)()
    log[#log + 1] = 'caller'
    await(p)
    assert.are.same({ 'start', 'caller', 'resumed' }, log)
  end)

  it('lets several async functions wait at the same time', function()
    local f = async(function(ms, v) return await(later(ms, v)) end)
    local t0 = process.hrtime()
    local r = await(Promise.all({ f(20, 'a'), f(20, 'b'), f(20, 'c') }))
    local el = process.hrtime(t0)
    assert.are.same({ 'a', 'b', 'c' }, { r[1], r[2], r[3] })
    assert.is_true(el[1] * 1e3 + el[2] / 1e6 < 59, 'they ran one after the other')
  end)

  it('refuses a non-function', function()
    local ok, e = pcall(async, 42)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)
end)

describe('queueMicrotask', function()
  it('runs the function after the current code, before timers', function()
    local r = child.run([[
      setTimeout(function() console.log('timeout') end, 0)
      queueMicrotask(function() console.log('microtask') end)
      console.log('sync')
    ]])
    assert.are.equal('sync\nmicrotask\ntimeout\n', r.out)
  end)

  it('reports a callback that overflows the stack or raises a table, and runs the next ones', function()
    local r = child.run([[
      process:on('uncaughtException', function(e)
        console.log(type(e) == 'string' and e:match('stack overflow') or e.code)
      end)
      queueMicrotask(function() local function f() return 1 + f() end f() end)
      queueMicrotask(function() error({ code = 'ERR_X' }) end)
      queueMicrotask(function() console.log('after') end)
    ]])
    assert.are.equal('stack overflow\nERR_X\nafter\n', r.out)
  end)
end)

describe('a rejection nobody handles', function()
  it('reaches uncaughtException as ERR_UNHANDLED_REJECTION when its reason is no error', function()
    local r = child.run([[
      process:on('uncaughtException', function(e, origin)
        console.log(e.code, origin)
        console.log(e.message)
      end)
      Promise.reject(nil)
      Promise.reject(42)
    ]])
    assert.are.equal(0, r.code, r.err)
    local because = 'This error originated either by throwing inside of an async function without a catch block, '
      .. 'or by rejecting a promise which was not handled with :catch(). The promise rejected with the reason '
    assert.are.equal('ERR_UNHANDLED_REJECTION unhandledRejection\n' .. because .. '"nil".\n'
      .. 'ERR_UNHANDLED_REJECTION unhandledRejection\n' .. because .. '"42".\n', r.out)
  end)

  it('reaches uncaughtException as it is when it is an error table or string', function()
    local r = child.run([[
      local err = { code = 'EMINE', message = 'mine' }
      process:on('uncaughtException', function(e) console.log(e == err or e) end)
      Promise.reject(err)
      Promise.reject('a string')
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('true\na string\n', r.out)
  end)

  it('still gives unhandledRejection listeners the reason itself', function()
    local r = child.run([[
      process:on('unhandledRejection', function(reason, p) console.log(reason, Promise.isPromise(p)) end)
      Promise.reject(nil)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('nil true\n', r.out)
  end)

  it('ends the process naming ERR_UNHANDLED_REJECTION when nobody listens', function()
    local r = child.run([[ Promise.reject(nil) ]])
    assert.are.equal(1, r.code)
    assert.matches('ERR_UNHANDLED_REJECTION: This error originated', r.err)
  end)
end)
