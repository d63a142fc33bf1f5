-- luster --prof (lua/luster/profiler.lua): a report of the hottest
-- functions and lines, folded stacks, one file per profiled state.
local child = require('helpers.child')

local HOT = [[
local function spin_hot(n) local s = 0 for i = 1, n do s = s + i % 7 end return s end
local t0 = os.clock()
while os.clock() - t0 < 0.3 do spin_hot(1e5) end
]]

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

local function run(args, src)
  local dir = child.tmpdir()
  local file = child.write(dir .. '/main.lua', src)
  local r = child.sh('cd ' .. dir .. ' && timeout 20 ' .. child.bin() .. ' ' .. args .. ' ' .. file .. ' </dev/null')
  r.dir = dir
  return r
end

local function files_in(dir, prefix)
  local list = {}
  local p = io.popen('ls ' .. dir)
  for name in p:lines() do if name:sub(1, #prefix) == prefix then list[#list + 1] = name end end
  p:close()
  table.sort(list)
  return list
end

describe('luster --prof', function()
  it('writes a report naming the hottest function and its line', function()
    local r = run('--prof=out.prof', HOT)
    assert.are.equal(0, r.code, r.err)
    local text = read(r.dir .. '/out.prof')
    child.rmdir(r.dir)
    assert.is_truthy(text, 'no profile written')
    assert.is_truthy(text:find('Hottest functions', 1, true), text)
    local first = text:match('Hottest functions[^\n]*\n%s*[%d.]+%%%s+(%S+)')
    assert.are.equal('main.lua:spin_hot', first, text)
    assert.is_truthy(text:find('main.lua:1\n', 1, true), text)
  end)

  it('defaults to luster.prof in the working directory', function()
    local r = run('--prof', HOT)
    assert.are.equal(0, r.code, r.err)
    local text = read(r.dir .. '/luster.prof')
    child.rmdir(r.dir)
    assert.is_truthy(text and text:find('spin_hot', 1, true), text)
  end)

  it('writes folded stacks with --prof-format=folded', function()
    local r = run('--prof=out.folded --prof-format=folded', HOT)
    assert.are.equal(0, r.code, r.err)
    local text = read(r.dir .. '/out.folded')
    child.rmdir(r.dir)
    assert.is_truthy(text and #text > 0, 'empty profile')
    local hot = 0
    for line in text:gmatch('[^\n]+') do
      local stack, n = line:match('^(.+) (%d+)$')
      assert.is_truthy(stack, 'not a folded line: ' .. line)
      if stack:match(';spin_hot$') then hot = hot + tonumber(n) end
    end
    assert.is_true(hot > 0, text)
  end)

  it('writes the profile when the script calls process.exit', function()
    local r = run('--prof=out.prof', HOT .. 'process.exit(3)\n')
    assert.are.equal(3, r.code, r.err)
    local text = read(r.dir .. '/out.prof')
    child.rmdir(r.dir)
    assert.is_truthy(text and text:find('spin_hot', 1, true), text)
  end)

  it('profiles a worker thread into FILE.<pid>.<threadId>', function()
    local r = run('--prof=w.prof --prof-thread=1', [[
local wt = require('worker_threads')
if wt.isMainThread then
  local w = wt.Worker.new(__filename)
  w:on('message', function(m) print('pid', process.pid, 'thread', m) end)
else
]] .. HOT .. [[
  wt.parentPort:postMessage(wt.threadId)
end
]])
    assert.are.equal(0, r.code, r.err)
    local pid, tid = r.out:match('pid%s+(%d+)%s+thread%s+(%d+)')
    local text = read(r.dir .. '/w.prof.' .. tostring(pid) .. '.' .. tostring(tid))
    local names = files_in(r.dir, 'w.prof')
    child.rmdir(r.dir)
    assert.are.equal('1', tid)
    assert.is_truthy(text and text:find('spin_hot', 1, true), table.concat(names, ' '))
  end)

  it('gives a cluster worker a file of its own', function()
    local r = run('--prof=c.prof', [[
local cluster = require('cluster')
if cluster.isPrimary then
  local w = cluster.fork()
  w:on('exit', function() print('worker', w.process.pid) end)
else
]] .. HOT .. [[
  process.exit(0)
end
]])
    assert.are.equal(0, r.code, r.err)
    local wpid = r.out:match('worker%s+(%d+)')
    local mine = read(r.dir .. '/c.prof')
    local theirs = read(r.dir .. '/c.prof.' .. tostring(wpid) .. '.0')
    child.rmdir(r.dir)
    assert.is_truthy(mine, 'the primary wrote no profile')
    assert.is_truthy(theirs and theirs:find('spin_hot', 1, true), theirs)
  end)

  it('rejects a bad --prof-format with exit code 9', function()
    local r = run('--prof-format=svg', 'print(1)')
    child.rmdir(r.dir)
    assert.are.equal(9, r.code)
    assert.is_truthy(r.err:find('text', 1, true), r.err)
  end)
end)
