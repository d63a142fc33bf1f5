-- `luster -i --log DIR` (API.md "Operating `luster -i`"): per-instance log
-- files, --log-date, size rotation and SIGUSR2 reopening, with a real
-- primary writing real files.
local h = require('helpers.instances')
local child = require('helpers.child')

after_each(h.cleanup)

local TICKER = [[
local n = 0
console.log('started ' .. process.env.LUSTER_INSTANCE)
io.stderr:write('to stderr ' .. process.env.LUSTER_INSTANCE .. '\n')
setInterval(function()
  n = n + 1
  console.log(('tick %d %s'):format(n, string.rep('x', tonumber(process.env.PAD or 0))))
end, tonumber(process.env.EVERY or 100))
]]

local function lines_of(path)
  local s = child.read(path)
  return s and child.lines(s) or {}
end

describe('luster -i --log DIR', function()
  it('writes NAME-ID.out.log and NAME-ID.err.log per instance, lines keeping their [id] prefix', function()
    local dir = h.tmpdir() .. '/logs'
    local p = h.start({ '-i', '2', '--name', 'app', '--log', dir, h.script(TICKER) }, h.env())
    assert.is_true(h.wait_for(function()
      local a, b = lines_of(dir .. '/app-0.out.log'), lines_of(dir .. '/app-1.out.log')
      return #a >= 3 and #b >= 3
    end, 8000), p.err())
    local out0 = lines_of(dir .. '/app-0.out.log')
    assert.is_truthy(out0[1]:match('^%[%d+%] started 0$'))
    assert.is_truthy(out0[2]:match('^%[%d+%] tick 1 $'))
    assert.is_truthy(lines_of(dir .. '/app-1.out.log')[1]:match('^%[%d+%] started 1$'))
    assert.is_truthy(lines_of(dir .. '/app-0.err.log')[1]:match('^%[%d+%] to stderr 0$'))
    assert.is_nil(p.out():find('tick')) -- into the files, not the terminal
    p.kill('SIGTERM')
    await(p.done)
  end)

  it('names the files after the script without --name, and --log-date stamps each line', function()
    local dir = h.tmpdir()
    local script = h.script(TICKER)
    local base = script:match('([^/]+)%.lua$')
    local p = h.start({ '-i', '1', '--log', dir, '--log-date', script }, h.env())
    local path = dir .. '/' .. base .. '-0.out.log'
    assert.is_true(h.wait_for(function() return #lines_of(path) >= 2 end, 8000), p.err())
    for _, l in ipairs(lines_of(path)) do
      assert.is_truthy(l:match('^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ %[%d+%] '), l)
    end
    p.kill('SIGTERM')
    await(p.done)
  end)

  it('rotates at --log-max-size, keeping --log-keep files', function()
    local dir = h.tmpdir()
    -- 0.002 MB = 2097 bytes; each tick line is about 210 bytes
    local p = h.start({ '-i', '1', '--name', 'rot', '--log', dir, '--log-max-size', '0.002', '--log-keep', '2',
      h.script(TICKER) }, h.env({ PAD = '200', EVERY = '5' }))
    local path = dir .. '/rot-0.out.log'
    assert.is_true(h.wait_for(function() return child.read(path .. '.2') ~= nil and #lines_of(path) > 2 end, 8000), p.err())
    await(h.sleep(300)) -- several more rotations
    p.kill('SIGTERM')
    await(p.done)
    assert.is_nil(child.read(path .. '.3'))
    for _, f in ipairs({ path, path .. '.1', path .. '.2' }) do
      local s = child.read(f)
      assert.is_true(#s <= 2097, f .. ' is ' .. #s .. ' bytes')
      assert.is_truthy(s:match('^%[%d+%] tick'))
    end
    -- the numbering runs on across the files: .1 holds the lines just before the current file
    local last_old = lines_of(path .. '.1')
    local first_new = lines_of(path)[1]
    local a = tonumber(last_old[#last_old]:match('tick (%d+)'))
    local b = tonumber(first_new:match('tick (%d+)'))
    assert.are.equal(a + 1, b)
  end)

  it('reopens its files on SIGUSR2 (after an external rotation moved them)', function()
    local dir = h.tmpdir()
    local p = h.start({ '-i', '1', '--name', 'ro', '--log', dir, h.script(TICKER) }, h.env())
    local path = dir .. '/ro-0.out.log'
    assert.is_true(h.wait_for(function() return #lines_of(path) >= 2 end, 8000), p.err())
    assert(os.rename(path, path .. '.moved'))
    p.kill('SIGUSR2')
    assert.is_true(h.wait_for(function() return #lines_of(path) >= 2 end, 8000), p.err())
    assert.is_truthy(lines_of(path)[1]:match('tick'))
    local moved = #lines_of(path .. '.moved')
    await(h.sleep(300))
    assert.are.equal(moved, #lines_of(path .. '.moved')) -- no longer written
    assert.is_truthy(p.err():find('SIGUSR2: log files reopened'))
    p.kill('SIGTERM')
    await(p.done)
  end)
end)
