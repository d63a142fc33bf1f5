-- dns: lookups on the threadpool (API.md "dns").
local dns = require('dns')

local function lookup(...)
  local args = { n = select('#', ...), ... }
  return await(Promise.new(function(resolve)
    args.n = args.n + 1
    args[args.n] = function(err, a, b) resolve({ err = err, a = a, b = b }) end
    dns.lookup(unpack(args, 1, args.n))
  end))
end

describe('dns.lookup', function()
  it('resolves localhost to a loopback address', function()
    local r = lookup('localhost')
    assert.is_nil(r.err)
    assert.truthy(r.a == '127.0.0.1' or r.a == '::1', r.a)
    assert.are.equal(r.a:find(':') and 6 or 4, r.b)
  end)

  it('gives every address with all = true, and honours family', function()
    local r = lookup('localhost', { all = true })
    assert.is_nil(r.err)
    assert.is_true(#r.a >= 1)
    for _, e in ipairs(r.a) do assert.truthy(e.family == 4 or e.family == 6) end
    local v4 = lookup('localhost', 4)
    assert.are.same({ nil, '127.0.0.1', 4 }, { v4.err, v4.a, v4.b })
    local v4b = lookup('localhost', { family = 'IPv4' })
    assert.are.equal('127.0.0.1', v4b.a)
  end)

  it('answers address literals without a resolver', function()
    assert.are.same({ address = '::1', family = 6 }, await(dns.promises.lookup('::1')))
    assert.are.same({ address = '10.1.2.3', family = 4 }, await(dns.promises.lookup('10.1.2.3')))
    assert.are.same({ { address = '127.0.0.1', family = 4 } }, await(dns.promises.lookup('127.0.0.1', { all = true })))
  end)

  it('fails unknown names with ENOTFOUND, syscall and hostname', function()
    local r = lookup('no-such-host.invalid')
    assert.are.equal('ENOTFOUND', r.err.code)
    assert.are.equal('getaddrinfo', r.err.syscall)
    assert.are.equal('no-such-host.invalid', r.err.hostname)
    local ok, e = pcall(await, dns.promises.lookup('no-such-host.invalid', { all = true }))
    assert.is_false(ok)
    assert.are.equal('ENOTFOUND', e.code)
    assert.are.equal('getaddrinfo ENOTFOUND no-such-host.invalid', e.message)
  end)

  it('validates its arguments', function()
    local function code(fn, ...) local ok, e = pcall(fn, ...) assert.is_false(ok) return e.code end
    assert.are.equal('ERR_INVALID_ARG_TYPE', code(dns.lookup, 42, function() end))
    assert.are.equal('ERR_INVALID_ARG_TYPE', code(dns.lookup, 'localhost'))
    assert.are.equal('ERR_INVALID_ARG_VALUE', code(dns.lookup, 'localhost', 5, function() end))
  end)

  it('works in a worker thread', function()
    local Worker = require('worker_threads').Worker
    local got = await(Promise.new(function(resolve)
      local w = Worker([[
        local dns = require('dns')
        require('worker_threads').parentPort.postMessage(await(dns.promises.lookup('localhost', 4)).address)
      ]], { eval = true })
      w:on('message', resolve)
    end))
    assert.are.equal('127.0.0.1', got)
  end)

  it('tells IP literals apart (net.isIP)', function()
    assert.are.equal(4, dns.isIP('127.0.0.1'))
    assert.are.equal(6, dns.isIP('::ffff:1.2.3.4'))
    assert.are.equal(0, dns.isIP('1.2.3'))
    assert.are.equal(0, dns.isIP('example.com'))
  end)
end)
