-- Error values that fight back (API.md "Conventions", issue 8): a "strict"
-- table whose __index raises on a missing key, a __tostring that raises or
-- returns no string.  Reporting such an error must never become a second,
-- fatal error: the report names the value, the process ends the normal way
-- (or the handler's caller carries on), and listeners get the value itself.
local errors = require('luster.errors')
local child = require('helpers.child')
local H = require('helpers.http')

local function strict(t)
  return setmetatable(t or {}, { __index = function(_, k) error('strict: no field ' .. tostring(k), 2) end })
end
local function loud_tostring()
  return setmetatable({}, { __tostring = function() error('tostring refused') end })
end

-- Lua source that defines the same hostile values in a child process.
local HOSTILE = [[
local function strict(t)
  return setmetatable(t or {}, { __index = function(_, k) error('strict: no field ' .. tostring(k), 2) end })
end
local function loud_tostring()
  return setmetatable({}, { __tostring = function() error('tostring refused') end })
end
]]

describe('errors.describe', function()
  it('names a strict table whose __index raises on the missing stack field', function()
    local s = errors.describe(strict())
    assert.matches('^table: 0x%x+', s)
    assert.matches('strict: no field stack', s, 1, true)
  end)

  it('names a table whose __tostring raises, with the traceback it was given', function()
    local s = errors.describe(loud_tostring(), 'stack traceback:\n\there')
    assert.matches('^table: 0x%x+ %(could not be printed: .*tostring refused%)', s)
    assert.matches('stack traceback:\n\there$', s)
  end)

  it('names a value whose __tostring returns no string', function()
    local v = setmetatable({}, { __tostring = function() return {} end })
    assert.matches('^table: 0x%x+', errors.describe(v))
  end)

  it('copes with a protected metatable that is not a table', function()
    local v = setmetatable({}, { __metatable = 42, __index = function() error('no') end })
    assert.matches('^table: 0x%x+', errors.describe(v))
  end)

  it('still uses a strict table\'s own stack field', function()
    assert.are.equal('E: boom\ntrace', errors.describe(strict({ stack = 'E: boom\ntrace' })))
  end)

  it('marks a hostile unhandled rejection as one', function()
    assert.matches('^Uncaught %(in promise%) table: 0x', errors.describe(loud_tostring(), nil, 'unhandledRejection'))
  end)

  it('has a tostring that never raises', function()
    assert.matches('^table: 0x%x+$', errors.tostring(loud_tostring()))
    assert.are.equal('42', errors.tostring(42))
  end)
end)

describe('an uncaught hostile error', function()
  it('at top level prints its name and exits with 1, not a crash in the reporter', function()
    local r = child.run(HOSTILE .. 'error(strict())')
    assert.are.equal(1, r.code)
    assert.matches('table: 0x%x+ %(could not be printed: .*strict: no field stack%)', r.err)
    assert.not_matches('fatal', r.err)
  end)

  it('in a timer callback prints its name and exits with 1', function()
    local r = child.run(HOSTILE .. 'setTimeout(function() error(loud_tostring()) end, 1)')
    assert.are.equal(1, r.code)
    assert.matches('could not be printed: .*tostring refused', r.err)
    assert.not_matches('fatal', r.err)
  end)

  it('reaches an uncaughtException listener as the value itself', function()
    local r = child.run(HOSTILE .. [[
      process.on('uncaughtException', function(e) console.log('caught', rawget(e, 'id')) end)
      setTimeout(function() error(strict({ id = 7 })) end, 1)
      setTimeout(function() console.log('still running') end, 20)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('caught 7\nstill running\n', r.out)
  end)

  it("raised by an 'exit' listener prints its name and exits with 1", function()
    local r = child.run(HOSTILE .. [[process.on('exit', function() error(strict()) end)]])
    assert.are.equal(1, r.code)
    assert.matches('table: 0x%x+ %(could not be printed', r.err)
    assert.not_matches('fatal', r.err)
  end)

  it("raised again by an uncaughtException listener prints its name and exits with 1", function()
    local r = child.run(HOSTILE .. [[
      process.on('uncaughtException', function() error(loud_tostring()) end)
      setTimeout(function() error('first') end, 1)
    ]])
    assert.are.equal(1, r.code)
    assert.matches('table: 0x%x+ %(could not be printed: .*tostring refused', r.err)
    assert.not_matches('fatal', r.err)
  end)

  it('as an unhandled rejection prints its name and exits with 1', function()
    local r = child.run(HOSTILE .. 'Promise.reject(strict())')
    assert.are.equal(1, r.code)
    assert.matches('Uncaught %(in promise%) table: 0x', r.err)
    assert.not_matches('fatal', r.err)
  end)

  it('in a worker thread reaches the parent\'s error event', function()
    local worker_src = HOSTILE .. 'error(loud_tostring())'
    local r = child.run('local src = ' .. ('%q'):format(worker_src) .. [[

      local w = require('worker_threads').Worker(src, { eval = true })
      w:on('error', function(e) console.log('error', type(e.message), e.message:match('^table: 0x') ~= nil) end)
      w:on('exit', function(c) console.log('exit', c) end)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('error string true\nexit 1\n', r.out)
  end)
end)

describe('an http handler raising a hostile error', function()
  local srv
  setup(function()
    srv = H.serve(HOSTILE .. [[
      local http = require('http')
      local app = require('router')()
      app:get('/app/strict', function() error(strict()) end)
      app:use(function(err, req, res, nxt) nxt(err) end)
      local server = http.createServer(function(req, res)
        if req.url == '/strict' then error(strict()) end
        if req.url == '/tostring' then error(loud_tostring()) end
        if req.url:sub(1, 4) == '/app' then return app:handle(req, res) end
        if req.url == '/late' then
          await(Promise.new(function(r) setTimeout(r, 5) end))
          error(strict())
        end
        res:finish('fine')
      end)
      server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
    ]])
  end)
  teardown(function() if srv then srv:stop() end end)

  local function get(path)
    return H.raw(srv.port, 'GET ' .. path .. ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  end

  it('gets a 500 and the server keeps serving', function()
    for _, path in ipairs({ '/strict', '/tostring', '/late', '/app/strict' }) do
      assert.matches('^HTTP/1%.1 500 ', get(path))
    end
    assert.matches('\r\n\r\nfine<EOF>$', get('/'))
    assert.is_true(srv:alive())
    assert.matches('http: request handler error: table: 0x%x+ %(could not be printed', srv:stderr())
  end)
end)
