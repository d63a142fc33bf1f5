-- WebSocket against npm's ws (installed by scripts/setup-peers into
-- spec/peers/node_modules): ws as a client of a luster server and as a
-- server for the luster client, in both directions: text, binary,
-- fragmented, 16 MiB, ping/pong, close codes and reasons, invalid UTF-8
-- (1007) and oversize messages (1009).
local http = require('http')
local ws = require('ws')
local peer = require('helpers.peer')
local serve = require('helpers.serve')
local listen, sleep = serve.listen, serve.sleep

local PEERS = 'spec/peers/'
local function have_ws()
  return peer.have('node') and io.open(PEERS .. 'node_modules/ws/package.json') ~= nil
end

local function json_lines(out)
  local t = {}
  for line in out:gmatch('[^\n]+') do t[#t + 1] = require('json').decode(line) end
  return t
end

-- A luster server: '/echo' echoes (100 MiB maxPayload), '/small' allows
-- 1 KiB messages; 'close-me' makes it close with 4002.
local function luster_server()
  local closes = {}
  local big = ws.WebSocketServer { noServer = true }
  local small = ws.WebSocketServer { noServer = true, maxPayload = 1024 }
  local function serve(sock, req)
    sock:on('message', function(data, isBinary)
      if not isBinary and data == 'close-me' then return sock:close(4002, 'luster bye') end
      sock:send(data, { binary = isBinary })
    end)
    sock:on('close', function(code, reason) closes[#closes + 1] = { code = code, reason = reason, path = req.url } end)
  end
  big:on('connection', serve)
  small:on('connection', serve)
  local server = http.createServer(function(_, res) res:finish('plain') end)
  server:on('upgrade', function(req, socket, head)
    local wss = req.url == '/small' and small or big
    wss:handleUpgrade(req, socket, head, function(c) wss:emit('connection', c, req) end)
  end)
  return server, closes
end

local function wait_for(pred, ms)
  local waited = 0
  while not pred() and waited < (ms or 5000) do sleep(20); waited = waited + 20 end
  return pred()
end

describe('npm ws client -> luster WebSocketServer', function()
  it('exchanges text, binary, fragmented and 16 MiB messages, pings, and closes with a code', function()
    if not have_ws() then pending('npm ws is not installed (scripts/setup-peers)') return end
    local server, closes = luster_server()
    local port = listen(server)
    local r = await(peer.run({ 'node', PEERS .. 'ws_client.js', ('ws://127.0.0.1:%d/echo'):format(port), 'exchange' }, { timeout = 60000 }))
    assert.are.equal(0, r.code, r.err)
    local ev = json_lines(r.out)
    assert.are.same({ open = true, protocol = 'chat' }, ev[1])   -- the first offered
    assert.are.same({ text = 'héllo', isBinary = false }, ev[2])
    assert.are.same({ binary = { 0, 1, 2, 255 }, isBinary = true }, ev[3])
    assert.are.same({ fragmented = 'fragment', isBinary = false }, ev[4])
    assert.are.same({ big = 16 * 1024 * 1024, same = true, isBinary = true }, ev[5])
    assert.are.same({ pong = 'node-ping' }, ev[6])
    assert.are.same({ close = 4001, reason = 'node bye' }, ev[7])
    assert.is_true(wait_for(function() return #closes == 1 end))
    assert.are.same({ code = 4001, reason = 'node bye', path = '/echo' }, closes[1])
    server:close()
  end)

  it('is closed with 1007 for invalid UTF-8, 1009 past maxPayload, and by the server with its code', function()
    if not have_ws() then pending('npm ws is not installed (scripts/setup-peers)') return end
    local server, closes = luster_server()
    local port = listen(server)
    local function run(path, scenario)
      local r = await(peer.run({ 'node', PEERS .. 'ws_client.js', ('ws://127.0.0.1:%d%s'):format(port, path), scenario }))
      assert.are.equal(0, r.code, r.err)
      return json_lines(r.out)
    end
    local ev = run('/echo', 'bad-utf8')
    assert.are.equal(1007, ev[#ev].close)
    ev = run('/small', 'oversize')
    assert.are.equal(1009, ev[#ev].close)
    ev = run('/echo', 'server-close')
    assert.are.same({ close = 4002, reason = 'luster bye' }, ev[#ev])
    assert.is_true(wait_for(function() return #closes == 3 end))
    local codes = {}
    for i, c in ipairs(closes) do codes[i] = c.code end
    table.sort(codes)
    assert.are.same({ 1007, 1009, 4002 }, codes)
    server:close()
  end)
end)

describe('luster WebSocket client -> npm ws server', function()
  local node, port
  local function start()
    port = peer.free_port()
    node = peer.start({ 'node', PEERS .. 'ws_server.js', tostring(port) }, { port = port })
  end

  local function connect(opts)
    local c = WebSocket(('ws://127.0.0.1:%d/path?q=1'):format(port), { 'chat', 'other' }, opts)
    local inbox, waiting = {}, nil
    c:on('message', function(data, isBinary)
      local m = { data = data, isBinary = isBinary }
      if waiting then local w = waiting; waiting = nil; w(m) else inbox[#inbox + 1] = m end
    end)
    local closed = Promise.new(function(resolve) c:on('close', function(code, reason) resolve({ code, reason }) end) end)
    c:on('error', function() end)
    await(Promise.new(function(resolve, reject)
      c:once('open', resolve)
      c:once('close', function(code) reject('closed before open: ' .. tostring(code)) end)
    end))
    local function next_message()
      if #inbox > 0 then return table.remove(inbox, 1) end
      return await(Promise.new(function(r) waiting = r end))
    end
    return c, next_message, closed
  end

  it('exchanges text, binary, fragmented and 16 MiB messages, and pings both ways', function()
    if not have_ws() then pending('npm ws is not installed (scripts/setup-peers)') return end
    start()
    local ok, err = pcall(function()
      local c, next_message, closed = connect()
      assert.are.equal('chat', c.protocol)
      c:send('héllo')
      assert.are.same({ data = 'héllo', isBinary = false }, next_message())
      c:send('\0\1\255', { binary = true })
      assert.are.same({ data = '\0\1\255', isBinary = true }, next_message())
      c:send('fr', { fin = false }); c:send('ag', { fin = false }); c:send('ment')
      assert.are.same({ data = 'fragment', isBinary = false }, next_message())
      c:send('frag')
      assert.are.same({ data = 'fragment', isBinary = false }, next_message())
      local big = string.rep('0123456789abcdef', 1024 * 1024)
      c:send(big, { binary = true })
      local m = next_message()
      assert.are.equal(#big, #m.data)
      assert.is_true(m.data == big)
      c:send('big:' .. (16 * 1024 * 1024))
      m = next_message()
      assert.are.equal(16 * 1024 * 1024, #m.data)
      assert.is_false(m.isBinary)
      local pinged = Promise.new(function(r) c:once('ping', r) end)
      c:send('ping')
      assert.are.equal('node-ping', await(pinged))
      assert.are.same({ data = 'got-pong:node-ping', isBinary = false }, next_message())
      local ponged = Promise.new(function(r) c:once('pong', r) end)
      c:ping('lua-ping')
      assert.are.equal('lua-ping', await(ponged))
      assert.are.same({ data = 'got-ping:lua-ping', isBinary = false }, next_message())
      c:close(4003, 'lua bye')
      assert.are.same({ 4003, 'lua bye' }, await(closed))
      assert.are.equal(WebSocket.CLOSED, c.readyState)
      assert.is_true(wait_for(function() return node:output():find('"close":4003') ~= nil end))
      local ev = json_lines((node:output()))
      assert.are.same({ close = 4003, reason = 'lua bye', path = '/path?q=1', protocol = 'chat' }, ev[#ev])
    end)
    node:stop()
    assert(ok, err)
  end)

  it('closes with 1007 on invalid UTF-8, 1009 past maxPayload, and hears the server close', function()
    if not have_ws() then pending('npm ws is not installed (scripts/setup-peers)') return end
    start()
    local ok, err = pcall(function()
      local c, _, closed = connect()
      local errs = {}
      c:on('error', function(e) errs[#errs + 1] = e.code end)
      c:send('bad-utf8')
      assert.are.equal(1007, await(closed)[1])
      assert.are.same({ 'WS_ERR_INVALID_UTF8' }, errs)

      local c2, _, closed2 = connect({ maxPayload = 1000 })
      c2:send('big:2000')
      assert.are.equal(1009, await(closed2)[1])

      local c3, _, closed3 = connect()
      c3:send('close:4004:node says bye')
      assert.are.same({ 4004, 'node says bye' }, await(closed3))
      assert.is_true(wait_for(function()
        local n = 0
        for _ in node:output():gmatch('"close"') do n = n + 1 end
        return n >= 3
      end))
      local seen = {}
      for _, e in ipairs(json_lines((node:output()))) do seen[#seen + 1] = e.close end
      table.sort(seen)
      assert.are.same({ 1007, 1009, 4004 }, seen)
    end)
    node:stop()
    assert(ok, err)
  end)
end)
