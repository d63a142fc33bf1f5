-- The agent's idle timeout of free sockets is one sweep per agent: each
-- free socket is closed once it has been idle `timeout` ms, not earlier
-- because another one expired, and the sweep goes on for those left.
local http = require('http')

local function ms()
  local t = process.hrtime()
  return t[1] * 1000 + t[2] / 1e6
end

describe('agent free-socket sweep', function()
  it('closes each free socket after its own idle time', function()
    local server = http.createServer(function(req, res)
      if req.url == '/late' then setTimeout(function() res:finish('late') end, 250)
      else res:finish('soon') end
    end)
    await(Promise.new(function(r) server:listen(0, '127.0.0.1', r) end))
    local port = server:address().port
    local agent = http.Agent { keepAlive = true, timeout = 400 }
    local freed, closed = {}, {}
    local function get(path)
      return Promise.new(function(resolve, reject)
        local req = http.get({ host = '127.0.0.1', port = port, path = path, agent = agent }, function(res)
          res:on('data', function() end)
          res:on('end', function()
            freed[path] = ms()
            resolve()
          end)
        end)
        req:on('socket', function(sock)
          sock:on('close', function() closed[path] = ms() end)
        end)
        req:on('error', reject)
      end)
    end
    await(Promise.all { get('/soon'), get('/late') })
    assert.are.equal(2, agent.totalSocketCount)
    local deadline = ms() + 5000
    while not (closed['/soon'] and closed['/late']) and ms() < deadline do
      await(Promise.new(function(r) setTimeout(r, 20) end))
    end
    assert.truthy(closed['/soon'], 'the first free socket was never closed')
    assert.truthy(closed['/late'], 'the second free socket was never closed')
    -- neither before its idle time (timers may be late, never early)
    assert.is_true(closed['/soon'] - freed['/soon'] >= 380, ('%.0f ms'):format(closed['/soon'] - freed['/soon']))
    assert.is_true(closed['/late'] - freed['/late'] >= 380, ('%.0f ms'):format(closed['/late'] - freed['/late']))
    assert.is_true(closed['/late'] > closed['/soon'])
    assert.are.equal(0, agent.totalSocketCount)
    assert.is_nil(next(agent.freeSockets))
    server:close()
  end)
end)
