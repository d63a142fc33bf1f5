-- EventEmitter's promise and async sides ported from Node's test/parallel:
-- events.once, events.on, captureRejections, subclasses and
-- process.emitWarning (API.md "events").  Each describe names the Node test
-- it follows.
local EventEmitter = require('events')
local child = require('helpers.child')

-- Run a script in a new luster process (killed after 10 s).
local function script(src) return child.run(src, { timeout = 10 }) end

local function raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, 'expected an error')
  return err
end

local function noop() end

describe('events.once (test-events-once)', function()
  it('fulfils with the arguments of the next emit and leaves no listener behind', function()
    local e = EventEmitter()
    process.nextTick(function() e:emit('myevent', 42, 24) end)
    local args = await(EventEmitter.once(e, 'myevent'))
    assert.are.same({ n = 2, 42, 24 }, args)
    assert.are.equal(0, e:listenerCount('error'))
    assert.are.equal(0, e:listenerCount('myevent'))
  end)

  it('rejects with an error emitted first, and stops listening', function()
    local e = EventEmitter()
    local expected = { message = 'kaboom' }
    process.nextTick(function()
      e:emit('error', expected)
      e:emit('myevent', 42, 24)
    end)
    local ok, err = pcall(await, EventEmitter.once(e, 'myevent'))
    assert.is_false(ok)
    assert.are.equal(expected, err)
    assert.are.equal(0, e:listenerCount('error'))
    assert.are.equal(0, e:listenerCount('myevent'))
  end)

  it('fulfils with the error when waiting for error itself', function()
    local e = EventEmitter()
    local expected = { message = 'kaboom' }
    process.nextTick(function() e:emit('error', expected) end)
    local p = EventEmitter.once(e, 'error')
    assert.are.equal(1, e:listenerCount('error'))
    assert.are.equal(expected, await(p)[1])
    assert.are.equal(0, e:listenerCount('error'))
  end)

  it('rejects bad options and non-emitters with ERR_INVALID_ARG_TYPE', function()
    local e = EventEmitter()
    for _, bad in ipairs({ 1, 'hi', false }) do
      local ok, err = pcall(await, EventEmitter.once(e, 'myevent', bad))
      assert.is_false(ok)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
    end
    local ok, err = pcall(await, EventEmitter.once({}, 'myevent'))
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
  end)

  it('is still the method on an emitter', function()
    local e, got = EventEmitter(), nil
    e:once('x', function(v) got = v end)
    e:emit('x', 1)
    e:emit('x', 2)
    assert.are.equal(1, got)
  end)
end)

