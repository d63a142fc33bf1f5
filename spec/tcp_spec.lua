-- the socket layer (runtime/tcp.h) seen through native.tcp: what a process
-- at its descriptor limit does with the connections that wait.
local h = require('helpers.cluster')

local CLIENT = [[
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)
s.settimeout(2)
try:
    print('eof' if s.recv(16) == b'' else 'data')
except socket.timeout:
    print('timeout')
except OSError:
    print('eof')  # reset: closed just the same
]]

describe('accepting at the descriptor limit', function()
  it('closes the waiting connections at once instead of leaving them hanging, and serves again later', function()
    local script = h.script([[
      local tcp = require('native.tcp')
      local fd = assert(tcp.listen('127.0.0.1', 0, 64, false))
      local held = {}
      while true do
        local f = io.open('/dev/null')
        if not f then break end
        held[#held + 1] = f
      end
      local acc = tcp.acceptor(fd, function(conn)
        print('served')
        tcp.close(conn)
      end)
      process:on('SIGUSR2', function()
        for _, f in ipairs(held) do f:close() end
        held = {}
        print('released')
      end)
      print('port', tcp.address(fd).port)
    ]])
    local p = h.start({ '/bin/bash', '-c', 'ulimit -n 32; exec "$0" "$1"', h.bin, script })
    assert.is_true(h.wait_for(function() return p.out():find('port') end, 10000), p.err())
    local port = p.out():match('port%s+(%d+)')
    local client = h.script(CLIENT) -- python reads it the same
    local r = await(h.run({ '/usr/bin/python3', client, port }))
    assert.are.equal('eof\n', r.out, r.err)
    assert.is_nil(p.out():find('served'))
    p.kill('SIGUSR2')
    assert.is_true(h.wait_for(function() return p.out():find('released') end, 5000))
    r = await(h.run({ '/usr/bin/python3', client, port }))
    assert.are.equal('eof\n', r.out, r.err)
    assert.is_true(h.wait_for(function() return p.out():find('served') end, 5000))
    p.kill('SIGTERM')
    await(p.done)
  end)
end)
