-- require('os'): Lua's os extended with Node's (API.md "require").
local nodeos = require('os')
local child = require('helpers.child')

-- The first line a shell command prints.
local function shell(cmd)
  local p = io.popen(cmd)
  local s = p:read('*l')
  p:close()
  return s
end

describe('require("os")', function()
  it('is Lua\'s own os table, extended in place', function()
    assert.are.equal(os, nodeos)
  end)

  it('still has Lua\'s os functions', function()
    assert.are.equal('number', type(os.time()))
    assert.are.equal('number', type(os.clock()))
    assert.are.equal(os.getenv('HOME'), process.env.HOME)
    assert.are.equal(tostring(os.date('*t').year), os.date('%Y'))
    for _, name in ipairs({ 'execute', 'exit', 'remove', 'rename', 'tmpname', 'difftime' }) do
      assert.are.equal('function', type(os[name]), name)
    end
  end)
end)

describe('CPUs', function()
  it('lists one entry per CPU with model, speed and times', function()
    local cpus = nodeos.cpus()
    assert.is_true(#cpus >= 1)
    local online = tonumber(shell('getconf _NPROCESSORS_ONLN'))
    if online then assert.are.equal(online, #cpus) end
    for _, c in ipairs(cpus) do
      assert.are.equal('string', type(c.model))
      assert.are.equal('number', type(c.speed))
      for _, k in ipairs({ 'user', 'nice', 'sys', 'idle', 'irq' }) do
        assert.are.equal('number', type(c.times[k]), k)
      end
    end
  end)

  it('gives the usable parallelism, as nproc does', function()
    local n = nodeos.availableParallelism()
    assert.are.equal(math.floor(n), n)
    assert.is_true(n >= 1 and n <= #nodeos.cpus())
    local nproc = tonumber(shell('nproc'))
    if nproc then assert.are.equal(nproc, n) end
  end)
end)

describe('memory', function()
  it('reports total and free memory in bytes, as /proc/meminfo does', function()
    local total, free = nodeos.totalmem(), nodeos.freemem()
    assert.is_true(total > 64 * 1024 * 1024)
    assert.is_true(free > 0 and free <= total)
    local kb = tonumber(shell("awk '/^MemTotal:/ { print $2 }' /proc/meminfo"))
    if kb then assert.are.equal(kb * 1024, total) end
  end)
end)

describe('the machine', function()
  it('gives the hostname', function()
    local h = nodeos.hostname()
    assert.are.equal('string', type(h))
    assert.are.equal(shell('cat /proc/sys/kernel/hostname'), h)
  end)

  it('gives three load averages', function()
    local l = nodeos.loadavg()
    assert.are.equal(3, #l)
    for i = 1, 3 do assert.is_true(l[i] >= 0) end
  end)

  it('gives the system uptime in seconds, as /proc/uptime does', function()
    local up = nodeos.uptime()
    local proc = tonumber(shell("cut -d' ' -f1 /proc/uptime"))
    assert.is_true(up > 0)
    if proc then assert.is_true(math.abs(up - proc) < 5, up .. ' vs ' .. proc) end
  end)

  it('reports linux and the same architecture as process', function()
    assert.are.equal('linux', nodeos.platform())
    assert.are.equal(process.platform, nodeos.platform())
    assert.are.equal(process.arch, nodeos.arch())
    assert.are.equal('Linux', nodeos.type())
  end)

  it('uses \\n as end of line', function()
    assert.are.equal('\n', nodeos.EOL)
  end)

  it('gives the home and temporary directories', function()
    assert.are.equal(os.getenv('HOME'), nodeos.homedir())
    local r = child.run([[ console.log(require('os').tmpdir()) ]], { env = { TMPDIR = '/var/tmp' } })
    assert.are.equal('/var/tmp\n', r.out)
  end)

  it('gives the kernel release and machine', function()
    assert.are.equal(shell('uname -r'), nodeos.release())
    assert.are.equal(shell('uname -m'), nodeos.machine())
  end)
end)

describe('the seed example', function()
  it('counts CPUs with #os.cpus() in a script', function()
    local r = child.run([[
      local os = require('os')
      local numCPUs = #os.cpus()
      console.log(numCPUs)
    ]])
    assert.are.equal(#nodeos.cpus() .. '\n', r.out)
  end)
end)
