-- `luster -i` under systemd (API.md "Operating `luster -i`"), with a
-- python3 peer playing systemd's part (spec/helpers/systemd_peer.py): the
-- NOTIFY_SOCKET datagrams it receives, and a listening socket it passes
-- as fd 3 with LISTEN_FDS.
local h = require('helpers.instances')
local child = require('helpers.child')

after_each(h.cleanup)

local PEER = debug.getinfo(1, 'S').source:match('^@(.*)/[^/]*$') .. '/helpers/systemd_peer.py'

local SERVER = [[
require('http').createServer(function(req, res)
  res:finish('pid ' .. process.pid)
end):listen(tonumber(process.env.PORT))
setInterval(function() end, 1000)
]]

local function peer(runs, listen, args, env)
  local dir = h.tmpdir()
  local record = dir .. '/record'
  local argv = { '/usr/bin/python3', PEER, dir .. '/notify', record, tostring(runs) }
  if listen then argv[#argv + 1] = '--listen' end
  argv[#argv + 1] = '--'
  argv[#argv + 1] = h.bin
  argv[#argv + 1] = '--kill-timeout'
  argv[#argv + 1] = '600'
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local p = h.spawn(argv, env)
  return p, function() return child.read(record) or '' end
end

local function pids(p)
  local list = {}
  for pid in p.out():gmatch('pid (%d+)') do list[#list + 1] = tonumber(pid) end
  return list
end

describe('luster -i under systemd', function()
  it('notifies READY=1 once every instance listens, RELOADING=1/READY=1 around a reload, STOPPING=1', function()
    local env = h.env({ PORT = tostring(h.free_port()) })
    local p, record = peer(1, false, { '-i', '2', '--name', 'sd', h.script(SERVER) }, env)
    assert.is_true(h.wait_for(function() return record():find('READY=1') ~= nil end, 8000), p.err() .. record())
    -- READY came only once both listen (states never go back from listening)
    local rows = h.ls(env)
    assert.are.equal(2, #rows)
    for _, r in ipairs(rows) do assert.are.equal('listening', r.state) end
    assert.is_nil(record():find('RELOADING'))

    local primary = pids(p)[1]
    os.execute('kill -HUP ' .. primary)
    assert.is_true(h.wait_for(function() return select(2, record():gsub('READY=1', '')) == 2 end, 10000), record())
    local text = record()
    local reloading = text:find('RELOADING=1 MONOTONIC_USEC=%d+')
    assert.is_truthy(reloading, text)
    assert.is_true(reloading < select(2, text:find('.*READY=1')))

    os.execute('kill -TERM ' .. primary)
    assert.are.equal(0, await(p.done).code)
    text = record()
    assert.is_truthy(text:find('run 1: STOPPING=1\nrun 1: exit 0\n', 1, true), text)
  end)

  it('adopts the socket passed in LISTEN_FDS, so a restart of luster refuses no connection', function()
    local p, record = peer(2, true, { '-i', '2', h.script(SERVER) }, h.env())
    assert.is_true(h.wait_for(function() return record():find('run 1: READY=1') ~= nil end, 8000), p.err())
    local port = tonumber(p.out():match('port (%d+)'))
    assert.is_truthy(p.err():find('socket activation: fd 3 is port ' .. port, 1, true))
    local first = await(h.curl(('http://127.0.0.1:%d/'):format(port)))
    assert.is_truthy(first:match('^pid %d+$'))
    -- stop luster; requests made while it is down wait in the socket the
    -- peer holds, and the next run answers them
    os.execute('kill -TERM ' .. pids(p)[1])
    assert.is_true(h.wait_for(function() return record():find('run 1: exit') ~= nil end, 5000), record())
    local pending = {}
    for k = 1, 4 do pending[k] = h.curl(('http://127.0.0.1:%d/'):format(port), { '--max-time', '15' }) end
    for k = 1, 4 do
      local body = await(pending[k])
      assert.is_truthy(body:match('^pid %d+$'), 'request ' .. k .. ' failed: ' .. p.err())
    end
    assert.is_true(h.wait_for(function() return record():find('run 2: READY=1') ~= nil end, 8000), record())
    os.execute('kill -TERM ' .. pids(p)[2])
    await(p.done)
  end)
end)
