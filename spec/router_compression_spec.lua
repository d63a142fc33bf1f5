-- router.compression (issue 10, the zlib section of the contract):
-- negotiation by Accept-Encoding with q-values, the skip rules, one-shot
-- and streamed bodies, decoded by curl, gzip -d, brotli -d, Node and
-- luster's own fetch; a streamed body to a slow reader in bounded memory.
local H = require('helpers.http')
local batch = require('helpers.batch')
local run = require('helpers.run')
local zlib = require('zlib')
local crypto = require('crypto')
local json = require('json')

local function sha(s) return crypto.createHash('sha256'):update(s):digest('hex') end
local function have(cmd) return os.execute('command -v ' .. cmd .. ' >/dev/null 2>&1') == 0 end

-- the body the server sends: ~27 KB of text, the same on both sides
local TEXT_SRC = [[local parts = {}
for i = 1, 600 do parts[i] = ('line %d: the quick brown fox jumps over the lazy dog\n'):format(i) end
local TEXT = table.concat(parts)]]
local TEXT = assert(loadstring(TEXT_SRC .. '\nreturn TEXT'))()

local SERVER = TEXT_SRC .. [==[

local router = require('router')
local zlib = require('zlib')
local crypto = require('crypto')
local app = router()

-- middleware before compression that looks at the response when it is done
local seen = {}
app:use(function(req, res, nxt)
  res:on('finish', function()
    seen[req.url] = { status = res.statusCode, encoding = res:getHeader('content-encoding') or false,
      vary = res:getHeader('vary') or false, type = res:getHeader('content-type') or false }
  end)
  nxt()
end)
app:get('/seen', function(req, res) res:json(seen[req.query.url] or {}) end)
app:get('/rss', function(req, res)
  collectgarbage('collect') -- count what is held, not garbage not yet collected
  local f = io.open('/proc/self/status')
  local s = f:read('*a')
  f:close()
  res:send(s:match('VmRSS:%s*(%d+)'))
end)

-- options: their own router, mounted before the app-wide middleware
local opts = router.Router()
opts:use(router.compression({ threshold = 0, level = 1,
  filter = function(req, res) return req.headers['x-compress'] == 'yes' end }))
opts:get('/tiny', function(req, res) res:type('text'); res:send('tiny') end)
opts:get('/binary', function(req, res) res:type('png'); res:send(TEXT) end)
app:use('/opts', opts)

local big = router.Router()
big:use(router.compression({ threshold = '2kb', brotli = { params = { [zlib.constants.BROTLI_PARAM_QUALITY] = 11 } } }))
big:get('/1500', function(req, res) res:type('text'); res:send(TEXT:sub(1, 1500)) end)
big:get('/3000', function(req, res) res:type('text'); res:send(TEXT:sub(1, 3000)) end)
app:use('/threshold', big)

app:use(router.compression())
app:get('/text', function(req, res) res:type('text'); res:send(TEXT) end)
app:get('/json', function(req, res)
  local list = {}
  for i = 1, 300 do list[i] = { id = i, name = 'item ' .. i } end
  res:json(list)
end)
app:get('/small', function(req, res) res:type('text'); res:send('small body') end)
app:get('/png', function(req, res) res:type('png'); res:send(TEXT) end)
app:get('/untyped', function(req, res) res:finish(TEXT) end)
app:get('/encoded', function(req, res)
  res:set('Content-Encoding', 'gzip'); res:type('text'); res:send(zlib.gzipSync(TEXT))
end)
app:get('/notransform', function(req, res)
  res:set('Cache-Control', 'public, no-transform'); res:type('text'); res:send(TEXT)
end)
app:get('/204', function(req, res) res:status(204); res:type('text'); res:finish() end)
app:get('/304', function(req, res) res:status(304); res:type('text'); res:finish() end)
app:get('/206', function(req, res)
  res:status(206); res:type('text'); res:set('Content-Range', 'bytes 0-1999/' .. #TEXT); res:send(TEXT:sub(1, 2000))
end)
app:get('/flushed', function(req, res)
  res:type('text')
  res:write(TEXT:sub(1, 2000))
  res:flush() -- what the compressor holds goes out now, not at the end
  setTimeout(function() res:finish(TEXT:sub(2001, 4000)) end, 1500)
end)
app:get('/declared-small', function(req, res)
  res:type('text'); res:setHeader('Content-Length', 10); res:write('0123456789'); res:finish()
end)
app:get('/declared-big', function(req, res)
  res:type('text'); res:setHeader('Content-Length', #TEXT)
  res:write(TEXT:sub(1, 1000)); res:write(TEXT:sub(1001)); res:finish()
end)
app:get('/vary', function(req, res) res:set('Vary', 'Origin'); res:type('text'); res:send(TEXT) end)
app:get('/writehead', function(req, res)
  res:writeHead(201, { ['Content-Type'] = 'text/plain', ['Content-Length'] = #TEXT })
  res:finish(TEXT)
end)
app:get('/large', function(req, res) res:type('text'); res:send(TEXT:rep(12)) end) -- over 64 KiB: threadpool
app:get('/streamed', function(req, res)
  res:type('text')
  for i = 1, 20 do res:write(TEXT:sub((i - 1) * 1000 + 1, i * 1000)) end
  res:finish(TEXT:sub(20001))
end)
app:get('/piped', function(req, res)
  res:type('text')
  local src = zlib.createGunzip() -- a readable stream of TEXT
  src:pipe(res)
  src:finish(zlib.gzipSync(TEXT))
end)
app:get('/fails', function(req, res)
  res:type('text'); res:write(TEXT:sub(1, 100)); error({ status = 418, message = 'teapot' })
end)

-- 8 MiB of random bytes (they do not compress, so what the kernel's
-- socket buffers absorb is not mistaken for backpressure), written as
-- fast as res:write allows; /progress says how much was handed over
local progress, digest = 0, nil
local STREAM_SIZE = 8 * 1024 * 1024
app:get('/stream', function(req, res)
  res:type('text')
  local h = crypto.createHash('sha256')
  progress, digest = 0, nil
  local function go()
    while progress < STREAM_SIZE do
      local chunk = crypto.randomBytes(16384)
      h:update(chunk)
      progress = progress + #chunk
      if not res:write(chunk) then return res:once('drain', go) end
    end
    digest = h:digest('hex')
    res:finish()
  end
  go()
end)
app:get('/progress', function(req, res) res:json({ progress = progress, digest = digest or false }) end)

app:listen(0, '127.0.0.1', function() console.log('port', app.server:address().port) end)
]==]

local function get(srv, path, accept, extra)
  local headers = extra or {}
  if accept then headers['Accept-Encoding'] = accept end
  return batch(srv.port, { { 'GET', path, headers = headers } })[1]
end

-- several GETs from one client process: {path, accept[, extra headers]}...
local function gets(srv, list)
  local reqs = {}
  for i, q in ipairs(list) do
    local headers = q[3] or {}
    if q[2] then headers['Accept-Encoding'] = q[2] end
    reqs[i] = { 'GET', q[1], headers = headers }
  end
  return batch(srv.port, reqs)
end

local DECODE = { gzip = zlib.gunzipSync, br = zlib.brotliDecompressSync, deflate = zlib.inflateSync }
local function decoded(r)
  local enc = r.headers['content-encoding']
  if not enc then return r.body end
  return DECODE[enc](r.body)
end

describe('router.compression', function()
  local srv
  setup(function() srv = H.serve(SERVER) end)
  teardown(function() if srv then srv:stop() end end)

  describe('negotiation', function()
    it('prefers br over gzip over deflate when they are equally acceptable', function()
      local rs = gets(srv, { { '/text', 'gzip, deflate, br' }, { '/text', 'deflate, gzip' }, { '/text', 'deflate' } })
      local r = rs[1]
      assert.are.equal(200, r.status)
      assert.are.equal('br', r.headers['content-encoding'])
      assert.are.equal('Accept-Encoding', r.headers['vary'])
      assert.are.equal(tostring(#r.body), r.headers['content-length']) -- the compressed length
      assert.is_true(#r.body < #TEXT / 4)
      assert.are.equal(TEXT, decoded(r))
      assert.are.equal('gzip', rs[2].headers['content-encoding'])
      assert.are.equal('deflate', rs[3].headers['content-encoding'])
      assert.are.equal(TEXT, decoded(rs[3]))
    end)

    it('follows q-values, * and identity', function()
      local cases = {
        { 'gzip;q=1, br;q=0.5', 'gzip' },
        { 'br;q=0.2, gzip;q=0.2, deflate;q=0.2', 'br' },
        { 'deflate;q=0.9, gzip;q=0.8', 'deflate' },
        { 'gzip;q=0, br;q=0', nil },
        { 'br;q=0, *', 'gzip' },
        { '*', 'br' },
        { '*;q=0.5, br;q=0', 'gzip' },
        { 'identity', nil },
        { 'gzip;q=0.5, identity;q=1', nil },
        { 'compress, x-unknown', nil },
        { 'GZIP', 'gzip' },
      }
      local reqs = {}
      for i, c in ipairs(cases) do reqs[i] = { 'GET', '/text', headers = { ['Accept-Encoding'] = c[1] } } end
      reqs[#reqs + 1] = { 'GET', '/text' } -- no Accept-Encoding at all (python sends identity)
      local rs = batch(srv.port, reqs)
      for i, c in ipairs(cases) do
        assert.are.equal(c[2], rs[i].headers['content-encoding'], c[1])
        assert.are.equal(TEXT, decoded(rs[i]), c[1])
        assert.are.equal('Accept-Encoding', rs[i].headers['vary'], c[1])
      end
      assert.is_nil(rs[#rs].headers['content-encoding'])
      assert.are.equal(TEXT, rs[#rs].body)
    end)

    it('negotiates as a function too', function()
      local negotiate = require('router').compression.negotiate
      assert.are.equal('identity', negotiate(nil))
      assert.are.equal('identity', negotiate(''))
      assert.are.equal('br', negotiate(' gzip ; q=0.8 , br ; q=0.9'))
      assert.are.equal('gzip', negotiate({ 'br;q=0.1', 'gzip' }))
    end)
  end)

  describe('skips', function()
    it('bodies below the threshold, known from finish(data) or Content-Length', function()
      local rs = gets(srv, { { '/small', 'gzip, br' }, { '/declared-small', 'gzip' }, { '/declared-big', 'gzip' } })
      local r = rs[1]
      assert.is_nil(r.headers['content-encoding'])
      assert.are.equal('small body', r.body)
      assert.are.equal('Accept-Encoding', r.headers['vary'])
      r = rs[2]
      assert.is_nil(r.headers['content-encoding'])
      assert.are.equal('10', r.headers['content-length'])
      assert.are.equal('0123456789', r.body)
      r = rs[3]
      assert.are.equal('gzip', r.headers['content-encoding'])
      assert.is_nil(r.headers['content-length'])
      assert.are.equal(TEXT, decoded(r))
    end)

    it('types that do not compress, and responses without a type', function()
      local rs = gets(srv, { { '/png', 'gzip, br' }, { '/untyped', 'gzip, br' }, { '/json', 'gzip' } })
      local r = rs[1]
      assert.is_nil(r.headers['content-encoding'])
      assert.are.equal(TEXT, r.body)
      r = rs[2]
      assert.is_nil(r.headers['content-encoding'])
      assert.are.equal(TEXT, r.body)
      r = rs[3]
      assert.are.equal('gzip', r.headers['content-encoding'])
      assert.are.equal(300, #json.decode(decoded(r)))
    end)

    it('a response that already has a Content-Encoding', function()
      local r = get(srv, '/encoded', 'gzip, br')
      assert.are.equal('gzip', r.headers['content-encoding'])
      assert.are.equal(TEXT, zlib.gunzipSync(r.body)) -- once, not twice
    end)

    it('Cache-Control: no-transform', function()
      local r = get(srv, '/notransform', 'gzip, br')
      assert.is_nil(r.headers['content-encoding'])
      assert.are.equal(TEXT, r.body)
    end)

    it('HEAD, 204, 206 and 304', function()
      local rs = batch(srv.port, {
        { 'HEAD', '/text', headers = { ['Accept-Encoding'] = 'gzip' } },
        { 'GET', '/204', headers = { ['Accept-Encoding'] = 'gzip' } },
        { 'GET', '/304', headers = { ['Accept-Encoding'] = 'gzip' } },
        { 'GET', '/206', headers = { ['Accept-Encoding'] = 'gzip' } },
      })
      assert.are.equal(200, rs[1].status)
      assert.is_nil(rs[1].headers['content-encoding'])
      assert.are.equal(204, rs[2].status)
      assert.is_nil(rs[2].headers['content-encoding'])
      assert.are.equal(304, rs[3].status)
      assert.is_nil(rs[3].headers['content-encoding'])
      assert.are.equal(206, rs[4].status)
      assert.is_nil(rs[4].headers['content-encoding'])
      assert.are.equal(TEXT:sub(1, 2000), rs[4].body)
    end)

    it('what the filter option rejects, whatever the threshold', function()
      local rs = batch(srv.port, {
        { 'GET', '/opts/tiny', headers = { ['Accept-Encoding'] = 'gzip', ['X-Compress'] = 'yes' } },
        { 'GET', '/opts/tiny', headers = { ['Accept-Encoding'] = 'gzip' } },
        { 'GET', '/opts/binary', headers = { ['Accept-Encoding'] = 'gzip', ['X-Compress'] = 'yes' } },
      })
      assert.are.equal('gzip', rs[1].headers['content-encoding']) -- threshold 0
      assert.are.equal('tiny', decoded(rs[1]))
      assert.is_nil(rs[2].headers['content-encoding'])
      assert.are.equal('tiny', rs[2].body)
      assert.are.equal('gzip', rs[3].headers['content-encoding']) -- the filter said yes to a png
      assert.are.equal(TEXT, decoded(rs[3]))
    end)

    it('takes the threshold as a string and brotli parameters', function()
      local rs = batch(srv.port, {
        { 'GET', '/threshold/1500', headers = { ['Accept-Encoding'] = 'br' } },
        { 'GET', '/threshold/3000', headers = { ['Accept-Encoding'] = 'br' } },
      })
      assert.is_nil(rs[1].headers['content-encoding'])
      assert.are.equal('br', rs[2].headers['content-encoding'])
      assert.are.equal(TEXT:sub(1, 3000), decoded(rs[2]))
      -- quality 11 is what the option asked for: as small as brotli's own best
      local best = zlib.brotliCompressSync(TEXT:sub(1, 3000), { params = { [zlib.constants.BROTLI_PARAM_QUALITY] = 11 } })
      assert.are.equal(#best, #rs[2].body)
    end)
  end)

  describe('bodies', function()
    it('keeps an existing Vary and the status and headers of writeHead', function()
      local rs = gets(srv, { { '/vary', 'gzip' }, { '/writehead', 'gzip' } })
      local r = rs[1]
      assert.are.equal('Origin, Accept-Encoding', r.headers['vary'])
      r = rs[2]
      assert.are.equal(201, r.status)
      assert.are.equal('gzip', r.headers['content-encoding'])
      assert.are.equal(tostring(#r.body), r.headers['content-length']) -- not the handler's
      assert.are.equal(TEXT, decoded(r))
    end)

    it('compresses a large one-shot body and a streamed one', function()
      local rs = batch(srv.port, {
        { 'GET', '/large', headers = { ['Accept-Encoding'] = 'gzip' } },
        { 'GET', '/large', headers = { ['Accept-Encoding'] = 'br' } },
        { 'GET', '/streamed', headers = { ['Accept-Encoding'] = 'gzip' } },
        { 'GET', '/streamed', headers = { ['Accept-Encoding'] = 'br' } },
        { 'GET', '/streamed', headers = { ['Accept-Encoding'] = 'deflate' } },
        { 'GET', '/piped', headers = { ['Accept-Encoding'] = 'br' } },
      })
      for i = 1, 2 do
        assert.are.equal(TEXT:rep(12), decoded(rs[i]))
        assert.is_true(#rs[i].body < #TEXT)
      end
      for i = 3, 6 do
        assert.is_truthy(rs[i].headers['content-encoding'])
        assert.are.equal('chunked', rs[i].headers['transfer-encoding'])
        assert.are.equal(TEXT, decoded(rs[i]))
      end
    end)

    it('res:flush() sends what the compressor holds before the body ends', function()
      local out = H.py(srv.port, [[
import socket, zlib, time
s = socket.create_connection(('127.0.0.1', PORT))
s.sendall(b'GET /flushed HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n')
s.settimeout(1.0)
raw = b''
try:
    while True:
        b = s.recv(65536)
        if not b: break
        raw += b
except socket.timeout:
    pass
body = raw.partition(b'\r\n\r\n')[2]
z, got = zlib.decompressobj(16 + 15), 0
while b'\r\n' in body:
    line, _, body = body.partition(b'\r\n')
    n = int(line, 16)
    if n == 0: break
    got += len(z.decompress(body[:n]))
    body = body[n + 2:]
print(got)
]])
      assert.are.equal('2000', out:match('%d+'))
    end)

    it('lets the other middleware see the status and headers sent', function()
      local r = gets(srv, { { '/writehead', 'br' }, { '/seen?url=/writehead' } })[2]
      local seen = json.decode(r.body)
      assert.are.equal(201, seen.status)
      assert.are.equal('br', seen.encoding)
      assert.are.equal('Accept-Encoding', seen.vary)
      assert.are.equal('text/plain', seen.type)
    end)

    it('sends an uncompressed error when a streamed handler fails before anything went out', function()
      local r = get(srv, '/fails', 'gzip')
      assert.are.equal(418, r.status)
      assert.is_nil(r.headers['content-encoding'])
      assert.are.equal('teapot', json.decode(r.body).error)
    end)
  end)

  describe('real clients', function()
    it('curl --compressed', function()
      local out, err, code = H.curl('--compressed -D - http://127.0.0.1:' .. srv.port .. '/text')
      assert.are.equal(0, code, err)
      local head, bodytext = out:match('^(.-\r\n\r\n)(.*)$')
      assert.matches('[Cc]ontent%-[Ee]ncoding: br', head)
      assert.are.equal(TEXT, bodytext)
    end)

    it('brotli -d and gzip -d', function()
      local file = os.tmpname()
      local url = 'http://127.0.0.1:' .. srv.port
      local _, err, code = H.curl("-H 'Accept-Encoding: br' -o " .. file .. ' ' .. url .. '/text')
      assert.are.equal(0, code, err)
      local out = run.sh('brotli -dc < ' .. file)
      assert.are.equal(TEXT, out)
      _, err, code = H.curl("-H 'Accept-Encoding: gzip' -o " .. file .. ' ' .. url .. '/streamed')
      assert.are.equal(0, code, err)
      out = run.sh('gzip -dc < ' .. file)
      assert.are.equal(TEXT, out)
      os.remove(file)
    end)

    it("Node's http client and zlib", function()
      if not have('node') then pending('node is not installed') return end
      local js = H.tmp('.js', ([==[
const http = require('http'), zlib = require('zlib'), crypto = require('crypto');
const decode = { gzip: zlib.gunzipSync, br: zlib.brotliDecompressSync, deflate: zlib.inflateSync };
const cases = [['/text', 'br'], ['/text', 'gzip'], ['/streamed', 'br'], ['/large', 'gzip'], ['/json', 'deflate']];
const out = {};
let left = cases.length;
for (const [path, enc] of cases) {
  http.get({ host: '127.0.0.1', port: %d, path, headers: { 'accept-encoding': enc } }, (res) => {
    const parts = [];
    res.on('data', (c) => parts.push(c));
    res.on('end', () => {
      const got = res.headers['content-encoding'];
      const body = decode[got](Buffer.concat(parts));
      out[path + ' ' + enc] = got + ' ' + crypto.createHash('sha256').update(body).digest('hex');
      if (--left === 0) console.log(JSON.stringify(out));
    });
  });
}
]==]):format(srv.port))
      local out, err = run.sh('node ' .. js)
      os.remove(js)
      local r = json.decode(out ~= '' and out or error(err))
      assert.are.equal('br ' .. sha(TEXT), r['/text br'])
      assert.are.equal('gzip ' .. sha(TEXT), r['/text gzip'])
      assert.are.equal('br ' .. sha(TEXT), r['/streamed br'])
      assert.are.equal('gzip ' .. sha(TEXT:rep(12)), r['/large gzip'])
      assert.matches('^deflate %x+$', r['/json deflate'])
    end)

    it("luster's own fetch", function()
      -- fetch asks for the codings it decodes and decodes what it asked for
      local out, err = run.script(([[
for _, path in ipairs { '/text', '/streamed', '/large' } do
  local r = await(fetch('http://127.0.0.1:%d' .. path))
  local body = await(r:text())
  print(path, r.headers:get('content-encoding'), require('crypto').createHash('sha256'):update(body):digest('hex'))
end
]]):format(srv.port))
      local lines = {}
      for line in out:gmatch('[^\n]+') do lines[#lines + 1] = line end
      assert.are.equal(3, #lines, err)
      assert.are.equal('/text\tbr\t' .. sha(TEXT), lines[1])
      assert.are.equal('/streamed\tbr\t' .. sha(TEXT), lines[2])
      assert.are.equal('/large\tbr\t' .. sha(TEXT:rep(12)), lines[3])
    end)
  end)

  it('survives a client that goes away in the middle of a streamed body', function()
    local out = H.py(srv.port, [[
import socket, time, http.client
s = socket.create_connection(('127.0.0.1', PORT))
s.sendall(b'GET /stream HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n\r\n')
got = len(s.recv(65536))
s.close()
time.sleep(0.3)
c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=10)
c.request('GET', '/small', headers={'Accept-Encoding': 'gzip'})
r = c.getresponse()
print(got > 0, r.status, r.read().decode())
]])
    assert.are.equal('True 200 small body', out:gsub('%s+$', ''))
    assert.is_true(srv:alive())
  end)

  it('streams 8 MiB to a slow reader with backpressure, in bounded memory', function()
    local out = H.py(srv.port, [[
import socket, time, http.client, json, zlib, hashlib
def get(path):
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=10)
    c.request('GET', path)
    return c.getresponse().read()
before = int(get('/rss'))
s = socket.create_connection(('127.0.0.1', PORT))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b'GET /stream HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n')
time.sleep(1.5)
stalled = json.loads(get('/progress'))['progress']
during = int(get('/rss'))
s.settimeout(10)
parts = []
while True:
    b = s.recv(1 << 16)
    if not b: break
    parts.append(b)
s.close()
raw = b''.join(parts)
at = raw.index(b'\r\n\r\n')
head, pos = raw[:at], at + 4
# undo the chunked framing, then gunzip
data = []
while True:
    eol = raw.index(b'\r\n', pos)
    n = int(raw[pos:eol], 16)
    if n == 0: break
    data.append(raw[eol + 2:eol + 2 + n])
    pos = eol + 4 + n
plain = zlib.decompress(b''.join(data), 16 + 15)
p = json.loads(get('/progress'))
print(json.dumps({'before': before, 'during': during, 'stalled': stalled, 'size': len(plain),
  'sha': hashlib.sha256(plain).hexdigest(), 'digest': p['digest'], 'head': head.decode('latin-1')}))
]])
    local r = json.decode(out)
    assert.matches('Content%-Encoding: gzip', r.head)
    assert.are.equal(r.digest, r.sha)
    assert.is_true(r.size >= 8 * 1024 * 1024, out)
    -- while the client did not read, the handler was held back: at most
    -- the socket's buffers and a few stream buffers, not the 8 MiB
    assert.is_true(r.stalled < 6 * 1024 * 1024, out)
    -- kB: holding the whole body would be 8192 plus its compressed copy
    -- (not under sanitizers: their quarantine keeps freed memory resident)
    if (os.getenv('LUSTER_SANITIZE') or '') == '' then
      assert.is_true(r.during - r.before < 8 * 1024, out)
    end
  end)
end)

describe('the zlib stream under a streamed response', function()
  it('says false to write() while nobody reads its output', function()
    local z = zlib.createDeflate({ level = 0 }) -- stored: the output is as large as the input
    local ok, n = true, 0
    while ok and n < 4 * 1024 * 1024 do
      ok = z:write(crypto.randomBytes(16384))
      n = n + 16384
    end
    z:destroy()
    assert.is_false(ok)
    assert.is_true(n <= 256 * 1024, tostring(n))
  end)
end)

describe('router.compression options', function()
  local router = require('router')
  it('raises for bad options', function()
    local ok, e = pcall(router.compression, { threshold = 'lots' })
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_VALUE', e.code)
    ok, e = pcall(router.compression, { level = 12 })
    assert.is_false(ok)
    assert.are.equal('ERR_OUT_OF_RANGE', e.code)
    ok, e = pcall(router.compression, { filter = 'text' })
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
    ok, e = pcall(router.compression, 5)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)

  it('knows which types compress', function()
    local c = router.compression.compressible
    for _, t in ipairs { 'text/html; charset=utf-8', 'application/json', 'application/vnd.api+json',
      'application/javascript', 'text/javascript', 'image/svg+xml', 'application/xml', 'application/wasm' } do
      assert.is_true(c(t), t)
    end
    for _, t in ipairs { 'image/png', 'image/jpeg', 'application/octet-stream', 'application/zip',
      'video/mp4', 'font/woff2', 'text/event-stream' } do
      assert.is_false(c(t), t)
    end
    assert.is_false(c(nil))
  end)
end)
