-- The HTTP client and server against real peers: Node's http as a server
-- for luster's client and as a client of a luster server, nginx as an
-- upstream, and nginx as a reverse proxy (keep-alive upstream) in front of
-- a luster server driven by luster's client.
local http = require('http')
local json = require('json')
local peer = require('helpers.peer')
local nginx = require('helpers.nginx')

local function serve(handler)
  local server = http.createServer(handler)
  await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
  return server, server:address().port
end

local function close(server) await(Promise.new(function(r) server:close(r) end)) end

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

-- Run fn, then always cleanup; re-raise fn's failure.
local function with(cleanup, fn)
  local ok, e = pcall(fn)
  cleanup()
  assert(ok, e)
end

describe("luster's client against Node's http server", function()
  if not peer.have('node') then it('needs node', function() pending('node is not installed') end) return end
  local node, port, js
  setup(function()
    port = peer.free_port()
    js = peer.tmp('.js', ([[
      const http = require('http');
      http.createServer((req, res) => {
        let body = '';
        req.on('data', d => body += d);
        req.on('end', () => {
          if (req.url === '/echo') {
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify({ method: req.method, body, te: req.headers['transfer-encoding'] || null,
              cl: req.headers['content-length'] || null, multi: req.headers['x-multi'] || null,
              port: req.socket.remotePort }));
          } else if (req.url === '/chunked') {
            res.setHeader('set-cookie', ['a=1', 'b=2']);
            res.write('one;'); setTimeout(() => { res.write('two;'); res.end('three'); }, 5);
          } else if (req.url === '/hints') {
            res.writeEarlyHints({ link: '</s.css>; rel=preload; as=style' });
            res.end('hinted');
          } else if (req.url === '/204') { res.statusCode = 204; res.end(); }
          else if (req.url === '/head') { res.setHeader('content-length', 4); res.end(req.method === 'HEAD' ? undefined : 'body'); }
          else { res.statusCode = 404; res.end('no'); }
        });
      }).listen(%d, '127.0.0.1');
    ]]):format(port))
    node = peer.start({ 'node', js }, { port = port })
  end)
  teardown(function() node:stop(); os.remove(js) end)

  it('sends methods, repeated headers and chunked bodies, over one kept-alive connection', function()
    local agent = http.Agent { keepAlive = true }
    local ports = {}
    for _, m in ipairs { 'GET', 'POST', 'PUT', 'DELETE' } do
      local r = await(exchange({ host = '127.0.0.1', port = port, path = '/echo', method = m, agent = agent,
        headers = { ['X-Multi'] = { 'x', 'y' } } },
        function(req)
          if m == 'GET' then return req:finish() end
          req:write(m .. '-1;')
          req:write(m .. '-2')
          req:finish()
        end))
      local v = json.decode(r.body)
      assert.are.equal(m, v.method)
      assert.are.equal('x, y', v.multi)
      if m ~= 'GET' then
        assert.are.same({ m .. '-1;' .. m .. '-2', 'chunked' }, { v.body, v.te })
      end
      ports[v.port] = true
    end
    local n = 0
    for _ in pairs(ports) do n = n + 1 end
    assert.are.equal(1, n)
    local whole = json.decode(await(exchange({ host = '127.0.0.1', port = port, path = '/echo', method = 'POST', agent = agent },
      function(req) req:finish('whole') end)).body)
    assert.are.same({ 'whole', '5' }, { whole.body, whole.cl })
    agent:destroy()
  end)

  it('reads chunked responses, Set-Cookie arrays, 103, 204 and HEAD', function()
    local c = await(exchange { host = '127.0.0.1', port = port, path = '/chunked' })
    assert.are.equal('one;two;three', c.body)
    assert.are.equal('chunked', c.res.headers['transfer-encoding'])
    assert.are.same({ 'a=1', 'b=2' }, c.res.headers['set-cookie'])
    local infos = {}
    local h = await(exchange({ host = '127.0.0.1', port = port, path = '/hints' }, function(req)
      req:on('information', function(i) infos[#infos + 1] = i end)
      req:finish()
    end))
    assert.are.equal('hinted', h.body)
    assert.are.equal(103, infos[1] and infos[1].statusCode)
    assert.are.equal('</s.css>; rel=preload; as=style', infos[1].headers.link)
    local n = await(exchange { host = '127.0.0.1', port = port, path = '/204' })
    assert.are.same({ 204, '' }, { n.res.statusCode, n.body })
    local hd = await(exchange { host = '127.0.0.1', port = port, path = '/head', method = 'HEAD' })
    assert.are.same({ 200, '4', '' }, { hd.res.statusCode, hd.res.headers['content-length'], hd.body })
    -- the connection after HEAD and 204 still frames correctly
    assert.are.equal('one;two;three', await(exchange { host = '127.0.0.1', port = port, path = '/chunked' }).body)
  end)
end)

describe("Node's http client against a luster server", function()
  if not peer.have('node') then it('needs node', function() pending('node is not installed') end) return end

  it('gets, posts chunked bodies, sees Set-Cookie arrays, 100-continue and keep-alive', function()
    local seen = {}
    local server, port = serve(function(req, res)
      seen[req.socket.remotePort] = true
      local body = await(req:body())
      if req.url == '/cookies' then res:setHeader('Set-Cookie', { 'a=1', 'b=2' }) end
      if req.url == '/chunked' then
        res:write('x;'); res:write('y;'); return res:finish('z')
      end
      res:json({ method = req.method, body = body, te = req.headers['transfer-encoding'] })
    end)
    local js = peer.tmp('.js', ([[
      const http = require('http');
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const base = { host: '127.0.0.1', port: %d, agent };
      function go(opts, write) {
        return new Promise((resolve, reject) => {
          const req = http.request({ ...base, ...opts }, res => {
            let b = ''; res.on('data', d => b += d);
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: b, reused: req.reusedSocket }));
          });
          req.on('error', reject);
          req.on('continue', () => { req.continued = true; req.end('after continue'); });
          if (write) write(req); else req.end();
        });
      }
      (async () => {
        const out = {};
        out.get = await go({ path: '/get' });
        out.post = await go({ path: '/post', method: 'POST' }, r => { r.write('a'); r.write('b'); r.end('c'); });
        out.cookies = await go({ path: '/cookies' });
        out.chunked = await go({ path: '/chunked' });
        out.cont = await go({ path: '/c', method: 'PUT', headers: { Expect: '100-continue' } }, () => {});
        console.log(JSON.stringify(out));
        agent.destroy();
      })().catch(e => { console.error(e); process.exit(1); });
    ]]):format(port))
    local r = await(peer.run({ 'node', js }))
    os.remove(js)
    close(server)
    assert.are.equal(0, r.code, r.err)
    local out = json.decode(r.out)
    assert.are.same({ 200, 'GET' }, { out.get.status, json.decode(out.get.body).method })
    local post = json.decode(out.post.body)
    assert.are.same({ 'abc', 'chunked' }, { post.body, post.te })
    assert.are.same({ 'a=1', 'b=2' }, out.cookies.headers['set-cookie'])
    assert.are.equal('x;y;z', out.chunked.body)
    assert.are.equal('after continue', json.decode(out.cont.body).body)
    assert.is_true(out.post.reused)
    assert.is_true(out.cont.reused)
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.are.equal(1, n)
  end)
