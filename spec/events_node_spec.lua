-- EventEmitter behaviours ported from Node's test/parallel/test-event-emitter-*
-- (API.md "events").  Each describe names the Node test it follows; the
-- promise and async sides are in events_node_async_spec.lua.
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

describe('newListener (test-event-emitter-add-listeners)', function()
  it('is told the event and the function before the listener is added', function()
    local e, seen = EventEmitter(), {}
    local hello = function() end
    e:on('newListener', function(name, fn)
      if name == 'newListener' then return end
      seen[#seen + 1] = { name = name, fn = fn, before = #e:listeners(name) }
    end)
    e:on('hello', hello)
    assert.are.equal('hello', seen[1].name)
    assert.are.equal(hello, seen[1].fn)
    assert.are.equal(0, seen[1].before)
  end)

  it('gets the function passed to once, not a wrapper', function()
    local e, got = EventEmitter(), nil
    local f = function() end
    e:on('newListener', function(_, fn) got = fn end)
    e:once('foo', f)
    assert.are.equal(f, got)
    e:prependOnceListener('bar', f)
    assert.are.equal(f, got)
  end)

  it('puts a listener added from newListener before the one being added', function()
    local e = EventEmitter()
    local listen1, listen2 = function() end, function() end
    e:once('newListener', function()
      assert.are.same({}, e:listeners('hello'))
      e:on('hello', listen2)
    end)
    e:on('hello', listen1)
    assert.are.same({ listen2, listen1 }, e:listeners('hello'))
  end)

  it('is not told about itself being added', function()
    local e, n = EventEmitter(), 0
    e:on('newListener', function() n = n + 1 end)
    assert.are.equal(0, n)
    e:on('newListener', noop)
    assert.are.equal(1, n)
  end)
end)

describe('invalid listeners (test-event-emitter-invalid-listener)', function()
  for _, method in ipairs({ 'on', 'addListener', 'once', 'prependListener', 'prependOnceListener',
                            'removeListener', 'off' }) do
    it(method .. ' raises ERR_INVALID_ARG_TYPE for a listener that is not a function', function()
      local e = EventEmitter()
      for _, bad in ipairs({ 'str', 42, {}, true }) do
        assert.are.equal('ERR_INVALID_ARG_TYPE', raised(e[method], e, 'foo', bad).code)
      end
      local err = raised(e[method], e, 'foo', nil)
      assert.are.equal('ERR_INVALID_ARG_TYPE', err.code)
      assert.are.equal('The "listener" argument must be of type function. Received nil', err.message)
    end)
  end
end)

describe('removeListener (test-event-emitter-remove-listeners)', function()
  local function listener1() end
  local function listener2() end

  it('tells removeListener listeners the event and the function', function()
    local e, got = EventEmitter(), nil
    e:on('hello', listener1)
    e:on('removeListener', function(name, fn) got = { name, fn } end)
    e:removeListener('hello', listener1)
    assert.are.same({ 'hello', listener1 }, got)
    assert.are.same({}, e:listeners('hello'))
  end)

  it('says nothing when the function was not a listener', function()
    local e, n = EventEmitter(), 0
    e:on('hello', listener1)
    e:on('removeListener', function() n = n + 1 end)
    e:removeListener('hello', listener2)
    assert.are.equal(0, n)
    assert.are.same({ listener1 }, e:listeners('hello'))
  end)

  it('is told after the listener is gone', function()
    local e, during = EventEmitter(), nil
    e:on('hello', listener1)
    e:on('hello', listener2)
    e:once('removeListener', function() during = e:listeners('hello') end)
    e:removeListener('hello', listener1)
    assert.are.same({ listener2 }, during)
  end)

  it('gives the user function when a once listener removes itself', function()
    local e, got = EventEmitter(), nil
    e:once('hello', listener1)
    e:on('removeListener', function(name, fn) got = { name, fn } end)
    e:emit('hello')
    assert.are.same({ 'hello', listener1 }, got)
  end)

  it('gives the user function when a once listener is removed by it', function()
    local e, got = EventEmitter(), nil
    e:once('hello', listener1)
    e:on('removeListener', function(_, fn) got = fn end)
    e:off('hello', listener1)
    assert.are.equal(listener1, got)
    assert.are.equal(0, e:listenerCount('hello'))
  end)

  it('can remove and emit from inside a removeListener listener', function()
    local e, calls = EventEmitter(), 0
    local function remove1() error('remove1 should not run') end
    local function remove2() error('remove2 should not run') end
    e:on('removeListener', function(_, fn)
      calls = calls + 1
      if fn ~= remove1 then return end
      e:removeListener('quux', remove2)
      e:emit('quux')
    end)
    e:on('quux', remove1)
    e:on('quux', remove2)
    e:removeListener('quux', remove1)
    assert.are.equal(2, calls)
  end)

  it('still calls a listener removed by an earlier one in the same emit, not in the next', function()
    local e, n3, n4 = EventEmitter(), 0, 0
    local function listener4() n4 = n4 + 1 end
    e:on('hello', function() n3 = n3 + 1; e:removeListener('hello', listener4) end)
    e:on('hello', listener4)
    e:emit('hello')
    e:emit('hello')
    assert.are.equal(2, n3)
    assert.are.equal(1, n4)
  end)

  it('returns the emitter, also for an unknown event', function()
    local e = EventEmitter()
    assert.are.equal(e, e:removeListener('foo', noop))
  end)

  it('keeps a single remaining listener as the plain function', function()
    local e = EventEmitter()
    e:on('foo', listener1)
    e:on('foo', listener2)
    e:removeListener('foo', listener1)
    assert.are.equal(listener2, e._events.foo)
    e:on('foo', listener1)
    assert.are.same({ listener2, listener1 }, e:listeners('foo'))
  end)
end)

describe('removeAllListeners (test-event-emitter-remove-all-listeners)', function()
  it('announces each removed listener and leaves earlier listeners() lists alone', function()
    local e, heard = EventEmitter(), {}
    e:on('foo', noop)
    e:on('bar', noop)
    e:on('baz', noop)
    e:on('baz', noop)
    local foo, bar, baz = e:listeners('foo'), e:listeners('bar'), e:listeners('baz')
    e:on('removeListener', function(name) heard[#heard + 1] = name end)
    e:removeAllListeners('bar')
    e:removeAllListeners('baz')
    assert.are.same({ 'bar', 'baz', 'baz' }, heard)
    assert.are.same({ noop }, e:listeners('foo'))
    assert.are.same({}, e:listeners('bar'))
    assert.are.same({ noop }, foo)
    assert.are.same({ noop }, bar)
    assert.are.same({ noop, noop }, baz)
  end)

  it('removes removeListener listeners last, the most recent first', function()
    local e, first, second = EventEmitter(), {}, {}
    e:on('foo', noop)
    e:on('bar', noop)
    e:on('removeListener', function(name) first[#first + 1] = name end)
    e:on('removeListener', function(name) second[#second + 1] = name end)
    e:removeAllListeners()
    assert.are.same({ 'foo', 'bar', 'removeListener' }, first)
    assert.are.same({ 'foo', 'bar' }, second)
    assert.are.same({}, e:eventNames())
  end)

  it('removes them one at a time', function()
    local e, counts = EventEmitter(), {}
    e:on('removeListener', function() counts[#counts + 1] = #e:listeners('baz') end)
    e:on('baz', noop)
    e:on('baz', noop)
    e:on('baz', noop)
    e:removeAllListeners('baz')
    assert.are.same({ 2, 1, 0 }, counts)
  end)

  it('announces listeners of any kind of event name, and the original of a once listener', function()
    local e, got = EventEmitter(), {}
    local key = {}
    local f = function() end
    e:on(key, noop)
    e:once(42, f)
    e:on('removeListener', function(name, fn) got[#got + 1] = { name, fn } end)
    e:removeAllListeners()
    assert.are.same({ { key, noop }, { 42, f } }, got)
  end)

  it('returns the emitter, with or without listeners', function()
    local e = EventEmitter()
    assert.are.equal(e, e:removeAllListeners())
    e:on('x', noop)
    assert.are.equal(e, e:removeAllListeners('x'))
    assert.are.equal(e, e:removeAllListeners('never'))
  end)
end)

describe('listeners and rawListeners (test-event-emitter-listeners)', function()
  local function listener() end
  local function listener2() end

  it('returns a copy that later changes do not touch, and that does not touch the emitter', function()
    local e = EventEmitter()
    e:on('foo', listener)
    local copy = e:listeners('foo')
    e:on('foo', listener2)
    copy[#copy + 1] = listener2
    assert.are.same({ listener, listener2 }, e:listeners('foo'))
    e:removeAllListeners('foo')
    assert.are.same({ listener, listener2 }, copy)
    assert.are.same({}, e:listeners('foo'))
  end)

  it('lists once listeners as their own functions', function()
    local e = EventEmitter()
    e:on('foo', listener)
    e:once('foo', listener2)
    assert.are.same({ listener, listener2 }, e:listeners('foo'))
  end)

  it('gives once listeners as wrappers with .listener in rawListeners', function()
    local e = EventEmitter()
    e:on('foo', listener)
    local raw = e:rawListeners('foo')
    assert.are.equal(1, #raw)
    assert.are.equal(listener, raw[1])
    assert.are_not.equal(raw, e:rawListeners('foo'))
    e:once('foo', listener)
    raw = e:rawListeners('foo')
    assert.are.equal(2, #raw)
    assert.are.equal(listener, raw[1])
    assert.are_not.equal(listener, raw[2])
    assert.are.equal(listener, raw[2].listener)
    e:emit('foo')
    assert.are.equal(2, #raw)
    assert.are.equal(listener, raw[2].listener)
  end)

  it('lets a raw once wrapper be called: it removes itself and returns what the listener returns', function()
    local e = EventEmitter()
    e:once('foo', function() return 0 end)
    e:on('foo', function() return 1 end)
    local raw = e:rawListeners('foo')
    assert.are.equal(0, raw[1]())
    raw = e:rawListeners('foo')
    assert.are.equal(1, #raw)
    assert.are.equal(1, raw[1]())
  end)

  it('removes a once listener given its raw wrapper', function()
    local e = EventEmitter()
    e:once('foo', listener)
    e:removeListener('foo', e:rawListeners('foo')[1])
    assert.are.equal(0, e:listenerCount('foo'))
  end)

  it('is empty for an event nobody listens to, also on a subclass', function()
    local Sub = EventEmitter.extend({})
    assert.are.same({}, setmetatable({}, Sub):listeners('foo'))
    assert.are.same({}, EventEmitter():rawListeners('foo'))
  end)
end)

describe('listenerCount (test-event-emitter-listener-count)', function()
  it('counts per event, for any kind of name, as a method and as events.listenerCount', function()
    local e = EventEmitter()
    e:on('foo', noop)
    e:on('foo', function() end)
    e:on('baz', noop)
    e:on(123, noop)
    assert.are.equal(2, EventEmitter.listenerCount(e, 'foo'))
    assert.are.equal(2, e:listenerCount('foo'))
    assert.are.equal(0, e:listenerCount('bar'))
    assert.are.equal(1, e:listenerCount('baz'))
    assert.are.equal(1, e:listenerCount(123))
  end)

  it('counts one function only when given it, once listeners included', function()
    local e = EventEmitter()
    local f = function() end
    e:on('foo', noop)
    e:on('foo', f)
    e:once('foo', f)
    assert.are.equal(2, e:listenerCount('foo', f))
    assert.are.equal(1, e:listenerCount('foo', noop))
  end)
end)

describe('changing listeners during an emit (test-event-emitter-modify-in-emit)', function()
  it('applies additions and removals from the next emit on', function()
    local e, called = EventEmitter(), {}
    local callback2, callback3
    local function callback1()
      called[#called + 1] = 'callback1'
      e:on('foo', callback2)
      e:on('foo', callback3)
      e:removeListener('foo', callback1)
    end
    function callback2() called[#called + 1] = 'callback2'; e:removeListener('foo', callback2) end
    function callback3() called[#called + 1] = 'callback3'; e:removeListener('foo', callback3) end
    e:on('foo', callback1)
    e:emit('foo')
    assert.are.equal(2, #e:listeners('foo'))
    assert.are.same({ 'callback1' }, called)
    e:emit('foo')
    assert.are.equal(0, #e:listeners('foo'))
    assert.are.same({ 'callback1', 'callback2', 'callback3' }, called)
    e:emit('foo')
    assert.are.same({ 'callback1', 'callback2', 'callback3' }, called)
  end)

  it('does not call a listener prepended during the emit', function()
    local e, log = EventEmitter(), {}
    e:on('x', function() log[#log + 1] = 'a'; e:prependListener('x', function() log[#log + 1] = 'p' end) end)
    e:on('x', function() log[#log + 1] = 'b' end)
    e:emit('x')
    assert.are.same({ 'a', 'b' }, log)
    e:emit('x')
    assert.are.same({ 'a', 'b', 'p', 'a', 'b' }, log)
  end)

  it('lets every remaining listener run when each removes itself', function()
    local e, called = EventEmitter(), {}
    local a, b
    function a() called[#called + 1] = 'a'; e:off('foo', a) end
    function b() called[#called + 1] = 'b'; e:off('foo', b) end
    e:on('foo', a)
    e:on('foo', b)
    e:emit('foo')
    assert.are.same({ 'a', 'b' }, called)
    assert.are.equal(0, e:listenerCount('foo'))
  end)
end)

describe('prependListener and prependOnceListener (test-event-emitter-prepend)', function()
  it('run before the listeners already there, the once one only once', function()
    local e, log = EventEmitter(), {}
    e:on('foo', function() log[#log + 1] = 'last' end)
    e:prependListener('foo', function() log[#log + 1] = 'second' end)
    e:prependOnceListener('foo', function() log[#log + 1] = 'first' end)
    e:emit('foo')
    e:emit('foo')
    assert.are.same({ 'first', 'second', 'last', 'second', 'last' }, log)
  end)
end)

describe('once (test-event-emitter-once)', function()
  it('calls the listener for one emit only, removed before it runs', function()
    local e, n, count_inside = EventEmitter(), 0, nil
    e:once('hello', function() n = n + 1; count_inside = e:listenerCount('hello') end)
    for _ = 1, 4 do e:emit('hello', 'a', 'b') end
    assert.are.equal(1, n)
    assert.are.equal(0, count_inside)
  end)

  it('can be removed before it fires', function()
    local e = EventEmitter()
    local function remove() error('once->foo should not be emitted') end
    e:once('foo', remove)
    e:removeListener('foo', remove)
    assert.is_false(e:emit('foo'))
  end)

  it('calls each once listener once even when the first re-emits', function()
    local e, a, b = EventEmitter(), 0, 0
    e:once('e', function() a = a + 1; e:emit('e') end)
    e:once('e', function() b = b + 1 end)
    e:emit('e')
    assert.are.equal(1, a)
    assert.are.equal(1, b)
  end)

  it('passes every argument, nils included (test-event-emitter-num-args)', function()
    local e, got = EventEmitter(), nil
    e:once('x', function(...) got = { n = select('#', ...), ... } end)
    e:emit('x', nil, 2, nil)
    assert.are.same({ n = 3, nil, 2, nil }, got)
  end)
end)

describe('eventNames (test-event-emitter-special-event-names, -symbols)', function()
  it('lists names in the order they were first added', function()
    local e = EventEmitter()
    assert.are.same({}, e:eventNames())
    e:on('__index', noop)
    e:on('_events', noop)
    e:on('toString', noop)
    e:on('__index', noop)
    assert.are.same({ '__index', '_events', 'toString' }, e:eventNames())
  end)

  it('moves a name that lost all its listeners and came back to the end', function()
    local e = EventEmitter()
    e:on('a', noop)
    e:on('b', noop)
    e:off('a', noop)
    e:on('a', noop)
    e:on('c', noop)
    assert.are.same({ 'b', 'a', 'c' }, e:eventNames())
  end)

  it('takes names that look like metamethods or internals', function()
    local e, got = EventEmitter(), nil
    e:on('__index', function(v) got = v end)
    e:emit('__index', 1)
    assert.are.equal(1, got)
    assert.are.same({ noop }, (e:on('__newindex', noop)):listeners('__newindex'))
  end)

  it('takes tables as names, like symbols', function()
    local e, sym, got = EventEmitter(), setmetatable({}, { __tostring = function() return 'sym' end }), nil
    e:on(sym, function(v) got = v end)
    assert.is_true(e:emit(sym, 'x'))
    assert.are.equal('x', got)
    assert.are.same({ sym }, e:eventNames())
  end)
end)

describe('max listeners (test-event-emitter-max-listeners, -get-max-listeners)', function()
  it('defaults to events.defaultMaxListeners, 10', function()
    assert.are.equal(10, EventEmitter.defaultMaxListeners)
    local e = EventEmitter()
    assert.are.equal(10, e:getMaxListeners())
    assert.are.equal(e, e:setMaxListeners(0))
    assert.are.equal(0, e:getMaxListeners())
    e:setMaxListeners(3)
    assert.are.equal(3, e:getMaxListeners())
    assert.are.equal(3, EventEmitter.getMaxListeners(e))
  end)

  it('refuses NaN and negative numbers with ERR_OUT_OF_RANGE, others with ERR_INVALID_ARG_TYPE', function()
    local e = EventEmitter()
    for _, bad in ipairs({ 0 / 0, -1 }) do
      assert.are.equal('ERR_OUT_OF_RANGE', raised(e.setMaxListeners, e, bad).code)
      assert.are.equal('ERR_OUT_OF_RANGE', raised(function() EventEmitter.defaultMaxListeners = bad end).code)
      assert.are.equal('ERR_OUT_OF_RANGE', raised(EventEmitter.setMaxListeners, bad).code)
    end
    assert.are.equal('ERR_INVALID_ARG_TYPE', raised(e.setMaxListeners, e, 'and even this').code)
    assert.are.equal('ERR_INVALID_ARG_TYPE', raised(function() EventEmitter.defaultMaxListeners = 'x' end).code)
    assert.are.equal('ERR_INVALID_ARG_TYPE', raised(EventEmitter.setMaxListeners, 10, 'INVALID_EMITTER').code)
    assert.are.equal(10, EventEmitter.defaultMaxListeners)
  end)

  it('does not treat a maxListeners event specially', function()
    local e, n = EventEmitter(), 0
    e:on('maxListeners', function() n = n + 1 end)
    e:setMaxListeners(42)
    e:emit('maxListeners')
    assert.are.equal(1, n)
  end)

  it('sets several emitters at once with events.setMaxListeners(n, ...)', function()
    local a, b = EventEmitter(), EventEmitter()
    EventEmitter.setMaxListeners(2, a, b)
    assert.are.equal(2, a:getMaxListeners())
    assert.are.equal(2, b:getMaxListeners())
  end)
end)

describe('the leak warning (test-event-emitter-check-listener-leaks, -max-listeners-warning)', function()
  it('is emitted once per event, as process warning and on stderr', function()
    local r = script([[
      local EventEmitter = require('events')
      local e = EventEmitter()
      e:setMaxListeners(1)
      process:on('warning', function(w)
        console.log(w.name, w.count, w.type, w.emitter == e)
        console.log(w.message)
      end)
      e:on('event-type', function() end)
      e:on('event-type', function() end)
      e:on('event-type', function() end)
      console.log('sync done')
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('sync done\nMaxListenersExceededWarning 2 event-type true\n'
      .. 'Possible EventEmitter memory leak detected. 2 event-type listeners added to [EventEmitter]. '
      .. 'MaxListeners is 1. Use emitter:setMaxListeners() to increase limit\n', r.out)
    local _, n = r.err:gsub('MaxListenersExceededWarning', '')
    assert.are.equal(1, n, r.err)
    assert.matches('%(luster:%d+%) MaxListenersExceededWarning: Possible EventEmitter memory leak detected', r.err)
  end)

  it('follows the default, an emitter limit over it, and 0 as no limit', function()
    local r = script([[
      local EventEmitter = require('events')
      process:on('warning', function(w) console.log(w.type, w.count) end)
      local function add(e, name, n) for _ = 1, n do e:on(name, function() end) end end
      local e = EventEmitter()
      add(e, 'default', 10)
      console.log('10 listeners: quiet')
      add(e, 'default', 1)
      e:setMaxListeners(0)
      add(e, 'unlimited', 1000)
      EventEmitter.defaultMaxListeners = 42
      local f = EventEmitter()
      add(f, 'fortytwo', 43)
      local g = EventEmitter()
      g:setMaxListeners(1)
      add(g, 'uno', 2)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('10 listeners: quiet\ndefault 11\nfortytwo 43\nuno 2\n', r.out)
  end)
end)

describe('the error event (test-event-emitter-errors, -no-error-provided-to-error-event)', function()
  it('raises an error table as it is', function()
    local e = EventEmitter()
    local boom = setmetatable({ message = 'boom' }, { __tostring = function() return 'boom' end })
    assert.are.equal(boom, raised(e.emit, e, 'error', boom))
  end)

  it('wraps a value that is no error in ERR_UNHANDLED_ERROR naming it', function()
    local e = EventEmitter()
    local cases = { { nil, 'Unhandled error. (nil)' }, { false, 'Unhandled error. (false)' },
                    { 42, 'Unhandled error. (42)' }, { true, 'Unhandled error. (true)' } }
    for _, case in ipairs(cases) do
      local err = raised(e.emit, e, 'error', case[1])
      assert.are.equal('ERR_UNHANDLED_ERROR', err.code)
      assert.are.equal(case[2], err.message)
      assert.are.equal(case[1], err.context)
    end
    assert.are.equal('Unhandled error. (nil)', raised(e.emit, e, 'error').message)
  end)

  it('ends the process with it when nobody handles it', function()
    local r = script([[
      local e = require('events')()
      setTimeout(function() e:emit('error', 42) end, 1)
    ]])
    assert.are.equal(1, r.code)
    assert.matches('ERR_UNHANDLED_ERROR: Unhandled error. %(42%)', r.err)
  end)
end)

describe('errorMonitor (test-event-emitter-error-monitor)', function()
  it('sees every error before the error listeners, even when none listens', function()
    local e, seen = EventEmitter(), {}
    local err = { message = 'MyError' }
    e:on(EventEmitter.errorMonitor, function(x) seen[#seen + 1] = x end)
    assert.are.equal(err, raised(e.emit, e, 'error', err))
    local handled
    e:once('error', function(x) handled = x; seen[#seen + 1] = 'listener' end)
    e:emit('error', err)
    assert.are.same({ err, err, 'listener' }, seen)
    assert.are.equal(err, handled)
  end)

  it('sees the error that makes events.once reject', function()
    local e, seen = EventEmitter(), nil
    local err = { message = 'MyError' }
    e:on(EventEmitter.errorMonitor, function(x) seen = x end)
    process.nextTick(function() e:emit('error', err) end)
    local ok, got = pcall(await, EventEmitter.once(e, 'notTriggered'))
    assert.is_false(ok)
    assert.are.equal(err, got)
    assert.are.equal(err, seen)
  end)

  it('is not called for other events', function()
    local e, n = EventEmitter(), 0
    e:on(EventEmitter.errorMonitor, function() n = n + 1 end)
    e:on('aEvent', noop)
    e:emit('aEvent')
    assert.are.equal(0, n)
  end)
end)
