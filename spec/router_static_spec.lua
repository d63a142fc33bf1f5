-- router.static (issue 8 §6): files by extension, validators and 304,
-- ranges, HEAD, directory index, and no way out of the directory.
local H = require('helpers.http')
local batch = require('helpers.batch')
local run = require('helpers.run')

local SECRET = 'TOP-SECRET-OUTSIDE'

local function write(path, data)
  local f = assert(io.open(path, 'wb'))
  f:write(data)
  f:close()
end

-- 3 MiB that differ at every offset class, so a wrong range shows
local function big_content()
  local parts = {}
  for i = 0, 3 * 1024 * 16 - 1 do parts[#parts + 1] = ('%063d\n'):format(i) end
  return table.concat(parts)
end

describe('router.static', function()
  local dir, root, srv, big
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    root = dir .. '/public'
    assert(os.execute(('mkdir -p %s/sub %s/emptydir %s/outside'):format(run.quote(root), run.quote(root),
      run.quote(dir))) == 0)
    write(root .. '/index.html', '<h1>home</h1>')
    write(root .. '/a.txt', 'hello text')
    write(root .. '/style.css', 'body{}')
    write(root .. '/sub/index.html', '<h1>sub</h1>')
    write(root .. '/.secret', 'dotfile')
    write(root .. '/empty.txt', '')
    write(root .. '/%2e%2e', 'literal name')
    write(dir .. '/outside/secret.txt', SECRET)
    write(dir .. '/public-other.txt', SECRET) -- a sibling whose name starts like root
    big = big_content()
    write(root .. '/big.bin', big)
    assert(os.execute(('ln -s %s %s'):format(run.quote(dir .. '/outside/secret.txt'), run.quote(root .. '/escape.txt'))) == 0)
    assert(os.execute(('ln -s %s %s'):format(run.quote(dir .. '/outside'), run.quote(root .. '/outdir'))) == 0)
    -- sparse: takes no disk, reads as zeros
    assert(os.execute(('truncate -s 256M %s'):format(run.quote(root .. '/huge.bin'))) == 0)
    assert(os.execute(('ln -s a.txt %s'):format(run.quote(root .. '/inlink.txt'))) == 0)
    srv = H.serve(([==[
local router = require('router')
local app = router()
local root = %q
app:use('/static', router.static(root))
app:get('/static/fallback', function(req, res) res:send('fell through') end)
app:use('/strict', router.static(root, { fallthrough = false, dotfiles = 'deny' }))
app:use('/plain', router.static(root, { index = false, redirect = false, maxAge = '1h', etag = false }))
app:use(router.static(root .. '/sub'))
app:get('/file/:name', function(req, res) res:sendFile(req.params.name, { root = root }) end)
app:get('/abs', function(req, res) res:sendFile(root .. '/a.txt') end)
app:get('/relative', function(req, res) res:sendFile('a.txt') end)
app:get('/rss', function(req, res)
  local f = io.open('/proc/self/status')
  local s = f:read('*a')
  f:close()
  res:send(s:match('VmHWM:%%s*(%%d+)'))
end)
app:use(function(err, req, res, nxt) res:status(err.status or 500):send('error ' .. tostring(err.status)) end)
app:listen(0, '127.0.0.1', function() console.log('port', app.server:address().port) end)
]==]):format(root))
  end)
  teardown(function()
    if srv then srv:stop() end
    if dir then os.execute('rm -rf ' .. run.quote(dir)) end
  end)

  it('serves files with their Content-Type, Content-Length, ETag and Last-Modified', function()
    local r = batch(srv.port, { { 'GET', '/static/a.txt' }, { 'GET', '/static/style.css' },
      { 'GET', '/static/index.html' }, { 'GET', '/static/big.bin' }, { 'GET', '/static/empty.txt' } })
    assert.are.equal(200, r[1].status)
    assert.are.equal('hello text', r[1].body)
    assert.are.equal('text/plain; charset=utf-8', r[1].headers['content-type'])
    assert.are.equal('10', r[1].headers['content-length'])
    assert.matches('^W/"%x+%-%x+"$', r[1].headers['etag'])
    assert.matches('^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$', r[1].headers['last-modified'])
    assert.are.equal('bytes', r[1].headers['accept-ranges'])
    assert.are.equal('text/css; charset=utf-8', r[2].headers['content-type'])
    assert.are.equal('text/html; charset=utf-8', r[3].headers['content-type'])
    assert.are.equal('application/octet-stream', r[4].headers['content-type'])
    assert.are.equal(#big, #r[4].body)
    assert.is_true(r[4].body == big, 'the large file arrives whole and in order')
    assert.are.equal(200, r[5].status)
    assert.are.equal('', r[5].body)
  end)

  it('answers HEAD with the headers only', function()
    local r = batch(srv.port, { { 'HEAD', '/static/big.bin' } })
    assert.are.equal(200, r[1].status)
    assert.are.equal(tostring(#big), r[1].headers['content-length'])
    assert.are.equal('', r[1].body)
  end)

  it('answers 304 to a matching If-None-Match or a not-older If-Modified-Since', function()
    local first = batch(srv.port, { { 'GET', '/static/a.txt' } })[1]
    local etag, lm = first.headers['etag'], first.headers['last-modified']
    local r = batch(srv.port, {
      { 'GET', '/static/a.txt', headers = { ['If-None-Match'] = etag } },
      { 'GET', '/static/a.txt', headers = { ['If-None-Match'] = '"other", ' .. etag } },
      { 'GET', '/static/a.txt', headers = { ['If-None-Match'] = '"other"' } },
      { 'GET', '/static/a.txt', headers = { ['If-Modified-Since'] = lm } },
      { 'GET', '/static/a.txt', headers = { ['If-Modified-Since'] = 'Thu, 01 Jan 1970 00:00:00 GMT' } },
      { 'GET', '/static/a.txt', headers = { ['If-None-Match'] = '"other"', ['If-Modified-Since'] = lm } },
      { 'GET', '/static/a.txt', headers = { ['If-None-Match'] = etag, ['Cache-Control'] = 'no-cache' } },
      { 'GET', '/static/a.txt', headers = { ['If-Match'] = '"other"' } },
      { 'GET', '/static/a.txt', headers = { ['If-Unmodified-Since'] = 'Thu, 01 Jan 1970 00:00:00 GMT' } },
    })
    assert.are.equal(304, r[1].status)
    assert.are.equal('', r[1].body)
    assert.are.equal(etag, r[1].headers['etag'])
    assert.are.equal(304, r[2].status)
    assert.are.equal(200, r[3].status)
    assert.are.equal(304, r[4].status)
    assert.are.equal(200, r[5].status)
    assert.are.equal(200, r[6].status) -- If-None-Match decides when present
    assert.are.equal(200, r[7].status)
    assert.are.equal(412, r[8].status)
    assert.are.equal(412, r[9].status)
  end)

  it('serves one byte range with 206 and refuses an unsatisfiable one with 416', function()
    local size = #big
    local etag = batch(srv.port, { { 'HEAD', '/static/big.bin' } })[1].headers['etag']
    local r = batch(srv.port, {
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=0-9' } },
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=-5' } },
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=100000-' } },
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=' .. size .. '-' } },
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=9-2' } },
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=0-1,5-6' } },
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=10-19', ['If-Range'] = etag } },
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=10-19', ['If-Range'] = '"stale"' } },
      { 'GET', '/static/big.bin', headers = { Range = 'bytes=65530-65545' } },
      { 'GET', '/static/big.bin', headers = { Range = 'items=0-1' } },
      { 'GET', '/static/empty.txt', headers = { Range = 'bytes=0-0' } },
    })
    assert.are.equal(206, r[1].status)
    assert.are.equal(big:sub(1, 10), r[1].body)
    assert.are.equal('bytes 0-9/' .. size, r[1].headers['content-range'])
    assert.are.equal('10', r[1].headers['content-length'])
    assert.are.equal(big:sub(-5), r[2].body)
    assert.are.equal(('bytes %d-%d/%d'):format(size - 5, size - 1, size), r[2].headers['content-range'])
    assert.are.equal(size - 100000, #r[3].body)
    assert.is_true(big:sub(100001) == r[3].body)
    assert.are.equal(416, r[4].status)
    assert.are.equal('bytes */' .. size, r[4].headers['content-range'])
    assert.are.equal(200, r[5].status)
    assert.are.equal(200, r[6].status)
    assert.are.equal(size, #r[6].body)
    assert.are.equal(206, r[7].status)
    assert.are.equal(big:sub(11, 20), r[7].body)
    assert.are.equal(200, r[8].status)
    assert.are.equal(big:sub(65531, 65546), r[9].body) -- across a read boundary
    assert.are.equal(200, r[10].status)
    assert.are.equal(416, r[11].status)
  end)

  it('serves index.html for a directory and redirects one without its slash', function()
    local r = batch(srv.port, {
      { 'GET', '/static/sub/' }, { 'GET', '/static/sub' }, { 'GET', '/static/sub?x=1' },
      { 'GET', '/static' }, { 'GET', '/static/' }, { 'GET', '/static/emptydir/' },
      { 'GET', '/plain/sub/' }, { 'GET', '/plain/sub' }, { 'GET', '/' }, { 'GET', '//evil.example/sub' },
    })
    assert.are.equal('<h1>sub</h1>', r[1].body)
    assert.are.equal(301, r[2].status)
    assert.are.equal('/static/sub/', r[2].headers['location'])
    assert.are.equal('/static/sub/?x=1', r[3].headers['location'])
    assert.are.equal('/static/', r[4].headers['location'])
    assert.are.equal('<h1>home</h1>', r[5].body)
    assert.are.equal(404, r[6].status)
    assert.are.equal(404, r[7].status) -- index = false
    assert.are.equal(404, r[8].status) -- redirect = false
    assert.are.equal('<h1>sub</h1>', r[9].body) -- mounted at /, on the sub directory
    assert.is_not.equal('//evil.example/sub/', r[10].headers['location'])
  end)

  it('takes its options: maxAge, etag = false', function()
    local r = batch(srv.port, { { 'GET', '/plain/a.txt' }, { 'GET', '/static/a.txt' } })
    assert.are.equal('public, max-age=3600', r[1].headers['cache-control'])
    assert.is_nil(r[1].headers['etag'])
    assert.are.equal('public, max-age=0', r[2].headers['cache-control'])
  end)

  it('passes on to later routes what it does not serve (fallthrough), or fails with the status', function()
    local r = batch(srv.port, {
      { 'GET', '/static/fallback' }, { 'POST', '/static/a.txt' }, { 'GET', '/static/nope.txt' },
      { 'GET', '/strict/nope.txt' }, { 'POST', '/strict/a.txt' },
    })
    assert.are.equal('fell through', r[1].body)
    assert.are.equal(404, r[2].status)
    assert.are.equal(404, r[3].status)
    assert.are.equal('error 404', r[4].body)
    assert.are.equal(405, r[5].status)
    assert.are.equal('GET, HEAD', r[5].headers['allow'])
  end)

  it('never serves a file outside its directory, however the path is spelled', function()
    local tries = {
      '/static/../outside/secret.txt', '/static/%2e%2e/outside/secret.txt', '/static/%2E%2E/%2E%2E/etc/passwd',
      '/static/..%2foutside%2fsecret.txt', '/static/..%5coutside%5csecret.txt', '/static/..\\outside\\secret.txt',
      '/static/a.txt%00.html', '/static/%00', '/static/escape.txt', '/static/outdir/secret.txt',
      '/static/../public-other.txt', '/static/%2e%2e%2fpublic-other.txt', '/static/sub/../../outside/secret.txt',
      '/static/%zz', '/static/.secret',
    }
    local reqs, strict = {}, {}
    for i, p in ipairs(tries) do
      reqs[i] = { 'GET', p }
      strict[i] = { 'GET', (p:gsub('^/static', '/strict')) }
    end
    local r, s = batch(srv.port, reqs), batch(srv.port, strict)
    for i, p in ipairs(tries) do
      assert.are.equal(404, r[i].status, p) -- fallthrough: nothing else answers it
      assert.is_nil(r[i].body:find(SECRET, 1, true), p)
      assert.is_true(s[i].status == 400 or s[i].status == 403 or s[i].status == 404, p .. ' ' .. s[i].status)
      assert.is_nil(s[i].body:find(SECRET, 1, true), p)
    end
    assert.are.equal('error 400', s[2].body) -- %2e%2e
    assert.are.equal('error 400', s[4].body) -- %2f
    assert.are.equal('error 400', s[7].body) -- NUL
    assert.are.equal('error 404', s[9].body) -- a link out of the directory
    assert.are.equal('error 403', s[15].body) -- dotfiles = 'deny'
  end)

  it('sends one file with res:sendFile, refusing what would leave its root', function()
    local r = batch(srv.port, {
      { 'GET', '/file/a.txt' }, { 'GET', '/abs', headers = { Range = 'bytes=0-4' } }, { 'GET', '/file/nope.txt' },
      { 'GET', '/file/..%2fpublic-other.txt' }, { 'GET', '/file/.secret' }, { 'GET', '/relative' },
    })
    assert.are.equal('hello text', r[1].body)
    assert.are.equal('text/plain; charset=utf-8', r[1].headers['content-type'])
    assert.are.equal(206, r[2].status)
    assert.are.equal('hello', r[2].body)
    assert.are.equal('error 404', r[3].body)
    assert.are.equal('error 403', r[4].body)
    assert.are.equal('error 404', r[5].body)
    assert.are.equal(500, r[6].status) -- a relative path without root is the handler's mistake
  end)

  it('serves nothing from outside for any mix of dots, slashes, escapes and NULs', function()
    local tokens = { '..', '.', '/', '//', '%2e', '%2E', '%2f', '%2F', '%5c', '\\', '%00', '%252e', 'outside',
      'secret.txt', 'public-other.txt', 'escape.txt', 'outdir', 'sub', '%', '%e', '.%2e', '%2e.', 'a.txt' }
    math.randomseed(8)
    local reqs = {}
    for i = 1, 300 do
      local parts = {}
      for j = 1, math.random(1, 8) do parts[j] = tokens[math.random(#tokens)] end
      reqs[i] = { 'GET', (i % 2 == 0 and '/strict/' or '/static/') .. table.concat(parts) }
    end
    local r = batch(srv.port, reqs)
    for i, q in ipairs(r) do
      assert.is_nil(q.body:find(SECRET, 1, true), reqs[i][2])
      assert.is_true(q.status == 200 or q.status == 301 or (q.status >= 400 and q.status < 500), reqs[i][2])
    end
  end)

  it('follows a symbolic link that stays inside, and serves a name that only looks encoded', function()
    local r = batch(srv.port, { { 'GET', '/static/inlink.txt' }, { 'GET', '/static/%252e%252e' } })
    assert.are.equal('hello text', r[1].body)
    assert.are.equal('literal name', r[2].body)
  end)

  it('streams a large file to a client that does not read, without holding it in memory', function()
    local out = H.py(srv.port, [[
import socket, time, http.client
def rss():
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=10)
    c.request('GET', '/rss')
    return int(c.getresponse().read())
before = rss()
s = socket.create_connection(('127.0.0.1', PORT))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b'GET /static/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n')
time.sleep(1.5)
during = rss()
got = 0
s.settimeout(10)
while got < 4 * 1024 * 1024:
    b = s.recv(1 << 20)
    if not b: break
    got += len(b)
s.close()
print(before, during, got)
]])
    local before, during, got = out:match('(%d+) (%d+) (%d+)')
    assert.truthy(before, out)
    -- kB: the whole file would be 262144; a queue or two is a few hundred
    assert.is_true(tonumber(during) - tonumber(before) < 32 * 1024, out)
    assert.is_true(tonumber(got) >= 4 * 1024 * 1024, out)
  end)
end)

describe('router.static arguments', function()
  local router = require('router')
  it('requires a root directory string and an options table', function()
    local ok, e = pcall(router.static)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
    ok, e = pcall(router.static, '/tmp', 'x')
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
    ok, e = pcall(router.static, '/tmp', { maxAge = 'soon' })
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_VALUE', e.code)
  end)
end)
