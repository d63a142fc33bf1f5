-- https.createServer as the full TLS server (API.md "tls and https"):
-- SNICallback, 'secureConnection', 'tlsClientError' and req.socket's TLS
-- getters, against openssl s_client, curl with a client certificate and
-- Node's https client.
local https = require('https')
local tls = require('tls')
local net = require('net')
local json = require('json')
local peer = require('helpers.peer')
local certs = require('helpers.tls_certs').make()
local serve = require('helpers.serve')
local listen, sleep, close = serve.listen, serve.sleep, serve.close

local function sh(script) return await(peer.run({ 'bash', '-c', script })) end

-- one request through openssl s_client: its whole output (certificate
-- subject lines, then the HTTP response)
local function s_client(port, servername, extra)
  local name = servername and ('-servername ' .. servername) or '-noservername'
  return sh(("printf 'GET /sni HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | " ..
    "timeout 10 openssl s_client -connect 127.0.0.1:%d %s -ign_eof %s 2>&1"):format(port, name, extra or ''))
end

local function server_with(opts, handler)
  local o = { cert = certs.server_cert, key = certs.server_key }
  for k, v in pairs(opts) do o[k] = v end
  return https.createServer(o, handler or function(req, res)
    res:finish('name=' .. tostring(req.socket.servername) .. ' alpn=' .. tostring(req.socket.alpnProtocol))
  end)
end

