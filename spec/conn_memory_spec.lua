-- Memory of idle connections: a keep-alive Agent holding 1000 free
-- sockets, and 1000 open WebSockets (both ends in this process), each
-- measured as growth of the Lua heap and of VmRSS per connection once
-- idle, from a baseline taken with the first 50 up (so code loaded by
-- the first connection is not counted).  The Lua heap does not depend on
-- the allocator; the RSS bound is generous, and not checked under
-- sanitizers (their allocators keep freed memory by design).
local http = require('http')
local ws = require('ws')

local W, N = 50, 1000

local rss_kib = require('helpers.memory').rss_kib

local function settle()
  await(Promise.new(function(r) setTimeout(r, 100) end))
  collectgarbage()
  collectgarbage()
  return collectgarbage('count'), rss_kib()
end

local sanitized = (os.getenv('LUSTER_SANITIZE') or '') ~= ''

-- 2 descriptors a connection with both ends here: raise the soft limit
local ffi = require('ffi')
pcall(ffi.cdef, [[
  struct luster_rlimit { unsigned long cur, max; };
  int getrlimit(int, struct luster_rlimit *);
  int setrlimit(int, const struct luster_rlimit *);
]])
local RLIMIT_NOFILE = 7
local lim = ffi.new('struct luster_rlimit')
if ffi.C.getrlimit(RLIMIT_NOFILE, lim) == 0 and lim.cur < 2 * N + 200 then
  lim.cur = math.min(tonumber(lim.max), 4 * N)
  ffi.C.setrlimit(RLIMIT_NOFILE, lim)
end

