-- net: TCP and Unix-socket servers and clients (API.md "net"), tested
-- against luster itself and against real peers (redis-server, Node).
local net = require('net')
local peer = require('helpers.peer')

local function listen(server, ...)
  local args = { ... }
  return await(Promise.new(function(resolve, reject)
    server:once('error', reject)
    args[#args + 1] = function() resolve(server:address()) end
    server:listen(unpack(args))
  end))
end

local function echo_server()
  return net.createServer(function(sock)
    sock:on('data', function(d) sock:write(d) end)
  end)
end

local function close(server) await(Promise.new(function(r) server:close(r) end)) end

local function sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

describe('net clients and servers', function()
  it('echoes over IPv4 with the coroutine forms', function()
    local server = echo_server()
    local addr = listen(server, 0, '127.0.0.1')
    assert.are.equal('127.0.0.1', addr.address)
    local c = net.connect(addr.port, '127.0.0.1')
    assert.are.equal(c, await(c:connected()))
    assert.are.equal('127.0.0.1', c.remoteAddress)
    assert.are.equal(addr.port, c.remotePort)
    assert.is_number(c.localPort)
    c:write('PING\r\n')
    assert.are.equal('PING', await(c:readline()))
    c:write('0123456789')
    assert.are.equal('0123', await(c:read(4)))
    assert.are.equal('456789', await(c:read(6)))
    c:finish()
    assert.is_nil(await(c:read()))
    assert.are.equal(16, c.bytesWritten)
    assert.are.equal(16, c.bytesRead)
    close(server)
  end)

  it('echoes over IPv6 and a Unix socket', function()
    local server = echo_server()
    local ok = pcall(listen, server, 0, '::1')
    if ok then
      local c = net.connect { port = server:address().port, host = '::1' }
      c:write('six')
      assert.are.equal('six', await(c:read(3)))
      assert.are.equal('IPv6', c.remoteFamily)
      c:destroy()
      close(server)
    end
    local path = os.tmpname() .. '.sock'
    local userver = echo_server()
    assert.are.equal(path, listen(userver, path))
    local u = net.connect(path)
    u:write('unix')
    assert.are.equal('unix', await(u:read(4)))
    u:destroy()
    close(userver)
    os.remove(path)
  end)

  it('emits connect, data, end and close in order', function()
    local server = net.createServer(function(sock) sock:finish('bye') end)
    local addr = listen(server, 0, '127.0.0.1')
    local events = {}
    local done = Promise.new(function(resolve)
      local c = net.connect(addr.port, '127.0.0.1', function() events[#events + 1] = 'connect' end)
      c:on('data', function(d) events[#events + 1] = 'data:' .. d end)
      c:on('end', function() events[#events + 1] = 'end' end)
      c:on('close', function(hadError) events[#events + 1] = 'close:' .. tostring(hadError); resolve() end)
    end)
    await(done)
    assert.are.same({ 'connect', 'data:bye', 'end', 'close:false' }, events)
    close(server)
  end)

  it('rejects with ECONNREFUSED carrying syscall, address and port', function()
    local port = peer.free_port()
    local c = net.connect(port, '127.0.0.1')
    local ok, e = pcall(await, c:connected())
    assert.is_false(ok)
    assert.are.equal('ECONNREFUSED', e.code)
    assert.are.equal('connect', e.syscall)
    assert.are.equal('127.0.0.1', e.address)
    assert.are.equal(port, e.port)
    assert.are.equal('connect ECONNREFUSED 127.0.0.1:' .. port, e.message)
  end)

  it('tries every address of a name until one connects (autoSelectFamily)', function()
    local server = echo_server()
    local addr = listen(server, 0, '127.0.0.1')
    local dns = require('dns')
    local real = dns.lookup
    -- a name whose first address refuses: ::1 (nobody listens there), then 127.0.0.1
    dns.lookup = function(host, opts, cb)
      if host ~= 'two-addresses.test' then return real(host, opts, cb) end
      process.nextTick(cb, nil, { { address = '::1', family = 6 }, { address = '127.0.0.1', family = 4 } })
    end
    local ok, err = pcall(function()
      local c = net.connect(addr.port, 'two-addresses.test')
      c:write('x')
      assert.are.equal('x', await(c:read(1)))
      assert.are.equal('127.0.0.1', c.remoteAddress)
      c:destroy()
    end)
    dns.lookup = real
    close(server)
    assert(ok, err)
  end)

  it('reports ENOTFOUND as an error event and EADDRINUSE on listen', function()
    local err = await(Promise.new(function(resolve)
      net.connect(80, 'no-such-host.invalid'):on('error', resolve)
    end))
    assert.are.equal('ENOTFOUND', err.code)
    local a = echo_server()
    local addr = listen(a, 0, '127.0.0.1')
    local b = echo_server()
    local ok, e = pcall(listen, b, addr.port, '127.0.0.1')
    assert.is_false(ok)
    assert.are.equal('EADDRINUSE', e.code)
    assert.are.equal('listen', e.syscall)
    assert.are.equal(addr.port, e.port)
    close(a)
    local ok2, e2 = pcall(net.connect, 70000, '127.0.0.1')
    assert.is_false(ok2)
    assert.are.equal('ERR_SOCKET_BAD_PORT', e2.code)
  end)

  it('rejects read(n) with ERR_STREAM_PREMATURE_CLOSE when the peer ends first', function()
    local server = net.createServer(function(sock) sock:finish('abc') end)
    local addr = listen(server, 0, '127.0.0.1')
    local c = net.connect(addr.port, '127.0.0.1')
    local ok, e = pcall(await, c:read(10))
    assert.is_false(ok)
    assert.are.equal('ERR_STREAM_PREMATURE_CLOSE', e.code)
    close(server)
  end)

  it('times out an idle socket without closing it', function()
    local server = echo_server()
    local addr = listen(server, 0, '127.0.0.1')
    local c = net.connect { port = addr.port, host = '127.0.0.1' }
    await(c:connected())
    local t0 = process.hrtime and os.clock()
    await(Promise.new(function(resolve) c:setTimeout(50, resolve) end))
    assert.is_falsy(c.destroyed)
    c:write('still open')
    assert.are.equal('still open', await(c:read(10)))
    c:destroy()
    close(server)
  end)

  it('waits for its connections before emitting close, and counts them', function()
    local server = echo_server()
    local addr = listen(server, 0, '127.0.0.1')
    local c = net.connect(addr.port, '127.0.0.1')
    c:write('x')
    await(c:read(1))
    assert.are.equal(1, server:getConnections())
    local closed = false
    server:close(function() closed = true end)
    sleep(30)
    assert.is_false(closed)
    c:destroy()
    sleep(30)
    assert.is_true(closed)
  end)
end)

describe('backpressure', function()
  it('stops reading a paused socket and makes the writer wait for drain', function()
    local paused_sock
    local server = net.createServer(function(sock) paused_sock = sock; sock:pause() end)
    local addr = listen(server, 0, '127.0.0.1')
    local c = net.connect(addr.port, '127.0.0.1')
    await(c:connected())
    local chunk = ('z'):rep(64 * 1024)
    local once = require('events').once_promise
    local writes, blocked = 0, false
    for _ = 1, 1024 do          -- up to 64 MiB, unless backpressure stops us
      writes = writes + 1
      if not c:write(chunk) then
        -- Node's contract: wait for 'drain'.  Against a paused reader it
        -- stops coming once the kernel's buffers are full.
        local drained = await(Promise.race {
          once(c, 'drain'):next(function() return true end),
          Promise.new(function(r) setTimeout(r, 300, false) end),
        })
        if not drained then blocked = true; break end
      end
    end
    assert.is_true(blocked, 'the writer was never held back')
    assert.is_true(writes < 1024)
    assert.is_true(c.writableLength > 0)
    -- the server holds at most its high-water mark (plus one read) in memory
    assert.is_true(paused_sock.readableLength <= 128 * 1024, 'server buffered ' .. paused_sock.readableLength)
    local drain = once(c, 'drain')
    local got = 0
    paused_sock:on('data', function(d) got = got + #d end)
    paused_sock:resume()
    await(drain)
    c:finish()
    await(require('luster.stream').finished(paused_sock))
    assert.are.equal(writes * #chunk, got)
    close(server)
  end)

  it('writes straight to the kernel without stream state, and keeps order when the kernel takes part', function()
    local got, ended = {}, nil
    local server = net.createServer(function(sock)
      sock:on('data', function(d) got[#got + 1] = d end)
      ended = Promise.new(function(r) sock:on('end', r) end)
    end)
    local addr = listen(server, 0, '127.0.0.1')
    local c = net.connect(addr.port, '127.0.0.1')
    await(c:connected())
    local called = false
    assert.is_true(c:write('head;', function(err) called = err == nil end))
    assert.is_true(called)
    assert.is_nil(rawget(c, '_ws'))      -- an idle connection holds no writable state
    assert.are.equal(5, c.bytesWritten)
    -- 16 MiB at once: more than the kernel takes, the rest queues in order
    local parts = {}
    for i = 1, 16 * 1024 do parts[i] = ('%07d|'):format(i):rep(128) end
    local big = table.concat(parts)
    local ok = c:write(big)
    assert.is_false(ok)
    assert.is_true(c.writableLength > 0)
    c:write(';tail')
    c:finish()
    await(ended)
    assert.are.equal('head;' .. big .. ';tail', table.concat(got))
    assert.are.equal(5 + #big + 5, c.bytesWritten)
    close(server)
  end)

  it('keeps a server that writes to a client that never reads bounded', function()
    local total, stopped = 0, false
    local server = net.createServer(function(sock)
      sock:on('error', function() end)   -- the client resets at the end
      local function pump()
        while total < 256 * 1024 * 1024 do
          total = total + 65536
          if not sock:write(('q'):rep(65536)) then stopped = true; return end
        end
      end
      sock:on('drain', pump)
      pump()
    end)
    local addr = listen(server, 0, '127.0.0.1')
    local c = net.connect(addr.port, '127.0.0.1')
    c:pause()
    await(c:connected())
    sleep(200)
    assert.is_true(stopped)
    assert.is_true(total < 32 * 1024 * 1024, 'wrote ' .. total .. ' bytes into a non-reader')
    c:destroy()
    close(server)
  end)

  it('pipes one socket into another', function()
    local sink_total = 0
    local sink = net.createServer(function(sock) sock:on('data', function(d) sink_total = sink_total + #d end) end)
    local sink_addr = listen(sink, 0, '127.0.0.1')
    local relay = net.createServer(function(sock)
      local out = net.connect(sink_addr.port, '127.0.0.1')
      sock:pipe(out)
    end)
    local relay_addr = listen(relay, 0, '127.0.0.1')
    local c = net.connect(relay_addr.port, '127.0.0.1')
    for _ = 1, 64 do c:write(('p'):rep(65536)) end
    c:finish()
    for _ = 1, 200 do
      if sink_total == 64 * 65536 then break end
      sleep(10)
    end
    assert.are.equal(64 * 65536, sink_total)
    close(relay)
    close(sink)
  end)
end)

describe('against real peers', function()
  it('talks RESP to a real redis-server', function()
    if not peer.have('redis-server') then pending('redis-server is not installed') return end
    local port = peer.free_port()
    local redis = peer.start({ 'redis-server', '--port', tostring(port), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no' }, { port = port })
    local ok, err = pcall(function()
      local c = net.connect(port, '127.0.0.1')
      c:write('PING\r\n')
      assert.are.equal('+PONG', await(c:readline()))
      c:write('*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n')
      assert.are.equal('+OK', await(c:readline()))
      c:write('*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n')
      assert.are.equal('$5', await(c:readline()))
      assert.are.equal('value\r\n', await(c:read(7)))
      c:destroy()
    end)
    redis:stop()
    assert(ok, err)
  end)

  it('serves a Node client and is served by a Node server', function()
    if not peer.have('node') then pending('node is not installed') return end
    local server = net.createServer(function(sock)
      sock:on('data', function(d) sock:write(d:upper()) end)
    end)
    local addr = listen(server, 0, '127.0.0.1')
    local client_js = peer.tmp('.js', ([[
      const net = require('net');
      const c = net.connect(%d, '127.0.0.1', () => c.write('hello from node'));
      let got = '';
      c.on('data', d => { got += d; if (got.length >= 15) { console.log(got); c.end(); } });
    ]]):format(addr.port))
    local r = await(peer.run({ 'node', client_js }))
    os.remove(client_js)
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('HELLO FROM NODE\n', r.out)
    close(server)

    local port = peer.free_port()
    local server_js = peer.tmp('.js', ([[
      require('net').createServer(s => s.on('data', d => s.write(d.toString().split('').reverse().join('')))).listen(%d, '127.0.0.1');
    ]]):format(port))
    local node = peer.start({ 'node', server_js }, { port = port })
    local ok, err = pcall(function()
      local c = net.connect(port, '127.0.0.1')
      c:write('luster')
      assert.are.equal('retsul', await(c:read(6)))
      c:destroy()
    end)
    node:stop()
    os.remove(server_js)
    assert(ok, err)
  end)
end)

describe('net in other states', function()
  it('works in a worker thread', function()
    local server = echo_server()
    local addr = listen(server, 0, '127.0.0.1')
    local got = await(Promise.new(function(resolve)
      local w = require('worker_threads').Worker(([[
        local net = require('net')
        local c = net.connect(%d, '127.0.0.1')
        c:write('from a worker\n')
        require('worker_threads').parentPort.postMessage(await(c:readline()))
        c:destroy()
      ]]):format(addr.port), { eval = true })
      w:on('message', resolve)
    end))
    assert.are.equal('from a worker', got)
    close(server)
  end)

  it('shares a port between cluster workers', function()
    local child = require('helpers.child')
    local r = child.run([[
      local cluster, net = require('cluster'), require('net')
      if cluster.isPrimary then
        local seen, online = {}, 0
        for _ = 1, 2 do cluster.fork() end
        cluster.on('message', function(worker, msg)
          if msg.port then
            online = online + 1
            if online < 2 then return end
            -- both workers listen: connect until both have answered
            local tries = 0
            local function try()
              tries = tries + 1
              local c = net.connect(msg.port, '127.0.0.1')
              c:on('data', function(d)
                seen[d] = true
                c:destroy()
                local n = 0
                for _ in pairs(seen) do n = n + 1 end
                if n == 2 or tries >= 64 then
                  console.log('workers answering: ' .. n)
                  for _, w in pairs(cluster.workers) do w:kill() end
                else try() end
              end)
            end
            try()
          end
        end)
      else
        local server = net.createServer(function(sock) sock:finish(tostring(cluster.worker.id)) end)
        server:listen(0, '127.0.0.1', function() process.send({ port = server:address().port }) end)
      end
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('workers answering: 2\n', r.out)
  end)
end)