describe('https SNICallback', function()
  it('serves the certificate the callback picks (async cb, a returned context, or the default)', function()
    local wrong = tls.createSecureContext { cert = certs.wrong_cert, key = certs.wrong_key }
    local other = tls.createSecureContext { cert = certs.client_cert, key = certs.client_key }
    local asked = {}
    local server = server_with { SNICallback = function(name, cb)
      asked[#asked + 1] = name
      if name == 'wrong.example' then
        setTimeout(function() cb(nil, wrong) end, 20)   -- answered later: the handshake waits
      elseif name == 'other.example' then
        return other                                    -- the Lua way: return it
      else
        cb(nil, nil)                                    -- the server's own certificate
      end
    end }
    local port = listen(server)
    local a = s_client(port, 'wrong.example')
    assert.truthy(a.out:find('subject=CN = wrong.example', 1, true), a.out)
    assert.truthy(a.out:find('name=wrong.example alpn=false', 1, true), a.out)
    local b = s_client(port, 'other.example')
    assert.truthy(b.out:find('subject=CN = luster-client', 1, true), b.out)
    local c = s_client(port, 'localhost', '-alpn http/1.1')
    assert.truthy(c.out:find('subject=CN = localhost', 1, true), c.out)
    assert.truthy(c.out:find('name=localhost alpn=http/1.1', 1, true), c.out)
    -- no server_name at all: Node does not ask the callback
    local d = s_client(port, nil)
    assert.truthy(d.out:find('subject=CN = localhost', 1, true), d.out)
    assert.are.same({ 'wrong.example', 'other.example', 'localhost' }, asked)
    close(server)
  end)

  it('fails only that handshake when the callback errs or raises, with tlsClientError', function()
    local seen = {}
    local server = server_with { SNICallback = function(name, cb)
      if name == 'bad.example' then return cb({ code = 'EBADNAME', message = 'no such site' }) end
      if name == 'raise.example' then error('callback blew up') end
      if name == 'notctx.example' then return cb(nil, 'not a context') end
      cb(nil, nil)
    end }
    server:on('tlsClientError', function(err, sock)
      seen[#seen + 1] = err.code
      assert.is_table(sock)
    end)
    local port = listen(server)
    for _, name in ipairs { 'bad.example', 'raise.example', 'notctx.example' } do
      local r = s_client(port, name)
      assert.is_nil(r.out:find('name=', 1, true), r.out)
    end
    local ok = s_client(port, 'localhost')
    assert.truthy(ok.out:find('name=localhost', 1, true), ok.out)
    assert.are.same({ 'EBADNAME', 'ERR_TLS_SNI_CALLBACK', 'ERR_TLS_INVALID_CONTEXT' }, seen)
    close(server)
  end)

  it('ends a handshake whose SNICallback never answers at headersTimeout', function()
    local seen = {}
    local server = server_with { headersTimeout = 300, SNICallback = function() end }
    server:on('tlsClientError', function(err) seen[#seen + 1] = err.code end)
    local port = listen(server)
    local t0 = os.time()
    local r = s_client(port, 'silent.example')
    assert.is_nil(r.out:find('name=', 1, true), r.out)
    assert.is_true(os.time() - t0 <= 5)
    assert.are.same({ 'ERR_TLS_HANDSHAKE_TIMEOUT' }, seen)
    close(server)
  end)

  it('answers Node\'s https client with the certificate for its servername', function()
    if not peer.have('node') then return end
    local wrong = tls.createSecureContext { cert = certs.wrong_cert, key = certs.wrong_key }
    local server = server_with { SNICallback = function(name, cb) cb(nil, name == 'wrong.example' and wrong or nil) end }
    local port = listen(server)
    local script = peer.tmp('.js', ([[
      const https = require('https'), fs = require('fs');
      const ca = fs.readFileSync(%q);
      const get = (servername) => new Promise((ok) => {
        https.get({ host: '127.0.0.1', port: %d, servername, ca, path: '/', agent: false }, (res) => {
          let b = ''; res.on('data', (d) => b += d);
          res.on('end', () => ok(res.socket.getPeerCertificate().subject.CN + ' ' + b));
        }).on('error', (e) => ok('error ' + e.code));
      });
      (async () => { console.log(await get('wrong.example')); console.log(await get('localhost')); })();
    ]]):format(certs.ca_cert_path, port))
    local r = await(peer.run { 'node', script })
    os.remove(script)
    -- (Node's client offers no ALPN unless told)
    assert.are.equal('wrong.example name=wrong.example alpn=false\nlocalhost name=localhost alpn=false\n', r.out)
    close(server)
  end)
end)

describe('https secureConnection and tlsClientError', function()
  it('emits secureConnection once per connection, with the socket requests carry', function()
    local secured, same = {}, true
    local server = server_with({}, function(req, res) res:finish(tostring(#secured)) end)
    server:on('secureConnection', function(sock)
      secured[#secured + 1] = sock
      assert.are.equal('TLSv1.3', sock:getProtocol())
      assert.is_true(sock.encrypted)
    end)
    server:on('request', function(req) if req.socket ~= secured[#secured] then same = false end end)
    local port = listen(server)
    local url = 'https://localhost:' .. port
    local r = sh(('curl -s --cacert %s %s/a %s/b'):format(certs.ca_cert_path, url, url))
    assert.are.equal('11', r.out)   -- two requests over one connection
    assert.is_true(same)
    local r2 = sh(('curl -s --cacert %s %s/c'):format(certs.ca_cert_path, url))
    assert.are.equal('2', r2.out)
    close(server)
  end)

  it('reports a plaintext client, a client that leaves mid-handshake and a stalled handshake', function()
    local errs, socks = {}, {}
    local server = server_with { headersTimeout = 300 }
    server:on('tlsClientError', function(err, sock)
      errs[#errs + 1] = err.code .. ': ' .. err.message
      socks[#socks + 1] = sock
    end)
    local port = listen(server)
    sh(('curl -s http://127.0.0.1:%d/'):format(port))
    local function wait_for(n)
      for _ = 1, 100 do if #errs >= n then return end; sleep(20) end
    end
    wait_for(1)
    assert.truthy(errs[1]:find('^ERR_SSL_HTTP_REQUEST: '), errs[1])
    -- half a client hello, then the close
    local half = net.connect(port, '127.0.0.1')
    await(half:connected())
    half:write('\22\3\1\0\200\1\0\0')
    sleep(50)
    half:destroy()
    wait_for(2)
    assert.are.equal('ECONNRESET: socket hang up', errs[2])
    -- connects and says nothing: headersTimeout ends the handshake
    local silent = net.connect(port, '127.0.0.1')
    await(Promise.new(function(r) silent:on('close', r); silent:resume() end))
    wait_for(3)
    assert.are.equal('ERR_TLS_HANDSHAKE_TIMEOUT: TLS handshake timeout', errs[3])
    -- the sockets outlive their connections: their getters say nothing now
    for _, sock in ipairs(socks) do
      assert.is_nil(sock:getPeerCertificate())
      assert.is_nil(sock:getProtocol())
      assert.is_nil(sock.authorized)
    end
    close(server)
  end)
end)

describe('https req.socket under mutual TLS', function()
  -- what the handler sees, as JSON
  local function report(req, res)
    local s = req.socket
    local c = s:getPeerCertificate()
    res:setHeader('Content-Type', 'application/json')
    res:finish(json.encode {
      authorized = s.authorized, authorizationError = s.authorizationError or 'none',
      protocol = s:getProtocol(), alpn = s.alpnProtocol, servername = s.servername,
      subject = c.subject or 'none', issuer = c.issuer or 'none', valid_from = c.valid_from or 'none',
      valid_to = c.valid_to or 'none', fingerprint256 = c.fingerprint256 or 'none',
      ca = c.ca == nil and 'none' or c.ca, curve = c.asn1Curve or 'none', nist = c.nistCurve or 'none',
      eku = c.ext_key_usage or 'none', pubkey_len = c.pubkey and #c.pubkey or 0,
    })
  end

  local function curl(port, extra)
    local r = sh(('curl -s --max-time 10 --cacert %s %s https://localhost:%d/'):format(certs.ca_cert_path, extra or '', port))
    return r.out ~= '' and json.decode(r.out) or r
  end

  it('gives the handler the client certificate as Node does (compared with Node\'s X509Certificate)', function()
    local server = server_with({ ca = certs.ca, requestCert = true, rejectUnauthorized = true }, report)
    local port = listen(server)
    local got = curl(port, ('--cert %s --key %s'):format(certs.client_cert_path, certs.client_key_path))
    assert.is_true(got.authorized)
    assert.are.equal('none', got.authorizationError)
    assert.are.equal('TLSv1.3', got.protocol)
    assert.are.equal('http/1.1', got.alpn)
    assert.are.equal('localhost', got.servername)
    assert.are.same({ CN = 'luster-client' }, got.subject)
    assert.are.same({ CN = 'luster-test-ca' }, got.issuer)
    assert.is_false(got.ca)
    assert.are.equal('prime256v1', got.curve)
    assert.are.equal('P-256', got.nist)
    assert.are.same({ '1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2' }, got.eku)
    assert.are.equal(65, got.pubkey_len)
    if peer.have('node') then
      local script = peer.tmp('.js', ([[
        const { X509Certificate } = require('crypto'), fs = require('fs');
        const x = new X509Certificate(fs.readFileSync(%q));
        console.log(JSON.stringify([x.validFrom, x.validTo, x.fingerprint256]));
      ]]):format(certs.client_cert_path))
      local r = await(peer.run { 'node', script })
      os.remove(script)
      assert.are.same(json.decode(r.out), { got.valid_from, got.valid_to, got.fingerprint256 })
    end
    -- without a certificate the handshake fails (rejectUnauthorized)
    local errs = {}
    server:on('tlsClientError', function(e) errs[#errs + 1] = e.code end)
    local none = curl(port)
    assert.are_not.equal(0, none.code)
    for _ = 1, 50 do if #errs > 0 then break end; sleep(20) end
    assert.are.equal(1, #errs)
    close(server)
  end)

  it('lets the handler decide with rejectUnauthorized = false (Node\'s authorizationError codes)', function()
    local server = server_with({ ca = certs.ca, requestCert = true, rejectUnauthorized = false }, report)
    local port = listen(server)
    local none = curl(port)
    assert.is_false(none.authorized)
    assert.are.equal('UNABLE_TO_GET_ISSUER_CERT', none.authorizationError)
    assert.are.equal('none', none.subject)   -- getPeerCertificate() is {} without a certificate
    local self = curl(port, ('--cert %s --key %s'):format(certs.self_cert_path, certs.self_key_path))
    assert.is_false(self.authorized)
    assert.are.equal('DEPTH_ZERO_SELF_SIGNED_CERT', self.authorizationError)
    assert.are.same({ CN = 'localhost' }, self.subject)
    local good = curl(port, ('--cert %s --key %s'):format(certs.client_cert_path, certs.client_key_path))
    assert.is_true(good.authorized)
    close(server)
  end)

  it('has authorized = false and no authorizationError without requestCert', function()
    local server = server_with({}, report)
    local port = listen(server)
    local got = curl(port)
    assert.is_false(got.authorized)
    assert.are.equal('none', got.authorizationError)
    assert.are.equal('none', got.subject)
    close(server)
  end)
end)

describe('https upgrades (wss://)', function()
  it('hands the TLS session to the upgraded socket: WebSocketServer on an https server', function()
    local ws = require('ws')
    local server = server_with({}, function(_, res) res:finish('plain') end)
    local wss = ws.WebSocketServer { server = server }
    local upgraded
    wss:on('connection', function(sock, req)
      upgraded = { encrypted = req.socket.encrypted, protocol = req.socket:getProtocol() }
      sock:on('message', function(m) sock:send('echo ' .. tostring(m)) end)
    end)
    local port = listen(server)
    local c = ws.WebSocket('wss://localhost:' .. port .. '/', nil, { ca = certs.ca })
    local got = await(Promise.new(function(resolve, reject)
      c:on('open', function() c:send('over tls') end)
      c:on('message', function(m) resolve(tostring(m)) end)
      c:on('error', reject)
    end))
    assert.are.equal('echo over tls', got)
    assert.are.same({ encrypted = true, protocol = 'TLSv1.3' }, upgraded)
    c:close()
    if peer.have('node') and io.open('spec/peers/node_modules/ws/package.json') then
      local script = peer.tmp('.js', ([[
        const WebSocket = require(require('path').resolve('spec/peers/node_modules/ws'));
        const ws = new WebSocket('wss://127.0.0.1:%d/', { servername: 'localhost', ca: require('fs').readFileSync(%q) });
        ws.on('open', () => ws.send('from node'));
        ws.on('message', (m) => { console.log(String(m)); ws.close(); });
        ws.on('error', (e) => console.log('error', e.message));
      ]]):format(port, certs.ca_cert_path))
      local r = await(peer.run { 'node', script })
      os.remove(script)
      assert.are.equal('echo from node\n', r.out)
    end
    wss:close()
    close(server)
  end)
end)

describe('https keep-alive', function()
  it('serves a keep-alive connection again after it idled past the sweep (its TLS buffers freed)', function()
    local server = server_with({}, function(req, res) res:finish('again ' .. req.url) end)
    local port = listen(server)
    local agent = https.Agent { keepAlive = true, maxSockets = 1 }
    local function get(path)
      return await(Promise.new(function(resolve, reject)
        https.get({ host = 'localhost', port = port, path = path, ca = certs.ca, agent = agent }, function(res)
          local parts = {}
          res:on('data', function(d) parts[#parts + 1] = d end)
          res:on('end', function() resolve { body = table.concat(parts), socket = res.socket } end)
        end):on('error', reject)
      end))
    end
    local a = get('/1')
    sleep(1600)   -- more than the sweep's period (1 s): the idle connection drops its buffers
    local b = get('/2')
    assert.are.equal('again /1', a.body)
    assert.are.equal('again /2', b.body)
    assert.are.equal(a.socket, b.socket)
    agent:destroy()
    close(server)
  end)
end)