describe('idle connections', function()
  it('a pooled keep-alive socket holds little: no timer, listener closure, parser or stream state of its own', function()
    local held, want = {}, nil
    local function answer()
      if want and #held >= want.n then
        for i = 1, #held do held[i]:finish('ok') end
        held = {}
        want.res:finish('released')
        want = nil
      end
    end
    local server = http.createServer(function(req, res)
      if req.url == '/hold' then held[#held + 1] = res
      else want = { n = tonumber(req.url:match('n=(%d+)')), res = res } end
      answer()
    end)
    server.keepAliveTimeout = 60000
    await(Promise.new(function(r) server:listen(0, '127.0.0.1', 1024, r) end))
    local port = server:address().port
    local agent = http.Agent { keepAlive = true, maxFreeSockets = 2 * N, timeout = 60000 }
    local function get(path, ag)
      return Promise.new(function(resolve, reject)
        http.get({ host = '127.0.0.1', port = port, path = path, agent = ag }, function(res)
          res:on('data', function() end)
          res:on('end', resolve)
        end):on('error', reject)
      end)
    end
    -- n requests in flight at once (so n sockets), then all answered
    local function phase(n)
      local all = {}
      for i = 1, n do
        all[i] = get('/hold', agent)
        if i % 200 == 0 then await(Promise.new(function(r) setTimeout(r, 10) end)) end
      end
      await(get('/release?n=' .. n, false))
      await(Promise.all(all))
      return settle()
    end
    local lua0, rss0 = phase(W)
    local lua1, rss1 = phase(N)
    assert.are.equal(N, agent.totalSocketCount)
    local free = agent.freeSockets[agent:getName { host = '127.0.0.1', port = port }]
    assert.are.equal(N, #free)
    local sock = free[1]
    assert.is_nil(rawget(sock, '_timer'))          -- the agent sweeps its idle sockets itself
    assert.is_nil(rawget(sock, '_events'))         -- no listener closures
    assert.is_nil(rawget(sock, '_http_parser'))    -- parsers rest in a shared list
    assert.is_nil(rawget(sock, '_rs'))
    assert.is_nil(rawget(sock, '_ws'))
    -- what a socket's state says is computed, not kept on each one
    assert.is_nil(rawget(sock, 'readyState'))
    assert.is_nil(rawget(sock, 'connecting'))
    assert.is_nil(rawget(sock, 'pending'))
    assert.is_nil(rawget(sock, '_conn'))          -- what only the connect needed is gone
    assert.are.equal('open', sock.readyState)
    assert.is_false(sock.connecting)
    assert.is_false(sock.pending)
    local lua_per, rss_per = (lua1 - lua0) / (N - W), (rss1 - rss0) / (N - W)
    -- both ends are in this process: the server's side counts too
    assert.is_true(lua_per < 2.0, ('Lua heap per idle pooled connection: %.2f KiB'):format(lua_per))
    if not sanitized then
      assert.is_true(rss_per < 16, ('RSS per idle pooled connection: %.2f KiB'):format(rss_per))
    end
    -- and the pooled sockets still serve: requests reuse them, none is opened
    await(get('/release?n=0', false))
    for _ = 1, 3 do
      local p = get('/hold', agent)
      await(get('/release?n=1', false))
      await(p)
    end
    assert.are.equal(N, agent.totalSocketCount)
    agent:destroy()
    server:close()
  end)

  it('hands back to the OS what a burst of requests in flight held, once they are answered', function()
    -- each of N requests in flight keeps ~8 KiB of Lua objects of its own
    -- until its response, so the burst's peak is mostly garbage afterwards;
    -- what stays (the pooled sockets) is a small part of it.  An allocator
    -- that keeps its peak (LuaJIT's arena did) fails this.
    local held, want = {}, nil
    local server = http.createServer(function(req, res)
      if req.url == '/hold' then held[#held + 1] = res
      else want = res end
      if want and #held >= N then
        for i = 1, #held do held[i]:finish('ok') end
        held = {}
        want:finish('released')
      end
    end)
    await(Promise.new(function(r) server:listen(0, '127.0.0.1', 1024, r) end))
    local port = server:address().port
    local agent = http.Agent { keepAlive = true, maxFreeSockets = 2 * N, timeout = 60000 }
    local function get(path, ag)
      local own = {}
      for i = 1, 64 do own[i] = { i, ('%d:%d'):format(i, math.random(1e9)) .. ('x'):rep(60) } end
      return Promise.new(function(resolve, reject)
        http.get({ host = '127.0.0.1', port = port, path = path, agent = ag }, function(res)
          res:on('data', function() end)
          res:on('end', function() resolve(#own) end)
        end):on('error', reject)
      end)
    end
    local _, rss0 = settle()
    local all = {}
    for i = 1, N do
      all[i] = get('/hold', agent)
      if i % 200 == 0 then await(Promise.new(function(r) setTimeout(r, 10) end)) end
    end
    while #held < N do await(Promise.new(function(r) setTimeout(r, 10) end)) end
    local _, peak = settle()
    await(get('/release', false))
    await(Promise.all(all))
    local _, after = settle()
    assert.are.equal(N, agent.totalSocketCount)
    if not sanitized then
      assert.is_true(peak - rss0 > 8 * N, ('the burst should hold its objects: %d KiB'):format(peak - rss0))
      assert.is_true(after - rss0 < 0.6 * (peak - rss0),
        ('RSS growth %d KiB at the peak, %d KiB once answered'):format(peak - rss0, after - rss0))
    end
    agent:destroy()
    server:close()
  end)

  it('an open, idle WebSocket holds little on either side', function()
    local wss = ws.WebSocketServer { port = 0, host = '127.0.0.1', backlog = 1024 }
    local served, last_sender = {}, nil
    wss:on('connection', function(s)
      served[#served + 1] = s
      s:on('message', function(d) last_sender = s; s:send('echo:' .. tostring(d)) end)
    end)
    await(Promise.new(function(r) wss:on('listening', r) end))
    local url = ('ws://127.0.0.1:%d/'):format(wss:address().port)
    local clients = {}
    local function open_to(n)
      local opens = {}
      for i = #clients + 1, n do
        local c = WebSocket(url)
        clients[i] = c
        opens[#opens + 1] = Promise.new(function(resolve, reject)
          c:once('open', resolve)
          c:once('error', reject)
        end)
        if i % 200 == 0 then await(Promise.new(function(r) setTimeout(r, 10) end)) end
      end
      await(Promise.all(opens))
      return settle()
    end
    local lua0, rss0 = open_to(W)
    local lua1, rss1 = open_to(N)
    -- between messages neither end holds a frame parser, and the fields
    -- nobody changed stay on the class
    for _, w in ipairs { clients[N], served[N] } do
      assert.is_nil(rawget(w, '_parser'))
      assert.is_nil(rawget(w, 'binaryType'))
      assert.is_nil(rawget(w, '_close_code'))
      assert.are.equal('nodebuffer', w.binaryType)
    end
    local lua_per, rss_per = (lua1 - lua0) / (N - W), (rss1 - rss0) / (N - W)
    assert.is_true(lua_per < 2.6, ('Lua heap per idle WebSocket (both ends): %.2f KiB'):format(lua_per))
    if not sanitized then
      assert.is_true(rss_per < 8, ('RSS per idle WebSocket (both ends): %.2f KiB'):format(rss_per))
    end
    -- idle ones still talk, with backpressure levers intact
    local c = clients[N]
    c:pause()
    c:resume()
    local got = Promise.new(function(resolve) c:once('message', resolve) end)
    c:send('hi')
    assert.are.equal('echo:hi', tostring(await(got)))
    local peer = last_sender
    -- a message in fragments, each its own read: the parser stays while
    -- the message is partial, and rests again after it
    got = Promise.new(function(resolve) c:once('message', resolve) end)
    c:send('frag', { fin = false })
    await(Promise.new(function(r) setTimeout(r, 30) end))
    assert.is_not_nil(rawget(peer, '_parser'))
    c:send('mented')
    assert.are.equal('echo:fragmented', tostring(await(got)))
    assert.is_nil(rawget(peer, '_parser'))
    assert.is_nil(rawget(c, '_parser'))
    local n = 0
    for _ in pairs(wss.clients) do n = n + 1 end
    assert.are.equal(N, n)
    for i = 1, #clients do clients[i]:terminate() end
    await(Promise.new(function(r) setTimeout(r, 300) end))
    n = 0
    for _ in pairs(wss.clients) do n = n + 1 end
    assert.are.equal(0, n)    -- closed ones leave `clients`
    wss:close()
  end)
end)
