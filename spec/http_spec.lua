-- The http module (API.md "http"): real servers in child processes, real
-- clients (python3 http.client, raw sockets, curl).
local H = require('helpers.http')
local json = require('json')

-- One server with a route per behaviour; options come in as JSON in arg[1].
local SERVER = [==[
local http = require('http')
local json = require('json')
local opts = json.decode(arg[1] or '{}')
local function sleep(ms) return Promise.new(function(r) setTimeout(r, ms) end) end
local connections = 0
local server = http.createServer(opts, function(req, res)
  local p = req.path
  if p == '/echo' then
    local body = await(req:body())
    res:json({ method = req.method, url = req.url, path = req.path, query = req.query,
      headers = req.headers, httpVersion = req.httpVersion,
      remoteAddress = req.socket.remoteAddress, body = body, connections = connections })
  elseif p == '/stream' then
    local n, pieces = 0, 0
    req:on('data', function(c) n = n + #c; pieces = pieces + 1 end)
    req:on('end', function() res:json({ bytes = n, pieces = pieces }) end)
  elseif p == '/sleep' then
    await(sleep(tonumber(req.query.ms) or 50))
    res:finish(req.query.id or 'slept')
  elseif p == '/chunked' then
    res:setHeader('X-Kind', 'chunked')
    res:write('a')
    res:write('bb')
    await(sleep(10))
    res:finish('ccc')
  elseif p == '/headers' then
    res:setHeader('X-One', '1')
    res:setHeader('Set-Cookie', { 'a=1', 'b=2' })
    res:setHeader('X-Gone', 'x')
    res:removeHeader('x-gone')
    res:writeHead(201, 'Made Here', { ['X-Two'] = '2' })
    res:finish(tostring(res:getHeader('x-one')) .. ' ' .. tostring(res.headersSent))
  elseif p == '/status' then
    res.statusCode = tonumber(req.query.code)
    res:finish()
  elseif p == '/error' then
    error('handler exploded')
  elseif p == '/error-late' then
    await(sleep(5))
    error('late explosion')
  elseif p == '/error-after-head' then
    res:write('partial')
    error('after head')
  elseif p == '/finish-event' then
    res:on('finish', function() console.log('finished ' .. req.url) end)
    res:finish('ok')
  elseif p == '/hang' then
    res:on('close', function() console.log('closed ' .. tostring(res.finished)) end)
  elseif p == '/bad-header' then
    res:setHeader('X-Evil', 'a\r\nInjected: yes')
    res:finish('no')
  else
    res:writeHead(200, { ['Content-Type'] = 'text/plain' })
    res:finish('hello')
  end
end)
server:on('connection', function() connections = connections + 1 end)
server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
]==]

local function get(port, path, method, body, headers)
  local out = H.py(port, ([[
import http.client, json
c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=5)
c.request(%q, %q, body=%s, headers=%s)
r = c.getresponse()
b = r.read()
print(json.dumps({'status': r.status, 'reason': r.reason, 'headers': dict((k.lower(), v) for k, v in r.getheaders()), 'body': b.decode('latin-1'), 'version': r.version}))
]]):format(method or 'GET', path, body and ('%q'):format(body) or 'None', headers or '{}'))
  return json.decode(out)
end

