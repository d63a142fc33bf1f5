-- examples/chat_ws.lua: a WebSocket broadcast across two cluster workers
-- via the primary, with two clients that landed on different workers.
local h = require('helpers.cluster')
local json = require('json')

local root = os.getenv('LUSTER_SOURCE_DIR') or '.'

-- A client with its inbox; resolves once the worker said hello.
local function join(port)
  local c = WebSocket(('ws://127.0.0.1:%d/'):format(port))
  local inbox = {}
  c:on('message', function(data) inbox[#inbox + 1] = json.decode(data) end)
  c:on('error', function() end)
  assert.is_true(h.wait_for(function() return #inbox > 0 end, 5000), 'no hello from a worker')
  c.inbox = inbox
  c.worker = inbox[1].hello
  return c
end

describe('examples/chat_ws.lua', function()
  it('broadcasts every message to the clients of every worker', function()
    local port = h.free_port()
    local p = h.start({ h.bin, root .. '/examples/chat_ws.lua' }, { PORT = tostring(port), WORKERS = '2' })
    local ok, err = pcall(function()
      assert.is_true(h.wait_for(function()
        local _, n = p.out():gsub('listening', '')
        return n == 2
      end, 10000), p.out() .. p.err())
      -- connect until two clients sit on different workers
      local a = join(port)
      local b
      for _ = 1, 20 do
        b = join(port)
        if b.worker ~= a.worker then break end
        b:terminate()
      end
      assert.are_not.equal(a.worker, b.worker)
      a:send('hello from a')
      b:send('hello from b')
      assert.is_true(h.wait_for(function() return #a.inbox == 3 and #b.inbox == 3 end, 5000))
      for _, c in ipairs({ a, b }) do
        local got = {}
        for i = 2, 3 do got[c.inbox[i].chat] = c.inbox[i].via end
        assert.are.same({ ['hello from a'] = a.worker, ['hello from b'] = b.worker }, got)
      end
      a:close()
      b:close()
    end)
    p.kill('SIGKILL')
    await(p.done)
    assert(ok, err)
  end)
end)
