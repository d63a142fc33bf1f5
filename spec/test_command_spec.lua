-- `luster test [paths]`: a user's busted specs run inside the runtime.
local child = require('helpers.child')

-- A project as a user would lay it out: spec/*_spec.lua and a worker script.
local function project(spec_body)
  local dir = child.tmpdir()
  child.write(dir .. '/square.lua', [[
    local wt = require('worker_threads')
    wt.parentPort.postMessage(wt.workerData * wt.workerData)
  ]])
  child.write(dir .. '/spec/user_spec.lua', spec_body)
  return dir
end

local PASSING = [[
describe('a user spec', function()
  it('awaits a timer', function()
    local v = await(Promise.new(function(resolve) setTimeout(resolve, 20, 'late') end))
    assert.are.equal('late', v)
  end)
  it('awaits a worker thread', function()
    local w = require('worker_threads').Worker(process.cwd() .. '/square.lua', { workerData = 7 })
    local v = await(Promise.new(function(resolve, reject)
      w:on('message', resolve)
      w:on('error', reject)
    end))
    assert.are.equal(49, v)
  end)
end)
]]

local FAILING = [[
describe('a user spec', function()
  it('sees a wrong answer from a worker', function()
    local w = require('worker_threads').Worker(process.cwd() .. '/square.lua', { workerData = 3 })
    local v = await(Promise.new(function(resolve) w:on('message', resolve) end))
    assert.are.equal(10, v)
  end)
end)
]]

describe('luster test', function()
  it('runs ./spec by default and exits 0 when every spec passes', function()
    local dir = project(PASSING)
    local r = child.sh('cd ' .. dir .. ' && ' .. child.bin() .. ' test </dev/null')
    child.rmdir(dir)
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.is_truthy(r.out:find('2 successes / 0 failures / 0 errors', 1, true), r.out)
  end)

  it('exits 1 and reports the failure when a spec fails', function()
    local dir = project(FAILING)
    local r = child.sh('cd ' .. dir .. ' && ' .. child.bin() .. ' test </dev/null')
    child.rmdir(dir)
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.is_truthy(r.out:find('0 successes / 1 failure', 1, true), r.out)
    assert.is_truthy(r.out:find('Expected objects to be equal', 1, true), r.out)
  end)

  it('fails a run that stops early because a test awaits forever', function()
    local dir = project([[
describe('a user spec', function()
  it('waits for nothing', function() await(Promise.new(function() end)) end)
  it('never runs', function() end)
end)
]])
    local r = child.sh('cd ' .. dir .. ' && ' .. child.bin() .. ' test </dev/null')
    child.rmdir(dir)
    assert.are.equal(1, r.code)
    assert.truthy(r.err:find('stopped before its end', 1, true), r.err)
  end)

  it('runs only the paths it is given, with busted options (--test too)', function()
    local dir = project(FAILING)
    child.write(dir .. '/other/ok_spec.lua', PASSING)
    local r = child.sh('cd ' .. dir .. ' && ' .. child.bin() .. ' --test -o TAP other/ok_spec.lua </dev/null')
    child.rmdir(dir)
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.is_truthy(r.out:find('ok 2 - a user spec awaits a worker thread', 1, true), r.out)
  end)

  it('still runs a script named test when asked with --', function()
    local dir = child.tmpdir()
    child.write(dir .. '/test', 'console.log("the script")')
    local r = child.sh('cd ' .. dir .. ' && ' .. child.bin() .. ' -- test </dev/null')
    child.rmdir(dir)
    assert.are.equal('the script\n', r.out)
  end)
end)
