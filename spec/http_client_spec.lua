-- http.request/http.get and the keep-alive Agent (API.md "HTTP client and
-- fetch"): pooling under load, response backpressure, headers of the
-- parsed head, idle timeouts of pooled sockets; against a luster server.
local http = require('http')
local net = require('net')

local function serve(handler)
  local server = http.createServer(handler)
  await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
  return server, 'http://127.0.0.1:' .. server:address().port
end

local function sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

-- GET url with agent, resolving {status, body, headers, rawHeaders}.
local function get(url, agent)
  return Promise.new(function(resolve, reject)
    local req = http.get(url, { agent = agent }, function(res)
      local parts = {}
      res:on('data', function(d) parts[#parts + 1] = d end)
      res:on('end', function()
        resolve({ status = res.statusCode, body = table.concat(parts), headers = res.headers,
                  rawHeaders = res.rawHeaders })
      end)
    end)
    req:on('error', reject)
  end)
end

describe('http client', function()
  it('serves 64 requests in flight over at most maxSockets connections, then pools them', function()
    local ports = {}
    local server, base = serve(function(req, res)
      ports[req.socket.remotePort] = true
      res:finish('n' .. req.url:sub(2))
    end)
    local agent = http.Agent.new { keepAlive = true, maxSockets = 4 }
    local all = {}
    for i = 1, 64 do all[i] = get(base .. '/' .. i, agent) end
    local results = await(Promise.all(all))
    for i = 1, 64 do
      assert.are.equal(200, results[i].status)
      assert.are.equal('n' .. i, results[i].body)
    end
    local n = 0
    for _ in pairs(ports) do n = n + 1 end
    assert.is_true(n <= 4, 'connections: ' .. n)
    sleep(20)
    assert.are.equal(n, agent.totalSocketCount)
    assert.is_nil(next(agent.sockets))
    local free = 0
    for _, l in pairs(agent.freeSockets) do free = free + #l end
    assert.are.equal(n, free)
    -- the pooled connections serve the next round
    for i = 1, 16 do all[i] = get(base .. '/again', agent) end
    for i = 17, 64 do all[i] = nil end
    await(Promise.all(all))
    local m = 0
    for _ in pairs(ports) do m = m + 1 end
    assert.are.equal(n, m)
    agent:destroy()
    server:close()
  end)

  it('stops reading a response nobody reads, and delivers all of it once read', function()
    local size = 4 * 1024 * 1024
    local server, base = serve(function(_, res) res:finish(('z'):rep(size)) end)
    local agent = http.Agent.new { keepAlive = true }
    local res = await(Promise.new(function(resolve, reject)
      http.get(base .. '/', { agent = agent }, resolve):on('error', reject)
    end))
    sleep(100)
    -- nobody reads: the socket holds about a high-water mark, not the body
    local held = res.socket.bytesRead
    assert.is_true(held < size / 2, 'read while paused: ' .. held)
    local body = await(res:body())
    assert.are.equal(size, #body)
    assert.is_true(res.complete)
    -- the connection was not left stopped: it serves the next request
    assert.are.equal(size, #(await(get(base .. '/', agent))).body)
    agent:destroy()
    server:close()
  end)

  it('stops the response when its socket is paused, until it is resumed', function()
    local size = 1024 * 1024
    local server, base = serve(function(_, res) res:finish(('p'):rep(size)) end)
    local got = 0
    local req
    local done = Promise.new(function(resolve)
      req = http.get(base .. '/', { agent = false }, function(res)
        res:on('data', function(d)
          if got == 0 then req.socket:pause() end   -- once bytes flow
          got = got + #d
        end)
        res:on('end', resolve)
      end)
    end)
    sleep(150)
    assert.is_true(got < size, 'read while paused: ' .. got)
    req.socket:resume()
    await(done)
    assert.are.equal(size, got)
    server:close()
  end)

  it('gives the headers of the head as Node does: lower-cased, joined, set-cookie a list', function()
    local server, base = serve(function(_, res)
      res:setHeader('Set-Cookie', { 'a=1', 'b=2' })
      res:setHeader('X-Multi', { 'one', 'two' })
      res:setHeader('X-Case', 'Kept')
      res:finish('h')
    end)
    local r = await(get(base .. '/', false))
    assert.are.same({ 'a=1', 'b=2' }, r.headers['set-cookie'])
    assert.are.equal('one, two', r.headers['x-multi'])
    assert.are.equal('Kept', r.headers['x-case'])
    local seen = {}
    for i = 1, #r.rawHeaders, 2 do seen[#seen + 1] = r.rawHeaders[i] end
    assert.is_truthy(table.concat(seen, ' '):find('X-Case', 1, true))
    local p = require('native.http_parser').new()   -- no limit given: the default
    local events = p:execute('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
    assert.are.equal('head', events[1])
    assert.are.equal('0', events[2].headers['content-length'])
    -- an empty value before any other (no value buffer yet: UBSan checks the copy)
    p = require('native.http_parser').new()
    events = p:execute('HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n')
    assert.are.equal('', events[2].headers['x-empty'])
    server:close()
  end)

  it('keeps every header of a head that arrives over several reads, by Node\'s rules for repeats', function()
    -- the head in three writes: a header whole in the first, one cut in its
    -- name and one cut in its value across them; repeats of a first-wins
    -- header (Content-Type) and of a joined one (X-Multi)
    local server = net.createServer(function(sock)
      sock:on('error', function() end)
      sock:on('data', function()
        sock:write('HTTP/1.1 200 OK\r\nX-First: 1\r\nContent-Type: text/plain\r\nX-Mul')
        setTimeout(function()
          sock:write('ti: one\r\nContent-Type: text/html\r\nX-Multi: tw')
          setTimeout(function() sock:write('o\r\nX-Last: 3\r\nContent-Length: 2\r\n\r\nok') end, 30)
        end, 30)
      end)
    end)
    await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
    local base = 'http://127.0.0.1:' .. server:address().port
    local r = await(get(base .. '/', false))
    assert.are.equal('ok', r.body)
    assert.are.equal('1', r.headers['x-first'])
    assert.are.equal('one, two', r.headers['x-multi'])
    assert.are.equal('text/plain', r.headers['content-type'])
    assert.are.equal('3', r.headers['x-last'])
    assert.are.same({ 'X-First', '1', 'Content-Type', 'text/plain', 'X-Multi', 'one', 'Content-Type', 'text/html',
                      'X-Multi', 'two', 'X-Last', '3', 'Content-Length', '2' }, r.rawHeaders)
    local f = await(fetch(base .. '/'))
    assert.are.equal('1', f.headers:get('x-first'))
    assert.are.equal('one, two', f.headers:get('x-multi'))
    assert.are.equal('3', f.headers:get('x-last'))
    assert.are.equal('ok', await(f:text()))
    server:close()
  end)

  it('reads bodies that spell a parser event, and ends a 304 that states a length', function()
    local conns = 0
    local server = net.createServer(function(sock)
      conns = conns + 1
      sock:on('error', function() end)
      sock:on('data', function(d)
        local path = tostring(d):match('^GET (%S+)')
        if path == '/same' then sock:write('HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\n')
        else sock:write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n' .. path:sub(2)) end
      end)
    end)
    await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
    local base = 'http://127.0.0.1:' .. server:address().port
    local agent = http.Agent.new { keepAlive = true }
    for _, word in ipairs { 'body', 'done', 'head' } do
      assert.are.equal(word, await(get(base .. '/' .. word, agent)).body)
    end
    local same = await(get(base .. '/same', agent))
    assert.are.equal(304, same.status)
    assert.are.equal('', same.body)
    -- the connection was not left waiting for the 304's "body"
    assert.are.equal('body', await(get(base .. '/body', agent)).body)
    assert.are.equal(1, conns)
    agent:destroy()
    server:close()
  end)

  it('closes pooled sockets after the agent timeout, and connects again', function()
    local conns = 0
    local server, base = serve(function(_, res) res:finish('t') end)
    server:on('connection', function() conns = conns + 1 end)
    local agent = http.Agent.new { keepAlive = true, timeout = 100 }
    for _ = 1, 3 do assert.are.equal('t', (await(get(base .. '/', agent))).body) end
    assert.are.equal(1, conns)
    sleep(300)
    assert.are.equal(0, agent.totalSocketCount)
    assert.are.equal('t', (await(get(base .. '/', agent))).body)
    assert.are.equal(2, conns)
    agent:destroy()
    server:close()
  end)
end)

describe('net socket timeout', function()
  it('switched off does not fire, switched on again fires once', function()
    local server = net.createServer(function() end)
    await(Promise.new(function(r) server:listen(0, '127.0.0.1', r) end))
    local c = net.connect(server:address().port, '127.0.0.1')
    await(c:connected())
    local fired = 0
    c:on('timeout', function() fired = fired + 1 end)
    c:setTimeout(50)
    c:setTimeout(0)
    sleep(150)
    assert.are.equal(0, fired)
    c:setTimeout(50)
    sleep(150)
    assert.are.equal(1, fired)
    c:setTimeout(40)   -- a different length: a new countdown
    sleep(150)
    assert.are.equal(2, fired)
    c:destroy()
    server:close()
  end)
end)
