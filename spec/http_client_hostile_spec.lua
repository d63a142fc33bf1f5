-- The HTTP client against hostile servers (raw net servers): resets
-- mid-body, bad chunks, slow answers, keep-alive sockets closed under the
-- agent's feet, and a server that streams forever to a reader that does not
-- read.  Whatever the server does, the client reports an error with Node's
-- code and nothing hangs.
local http = require('http')

local sleep = require('helpers.serve').sleep
local raw = require('helpers.raw_http')
local raw_server, close, on_heads = raw.server, raw.close, raw.on_heads

local OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'

-- {res=, body=} or the first error of the request or its response, and
-- whether the response emitted 'aborted'.
local function exchange(opts, body)
  return Promise.new(function(resolve, reject)
    local req = http.request(opts, function(res)
      local parts = {}
      res:on('data', function(d) parts[#parts + 1] = tostring(d) end)
      res:on('end', function() resolve({ res = res, body = table.concat(parts) }) end)
      res:on('aborted', function() res._spec_aborted = true end)
      res:on('error', function(e) e.aborted = res._spec_aborted; e.res = res; reject(e) end)
    end)
    req:on('error', reject)
    req:finish(body)
  end)
end

local fails = require('helpers.serve').rejects

describe('http client against hostile servers', function()
  it('reports a reset mid-body on the response and a hang-up before it on the request', function()
    local server, port = raw_server(function(sock)
      on_heads(sock, function(_, head)
        if head:find('^GET /mid') then
          sock:write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..')
          setTimeout(function() sock:destroy() end, 20)
        else
          sock:destroy()
        end
      end)
    end)
    local e = fails(exchange { port = port, host = '127.0.0.1', path = '/mid', agent = false })
    assert.are.equal('ECONNRESET', e.code)
    assert.are.equal('aborted', e.message)
    assert.is_true(e.aborted)
    assert.is_false(e.res.complete)
    local h = fails(exchange { port = port, host = '127.0.0.1', path = '/none', agent = false })
    assert.are.equal('ECONNRESET', h.code)
    assert.are.equal('socket hang up', h.message)
    close(server)
  end)

  it('reports a real TCP reset (RST) mid-body and before the response', function()
    local peer = require('helpers.peer')
    if not peer.have('python3') then pending('python3 is not installed') return end
    local port = peer.free_port()
    -- SO_LINGER {on, 0}: close() sends RST instead of FIN
    local py = peer.tmp('.py', ([[
import socket, struct, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', %d))
s.listen(8)
while True:
    c, _ = s.accept()
    req = b''
    while b'\r\n\r\n' not in req:
        d = c.recv(4096)
        if not d: break
        req += d
    if req.startswith(b'GET /mid'):
        c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..')
        time.sleep(0.05)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()
]]):format(port))
    local server = peer.start({ 'python3', py }, { port = port })
    local ok, err = pcall(function()
      local e = fails(exchange { port = port, host = '127.0.0.1', path = '/mid', agent = false })
      assert.are.equal('ECONNRESET', e.code)
      assert.is_true(e.aborted)
      local h = fails(exchange { port = port, host = '127.0.0.1', path = '/none', agent = false })
      assert.are.equal('ECONNRESET', h.code)
    end)
    server:stop()
    os.remove(py)
    assert(ok, err)
  end)

  it('fails a bad chunk size with HPE_INVALID_CHUNK_SIZE', function()
    local server, port = raw_server(function(sock)
      on_heads(sock, function()
        sock:write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nbad\r\n0\r\n\r\n')
      end)
    end)
    local agent = http.Agent { keepAlive = true }
    local e = fails(exchange { port = port, host = '127.0.0.1', agent = agent })
    assert.are.equal('HPE_INVALID_CHUNK_SIZE', e.code)
    sleep(20)
    -- the broken connection is not kept
    assert.are.equal(0, agent.totalSocketCount)
    assert.is_nil(next(agent.freeSockets))
    close(server)
  end)

  it('times out on a slow server, whatever stage it stalls at', function()
    local server, port = raw_server(function(sock)
      on_heads(sock, function(_, head)
        if head:find('^GET /head') then
          sock:write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')   -- then nothing
        elseif head:find('^GET /drip') then
          sock:write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n')
          local t
          t = setInterval(function()
            if sock.destroyed or not pcall(sock.write, sock, 'x') then clearInterval(t) end
          end, 20)
          sock:on('close', function() clearInterval(t) end)
        end   -- /silent: no answer at all
      end)
    end)
    local t0 = os.time()
    for _, path in ipairs { '/silent', '/head' } do
      local e = fails(Promise.new(function(resolve, reject)
        local req = http.request({ port = port, host = '127.0.0.1', path = path, timeout = 100, agent = false },
          function(res)
            res:on('data', function() end)
            res:on('end', function() resolve('complete') end)
            res:on('error', reject)
          end)
        req:on('timeout', function() req:destroy({ code = 'ETIMEDOUT', message = path .. ' timed out' }) end)
        req:on('error', reject)
        req:finish()
      end))
      assert.are.equal('ETIMEDOUT', e.code, path)
    end
    -- a server that keeps sending never reaches an idle timeout; the
    -- caller's own deadline ends it
    local dripped = await(Promise.new(function(resolve)
      local got, timeouts = 0, 0
      local req = http.request({ port = port, host = '127.0.0.1', path = '/drip', timeout = 150, agent = false },
        function(res)
          res:on('data', function(d) got = got + #tostring(d) end)
          res:on('error', function() end)
        end)
      req:on('timeout', function() timeouts = timeouts + 1 end)
      req:on('error', function() end)
      req:finish()
      setTimeout(function() req:destroy(); resolve({ got, timeouts }) end, 600)
    end))
    assert.is_true(dripped[1] > 5)
    assert.are.equal(0, dripped[2])
    assert.is_true(os.time() - t0 < 10)
    close(server)
  end)

  it('closes the server side when a client leaves while the server keeps writing', function()
    -- the client's FIN, then the RST its kernel answers the server's next
    -- write with: the server's own shutdown then fails with ENOTCONN, and
    -- its socket must close all the same
    local closed, open = 0, 0
    local server, port = raw_server(function(sock)
      open = open + 1
      sock:on('close', function() closed = closed + 1 end)
      on_heads(sock, function()
        sock:write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n')
        local t
        t = setInterval(function()
          if sock.destroyed or not pcall(sock.write, sock, 'x') then clearInterval(t) end
        end, 1)
        sock:on('close', function() clearInterval(t) end)
      end)
    end)
    for _ = 1, 20 do
      await(Promise.new(function(resolve)
        local req
        req = http.get({ port = port, host = '127.0.0.1', agent = false }, function(res)
          res:on('data', function() end)
          res:on('error', function() end)
          setTimeout(function() req:destroy(); resolve() end, 5)
        end)
        req:on('error', function() end)
      end))
    end
    local deadline = os.time() + 5
    while closed < open and os.time() <= deadline do sleep(10) end
    assert.are.equal(open, closed)
    close(server)
  end)

  it('never hands a request a keep-alive socket the server already closed', function()
    local conns = 0
    local server, port = raw_server(function(sock)
      conns = conns + 1
      on_heads(sock, function()
        -- keep-alive by the headers, closed right after answering
        sock:write(OK)
        sock:finish()
      end)
    end)
    local agent = http.Agent { keepAlive = true }
    for i = 1, 20 do
      local method = i % 2 == 0 and 'POST' or 'GET'
      local r = await(exchange({ port = port, host = '127.0.0.1', method = method, agent = agent }, method == 'POST' and 'data' or nil))
      assert.are.equal('ok', r.body)
      sleep(20)   -- the server's FIN arrives while the socket is free
    end
    assert.are.equal(20, conns)
    sleep(20)
    assert.are.equal(0, agent.totalSocketCount)
    close(server)
  end)

  it('retries a GET once when its reused socket closes before any answer, never a POST', function()
    local conns = 0
    -- the second request on any connection finds it closed: the race of a
    -- server closing an idle keep-alive socket just as the request is sent
    local server, port = raw_server(function(sock)
      conns = conns + 1
      on_heads(sock, function(_, _, n)
        if n == 1 then sock:write(OK) else sock:destroy() end
      end)
    end)
    local agent = http.Agent { keepAlive = true }
    local base = { port = port, host = '127.0.0.1', agent = agent }
    assert.are.equal('ok', await(exchange(base)).body)
    assert.are.equal(1, conns)
    assert.are.equal('ok', await(exchange(base)).body)   -- retried on a new connection
    assert.are.equal(2, conns)
    -- a POST on the reused conn 2 (its second request) is not sent again
    local post = { port = port, host = '127.0.0.1', agent = agent, method = 'POST' }
    local e = fails(exchange(post, 'not idempotent'))
    assert.are.equal('ECONNRESET', e.code)
    assert.are.equal('socket hang up', e.message)
    assert.are.equal(2, conns)
    close(server)
  end)

  it('holds memory bounded against a server that streams forever to a reader that does not read', function()
    local rss_kib = require('helpers.memory').rss_kib
    local written = 0
    local chunk = ('z'):rep(65536)
    local server, port = raw_server(function(sock)
      on_heads(sock, function()
        sock:write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
        local frame = ('%x\r\n'):format(#chunk) .. chunk .. '\r\n'
        local function pump()
          while not sock.destroyed do
            written = written + #frame
            if not sock:write(frame) then return sock:once('drain', pump) end
          end
        end
        pump()
      end)
    end)
    collectgarbage()
    local before = rss_kib()
    local req, res
    await(Promise.new(function(resolve)
      req = http.get({ port = port, host = '127.0.0.1', agent = false }, function(r)
        res = r   -- never read
        resolve()
      end)
      req:on('error', function() end)
    end))
    res:on('error', function() end)
    sleep(700)
    local at1 = written
    sleep(500)
    local at2 = written
    collectgarbage()
    local grown = rss_kib() - before
    assert.are.equal(at1, at2, 'the server could still write: the client kept reading')
    assert.is_true(at2 < 64 * 1024 * 1024, 'the server wrote ' .. at2 .. ' bytes')
    -- (not under sanitizers: their allocators keep freed memory by design)
    if (os.getenv('LUSTER_SANITIZE') or '') == '' then
      assert.is_true(grown < 32 * 1024, ('RSS grew by %d KiB'):format(grown))
    end
    req:destroy()
    close(server)
  end)
end)
