-- https: the C HTTP server over TLS and the HTTP client over tls.connect
-- (API.md "tls and https"), against curl, Node and luster itself.
local https = require('https')
local net = require('net')
local peer = require('helpers.peer')
local run = require('helpers.run')
local H = require('helpers.http')
local certs = require('helpers.tls_certs').make()
local serve = require('helpers.serve')
local listen, sleep, close = serve.listen, serve.sleep, serve.close

local function hello_server(extra)
  local o = { cert = certs.server_cert, key = certs.server_key }
  for k, v in pairs(extra or {}) do o[k] = v end
  return https.createServer(o, function(req, res)
    res:setHeader('Content-Type', 'text/plain')
    res:finish('hello ' .. req.url)
  end)
end

local function curl(...)
  return await(peer.run({ 'curl', '-s', '--max-time', '10', ... }))
end

-- GET with luster's client: {res=, body=} or {err=}
local function get(o, extra)
  return await(Promise.new(function(resolve)
    local function on_res(res)
      local parts = {}
      res:on('data', function(d) parts[#parts + 1] = d end)
      res:on('end', function() resolve { res = res, body = table.concat(parts), socket = res.socket } end)
    end
    local req = extra and https.get(o, extra, on_res) or https.get(o, on_res)
    req:on('error', function(e) resolve { err = e } end)
  end))
end

describe('https servers', function()
  it('serves curl over TLS with keep-alive', function()
    local server = hello_server()
    local port = listen(server)
    local base = 'https://localhost:' .. port
    local r = curl('--cacert', certs.ca_cert_path, '-w', ' %{num_connects} %{http_version}\n', base .. '/a', base .. '/b')
    assert.are.equal(0, r.code)
    assert.are.equal('hello /a 1 1.1\nhello /b 0 1.1\n', r.out)
    local k = curl('-k', 'https://127.0.0.1:' .. port .. '/k')
    assert.are.equal('hello /k', k.out)
    local bad = curl(base .. '/')   -- the test CA is not in the system store
    assert.are.equal(60, bad.code)
    close(server)
  end)

  it('closes a plaintext client and a stalled handshake, and goes on serving', function()
    local server = hello_server { headersTimeout = 300 }
    local port = listen(server)
    local plain = curl('http://127.0.0.1:' .. port .. '/')
    assert.are.equal(52, plain.code)   -- empty reply: the handshake failed, nothing was answered
    local silent = net.connect(port, '127.0.0.1')
    local t0 = os.time()
    await(Promise.new(function(r) silent:on('close', r); silent:resume() end))
    assert.is_true(os.time() - t0 <= 5)
    local ok = curl('--cacert', certs.ca_cert_path, 'https://localhost:' .. port .. '/after')
    assert.are.equal('hello /after', ok.out)
    close(server)
  end)

  it('does mutual TLS with requestCert', function()
    local server = hello_server { ca = certs.ca, requestCert = true, rejectUnauthorized = true }
    local port = listen(server)
    local url = 'https://localhost:' .. port .. '/m'
    local with = curl('--cacert', certs.ca_cert_path, '--cert', certs.client_cert_path, '--key', certs.client_key_path, url)
    assert.are.equal('hello /m', with.out)
    local without = curl('--cacert', certs.ca_cert_path, url)
    assert.are_not.equal(0, without.code)
    local r = get { host = 'localhost', port = port, path = '/lm', ca = certs.ca, cert = certs.client_cert, key = certs.client_key }
    assert.are.equal('hello /lm', r.body)
    close(server)
  end)

  it('runs examples/https_server.lua with a certificate made by openssl req', function()
    local dir = certs.dir
    local _, err, code = run.sh(('cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ex.key -out ex.pem -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1'):format(run.quote(dir)))
    assert.are.equal(0, code, err)
    local srv = H.spawn({ PORT = 0, CERT = dir .. '/ex.pem', KEY = dir .. '/ex.key' },
      (os.getenv('LUSTER_SOURCE_DIR') or '.') .. '/examples/https_server.lua')
    local out = H.curl(('--cacert %s https://localhost:%d/hi'):format(run.quote(dir .. '/ex.pem'), srv.port))
    srv:stop()
    assert.are.equal('Hello over TLS, GET /hi\n', out)
  end)

  it('shares its port between cluster workers, as http does', function()
    local port = peer.free_port()
    local script = peer.tmp('.lua', ([[
      local cluster = require('cluster')
      local https = require('https')
      local fs = require('fs')
      if cluster.isPrimary then
        local up = 0
        for i = 1, 2 do
          cluster.fork():on('listening', function()
            up = up + 1
            if up == 2 then print('port %d'); io.stdout:flush() end
          end)
        end
      else
        https.createServer({ cert = fs.readFileSync(%q), key = fs.readFileSync(%q) }, function(req, res)
          res:finish('pid ' .. process.pid)
        end):listen(%d, '127.0.0.1')
      end
    ]]):format(port, certs.server_cert_path, certs.server_key_path, port))
    local srv = H.start(script)
    local pids = {}
    for _ = 1, 16 do
      local out = H.curl(('--cacert %s https://localhost:%d/'):format(run.quote(certs.ca_cert_path), srv.port))
      local pid = out:match('^pid (%d+)$')
      assert.is_string(pid, out)
      pids[pid] = true
    end
    srv:stop()
    os.remove(script)
    local n = 0
    for _ in pairs(pids) do n = n + 1 end
    assert.is_true(n >= 1)
  end)
end)

describe('https clients', function()
  it('gets from an https server through the keep-alive global agent', function()
    local server = hello_server()
    local port = listen(server)
    local a = get { host = 'localhost', port = port, path = '/one', ca = certs.ca }
    assert.are.equal(200, a.res.statusCode)
    assert.are.equal('hello /one', a.body)
    assert.is_true(a.socket.authorized)
    sleep(10)
    local b = get { host = 'localhost', port = port, path = '/two', ca = certs.ca }
    assert.are.equal('hello /two', b.body)
    assert.are.equal(a.socket, b.socket)   -- the pooled connection
    -- other TLS options are another pool entry (another connection)
    local c = get { host = 'localhost', port = port, path = '/three', ca = { certs.ca, certs.self_cert } }
    assert.are.equal('hello /three', c.body)
    assert.are_not.equal(a.socket, c.socket)
    -- a URL string
    local d = get('https://localhost:' .. port .. '/url?x=1', { ca = certs.ca })
    assert.is_nil(d.err)
    https.globalAgent:destroy()
    close(server)
  end)

  it('rejects an untrusted server by default, with Node\'s code', function()
    local server = https.createServer({ cert = certs.self_cert, key = certs.self_key }, function(_, res) res:finish('x') end)
    local port = listen(server)
    local r = get { host = 'localhost', port = port, path = '/' }
    assert.are.equal('DEPTH_ZERO_SELF_SIGNED_CERT', r.err.code)
    local w = https.createServer({ cert = certs.wrong_cert, key = certs.wrong_key }, function(_, res) res:finish('x') end)
    local wport = listen(w)
    local r2 = get { host = 'localhost', port = wport, path = '/', ca = certs.ca }
    assert.are.equal('ERR_TLS_CERT_ALTNAME_INVALID', r2.err.code)
    local r3 = get { host = 'localhost', port = wport, path = '/', ca = certs.ca, rejectUnauthorized = false }
    assert.are.equal('x', r3.body)
    https.globalAgent:destroy()
    close(server)
    close(w)
  end)

  it('resumes TLS sessions across an agent\'s connections', function()
    local server = hello_server()
    local port = listen(server)
    local agent = https.Agent { keepAlive = true }
    local a = get { host = 'localhost', port = port, path = '/1', ca = certs.ca, agent = agent }
    assert.are.equal('hello /1', a.body)
    assert.is_false(a.socket:isSessionReused())
    agent:destroy()   -- the pooled connection goes; the agent keeps its session
    sleep(20)
    local b = get { host = 'localhost', port = port, path = '/2', ca = certs.ca, agent = agent }
    assert.are.equal('hello /2', b.body)
    assert.is_true(b.socket:isSessionReused())
    agent:destroy()
    close(server)
  end)

  it('works from luster.http_client with _tls (the seam fetch uses)', function()
    local server = hello_server()
    local port = listen(server)
    local client = require('luster.http_client')
    local body = await(Promise.new(function(resolve, reject)
      local req = client.request({ _tls = true, host = 'localhost', port = port, path = '/seam', ca = certs.ca }, function(res)
        local parts = {}
        res:on('data', function(d) parts[#parts + 1] = d end)
        res:on('end', function() resolve(table.concat(parts)) end)
      end)
      req:on('error', reject)
      req:finish()
    end))
    assert.are.equal('hello /seam', body)
    https.globalAgent:destroy()
    close(server)
  end)
end)

describe('https with Node', function()
  if not peer.have('node') then return end

  it('serves Node\'s https client and gets from Node\'s https server', function()
    local server = hello_server()
    local port = listen(server)
    local script = peer.tmp('.js', ([[
      const https = require('https'), fs = require('fs');
      // 127.0.0.1 + servername: Node 18 tries only the first address of
      // 'localhost' (::1 on Debian), where nothing listens
      https.get({ host: '127.0.0.1', servername: 'localhost', port: %d, path: '/node', ca: fs.readFileSync(%q) }, (res) => {
        let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log(res.statusCode, b));
      }).on('error', (e) => console.log('error', e.code));
    ]]):format(port, certs.ca_cert_path))
    local r = await(peer.run { 'node', script })
    assert.are.equal('200 hello /node\n', r.out)
    os.remove(script)
    close(server)

    local nport = peer.free_port()
    local nscript = peer.tmp('.js', ([[
      const https = require('https'), fs = require('fs');
      https.createServer({ cert: fs.readFileSync(%q), key: fs.readFileSync(%q) }, (req, res) => {
        res.end('node says ' + req.url);
      }).listen(%d, '127.0.0.1');
    ]]):format(certs.server_cert_path, certs.server_key_path, nport))
    local p = peer.start({ 'node', nscript }, { port = nport })
    local g = get { host = 'localhost', port = nport, path = '/lua', ca = certs.ca }
    assert.are.equal('node says /lua', g.body)
    https.globalAgent:destroy()
    p:stop()
    os.remove(nscript)
  end)
end)

describe('https with nginx', function()
  if not peer.have('nginx') then return end

  it('is the upstream of nginx (proxy_ssl_verify) and the client of an nginx TLS server', function()
    local server = hello_server()
    local port = listen(server)
    local front, tls_port = peer.free_port(), peer.free_port()
    local dir = certs.dir .. '/nginx'
    os.execute('mkdir -p ' .. run.quote(dir .. '/logs'))
    local conf = peer.tmp('.conf', ([[
daemon off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/logs/error.log error;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
  server {
    listen 127.0.0.1:%d;
    location / {
      proxy_pass https://127.0.0.1:%d;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate %s;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;
    }
  }
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    location / { default_type text/plain; return 200 "nginx tls $request_uri"; }
  }
}
]]):format(dir, dir, dir, dir, dir, dir, dir, front, port, certs.ca_cert_path, tls_port, certs.server_cert_path,
      certs.server_key_path))
    local p = peer.start({ 'nginx', '-p', dir, '-c', conf, '-e', dir .. '/logs/error.log' }, { port = front })
    local r = curl('http://127.0.0.1:' .. front .. '/through')
    assert.are.equal('hello /through', r.out)
    local g = get { host = 'localhost', port = tls_port, path = '/from-luster', ca = certs.ca }
    assert.are.equal('nginx tls /from-luster', g.body)
    assert.is_true(g.socket.authorized)
    https.globalAgent:destroy()
    p:stop()
    os.remove(conf)
    -- not awaited: nginx's upstream requests are Connection: close, and
    -- such a connection lingers until the server's 2 s sweep (http_conn.c),
    -- which does not keep the loop alive
    server:close()
  end)
end)

describe('https options', function()
  it('checks SNICallback\'s type', function()
    local ok, e = pcall(https.createServer, { cert = certs.server_cert, key = certs.server_key,
      SNICallback = 'nope' }, function() end)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)

  it('raises Node\'s code for a key that does not match the certificate', function()
    local ok, e = pcall(https.createServer, { cert = certs.server_cert, key = certs.wrong_key }, function() end)
    assert.is_false(ok)
    assert.are.equal('ERR_OSSL_X509_KEY_VALUES_MISMATCH', e.code)
  end)
end)
