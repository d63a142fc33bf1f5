-- fetch's common case (lua/luster/fetch_exchange.lua: plain http:, no
-- signal, no body or a string body) against raw net servers: a body that
-- came with its head and one still arriving, a body read to the close,
-- 1xx before the answer, a reused socket found closed, resets, bad chunks,
-- backpressure, the bytes sent, and a Headers made from the head on
-- first use.
local http = require('http')
local zlib = require('zlib')

local sleep = require('helpers.serve').sleep
local raw = require('helpers.raw_http')
local close, on_heads = raw.close, raw.on_heads

local function raw_server(on_socket)
  local server, port = raw.server(on_socket)
  return server, 'http://127.0.0.1:' .. port
end

local function answer(text)
  return function(sock) on_heads(sock, function() sock:write(text) end) end
end

local rejects = require('helpers.serve').rejects

describe('fetch over a plain connection', function()
  it('sends one request head with the defaults, and a string body with its length', function()
    local heads, bodies = {}, {}
    local server, base = raw_server(function(sock)
      on_heads(sock, function(_, head, _, body)
        heads[#heads + 1], bodies[#bodies + 1] = head, body
        sock:write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      end)
    end)
    assert.are.equal('ok', await(await(fetch(base .. '/a?b=1')):text()))
    local port = base:match('%d+$')
    assert.are.equal('GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:' .. port .. '\r\naccept: */*\r\n'
      .. 'accept-language: *\r\nuser-agent: luster\r\naccept-encoding: gzip, deflate, br\r\n'
      .. 'Connection: keep-alive\r\n\r\n', heads[1])
    local r = await(fetch(base .. '/p', { method = 'POST', body = 'hello', headers = { ['X-One'] = 'ä 1' } }))
    assert.are.equal('ok', await(r:text()))
    assert.truthy(heads[2]:find('^POST /p HTTP/1.1\r\n'))
    assert.truthy(heads[2]:find('\r\nx-one: ä 1\r\n', 1, true))
    assert.truthy(heads[2]:find('\r\ncontent-type: text/plain;charset=UTF-8\r\n', 1, true))
    assert.truthy(heads[2]:find('\r\nContent-Length: 5\r\n', 1, true))
    assert.are.equal('hello', bodies[2])
    -- a user agent of the caller's replaces the default one
    await(await(fetch(base .. '/', { headers = { ['User-Agent'] = 'me' } })):text())
    assert.truthy(heads[3]:find('\r\nuser-agent: me\r\n', 1, true))
    assert.is_nil(heads[3]:find('luster', 1, true))
    close(server)
  end)

  it('gives the same headers, made on first use, as the wire sent', function()
    local server, base = raw_server(answer('HTTP/1.1 201 Made\r\nX-A: one\r\nSet-Cookie: a=1\r\nx-a:  two \r\n'
      .. 'Set-Cookie: b=2\r\nContent-Length: 4\r\n\r\nbody'))
    local r = await(fetch(base .. '/'))
    assert.are.equal(201, r.status)
    assert.are.equal('Made', r.statusText)
    assert.is_true(r.ok)
    assert.are.equal('basic', r.type)
    assert.is_false(r.redirected)
    assert.is_false(r.bodyUsed)
    assert.are.equal('body', await(r:text()))
    assert.is_true(r.bodyUsed)
    assert.are.equal('one, two', r.headers:get('x-a'))
    assert.are.same({ 'a=1', 'b=2' }, r.headers:getSetCookie())
    assert.are.equal('4', r.headers:get('content-length'))
    local names = {}
    for k in r.headers:keys() do names[#names + 1] = k end
    assert.are.same({ 'content-length', 'set-cookie', 'set-cookie', 'x-a' }, names)
    assert.are.equal(r.headers, r.headers)   -- made once
    close(server)
  end)

  it('streams res.body when touched, for a body that came whole and for one still arriving', function()
    local server, base = raw_server(function(sock)
      on_heads(sock, function(_, head)
        if head:find('^GET /whole') then
          sock:write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello')
        else
          sock:write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n')
          setTimeout(function() sock:write('3\r\ndef\r\n') end, 20)
          setTimeout(function() sock:write('0\r\n\r\n') end, 40)
        end
      end)
    end)
    local r = await(fetch(base .. '/whole'))
    local body = r.body
    assert.is_table(body)
    assert.are.equal('hello', await(body:read()))
    assert.is_nil(await(body:read()))
    local s = await(fetch(base .. '/late'))
    local parts = {}
    for chunk in s.body:chunks() do parts[#parts + 1] = chunk end
    assert.are.same({ 'abc', 'def' }, parts)
    -- text() of a body still arriving waits for all of it
    assert.are.equal('abcdef', await(await(fetch(base .. '/late')):text()))
    close(server)
  end)

  it('reads a body to the close, and does not reuse that connection', function()
    local conns = 0
    local server, base = raw_server(function(sock)
      conns = conns + 1
      on_heads(sock, function()
        sock:write('HTTP/1.1 200 OK\r\n\r\nuntil ')
        setTimeout(function() sock:write('the end'); sock:finish() end, 10)
      end)
    end)
    assert.are.equal('until the end', await(await(fetch(base .. '/')):text()))
    assert.are.equal('until the end', await(await(fetch(base .. '/')):text()))
    assert.are.equal(2, conns)
    close(server)
  end)

  it('skips 1xx responses, has no body for HEAD/204/304, and reads a body that reads like a parser event', function()
    local server, base = raw_server(function(sock)
      on_heads(sock, function(_, head)
        if head:find('^HEAD') then sock:write('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n')
        elseif head:find('^GET /none') then sock:write('HTTP/1.1 204 No Content\r\n\r\n')
        elseif head:find('^GET /same') then sock:write('HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n')
        elseif head:find('^GET /word') then sock:write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody')
        else
          sock:write('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n')
          sock:write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone')
        end
      end)
    end)
    local r = await(fetch(base .. '/hints'))
    assert.are.equal(200, r.status)
    assert.are.equal('done', await(r:text()))
    assert.is_nil(r.headers:get('link'))
    assert.are.equal('body', await(await(fetch(base .. '/word')):text()))
    local h = await(fetch(base .. '/', { method = 'HEAD' }))
    assert.is_nil(h.body)
    assert.are.equal('', await(h:text()))
    assert.are.equal('', await(await(fetch(base .. '/none')):text()))
    assert.are.equal(304, await(fetch(base .. '/same')).status)
    -- the connection still serves after all of them
    assert.are.equal('body', await(await(fetch(base .. '/word')):text()))
    close(server)
  end)

  it('sends a GET again on a new connection when its reused one closes unanswered, never a POST', function()
    local conns = 0
    local server, base = raw_server(function(sock)
      conns = conns + 1
      on_heads(sock, function(_, _, n)
        if n == 1 then sock:write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok') else sock:destroy() end
      end)
    end)
    local agent = http.Agent { keepAlive = true }
    assert.are.equal('ok', await(await(fetch(base .. '/', { dispatcher = agent })):text()))
    assert.are.equal('ok', await(await(fetch(base .. '/', { dispatcher = agent })):text()))
    assert.are.equal(2, conns)
    local e = rejects(fetch(base .. '/', { method = 'POST', body = 'x', dispatcher = agent }))
    assert.are.equal('TypeError', e.name)
    assert.are.equal('ECONNRESET', e.cause.code)
    assert.are.equal(2, conns)
    close(server)
  end)

  it('rejects the body of a response reset mid-body, and a bad chunk', function()
    local server, base = raw_server(function(sock)
      on_heads(sock, function(_, head)
        if head:find('^GET /reset') then
          sock:write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial')
          setTimeout(function() sock:destroy() end, 10)
        else
          sock:write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n')
        end
      end)
    end)
    local r = await(fetch(base .. '/reset'))
    assert.are.equal(200, r.status)
    local e = rejects(r:text())
    assert.are.equal('ECONNRESET', e.code)
    local b = await(fetch(base .. '/chunk'))
    assert.are.equal(200, b.status)
    assert.are.equal('HPE_INVALID_CHUNK_SIZE', rejects(b:text()).code)
    close(server)
  end)

  it('decodes a gzip body that came whole, and follows redirects', function()
    local packed = zlib.gzipSync(('zipped '):rep(100))
    local server, base = raw_server(function(sock)
      on_heads(sock, function(_, head)
        if head:find('^GET /zip') then
          sock:write('HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ' .. #packed .. '\r\n\r\n' .. packed)
        else
          sock:write('HTTP/1.1 302 Found\r\nLocation: /zip\r\nContent-Length: 3\r\n\r\nbye')
        end
      end)
    end)
    local r = await(fetch(base .. '/away'))
    assert.is_true(r.redirected)
    assert.are.equal(base .. '/zip', r.url)
    assert.are.equal(('zipped '):rep(100), await(r:text()))
    close(server)
  end)

  it('holds a large body to its high-water mark while nobody reads it', function()
    local chunk = ('y'):rep(65536)
    local written, total = 0, 512 * 65536
    local server, base = raw_server(function(sock)
      on_heads(sock, function()
        sock:write('HTTP/1.1 200 OK\r\nContent-Length: ' .. total .. '\r\n\r\n')
        local function pump()
          while written < total and not sock.destroyed do
            written = written + #chunk
            if not sock:write(chunk) then return sock:once('drain', pump) end
          end
        end
        pump()
      end)
    end)
    local r = await(fetch(base .. '/'))
    sleep(100)
    assert.is_true(written < total, 'the server was stopped by backpressure')
    assert.is_true(r.body:readableState().length <= 2 * 65536)
    assert.are.equal(total, #await(r:text()))
    close(server)
  end)
end)