describe('classes (test-event-emitter-subclass)', function()
  it('inherit through extend and through __index = EventEmitter alike', function()
    local A = EventEmitter.extend({})
    local B = setmetatable({}, { __index = EventEmitter })
    B.__index = B
    for _, class in ipairs({ A, B }) do
      local obj, log = setmetatable({}, class), {}
      obj:once('x', function(v) log[#log + 1] = 'once ' .. v end)
      obj:on('x', function(v) log[#log + 1] = 'on ' .. v end)
      obj:emit('x', 1)
      obj:emit('x', 2)
      assert.are.same({ 'once 1', 'on 1', 'on 2' }, log)
      obj:setMaxListeners(3)
      assert.are.equal(3, obj:getMaxListeners())
    end
  end)

  it('keeps the methods on EventEmitter.prototype', function()
    assert.are.equal('function', type(EventEmitter.prototype.emit))
    assert.are.equal(EventEmitter.prototype.on, EventEmitter().on)
  end)
end)

describe('events.on (test-events-on-async-iterator)', function()
  it('gives every later event in order, keeping those nobody took yet', function()
    local e = EventEmitter()
    local it_ = EventEmitter.on(e, 'foo')
    e:emit('foo', 'bar')
    e:emit('foo', 42, nil)
    process.nextTick(function() e:emit('foo', 'later') end)
    local seen = {}
    for args, first in it_ do
      seen[#seen + 1] = args
      assert.are.equal(args[1], first)
      if first == 'later' then break end
    end
    it_:close()
    assert.are.same({ { n = 1, 'bar' }, { n = 2, 42, nil }, { n = 1, 'later' } }, seen)
    assert.are.equal(0, e:listenerCount('foo'))
    assert.are.equal(0, e:listenerCount('error'))
  end)

  it('raises an error event after the kept events, and stops listening', function()
    local e = EventEmitter()
    local it_ = EventEmitter.on(e, 'foo')
    e:emit('foo', 1)
    e:emit('error', 'boom')
    local seen = {}
    local ok, err = pcall(function() for _, v in it_ do seen[#seen + 1] = v end end)
    assert.is_false(ok)
    assert.are.equal('boom', err)
    assert.are.same({ 1 }, seen)
    assert.are.equal(0, e:listenerCount('foo'))
    assert.are.equal(0, e:listenerCount('error'))
    assert.are.same({ done = true }, await(it_:next()))
  end)

  it('rejects a waiting next() with an error event', function()
    local e = EventEmitter()
    local it_ = EventEmitter.on(e, 'foo')
    process.nextTick(function() e:emit('error', 'kaboom') end)
    local ok, err = pcall(await, it_:next())
    assert.is_false(ok)
    assert.are.equal('kaboom', err)
  end)

  it('ends quietly on one of its close events', function()
    local e = EventEmitter()
    local it_ = EventEmitter.on(e, 'data', { close = { 'end' } })
    process.nextTick(function() e:emit('data', 'a') e:emit('end') end)
    local seen = {}
    for _, v in it_ do seen[#seen + 1] = v end
    assert.are.same({ 'a' }, seen)
    assert.are.equal(0, e:listenerCount('end'))
  end)

  it('answers pending next() calls with done when closed', function()
    local e = EventEmitter()
    local it_ = EventEmitter.on(e, 'foo')
    local p = it_:next()
    it_:close()
    assert.are.same({ done = true }, await(p))
    assert.are.equal(0, e:listenerCount('foo'))
  end)

  it('refuses what is not an emitter', function()
    assert.are.equal('ERR_INVALID_ARG_TYPE', raised(EventEmitter.on, {}, 'foo').code)
  end)
end)

describe('captureRejections (test-event-capture-rejections)', function()
  it('sends an error raised after the listener suspended to the error event', function()
    local e, got = EventEmitter({ captureRejections = true }), nil
    local done = Promise.new(function(resolve) e:on('error', function(err) got = err; resolve() end) end)
    e:on('something', function(v)
      await(Promise.resolve())
      error({ message = 'kaboom', value = v })
    end)
    e:emit('something', 42)
    await(done)
    assert.are.same({ message = 'kaboom', value = 42 }, got)
  end)

  it('sends the rejection of a promise a listener returns to the error event', function()
    local e, got = EventEmitter({ captureRejections = true }), nil
    local done = Promise.new(function(resolve) e:on('error', function(err) got = err; resolve() end) end)
    e:once('something', function() return Promise.reject('rejected') end)
    e:emit('something')
    await(done)
    assert.are.equal('rejected', got)
  end)

  it('calls the captureRejectionSymbol method instead, with the event and its arguments', function()
    local e, got = EventEmitter({ captureRejections = true }), nil
    local done = Promise.new(function(resolve)
      e[EventEmitter.captureRejectionSymbol] = function(self, err, name, a)
        got = { self == e, err, name, a }
        resolve()
      end
    end)
    e:on('something', function() await(Promise.resolve()) error('late', 0) end)
    e:emit('something', 'arg')
    await(done)
    assert.are.same({ true, 'late', 'something', 'arg' }, got)
  end)

  it('still raises an error from before the first suspension to the caller of emit', function()
    local e = EventEmitter({ captureRejections = true })
    e:on('something', function() error('sync', 0) end)
    assert.are.equal('sync', raised(e.emit, e, 'something'))
  end)

  it('keeps listeners() and removeListener working on the listener\'s own function', function()
    local e = EventEmitter({ captureRejections = true })
    local f = function() end
    e:on('x', f)
    assert.are.same({ f }, e:listeners('x'))
    assert.are.same({ f }, e:rawListeners('x'))
    e:off('x', f)
    assert.are.equal(0, e:listenerCount('x'))
  end)

  it('can be the default for every emitter with EventEmitter.captureRejections', function()
    local r = script([[
      local EventEmitter = require('events')
      console.log(EventEmitter.captureRejections)
      EventEmitter.captureRejections = true
      local e = EventEmitter()
      e:on('error', function(err) console.log('error event', err) end)
      e:on('x', function() await(Promise.resolve()) error('late', 0) end)
      e:emit('x')
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('false\nerror event late\n', r.out)
  end)

  it('must be a boolean', function()
    for _, bad in ipairs({ 1, {}, 'meow', noop }) do
      assert.are.equal('ERR_INVALID_ARG_TYPE', raised(EventEmitter, { captureRejections = bad }).code)
      local err = raised(function() EventEmitter.captureRejections = bad end)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
      assert.matches('The "EventEmitter.captureRejections" property must be of type boolean', err.message)
    end
    assert.is_false(EventEmitter.captureRejections)
  end)

  it('is off by default: such an error is uncaught', function()
    local r = script([[
      local e = require('events')()
      e:on('error', function() console.log('error event') end)
      e:on('x', function() await(Promise.resolve()) error('late', 0) end)
      e:emit('x')
    ]])
    assert.are.equal(1, r.code)
    assert.matches('late', r.err)
    assert.are.equal('', r.out)
  end)
end)

describe('process.emitWarning (test-process-emitwarning)', function()
  it('delivers a warning on the next tick to warning listeners and prints it', function()
    local r = script([[
      process:on('warning', function(w) console.log(w.name, w.message, w.code) end)
      process.emitWarning('something happened', 'CustomWarning', 'WARN001')
      process.emitWarning('plain')
      process:emitWarning('with options', { type = 'OptWarning', code = 'C2', detail = 'more here' })
      console.log('sync')
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('sync\nCustomWarning something happened WARN001\nWarning plain nil\n'
      .. 'OptWarning with options C2\n', r.out)
    assert.matches('%(luster:%d+%) %[WARN001%] CustomWarning: something happened\n', r.err)
    assert.matches('%(luster:%d+%) Warning: plain\n', r.err)
    assert.matches('OptWarning: with options\nmore here\n', r.err)
  end)

  it('refuses a warning that is neither a string nor a table', function()
    local ok, err = pcall(process.emitWarning, 42)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
  end)
end)
