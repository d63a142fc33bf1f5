-- fetch, Headers, Request, Response, AbortController (API.md "HTTP client
-- and fetch"), against a luster server and a real Node server.
local http = require('http')
local zlib = require('zlib')
local peer = require('helpers.peer')

local function serve(handler)
  local server = http.createServer(handler)
  await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
  return server, 'http://127.0.0.1:' .. server:address().port
end

local rejects = require('helpers.serve').rejects

describe('fetch', function()
  local server, base
  local hits = {}
  setup(function()
    server, base = serve(function(req, res)
      hits[req.url] = (hits[req.url] or 0) + 1
      local u = req.url
      if u == '/json' then res:json({ hello = 'world', list = { 1, 2 } })
      elseif u == '/text' then res:finish('plain text')
      elseif u == '/echo' then
        local body = await(req:body())
        res:json({ method = req.method, body = body, ctype = req.headers['content-type'],
                   auth = req.headers.authorization, ua = req.headers['user-agent'],
                   encoding = req.headers['accept-encoding'] })
      elseif u:match('^/hop/%d+$') then
        local n = tonumber(u:match('%d+'))
        res:writeHead(302, { Location = n > 0 and ('/hop/' .. (n - 1)) or '/text' })
        res:finish()
      elseif u == '/see-other' then res:writeHead(303, { Location = '/echo' }); res:finish()
      elseif u == '/keep-method' then res:writeHead(307, { Location = '/echo' }); res:finish()
      elseif u == '/gzip' or u == '/br' or u == '/deflate' then
        local text = ('compressed body '):rep(2000)
        local enc, fn = u:sub(2), ({ ['/gzip'] = 'gzipSync', ['/br'] = 'brotliCompressSync', ['/deflate'] = 'deflateSync' })[u]
        local packed = zlib[fn](text)
        res:writeHead(200, { ['Content-Encoding'] = enc, ['Content-Length'] = #packed })
        res:finish(packed)
      elseif u == '/slow' then setTimeout(function() res:finish('late') end, 2000)
      elseif u == '/stream' then
        res:writeHead(200)
        local i = 0
        local function more()
          i = i + 1
          if i > 20 then return res:finish() end
          res:write(('chunk%02d;'):format(i))
          setTimeout(more, 1)
        end
        more()
      elseif u == '/head' then res:writeHead(200, { ['Content-Length'] = 5 }); res:finish(req.method == 'HEAD' and nil or 'hello')
      elseif u == '/nocontent' then res:writeHead(204); res:finish()
      elseif u == '/cookies' then
        res:setHeader('Set-Cookie', { 'a=1', 'b=2' })
        res:setHeader('X-Multi', 'one')
        res:finish('ok')
      else res:writeHead(404); res:finish('not found') end
    end)
  end)
  teardown(function() server:close() end)

  it('gets JSON and text with status, headers and url', function()
    local r = await(fetch(base .. '/json'))
    assert.are.equal(200, r.status)
    assert.is_true(r.ok)
    assert.are.equal(base .. '/json', r.url)
    assert.is_false(r.redirected)
    assert.are.equal('application/json', r.headers:get('Content-Type'))
    local v = await(r:json())
    assert.are.equal('world', v.hello)
    assert.are.same({ 1, 2 }, v.list)
    local t = await(fetch(base .. '/text'))
    assert.are.equal('plain text', await(t:text()))
    assert.is_true(t.bodyUsed)
    local e = rejects(t:text())
    assert.are.equal('TypeError', e.name)
    local nf = await(fetch(base .. '/missing'))
    assert.are.equal(404, nf.status)
    assert.is_false(nf.ok)
  end)

  it('sends bodies of every kind with default headers', function()
    local r = await(await(fetch(base .. '/echo', { method = 'post', body = 'text body' })):json())
    assert.are.same({ 'POST', 'text body', 'text/plain;charset=UTF-8' }, { r.method, r.body, r.ctype })
    assert.are.equal('luster', r.ua)
    assert.are.equal('gzip, deflate, br', r.encoding)
    local params = URLSearchParams({ a = '1', b = 'x y' })
    local f = await(await(fetch(base .. '/echo', { method = 'POST', body = params })):json())
    assert.are.equal('a=1&b=x+y', f.body)
    assert.are.equal('application/x-www-form-urlencoded;charset=UTF-8', f.ctype)
    local u8 = Uint8Array(3)
    u8[0], u8[1], u8[2] = 65, 66, 67
    local b = await(await(fetch(base .. '/echo', { method = 'PUT', body = u8, headers = { ['Content-Type'] = 'x/y' } })):json())
    assert.are.same({ 'PUT', 'ABC', 'x/y' }, { b.method, b.body, b.ctype })
    local s = require('luster.stream').Readable.new {
      read = function(self) self:push('streamed '); self:push('body'); self:push(nil) end,
    }
    local st = await(await(fetch(base .. '/echo', { method = 'POST', body = s })):json())
    assert.are.equal('streamed body', st.body)
  end)

  it('follows redirects up to 20, and honours manual and error', function()
    local r = await(fetch(base .. '/hop/3'))
    assert.are.equal(200, r.status)
    assert.is_true(r.redirected)
    assert.are.equal(base .. '/text', r.url)
    assert.are.equal('plain text', await(r:text()))
    local e = rejects(fetch(base .. '/hop/25'))
    assert.are.equal('TypeError', e.name)
    assert.are.equal('fetch failed', e.message)
    local m = await(fetch(base .. '/hop/1', { redirect = 'manual' }))
    assert.are.equal(302, m.status)
    assert.are.equal('/hop/0', m.headers:get('location'))
    rejects(fetch(base .. '/hop/1', { redirect = 'error' }))
    local see = await(await(fetch(base .. '/see-other', { method = 'POST', body = 'gone' })):json())
    assert.are.same({ 'GET', '' }, { see.method, see.body })
    local keep = await(await(fetch(base .. '/keep-method', { method = 'POST', body = 'kept' })):json())
    assert.are.same({ 'POST', 'kept' }, { keep.method, keep.body })
  end)

  it('decodes gzip, deflate and br bodies it asked for', function()
    for _, enc in ipairs { 'gzip', 'deflate', 'br' } do
      local r = await(fetch(base .. '/' .. enc))
      assert.are.equal(enc, r.headers:get('content-encoding'))
      assert.are.equal(('compressed body '):rep(2000), await(r:text()), enc)
    end
    -- asked for by the caller: left as sent
    local raw = await(fetch(base .. '/gzip', { headers = { ['Accept-Encoding'] = 'gzip' } }))
    assert.are.equal(('compressed body '):rep(2000), zlib.gunzipSync(await(raw:text())))
  end)

  it('streams the response body as it arrives', function()
    local r = await(fetch(base .. '/stream'))
    local parts = {}
    for chunk in r.body:chunks() do parts[#parts + 1] = chunk end
    assert.is_true(#parts > 1)
    assert.are.equal(20 * 8, #table.concat(parts))
  end)

  it('has no body for HEAD and 204', function()
    local h = await(fetch(base .. '/head', { method = 'HEAD' }))
    assert.are.equal(200, h.status)
    assert.is_nil(h.body)
    assert.are.equal('', await(h:text()))
    local n = await(fetch(base .. '/nocontent'))
    assert.are.equal(204, n.status)
    assert.are.equal('', await(n:text()))
  end)

  it('rejects network failures as TypeError with the system code as cause', function()
    local e = rejects(fetch('http://127.0.0.1:' .. peer.free_port() .. '/'))
    assert.are.equal('TypeError', e.name)
    assert.are.equal('fetch failed', e.message)
    assert.are.equal('ECONNREFUSED', e.cause.code)
    local d = rejects(fetch('http://no-such-host.invalid/'))
    assert.are.equal('ENOTFOUND', d.cause.code)
    local bad = rejects(fetch('not a url'))
    assert.are.equal('TypeError', bad.name)
  end)

  it('aborts with AbortController and AbortSignal.timeout', function()
    local c = AbortController()
    local p = fetch(base .. '/slow', { signal = c.signal })
    setTimeout(function() c:abort() end, 20)
    local e = rejects(p)
    assert.are.equal('AbortError', e.name)
    local t = rejects(fetch(base .. '/slow', { signal = AbortSignal.timeout(30) }))
    assert.are.equal('TimeoutError', t.name)
    local already = rejects(fetch(base .. '/text', { signal = AbortSignal.abort() }))
    assert.are.equal('AbortError', already.name)
    local any = AbortSignal.any { AbortController().signal, AbortSignal.timeout(10) }
    assert.are.equal('TimeoutError', rejects(fetch(base .. '/slow', { signal = any })).name)
  end)

  it('reuses keep-alive connections for sequential fetches', function()
    local seen = {}
    local s2, b2 = serve(function(req, res) seen[req.socket.remotePort] = true; res:finish('k') end)
    for _ = 1, 10 do assert.are.equal('k', await(await(fetch(b2 .. '/')):text())) end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.are.equal(1, n)
    s2:close()
  end)

  it('exposes repeated headers as fetch does', function()
    local r = await(fetch(base .. '/cookies'))
    assert.are.same({ 'a=1', 'b=2' }, r.headers:getSetCookie())
    assert.are.equal('one', r.headers:get('x-multi'))
    local names = {}
    for k in r.headers:keys() do names[#names + 1] = k end
    for i = 2, #names do assert.is_true(names[i - 1] <= names[i]) end
  end)

  it('talks to a real Node server', function()
    if not peer.have('node') then pending('node is not installed') return end
    local port = peer.free_port()
    local js = peer.tmp('.js', ([[
      require('http').createServer((req, res) => {
        let b = ''; req.on('data', d => b += d);
        req.on('end', () => { res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ method: req.method, url: req.url, body: b, te: req.headers['transfer-encoding'] || null })); });
      }).listen(%d, '127.0.0.1');
    ]]):format(port))
    local node = peer.start({ 'node', js }, { port = port })
    local ok, err = pcall(function()
      local r = await(await(fetch(('http://127.0.0.1:%d/path?q=1'):format(port), { method = 'POST', body = 'from luster' })):json())
      assert.are.same({ 'POST', '/path?q=1', 'from luster' }, { r.method, r.url, r.body })
      local s = require('luster.stream').Readable.new {
        read = function(self) self:push('a'); self:push('b'); self:push(nil) end,
      }
      local c = await(await(fetch(('http://127.0.0.1:%d/'):format(port), { method = 'POST', body = s })):json())
      assert.are.same({ 'ab', 'chunked' }, { c.body, c.te })
    end)
    node:stop()
    os.remove(js)
    assert(ok, err)
  end)
end)

describe('Headers, Request and Response', function()
  it('treats header names case-insensitively and validates them', function()
    local h = Headers({ ['Content-Type'] = 'text/html', ['X-A'] = '1' })
    h:append('x-a', '2')
    assert.are.equal('1, 2', h:get('X-A'))
    assert.is_true(h:has('content-type'))
    h:delete('CONTENT-TYPE')
    assert.is_false(h:has('content-type'))
    local ok, e = pcall(h.set, h, 'bad name', 'v')
    assert.is_false(ok)
    assert.are.equal('TypeError', e.name)
    ok = pcall(h.set, h, 'x', 'a\r\nb')
    assert.is_false(ok)
    local copy = Headers(h)
    copy:set('x-a', 'changed')
    assert.are.equal('1, 2', h:get('x-a'))
  end)

  it('builds responses and requests locally', function()
    local r = Response('hello', { status = 201, headers = { ['X-Y'] = 'z' } })
    assert.are.equal(201, r.status)
    assert.are.equal('z', r.headers:get('x-y'))
    assert.are.equal('hello', await(r:text()))
    local j = Response.json({ a = 1 })
    assert.are.equal('application/json', j.headers:get('content-type'))
    assert.are.same({ a = 1 }, await(j:json()))
    assert.are.equal(302, Response.redirect('http://x/').status)
    assert.are.equal(0, Response.error().status)
    local ok = pcall(Response, 'x', { status = 99 })
    assert.is_false(ok)
    local req = Request('http://example.com/a', { method = 'post', body = 'b' })
    assert.are.equal('POST', req.method)
    assert.are.equal('http://example.com/a', req.url)
    assert.are.equal('b', await(req:text()))
    assert.is_false((pcall(Request, 'http://x/', { method = 'GET', body = 'no' })))
  end)

  it('aborts signals once and tells listeners', function()
    local c = AbortController()
    local calls = 0
    c.signal:addEventListener('abort', function(ev) calls = calls + 1; assert.are.equal('abort', ev.type) end)
    c.signal.onabort = function() calls = calls + 10 end
    c:abort('why')
    c:abort('again')
    assert.are.equal(11, calls)
    assert.is_true(c.signal.aborted)
    assert.are.equal('why', c.signal.reason)
    local ok, e = pcall(c.signal.throwIfAborted, c.signal)
    assert.is_false(ok)
    assert.are.equal('why', e)
  end)
end)
