-- require('ws') and the global WebSocket, luster to luster, and a raw TCP
-- client that sends the frames a polite peer never would (RFC 6455
-- protocol errors, invalid UTF-8, oversize messages).
local http = require('http')
local net = require('net')
local ws = require('ws')
local frame = require('luster.ws_frame')

local function sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

local function wait_for(pred, ms)
  local waited = 0
  while not pred() and waited < (ms or 5000) do sleep(10); waited = waited + 10 end
  return pred()
end

-- A WebSocketServer on its own port; resolves once it listens.
local function server(opts, on_connection)
  opts = opts or {}
  opts.port, opts.host = 0, '127.0.0.1'
  local wss = ws.WebSocketServer(opts)
  if on_connection then wss:on('connection', on_connection) end
  await(Promise.new(function(r) wss:once('listening', r) end))
  return wss, wss:address().port
end

local function echo(sock)
  sock:on('message', function(data, isBinary) sock:send(data, { binary = isBinary }) end)
end

-- A connected client with a message queue.
local function client(port, path, protocols, opts)
  local c = WebSocket(('ws://127.0.0.1:%d%s'):format(port, path or '/'), protocols, opts)
  local inbox, waiting = {}, nil
  c:on('message', function(data, isBinary)
    local m = { data, isBinary }
    if waiting then local w = waiting; waiting = nil; w(m) else inbox[#inbox + 1] = m end
  end)
  c.closed = Promise.new(function(resolve) c:on('close', function(code, reason) resolve({ code, reason }) end) end)
  await(Promise.new(function(resolve, reject)
    c:once('open', resolve)
    c:once('error', reject)
  end))
  c.next = function()
    if #inbox > 0 then return table.remove(inbox, 1) end
    return await(Promise.new(function(r) waiting = r end))
  end
  return c
end

-- await(p), or fail after ms: a frame that never comes fails the spec
-- instead of hanging it.
local function within(p, ms)
  local timer
  local timeout = Promise.new(function(_, reject)
    timer = setTimeout(function() reject('timed out waiting for the peer') end, ms or 5000)
  end)
  local ok, v = pcall(await, Promise.race({ p, timeout }))
  clearTimeout(timer)
  if not ok then error(v, 0) end
  return v
end

-- A TCP client that did the handshake by hand; frames go out as given.
local function raw(port, path)
  local s = net.connect(port, '127.0.0.1')
  await(s:connected())
  s:write(('GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' ..
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'):format(path or '/'))
  local head = {}
  repeat
    local line = await(s:readline())
    head[#head + 1] = line
  until line == ''
  s.head = head
  -- the server's next frame: opcode, payload
  function s.frame()
    local b = within(s:read(2))
    local len = b:byte(2) % 128
    if len == 126 then local e = within(s:read(2)); len = e:byte(1) * 256 + e:byte(2) end
    return b:byte(1) % 16, len > 0 and within(s:read(len)) or ''
  end
  function s.close_code()
    local op, payload = s.frame()
    assert.are.equal(frame.OP_CLOSE, op)
    return payload:byte(1) * 256 + payload:byte(2), payload:sub(3)
  end
  return s
end

describe('WebSocket messages', function()
  it('exchanges text and binary messages and tells them apart', function()
    local wss, port = server({}, echo)
    local c = client(port)
    c:send('hello')
    assert.are.same({ 'hello', false }, c.next())
    c:send('héllo ✓')
    assert.are.same({ 'héllo ✓', false }, c.next())
    c:send('text as binary', { binary = true })
    assert.are.same({ 'text as binary', true }, c.next())
    c:send('\255\254 not UTF-8')   -- a string that is not UTF-8 goes as binary
    assert.are.same({ '\255\254 not UTF-8', true }, c.next())
    c:send('')
    assert.are.same({ '', false }, c.next())
    c:close()
    assert.are.same({ 1005, '' }, await(c.closed))
    wss:close()
  end)

  it('sends and reassembles fragmented messages, with control frames between', function()
    local got = {}
    local wss, port = server({}, function(sock)
      sock:on('message', function(data, isBinary) got[#got + 1] = { data, isBinary } end)
      sock:on('ping', function(d) got[#got + 1] = { 'ping', d } end)
    end)
    local c = client(port)
    c:send('one ', { fin = false })
    c:ping('mid')
    c:send('two ', { fin = false })
    c:send('three')
    c:send('\1\2', { binary = true, fin = false })
    c:send('\3')
    assert.is_true(wait_for(function() return #got == 3 end))
    assert.are.same({ { 'ping', 'mid' }, { 'one two three', false }, { '\1\2\3', true } }, got)
    c:terminate()
    wss:close()
  end)

  it('carries a 16 MiB message each way', function()
    local wss, port = server({}, echo)
    local c = client(port)
    local big = string.rep('luster!\0', 2 * 1024 * 1024)
    c:send(big)
    local m = c.next()
    assert.are.equal(#big, #m[1])
    assert.is_true(m[1] == big)
    c:close(1000)
    assert.are.same({ 1000, '' }, await(c.closed))
    wss:close()
  end)

  it('answers pings with pongs and emits both', function()
    local server_pongs = {}
    local wss, port = server({}, function(sock)
      sock:on('pong', function(d) server_pongs[#server_pongs + 1] = d end)
      sock:on('message', function() sock:ping('from server') end)
    end)
    local c = client(port)
    local pong = Promise.new(function(r) c:once('pong', r) end)
    c:ping('abc')
    assert.are.equal('abc', await(pong))
    local ping = Promise.new(function(r) c:once('ping', r) end)
    c:send('ping me')
    assert.are.equal('from server', await(ping))
    assert.is_true(wait_for(function() return #server_pongs == 1 end))
    assert.are.equal('from server', server_pongs[1])
    assert.has_error(function() c:ping(string.rep('x', 126)) end)
    c:terminate()
    wss:close()
  end)

  it('fires browser-style onopen, onmessage, onclose with event objects', function()
    local wss, port = server({}, function(sock)
      sock.onmessage = function(event) sock:send('echo:' .. event.data) end
    end)
    local events = {}
    local done = Promise.new(function(resolve)
      local c = WebSocket(('ws://127.0.0.1:%d/'):format(port))
      c.onopen = function(event) events[#events + 1] = event.type; c:send('hi') end
      c.onmessage = function(event)
        events[#events + 1] = event.type .. ':' .. event.data
        c:close(4000, 'done')
      end
      c.onclose = function(event)
        events[#events + 1] = ('%s:%d:%s:%s'):format(event.type, event.code, event.reason, tostring(event.wasClean))
        resolve()
      end
    end)
    await(done)
    assert.are.same({ 'open', 'message:echo:hi', 'close:4000:done:true' }, events)
    wss:close()
  end)
end)

describe('WebSocket closing', function()
  it('runs the close handshake with a code and reason both ways', function()
    local server_side
    local closes = {}
    local wss, port = server({}, function(sock)
      server_side = sock
      sock:on('close', function(code, reason) closes[#closes + 1] = { code, reason } end)
    end)
    local c = client(port)
    c:close(4321, 'client is done')
    assert.are.equal(ws.CLOSING, c.readyState)
    assert.are.same({ 4321, 'client is done' }, await(c.closed))
    assert.are.equal(ws.CLOSED, c.readyState)
    assert.is_true(wait_for(function() return #closes == 1 end))
    assert.are.same({ 4321, 'client is done' }, closes[1])

    local c2 = client(port)
    assert.is_true(wait_for(function() return #closes == 1 and server_side.readyState == ws.OPEN end))
    server_side:close(1001, 'going away')
    assert.are.same({ 1001, 'going away' }, await(c2.closed))
    assert.is_true(wait_for(function() return #closes == 2 end))
    wss:close()
  end)

  it('reports 1006 when the connection ends without a close frame', function()
    local wss, port = server({}, function(sock) sock:terminate() end)
    local c = client(port)
    assert.are.same({ 1006, '' }, await(c.closed))
    wss:close()
  end)

  it('checks the arguments of close and send', function()
    local wss, port = server({}, echo)
    local c = client(port)
    assert.has_error(function() c:close(1005) end)
    assert.has_error(function() c:close(1004) end)
    assert.has_error(function() c:close(2999) end)
    assert.has_error(function() c:close(1000, string.rep('r', 124)) end)
    c:close(1000, string.rep('r', 123))
    local err = await(Promise.new(function(r) c:send('late', r) end))
    assert.are.equal('ERR_WS_NOT_OPEN', err.code)
    assert.are.same({ 1000, string.rep('r', 123) }, await(c.closed))
    local early = WebSocket(('ws://127.0.0.1:%d/'):format(port))
    local ok, e = pcall(early.send, early, 'too soon')
    assert.is_false(ok)
    assert.are.equal('ERR_WS_NOT_OPEN', e.code)
    early:terminate()
    wss:close()
  end)
end)

describe('WebSocket protocol errors (RFC 6455)', function()
  local function closes_with(expected_code, frames, opts)
    local errs = {}
    local wss, port = server(opts or {}, function(sock)
      sock:on('error', function(e) errs[#errs + 1] = e.code end)
    end)
    local s = raw(port)
    assert.are.equal('HTTP/1.1 101 Switching Protocols', s.head[1])
    s:write(frames)
    local code = s.close_code()
    assert.are.equal(expected_code, code)
    assert.is_nil(within(s:read()))   -- then the server ends the connection
    wss:close()
    return errs
  end

  it('closes with 1007 on invalid UTF-8 in a text message or a close reason', function()
    assert.are.same({ 'WS_ERR_INVALID_UTF8' }, closes_with(1007, frame.frame(1, 'ok \192\128 overlong', true, true)))
    closes_with(1007, frame.frame(1, 'surrogate \237\160\128', true, true))
    closes_with(1007, frame.frame(1, 'a', false, true) .. frame.frame(0, '\226\130', true, true))
    closes_with(1007, frame.frame(8, '\3\232\255', true, true))
  end)

  it('ignores frames after a close frame', function()
    local got = {}
    local wss, port = server({}, function(sock) sock:on('message', function(d) got[#got + 1] = d end) end)
    local s = raw(port)
    s:write(frame.frame(1, 'before', true, true) .. frame.frame(8, '\3\232', true, true) .. frame.frame(1, 'after', true, true))
    assert.are.equal(1000, s.close_code())
    assert.is_nil(within(s:read()))
    assert.are.same({ 'before' }, got)
    wss:close()
  end)

  it('accepts UTF-8 split across fragments', function()
    local got
    local wss, port = server({}, function(sock) sock:on('message', function(d) got = d end) end)
    local s = raw(port)
    s:write(frame.frame(1, '\226\130', false, true) .. frame.frame(0, '\172!', true, true))
    assert.is_true(wait_for(function() return got ~= nil end))
    assert.are.equal('€!', got)
    s:destroy()
    wss:close()
  end)

  it('closes with 1009 past maxPayload, whole or in fragments', function()
    local errs = closes_with(1009, frame.frame(2, string.rep('x', 101), true, true), { maxPayload = 100 })
    assert.are.same({ 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }, errs)
    closes_with(1009, frame.frame(2, string.rep('x', 60), false, true) .. frame.frame(0, string.rep('x', 60), true, true), { maxPayload = 100 })
  end)

  it('closes with 1002 on RSV bits, unmasked frames, bad opcodes and bad control frames', function()
    local text = frame.frame(1, 'hi', true, true)
    closes_with(1002, string.char(text:byte(1) + 0x40) .. text:sub(2))              -- RSV1
    closes_with(1002, frame.frame(1, 'unmasked', true, false))                      -- client frames must be masked
    closes_with(1002, frame.frame(3, 'x', true, true))                              -- reserved opcode
    closes_with(1002, frame.frame(0, 'x', true, true))                              -- continuation of nothing
    closes_with(1002, frame.frame(1, 'a', false, true) .. frame.frame(1, 'b', true, true)) -- new message mid-fragment
    closes_with(1002, frame.frame(9, string.rep('p', 126), true, true))             -- control frame > 125
    closes_with(1002, frame.frame(9, 'p', false, true))                             -- fragmented control frame
    closes_with(1002, frame.frame(8, '\3\237', true, true))                         -- close code 1005 on the wire
    closes_with(1002, frame.frame(8, '\1', true, true))                             -- a 1-byte close payload
  end)

  it('rejects masked frames from a server', function()
    local srv = net.createServer(function(sock)
      sock:on('data', function(d)
        if not d:find('\r\n\r\n', 1, true) then return end
        local key = d:match('Sec%-WebSocket%-Key: ([^\r]+)')
        sock:write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' ..
          'Sec-WebSocket-Accept: ' .. require('luster.ws_server').accept_key(key) .. '\r\n\r\n' ..
          frame.frame(1, 'masked', true, true))
      end)
    end)
    await(Promise.new(function(r) srv:listen(0, '127.0.0.1', r) end))
    local c = WebSocket(('ws://127.0.0.1:%d/'):format(srv:address().port))
    local errs = {}
    c:on('error', function(e) errs[#errs + 1] = e.code end)
    local closed = await(Promise.new(function(r) c:on('close', function(code) r(code) end) end))
    assert.are.equal('WS_ERR_UNEXPECTED_MASK', errs[1])
    assert.are.equal(1002, closed)
    srv:close()
  end)
end)

describe('WebSocketServer', function()
  it('selects a subprotocol with handleProtocols and filters by path', function()
    local wss, port = server({ path = '/chat', handleProtocols = function(offered, req)
      assert.are.equal('/chat', req.url)
      for _, p in ipairs(offered) do if p == 'v2' then return p end end
      return false
    end }, echo)
    local c = client(port, '/chat', { 'v1', 'v2' })
    assert.are.equal('v2', c.protocol)
    c:terminate()
    local wrong = WebSocket(('ws://127.0.0.1:%d/elsewhere'):format(port))
    local err = await(Promise.new(function(r) wrong:on('error', r) end))
    assert.matches('Unexpected server response: 400', err.message)
    wss:close()
  end)

  it('answers a plain HTTP request on its own port with 426 and tracks clients', function()
    local wss, port = server({}, echo)
    local res = await(fetch(('http://127.0.0.1:%d/'):format(port)))
    assert.are.equal(426, res.status)
    local a, b = client(port), client(port)
    assert.is_true(wait_for(function()
      local n = 0
      for _ in pairs(wss.clients) do n = n + 1 end
      return n == 2
    end))
    a:close()
    await(a.closed)
    assert.is_true(wait_for(function() return next(wss.clients, next(wss.clients)) == nil end))
    b:close()
    await(b.closed)
    wss:close()
  end)

  it('shares an http server through the server option and handleUpgrade with noServer', function()
    local hs = http.createServer(function(_, res) res:finish('plain http') end)
    local by_server = ws.WebSocketServer { server = hs, path = '/a' }
    by_server:on('connection', function(sock) sock:send('from a') end)
    await(Promise.new(function(r) hs:listen(0, '127.0.0.1', r) end))
    local port = hs:address().port
    local c = client(port, '/a')
    assert.are.same({ 'from a', false }, c.next())
    c:terminate()
    local res = await(fetch(('http://127.0.0.1:%d/x'):format(port)))
    assert.are.equal('plain http', await(res:text()))
    by_server:close()
    hs:close()

    local manual = ws.WebSocketServer { noServer = true }
    local hs2 = http.createServer()
    hs2:on('upgrade', function(req, socket, head)
      manual:handleUpgrade(req, socket, head, function(sock) sock:send('manual ' .. req.url) end)
    end)
    await(Promise.new(function(r) hs2:listen(0, '127.0.0.1', r) end))
    local c2 = client(hs2:address().port, '/m')
    assert.are.same({ 'manual /m', false }, c2.next())
    c2:terminate()
    hs2:close()
    assert.has_error(function() ws.WebSocketServer {} end)
    assert.has_error(function() ws.WebSocketServer { noServer = true, port = 1 } end)
  end)
end)

describe('WebSocket backpressure', function()
  it('stops reading from a peer whose reader is paused, and delivers everything after resume', function()
    local server_side
    local wss, port = server({}, function(sock) server_side = sock end)
    local c = client(port)
    assert.is_true(wait_for(function() return server_side ~= nil end))
    c:pause()
    local chunk = string.rep('z', 64 * 1024)
    local written, refused, drained = 0, 0, false
    server_side:on('drain', function() drained = true end)
    for _ = 1, 200 do
      if not server_side:send(chunk, { binary = true }, function() written = written + 1 end) then refused = refused + 1 end
    end
    assert.is_true(refused > 0)   -- send says false past the high-water mark
    sleep(200)
    -- the client reads no more than its socket's high-water mark: the rest
    -- waits in the server's send buffer
    assert.is_true(server_side.bufferedAmount > 1024 * 1024, tostring(server_side.bufferedAmount))
    assert.is_true(c._socket.readableLength <= 256 * 1024, tostring(c._socket.readableLength))
    local n = 0
    c:on('message', function() n = n + 1 end)
    c:resume()
    assert.is_true(wait_for(function() return n == 200 end, 10000))
    assert.are.equal(200, written)
    assert.are.equal(0, server_side.bufferedAmount)
    assert.is_true(wait_for(function() return drained end))
    c:terminate()
    wss:close()
  end)
end)

describe('WebSocket in other states and schemes', function()
  it('connects from a worker thread with the global WebSocket', function()
    local wss, port = server({}, echo)
    local got = await(Promise.new(function(resolve)
      local w = require('worker_threads').Worker(([[
        local port = require('worker_threads').parentPort
        local c = WebSocket('ws://127.0.0.1:%d/')
        c:on('open', function() c:send('from a worker') end)
        c:on('message', function(d) port.postMessage(d); c:close() end)
      ]]):format(port), { eval = true })
      w:on('message', resolve)
    end))
    assert.are.equal('from a worker', got)
    wss:close()
  end)

  it('says clearly when wss:// cannot be served without the tls module', function()
    if pcall(require, 'tls') then pending('tls is there: wss:// is covered by the tls specs') return end
    local ok, err = pcall(WebSocket, 'wss://127.0.0.1:1/')
    assert.is_false(ok)
    assert.are.equal('ERR_WS_TLS_UNAVAILABLE', err.code)
    ok, err = pcall(WebSocket, 'ftp://127.0.0.1/')
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_URL', err.code)
  end)
end)
