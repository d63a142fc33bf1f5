-- tls: clients and servers (API.md "tls and https"), against luster itself
-- and real peers (openssl s_server / s_client, Node's tls), with the
-- certificates of spec/helpers/tls_certs.lua.
local tls = require('tls')
local net = require('net')
local crypto = require('crypto')
local peer = require('helpers.peer')
local run = require('helpers.run')
local certs = require('helpers.tls_certs').make()

local function sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

local function listen(server, ...)
  local args = { ... }
  return await(Promise.new(function(resolve, reject)
    server:once('error', reject)
    args[#args + 1] = function() resolve(server:address()) end
    server:listen(unpack(args))
  end)).port
end

local function close(server) await(Promise.new(function(r) server:close(r) end)) end

-- connect and wait for 'secureConnect' or 'error': sock, err
local function try_connect(o)
  local sock = tls.connect(o)
  local err = await(Promise.new(function(resolve)
    sock:once('secureConnect', function() resolve(false) end)
    sock:once('error', function(e) resolve(e) end)
  end))
  return sock, err or nil
end

local function server_with(cert, key, extra, on)
  local o = { cert = cert, key = key }
  for k, v in pairs(extra or {}) do o[k] = v end
  return tls.createServer(o, on or function(s)
    s:on('data', function(d) s:write(d) end)
    s:on('error', function() end)
  end)
end

local function echo_server(extra)
  return server_with(certs.server_cert, certs.server_key, extra)
end

local function openssl_field(path, flag)
  local out = run.sh(('openssl x509 -noout %s -in %s'):format(flag, run.quote(path)))
  return (out:gsub('\n$', ''))
end

describe('tls clients', function()
  it('talks to openssl s_server, verifies it and reports the peer as Node does', function()
    local port = peer.free_port()
    local p = peer.start({ 'openssl', 's_server', '-accept', '127.0.0.1:' .. port, '-cert', certs.server_cert_path,
      '-key', certs.server_key_path, '-alpn', 'h2,http/1.1', '-www' }, { port = port })
    local sock, err = try_connect { host = 'localhost', port = port, ca = certs.ca, ALPNProtocols = { 'h2', 'http/1.1' } }
    assert.is_nil(err)
    assert.is_true(sock.authorized)
    assert.is_nil(sock.authorizationError)
    assert.are.equal('h2', sock.alpnProtocol)
    assert.are.equal('TLSv1.3', sock:getProtocol())
    assert.is_true(sock.encrypted)
    local cert = sock:getPeerCertificate()
    assert.are.equal('localhost', cert.subject.CN)
    assert.are.equal('luster-test-ca', cert.issuer.CN)
    assert.are.equal('DNS:localhost, IP Address:127.0.0.1', cert.subjectaltname)
    assert.are.equal(openssl_field(certs.server_cert_path, '-fingerprint -sha256'), 'sha256 Fingerprint=' .. cert.fingerprint256)
    assert.are.equal(openssl_field(certs.server_cert_path, '-enddate'), 'notAfter=' .. cert.valid_to)
    assert.are.equal(openssl_field(certs.server_cert_path, '-startdate'), 'notBefore=' .. cert.valid_from)
    assert.are.equal(openssl_field(certs.server_cert_path, '-serial'), 'serial=' .. cert.serialNumber)
    -- s_server -www answers a GET with a status page
    sock:write('GET / HTTP/1.0\r\n\r\n')
    assert.are.equal('HTTP/1.0 200 ok', await(sock:readline()))
    sock:destroy()
    -- ALPN picks what both sides have
    local s2, err2 = try_connect { host = 'localhost', port = port, ca = certs.ca, ALPNProtocols = { 'http/1.1' } }
    assert.is_nil(err2)
    assert.are.equal('http/1.1', s2.alpnProtocol)
    s2:destroy()
    local s3 = try_connect { host = 'localhost', port = port, ca = certs.ca }
    assert.is_false(s3.alpnProtocol)
    s3:destroy()
    p:stop()
  end)

  it('rejects bad certificates with Node\'s codes, or connects unauthorized when told to', function()
    local cases = {
      { certs.self_cert, certs.self_key, 'DEPTH_ZERO_SELF_SIGNED_CERT', certs.ca },
      { certs.expired_cert, certs.expired_key, 'CERT_HAS_EXPIRED', certs.ca },
      { certs.wrong_cert, certs.wrong_key, 'ERR_TLS_CERT_ALTNAME_INVALID', certs.ca },
      -- signed by a CA the client does not know (the system store has no test CA)
      { certs.server_cert, certs.server_key, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', nil },
    }
    for _, case in ipairs(cases) do
      local server = server_with(case[1], case[2])
      local port = listen(server, 0, '127.0.0.1')
      local sock, err = try_connect { host = 'localhost', port = port, ca = case[4] }
      assert.is_table(err, case[3])
      assert.are.equal(case[3], err.code)
      assert.is_true(sock.destroyed)
      local s2, err2 = try_connect { host = 'localhost', port = port, ca = case[4], rejectUnauthorized = false }
      assert.is_nil(err2)
      assert.is_false(s2.authorized)
      assert.are.equal(case[3], s2.authorizationError)
      s2:write('still works\n')
      assert.are.equal('still works', await(s2:readline()))
      s2:destroy()
      close(server)
    end
  end)

  it('checks an IP literal against the certificate\'s IP addresses', function()
    local server = echo_server()
    local port = listen(server, 0, '127.0.0.1')
    local sock, err = try_connect { host = '127.0.0.1', port = port, ca = certs.ca }
    assert.is_nil(err)
    assert.is_true(sock.authorized)
    sock:destroy()
    local _, err2 = try_connect { host = '127.0.0.1', port = port, ca = certs.ca, servername = 'other.example' }
    assert.are.equal('ERR_TLS_CERT_ALTNAME_INVALID', err2.code)
    close(server)
  end)

  it('uses the system CA store by default, so SSL_CERT_FILE applies', function()
    local server = echo_server()
    local port = listen(server, 0, '127.0.0.1')
    local script = peer.tmp('.lua', ([[
      local tls = require('tls')
      local s = tls.connect({ host = 'localhost', port = %d }, function(...) end)
      s:on('secureConnect', function() print('authorized', s.authorized); s:destroy() end)
      s:on('error', function(e) print('error', e.code) end)
    ]]):format(port))
    local r = await(peer.run { 'env', 'SSL_CERT_FILE=' .. certs.ca_cert_path, run.bin, script })
    assert.are.equal('authorized\ttrue\n', r.out)
    local r2 = await(peer.run { 'env', 'SSL_CERT_FILE=/dev/null', 'SSL_CERT_DIR=/nonexistent', run.bin, script })
    assert.are.equal('error\tUNABLE_TO_VERIFY_LEAF_SIGNATURE\n', r2.out)
    os.remove(script)
    close(server)
  end)

  it('offers the coroutine forms of the stream (connected, readline, read(n))', function()
    local server = echo_server()
    local port = listen(server, 0, '127.0.0.1')
    local c = tls.connect { host = 'localhost', port = port, ca = certs.ca }
    c:write('early line\n')   -- written before the handshake: waits for it
    assert.are.equal(c, await(c:connected()))
    assert.is_true(c.authorized)
    assert.are.equal('early line', await(c:readline()))
    c:write(('x'):rep(100000))
    assert.are.equal(('x'):rep(100000), await(c:read(100000)))
    c:finish()
    assert.is_nil(await(c:read()))
    close(server)
  end)

  it('resumes a session with getSession() on the next connection', function()
    local server = echo_server()
    local port = listen(server, 0, '127.0.0.1')
    local c1 = tls.connect { host = 'localhost', port = port, ca = certs.ca }
    local session = await(Promise.new(function(r) c1:once('session', r) end))
    assert.is_false(c1:isSessionReused())
    assert.is_string(c1:getSession())
    assert.are.equal(session, c1:getSession())
    c1:destroy()
    local c2, err = try_connect { host = 'localhost', port = port, ca = certs.ca, session = session }
    assert.is_nil(err)
    assert.is_true(c2:isSessionReused())
    assert.is_true(c2.authorized)
    c2:destroy()
    -- and against openssl s_server, over TLS 1.2 (session ids)
    local sport = peer.free_port()
    local p = peer.start({ 'openssl', 's_server', '-accept', '127.0.0.1:' .. sport, '-cert', certs.server_cert_path,
      '-key', certs.server_key_path, '-tls1_2', '-www' }, { port = sport })
    local d1 = tls.connect { host = 'localhost', port = sport, ca = certs.ca }
    local s12 = await(Promise.new(function(r) d1:once('session', r) end))
    assert.are.equal('TLSv1.2', d1:getProtocol())
    d1:destroy()
    local d2 = try_connect { host = 'localhost', port = sport, ca = certs.ca, session = s12 }
    assert.is_true(d2:isSessionReused())
    d2:destroy()
    p:stop()
    close(server)
  end)

  it('fails cleanly on a plaintext server, a server that goes silent, and a truncated record', function()
    -- a plaintext server answering with HTTP
    local plain = net.createServer(function(s)
      s:on('data', function() s:write('HTTP/1.1 400 Bad Request\r\n\r\n') end)
      s:on('error', function() end)
    end)
    local port = listen(plain, 0, '127.0.0.1')
    local _, err = try_connect { host = 'localhost', port = port, ca = certs.ca }
    assert.are.equal('ERR_SSL_WRONG_VERSION_NUMBER', err.code)
    close(plain)
    -- a server that accepts and then says nothing
    local silent = net.createServer(function(s) s:on('error', function() end); s:resume() end)
    port = listen(silent, 0, '127.0.0.1')
    local t0 = os.clock()
    local _, err2 = try_connect { host = 'localhost', port = port, ca = certs.ca, handshakeTimeout = 200 }
    assert.are.equal('ERR_TLS_HANDSHAKE_TIMEOUT', err2.code)
    assert.is_true(os.clock() - t0 < 5)
    close(silent)
    -- a server that closes during the handshake
    local closer = net.createServer(function(s) s:on('data', function() s:destroy() end) end)
    port = listen(closer, 0, '127.0.0.1')
    local _, err3 = try_connect { host = 'localhost', port = port, ca = certs.ca }
    assert.are.equal('ECONNRESET', err3.code)
    close(closer)
    -- a proxy that cuts the server's big record in half and closes
    local server = server_with(certs.server_cert, certs.server_key, nil, function(s)
      s:on('error', function() end)
      s:on('data', function() s:write(('y'):rep(12000)) end)
    end)
    local sport = listen(server, 0, '127.0.0.1')
    local proxy = net.createServer(function(down)
      down:on('error', function() end)
      local up = net.connect(sport, '127.0.0.1')
      up:on('error', function() end)
      down:on('data', function(d) up:write(d) end)
      up:on('data', function(d)
        if #d > 6000 then
          down:write(d:sub(1, 3000))
          down:finish()
          up:destroy()
        else
          down:write(d)
        end
      end)
    end)
    local pport = listen(proxy, 0, '127.0.0.1')
    local c, cerr = try_connect { host = 'localhost', port = pport, ca = certs.ca }
    assert.is_nil(cerr)
    c:write('go')
    local got = await(Promise.new(function(resolve)
      c:on('error', function(e) resolve(e) end)
      c:on('end', function() resolve('end') end)
      c:resume()
    end))
    assert.is_table(got)
    assert.are.equal('ECONNRESET', got.code)
    assert.matches('truncated', got.message)
    close(proxy)
    close(server)
  end)

  it('leaves nothing on OpenSSL\'s error queue after a failure', function()
    local function sign_error()
      local ok, e = pcall(crypto.sign, 'sha256', 'data', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')
      assert.is_false(ok)
      return e.code
    end
    local before = sign_error()
    local plain = net.createServer(function(s)
      s:on('data', function() s:write('HTTP/1.1 400 Bad Request\r\n\r\n') end)
      s:on('error', function() end)
    end)
    local port = listen(plain, 0, '127.0.0.1')
    local _, err = try_connect { host = 'localhost', port = port }
    assert.are.equal('ERR_SSL_WRONG_VERSION_NUMBER', err.code)
    local bad = echo_server()
    local bport = listen(bad, 0, '127.0.0.1')
    local raw = net.connect(bport, '127.0.0.1')
    raw:write('GET / HTTP/1.1\r\n\r\n')
    await(Promise.new(function(r) raw:on('close', r); raw:resume() end))
    assert.are.equal(before, sign_error())
    close(plain)
    close(bad)
  end)
end)

describe('tls servers', function()
  it('serves openssl s_client, with ALPN and SNI', function()
    local seen
    local server = server_with(certs.server_cert, certs.server_key, { ALPNProtocols = { 'h2', 'http/1.1' } }, function(s)
      seen = { alpn = s.alpnProtocol, name = s.servername, proto = s:getProtocol(), authorized = s.authorized }
      s:on('data', function(d) s:write('echo:' .. d) end)
      s:on('error', function() end)
    end)
    local port = listen(server, 0, '127.0.0.1')
    local input = peer.tmp('.txt', 'hello\n')
    local r = await(peer.run { 'sh', '-c', ('(cat %s; sleep 0.5) | openssl s_client -connect 127.0.0.1:%d -servername sni.example -alpn http/1.1 -CAfile %s -quiet -no_ign_eof -verify_return_error')
      :format(input, port, certs.ca_cert_path) })
    os.remove(input)
    assert.matches('echo:hello', r.out)
    assert.are.same({ alpn = 'http/1.1', name = 'sni.example', proto = 'TLSv1.3', authorized = false }, seen)
    close(server)
  end)

  it('answers SNICallback asynchronously with another context', function()
    local asked = {}
    local server = server_with(certs.server_cert, certs.server_key, {
      SNICallback = function(name, cb)
        asked[#asked + 1] = name
        setTimeout(function()
          if name == 'wrong.example' then
            cb(nil, tls.createSecureContext { cert = certs.wrong_cert, key = certs.wrong_key })
          elseif name == 'refused.example' then
            cb({ code = 'ENOTFOUND', message = 'no such name' })
          else
            cb(nil, nil)
          end
        end, 10)
      end,
    })
    local errors_seen = {}
    server:on('tlsClientError', function(e) errors_seen[#errors_seen + 1] = e.code end)
    local port = listen(server, 0, '127.0.0.1')
    local a, err = try_connect { host = '127.0.0.1', port = port, servername = 'wrong.example', ca = certs.ca }
    assert.is_nil(err)
    assert.are.equal('wrong.example', a:getPeerCertificate().subject.CN)
    a:destroy()
    local b, err2 = try_connect { host = 'localhost', port = port, ca = certs.ca }
    assert.is_nil(err2)
    assert.are.equal('localhost', b:getPeerCertificate().subject.CN)
    b:destroy()
    local _, err3 = try_connect { host = '127.0.0.1', port = port, servername = 'refused.example', ca = certs.ca }
    assert.is_table(err3)
    assert.are.same({ 'wrong.example', 'localhost', 'refused.example' }, asked)
    sleep(50)
    assert.are.same({ 'ENOTFOUND' }, errors_seen)
    close(server)
  end)

  it('takes a context SNICallback returns; a raising callback fails only that handshake', function()
    local wrong = tls.createSecureContext { cert = certs.wrong_cert, key = certs.wrong_key }
    local asked = {}
    local server = server_with(certs.server_cert, certs.server_key, {
      SNICallback = function(name)
        asked[#asked + 1] = name
        if name == 'raise.example' then error('no such site') end
        return wrong
      end,
    })
    local errs = {}
    server:on('tlsClientError', function(e) errs[#errs + 1] = e.code end)
    local port = listen(server, 0, '127.0.0.1')
    local a, err = try_connect { host = '127.0.0.1', port = port, servername = 'wrong.example', ca = certs.ca }
    assert.is_nil(err)
    assert.are.equal('wrong.example', a:getPeerCertificate().subject.CN)
    a:destroy()
    local _, err2 = try_connect { host = '127.0.0.1', port = port, servername = 'raise.example', ca = certs.ca }
    assert.is_table(err2)
    -- an IP literal sends no server_name: the callback is not asked, the
    -- server's own certificate is served
    local c, err3 = try_connect { host = '127.0.0.1', port = port, ca = certs.ca, rejectUnauthorized = false }
    assert.is_nil(err3)
    assert.are.equal('localhost', c:getPeerCertificate().subject.CN)
    c:destroy()
    -- a client that leaves mid-handshake: Node's server-side words
    local half = net.connect(port, '127.0.0.1')
    await(half:connected())
    half:write('\22\3\1\0\200\1\0\0')
    sleep(50)
    half:destroy()
    sleep(100)
    assert.are.same({ 'wrong.example', 'raise.example' }, asked)
    assert.are.same({ 'ERR_TLS_SNI_CALLBACK', 'ECONNRESET' }, errs)
    close(server)
  end)

  it('does mutual TLS: requestCert with rejectUnauthorized', function()
    local peer_cn
    local server = server_with(certs.server_cert, certs.server_key,
      { ca = certs.ca, requestCert = true, rejectUnauthorized = true }, function(s)
        peer_cn = s.authorized and s:getPeerCertificate().subject.CN
        s:on('data', function(d) s:write(d) end)
        s:on('error', function() end)
      end)
    local client_errors = {}
    server:on('tlsClientError', function(e) client_errors[#client_errors + 1] = e.code end)
    local port = listen(server, 0, '127.0.0.1')
    local c = tls.connect { host = 'localhost', port = port, ca = certs.ca, cert = certs.client_cert, key = certs.client_key }
    await(c:connected())
    c:write('mtls\n')
    assert.are.equal('mtls', await(c:readline()))
    assert.are.equal('luster-client', peer_cn)
    c:destroy()
    -- without a certificate: the server fails the handshake
    local n = tls.connect { host = 'localhost', port = port, ca = certs.ca }
    local e = await(Promise.new(function(resolve)
      n:on('error', resolve)
      n:on('end', function() resolve('end') end)
      n:resume()
    end))
    assert.is_table(e)
    assert.matches('^ERR_SSL_', e.code)
    sleep(50)
    assert.are.same({ 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' }, client_errors)
    -- a certificate of a CA the server does not trust
    local server2 = server_with(certs.server_cert, certs.server_key,
      { ca = certs.self_cert, requestCert = true, rejectUnauthorized = true })
    local errs2 = {}
    server2:on('tlsClientError', function(err) errs2[#errs2 + 1] = err.code end)
    local port2 = listen(server2, 0, '127.0.0.1')
    local m = tls.connect { host = 'localhost', port = port2, ca = certs.ca, cert = certs.client_cert, key = certs.client_key }
    await(Promise.new(function(resolve) m:on('error', resolve); m:on('close', resolve); m:resume() end))
    sleep(50)
    assert.are.same({ 'ERR_SSL_CERTIFICATE_VERIFY_FAILED' }, errs2)
    close(server)
    close(server2)
  end)

  it('reports a plaintext client and a stalled handshake as tlsClientError', function()
    local server = echo_server { handshakeTimeout = 200 }
    local errs = {}
    server:on('tlsClientError', function(e) errs[#errs + 1] = e.code end)
    local port = listen(server, 0, '127.0.0.1')
    local raw = net.connect(port, '127.0.0.1')
    raw:write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await(Promise.new(function(r) raw:on('close', r); raw:resume() end))
    local silent = net.connect(port, '127.0.0.1')
    silent:write('\22\3\1')   -- the start of a record, then nothing
    await(Promise.new(function(r) silent:on('close', r); silent:resume() end))
    assert.are.same({ 'ERR_SSL_HTTP_REQUEST', 'ERR_TLS_HANDSHAKE_TIMEOUT' }, errs)
    -- the server goes on serving
    local c = try_connect { host = 'localhost', port = port, ca = certs.ca }
    assert.is_true(c.authorized)
    c:destroy()
    close(server)
  end)
end)

describe('tls with Node', function()
  if not peer.have('node') then return end

  it('serves Node\'s tls client and connects to Node\'s tls server', function()
    local server = echo_server { ALPNProtocols = { 'http/1.1' } }
    local port = listen(server, 0, '127.0.0.1')
    local script = peer.tmp('.js', ([[
      const tls = require('tls'), fs = require('fs');
      // 127.0.0.1 + servername: Node 18 tries only the first address of 'localhost'
      const s = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: %d, ca: fs.readFileSync(%q), ALPNProtocols: ['http/1.1'] }, () => {
        s.write('from node');
        s.once('data', (d) => { console.log(s.authorized, s.alpnProtocol, s.getProtocol(), String(d)); s.end(); });
      });
      s.on('error', (e) => console.log('error', e.code));
    ]]):format(port, certs.ca_cert_path))
    local r = await(peer.run { 'node', script })
    assert.are.equal('true http/1.1 TLSv1.3 from node\n', r.out)
    os.remove(script)
    close(server)

    local nport = peer.free_port()
    local nscript = peer.tmp('.js', ([[
      const tls = require('tls'), fs = require('fs');
      tls.createServer({ cert: fs.readFileSync(%q), key: fs.readFileSync(%q), ALPNProtocols: ['h2'] }, (s) => {
        s.on('data', (d) => s.write('node:' + d));
      }).listen(%d, '127.0.0.1');
    ]]):format(certs.server_cert_path, certs.server_key_path, nport))
    local p = peer.start({ 'node', nscript }, { port = nport })
    local c, err = try_connect { host = 'localhost', port = nport, ca = certs.ca, ALPNProtocols = { 'h2' } }
    assert.is_nil(err)
    assert.are.equal('h2', c.alpnProtocol)
    c:write('hi')
    assert.are.equal('node:hi', await(c:read(7)))
    c:destroy()
    p:stop()
    os.remove(nscript)
  end)
end)

describe('tls over an existing socket (STARTTLS)', function()
  if not peer.have('node') then return end

  it('upgrades a connected net.Socket with tls.connect{socket=}', function()
    local nport = peer.free_port()
    local nscript = peer.tmp('.js', ([[
      const net = require('net'), tls = require('tls'), fs = require('fs');
      net.createServer((raw) => {
        raw.once('data', (d) => {
          if (String(d) !== 'STARTTLS\n') return raw.destroy();
          raw.write('OK\n', () => {
            const s = new tls.TLSSocket(raw, { isServer: true, cert: fs.readFileSync(%q), key: fs.readFileSync(%q) });
            s.on('data', (x) => s.write('secure:' + x));
          });
        });
      }).listen(%d, '127.0.0.1');
    ]]):format(certs.server_cert_path, certs.server_key_path, nport))
    local p = peer.start({ 'node', nscript }, { port = nport })
    local raw = net.connect(nport, '127.0.0.1')
    await(raw:connected())
    raw:write('STARTTLS\n')
    assert.are.equal('OK', await(raw:readline()))
    local s = tls.connect { socket = raw, servername = 'localhost', ca = certs.ca }
    assert.are.equal(s, await(s:connected()))
    assert.is_true(s.authorized)
    s:write('ping')
    assert.are.equal('secure:ping', await(s:read(11)))
    s:destroy()
    p:stop()
    os.remove(nscript)
  end)
end)

describe('tls in worker threads', function()
  it('connects from several workers at once to a server on the main thread', function()
    local Worker = require('worker_threads').Worker
    local server = echo_server()
    local port = listen(server, 0, '127.0.0.1')
    local src = ([[
      local wt = require('worker_threads')
      local tls = require('tls')
      local s = tls.connect { host = 'localhost', port = %d, ca = wt.workerData }
      await(s:connected())
      s:write('from ' .. wt.threadId .. '\n')
      local line = await(s:readline())
      s:destroy()
      wt.parentPort:postMessage(line)
    ]]):format(port)
    local ws, replies = {}, {}
    for i = 1, 4 do
      local w = Worker.new(src, { eval = true, workerData = certs.ca })
      ws[i] = w.threadId   -- (-1 once the worker has exited)
      replies[i] = Promise.new(function(resolve, reject)
        w:once('message', resolve)
        w:once('error', reject)
      end)
    end
    for i = 1, 4 do
      assert.are.equal('from ' .. ws[i], await(replies[i]))
    end
    close(server)
  end)
end)
