-- Backpressure in the HTTP server (API.md "Streams and backpressure"): a
-- connection holds bounded memory whatever the client does — an unread
-- upload, pipelined requests whose answers it never reads, a slow reader
-- of a big response — and a handler following Node's contract (write until
-- false, wait for 'drain'; pause/resume; pipe) streams through.
--
-- The clients are python3 scripts that generate what they send as they go
-- (never holding a whole upload) and sample the server's RSS from /proc
-- while they work; every loop is bounded in bytes and in time.
local H = require('helpers.http')
local json = require('json')

-- Under ASan/UBSan freed memory sits in quarantine, so RSS says nothing
-- about what the server holds: the sizes shrink and RSS is not checked.
local SANITIZED = (os.getenv('LUSTER_SANITIZE') or '') ~= ''
local function scaled(n) return SANITIZED and math.floor(n / 4) or n end
local function assert_bounded(growth, limit_kib)
  if SANITIZED then return end
  assert.is_true(growth < limit_kib, 'server RSS grew by ' .. growth .. ' KiB')
end

local SERVER = [==[
local http = require('http')
local json = require('json')
local function sleep(ms) return Promise.new(function(r) setTimeout(r, ms) end) end
local big = ('z'):rep(64 * 1024)
local server
server = http.createServer(function(req, res)
  local p, q = req.path, req.query
  if p == '/upload-read' then
    -- not read for a while: the client must be held back, not buffered
    await(sleep(tonumber(q.wait)))
    local n, chunks = 0, 0
    while true do
      local c = await(req:read())
      if c == nil then break end
      n, chunks = n + #c, chunks + 1
    end
    res:json({ bytes = n, chunks = chunks })
  elseif p == '/upload-data' then
    -- flowing mode, paused now and then by the handler
    local n, pauses = 0, 0
    req:on('data', function(c)
      n = n + #c
      if n >= (pauses + 1) * 8 * 1024 * 1024 then
        pauses = pauses + 1
        req:pause()
        setTimeout(function() req:resume() end, 100)
      end
    end)
    req:on('end', function() res:json({ bytes = n, pauses = pauses }) end)
  elseif p == '/upload-body' then
    await(sleep(50))
    local b = await(req:body())
    res:json({ bytes = #b, ok = b == ('q'):rep(#b) })
  elseif p == '/conns' then
    res:finish(tostring(server:getConnections()))
  elseif p == '/ignore-body' then
    res:finish('ignored')
  elseif p == '/echo-pipe' then
    req:pipe(res)
  elseif p == '/download' then
    -- Node's contract: write until false, then wait for 'drain'
    local total = tonumber(q.mib) * 1024 * 1024
    res:setHeader('Content-Length', total)
    local sent, waits = 0, 0
    local props = { hwm = res.writableHighWaterMark, len0 = res.writableLength, ended0 = res.writableEnded }
    while sent < total do
      local ok = res:write(big)
      sent = sent + #big
      if not ok and sent < total then
        waits = waits + 1
        props.full = props.full or res.writableLength
        props.need_drain = props.need_drain or res.writableNeedDrain
        await(require('events').once_promise(res, 'drain'))
      end
    end
    res:on('finish', function()
      console.log(json.encode({ waits = waits, hwm = props.hwm, len0 = props.len0, ended0 = props.ended0,
        full = props.full, need_drain = props.need_drain, ended = res.writableEnded }))
    end)
    res:finish()
  elseif p == '/finished' then
    local before = res.writableFinished
    res:finish('done')
    setTimeout(function()
      console.log(json.encode({ before = before, ended = res.writableEnded, finished = res.writableFinished }))
    end, 50)
  else
    res:finish(q.i or 'ok')
  end
end)
server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
]==]

-- python: rss(pid) in KiB, and a sampler thread that keeps the maximum
local PY_RSS = [[
import socket, sys, threading, time, json, re
def rss(pid):
    for line in open('/proc/%d/status' % pid):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
class Sampler(threading.Thread):
    def __init__(self, pid):
        threading.Thread.__init__(self, daemon=True)
        self.pid, self.max, self.stop = pid, rss(pid), False
    def run(self):
        while not self.stop:
            try: self.max = max(self.max, rss(self.pid))
            except Exception: return
            time.sleep(0.02)
]]

local function py(srv, src)
  local out, err = H.py(srv.port, PY_RSS .. 'PID = ' .. srv.pid .. '\n' .. src)
  local ok, v = pcall(json.decode, out)
  if not ok then error('client failed: ' .. out .. err .. srv:stderr()) end
  return v
end

-- Upload `mib` MiB of 'q' to `path`, generated piece by piece; returns the
-- server's answer, its RSS growth (KiB) and how long sends were blocked.
local UPLOAD = [[
MIB, PATH, DEADLINE = %d, %q, time.time() + 120
total = MIB * 1024 * 1024
base = rss(PID)
s = socket.create_connection(('127.0.0.1', PORT))
s.sendall(('POST %%s HTTP/1.1\r\nHost: x\r\nContent-Length: %%d\r\n\r\n' %% (PATH, total)).encode())
sampler = Sampler(PID); sampler.start()
piece = b'q' * (1024 * 1024)
sent, blocked = 0, 0.0
while sent < total and time.time() < DEADLINE:
    t = time.time()
    s.sendall(piece)
    blocked = max(blocked, time.time() - t)
    sent += len(piece)
s.settimeout(60)
reply = b''
while b'}' not in reply:
    b = s.recv(65536)
    if not b: break
    reply += b
sampler.stop = True
body = reply.split(b'\r\n\r\n', 1)[1].decode()
print(json.dumps({'sent': sent, 'answer': json.loads(body), 'growth': sampler.max - base, 'blocked': blocked}))
]]

describe('http server backpressure', function()
  local srv
  setup(function() srv = H.serve(SERVER) end)
  teardown(function() if srv then srv:stop() end end)

  it('holds back a 512 MiB upload its handler does not read yet, then streams it with read()', function()
    local mib = scaled(512)
    local r = py(srv, UPLOAD:format(mib, '/upload-read?wait=1500'))
    assert.are.equal(mib * 1024 * 1024, r.sent)
    assert.are.equal(mib * 1024 * 1024, r.answer.bytes)
    assert.is_true(r.blocked > 1.0, 'the client was never held back: ' .. r.blocked)
    assert_bounded(r.growth, 32 * 1024)
  end)

  it('honours pause() and resume() of a flowing request', function()
    local mib = scaled(64)
    local r = py(srv, UPLOAD:format(mib, '/upload-data'))
    assert.are.equal(mib * 1024 * 1024, r.answer.bytes)
    assert.are.equal(mib / 8, r.answer.pauses)
    assert_bounded(r.growth, 32 * 1024)
  end)

  it('still gives the whole body to body()', function()
    local r = py(srv, UPLOAD:format(8, '/upload-body'))
    assert.are.equal(8 * 1024 * 1024, r.answer.bytes)
    assert.is_true(r.answer.ok)
  end)

  it('drops the unread rest of a body whose response is finished, and serves the next request', function()
    local r = py(srv, [[
MIB, DEADLINE = 64, time.time() + 60
base = rss(PID)
s = socket.create_connection(('127.0.0.1', PORT))
sampler = Sampler(PID); sampler.start()
s.sendall(b'POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % (MIB << 20))
piece = b'q' * (1024 * 1024)
for _ in range(MIB):
    if time.time() > DEADLINE: break
    s.sendall(piece)
s.sendall(b'GET /p?i=next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
s.settimeout(30)
out = b''
while time.time() < DEADLINE:
    b = s.recv(65536)
    if not b: break
    out += b
sampler.stop = True
print(json.dumps({'bodies': [m.decode() for m in re.findall(rb'\r\n\r\n([a-z]+)', out)],
  'growth': sampler.max - base}))
]])
    assert.are.same({ 'ignored', 'next' }, r.bodies)
    assert_bounded(r.growth, 32 * 1024)
  end)

  it('stops reading pipelined requests whose answers are not read, and answers them all in order', function()
    local r = py(srv, [[
N, DEADLINE = 200000, time.time() + 120
PAD = b'X-Pad: ' + b'p' * 150 + b'\r\n'  # so that kernel buffers hold few of them
base = rss(PID)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # kernel buffers: few answers,
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)  # few requests
s.connect(('127.0.0.1', PORT))
sampler = Sampler(PID); sampler.start()
progress = {'sent': 0, 'done': False}
def send():
    batch = 500
    for i in range(0, N, batch):
        if time.time() > DEADLINE: break
        s.sendall(b''.join(b'GET /p?i=%d HTTP/1.1\r\nHost: x\r\n%s\r\n' % (j, PAD) for j in range(i, min(N, i + batch))))
        progress['sent'] = min(N, i + batch)
    progress['done'] = True
t = threading.Thread(target=send, daemon=True); t.start()
# never read until the sender is stuck (the server stopped reading) or done
last, still = -1, 0
while time.time() < DEADLINE and not progress['done'] and still < 20:
    time.sleep(0.1)
    if progress['sent'] == last: still += 1
    else: still, last = 0, progress['sent']
held = progress['sent']
growth_held = sampler.max - base
s.settimeout(30)
buf, got, in_order = b'', 0, True
pat = re.compile(rb'\r\n\r\n(\d+)(?=HTTP/|$)')
while got < N and time.time() < DEADLINE:
    b = s.recv(1 << 20)
    if not b: break
    buf += b
    cut = buf.rfind(b'HTTP/1.1 ')
    if cut <= 0: continue
    for m in pat.finditer(buf[:cut]):
        if int(m.group(1)) != got: in_order = False
        got += 1
    buf = buf[cut:]
for m in pat.finditer(buf):
    if int(m.group(1)) != got: in_order = False
    got += 1
sampler.stop = True
print(json.dumps({'held': held, 'got': got, 'in_order': in_order, 'growth_held': growth_held,
  'growth': sampler.max - base}))
]])
    assert.is_true(r.held < 100000, 'the server read ' .. r.held .. ' requests without being answered')
    assert.are.equal(200000, r.got)
    assert.is_true(r.in_order)
    assert_bounded(r.growth, 24 * 1024)
  end)

  it('frees a connection whose client leaves with its pipelined answers unread', function()
    local r = py(srv, [[
N, DEADLINE = 100000, time.time() + 60
PAD = b'X-Pad: ' + b'p' * 150 + b'\r\n'
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
s.connect(('127.0.0.1', PORT))
s.settimeout(1.0)
sent = 0
try:
    for i in range(0, N, 500):
        s.sendall(b''.join(b'GET /p?i=%d HTTP/1.1\r\nHost: x\r\n%s\r\n' % (j, PAD) for j in range(i, i + 500)))
        sent = i + 500
except socket.timeout:
    pass
s.close()  # unread answers: the kernel resets the connection
conns = None
while time.time() < DEADLINE:
    c = socket.create_connection(('127.0.0.1', PORT))
    c.sendall(b'GET /conns HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    out = b''
    while True:
        b = c.recv(4096)
        if not b: break
        out += b
    c.close()
    conns = int(out.split(b'\r\n\r\n', 1)[1])
    if conns == 1: break
    time.sleep(0.05)
print(json.dumps({'sent': sent, 'conns': conns}))
]])
    assert.is_true(r.sent < 100000, 'the server read every request without being answered')
    assert.are.equal(1, r.conns)
  end)

  it('streams 256 MiB to a slow reader with write() false and drain, in bounded memory', function()
    local mib = scaled(256)
    local r = py(srv, ([[
MIB, DEADLINE = %d, time.time() + 120
base = rss(PID)
s = socket.create_connection(('127.0.0.1', PORT))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
s.sendall(b'GET /download?mib=%%d HTTP/1.1\r\nHost: x\r\n\r\n' %% MIB)
sampler = Sampler(PID); sampler.start()
time.sleep(1.0)  # not reading at all for a while
s.settimeout(30)
head, n, slow = b'', 0, 0
while b'\r\n\r\n' not in head:
    head += s.recv(4096)
head, rest = head.split(b'\r\n\r\n', 1)
n = len(rest)
total = MIB * 1024 * 1024
while n < total and time.time() < DEADLINE:
    b = s.recv(256 * 1024)
    if not b: break
    n += len(b)
    slow += 1
    if slow < 200: time.sleep(0.002)  # a slow start, then full speed
sampler.stop = True
length = int(re.search(rb'Content-Length: (\d+)', head).group(1))
print(json.dumps({'bytes': n, 'length': length, 'growth': sampler.max - base}))
]]):format(mib))
    assert.are.equal(mib * 1024 * 1024, r.length)
    assert.are.equal(mib * 1024 * 1024, r.bytes)
    assert_bounded(r.growth, 32 * 1024)
    local log = json.decode(srv:line())
    assert.is_true(log.waits > 0)
    assert.are.equal(65536, log.hwm)
    assert.are.equal(0, log.len0)
    assert.is_false(log.ended0)
    assert.is_true(log.full >= 65536)
    assert.is_true(log.need_drain)
    assert.is_true(log.ended)
  end)

  it('reports writableEnded and writableFinished as Node does', function()
    H.raw(srv.port, 'GET /finished HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    local log = json.decode(srv:line())
    assert.is_false(log.before)
    assert.is_true(log.ended)
    assert.is_true(log.finished)
  end)

  it('takes both high-water marks from createServer{highWaterMark=}', function()
    local small = H.serve([[
local http = require('http')
local server = http.createServer({ highWaterMark = 16384 }, function(req, res)
  local unread = 0
  await(Promise.new(function(r) setTimeout(r, 300) end)) -- let the body pile up
  unread = req.readableLength
  local n = #await(req:body())
  res:finish(('%d %d %d %d'):format(req.readableHighWaterMark, res.writableHighWaterMark, unread, n))
end)
server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
]])
    local body = ('b'):rep(4 * 1024 * 1024)
    local reply = H.raw(small.port, 'POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ' ..
      #body .. '\r\n\r\n' .. body, { timeout = 10 })
    small:stop()
    local rhwm, whwm, unread, n = reply:match('\r\n\r\n(%d+) (%d+) (%d+) (%d+)<EOF>$')
    assert.are.equal('16384', rhwm)
    assert.are.equal('16384', whwm)
    assert.is_true(tonumber(unread) >= 16384 and tonumber(unread) <= 16384 + 2 * 65536, unread)
    assert.are.equal(#body, tonumber(n))
  end)

  it('pipes a request into its response with both sides bounded', function()
    local r = py(srv, [[
MIB, DEADLINE = 64, time.time() + 120
total = MIB * 1024 * 1024
base = rss(PID)
s = socket.create_connection(('127.0.0.1', PORT))
s.sendall(b'POST /echo-pipe HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % total)
sampler = Sampler(PID); sampler.start()
def send():
    piece = b'q' * (1024 * 1024)
    for _ in range(MIB):
        if time.time() > DEADLINE: break
        s.sendall(piece)
t = threading.Thread(target=send, daemon=True); t.start()
time.sleep(0.5)  # let both directions fill up
s.settimeout(30)
buf = b''
while b'\r\n\r\n' not in buf:
    buf += s.recv(65536)
head, body = buf.split(b'\r\n\r\n', 1)
# chunked: count the payload bytes, all 'q'
data, n, ok = body, 0, True
def more():
    global data
    b = s.recv(256 * 1024)
    if not b: raise EOFError()
    data += b
while time.time() < DEADLINE:
    while b'\r\n' not in data: more()
    line, data = data.split(b'\r\n', 1)
    size = int(line, 16)
    if size == 0: break
    while len(data) < size + 2: more()
    if data[:size].count(b'q') != size: ok = False
    n += size
    data = data[size + 2:]
sampler.stop = True
print(json.dumps({'bytes': n, 'ok': ok, 'growth': sampler.max - base}))
]])
    assert.are.equal(64 * 1024 * 1024, r.bytes)
    assert.is_true(r.ok)
    assert_bounded(r.growth, 32 * 1024)
  end)
end)
