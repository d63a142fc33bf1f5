-- The server side of http as Node's own tests pin it (test/parallel/
-- test-http-server-*, test-http-response-status-message,
-- test-http-response-splitting; ported, not copied): server events and
-- properties, timeouts assigned after creation, status lines.
local H = require('helpers.http')
local json = require('json')
local child = require('helpers.child')

local function body_of(reply) return reply:match('\r\n\r\n(.*)<EOF>$') end

describe('http server (Node behaviours)', function()
  it('is listening with an address only between listen and close, and closes once', function()
    local r = child.run([[
      local http = require('http')
      local s = http.createServer(function(req, res) res:finish('x') end)
      console.log('before', s.listening, s:address() == nil)
      s:on('close', function() console.log('close event') end)
      s:listen(0, '127.0.0.1', function()
        local a = s:address()
        console.log('listening', s.listening, a.address, a.family, a.port > 0)
        s:close(function(err)
          console.log('closed', err == nil, s.listening)
          s:close(function(e) console.log('again', e.code) end)
        end)
      end)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('before false true\nlistening true 127.0.0.1 IPv4 true\nclose event\nclosed true false\n' ..
      'again ERR_SERVER_NOT_RUNNING\n', r.out)
  end)

  it("emits 'request' to every listener and 'connection' once per connection", function()
    local srv = H.serve([[
      local http = require('http')
      local server = http.createServer()
      local connections, order = 0, {}
      server:on('connection', function(sock) connections = connections + 1; order[#order + 1] = sock.remoteAddress end)
      server:on('request', function(req, res) req._first = true end)
      server:on('request', function(req, res)
        res:finish(('%s %d %s'):format(tostring(req._first), connections, order[1]))
      end)
      server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
    ]])
    local reply = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    srv:stop()
    local bodies = {}
    for b in reply:gmatch('\r\n\r\n(true %d 127%.0%.0%.1)') do bodies[#bodies + 1] = b end
    assert.are.same({ 'true 1 127.0.0.1', 'true 1 127.0.0.1' }, bodies)
  end)

  it("checks timeout options as Node does, headersTimeout following a shorter requestTimeout", function()
    local r = child.run([[
      local http = require('http')
      local function codes(opts)
        local ok, e = pcall(http.createServer, opts)
        if not ok then return e.code end
        return e.headersTimeout .. '/' .. e.requestTimeout
      end
      console.log(codes({}), codes({ headersTimeout = 10000, requestTimeout = 20000 }),
        codes({ headersTimeout = 10000 }), codes({ requestTimeout = 20000 }), codes({ requestTimeout = 100000 }))
      console.log(codes({ headersTimeout = 10000, requestTimeout = 1000 }), codes({ keepAliveTimeout = 'x' }),
        codes({ keepAliveTimeout = -1 }), codes({ maxHeaderSize = 1.5 }))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('60000/300000 10000/20000 10000/300000 20000/20000 60000/100000\n' ..
      'ERR_OUT_OF_RANGE ERR_INVALID_ARG_TYPE ERR_OUT_OF_RANGE ERR_OUT_OF_RANGE\n', r.out)
  end)

  describe('timeouts as properties', function()
    local SERVER = [[
      local http = require('http')
      local server = http.createServer(function(req, res) res:finish('hi') end)
      local seen = { server.keepAliveTimeout, server.headersTimeout, server.requestTimeout, server.maxHeaderSize }
      server.keepAliveTimeout = 200
      server.headersTimeout = 300
      local ok, err = pcall(function() server.requestTimeout = -5 end)
      server:listen(0, '127.0.0.1', function()
        console.log('port', server:address().port)
        console.log(table.concat(seen, ' '), server.keepAliveTimeout, server.headersTimeout, err.code)
      end)
    ]]
    local srv
    setup(function() srv = H.serve(SERVER) end)
    teardown(function() if srv then srv:stop() end end)

    it("have Node's defaults and take checked assignments", function()
      assert.are.equal('5000 60000 300000 16384 200 300 ERR_OUT_OF_RANGE', srv:line())
    end)

    it('apply keepAliveTimeout assigned after creation', function()
      local t0 = os.time()
      local reply = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeout = 4 })
      assert.truthy(reply:find('\r\n\r\nhi<EOF>$'), reply)
      assert.is_true(os.time() - t0 < 4)
    end)

    it('apply headersTimeout assigned after creation', function()
      local reply = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n', { timeout = 4 })
      assert.matches('^HTTP/1%.1 408 ', reply)
    end)
  end)

  describe('status lines', function()
    local srv
    setup(function()
      srv = H.serve([[
        local http = require('http')
        local server = http.createServer(function(req, res)
          local q = req.query
          if q.reason then res.statusMessage = q.reason end
          if q.head then
            local ok, err = pcall(res.writeHead, res, 200, q.head)
            if not ok then return res:finish(err.code) end
          end
          res.statusCode = tonumber(q.code) or 200
          res:finish(tostring(res.statusMessage))
        end)
        server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
      ]])
    end)
    teardown(function() if srv then srv:stop() end end)
    local function get(path)
      return H.raw(srv.port, 'GET ' .. path .. ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    end

    it("sends the standard reason phrase for the status, or the handler's statusMessage", function()
      assert.matches('^HTTP/1%.1 404 Not Found\r\n', get('/?code=404'))
      assert.matches('^HTTP/1%.1 418 I\'m a Teapot\r\n', get('/?code=418'))
      assert.matches('^HTTP/1%.1 200 Custom Words\r\n', get('/?reason=Custom%20Words'))
      assert.matches('^HTTP/1%.1 599 Unknown\r\n', get('/?code=599'))
    end)

    it('refuses a reason with CR or LF (response splitting) at writeHead', function()
      local reply = get('/?head=OK%0D%0AX-Injected:%20yes')
      assert.are.equal('ERR_INVALID_CHAR', body_of(reply))
      assert.falsy(reply:find('X-Injected', 1, true))
    end)

    it('refuses a statusMessage with CR or LF set directly (500, nothing injected)', function()
      local reply = get('/?reason=OK%0D%0AX-Injected:%20yes')
      assert.matches('^HTTP/1%.1 500 ', reply)
      assert.falsy(reply:find('X-Injected', 1, true))
    end)
  end)
end)
