-- A connection the server closes after its answer (Connection: close)
-- ends as soon as the client has left, not after the linger timeout, so
-- server:close() resolves while nothing else keeps the loop alive.
local http = require('http')

describe('http server closing after Connection: close', function()
  it('lets the connection go when the client leaves, and closes', function()
    local server = http.createServer(function(req, res) res:finish('bye') end)
    await(Promise.new(function(r) server:listen(0, '127.0.0.1', r) end))
    local port = server:address().port
    local agent = http.Agent { keepAlive = false }
    for _ = 1, 3 do
      local body = await(Promise.new(function(resolve, reject)
        http.get({ host = '127.0.0.1', port = port, agent = agent }, function(res)
          resolve(res:body())
        end):on('error', reject)
      end))
      assert.are.equal('bye', body)
    end
    await(Promise.new(function(r) setTimeout(r, 200) end))  -- well below the 2 s linger
    assert.are.equal(0, server:getConnections())
    local closed = await(Promise.new(function(r) server:close(function() r(true) end) end))
    assert.is_true(closed)
  end)
end)
