-- http.request/http.get and http.Agent (API.md "HTTP client and fetch")
-- against a luster server and against raw net servers playing the parts a
-- luster server never plays: 101 answers, and agents' pooling seen from the
-- server side.
local http = require('http')
local net = require('net')
local json = require('json')

local function sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

local function serve(handler)
  local server = http.createServer(handler)
  await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
  return server, server:address().port
end

local function raw_server(on_socket)
  local server = net.createServer(on_socket)
  await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
  return server, server:address().port
end

local function close(server) await(Promise.new(function(r) server:close(r) end)) end

-- Send a request and wait for its whole response: {res=, body=} or the
-- request's error.  `fill(req)` writes the body (default: finish()).
local function exchange(opts, fill)
  return Promise.new(function(resolve, reject)
    local req = http.request(opts, function(res)
      local parts = {}
      res:on('data', function(d) parts[#parts + 1] = tostring(d) end)
      res:on('end', function() resolve({ res = res, body = table.concat(parts) }) end)
      res:on('error', reject)
    end)
    req:on('error', reject)
    if fill then fill(req) else req:finish() end
  end)
end

local fails = require('helpers.serve').rejects

describe('http client against a luster server', function()
  local server, port
  setup(function()
    server, port = serve(function(req, res)
      local u = req.url
      if u == '/echo' then
        local body = await(req:body())
        res:json({ method = req.method, body = body, te = req.headers['transfer-encoding'],
                   cl = req.headers['content-length'], x = req.headers['x-one'],
                   multi = req.headers['x-multi'], conn = req.headers.connection,
                   host = req.headers.host })
      elseif u == '/cookies' then
        res:setHeader('Set-Cookie', { 'a=1; Path=/', 'b=2' })
        res:setHeader('X-Twice', { 'one', 'two' })
        res:finish('ok')
      elseif u == '/chunked' then
        res:writeHead(200, { ['Content-Type'] = 'text/plain' })
        local i = 0
        local function more()
          i = i + 1
          if i > 5 then return res:finish() end
          res:write('part' .. i .. ';')
          setTimeout(more, 2)
        end
        more()
      elseif u == '/len' then
        res:writeHead(200, { ['Content-Length'] = 11 })
        res:finish('hello world')
      elseif u == '/head' then
        res:writeHead(200, { ['Content-Length'] = 5, ['X-Head'] = 'yes' })
        res:finish(req.method ~= 'HEAD' and 'hello' or nil)
      elseif u == '/204' then res:writeHead(204, { ['X-No'] = 'content' }); res:finish()
      elseif u == '/304' then res:writeHead(304, { ETag = '"v1"' }); res:finish()
      elseif u == '/hints' then
        res:writeEarlyHints({ link = { '</a.css>; rel=preload; as=style', '</b.js>; rel=preload; as=script' } })
        res:finish('after hints')
      elseif u == '/slow' then setTimeout(function() if not res.finished then res:finish('late') end end, 1000)
      else res:writeHead(404); res:finish('nope') end
    end)
  end)
  -- the global agent's idle sockets would hold close() for their 5 s
  teardown(function() http.globalAgent:destroy(); close(server) end)

  it('sends every method with headers and a body', function()
    for _, m in ipairs { 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS' } do
      local r = await(exchange({ port = port, host = '127.0.0.1', path = '/echo', method = m,
        headers = { ['X-One'] = 'first', ['X-Multi'] = { 'a', 'b' } } },
        function(req) req:finish(m ~= 'GET' and ('body of ' .. m) or nil) end))
      assert.are.equal(200, r.res.statusCode)
      local v = json.decode(r.body)
      assert.are.equal(m, v.method)
      assert.are.equal(m ~= 'GET' and ('body of ' .. m) or '', v.body)
      assert.are.equal('first', v.x)
      assert.are.equal('a, b', v.multi)
      assert.are.equal('127.0.0.1:' .. port, v.host)
      assert.are.equal('keep-alive', v.conn)
      if m ~= 'GET' then assert.are.equal(tostring(#('body of ' .. m)), v.cl) end
    end
  end)

  it('gets with http.get and a URL string', function()
    local r = await(Promise.new(function(resolve, reject)
      http.get('http://127.0.0.1:' .. port .. '/len', function(res)
        local b = ''
        res:on('data', function(d) b = b .. tostring(d) end)
        res:on('end', function() resolve({ res, b }) end)
      end):on('error', reject)
    end))
    assert.are.equal(200, r[1].statusCode)
    assert.are.equal('OK', r[1].statusMessage)
    assert.are.equal('1.1', r[1].httpVersion)
    assert.are.equal('11', r[1].headers['content-length'])
    assert.are.equal('hello world', r[2])
    assert.is_true(r[1].complete)
  end)

  it('exposes Set-Cookie as an array and joins other repeated headers', function()
    local r = await(exchange({ port = port, host = '127.0.0.1', path = '/cookies' }))
    assert.are.same({ 'a=1; Path=/', 'b=2' }, r.res.headers['set-cookie'])
    assert.are.equal('one, two', r.res.headers['x-twice'])
    local raw, cookies = r.res.rawHeaders, 0
    for i = 1, #raw, 2 do if raw[i]:lower() == 'set-cookie' then cookies = cookies + 1 end end
    assert.are.equal(2, cookies)
  end)

  it('chunks a body written several times and reads a chunked response', function()
    local r = await(exchange({ port = port, host = '127.0.0.1', path = '/echo', method = 'POST' },
      function(req)
        req:write('one,')
        req:write('two,')
        setTimeout(function() req:write('three'); req:finish() end, 5)
      end))
    local v = json.decode(r.body)
    assert.are.equal('one,two,three', v.body)
    assert.are.equal('chunked', v.te)
    assert.is_nil(v.cl)
    local c = await(exchange({ port = port, host = '127.0.0.1', path = '/chunked' }))
    assert.are.equal('chunked', c.res.headers['transfer-encoding'])
    assert.are.equal('part1;part2;part3;part4;part5;', c.body)
  end)

  it('keeps a Content-Length the caller set and frames by it', function()
    local r = await(exchange({ port = port, host = '127.0.0.1', path = '/echo', method = 'POST',
      headers = { ['Content-Length'] = 6 } },
      function(req) req:write('abc'); req:write('def'); req:finish() end))
    local v = json.decode(r.body)
    assert.are.same({ 'abcdef', '6' }, { v.body, v.cl })
    assert.is_nil(v.te)
  end)

  it('reads no body for HEAD, 204 and 304, and the connection stays usable', function()
    local seen = {}
    local agent = http.Agent { keepAlive = true, maxSockets = 1 }
    local h = await(exchange({ port = port, host = '127.0.0.1', path = '/head', method = 'HEAD', agent = agent }))
    assert.are.same({ 200, '5', 'yes', '' }, { h.res.statusCode, h.res.headers['content-length'], h.res.headers['x-head'], h.body })
    seen[h.res.socket or 'gone'] = true
    local n = await(exchange({ port = port, host = '127.0.0.1', path = '/204', agent = agent }))
    assert.are.same({ 204, 'content', '' }, { n.res.statusCode, n.res.headers['x-no'], n.body })
    local m = await(exchange({ port = port, host = '127.0.0.1', path = '/304', agent = agent }))
    assert.are.same({ 304, '"v1"', '' }, { m.res.statusCode, m.res.headers.etag, m.body })
    local after = await(exchange({ port = port, host = '127.0.0.1', path = '/len', agent = agent }))
    assert.are.equal('hello world', after.body)
    assert.are.equal(1, agent.totalSocketCount)
    agent:destroy()
  end)

  it("emits 'information' for 100-continue and 103 Early Hints", function()
    local infos = {}
    local r = await(exchange({ port = port, host = '127.0.0.1', path = '/echo', method = 'POST',
      headers = { Expect = '100-continue' } },
      function(req)
        req:on('information', function(i) infos[#infos + 1] = i end)
        req:on('continue', function() infos.continued = true end)
        req:write('waited')
        req:finish()
      end))
    assert.are.equal('waited', json.decode(r.body).body)
    assert.are.equal(100, infos[1].statusCode)
    assert.are.equal('Continue', infos[1].statusMessage)
    assert.is_true(infos.continued)
    local hints = {}
    local h = await(exchange({ port = port, host = '127.0.0.1', path = '/hints' },
      function(req)
        req:on('information', function(i) hints[#hints + 1] = i end)
        req:finish()
      end))
    assert.are.equal('after hints', h.body)
    assert.are.equal(200, h.res.statusCode)
    assert.are.equal(1, #hints)
    assert.are.equal(103, hints[1].statusCode)
    assert.matches('</a.css>; rel=preload; as=style', hints[1].headers.link, 1, true)
    assert.matches('</b.js>', hints[1].headers.link, 1, true)
  end)

  it("emits 'timeout' (opts.timeout and setTimeout) and the caller destroys", function()
    for _, how in ipairs { 'opts', 'method' } do
      local e = fails(Promise.new(function(resolve, reject)
        local req = http.request({ port = port, host = '127.0.0.1', path = '/slow',
          timeout = how == 'opts' and 50 or nil }, function() resolve('answered') end)
        if how == 'method' then req:setTimeout(50) end
        req:on('timeout', function()
          local te = { code = 'ETIMEDOUT', message = 'timed out' }
          req:destroy(te)
        end)
        req:on('error', reject)
        req:finish()
      end))
      assert.are.equal('ETIMEDOUT', e.code, how)
    end
  end)

  it('aborts with destroy() and with an AbortSignal', function()
    local e = fails(Promise.new(function(resolve, reject)
      local req = http.request({ port = port, host = '127.0.0.1', path = '/slow' }, resolve)
      req:on('error', reject)
      req:finish()
      setTimeout(function() req:destroy() end, 20)
      -- 'error' comes before 'close'
      req:on('close', function() reject({ code = 'closed without an error' }) end)
    end))
    assert.are.same({ 'ECONNRESET', 'socket hang up' }, { e.code, e.message })
    local c = AbortController()
    local a = fails(Promise.new(function(resolve, reject)
      local req = http.request({ port = port, host = '127.0.0.1', path = '/slow', signal = c.signal }, resolve)
      req:on('error', reject)
      req:finish()
      setTimeout(function() c:abort() end, 20)
    end))
    assert.are.equal('AbortError', a.name)
    local pre = fails(Promise.new(function(resolve, reject)
      local req = http.request({ port = port, host = '127.0.0.1', path = '/len', signal = AbortSignal.abort() }, resolve)
      req:on('error', reject)
      req:finish()
    end))
    assert.are.equal('AbortError', pre.name)
    -- the server is still fine
    assert.are.equal('hello world', await(exchange({ port = port, host = '127.0.0.1', path = '/len' })).body)
  end)

  it('aborting a response mid-body emits aborted on it', function()
    local got = await(Promise.new(function(resolve)
      local req = http.get({ port = port, host = '127.0.0.1', path = '/chunked' }, function(res)
        res:once('data', function() res.req:destroy() end)
        res:on('aborted', function() resolve('aborted') end)
        res:on('error', function() end)
      end)
      req:on('error', function() end)
    end))
    assert.are.equal('aborted', got)
  end)
end)

describe("http client 'upgrade'", function()
  it('hands the socket and the bytes after the 101 head to the listener', function()
    local server, port = raw_server(function(sock)
      local buf = ''
      sock:on('data', function(d)
        buf = buf .. tostring(d)
        if buf:find('\r\n\r\n', 1, true) then
          local key = buf:match('[Xx]%-[Kk]ey: ([^\r]+)')
          sock:write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello:' .. key)
          buf = ''
          sock:removeAllListeners('data')
          sock:on('data', function(x) sock:write('echo:' .. tostring(x)) end)
        end
      end)
    end)
    local got = await(Promise.new(function(resolve, reject)
      local req = http.request({ port = port, host = '127.0.0.1', headers = { Connection = 'Upgrade', Upgrade = 'echo', ['X-Key'] = 'k1' } })
      req:on('upgrade', function(res, sock, head)
        local out = { status = res.statusCode, upgrade = res.headers.upgrade, head = tostring(head) }
        sock:write('ping')
        sock:once('data', function(d)
          out.echo = tostring(d)
          sock:destroy()
          resolve(out)
        end)
      end)
      req:on('response', function() reject('a response, not an upgrade') end)
      req:on('error', reject)
      req:finish()
    end))
    assert.are.same({ status = 101, upgrade = 'echo', head = 'hello:k1', echo = 'echo:ping' }, got)
    close(server)
  end)
end)

describe('http.Agent pooling', function()
  local server, port, conns, open
  setup(function()
    conns, open = 0, 0
    -- a minimal HTTP/1.1 server over net, so the spec sees each connection
    -- open and close; requests have no body
    server, port = raw_server(function(sock)
      conns = conns + 1
      open = open + 1
      sock:on('close', function() open = open - 1 end)
      sock:on('error', function() end)
      local buf = ''
      sock:on('data', function(d)
        buf = buf .. tostring(d)
        while true do
          local e = buf:find('\r\n\r\n', 1, true)
          if not e then break end
          local head = buf:sub(1, e)
          buf = buf:sub(e + 4)
          local path = head:match('^%u+ (%S+)')
          local body = path == '/hold' and 'held' or (head:match('\n[Cc]onnection: ([^\r]+)') or 'none')
          local answer = 'HTTP/1.1 200 OK\r\nContent-Length: ' .. #body .. '\r\n\r\n' .. body
          if path == '/hold' then
            setTimeout(function() if not sock.destroyed then sock:write(answer) end end, 20)
          else
            sock:write(answer)
          end
          if body == 'close' then sock:finish() end
        end
      end)
    end)
  end)
  teardown(function() http.globalAgent:destroy(); close(server) end)
  before_each(function()
    -- the previous test's sockets are closed (their close is asynchronous)
    local deadline = os.time() + 5
    while open > 0 and os.time() <= deadline do sleep(10) end
    conns = 0
  end)

  local function all(n, opts)
    local ps = {}
    for i = 1, n do ps[i] = exchange(opts) end
    local out = {}
    for i = 1, n do out[i] = await(ps[i]) end
    return out
  end

  it('queues 10 requests on maxSockets=2 connections', function()
    local agent = http.Agent { keepAlive = true, maxSockets = 2 }
    local peak = 0
    local watch = setInterval(function()
      local l = agent.sockets[agent:getName { host = '127.0.0.1', port = port }]
      if l and #l > peak then peak = #l end
    end, 1)
    local out = all(10, { port = port, host = '127.0.0.1', path = '/hold', agent = agent })
    clearInterval(watch)
    for i = 1, 10 do assert.are.equal('held', out[i].body) end
    assert.are.equal(2, conns)
    assert.is_true(peak <= 2)
    assert.are.equal(2, agent.totalSocketCount)
    agent:destroy()
  end)

  it('keeps at most maxFreeSockets idle', function()
    local agent = http.Agent { keepAlive = true, maxFreeSockets = 1 }
    all(4, { port = port, host = '127.0.0.1', path = '/hold', agent = agent })
    assert.are.equal(4, conns)
    sleep(20)
    local free = agent.freeSockets[agent:getName { host = '127.0.0.1', port = port }]
    assert.are.equal(1, free and #free or 0)
    assert.are.equal(1, agent.totalSocketCount)
    -- the kept one serves the next request
    all(1, { port = port, host = '127.0.0.1', path = '/x', agent = agent })
    assert.are.equal(4, conns)
    agent:destroy()
  end)

  it('closes free sockets after the idle timeout', function()
    local agent = http.Agent { keepAlive = true, timeout = 100 }
    local before = open
    all(2, { port = port, host = '127.0.0.1', path = '/hold', agent = agent })
    sleep(20)
    assert.are.equal(before + 2, open)
    local deadline = os.time() + 5
    while open > before and os.time() <= deadline do sleep(25) end
    assert.are.equal(before, open)
    assert.are.equal(0, agent.totalSocketCount)
    assert.is_nil(agent.freeSockets[agent:getName { host = '127.0.0.1', port = port }])
  end)

  it('sends Connection: close without keepAlive, and agent=false uses a fresh connection', function()
    local agent = http.Agent { keepAlive = false }
    local out = all(3, { port = port, host = '127.0.0.1', path = '/conn', agent = agent })
    for i = 1, 3 do assert.are.equal('close', out[i].body) end
    assert.are.equal(3, conns)
    conns = 0
    for _ = 1, 3 do
      local r = await(exchange({ port = port, host = '127.0.0.1', path = '/conn', agent = false }))
      assert.are.equal('close', r.body)
    end
    assert.are.equal(3, conns)
    sleep(20)
    assert.are.equal(0, agent.totalSocketCount)
  end)

  it('reuses one connection for sequential requests on the global agent', function()
    local a = http.Agent { keepAlive = true }
    for _ = 1, 5 do
      assert.are.equal('keep-alive', await(exchange({ port = port, host = '127.0.0.1', path = '/k', agent = a })).body)
    end
    assert.are.equal(1, conns)
    a:destroy()
    conns = 0
    for _ = 1, 5 do await(exchange({ port = port, host = '127.0.0.1', path = '/k' })) end
    assert.are.equal(1, conns)
  end)
end)
