-- Hostile clients (issue 8, section 2): request shapes used for smuggling
-- get 400 and a closed connection, as RFC 9112 asks (and nginx and Node
-- answer); nothing after them is served as another request.
local H = require('helpers.http')

local SERVER = [==[
local http = require('http')
local server = http.createServer(function(req, res)
  if req.url == '/overflow' then
    local function f() return 1 + f() end
    return f()
  end
  if req.url == '/data-raises' then
    req:on('data', function() error('data listener exploded') end)
    req:on('end', function() res:finish('ended') end)
    return
  end
  local body = await(req:body())
  res:finish('served ' .. req.url .. ' body=' .. body)
end)
server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
]==]

describe('http server against smuggling shapes', function()
  local srv
  setup(function() srv = H.serve(SERVER) end)
  teardown(function() if srv then srv:stop() end end)

  local function only_400(reply)
    assert.are.same({ 400 }, H.statuses(reply))
    assert.falsy(reply:find('served', 1, true))
    assert.truthy(reply:find('<EOF>$') or reply:find('<RESET>$'))
  end

  it('rejects chunk data that is not followed by CRLF, and serves nothing after it', function()
    only_400(H.raw(srv.port, 'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' ..
      '3\r\nabcXX0\r\n\r\n'))
    only_400(H.raw(srv.port, 'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' ..
      '3\r\nabcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'))
  end)

  it('rejects whitespace between a header name and its colon', function()
    only_400(H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\nX-A : v\r\n\r\n'))
    only_400(H.raw(srv.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello'))
  end)

  it('rejects a header with an empty name', function()
    only_400(H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n'))
  end)

  it('rejects an HTTP/1.1 request without Host or with two of them', function()
    only_400(H.raw(srv.port, 'GET / HTTP/1.1\r\n\r\n'))
    only_400(H.raw(srv.port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'))
    only_400(H.raw(srv.port, 'GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n'))
  end)

  it('still serves well-formed requests, and HTTP/1.0 without Host', function()
    local ok = H.raw(srv.port, 'POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n' ..
      'Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n')
    assert.are.same({ 200 }, H.statuses(ok))
    assert.truthy(ok:find('served /ok body=abc<EOF>$'))
    local old = H.raw(srv.port, 'GET /old HTTP/1.0\r\n\r\n')
    assert.truthy(old:find('served /old body=<EOF>$'))
  end)
end)

describe('http server against handlers whose stream listeners raise', function()
  local srv
  setup(function() srv = H.serve(SERVER) end)
  teardown(function() if srv then srv:stop() end end)

  it('answers 500 and keeps serving when a data listener raises, early or late in the body', function()
    local head = 'POST /data-raises HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n'
    -- the first piece comes with the head (delivered on a later tick), or after it
    for _, cut in ipairs({ #head + 3, #head }) do
      local reply = H.raw(srv.port, head .. 'abcdefghij' .. 'GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        { cuts = { cut } })
      assert.are.same({ 500, 200 }, H.statuses(reply))
      assert.truthy(reply:find('served /next body=<EOF>$'))
    end
    assert.is_true(srv:alive())
    assert.truthy(srv:stderr():find('data listener exploded', 1, true))
  end)

  it('answers 500 with the message to a handler that overflows the stack, every time', function()
    local reply = ''
    for _ = 1, 20 do
      reply = reply .. H.raw(srv.port, 'GET /overflow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    end
    local statuses = H.statuses(reply)
    assert.are.equal(20, #statuses)
    for _, st in ipairs(statuses) do assert.are.equal(500, st) end
    assert.is_true(srv:alive())
    local log = srv:stderr()
    local n = 0
    for _ in log:gmatch('request handler error: [^\n]*stack overflow') do n = n + 1 end
    assert.are.equal(20, n, log)
  end)
end)
