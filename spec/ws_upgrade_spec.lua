-- The HTTP server's 'upgrade' and 'connect' events (API.md "Upgrades and
-- WebSocket"): with a listener the connection leaves HTTP and becomes a
-- net.Socket, the bytes read past the head handed over as `head`; without
-- one the request is served as any other.
local http = require('http')
local net = require('net')

local function listen(server)
  await(Promise.new(function(r) server:listen(0, '127.0.0.1', r) end))
  return server:address().port
end

local function connect(port, text)
  local c = net.connect(port, '127.0.0.1')
  c:write(text)
  return c
end

local UPGRADE = 'GET /chat?x=1 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n'

describe('http server upgrades', function()
  it('serves an upgrade request as a plain request when nobody listens for upgrade', function()
    local server = http.createServer(function(req, res) res:finish('plain ' .. req.headers.upgrade) end)
    local port = listen(server)
    local c = connect(port, UPGRADE)
    local body = await(c:body())
    assert.matches('^HTTP/1.1 200 OK', body)
    assert.matches('plain echo/1$', body)
    server:close()
  end)

  it("emits 'upgrade'(req, socket, head) with a net.Socket and the bytes past the head", function()
    local server = http.createServer(function(_, res) res:finish('plain') end)
    local seen = {}
    server:on('upgrade', function(req, socket, head)
      seen.method, seen.url, seen.upgrade, seen.head = req.method, req.url, req.headers.upgrade, head
      seen.is_socket = getmetatable(socket) == net.Socket and req.socket == socket
      socket:write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo/1\r\n\r\n')
      socket:write(head)
      socket:on('data', function(d) socket:write(d:upper()) end)
    end)
    local port = listen(server)
    -- a keep-alive request first: the upgrade follows it on the same connection
    local c = connect(port, 'GET /first HTTP/1.1\r\nHost: h\r\n\r\n' .. UPGRADE .. 'early bytes')
    local got = ''
    local deadline = os.time() + 5
    while not got:find('\r\n\r\nearly bytes$') and os.time() <= deadline do
      got = got .. (await(c:read()) or '')
    end
    assert.matches('^HTTP/1.1 200 OK.-plainHTTP/1.1 101 Switching Protocols\r\n.-\r\n\r\nearly bytes$', got)
    c:write('after')
    assert.are.equal('AFTER', await(c:read(5)))
    assert.are.same({ method = 'GET', url = '/chat?x=1', upgrade = 'echo/1', head = 'early bytes', is_socket = true }, seen)
    c:destroy()
    server:close()
  end)

  it("emits 'connect' for CONNECT, and serves other requests as before", function()
    local server = http.createServer(function(_, res) res:finish('plain') end)
    local target
    server:on('connect', function(req, socket, head)
      target = req.url
      socket:finish('HTTP/1.1 200 Connection Established\r\n\r\n' .. head)
    end)
    local port = listen(server)
    local c = connect(port, 'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\ntunnel')
    local out = await(c:body())
    assert.are.equal('HTTP/1.1 200 Connection Established\r\n\r\ntunnel', out)
    assert.are.equal('example.test:443', target)
    local res = await(fetch(('http://127.0.0.1:%d/'):format(port)))
    assert.are.equal('plain', await(res:text()))
    server:close()
  end)

  it('stops handing off once the listener is removed', function()
    local server = http.createServer(function(_, res) res:finish('served') end)
    local function on_upgrade(_, socket) socket:destroy() end
    server:on('upgrade', on_upgrade)
    server:removeListener('upgrade', on_upgrade)
    local port = listen(server)
    local body = await(connect(port, UPGRADE):body())
    assert.matches('served$', body)
    server:close()
  end)
end)
