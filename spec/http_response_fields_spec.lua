-- The request's fields, and the response's public fields (statusCode, statusMessage, headersSent,
-- finished, req, socket) read and write as plain fields, before and after
-- a handler adds keys of its own to the response (which gives the table a
-- hash part and moves its array part, where the fields live: see
-- lua/luster/http_outgoing.lua).
local H = require('helpers.http')

local SERVER = [==[
local http = require('http')
local json = require('json')
local server = http.createServer(function(req, res)
  local seen = {}
  local function note(when)
    seen[when] = { statusCode = res.statusCode, statusMessage = res.statusMessage,
      headersSent = res.headersSent, finished = res.finished,
      same_req = res.req == req, same_socket = res.socket == req.socket }
  end
  note('start')
  if req.url == '/grown' then
    -- keys of the handler's own and a listener, before anything is sent
    res.mine, res.other, res.third = 'a', 'b', 'c'
    res:on('finish', function() end)
  end
  res.statusCode = 404
  res.statusMessage = 'Not Here'
  note('set')
  res:writeHead(res.statusCode, { ['Content-Type'] = 'application/json' })
  res.statusCode = 500 -- after writeHead: nothing sent changes
  note('head')
  if req.url == '/grown' then res.late = true end
  if req.url:match('^/req') then
    -- the request's fields, computed on first read, then kept or replaced
    local h1 = req.headers
    req.mine = 1 -- a key of the handler's own
    local same = req.headers == h1
    local path, query = req.path, req.query
    req.url = '/rewritten'
    req.headers = { replaced = 'yes' }
    return res:finish(json.encode({ same = same, host = h1.host, path = path, q = query.q,
      url = req.url, path_after = req.path, replaced = req.headers.replaced, mine = req.mine,
      method = req.method, version = req.httpVersion, complete = req.complete,
      socket = req.socket == req.connection }))
  end
  res:finish(json.encode({ seen = seen, mine = res.mine, late = res.late or false }))
end)
server:listen(0, '127.0.0.1', function() print('port ' .. server:address().port) io.stdout:flush() end)
]==]

local json = require('json')

local function ask(port, path)
  local out = H.raw(port, 'GET ' .. path .. ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  local status = out:match('^HTTP/1%.1 (%d+ [^\r]*)')
  local body = out:match('\r\n\r\n(.*)<EOF>$')
  return status, json.decode(body)
end

describe('http response fields', function()
  local srv
  setup(function() srv = H.serve(SERVER) end)
  teardown(function() srv:stop() end)

  it('of the request read, compute once and write as fields', function()
    local out = H.raw(srv.port, 'GET /req/a?q=1 HTTP/1.1\r\nHost: here\r\nConnection: close\r\n\r\n')
    local r = json.decode(out:match('\r\n\r\n(.*)<EOF>$'))
    assert.are.same({ same = true, host = 'here', path = '/req/a', q = '1', url = '/rewritten',
      path_after = '/req/a', replaced = 'yes', mine = 1, method = 'GET', version = '1.1',
      complete = true, socket = true }, r)
  end)

  for _, path in ipairs({ '/plain', '/grown' }) do
    it('read and write as fields (' .. path .. ')', function()
      local status, r = ask(srv.port, path)
      assert.are.equal('404 Not Here', status)
      local s = r.seen
      assert.are.same({ statusCode = 200, statusMessage = false, headersSent = false, finished = false,
        same_req = true, same_socket = true }, s.start)
      assert.are.same({ statusCode = 404, statusMessage = 'Not Here', headersSent = false, finished = false,
        same_req = true, same_socket = true }, s.set)
      assert.are.same({ statusCode = 500, statusMessage = 'Not Here', headersSent = true, finished = false,
        same_req = true, same_socket = true }, s.head)
      if path == '/grown' then
        assert.are.equal('a', r.mine)
        assert.is_true(r.late)
      end
    end)
  end
end)