describe('http server', function()
  local srv
  setup(function() srv = H.serve(SERVER) end)
  teardown(function() if srv then srv:stop() end end)

  it('listens on port 0, reports its address and answers a GET with Date and Content-Length', function()
    assert.is_true(srv.port > 0)
    local r = get(srv.port, '/')
    assert.are.equal(200, r.status)
    assert.are.equal('hello', r.body)
    assert.are.equal('5', r.headers['content-length'])
    assert.are.equal('text/plain', r.headers['content-type'])
    assert.truthy(r.headers['date']:match('^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$'))
  end)

  it('gives the handler method, url, path, query, lower-cased headers, version and remote address', function()
    local r = get(srv.port, '/echo?a=1&b=x%20y&a=2', 'POST', 'payload',
      "{'X-Custom': 'V', 'Content-Type': 'text/plain'}")
    local e = json.decode(r.body)
    assert.are.equal('POST', e.method)
    assert.are.equal('/echo?a=1&b=x%20y&a=2', e.url)
    assert.are.equal('/echo', e.path)
    assert.are.same({ '1', '2' }, e.query.a)
    assert.are.equal('x y', e.query.b)
    assert.are.equal('V', e.headers['x-custom'])
    assert.are.equal('1.1', e.httpVersion)
    assert.are.equal('127.0.0.1', e.remoteAddress)
    assert.are.equal('payload', e.body)
  end)

  it('joins repeated request headers as Node does', function()
    local reply = H.raw(srv.port, 'GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-A: 2\r\n' ..
      'Cookie: a=1\r\nCookie: b=2\r\nUser-Agent: one\r\nUser-Agent: two\r\nConnection: close\r\n\r\n')
    local e = json.decode(reply:match('\r\n\r\n(.*)<EOF>$'))
    assert.are.equal('1, 2', e.headers['x-a'])
    assert.are.equal('a=1; b=2', e.headers.cookie)
    assert.are.equal('x', e.headers.host)
    assert.are.equal('one', e.headers['user-agent'])
  end)

  it('streams a chunked request body through data and end events', function()
    local body = 'GET-this-' .. ('x'):rep(3000)
    local req = 'POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' ..
      ('%x\r\n%s\r\n'):format(1000, body:sub(1, 1000)) ..
      ('%x\r\n%s\r\n'):format(#body - 1000, body:sub(1001)) .. '0\r\n\r\n'
    local reply = H.raw(srv.port, req, { cuts = { 150, 1200 } })
    local e = json.decode(reply:match('\r\n\r\n(.*)<EOF>$'))
    assert.are.equal(#body, e.bytes)
    assert.is_true(e.pieces >= 2)
  end)

  it('sends a chunked response when the handler writes pieces', function()
    local reply = H.raw(srv.port, 'GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.truthy(reply:find('Transfer-Encoding: chunked\r\n', 1, true))
    assert.truthy(reply:find('\r\n\r\n1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n<EOF>$'))
    local r = get(srv.port, '/chunked')
    assert.are.equal('abbccc', r.body)
    assert.are.equal('chunked', r.headers['x-kind'])
  end)

  it('sets, reads and removes response headers, and writeHead sets status, reason and headers', function()
    local reply = H.raw(srv.port, 'GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.truthy(reply:match('^HTTP/1%.1 201 Made Here\r\n'))
    assert.truthy(reply:find('X-One: 1\r\n', 1, true))
    assert.truthy(reply:find('X-Two: 2\r\n', 1, true))
    assert.truthy(reply:find('Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n', 1, true)
      or reply:find('Set-Cookie: b=2\r\nSet-Cookie: a=1\r\n', 1, true))
    assert.falsy(reply:find('X-Gone', 1, true))
    assert.truthy(reply:find('\r\n\r\n1 true<EOF>$'))
  end)

  it('answers HEAD with the headers only', function()
    local reply = H.raw(srv.port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.truthy(reply:find('Content-Length: 5\r\n', 1, true))
    assert.truthy(reply:find('\r\n\r\n<EOF>$'))
  end)

  it('sends no body and no length for 204 and 304', function()
    local reply = H.raw(srv.port, 'GET /status?code=204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.truthy(reply:match('^HTTP/1%.1 204 No Content\r\n'))
    assert.falsy(reply:find('Content-Length', 1, true))
    assert.falsy(reply:find('Transfer-Encoding', 1, true))
  end)

  it('answers Expect: 100-continue with 100 Continue before the body', function()
    local req = 'POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n'
    local reply = H.raw(srv.port, req .. 'ping', { cuts = { #req } })
    assert.truthy(reply:match('^HTTP/1%.1 100 Continue\r\n\r\nHTTP/1%.1 200 OK\r\n'))
    assert.are.equal('ping', json.decode(reply:match('\r\n\r\n({.*})<EOF>$')).body)
  end)

  it('keeps HTTP/1.1 connections alive and serves many requests on one', function()
    local out = H.py(srv.port, [[
import http.client, json
c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=5)
seen = []
for i in range(5):
    c.request('GET', '/echo')
    r = c.getresponse()
    seen.append(json.loads(r.read())['connections'])
    assert r.getheader('Connection') == 'keep-alive'
print(len(set(seen)))
]])
    assert.are.equal('1\n', out)
  end)

  it('closes after Connection: close and after an HTTP/1.0 request', function()
    local a = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeout = 3 })
    assert.truthy(a:find('Connection: close\r\n', 1, true))
    assert.truthy(a:find('hello<EOF>$'))
    local b = H.raw(srv.port, 'GET / HTTP/1.0\r\n\r\n', { timeout = 3 })
    assert.truthy(b:find('hello<EOF>$'))
    local c = H.raw(srv.port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { timeout = 0.5 })
    assert.truthy(c:find('Connection: keep-alive\r\n', 1, true))
    assert.truthy(c:find('hello<TIMEOUT>$'))
  end)

  it('answers pipelined requests in order even when the first handler awaits', function()
    local req = 'GET /sleep?ms=100&id=first HTTP/1.1\r\nHost: x\r\n\r\n' ..
      'GET /sleep?ms=1&id=second HTTP/1.1\r\nHost: x\r\n\r\n' ..
      'GET /sleep?ms=0&id=third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
    local reply = H.raw(srv.port, req)
    local bodies = {}
    for b in reply:gmatch('\r\n\r\n(%l+)') do bodies[#bodies + 1] = b end
    assert.are.same({ 'first', 'second', 'third' }, bodies)
    assert.truthy(reply:find('<EOF>$'))
  end)

  it('turns a handler error into a 500, logs it, and keeps serving', function()
    assert.are.equal(500, get(srv.port, '/error').status)
    assert.are.equal(500, get(srv.port, '/error-late').status)
    assert.are.equal(200, get(srv.port, '/').status)
    local err = srv:stderr()
    assert.truthy(err:find('handler exploded', 1, true))
    assert.truthy(err:find('late explosion', 1, true))
  end)

  it('closes the connection when a handler fails after the head went out', function()
    local reply = H.raw(srv.port, 'GET /error-after-head HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.truthy(reply:find('7\r\npartial\r\n', 1, true))
    assert.falsy(reply:find('0\r\n\r\n', 1, true))
    assert.truthy(reply:find('<EOF>$') or reply:find('<RESET>$'))
    assert.are.equal(200, get(srv.port, '/').status)
  end)

  it('refuses header values that would inject headers', function()
    local r = get(srv.port, '/bad-header')
    assert.are.equal(500, r.status)
    assert.is_nil(r.headers['injected'])
    assert.truthy(srv:stderr():find('ERR_INVALID_CHAR', 1, true))
  end)

  it("emits 'finish' on the response", function()
    assert.are.equal(200, get(srv.port, '/finish-event?x=1').status)
    assert.are.equal('finished /finish-event?x=1', srv:line())
  end)

  it("emits 'close' on an unanswered response when the client goes away", function()
    local reply = H.raw(srv.port, 'GET /hang HTTP/1.1\r\nHost: x\r\n\r\n', { timeout = 0.3 })
    assert.are.equal('<TIMEOUT>', reply)
    assert.are.equal('closed true', srv:line())
  end)

  it('answers malformed requests with 400 and closes', function()
    local reply = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost x\r\n\r\n')
    assert.truthy(reply:match('^HTTP/1%.1 400 Bad Request\r\n'))
    assert.truthy(reply:find('<EOF>$'))
    local junk = H.raw(srv.port, '\1\2\3 garbage\r\n\r\n')
    assert.truthy(junk:match('^HTTP/1%.1 400 '))
  end)
end)

describe('http limits', function()
  it('answers 431 to headers over maxHeaderSize and 413 to bodies over maxBodySize', function()
    local srv = H.serve(SERVER, '{"maxHeaderSize": 1024, "maxBodySize": 100}')
    local big = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' .. ('a'):rep(2000) .. '\r\n\r\n')
    assert.truthy(big:match('^HTTP/1%.1 431 '))
    local declared = H.raw(srv.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n')
    assert.truthy(declared:match('^HTTP/1%.1 413 '))
    local chunked = H.raw(srv.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' ..
      '50\r\n' .. ('b'):rep(80) .. '\r\n50\r\n' .. ('b'):rep(80) .. '\r\n0\r\n\r\n')
    assert.truthy(chunked:match('^HTTP/1%.1 413 '))
    local ok = H.raw(srv.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n' ..
      ('c'):rep(100))
    assert.truthy(ok:match('^HTTP/1%.1 200 '))
    srv:stop()
  end)

  it('answers 408 when headers or the body arrive too slowly', function()
    local srv = H.serve(SERVER, '{"headersTimeout": 300, "requestTimeout": 600}')
    local t0 = os.time()
    local slow_head = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n', { timeout = 3 })
    assert.truthy(slow_head:match('^HTTP/1%.1 408 '))
    local slow_body = H.raw(srv.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc',
      { timeout = 3 })
    assert.truthy(slow_body:match('^HTTP/1%.1 408 '))
    assert.is_true(os.time() - t0 < 5)
    srv:stop()
  end)

  it('closes idle keep-alive connections after keepAliveTimeout', function()
    local srv = H.serve(SERVER, '{"keepAliveTimeout": 200}')
    local reply = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeout = 2 })
    assert.truthy(reply:find('hello<EOF>$'))
    srv:stop()
  end)

  it('drops connections over maxConnections', function()
    local srv = H.serve(SERVER, '{"maxConnections": 2}')
    local out = H.py(srv.port, [[
import socket, time
held = [socket.create_connection(('127.0.0.1', PORT)) for _ in range(2)]
time.sleep(0.2)
s = socket.create_connection(('127.0.0.1', PORT))
s.settimeout(2)
try:
    s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    print('third:', s.recv(100) or b'<EOF>')
except Exception as e:
    print('third:', type(e).__name__)
for h in held: h.close()
time.sleep(0.2)
s = socket.create_connection(('127.0.0.1', PORT))
s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
print('later:', s.recv(100)[:15])
]])
    assert.truthy(out:find("third: b'<EOF>'", 1, true) or out:find('third: ConnectionResetError', 1, true))
    assert.truthy(out:find("later: b'HTTP/1.1 200 OK'", 1, true))
    srv:stop()
  end)
end)

describe('http server lifecycle', function()
  it("reports EADDRINUSE through 'error', and close() stops listening and emits 'close'", function()
    local srv = H.serve([[
local http = require('http')
local a = http.createServer(function(req, res) res:finish('a') end)
a:listen(0, '127.0.0.1', function()
  local port = a:address().port
  local b = http.createServer(function() end)
  b:on('error', function(e)
    console.log('port', port)
    console.log(e.code, e.syscall, e.port == port)
    a:close(function() console.log('closed') end)
  end)
  b:listen(port, '127.0.0.1')
end)
]])
    assert.are.equal('EADDRINUSE listen true', srv:line())
    assert.are.equal('closed', srv:line())
    local reply = H.raw(srv.port, 'GET / HTTP/1.1\r\n\r\n', { timeout = 1 })
    assert.truthy(reply == '<RESET>' or reply == '<EOF>' or reply == '')
    srv:stop()
  end)

  it('lets two servers share a port with reusePort', function()
    local srv = H.serve([[
local http = require('http')
local a = http.createServer(function(req, res) res:finish('a') end)
a:listen({ port = 0, host = '127.0.0.1', reusePort = true }, function()
  local port = a:address().port
  local b = http.createServer(function(req, res) res:finish('b') end)
  b:on('error', function(e) console.log('port', 0) console.log('error ' .. e.code) end)
  b:listen({ port = port, host = '127.0.0.1', reusePort = true }, function()
    console.log('port', port)
    console.log('both listening', b:address().port == port)
  end)
end)
]])
    assert.are.equal('both listening true', srv:line())
    local seen = {}
    for _ = 1, 30 do
      local r = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
      seen[r:match('\r\n\r\n(%a)')] = true
    end
    assert.is_true(seen.a and seen.b)
    srv:stop()
  end)

  it('serves connections and listening sockets adopted as fds (the cluster seam)', function()
    local srv = H.serve([[
local http = require('http')
local tcp = require('native.tcp')
local rr = http.createServer(function(req, res) res:finish('adopted connection') end)
local fd = tcp.listen('127.0.0.1', 0)
local port = tcp.address(fd).port
tcp.acceptor(fd, function(conn_fd) rr:_adopt_connection_fd(conn_fd) end)
local shared = http.createServer(function(req, res) res:finish('adopted listener') end)
local lfd = tcp.listen('127.0.0.1', 0)
assert(shared:_adopt_listen_fd(lfd))
shared:_listening()
console.log('port', port)
console.log('port2', shared:address().port)
]])
    local port2 = tonumber(srv:line():match('(%d+)$'))
    local a = H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.truthy(a:find('adopted connection<EOF>', 1, true))
    local b = H.raw(port2, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.truthy(b:find('adopted listener<EOF>', 1, true))
    srv:stop()
  end)
end)
