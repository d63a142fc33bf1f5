-- Header names go out spelled as the handler set them, whatever other
-- responses of the process did with the same name (the responses share
-- their lower-cased name -> spelling map while they agree on it; see
-- lua/luster/http_outgoing.lua).
local H = require('helpers.http')

local SERVER = [==[
local http = require('http')
local server = http.createServer(function(req, res)
  local u = req.url
  if u == '/first' then
    res:setHeader('X-Spelled', 'first')
  elseif u == '/other' then
    res:setHeader('x-SPELLED', 'other')
  elseif u == '/respelled' then
    res:setHeader('X-Spelled', '1')
    res:setHeader('X-Kept', 'k')
    res:setHeader('x-spelled', '2')
  elseif u == '/removed' then
    res:setHeader('X-Spelled', 'r')
    res:removeHeader('X-SPELLED')
    res:setHeader('x-KEPT', 'k2')
  elseif u == '/slow' then
    res:setHeader('X-Spelled', 'slow')
    return setTimeout(function() res:finish('ok') end, 150)
  elseif u == '/appended' then
    res:appendHeader('x-appended', 'a')
    res:appendHeader('X-Appended', 'b')
  elseif u == '/json' then
    res:setHeader('content-type', 'application/json; charset=utf-8')
    return res:json({ ok = true })
  elseif u == '/json-default' then
    return res:json({ ok = true })
  elseif u:match('^/many') then
    -- more names than the shared map keeps
    local upper = u == '/many-upper'
    for i = 1, 300 do
      res:setHeader((upper and 'X-MANY-' or 'x-many-') .. i, tostring(i))
    end
  end
  res:finish('ok')
end)
server:listen(0, '127.0.0.1', function() print('port ' .. server:address().port) io.stdout:flush() end)
]==]

-- The heads of the answers to `paths`, asked in order on one connection.
local function heads(port, paths)
  local reqs = {}
  for i, p in ipairs(paths) do
    reqs[i] = 'GET ' .. p .. ' HTTP/1.1\r\nHost: x\r\n' .. (i == #paths and 'Connection: close\r\n' or '') .. '\r\n'
  end
  local out = H.raw(port, table.concat(reqs))
  local list = {}
  for head in out:gmatch('HTTP/1%.1 (.-)\r\n\r\n') do list[#list + 1] = head end
  assert.are.equal(#paths, #list, out)
  return list
end

describe('http response header names', function()
  local srv
  setup(function() srv = H.serve(SERVER) end)
  teardown(function() srv:stop() end)

  it('go out as each response spelled them', function()
    local h = heads(srv.port, { '/first', '/other', '/first', '/respelled', '/other' })
    assert.truthy(h[1]:find('\r\nX-Spelled: first', 1, true))
    assert.truthy(h[2]:find('\r\nx-SPELLED: other', 1, true))
    assert.truthy(h[3]:find('\r\nX-Spelled: first', 1, true))
    -- the last setHeader's spelling, the other names unchanged
    assert.truthy(h[4]:find('\r\nx-spelled: 2', 1, true))
    assert.falsy(h[4]:find('X-Spelled', 1, true))
    assert.truthy(h[4]:find('\r\nX-Kept: k', 1, true))
    assert.truthy(h[5]:find('\r\nx-SPELLED: other', 1, true))
  end)

  it('survive a header removed in another spelling', function()
    local h = heads(srv.port, { '/removed', '/first', '/respelled' })
    assert.falsy(h[1]:lower():find('x-spelled', 1, true))
    assert.truthy(h[1]:find('\r\nx-KEPT: k2', 1, true))
    assert.truthy(h[2]:find('\r\nX-Spelled: first', 1, true))
    assert.truthy(h[3]:find('\r\nX-Kept: k', 1, true))
  end)

  it('of a response still open stay while others remove that header', function()
    local out = H.py(srv.port, [[
import socket, time
a = socket.create_connection(('127.0.0.1', PORT))
a.sendall(b'GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
time.sleep(0.03)
b = socket.create_connection(('127.0.0.1', PORT))
b.sendall(b'GET /removed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
while b.recv(65536): pass
out = b''
while True:
    d = a.recv(65536)
    if not d: break
    out += d
print(out.decode())
]])
    assert.truthy(out:find('\r\nX-Spelled: slow\r\n', 1, true), out)
  end)

  it('keep the first spelling of an appended header', function()
    local h = heads(srv.port, { '/appended' })
    assert.truthy(h[1]:find('\r\nx-appended: a\r\nx-appended: b', 1, true))
  end)

  it('of res:json: a Content-Type set before stays, else Content-Type', function()
    local h = heads(srv.port, { '/json', '/json-default', '/json' })
    assert.truthy(h[1]:find('\r\ncontent-type: application/json; charset=utf-8', 1, true))
    assert.truthy(h[2]:find('\r\nContent-Type: application/json\r\n', 1, true))
    assert.truthy(h[3]:find('\r\ncontent-type: application/json; charset=utf-8', 1, true))
  end)

  it('of many more names than the shared map keeps', function()
    local h = heads(srv.port, { '/many', '/many-upper', '/first' })
    for i = 1, 300 do
      assert.truthy(h[1]:find('\r\nx-many-' .. i .. ': ' .. i .. '\r', 1, true))
      assert.truthy(h[2]:find('\r\nX-MANY-' .. i .. ': ' .. i .. '\r', 1, true))
    end
    assert.truthy(h[3]:find('\r\nX-Spelled: first', 1, true))
  end)
end)