end)

describe('nginx as an upstream', function()
  if not nginx.have() then it('needs nginx', function() pending('nginx is not installed') end) return end

  it('answers return 200 and a static file over kept-alive connections', function()
    local big = ('static file line\n'):rep(5000)
    local n = nginx.start {
      server = [[
        location = /r { return 200 "from nginx"; }
        location = /c { return 200 "$connection $connection_requests"; }]],
      files = { ['f.txt'] = big },
    }
    with(function() n:stop() end, function()
      local agent = http.Agent { keepAlive = true, maxSockets = 4 }
      local ps = {}
      for i = 1, 200 do
        ps[i] = exchange { host = '127.0.0.1', port = n.port, path = i % 4 == 0 and '/f.txt' or '/r', agent = agent }
      end
      for i = 1, 200 do
        local r = await(ps[i])
        assert.are.equal(200, r.res.statusCode)
        assert.are.equal(i % 4 == 0 and big or 'from nginx', r.body)
      end
      assert.is_true(agent.totalSocketCount <= 4)
      -- nginx's own view: a few connections, each carrying many requests
      local ids, cs = {}, {}
      for i = 1, 8 do cs[i] = exchange { host = '127.0.0.1', port = n.port, path = '/c', agent = agent } end
      for i = 1, 8 do
        local id, count = await(cs[i]).body:match('^(%d+) (%d+)$')
        ids[id] = true
        assert.is_true(tonumber(count) > 1, 'a request on a fresh nginx connection')
      end
      local distinct = 0
      for _ in pairs(ids) do distinct = distinct + 1 end
      assert.is_true(distinct <= 4)
      local h = await(exchange { host = '127.0.0.1', port = n.port, path = '/f.txt', method = 'HEAD', agent = agent })
      assert.are.same({ 200, tostring(#big), '' }, { h.res.statusCode, h.res.headers['content-length'], h.body })
      local e = await(exchange { host = '127.0.0.1', port = n.port, path = '/missing', agent = agent })
      assert.are.equal(404, e.res.statusCode)
      local f = await(fetch('http://127.0.0.1:' .. n.port .. '/r'))
      assert.are.equal('from nginx', await(f:text()))
      agent:destroy()
    end)
  end)
end)

describe('nginx as a reverse proxy in front of a luster server', function()
  if not nginx.have() then it('needs nginx', function() pending('nginx is not installed') end) return end

  it('serves many requests through keep-alive upstream connections', function()
    local conns = {}
    local server, port = serve(function(req, res)
      conns[req.socket.remotePort] = true
      if req.method == 'POST' then
        return res:finish('posted:' .. await(req:body()))
      end
      res:setHeader('X-Upstream', 'luster')
      res:finish('proxied ' .. req.url)
    end)
    local n = nginx.start {
      http = ('upstream luster { server 127.0.0.1:%d; keepalive 16; }'):format(port),
      server = [[
        location / {
          proxy_pass http://luster;
          proxy_http_version 1.1;
          proxy_set_header Connection "";
        }]],
    }
    with(function() n:stop(); close(server) end, function()
      local agent = http.Agent { keepAlive = true, maxSockets = 8 }
      local total, ok = 0, 0
      for batch = 1, 25 do
        local ps = {}
        for i = 1, 20 do
          total = total + 1
          local path = '/item/' .. batch .. '/' .. i
          if i == 20 then
            ps[i] = exchange({ host = '127.0.0.1', port = n.port, path = '/post', method = 'POST', agent = agent },
              function(req) req:write('chunk-a;'); req:finish('chunk-b') end)
          else
            ps[i] = exchange { host = '127.0.0.1', port = n.port, path = path, agent = agent }
          end
        end
        for i = 1, 20 do
          local r = await(ps[i])
          assert.are.equal(200, r.res.statusCode, n:errors())
          if i == 20 then
            assert.are.equal('posted:chunk-a;chunk-b', r.body)
          else
            assert.are.equal('proxied /item/' .. batch .. '/' .. i, r.body)
            assert.are.equal('luster', r.res.headers['x-upstream'])
          end
          ok = ok + 1
        end
      end
      assert.are.equal(500, total)
      assert.are.equal(total, ok)
      local upstream = 0
      for _ in pairs(conns) do upstream = upstream + 1 end
      -- nginx keeps its upstream connections alive: a handful, not 500
      assert.is_true(upstream <= 16, upstream .. ' upstream connections')
      assert.is_true(agent.totalSocketCount <= 8)
      agent:destroy()
    end)
  end)
end)
